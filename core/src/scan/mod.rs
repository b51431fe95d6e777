//! Many SMTP checks at once, as one machine (issue 14, `daneel scan`).
//!
//! A [`Scan`] is a [`Machine`] that runs one [`SmtpCheck`] per domain it pulls from a
//! [`DomainSource`], up to [`ScanConfig::concurrency`] at a time, and hands each finished
//! report to a [`ScanSink`], in completion order. Any runtime that drives one check drives a
//! scan unchanged: the scan renames the checks' query and connection ids into one space and
//! stands between them and the network, where it does what one check alone cannot:
//!
//! - **One DNS cache for every check** ([`MAX_REUSE`], [`RESOLVER_REPROBE`]): a question already answered, or already
//!   in flight, to the same resolver is not asked again. A shared answer is re-keyed to each
//!   asking query (message id and question) and delivered as coming from the resolver, so
//!   each check still makes RFC 5452's source, id and question checks, and judges the
//!   answer's DNSSEC status itself. A thousand domains with the same MX host cause one TLSA
//!   lookup.
//! - **A per-destination connection limit** and **rates** for new connections and DNS
//!   queries sent ([`ScanConfig`]).
//! - **Each check's transcript** records what that check saw, shared answers included, so
//!   `daneel replay` re-runs it exactly ([`ScanConfig::record_transcripts`]).
//!
//! The source is pulled without blocking: [`Pull::NotYet`] makes the scan look again after
//! [`INPUT_POLL`], so a slow pipe never stalls the checks already running.

mod cache;
pub mod input;
mod limits;
mod summary;
pub(crate) mod wire;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use crate::dialogue::CONNECT_QUEUE_LIMIT;
pub use cache::{CacheStats, DEFAULT_CAPACITY, MAX_REUSE, RESOLVER_REPROBE};
pub use summary::{ScanSummary, SLOWEST_KEPT};

use crate::check::{CheckConfig, SmtpCheck};
use crate::machine::{
    Action, ConnId, Input, Machine, Output, OwnedInput, QueryId, Transport, UsageError,
};
use crate::report::Report;
use crate::seed::{DetRng, Seed};
use crate::time::Timestamp;
use crate::transcript::{Recorder, Transcript};
use cache::{DnsCache, QueryKey};
use limits::{DestinationGate, MaybeRate};

/// How often the scan looks at a source that said [`Pull::NotYet`].
pub const INPUT_POLL: Duration = Duration::from_millis(10);

/// Checks started per input at most, so that a scan of 10,000 concurrent checks starts them
/// in batches, answering the network in between, instead of in one burst of actions.
pub const START_BATCH: usize = 64;

/// New domains wait while some destination has this many times its connection limit queued:
/// a check's connection deadline runs while it waits, so a long queue would turn into
/// timeouts that are the scan's fault, not the server's.
pub const QUEUE_FACTOR: usize = 4;

/// DNS queries awaiting answers at once, by default: half of unbound's default queue.
pub const DEFAULT_DNS_IN_FLIGHT: usize = 512;

/// The seed of the check of the `index`-th domain of a scan seeded with `seed`.
pub(crate) fn check_seed(seed: Seed, index: u64) -> Seed {
    Seed(DetRng::new(seed, index).next_u64())
}

/// What a [`DomainSource`] has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pull {
    /// The next destination, as `daneel check` takes it.
    Domain(String),
    /// Nothing now; more may come.
    NotYet,
    /// No more.
    End,
}

/// Where a scan gets its domains; pulled only when there is room for another check. It must
/// not block: a reader thread behind a channel answers [`Pull::NotYet`] while it waits.
pub trait DomainSource {
    /// The next domain, if any.
    fn pull(&mut self) -> Pull;
}

impl<I: Iterator<Item = String>> DomainSource for I {
    fn pull(&mut self) -> Pull {
        self.next().map_or(Pull::End, Pull::Domain)
    }
}

/// Where a scan puts each finished check, as soon as it finishes.
pub trait ScanSink {
    /// One domain is done.
    fn finished(&mut self, result: ScanResult);
}

impl<F: FnMut(ScanResult)> ScanSink for F {
    fn finished(&mut self, result: ScanResult) {
        self(result)
    }
}

/// How one domain ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanOutcome {
    /// The check ran; its report, as `daneel check --json` prints it.
    Report(Box<Report>),
    /// The line is not a destination `daneel check` accepts (DESIGN.md section 6).
    Invalid(String),
}

/// One finished domain.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScanResult {
    /// Its place in the order domains were pulled (from 0).
    pub index: u64,
    /// The domain as pulled.
    pub domain: String,
    /// The report, or why there is none.
    pub outcome: ScanOutcome,
    /// When its check started and finished.
    pub started: Timestamp,
    /// When its check finished.
    pub finished: Timestamp,
    /// What the check saw, for `daneel replay`, if [`ScanConfig::record_transcripts`].
    pub transcript: Option<Transcript>,
}

/// How a scan runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanConfig {
    /// The configuration of every check; its destination is replaced by each domain.
    pub check: CheckConfig,
    /// Checks in flight at once.
    pub concurrency: usize,
    /// Connections open at once to one address.
    pub per_destination: usize,
    /// New connections per second, at most (`None`: no limit).
    pub connect_rate: Option<u32>,
    /// DNS queries sent per second, at most (`None`: no limit); answers from the cache
    /// do not count.
    pub dns_rate: Option<u32>,
    /// DNS queries awaiting an answer at once, at most: a resolver drops what it cannot
    /// queue (unbound's `num-queries-per-thread` is 1024 by default), and every dropped query
    /// costs a check a timeout and a retry, or its verdict.
    pub max_dns_in_flight: usize,
    /// DNS answers held by the cache.
    pub cache_capacity: usize,
    /// Record each check's transcript into its [`ScanResult`].
    pub record_transcripts: bool,
}

impl ScanConfig {
    /// A scan of checks configured like `check`, 100 at a time, 4 connections per address
    /// (Postfix's `smtp_destination_concurrency_limit` default is 20, its initial
    /// concurrency 5), [`DEFAULT_DNS_IN_FLIGHT`] queries awaiting answers, no rate limits,
    /// the default cache size, no transcripts.
    pub fn new(check: CheckConfig) -> Self {
        ScanConfig {
            check,
            concurrency: 100,
            per_destination: 4,
            connect_rate: None,
            dns_rate: None,
            max_dns_in_flight: DEFAULT_DNS_IN_FLIGHT,
            cache_capacity: DEFAULT_CAPACITY,
            record_transcripts: false,
        }
    }
}

/// A check, recorded or not.
enum Checker {
    Plain(Box<SmtpCheck>),
    Recorded(Box<Recorder>),
}

impl Checker {
    fn machine(&mut self) -> &mut dyn Machine {
        match self {
            Checker::Plain(m) => &mut **m,
            Checker::Recorded(m) => &mut **m,
        }
    }
}

/// One running check.
struct Slot {
    index: u64,
    domain: String,
    checker: Checker,
    started: Timestamp,
    deadline: Option<Timestamp>,
    inputs: VecDeque<OwnedInput>,
    queued: bool,
    /// The check's own query ids, and the shared query each waits on.
    queries: HashMap<QueryId, QueryId>,
    /// The check's own connection ids, and the scan's.
    conns: HashMap<ConnId, ConnId>,
}

/// A check waiting for a shared query.
struct Waiter {
    slot: usize,
    query: QueryId,
    wire: Vec<u8>,
}

/// A query the scan sends (or will, when the DNS rate allows) for one or more checks.
struct Flight {
    key: Option<QueryKey>,
    server: SocketAddr,
    transport: Transport,
    /// The message sent: the first asker's.
    wire: Vec<u8>,
    sent: bool,
    waiters: Vec<Waiter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    /// Queued for a place at its destination, or for the connection rate.
    Queued,
    /// Connecting or connected: holds a place.
    Open,
    /// The peer closed it or it failed: its place is free, the runtime may still hold it.
    Ended,
}

struct Conn {
    slot: usize,
    inner: ConnId,
    addr: SocketAddr,
    state: ConnState,
    /// Its check was told it waits ([`Input::ConnectQueued`]).
    told_queued: bool,
}

/// Everything but the checks themselves.
struct Shared {
    seed: Seed,
    config: ScanConfig,
    out: VecDeque<Action>,
    cache: DnsCache,
    flights: HashMap<QueryId, Flight>,
    by_key: HashMap<QueryKey, QueryId>,
    dns_queue: VecDeque<QueryId>,
    dns_rate: MaybeRate,
    /// Queries sent and not yet ended.
    dns_in_flight: usize,
    next_query: u32,
    conns: HashMap<ConnId, Conn>,
    gate: DestinationGate<(ConnId, IpAddr)>,
    /// Connections with a place at their destination, waiting for the connection rate.
    connect_queue: VecDeque<(ConnId, IpAddr)>,
    connect_rate: MaybeRate,
    /// Checks whose connection went out after waiting: each is told ([`Input::Connecting`]),
    /// so that its connect deadline runs from now, not from when it asked.
    started_late: Vec<(usize, ConnId)>,
    next_conn: u32,
    stats: CacheStats,
}

/// Many SMTP checks driven as one [`Machine`] (see the [module documentation](self)).
pub struct Scan<S, K> {
    shared: Shared,
    source: S,
    sink: K,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    deadlines: BTreeSet<(Timestamp, usize)>,
    work: VecDeque<usize>,
    next_index: u64,
    /// When to pull again after [`Pull::NotYet`].
    source_wait: Option<Timestamp>,
    source_ended: bool,
    started_this_input: usize,
    summary: ScanSummary,
    done: Option<Box<Report>>,
    started: Timestamp,
}

impl<S: DomainSource, K: ScanSink> Scan<S, K> {
    /// A scan of the domains `source` gives, each checked with `config.check` and a seed
    /// drawn from `seed`, reporting to `sink`. Fails if the check configuration is invalid
    /// (tried with a placeholder domain).
    pub fn new(
        config: ScanConfig,
        seed: Seed,
        now: Timestamp,
        source: S,
        sink: K,
    ) -> Result<Self, UsageError> {
        if config.concurrency == 0 {
            return Err(UsageError::InvalidConfig(
                "scan concurrency must be at least 1".into(),
            ));
        }
        let mut probe = config.check.clone();
        probe.destination = "example.invalid".into();
        SmtpCheck::new(probe, seed, now)?;
        Ok(Scan {
            shared: Shared {
                seed,
                cache: DnsCache::new(config.cache_capacity),
                dns_rate: MaybeRate::new(config.dns_rate),
                connect_rate: MaybeRate::new(config.connect_rate),
                gate: DestinationGate::new(config.per_destination),
                config,
                out: VecDeque::new(),
                flights: HashMap::new(),
                by_key: HashMap::new(),
                dns_queue: VecDeque::new(),
                dns_in_flight: 0,
                next_query: 0,
                conns: HashMap::new(),
                connect_queue: VecDeque::new(),
                started_late: Vec::new(),
                next_conn: 0,
                stats: CacheStats::default(),
            },
            source,
            sink,
            slots: Vec::new(),
            free: Vec::new(),
            deadlines: BTreeSet::new(),
            work: VecDeque::new(),
            next_index: 0,
            source_wait: None,
            source_ended: false,
            started_this_input: 0,
            summary: ScanSummary::default(),
            done: None,
            started: now,
        })
    }

    /// What the scan has done so far: verdicts, reasons, the slowest domains, the cache.
    pub fn summary(&self) -> ScanSummary {
        let mut summary = self.summary.clone();
        summary.cache = self.shared.stats;
        summary.cache.held = self.shared.cache.len() as u64;
        summary
    }

    /// The sink, for instance to flush it.
    pub fn sink(&mut self) -> &mut K {
        &mut self.sink
    }

    /// Checks running now.
    pub fn running(&self) -> usize {
        // Every slot holds a running check, but those freed for reuse.
        self.slots.len() - self.free.len()
    }

    /// Connections waiting for a place at their destination or for the connection rate.
    pub fn queued_connections(&self) -> usize {
        self.shared.gate.waiting() + self.shared.connect_queue.len()
    }

    fn deliver(&mut self, slot: usize, input: OwnedInput) {
        if let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            s.inputs.push_back(input);
            if !s.queued {
                s.queued = true;
                self.work.push_back(slot);
            }
        }
    }

    /// Feeds a slot its queued inputs, draining its outputs after each (the [`Machine`]
    /// contract), until it waits or finishes.
    fn pump(&mut self, idx: usize, now: Timestamp) {
        let Some(mut slot) = self.slots.get_mut(idx).and_then(Option::take) else {
            return;
        };
        slot.queued = false;
        if let Some(d) = slot.deadline.take() {
            self.deadlines.remove(&(d, idx));
        }
        loop {
            match slot.checker.machine().poll_output(now) {
                Output::Action(a) => self.shared.on_action(idx, &mut slot, a, now),
                Output::Timeout(t) => {
                    let Some(input) = slot.inputs.pop_front() else {
                        slot.deadline = Some(t);
                        self.deadlines.insert((t, idx));
                        self.slots[idx] = Some(slot);
                        return;
                    };
                    let fed = slot.checker.machine().handle_input(now, input.as_input());
                    // A UsageError is a bug in the scan's renaming; the check goes on.
                    debug_assert!(fed.is_ok(), "{fed:?}");
                }
                Output::Done(report) => {
                    return self.finish(idx, slot, ScanOutcome::Report(report), now)
                }
            }
        }
    }

    fn finish(&mut self, idx: usize, mut slot: Slot, outcome: ScanOutcome, now: Timestamp) {
        self.shared.release_slot(idx, &mut slot, now);
        self.free.push(idx);
        let transcript = match slot.checker {
            Checker::Recorded(r) => Some(r.transcript().clone()),
            Checker::Plain(_) => None,
        };
        self.report(ScanResult {
            index: slot.index,
            domain: slot.domain,
            outcome,
            started: slot.started,
            finished: now,
            transcript,
        });
    }

    fn report(&mut self, result: ScanResult) {
        self.summary.add(&result);
        self.sink.finished(result);
    }

    /// Starts the check of `domain`.
    fn start(&mut self, domain: String, now: Timestamp) {
        let index = self.next_index;
        self.next_index += 1;
        let mut config = self.shared.config.check.clone();
        config.destination = domain.clone();
        let seed = check_seed(self.shared.seed, index);
        let checker = if self.shared.config.record_transcripts {
            Recorder::new(config, seed, now).map(|r| Checker::Recorded(Box::new(r)))
        } else {
            SmtpCheck::new(config, seed, now).map(|c| Checker::Plain(Box::new(c)))
        };
        let checker = match checker {
            Ok(c) => c,
            Err(e) => {
                let why = match e {
                    UsageError::InvalidConfig(why) => why,
                    other => other.to_string(),
                };
                return self.report(ScanResult {
                    index,
                    domain,
                    outcome: ScanOutcome::Invalid(why),
                    started: now,
                    finished: now,
                    transcript: None,
                });
            }
        };
        let idx = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.slots[idx] = Some(Slot {
            index,
            domain,
            checker,
            started: now,
            deadline: None,
            inputs: VecDeque::new(),
            queued: false,
            queries: HashMap::new(),
            conns: HashMap::new(),
        });
        self.summary.peak_running = self.summary.peak_running.max(self.running());
        self.pump(idx, now);
    }

    /// Whether a new check may start: room, nothing held back by a rate limit (the checks
    /// running already have more to send than the rate allows), and no destination's queue so
    /// long that a new check would only wait in it. Time spent queued counts against the
    /// checks' own deadlines, so the scan admits work at the pace the limits set instead of
    /// piling it up.
    fn may_start(&self) -> bool {
        self.running() < self.shared.config.concurrency
            && self.started_this_input < START_BATCH
            && self.shared.dns_queue.is_empty()
            && self.shared.connect_queue.is_empty()
            && self.shared.gate.longest_queue()
                < self.shared.config.per_destination.max(1) * QUEUE_FACTOR
    }

    fn pull_domains(&mut self, now: Timestamp) {
        if self.source_wait.is_some_and(|t| now < t) {
            return;
        }
        self.source_wait = None;
        while !self.source_ended && self.done.is_none() && self.may_start() {
            match self.source.pull() {
                Pull::Domain(d) => {
                    self.started_this_input += 1;
                    self.start(d, now);
                }
                Pull::NotYet => {
                    self.source_wait = Some(now.saturating_add(INPUT_POLL));
                    return;
                }
                Pull::End => self.source_ended = true,
            }
        }
    }

    fn next_deadline(&self, now: Timestamp) -> Option<Timestamp> {
        let batch_full = self.started_this_input >= START_BATCH
            && !self.source_ended
            && self.source_wait.is_none();
        [
            self.deadlines.first().map(|&(t, _)| t),
            self.source_wait,
            batch_full.then_some(now),
            // Waiting for the rate; waiting for an answer to free a place needs no timer.
            (!self.shared.dns_queue.is_empty()
                && self.shared.dns_in_flight < self.shared.config.max_dns_in_flight.max(1))
            .then(|| self.shared.dns_rate.next_allowed())
            .flatten(),
            (!self.shared.connect_queue.is_empty())
                .then(|| self.shared.connect_rate.next_allowed())
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Routes an input from the runtime to the checks it concerns.
    fn route(&mut self, now: Timestamp, input: Input<'_>) {
        match input {
            Input::DnsAnswer { query, from, wire } => {
                let Some(flight) = self.shared.flights.get(&query) else {
                    return;
                };
                let from_server = from.is_none_or(|f| f == flight.server);
                if !(from_server && wire::answers(wire, &flight.wire)) {
                    // Not the answer: every waiting check sees it and discards it itself.
                    // Only the asker whose message went out may see it: another waiter's
                    // id never left this host, so a datagram carrying it is forged.
                    let sent_id = flight.wire.get(..2).map(<[u8]>::to_vec);
                    let targets: Vec<_> = flight
                        .waiters
                        .iter()
                        .filter(|w| w.wire.get(..2).map(<[u8]>::to_vec) == sent_id)
                        .map(|w| (w.slot, w.query))
                        .collect();
                    for (slot, query) in targets {
                        let wire = wire.to_vec();
                        self.deliver(slot, OwnedInput::DnsAnswer { query, from, wire });
                    }
                    return;
                }
                let flight = self.shared.end_flight(query);
                if let Some(key) = flight.key.clone().filter(|_| !wire::truncated(wire)) {
                    self.shared.stats.evicted += self.shared.cache.make_room(now);
                    self.shared.stats.stored += u64::from(self.shared.cache.store(key, wire, now));
                }
                for w in flight.waiters {
                    let wire = wire::rekeyed(wire, &w.wire, Duration::ZERO)
                        .unwrap_or_else(|| wire.to_vec());
                    let from = Some(flight.server);
                    self.deliver(
                        w.slot,
                        OwnedInput::DnsAnswer {
                            query: w.query,
                            from,
                            wire,
                        },
                    );
                }
            }
            Input::DnsFailed { query, error } => {
                if !self.shared.flights.contains_key(&query) {
                    return;
                }
                for w in self.shared.end_flight(query).waiters {
                    let error = error.clone();
                    self.deliver(
                        w.slot,
                        OwnedInput::DnsFailed {
                            query: w.query,
                            error,
                        },
                    );
                }
            }
            Input::Timeout => {
                let due: Vec<_> = self
                    .deadlines
                    .range(..=(now, usize::MAX))
                    .map(|&(_, i)| i)
                    .collect();
                for idx in due {
                    self.deliver(idx, OwnedInput::Timeout);
                }
            }
            Input::Abort => {
                self.source_ended = true;
                let running: Vec<_> = (0..self.slots.len())
                    .filter(|&i| self.slots[i].is_some())
                    .collect();
                for idx in running {
                    self.deliver(idx, OwnedInput::Abort);
                }
            }
            conn_input => {
                if let Some((slot, renamed)) = self.shared.conn_input(conn_input, now) {
                    self.deliver(slot, renamed);
                }
            }
        }
    }
}

impl Shared {
    fn query_id(&mut self) -> QueryId {
        self.next_query = self.next_query.wrapping_add(1);
        while self.flights.contains_key(&QueryId(self.next_query)) {
            self.next_query = self.next_query.wrapping_add(1);
        }
        QueryId(self.next_query)
    }

    fn conn_id(&mut self) -> ConnId {
        self.next_conn = self.next_conn.wrapping_add(1);
        while self.conns.contains_key(&ConnId(self.next_conn)) {
            self.next_conn = self.next_conn.wrapping_add(1);
        }
        ConnId(self.next_conn)
    }

    /// Does what a check asked, in the scan's id space.
    fn on_action(&mut self, idx: usize, slot: &mut Slot, action: Action, now: Timestamp) {
        match action {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => {
                let key = QueryKey::new(server, transport, &wire);
                if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(k, &wire, now)) {
                    self.stats.hits += 1;
                    slot.inputs.push_back(OwnedInput::DnsAnswer {
                        query,
                        from: Some(server),
                        wire: hit,
                    });
                    return;
                }
                let waiter = Waiter {
                    slot: idx,
                    query,
                    wire,
                };
                if let Some(&outer) = key.as_ref().and_then(|k| self.by_key.get(k)) {
                    self.stats.joined += 1;
                    slot.queries.insert(query, outer);
                    if let Some(flight) = self.flights.get_mut(&outer) {
                        flight.waiters.push(waiter);
                    }
                    return;
                }
                let outer = self.query_id();
                slot.queries.insert(query, outer);
                if let Some(k) = &key {
                    self.by_key.insert(k.clone(), outer);
                }
                let wire = waiter.wire.clone();
                let flight = Flight {
                    key,
                    server,
                    transport,
                    wire,
                    sent: false,
                    waiters: vec![waiter],
                };
                self.flights.insert(outer, flight);
                self.dns_queue.push_back(outer);
                self.send_queued(now);
            }
            Action::EndDns { query } => {
                if let Some(outer) = slot.queries.remove(&query) {
                    self.leave_flight(outer, idx, query);
                }
            }
            Action::Connect { conn, addr } => {
                let outer = self.conn_id();
                slot.conns.insert(conn, outer);
                let state = ConnState::Queued;
                self.conns.insert(
                    outer,
                    Conn {
                        slot: idx,
                        inner: conn,
                        addr,
                        state,
                        told_queued: false,
                    },
                );
                if let Some(admitted) = self.gate.admit(addr.ip(), (outer, addr.ip())) {
                    self.connect_queue.push_back(admitted);
                }
                self.connect_queued(now);
                // Held back: its deadline must not run while it waits for a place.
                if let Some(c) = self
                    .conns
                    .get_mut(&outer)
                    .filter(|c| c.state == ConnState::Queued)
                {
                    c.told_queued = true;
                    slot.inputs.push_back(OwnedInput::ConnectQueued { conn });
                }
            }
            Action::Send { conn, bytes } => {
                if let Some(&outer) = slot.conns.get(&conn) {
                    self.out.push_back(Action::Send { conn: outer, bytes });
                }
            }
            Action::StartTls { conn, sni } => {
                if let Some(&outer) = slot.conns.get(&conn) {
                    self.out.push_back(Action::StartTls { conn: outer, sni });
                }
            }
            Action::Close { conn } => {
                if let Some(outer) = slot.conns.remove(&conn) {
                    self.close(outer, now);
                }
            }
        }
    }

    /// The check's connection `outer` is closed by the check: its place goes to the next in
    /// line, and the runtime closes the socket if it has one.
    fn close(&mut self, outer: ConnId, now: Timestamp) {
        let Some(conn) = self.conns.remove(&outer) else {
            return;
        };
        match conn.state {
            // Still queued: it is skipped (and any place it was given handed on) when met.
            ConnState::Queued => {}
            ConnState::Open => {
                self.out.push_back(Action::Close { conn: outer });
                self.release_place(conn.addr.ip(), now);
            }
            ConnState::Ended => self.out.push_back(Action::Close { conn: outer }),
        }
    }

    /// Frees one place at `ip` and gives it to the next connection waiting for it.
    fn release_place(&mut self, ip: IpAddr, now: Timestamp) {
        if let Some(next) = self.gate.release(ip) {
            self.connect_queue.push_back(next);
            self.connect_queued(now);
        }
    }

    /// Opens the connections that have a place, as fast as the connection rate allows.
    fn connect_queued(&mut self, now: Timestamp) {
        while let Some(&(outer, ip)) = self.connect_queue.front() {
            let Some(conn) = self.conns.get_mut(&outer) else {
                // Closed by its check while queued: hand its place on.
                self.connect_queue.pop_front();
                self.release_place(ip, now);
                continue;
            };
            if !self.connect_rate.try_take(now) {
                return;
            }
            self.connect_queue.pop_front();
            conn.state = ConnState::Open;
            if conn.told_queued {
                self.started_late.push((conn.slot, conn.inner));
            }
            self.out.push_back(Action::Connect {
                conn: outer,
                addr: conn.addr,
            });
        }
    }

    /// Sends the queued queries still wanted, as fast as the DNS rate allows.
    fn send_queued(&mut self, now: Timestamp) {
        while let Some(&outer) = self.dns_queue.front() {
            let Some(flight) = self.flights.get_mut(&outer) else {
                self.dns_queue.pop_front();
                continue;
            };
            if self.dns_in_flight >= self.config.max_dns_in_flight.max(1)
                || !self.dns_rate.try_take(now)
            {
                return;
            }
            self.dns_queue.pop_front();
            self.dns_in_flight += 1;
            flight.sent = true;
            self.stats.sent += 1;
            self.out.push_back(Action::SendDns {
                query: outer,
                server: flight.server,
                transport: flight.transport,
                wire: flight.wire.clone(),
            });
        }
    }

    /// Removes the flight `outer` (it was answered or failed) and tells the runtime.
    fn end_flight(&mut self, outer: QueryId) -> Flight {
        let flight = self.flights.remove(&outer).expect("flight exists");
        if let Some(k) = &flight.key {
            if self.by_key.get(k) == Some(&outer) {
                self.by_key.remove(k);
            }
        }
        if flight.sent {
            self.dns_in_flight -= 1;
            self.out.push_back(Action::EndDns { query: outer });
        }
        flight
    }

    /// The check in `slot` no longer waits for its query `inner` on flight `outer`.
    fn leave_flight(&mut self, outer: QueryId, slot: usize, inner: QueryId) {
        let Some(flight) = self.flights.get_mut(&outer) else {
            return;
        };
        flight
            .waiters
            .retain(|w| !(w.slot == slot && w.query == inner));
        if flight.waiters.is_empty() {
            self.end_flight(outer);
        } else if flight.sent {
            // A check gave up on it (its attempt timed out) or finished: later askers,
            // that check's own retry included, send the query afresh instead of joining
            // an exchange that may have been lost.
            if let Some(k) = flight.key.clone() {
                if self.by_key.get(&k) == Some(&outer) {
                    self.by_key.remove(&k);
                }
            }
        }
    }

    /// Ends everything a finished check still holds.
    fn release_slot(&mut self, idx: usize, slot: &mut Slot, now: Timestamp) {
        for (inner, outer) in slot.queries.drain() {
            self.leave_flight(outer, idx, inner);
        }
        let conns: Vec<_> = slot.conns.drain().map(|(_, outer)| outer).collect();
        for outer in conns {
            self.close(outer, now);
        }
    }

    /// Renames a connection input from the runtime to the check's id (with its slot), updating the
    /// connection's state; `None` for a connection the scan no longer knows.
    fn conn_input(&mut self, input: Input<'_>, now: Timestamp) -> Option<(usize, OwnedInput)> {
        let outer = input.conn()?;
        let conn = self.conns.get_mut(&outer)?;
        let (slot, inner, ip) = (conn.slot, conn.inner, conn.addr.ip());
        let ended = matches!(input, Input::ConnectFailed { .. } | Input::Closed { .. });
        if ended && conn.state == ConnState::Open {
            conn.state = ConnState::Ended;
            self.release_place(ip, now);
        }
        let mut owned = input.to_owned_input();
        if let Some(conn) = owned.conn_mut() {
            *conn = inner;
        }
        Some((slot, owned))
    }
}

/// The scan is driven like any check. Its [`Output::Done`] comes once the source has ended
/// and every check has finished; the report it carries only names the scan (`"scan of N
/// domains"`): each domain's report went to the [`ScanSink`], the totals are in
/// [`Scan::summary`].
impl<S: DomainSource, K: ScanSink> Machine for Scan<S, K> {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.done.is_some() {
            return Err(UsageError::AfterDone);
        }
        self.started_this_input = 0;
        self.route(now, input);
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        if let Some(report) = &self.done {
            return Output::Done(report.clone());
        }
        loop {
            if let Some(action) = self.shared.out.pop_front() {
                return Output::Action(action);
            }
            for (slot, conn) in std::mem::take(&mut self.shared.started_late) {
                self.deliver(slot, OwnedInput::Connecting { conn });
            }
            if let Some(idx) = self.work.pop_front() {
                self.pump(idx, now);
                continue;
            }
            self.shared.send_queued(now);
            self.shared.connect_queued(now);
            if !self.shared.out.is_empty() {
                continue;
            }
            let before = self.next_index;
            self.pull_domains(now);
            if self.next_index != before || !self.shared.out.is_empty() || !self.work.is_empty() {
                continue;
            }
            break;
        }
        if self.source_ended && self.running() == 0 {
            let mut report = Report::abandoned(self.started);
            report.reason = None;
            report.domain = format!("scan of {} domains", self.summary.domains);
            self.done = Some(Box::new(report.clone()));
            return Output::Done(Box::new(report));
        }
        match self.next_deadline(now) {
            Some(t) => Output::Timeout(t),
            // Nothing can happen without an input (never the case while checks run: each
            // has a deadline); look again soon rather than never.
            None => Output::Timeout(now.saturating_add(INPUT_POLL)),
        }
    }
}
