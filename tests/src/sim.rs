//! The simulated driver: runs any [`Machine`] against a [`World`] in memory, with a
//! simulated clock (STYLE-ANCHORS 3.8, after quinn's `Pair::drive_bounded`).
//!
//! [`Sim::step`] takes the earliest of the machine's `Timeout` deadline and the next queued
//! delivery, sets `now`, feeds the input(s) of that one event, and drains
//! [`Machine::poll_output`] until `Timeout` or `Done`, asserting the drain rule of
//! DESIGN.md section 3. Actions are performed at once: `SendDns` is answered by the
//! [resolver simulator](crate::world::resolver) after the DNS latency (or never, for a
//! timeout fault); `Connect`/`Send`/`Close` reach the address's [`ServerSession`], whose
//! replies arrive after the TCP latency; `StartTls` runs the core's client-side
//! [`ConnectionIo`] (the runtimes' code path) against the server's `rustls::ServerConnection`,
//! and every TLS byte from the server goes through [`ConnectionIo::decode`], whose inputs are
//! fed in order.
//!
//! # DNS rounds
//!
//! Every query gets a *depth*: `1 +` the largest depth among the DNS answers (or transport
//! failures) fed to the machine before the query was sent. The machine is one sequential
//! process, so "fed before" is exactly the causal happens-before of Lamport clocks: a query
//! of depth 3 could not have been sent without waiting for two earlier answers in turn.
//! [`Sim::dns_rounds`] is the largest depth; queries sent in parallel share one. A query
//! retried after the machine's own timeout keeps the depth of what it knew (timeouts are
//! not answers).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use daneel_core::tls::ConnectionIo;
use daneel_core::{
    Action, ConnId, Machine, NetError, Output, OwnedInput, QueryId, Report, Timestamp, Transport,
    UsageError,
};
use hickory_proto::op::Message;

use crate::world::resolver;
use crate::world::{Host, ServerSession, World};

/// The most outputs one drain may produce before the driver calls it a livelock.
pub const MAX_DRAIN: usize = 10_000;

/// Default one-way DNS latency (query to answer).
pub const DNS_LATENCY: Duration = Duration::from_millis(10);

/// Default one-way TCP latency.
pub const TCP_LATENCY: Duration = Duration::from_millis(5);

/// Why a simulation failed (each is a failed test).
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// `handle_input` returned `Err` for a world-generated input.
    Usage {
        /// The input.
        input: Box<OwnedInput>,
        /// The error.
        error: UsageError,
    },
    /// A drain produced more than [`MAX_DRAIN`] outputs.
    DrainUnbounded,
    /// The machine broke the drain rule (e.g. an action right after `Timeout` without
    /// input, or `Done` not repeating).
    DrainRule(String),
    /// No `Done` after this many steps (livelock).
    StepBound(usize),
    /// Nothing is queued and the machine has no deadline, but it is not done.
    Stalled(Timestamp),
    /// An action named a connection that was never opened, or is closed.
    UnknownConn(ConnId),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for SimError {}

/// One DNS query the machine sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryLog {
    /// The exchange id.
    pub query: QueryId,
    /// The question name (lower case, no trailing dot; empty for the root).
    pub name: String,
    /// The question type, e.g. `TLSA`.
    pub rtype: String,
    /// UDP or TCP.
    pub transport: Transport,
    /// When it was sent.
    pub sent: Timestamp,
    /// When its answer (or failure) was fed to the machine, if ever.
    pub answered: Option<Timestamp>,
    /// Its DNS depth (see the module docs).
    pub depth: u32,
}

/// One entry of a transcript: an input (none for the very first drain) at a time, and every
/// output the drain after it produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscriptEntry {
    /// The `now` given to `handle_input` and `poll_output`.
    pub at: Timestamp,
    /// The input, `None` for the initial drain.
    pub input: Option<OwnedInput>,
    /// The outputs, ending with `Timeout` or `Done`.
    pub outputs: Vec<Output>,
}

/// A replay produced different outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayMismatch {
    /// Index of the transcript entry.
    pub entry: usize,
    /// What the transcript holds.
    pub expected: Vec<Output>,
    /// What the fresh machine produced (or a usage error as text).
    pub actual: Result<Vec<Output>, String>,
}

/// How a resolver address behaves in the simulation (DESIGN.md section 4: several
/// resolvers, some of which may not validate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolverRole {
    /// The world's validating resolver (every address not given a role).
    Validating,
    /// A resolver that does not validate: AD=0 always, bogus data served as unsigned.
    NonValidating,
    /// Never answers.
    Silent,
}

/// How a forged DNS answer differs from a genuine one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForgeryKind {
    /// Right id and question, sent from another address or port (an off-path attacker that
    /// guessed both, RFC 5452 sec. 9.1).
    OtherSource(SocketAddr),
    /// From the queried server, with another message id.
    WrongId,
    /// From the queried server with the right id, answering another question.
    WrongQuestion,
}

/// A forged answer to every query for `qname`/`qtype`, made from the attacker's own `world`
/// (AD=1 and all), delivered before the genuine one.
#[derive(Clone, Debug)]
pub struct Forgery {
    /// The name forged (world form: lower case, no trailing dot).
    pub qname: String,
    /// The type forged.
    pub qtype: hickory_proto::rr::RecordType,
    /// How it is forged.
    pub kind: ForgeryKind,
    /// The attacker's world, answered by a validating resolver.
    pub world: World,
}

enum Delivery {
    /// A DNS answer, or a transport failure.
    Dns {
        query: QueryId,
        from: SocketAddr,
        result: Result<Vec<u8>, NetError>,
        depth: u32,
    },
    /// The TCP handshake completed; the server greets.
    Connected(ConnId),
    /// An input produced locally (connect failure, TLS start failure).
    Input(OwnedInput),
    /// Socket bytes from the server, then maybe its close.
    FromServer {
        conn: ConnId,
        bytes: Vec<u8>,
        close: bool,
    },
}

struct Queued {
    at: Timestamp,
    seq: u64,
    delivery: Delivery,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct SimConn {
    server: Option<ServerSession>,
    io: ConnectionIo,
    open: bool,
}

/// One connection the machine opened, as the world saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnLog {
    /// The connection.
    pub conn: ConnId,
    /// Where to.
    pub addr: SocketAddr,
    /// The SNI the server received, if TLS started.
    pub sni: Option<String>,
    /// Whether the TLS upgrade was requested.
    pub tls: bool,
}

/// The simulated driver.
pub struct Sim {
    world: World,
    resolvers: BTreeMap<SocketAddr, ResolverRole>,
    plain_world: Option<World>,
    forgeries: Vec<Forgery>,
    /// State of the DNS latency jitter (0: none).
    jitter: u64,
    machine: Box<dyn Machine>,
    now: Timestamp,
    start: Timestamp,
    deadline: Option<Timestamp>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    dns_latency: Duration,
    tcp_latency: Duration,
    conns: BTreeMap<ConnId, SimConn>,
    conn_log: BTreeMap<ConnId, ConnLog>,
    queries: BTreeMap<QueryId, QueryLog>,
    /// DNS exchanges sent and not yet ended by `Action::EndDns`: a runtime's open sockets.
    open_dns: std::collections::BTreeSet<QueryId>,
    /// The most DNS exchanges ever open at once.
    peak_open_dns: usize,
    /// The most TCP connections ever open at once.
    peak_open_conns: usize,
    known_depth: u32,
    transcript: Vec<TranscriptEntry>,
    report: Option<Report>,
    steps: usize,
    started: bool,
}

impl Sim {
    /// A driver for `machine` in `world`, with the clock at `start`.
    pub fn new(world: World, machine: Box<dyn Machine>, start: Timestamp) -> Sim {
        Sim {
            world,
            resolvers: BTreeMap::new(),
            plain_world: None,
            forgeries: Vec::new(),
            jitter: 0,
            machine,
            now: start,
            start,
            deadline: None,
            queue: BinaryHeap::new(),
            seq: 0,
            dns_latency: DNS_LATENCY,
            tcp_latency: TCP_LATENCY,
            conns: BTreeMap::new(),
            conn_log: BTreeMap::new(),
            queries: BTreeMap::new(),
            open_dns: std::collections::BTreeSet::new(),
            peak_open_dns: 0,
            peak_open_conns: 0,
            known_depth: 0,
            transcript: Vec::new(),
            report: None,
            steps: 0,
            started: false,
        }
    }

    /// Sets the one-way DNS and TCP latencies (call before the first step).
    pub fn with_latency(mut self, dns: Duration, tcp: Duration) -> Sim {
        self.dns_latency = dns;
        self.tcp_latency = tcp;
        self
    }

    /// Gives the resolver at `addr` a role (every other address is the world's validating
    /// resolver).
    pub fn with_resolver(mut self, addr: SocketAddr, role: ResolverRole) -> Sim {
        if role == ResolverRole::NonValidating && self.plain_world.is_none() {
            self.plain_world = Some(self.world.non_validating_view());
        }
        self.resolvers.insert(addr, role);
        self
    }

    /// Draws each DNS answer's latency from `[1 ms, 4 x the DNS latency]` with a generator
    /// seeded by `seed` (non-zero), so independent answers arrive in another order for each
    /// seed (issue 17: no report may depend on that order).
    pub fn with_dns_jitter(mut self, seed: u64) -> Sim {
        self.jitter = seed.max(1);
        self
    }

    /// The latency of the next DNS answer.
    fn next_dns_latency(&mut self) -> Duration {
        if self.jitter == 0 {
            return self.dns_latency;
        }
        // xorshift64 (Marsaglia): deterministic per seed.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let span = u64::try_from(self.dns_latency.as_millis() * 4)
            .unwrap_or(40)
            .max(2);
        Duration::from_millis(1 + self.jitter % span)
    }

    /// Adds a forger (see [`Forgery`]).
    pub fn with_forgery(mut self, forgery: Forgery) -> Sim {
        self.forgeries.push(forgery);
        self
    }

    /// The simulated clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_since(self.start)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The most DNS exchanges open at once (sent, not yet ended by `Action::EndDns`): the
    /// UDP or TCP sockets a runtime would hold.
    pub fn peak_open_dns(&self) -> usize {
        self.peak_open_dns
    }

    /// The DNS exchanges still open (none once a check ended them all).
    pub fn open_dns(&self) -> usize {
        self.open_dns.len()
    }

    /// The most TCP connections open at once.
    pub fn peak_open_conns(&self) -> usize {
        self.peak_open_conns
    }

    /// Every query sent, in the order sent.
    pub fn queries(&self) -> Vec<QueryLog> {
        let mut v: Vec<QueryLog> = self.queries.values().cloned().collect();
        v.sort_by_key(|q| (q.sent, q.query));
        v
    }

    /// The number of sequential DNS rounds: the largest query depth (module docs).
    pub fn dns_rounds(&self) -> u32 {
        self.queries.values().map(|q| q.depth).max().unwrap_or(0)
    }

    /// `(sent, name, type, depth)` for every query, in the order sent.
    pub fn rounds_log(&self) -> Vec<(Timestamp, String, String, u32)> {
        self.queries()
            .into_iter()
            .map(|q| (q.sent, q.name, q.rtype, q.depth))
            .collect()
    }

    /// The connections the machine opened.
    pub fn connections(&self) -> Vec<ConnLog> {
        self.conn_log.values().cloned().collect()
    }

    /// Every input fed and every output polled.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// The report, once the machine is done.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// Runs until `Done`; fails after `max_steps` steps without it.
    pub fn run_bounded(&mut self, max_steps: usize) -> Result<Report, SimError> {
        loop {
            if let Some(r) = &self.report {
                return Ok(r.clone());
            }
            if self.steps >= max_steps {
                return Err(SimError::StepBound(max_steps));
            }
            self.step()?;
        }
    }

    /// Processes one event (the initial drain, a deadline, or a delivery). Returns true once
    /// the machine is done.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if self.report.is_some() {
            return Ok(true);
        }
        self.steps += 1;
        if !self.started {
            self.started = true;
            self.drain(None)?;
            return Ok(self.report.is_some());
        }
        let next = self.queue.peek().map(|Reverse(q)| q.at);
        let take_deadline = match (self.deadline, next) {
            (None, None) => return Err(SimError::Stalled(self.now)),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(d), Some(n)) => d < n,
        };
        if take_deadline {
            let d = self.deadline.take().unwrap_or(self.now);
            self.now = self.now.max(d);
            self.feed(OwnedInput::Timeout)?;
        } else if let Some(Reverse(q)) = self.queue.pop() {
            self.now = self.now.max(q.at);
            self.deliver(q.delivery)?;
        }
        Ok(self.report.is_some())
    }

    fn schedule(&mut self, after: Duration, delivery: Delivery) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at: self.now.saturating_add(after),
            seq: self.seq,
            delivery,
        }));
    }

    fn deliver(&mut self, delivery: Delivery) -> Result<(), SimError> {
        match delivery {
            Delivery::Dns {
                query,
                from,
                result,
                depth,
            } => {
                if !self.open_dns.contains(&query) {
                    // The exchange ended: a runtime closed its socket, nothing arrives.
                    return Ok(());
                }
                self.known_depth = self.known_depth.max(depth);
                if let Some(q) = self.queries.get_mut(&query) {
                    q.answered = Some(self.now);
                }
                let input = match result {
                    Ok(wire) => OwnedInput::DnsAnswer {
                        query,
                        from: Some(from),
                        wire,
                    },
                    Err(error) => OwnedInput::DnsFailed { query, error },
                };
                self.feed(input)
            }
            Delivery::Input(input) => self.feed(input),
            Delivery::Connected(conn) => {
                self.feed(OwnedInput::Connected { conn })?;
                let step = match self.conns.get_mut(&conn) {
                    Some(SimConn {
                        server: Some(s),
                        open: true,
                        ..
                    }) => s.on_connect(),
                    _ => return Ok(()),
                };
                self.schedule_from_server(conn, step.to_client, step.close);
                Ok(())
            }
            Delivery::FromServer { conn, bytes, close } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return Ok(());
                };
                if !c.open {
                    return Ok(());
                }
                let mut decoded = c.io.decode(conn, &bytes);
                if close {
                    decoded.inputs.extend(c.io.eof(conn).inputs);
                }
                let to_server = decoded.to_socket;
                let inputs = decoded.inputs;
                let saw_closed = inputs
                    .iter()
                    .any(|i| matches!(i, OwnedInput::Closed { .. }));
                if close || saw_closed {
                    c.open = false;
                }
                if !to_server.is_empty() {
                    self.send_to_server(conn, &to_server);
                }
                for input in inputs {
                    self.feed(input)?;
                    if self.report.is_some() {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// Sends socket bytes to the server of `conn` and schedules its reply.
    fn send_to_server(&mut self, conn: ConnId, wire: &[u8]) {
        let step = match self.conns.get_mut(&conn) {
            Some(SimConn {
                server: Some(s),
                open: true,
                ..
            }) => {
                let step = s.on_bytes(wire);
                if let (Some(sni), Some(log)) = (s.sni(), self.conn_log.get_mut(&conn)) {
                    log.sni = Some(sni.to_string());
                }
                step
            }
            _ => return,
        };
        if let Some(pace) = step.pace {
            // A trickling server: one byte per `pace` on the simulated clock.
            let n = step.to_client.len();
            for (i, b) in step.to_client.into_iter().enumerate() {
                let after = self.tcp_latency * 2 + pace.saturating_mul(i as u32);
                let close = step.close && i + 1 == n;
                let bytes = vec![b];
                self.schedule(after, Delivery::FromServer { conn, bytes, close });
            }
            return;
        }
        self.schedule_from_server(conn, step.to_client, step.close);
    }

    fn schedule_from_server(&mut self, conn: ConnId, bytes: Vec<u8>, close: bool) {
        if bytes.is_empty() && !close {
            return;
        }
        let lat = self.tcp_latency * 2;
        self.schedule(lat, Delivery::FromServer { conn, bytes, close });
    }

    fn feed(&mut self, input: OwnedInput) -> Result<(), SimError> {
        if let Err(error) = self.machine.handle_input(self.now, input.as_input()) {
            return Err(SimError::Usage {
                input: Box::new(input),
                error,
            });
        }
        self.drain(Some(input))
    }

    fn drain(&mut self, input: Option<OwnedInput>) -> Result<(), SimError> {
        let mut outputs = Vec::new();
        for _ in 0..MAX_DRAIN {
            let out = self.machine.poll_output(self.now);
            outputs.push(out.clone());
            match out {
                Output::Action(a) => self.perform(a)?,
                Output::Timeout(t) => {
                    self.deadline = Some(t);
                    self.transcript.push(TranscriptEntry {
                        at: self.now,
                        input,
                        outputs,
                    });
                    return Ok(());
                }
                Output::Done(report) => {
                    match self.machine.poll_output(self.now) {
                        Output::Done(again) if again == report => {}
                        other => {
                            return Err(SimError::DrainRule(format!(
                                "Done did not repeat: {other:?}"
                            )));
                        }
                    }
                    self.deadline = None;
                    self.report = Some(*report);
                    self.transcript.push(TranscriptEntry {
                        at: self.now,
                        input,
                        outputs,
                    });
                    return Ok(());
                }
            }
        }
        Err(SimError::DrainUnbounded)
    }

    fn perform(&mut self, action: Action) -> Result<(), SimError> {
        match action {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => {
                self.open_dns.insert(query);
                self.peak_open_dns = self.peak_open_dns.max(self.open_dns.len());
                let depth = self.known_depth + 1;
                let (name, rtype) = match Message::from_vec(&wire) {
                    Ok(m) => m
                        .queries
                        .first()
                        .map(|q| {
                            (
                                crate::world::norm_name(&q.name().to_ascii()),
                                q.query_type().to_string(),
                            )
                        })
                        .unwrap_or_default(),
                    Err(_) => (String::new(), String::from("?")),
                };
                self.queries.insert(
                    query,
                    QueryLog {
                        query,
                        name,
                        rtype,
                        transport,
                        sent: self.now,
                        answered: None,
                        depth,
                    },
                );
                for (from, forged) in self.forge(server, &wire, transport) {
                    let lat = self.dns_latency / 2;
                    self.schedule(
                        lat,
                        Delivery::Dns {
                            query,
                            from,
                            result: Ok(forged),
                            depth,
                        },
                    );
                }
                let world = match self.resolvers.get(&server) {
                    None | Some(ResolverRole::Validating) => Some(&self.world),
                    Some(ResolverRole::NonValidating) => self.plain_world.as_ref(),
                    Some(ResolverRole::Silent) => None,
                };
                if let Some(answer) = world.and_then(|w| resolver::answer(w, &wire, transport)) {
                    let lat = self.next_dns_latency();
                    self.schedule(
                        lat,
                        Delivery::Dns {
                            query,
                            from: server,
                            result: Ok(answer),
                            depth,
                        },
                    );
                }
                Ok(())
            }
            Action::Connect { conn, addr } => {
                let open = self.conns.values().filter(|c| c.open).count() + 1;
                self.peak_open_conns = self.peak_open_conns.max(open);
                let host = if addr.port() == self.world.smtp_port() {
                    self.world.hosts().get(&addr.ip()).cloned()
                } else {
                    None
                };
                self.conn_log.insert(
                    conn,
                    ConnLog {
                        conn,
                        addr,
                        sni: None,
                        tls: false,
                    },
                );
                let lat = self.tcp_latency;
                match host {
                    Some(Host::Server(spec)) => {
                        self.conns.insert(
                            conn,
                            SimConn {
                                server: Some(ServerSession::new(&spec)),
                                io: ConnectionIo::new(),
                                open: true,
                            },
                        );
                        self.schedule(lat * 2, Delivery::Connected(conn));
                    }
                    Some(Host::Blackhole) => {
                        self.conns.insert(
                            conn,
                            SimConn {
                                server: None,
                                io: ConnectionIo::new(),
                                open: true,
                            },
                        );
                    }
                    other => {
                        let error = if matches!(other, Some(Host::Unreachable)) {
                            NetError::Unreachable
                        } else {
                            NetError::Refused
                        };
                        self.schedule(
                            lat * 2,
                            Delivery::Input(OwnedInput::ConnectFailed { conn, error }),
                        );
                    }
                }
                Ok(())
            }
            Action::Send { conn, bytes } => {
                let c = self.open_conn(conn)?;
                let wire = c.io.encode(&bytes);
                self.send_to_server(conn, &wire);
                Ok(())
            }
            Action::StartTls { conn, sni } => {
                let c = self.open_conn(conn)?;
                let started = c.io.start_tls(sni.as_deref());
                if let Some(log) = self.conn_log.get_mut(&conn) {
                    log.tls = true;
                }
                match started {
                    Ok(hello) => self.send_to_server(conn, &hello),
                    Err(error) => {
                        self.schedule(
                            Duration::ZERO,
                            Delivery::Input(OwnedInput::TlsFailed { conn, error }),
                        );
                    }
                }
                Ok(())
            }
            Action::EndDns { query } => {
                if !self.open_dns.remove(&query) {
                    return Err(SimError::DrainRule(format!(
                        "EndDns for {query:?}, which is not open"
                    )));
                }
                Ok(())
            }
            Action::Close { conn } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return Err(SimError::UnknownConn(conn));
                };
                let bye = if c.open { c.io.close() } else { Vec::new() };
                if c.open {
                    if let Some(s) = c.server.as_mut() {
                        if !bye.is_empty() {
                            let _ = s.on_bytes(&bye);
                        }
                        let _ = s.on_eof();
                    }
                }
                c.open = false;
                Ok(())
            }
        }
    }

    /// The forged answers to a query sent to `server`, each with its source.
    fn forge(
        &self,
        server: SocketAddr,
        wire: &[u8],
        transport: Transport,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let Ok(query) = Message::from_vec(wire) else {
            return Vec::new();
        };
        let Some(q) = query.queries.first() else {
            return Vec::new();
        };
        let qname = crate::world::norm_name(&q.name().to_ascii());
        let mut out = Vec::new();
        for f in &self.forgeries {
            if f.qname != qname || f.qtype != q.query_type() {
                continue;
            }
            let forged = match &f.kind {
                ForgeryKind::OtherSource(from) => {
                    resolver::answer(&f.world, wire, transport).map(|a| (*from, a))
                }
                ForgeryKind::WrongId => resolver::answer(&f.world, wire, transport).map(|mut a| {
                    a[0] ^= 0x5a;
                    (server, a)
                }),
                ForgeryKind::WrongQuestion => {
                    let mut other = query.clone();
                    let decoy = hickory_proto::rr::Name::from_ascii("forged.invalid.")
                        .unwrap_or_else(|_| hickory_proto::rr::Name::root());
                    other.queries[0].set_name(decoy);
                    other
                        .to_vec()
                        .ok()
                        .and_then(|w| resolver::answer(&f.world, &w, transport))
                        .map(|a| (server, a))
                }
            };
            out.extend(forged);
        }
        out
    }

    fn open_conn(&mut self, conn: ConnId) -> Result<&mut SimConn, SimError> {
        match self.conns.get_mut(&conn) {
            Some(c) => Ok(c),
            None => Err(SimError::UnknownConn(conn)),
        }
    }
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("steps", &self.steps)
            .field("queued", &self.queue.len())
            .field("done", &self.report.is_some())
            .finish()
    }
}

/// Replays a transcript into a fresh machine and checks that it produces the same outputs,
/// entry by entry (DESIGN.md section 3: same inputs, same outputs).
pub fn replay(
    transcript: &[TranscriptEntry],
    machine: &mut dyn Machine,
) -> Result<(), ReplayMismatch> {
    for (i, entry) in transcript.iter().enumerate() {
        let mut outputs = Vec::new();
        if let Some(input) = &entry.input {
            if let Err(e) = machine.handle_input(entry.at, input.as_input()) {
                return Err(ReplayMismatch {
                    entry: i,
                    expected: entry.outputs.clone(),
                    actual: Err(e.to_string()),
                });
            }
        }
        for _ in 0..MAX_DRAIN {
            let out = machine.poll_output(entry.at);
            let last = !matches!(out, Output::Action(_));
            outputs.push(out);
            if last {
                break;
            }
        }
        if outputs != entry.outputs {
            return Err(ReplayMismatch {
                entry: i,
                expected: entry.outputs.clone(),
                actual: Ok(outputs),
            });
        }
    }
    Ok(())
}
