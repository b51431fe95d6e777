//! The simulated runtime: runs any [`Machine`] against a [`World`] in memory, with a
//! simulated clock (STYLE-ANCHORS 3.8, after quinn's `Pair::drive_bounded`).
//!
//! The machine runs inside the core's [`Driver`], the same I/O edge the tokio and smol
//! runtimes use: the simulation only executes the driver's [`IoCommand`]s against the world
//! and reports [`IoEvent`]s back, so DNS over TCP (framed and de-framed by the driver), the
//! TLS pump and the RFC 3207 rule that bytes after a `220` to STARTTLS reach only TLS are
//! exercised here exactly as on real sockets. [`Sim::step`] takes the earliest of the
//! driver's `Sleep` deadline and the next queued delivery, sets `now`, and hands that one
//! event to the driver. A UDP query is answered by the
//! [resolver simulator](crate::world::resolver) after the DNS latency (or never, for a
//! timeout fault); a DNS stream connects after the TCP round trip and answers its framed
//! query; a mail connection reaches the address's [`ServerSession`], whose replies arrive
//! after the TCP latency. A wrapper around the machine records every input and output as
//! the core's transcript [`Event`]s and checks the drain rule of DESIGN.md section 3.
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
use std::time::{Duration, Instant};

use daneel_core::dns::{tcp_frame, TcpFrameReader};
use daneel_core::driver::{Driver, IoCommand, IoEvent, Socket};
use daneel_core::transcript::Event;
use daneel_core::{
    ConnId, Input, LocalFailure, LocalResource, Machine, NetError, Output, QueryId, Report,
    Timestamp, Transport, UsageError,
};
use hickory_proto::op::Message;

use crate::world::resolver;
use crate::world::{Host, ResolverKind, ServerSession, World};

/// The most outputs one drain may produce before the driver calls it a livelock.
pub const MAX_DRAIN: usize = 10_000;

/// Default one-way DNS latency (query to answer).
pub const DNS_LATENCY: Duration = Duration::from_millis(10);

/// Default one-way TCP latency.
pub const TCP_LATENCY: Duration = Duration::from_millis(5);

/// Why a simulation failed (each is a failed test).
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// `handle_input` returned `Err` for a world-generated event.
    Usage {
        /// The event, as text.
        event: String,
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
    /// A command named a socket that was never opened.
    UnknownSocket(Socket),
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

/// A replay produced a different output.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayMismatch {
    /// Index of the transcript event.
    pub event: usize,
    /// What the transcript holds.
    pub expected: Box<Output>,
    /// What the fresh machine produced (or a usage error as text).
    pub actual: Result<Box<Output>, String>,
}

/// How a resolver address behaves in the simulation (DESIGN.md section 4: several
/// resolvers, some of which may not validate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolverRole {
    /// The world's validating resolver (every address not given a role).
    Validating,
    /// A resolver that does not validate (unbound with `module-config: "iterator"`): AD=0
    /// always, bogus data served as it is, RRSIG, NSEC, NSEC3 and DS records passed through
    /// with DO=1 ([`crate::world::ResolverKind::NonValidating`]).
    NonValidating,
    /// A broken forwarder that removes RRSIG, NSEC, NSEC3 and DS records from every answer
    /// ([`crate::world::ResolverKind::Stripping`]).
    Stripping,
    /// The same forwarder sparing the root DNSKEY's RRSIGs, so it passes the capability
    /// probe ([`crate::world::ResolverKind::SlyStripping`]).
    SlyStripping,
    /// Never answers.
    Silent,
    /// Every query to it fails before it is sent, as when this process is out of file
    /// descriptors: the runtime reports `NetError::LocalResources` (issue 7).
    OutOfDescriptors,
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
    /// A UDP datagram for a DNS exchange, or its transport failure.
    Dns {
        query: QueryId,
        from: SocketAddr,
        result: Result<Vec<u8>, NetError>,
        depth: u32,
    },
    /// The TCP handshake completed (a mail server then greets).
    Connected(Socket),
    /// The TCP connection could not be made.
    ConnectFailed(Socket, NetError),
    /// Bytes from the peer of a socket, then maybe its close; `depth` for DNS streams.
    FromPeer {
        socket: Socket,
        bytes: Vec<u8>,
        close: bool,
        depth: u32,
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

/// The peer of one TCP socket.
enum Peer {
    /// A mail server (`None`: a blackhole that accepts and never speaks).
    Mail(Option<Box<ServerSession>>),
    /// The resolver `server`, reading one framed query (RFC 1035 sec. 4.2.2).
    Resolver {
        server: SocketAddr,
        frames: TcpFrameReader,
    },
}

struct SimConn {
    peer: Peer,
    open: bool,
}

/// The machine as the driver sees it: records every input and output as transcript
/// [`Event`]s and checks the drain rule (DESIGN.md section 3) on the way.
struct Tap {
    machine: Box<dyn Machine>,
    events: Vec<Event>,
    /// Outputs since the last input.
    drained: usize,
    violation: Option<SimError>,
}

impl Machine for Tap {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        self.events.push(Event::Input {
            at: now,
            input: input.to_owned_input(),
        });
        self.drained = 0;
        self.machine.handle_input(now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.drained += 1;
        if self.drained > MAX_DRAIN {
            self.violation.get_or_insert(SimError::DrainUnbounded);
            // Stops the driver's drain; the simulation fails at once.
            return Output::Timeout(now);
        }
        let out = self.machine.poll_output(now);
        if let Output::Done(report) = &out {
            match self.machine.poll_output(now) {
                Output::Done(again) if again == *report => {}
                other => {
                    let e = SimError::DrainRule(format!("Done did not repeat: {other:?}"));
                    self.violation.get_or_insert(e);
                }
            }
        }
        self.events.push(Event::Output {
            at: now,
            output: out.clone(),
        });
        out
    }
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

/// The simulated runtime.
pub struct Sim {
    world: World,
    resolvers: BTreeMap<SocketAddr, ResolverRole>,
    /// The world as the non-validating and stripping resolvers serve it.
    views: Vec<(ResolverKind, World)>,
    forgeries: Vec<Forgery>,
    /// State of the DNS latency jitter (0: none).
    jitter: u64,
    driver: Driver<Tap>,
    now: Timestamp,
    start: Timestamp,
    deadline: Option<Timestamp>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    dns_latency: Duration,
    tcp_latency: Duration,
    conns: BTreeMap<Socket, SimConn>,
    conn_log: BTreeMap<ConnId, ConnLog>,
    queries: BTreeMap<QueryId, QueryLog>,
    /// DNS exchanges open (a UDP socket until `DnsEnd`, a stream until its `Shutdown`).
    open_dns: std::collections::BTreeSet<QueryId>,
    /// The most DNS exchanges ever open at once.
    peak_open_dns: usize,
    /// The most mail connections ever open at once.
    peak_open_conns: usize,
    known_depth: u32,
    report: Option<Report>,
    steps: usize,
    started: bool,
    /// Real time spent in the world's resolver and mail servers (see [`Sim::world_time`]).
    world_time: Duration,
}

impl Sim {
    /// A runtime for `machine` in `world`, with the clock at `start`.
    pub fn new(world: World, machine: Box<dyn Machine>, start: Timestamp) -> Sim {
        let tap = Tap {
            machine,
            events: Vec::new(),
            drained: 0,
            violation: None,
        };
        Sim {
            world,
            resolvers: BTreeMap::new(),
            views: Vec::new(),
            forgeries: Vec::new(),
            jitter: 0,
            driver: Driver::new(tap),
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
            report: None,
            steps: 0,
            started: false,
            world_time: Duration::ZERO,
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
        let kind = match role {
            ResolverRole::NonValidating => Some(ResolverKind::NonValidating),
            ResolverRole::Stripping => Some(ResolverKind::Stripping),
            ResolverRole::SlyStripping => Some(ResolverKind::SlyStripping),
            _ => None,
        };
        if let Some(kind) = kind.filter(|k| !self.views.iter().any(|(v, _)| v == k)) {
            self.views.push((kind, self.world.served_by(kind)));
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

    /// Real (not simulated) time spent so far playing the world: the resolver building
    /// answers and the mail servers' sessions (TLS included). The rest of a run's real time
    /// is the machine and the core's driver, which is what a runtime spends; the benchmark
    /// of core CPU per check (`benches/check_cpu.rs`, issue 14) subtracts this. A measure,
    /// never a basis for a test's verdict.
    pub fn world_time(&self) -> Duration {
        self.world_time
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The most DNS exchanges open at once (a UDP exchange from `DnsUdp` to `DnsEnd`, a
    /// stream from its `Connect` to its `Shutdown`): the sockets a runtime would hold.
    pub fn peak_open_dns(&self) -> usize {
        self.peak_open_dns
    }

    /// The DNS exchanges still open (none once a check ended them all).
    pub fn open_dns(&self) -> usize {
        self.open_dns.len()
    }

    /// The most mail connections open at once.
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

    /// `(sent, name, type, depth)` of every query, for diagnostics.
    pub fn rounds_log(&self) -> Vec<(Timestamp, String, String, u32)> {
        self.queries()
            .into_iter()
            .map(|q| (q.sent, q.name, q.rtype, q.depth))
            .collect()
    }

    /// Every connection the machine opened.
    pub fn connections(&self) -> Vec<ConnLog> {
        self.conn_log.values().cloned().collect()
    }

    /// Every input fed to the machine and every output it gave, as the core's transcript
    /// events.
    pub fn transcript(&self) -> &[Event] {
        &self.driver.machine().events
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

    /// Processes one event (the start, a deadline, or a delivery). Returns true once the
    /// machine is done.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if self.report.is_some() {
            return Ok(true);
        }
        self.steps += 1;
        if !self.started {
            self.started = true;
            self.driver.start(self.now);
            self.run_commands()?;
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
            self.handle(IoEvent::Timer)?;
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

    /// Hands one event to the driver, then executes every command it gives.
    fn handle(&mut self, event: IoEvent<'_>) -> Result<(), SimError> {
        if let Err(error) = self.driver.handle(self.now, event.clone()) {
            return Err(SimError::Usage {
                event: format!("{event:?}"),
                error,
            });
        }
        self.run_commands()
    }

    fn run_commands(&mut self) -> Result<(), SimError> {
        loop {
            if let Some(v) = self.driver.machine().violation.clone() {
                return Err(v);
            }
            let Some(command) = self.driver.poll_command(self.now) else {
                return Ok(());
            };
            self.execute(command)?;
        }
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
                self.answered(query, depth);
                match result {
                    Ok(wire) => self.handle(IoEvent::DnsReply {
                        query,
                        from,
                        wire: &wire,
                    }),
                    Err(error) => self.handle(IoEvent::DnsError { query, error }),
                }
            }
            Delivery::Connected(socket) => {
                if !self.conns.get(&socket).is_some_and(|c| c.open) {
                    return Ok(());
                }
                // The server accepts before the client learns of it: an implicit-TLS server
                // is ready for the ClientHello the client sends on `Connected`.
                let work = Instant::now();
                let step = match self.conns.get_mut(&socket) {
                    Some(SimConn {
                        peer: Peer::Mail(Some(s)),
                        open: true,
                    }) => Some(s.on_connect()),
                    _ => None,
                };
                self.world_time += work.elapsed();
                self.handle(IoEvent::Connected { socket })?;
                if let Some(step) = step {
                    self.schedule_from_server(socket, step.to_client, step.close);
                }
                Ok(())
            }
            Delivery::ConnectFailed(socket, error) => {
                if self.conns.remove(&socket).is_none() {
                    return Ok(());
                }
                if let Socket::DnsTcp(query) = socket {
                    self.answered(query, self.known_depth);
                }
                self.handle(IoEvent::ConnectFailed { socket, error })
            }
            Delivery::FromPeer {
                socket,
                bytes,
                close,
                depth,
            } => {
                let Some(c) = self.conns.get_mut(&socket) else {
                    return Ok(());
                };
                if !c.open {
                    return Ok(());
                }
                if close {
                    c.open = false;
                }
                if let Socket::DnsTcp(query) = socket {
                    self.answered(query, depth);
                }
                if !bytes.is_empty() {
                    self.handle(IoEvent::Read {
                        socket,
                        bytes: &bytes,
                    })?;
                }
                if close && self.report.is_none() {
                    self.handle(IoEvent::Eof { socket })?;
                }
                Ok(())
            }
        }
    }

    /// The answer (or failure) of `query` is about to reach the machine.
    fn answered(&mut self, query: QueryId, depth: u32) {
        self.known_depth = self.known_depth.max(depth);
        if let Some(q) = self.queries.get_mut(&query) {
            q.answered.get_or_insert(self.now);
        }
    }

    /// Logs a DNS query the machine sent, and returns its depth.
    fn log_query(&mut self, query: QueryId, wire: &[u8], transport: Transport) -> u32 {
        let depth = self.known_depth + 1;
        let (name, rtype) = match Message::from_vec(wire) {
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
        let log = QueryLog {
            query,
            name,
            rtype,
            transport,
            sent: self.now,
            answered: None,
            depth,
        };
        self.queries.insert(query, log);
        depth
    }

    /// The world that resolver `server` answers from (`None`: it never answers).
    fn resolver_world(&self, server: SocketAddr) -> Option<&World> {
        match self.resolvers.get(&server) {
            None | Some(ResolverRole::Validating) => Some(&self.world),
            Some(ResolverRole::NonValidating) => self.view(ResolverKind::NonValidating),
            Some(ResolverRole::Stripping) => self.view(ResolverKind::Stripping),
            Some(ResolverRole::SlyStripping) => self.view(ResolverKind::SlyStripping),
            Some(ResolverRole::Silent | ResolverRole::OutOfDescriptors) => None,
        }
    }

    fn view(&self, kind: ResolverKind) -> Option<&World> {
        self.views.iter().find(|(k, _)| *k == kind).map(|(_, w)| w)
    }

    fn open(&mut self, query: QueryId) {
        self.open_dns.insert(query);
        self.peak_open_dns = self.peak_open_dns.max(self.open_dns.len());
    }

    fn execute(&mut self, command: IoCommand) -> Result<(), SimError> {
        match command {
            IoCommand::DnsUdp {
                query,
                server,
                wire,
            } => {
                self.open(query);
                let depth = self.log_query(query, &wire, Transport::Udp);
                if self.resolvers.get(&server) == Some(&ResolverRole::OutOfDescriptors) {
                    let result = Err(NetError::LocalResources(LocalFailure {
                        resource: LocalResource::FileDescriptors,
                        message: "Too many open files (os error 24)".into(),
                    }));
                    self.schedule_dns(Duration::ZERO, query, server, result, depth);
                    return Ok(());
                }
                let work = Instant::now();
                for (from, forged) in self.forge(server, &wire, Transport::Udp) {
                    let lat = self.dns_latency / 2;
                    let result = Ok(forged);
                    self.schedule_dns(lat, query, from, result, depth);
                }
                let answer = self
                    .resolver_world(server)
                    .and_then(|w| resolver::answer(w, &wire, Transport::Udp));
                self.world_time += work.elapsed();
                if let Some(answer) = answer {
                    let lat = self.next_dns_latency();
                    let result = Ok(answer);
                    let from = server;
                    self.schedule_dns(lat, query, from, result, depth);
                }
                Ok(())
            }
            IoCommand::DnsEnd { query } => {
                if !self.open_dns.remove(&query) {
                    return Err(SimError::DrainRule(format!(
                        "DnsEnd for {query:?}, which is not open"
                    )));
                }
                Ok(())
            }
            IoCommand::Connect {
                socket: socket @ Socket::DnsTcp(query),
                addr,
            } => {
                self.open(query);
                let peer = Peer::Resolver {
                    server: addr,
                    frames: TcpFrameReader::new(),
                };
                self.conns.insert(socket, SimConn { peer, open: true });
                // A silent resolver still accepts TCP: it only never answers.
                self.schedule(self.tcp_latency * 2, Delivery::Connected(socket));
                Ok(())
            }
            IoCommand::Connect {
                socket: socket @ Socket::Conn(conn),
                addr,
            } => {
                let open = self
                    .conns
                    .iter()
                    .filter(|(s, c)| matches!(s, Socket::Conn(_)) && c.open)
                    .count()
                    + 1;
                self.peak_open_conns = self.peak_open_conns.max(open);
                let work = Instant::now();
                let default_port = self.world.smtp_port();
                let host = match self.world.hosts().get(&addr.ip()) {
                    Some(Host::Server(spec)) => spec
                        .for_port(addr.port(), default_port)
                        .map(|s| Host::Server(Box::new(s.clone()))),
                    other if addr.port() == default_port => other.cloned(),
                    _ => None,
                };
                let log = ConnLog {
                    conn,
                    addr,
                    sni: None,
                    tls: false,
                };
                self.conn_log.insert(conn, log);
                let lat = self.tcp_latency * 2;
                match host {
                    Some(Host::Server(spec)) => {
                        let peer = Peer::Mail(Some(Box::new(ServerSession::new(&spec))));
                        self.world_time += work.elapsed();
                        self.conns.insert(socket, SimConn { peer, open: true });
                        self.schedule(lat, Delivery::Connected(socket));
                    }
                    Some(Host::Blackhole) => {
                        let peer = Peer::Mail(None);
                        self.conns.insert(socket, SimConn { peer, open: true });
                    }
                    other => {
                        let error = if matches!(other, Some(Host::Unreachable)) {
                            NetError::Unreachable
                        } else {
                            NetError::Refused
                        };
                        let peer = Peer::Mail(None);
                        self.conns.insert(socket, SimConn { peer, open: true });
                        self.schedule(lat, Delivery::ConnectFailed(socket, error));
                    }
                }
                Ok(())
            }
            IoCommand::Write { socket, bytes } => {
                if !self.conns.contains_key(&socket) {
                    return Err(SimError::UnknownSocket(socket));
                }
                match socket {
                    Socket::Conn(_) => self.send_to_server(socket, &bytes),
                    Socket::DnsTcp(query) => self.send_to_resolver(query, &bytes),
                }
                Ok(())
            }
            IoCommand::Shutdown { socket } => {
                let Some(c) = self.conns.get_mut(&socket) else {
                    return Err(SimError::UnknownSocket(socket));
                };
                if c.open {
                    if let Peer::Mail(Some(s)) = &mut c.peer {
                        let work = Instant::now();
                        let _ = s.on_eof();
                        self.world_time += work.elapsed();
                    }
                }
                c.open = false;
                if let Socket::DnsTcp(query) = socket {
                    self.open_dns.remove(&query);
                }
                Ok(())
            }
            IoCommand::Sleep { until } => {
                self.deadline = Some(until);
                Ok(())
            }
            IoCommand::Finished { report, .. } => {
                self.deadline = None;
                self.report = Some(*report);
                Ok(())
            }
        }
    }

    /// Bytes the driver wrote to a mail connection: the server's reply is scheduled.
    fn send_to_server(&mut self, socket: Socket, wire: &[u8]) {
        let step = match self.conns.get_mut(&socket) {
            Some(SimConn {
                peer: Peer::Mail(Some(s)),
                open: true,
            }) => {
                let work = Instant::now();
                let step = s.on_bytes(wire);
                self.world_time += work.elapsed();
                if let Socket::Conn(conn) = socket {
                    if let Some(log) = self.conn_log.get_mut(&conn) {
                        log.tls |= s.in_tls();
                        if let Some(sni) = s.sni() {
                            log.sni = Some(sni.to_string());
                        }
                    }
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
                let depth = 0;
                self.schedule_bytes(after, socket, bytes, close, depth);
            }
            return;
        }
        self.schedule_from_server(socket, step.to_client, step.close);
    }

    /// Bytes the driver wrote to a DNS stream: once the framed query is complete, the
    /// resolver's framed answer is scheduled (RFC 1035 sec. 4.2.2, RFC 7766).
    fn send_to_resolver(&mut self, query: QueryId, bytes: &[u8]) {
        let socket = Socket::DnsTcp(query);
        let Some(SimConn {
            peer: Peer::Resolver { server, frames },
            open: true,
        }) = self.conns.get_mut(&socket)
        else {
            return;
        };
        let server = *server;
        if frames.push(bytes).is_err() {
            return;
        }
        let Some(wire) = frames.pop() else {
            return;
        };
        let depth = self.log_query(query, &wire, Transport::Tcp);
        let work = Instant::now();
        let answer = self
            .resolver_world(server)
            .and_then(|w| resolver::answer(w, &wire, Transport::Tcp));
        self.world_time += work.elapsed();
        if let Some(answer) = answer {
            let lat = self.next_dns_latency();
            let bytes = tcp_frame(&answer);
            let close = false;
            self.schedule_bytes(lat, socket, bytes, close, depth);
        }
    }

    /// Schedules a datagram (or a transport failure) for DNS exchange `query` from `from`.
    fn schedule_dns(
        &mut self,
        after: Duration,
        query: QueryId,
        from: SocketAddr,
        result: Result<Vec<u8>, NetError>,
        depth: u32,
    ) {
        let delivery = Delivery::Dns {
            query,
            from,
            result,
            depth,
        };
        self.schedule(after, delivery);
    }

    /// Schedules bytes from the peer of `socket` (then maybe its close) after `after`.
    fn schedule_bytes(
        &mut self,
        after: Duration,
        socket: Socket,
        bytes: Vec<u8>,
        close: bool,
        depth: u32,
    ) {
        let delivery = Delivery::FromPeer {
            socket,
            bytes,
            close,
            depth,
        };
        self.schedule(after, delivery);
    }

    fn schedule_from_server(&mut self, socket: Socket, bytes: Vec<u8>, close: bool) {
        if bytes.is_empty() && !close {
            return;
        }
        let lat = self.tcp_latency * 2;
        let depth = 0;
        self.schedule_bytes(lat, socket, bytes, close, depth);
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
/// event by event (DESIGN.md section 3: same inputs, same outputs).
pub fn replay(transcript: &[Event], machine: &mut dyn Machine) -> Result<(), ReplayMismatch> {
    for (i, event) in transcript.iter().enumerate() {
        match event {
            Event::Input { at, input } => {
                if let Err(e) = machine.handle_input(*at, input.as_input()) {
                    return Err(ReplayMismatch {
                        event: i,
                        expected: Box::new(Output::Timeout(*at)),
                        actual: Err(e.to_string()),
                    });
                }
            }
            Event::Output { at, output } => {
                let actual = machine.poll_output(*at);
                if actual != *output {
                    return Err(ReplayMismatch {
                        event: i,
                        expected: Box::new(output.clone()),
                        actual: Ok(Box::new(actual)),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Lets a caller keep a handle on the recorder the simulator drives.
struct SharedRecorder(std::rc::Rc<std::cell::RefCell<daneel_core::transcript::Recorder>>);

impl Machine for SharedRecorder {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        self.0.borrow_mut().handle_input(now, input)
    }
    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.0.borrow_mut().poll_output(now)
    }
}

/// Runs the check `config` in `world` from `start` through a transcript [`Recorder`], as
/// `daneel check --transcript` does: its report and its transcript.
///
/// [`Recorder`]: daneel_core::transcript::Recorder
pub fn record(
    world: &World,
    config: impl Into<daneel_core::MachineConfig>,
    seed: daneel_core::Seed,
    start: Timestamp,
) -> (Report, daneel_core::transcript::Transcript) {
    let recorder = std::rc::Rc::new(std::cell::RefCell::new(
        daneel_core::transcript::Recorder::new(config, seed, start).expect("a valid config"),
    ));
    let mut sim = Sim::new(
        world.clone(),
        Box::new(SharedRecorder(recorder.clone())),
        start,
    );
    let report = sim.run_bounded(10_000).expect("the check finishes");
    let transcript = recorder.borrow().transcript().clone();
    (report, transcript)
}
