//! The steps of the whole-check fuzz targets (`smtp_check`, `mua_check`), and the driver
//! that feeds them to any check [`Machine`]: well-formed answers to the pending queries built
//! from the fuzzer's choices, raw bytes, transport failures, connection events, canned
//! replies, chains, timeouts. What the driver saw (which answers carried AD from the
//! resolver, which connections were opened, which sent bytes after a handshake) goes to the
//! target's oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{tlsa, A, AAAA, CNAME, MX, SRV, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dns::Security;
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::machine::{
    Action, ConnId, Input, Machine, NetError, Output, OwnedInput, QueryId, Transport, UsageError,
};
use crate::report::{AddressSecurity, ConnectionReport, HostPolicy, HostReport, Report};
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsFailureKind, TlsInfo};
use crate::transcript::{Event, Transcript};

/// One record the fuzzer asks to put in an answer.
#[derive(Arbitrary, Debug)]
pub enum FuzzRecord {
    /// An MX record; in the answer to an SRV question, the SRV record with priority and
    /// weight from the two bytes of the `u16` and the port [`SRV_PORTS`] picks (RFC 2782).
    Mx(u16, u8),
    /// An A record.
    A([u8; 4]),
    /// An AAAA record.
    Aaaa([u8; 16]),
    /// A CNAME from the query name.
    Cname(u8),
    /// A TLSA record.
    Tlsa(u8, u8, u8, Vec<u8>),
}

/// One step of an `smtp_check` run.
#[derive(Arbitrary, Debug)]
pub enum FuzzOp {
    /// Answer the `pick`-th pending query with well-formed records.
    Answer {
        /// Which pending query.
        pick: u8,
        /// AD bit.
        ad: bool,
        /// 0: NOERROR, 1: NXDOMAIN, 2: SERVFAIL, else REFUSED.
        rcode: u8,
        /// TC bit.
        tc: bool,
        /// The answer records.
        records: Vec<FuzzRecord>,
    },
    /// Answer with raw bytes.
    RawAnswer(u8, Vec<u8>),
    /// The exchange failed.
    DnsFailed(u8),
    /// A pending connection connected.
    Connected(u8),
    /// A pending connection failed.
    ConnectFailed(u8),
    /// Bytes from a connection's server.
    Received(u8, Vec<u8>),
    /// A canned SMTP reply from a connection's server.
    Reply(u8, u8),
    /// A handshake completed with this chain.
    TlsEstablished(u8, Vec<Vec<u8>>),
    /// A handshake failed.
    TlsFailed(u8, bool),
    /// The server closed.
    Closed(u8),
    /// Time passes up to the next deadline.
    Timeout,
    /// The runtime holds a pending connection back (a scan's per-destination limit).
    ConnectQueued(u8),
    /// The runtime starts a held-back connection only now.
    Connecting(u8),
}

impl FuzzRecord {
    /// Writes the bytes `arbitrary` decodes to this record.
    pub(crate) fn write(&self, s: &mut SeedBytes) {
        const COUNT: u32 = 5;
        match self {
            FuzzRecord::Mx(pref, name) => s.variant(0, COUNT).u16(*pref).u8(*name),
            FuzzRecord::A(octets) => octets.iter().fold(s.variant(1, COUNT), |s, b| s.u8(*b)),
            FuzzRecord::Aaaa(octets) => octets.iter().fold(s.variant(2, COUNT), |s, b| s.u8(*b)),
            FuzzRecord::Cname(name) => s.variant(3, COUNT).u8(*name),
            FuzzRecord::Tlsa(u, sel, m, data) => {
                s.variant(4, COUNT).u8(*u).u8(*sel).u8(*m).bytes(data)
            }
        };
    }
}

impl FuzzOp {
    /// Writes the bytes `arbitrary` decodes to this step.
    pub(crate) fn write(&self, s: &mut SeedBytes) {
        const COUNT: u32 = 13;
        match self {
            FuzzOp::Answer {
                pick,
                ad,
                rcode,
                tc,
                records,
            } => {
                s.variant(0, COUNT).u8(*pick).bool(*ad).u8(*rcode).bool(*tc);
                s.list(records, |s, r| r.write(s))
            }
            FuzzOp::RawAnswer(n, bytes) => s.variant(1, COUNT).u8(*n).bytes(bytes),
            FuzzOp::DnsFailed(n) => s.variant(2, COUNT).u8(*n),
            FuzzOp::Connected(n) => s.variant(3, COUNT).u8(*n),
            FuzzOp::ConnectFailed(n) => s.variant(4, COUNT).u8(*n),
            FuzzOp::Received(n, bytes) => s.variant(5, COUNT).u8(*n).bytes(bytes),
            FuzzOp::Reply(n, r) => s.variant(6, COUNT).u8(*n).u8(*r),
            FuzzOp::TlsEstablished(n, chain) => {
                s.variant(7, COUNT).u8(*n);
                s.list(chain, |s, der| {
                    s.bytes(der);
                })
            }
            FuzzOp::TlsFailed(n, unsupported) => s.variant(8, COUNT).u8(*n).bool(*unsupported),
            FuzzOp::Closed(n) => s.variant(9, COUNT).u8(*n),
            FuzzOp::Timeout => s.variant(10, COUNT),
            FuzzOp::ConnectQueued(n) => s.variant(11, COUNT).u8(*n),
            FuzzOp::Connecting(n) => s.variant(12, COUNT).u8(*n),
        };
    }
}

/// The ports an SRV record built from [`FuzzRecord::Mx`] can carry: the services' own, and 0.
pub const SRV_PORTS: [u16; 5] = [465, 587, 993, 995, 0];

/// Builds a well-formed answer to `query` (a message we sent).
fn encode_answer(
    names: &[&str],
    query: &[u8],
    ad: bool,
    rcode: u8,
    tc: bool,
    records: &[FuzzRecord],
) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.authentic_data = ad;
    m.metadata.truncation = tc;
    m.metadata.response_code = match rcode {
        0 => ResponseCode::NoError,
        1 => ResponseCode::NXDomain,
        2 => ResponseCode::ServFail,
        _ => ResponseCode::Refused,
    };
    let owner = question.name().clone();
    m.add_query(Query::query(owner.clone(), question.query_type()));
    for r in records.iter().take(8) {
        let name = |i: u8| Name::from_ascii(names[usize::from(i) % names.len()]).ok();
        let data = match r {
            FuzzRecord::Mx(pref, n) if question.query_type() == RecordType::SRV => {
                let [priority, weight] = pref.to_be_bytes();
                let port = SRV_PORTS[usize::from(*n) % SRV_PORTS.len()];
                RData::SRV(SRV::new(
                    u16::from(priority),
                    u16::from(weight),
                    port,
                    name(*n)?,
                ))
            }
            FuzzRecord::Mx(pref, n) => RData::MX(MX::new(*pref, name(*n)?)),
            FuzzRecord::A(o) => RData::A(A(Ipv4Addr::from(*o))),
            FuzzRecord::Aaaa(o) => RData::AAAA(AAAA(Ipv6Addr::from(*o))),
            FuzzRecord::Cname(n) => RData::CNAME(CNAME(name(*n)?)),
            FuzzRecord::Tlsa(u, s, mt, d) => RData::TLSA(TLSA::new(
                tlsa::CertUsage::from(*u),
                tlsa::Selector::from(*s),
                tlsa::Matching::from(*mt),
                d.iter().copied().take(64).collect(),
            )),
        };
        m.add_answer(Record::from_rdata(owner.clone(), 300, data));
    }
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    m.set_edns(edns);
    m.to_vec().ok()
}

/// Canned SMTP replies for [`FuzzOp::Reply`].
const REPLIES: [&[u8]; 7] = [
    b"220 mx ESMTP\r\n",
    b"250-mx\r\n250 STARTTLS\r\n",
    b"250 mx\r\n",
    b"220 2.0.0 go ahead\r\n",
    b"221 bye\r\n",
    b"421 4.3.2 busy\r\n",
    b"220 ready\r\n250 injected\r\n",
];

/// What [`drive`] saw, for the target's oracle.
#[derive(Clone, Default)]
pub struct Observed {
    /// The questions (see [`question_key`]) of the queries to which an answer from the
    /// server asked carried AD=1 (answers from elsewhere never count, RFC 5452 sec. 9.1).
    pub ad_questions: BTreeSet<(String, RecordType)>,
    /// Every connection the check opened (each `Connect` action), in order, with its
    /// address.
    pub conns: Vec<(ConnId, SocketAddr)>,
    /// Connections that sent bytes after their handshake completed.
    pub sent_after_tls: BTreeMap<ConnId, bool>,
    /// The SNI each connection asked for when it started TLS (RFC 6066 sec. 3).
    pub snis: BTreeMap<ConnId, Option<String>>,
    /// Every `Send`, in order: the connection, whether its handshake had completed, and
    /// the first bytes (at most 16).
    pub sends: Vec<(ConnId, bool, Vec<u8>)>,
    /// Every line sent, in order, without its line end: the connection, whether every
    /// piece of it was sent after the handshake completed, and the line. A line may span
    /// writes; the unterminated tail of each connection is in [`Observed::tails`].
    pub lines: Vec<(ConnId, bool, Vec<u8>)>,
    /// Per connection, what was sent after its last line end, and whether all of it was
    /// sent after the handshake completed.
    pub tails: BTreeMap<ConnId, (bool, Vec<u8>)>,
    /// Every DNS query the machine sent: its server, transport and message.
    pub dns_sent: BTreeMap<QueryId, SentQuery>,
    /// Every DNS datagram the driver fed, in order: the query, the source address, the bytes.
    pub dns_fed: Vec<(QueryId, SocketAddr, Vec<u8>)>,
    /// The queries sent and not yet ended (`SendDns` without its `EndDns`) and the
    /// connections opened and not yet closed: the timers the machine may still be waiting on.
    pub in_flight: BTreeSet<InFlight>,
    /// The work the machine started: two per `SendDns` (a timeout and a retry may follow),
    /// one per `Connect`.
    pub started: usize,
}

/// The most deadlines [`drive_with`] feeds after the last step, however much work the
/// machine keeps starting.
pub const MAX_DEADLINES_AFTER_STEPS: usize = 4096;

/// A query or a connection the machine has not ended yet ([`Observed::in_flight`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InFlight {
    /// A DNS query.
    Dns(QueryId),
    /// A connection.
    Conn(ConnId),
}

/// The key of a DNS question in [`Observed::ad_questions`]: the name lower-cased (a query
/// may mix its case, draft-vixie-dnsext-dns0x20), without the final dot.
pub fn question_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Observed {
    /// Notes an action of the machine; `established`: the connections whose handshake,
    /// asked for by a `StartTls`, completed.
    fn saw(&mut self, action: Action, established: &BTreeMap<ConnId, bool>) {
        match action {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => {
                let sent = SentQuery {
                    server,
                    transport,
                    wire,
                };
                self.dns_sent.insert(query, sent);
                self.in_flight.insert(InFlight::Dns(query));
                self.started += 2;
            }
            Action::Connect { conn, addr } => {
                self.conns.push((conn, addr));
                self.in_flight.insert(InFlight::Conn(conn));
                self.started += 1;
            }
            Action::StartTls { conn, sni } => {
                self.snis.insert(conn, sni);
            }
            Action::Send { conn, bytes } => {
                let after = established.contains_key(&conn);
                if after {
                    self.sent_after_tls.insert(conn, true);
                }
                self.split_lines(conn, after, &bytes);
                let head = bytes.iter().copied().take(16).collect();
                self.sends.push((conn, after, head));
            }
            Action::Close { conn } => {
                self.in_flight.remove(&InFlight::Conn(conn));
            }
            Action::EndDns { query } => {
                self.in_flight.remove(&InFlight::Dns(query));
            }
        }
    }

    /// Adds `bytes` sent on `conn` to its tail and moves every line it completes (ended by
    /// LF, with or without CR) to [`Observed::lines`].
    fn split_lines(&mut self, conn: ConnId, after: bool, bytes: &[u8]) {
        let tail = self.tails.entry(conn).or_insert((true, Vec::new()));
        tail.0 &= after;
        tail.1.extend_from_slice(bytes);
        while let Some(end) = tail.1.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = tail.1.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.lines.push((conn, tail.0, line));
            tail.0 = after;
        }
    }

    /// Every line sent, then every unterminated tail: the connection, whether it was all
    /// sent after the handshake, the bytes.
    pub fn commands(&self) -> impl Iterator<Item = (ConnId, bool, &[u8])> {
        let lines = self.lines.iter().map(|(c, a, l)| (*c, *a, &l[..]));
        let tails = self.tails.iter().map(|(c, (a, t))| (*c, *a, &t[..]));
        lines.chain(tails.filter(|(_, _, t)| !t.is_empty()))
    }

    /// Notes a DNS datagram fed for `query` from `from`: its AD bit (raw bytes may carry one
    /// too) counts, for the question of the query, only when it came from the server asked.
    fn fed(&mut self, query: QueryId, from: Option<SocketAddr>, wire: &[u8]) {
        let asked = self.dns_sent.get(&query);
        if wire.get(3).is_some_and(|b| b & 0x20 != 0) && from == asked.map(|q| q.server) {
            let question = asked
                .and_then(|q| Message::from_vec(&q.wire).ok())
                .and_then(|m| m.queries.first().cloned());
            if let Some(q) = question {
                let name = question_key(&q.name().to_ascii());
                self.ad_questions.insert((name, q.query_type()));
            }
        }
        if let Some(from) = from {
            self.dns_fed.push((query, from, wire.to_vec()));
        }
    }
}

/// A DNS query a machine sent ([`Action::SendDns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentQuery {
    /// The resolver.
    pub server: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The query message.
    pub wire: Vec<u8>,
}

/// How [`drive_with`] paces its inputs.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Deadlines fed after the last step before the machine must be `Done`, besides two per
    /// query or connection still in flight then (each may time out on its own deadline, and
    /// a query may be retried once: `dns_attempts` is 2 in the harness's configurations).
    pub deadlines: usize,
    /// Never feed an input after the pending deadline without feeding `Timeout` first (a
    /// runtime with a punctual clock): a step's time is capped at the deadline.
    pub on_time: bool,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            deadlines: 64,
            on_time: false,
        }
    }
}

/// `bytes` from the peer of `conn`, when the fuzzer's pick named an open connection.
fn received(
    check: &mut dyn Machine,
    now: Timestamp,
    conn: Option<ConnId>,
    bytes: &[u8],
) -> Result<(), UsageError> {
    match conn {
        Some(conn) => check.handle_input(now, Input::Received { conn, bytes }),
        None => Ok(()),
    }
}

/// Feeds `ops` to `check` (started at `now`), then deadlines until `Done`: 64, plus two per
/// query or connection in flight or started since (see [`drive_with`]), answering questions
/// with records named from `names`, from the server each query went to.
pub fn drive(
    check: &mut dyn Machine,
    now: Timestamp,
    ops: Vec<FuzzOp>,
    names: &[&str],
) -> (Box<Report>, Observed) {
    drive_with(check, now, ops, names, Pace::default())
}

/// [`drive`] with its pace. Panics on a `UsageError` for an issued id, on a `poll_output`
/// that never settles, and when no `Done` comes within `pace.deadlines` deadlines past the
/// last step.
pub fn drive_with(
    check: &mut dyn Machine,
    mut now: Timestamp,
    ops: Vec<FuzzOp>,
    names: &[&str],
    pace: Pace,
) -> (Box<Report>, Observed) {
    let mut obs = Observed::default();
    let mut established: BTreeMap<ConnId, bool> = BTreeMap::new();
    let drain = |check: &mut dyn Machine,
                 now: Timestamp,
                 obs: &mut Observed,
                 established: &BTreeMap<ConnId, bool>|
     -> Output {
        for _ in 0..100_000 {
            match check.poll_output(now) {
                Output::Action(action) => obs.saw(action, established),
                other => return other,
            }
        }
        panic!("poll_output never reached Timeout or Done");
    };
    let pick = |n: u8, len: usize| usize::from(n) % len.max(1);
    // Bit 7 of an answer's pick sends it from another address than the server asked (issue
    // 7, RFC 5452 sec. 9.1): its AD bit must never count, so the oracle below ignores it too.
    let foreign = SocketAddr::from(([127, 0, 0, 2], 53));
    let answer = |check: &mut dyn Machine,
                  obs: &mut Observed,
                  now: Timestamp,
                  query: QueryId,
                  n: u8,
                  wire: &[u8]| {
        let asked = obs.dns_sent.get(&query).map(|q| q.server);
        let from = if n & 0x80 != 0 { Some(foreign) } else { asked };
        obs.fed(query, from, wire);
        check.handle_input(now, Input::DnsAnswer { query, from, wire })
    };
    let mut out = drain(check, now, &mut obs, &established);
    let mut ops = ops.into_iter();
    // Past the last step, deadlines only: `pace.deadlines`, two per query or connection then
    // in flight (its own timeout, one retry), and two per query and one per connection the
    // machine starts afterwards (a lookup that waited for a free exchange, the next address,
    // an observation handshake), never more than `MAX_DEADLINES_AFTER_STEPS` in all, so that
    // a machine that keeps starting work and never ends still fails.
    let mut past_steps: Option<(usize, usize)> = None;
    let mut used = 0;
    let mut allowed = 0;
    while let Output::Timeout(deadline) = out {
        let op = ops.next();
        if op.is_none() {
            let (in_flight, started) =
                *past_steps.get_or_insert((obs.in_flight.len(), obs.started));
            allowed = (pace.deadlines + 2 * in_flight + (obs.started - started))
                .min(MAX_DEADLINES_AFTER_STEPS);
            if used == allowed {
                break;
            }
            used += 1;
        }
        now = now.saturating_add(Duration::from_millis(3));
        if pace.on_time {
            now = now.min(deadline);
        }
        let qids: Vec<QueryId> = obs.dns_sent.keys().copied().collect();
        let q = |n: u8| qids.get(pick(n, qids.len())).copied();
        let conns: Vec<ConnId> = obs.conns.iter().map(|(id, _)| *id).collect();
        let c = |n: u8| conns.get(pick(n, conns.len())).copied();
        let conn_input = |n: u8, input: fn(ConnId) -> Input<'static>| c(n).map(input);
        let result = match op {
            None | Some(FuzzOp::Timeout) => {
                now = now.max(deadline);
                check.handle_input(now, Input::Timeout)
            }
            Some(FuzzOp::Answer {
                pick,
                ad,
                rcode,
                tc,
                records,
            }) => match q(pick) {
                Some(id) => {
                    let wire = obs
                        .dns_sent
                        .get(&id)
                        .and_then(|w| encode_answer(names, &w.wire, ad, rcode, tc, &records))
                        .unwrap_or_default();
                    answer(check, &mut obs, now, id, pick, &wire)
                }
                None => Ok(()),
            },
            Some(FuzzOp::RawAnswer(n, bytes)) => match q(n) {
                Some(id) => answer(check, &mut obs, now, id, n, &bytes),
                None => Ok(()),
            },
            Some(FuzzOp::DnsFailed(n)) => match q(n) {
                Some(id) => check.handle_input(
                    now,
                    Input::DnsFailed {
                        query: id,
                        error: NetError::Refused,
                    },
                ),
                None => Ok(()),
            },
            Some(FuzzOp::Connected(n)) => match conn_input(n, |conn| Input::Connected { conn }) {
                Some(input) => check.handle_input(now, input),
                None => Ok(()),
            },
            Some(FuzzOp::ConnectQueued(n)) => {
                match conn_input(n, |conn| Input::ConnectQueued { conn }) {
                    Some(input) => check.handle_input(now, input),
                    None => Ok(()),
                }
            }
            Some(FuzzOp::Connecting(n)) => match conn_input(n, |conn| Input::Connecting { conn }) {
                Some(input) => check.handle_input(now, input),
                None => Ok(()),
            },
            Some(FuzzOp::ConnectFailed(n)) => match c(n) {
                Some(conn) => {
                    // A failed connection is over without a Close from the machine.
                    obs.in_flight.remove(&InFlight::Conn(conn));
                    check.handle_input(
                        now,
                        Input::ConnectFailed {
                            conn,
                            error: NetError::Unreachable,
                        },
                    )
                }
                None => Ok(()),
            },
            Some(FuzzOp::Received(n, bytes)) => received(&mut *check, now, c(n), &bytes),
            Some(FuzzOp::Reply(n, r)) => {
                let reply = REPLIES[usize::from(r) % REPLIES.len()];
                received(&mut *check, now, c(n), reply)
            }
            Some(FuzzOp::TlsEstablished(n, chain)) => match c(n) {
                Some(conn) => {
                    // Only a handshake the machine asked for (StartTls) counts: a TlsEstablished
                    // out of the blue must be ignored by the session, and what it sends then
                    // is still plaintext, not "after a handshake".
                    if obs.snis.contains_key(&conn) {
                        established.insert(conn, true);
                    }
                    let info = TlsInfo {
                        version: "TLSv1.3".into(),
                        cipher: "TLS13_AES_128_GCM_SHA256".into(),
                        sni: None,
                        chain: chain.into_iter().take(4).collect(),
                    };
                    check.handle_input(now, Input::TlsEstablished { conn, info })
                }
                None => Ok(()),
            },
            Some(FuzzOp::TlsFailed(n, unsupported)) => match c(n) {
                Some(conn) => {
                    let kind = if unsupported {
                        TlsFailureKind::ClientUnsupported
                    } else {
                        TlsFailureKind::HandshakeFailed
                    };
                    check.handle_input(
                        now,
                        Input::TlsFailed {
                            conn,
                            error: TlsFailure {
                                kind,
                                error: crate::tls::TlsError::Closed,
                            },
                        },
                    )
                }
                None => Ok(()),
            },
            Some(FuzzOp::Closed(n)) => match c(n) {
                Some(conn) => check.handle_input(now, Input::Closed { conn }),
                None => Ok(()),
            },
        };
        assert!(result.is_ok(), "inputs for issued ids gave {result:?}");
        out = drain(check, now, &mut obs, &established);
    }
    let Output::Done(report) = out else {
        panic!(
            "no Done after {allowed} deadlines past the last input ({} and two per query or \
             connection then in flight or started since, at most {MAX_DEADLINES_AFTER_STEPS})",
            pace.deadlines
        );
    };
    (report, obs)
}

/// What a recorded check saw, as [`drive`] would have observed it, from its transcript (the
/// checks of a scan are driven by the scan, not by [`drive`]).
pub fn observed_of(t: &Transcript) -> Observed {
    let mut o = Observed::default();
    let mut established: BTreeMap<ConnId, bool> = BTreeMap::new();
    for event in &t.events {
        match event {
            Event::Output {
                output: Output::Action(action),
                ..
            } => o.saw(action.clone(), &established),
            Event::Input { input, .. } => match input {
                OwnedInput::DnsAnswer { query, from, wire } => {
                    let from = from.or_else(|| o.dns_sent.get(query).map(|q| q.server));
                    o.fed(*query, from, wire);
                }
                // As in [`drive`]: only a handshake the machine asked for counts.
                OwnedInput::TlsEstablished { conn, .. } if o.snis.contains_key(conn) => {
                    established.insert(*conn, true);
                }
                _ => {}
            },
            Event::Output { .. } => {}
        }
    }
    o
}

/// The commands of a login (IMAP LOGIN and AUTHENTICATE, RFC 9051 sec. 6.2; POP3 USER,
/// PASS, APOP and AUTH, RFC 1939 and RFC 5034; SMTP AUTH, RFC 4954) and of a mail
/// transaction (RFC 5321 sec. 3.3, BDAT of RFC 3030).
const LOGIN_OR_TRANSACTION: [&str; 10] = [
    "LOGIN",
    "AUTHENTICATE",
    "AUTH",
    "USER",
    "PASS",
    "APOP",
    "MAIL",
    "RCPT",
    "DATA",
    "BDAT",
];

/// Whether `line` (one line sent, without its line end) is a login or mail-transaction
/// command: its first word, or its second after an IMAP tag.
pub fn is_login_or_transaction(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line).to_ascii_uppercase();
    let words: Vec<&str> = text.split_ascii_whitespace().take(2).collect();
    words.iter().any(|w| LOGIN_OR_TRANSACTION.contains(w))
}

/// Panics when a check wrote a login or mail-transaction command on any line of any write,
/// a line split across writes included (issue 16: nothing of a login or a transaction
/// before an accepted trust decision; a check sends neither, ever).
pub fn assert_no_login_or_transaction(observed: &Observed) {
    for (conn, _, line) in observed.commands() {
        assert!(
            !is_login_or_transaction(line),
            "a check sent a login or transaction command on {conn}: {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// Panics when `security` (of `what` in `report`) is `Secure` without justification
/// ([`secure_unjustified`]); `questions`: those an AD answer to which justifies it.
pub fn assert_secure_justified(
    report: &Report,
    observed: &Observed,
    what: &str,
    security: Security,
    questions: &[(String, RecordType)],
) {
    if security == Security::Secure {
        if let Some(why) = secure_unjustified(report, &observed.ad_questions, questions) {
            panic!("{what}: {why}");
        }
    }
}

/// Whether a `Secure` status in `report` is justified (the cross-target oracle of issue
/// 16): under `--dnssec` trust-ad only with a resolver that passed the validating-resolver
/// probe and an answer with AD=1, from the server asked, to one of `questions` (RFC 7672
/// sec. 2.1.1, RFC 5452 sec. 9.1), `ad_questions` being those such answers were fed for
/// ([`Observed::ad_questions`]); in validate mode never, because the harnesses keep the
/// IANA root anchors and no fuzzed answer carries a signature chain from them (RFC 4035
/// sec. 5). Returns why not.
pub fn secure_unjustified(
    report: &Report,
    ad_questions: &BTreeSet<(String, RecordType)>,
    questions: &[(String, RecordType)],
) -> Option<String> {
    if report.resolver.mode == "validate" {
        return Some("secure in validate mode without a chain from the root anchors".into());
    }
    if !report.resolver.validating {
        return Some("secure without a resolver that passed the validating-resolver probe".into());
    }
    let justified = questions
        .iter()
        .any(|(name, rtype)| ad_questions.contains(&(question_key(name), *rtype)));
    if !justified {
        return Some(format!(
            "secure without an AD answer from the server asked to any of {questions:?}"
        ));
    }
    None
}

/// Panics when a status of the MX lookup of `report` (SMTP check, delivery) is `Secure`
/// without an AD answer to the MX question of the mail domain (RFC 7672 sec. 2.2.1).
pub fn assert_mx_justified(report: &Report, observed: &Observed) {
    if let Some(mx) = &report.mx {
        let question = [(report.domain.clone(), RecordType::MX)];
        assert_secure_justified(report, observed, "MX", mx.security, &question);
    }
}

/// Panics when a status of `host`'s lookups in `report` is `Secure` without an AD answer to
/// its question: the TLSA RRset at `_<port>._tcp.` of the CNAME-expanded name, the TLSA
/// base domain or the name (RFC 7672 sec. 2.2.2: expanded first, then the original), and
/// the A or AAAA RRset at the name or the expanded name.
pub fn assert_host_justified(report: &Report, observed: &Observed, host: &HostReport, port: u16) {
    let names: Vec<&String> = [&host.expanded_name, &host.tlsa_base]
        .into_iter()
        .flatten()
        .chain([&host.name])
        .collect();
    let questions = |rtype: RecordType, tlsa: bool| -> Vec<(String, RecordType)> {
        let name = |n: &String| match tlsa {
            true => format!("_{port}._tcp.{n}"),
            false => n.clone(),
        };
        names.iter().map(|n| (name(n), rtype)).collect()
    };
    if let Some(t) = &host.tlsa {
        let q = questions(RecordType::TLSA, true);
        assert_secure_justified(report, observed, "TLSA", t.security, &q);
    }
    let AddressSecurity { a, aaaa } = &host.address_security;
    for (what, status, rtype) in [("A", a, RecordType::A), ("AAAA", aaaa, RecordType::AAAA)] {
        if let Some(status) = status {
            assert_secure_justified(report, observed, what, *status, &questions(rtype, false));
        }
    }
}

/// Panics unless every connection the driver saw opened (each `Connect` action) is one the
/// report lists among `hosts`' connections: per address, no more observed connections than
/// reported ones, so that the oracles reading the report cover every real connection.
pub fn assert_connects_reported<'a>(
    observed: &Observed,
    hosts: impl IntoIterator<Item = &'a HostReport>,
) {
    let mut reported: BTreeMap<String, usize> = BTreeMap::new();
    for conn in hosts.into_iter().flat_map(|h| &h.connections) {
        *reported.entry(conn.address.clone()).or_default() += 1;
    }
    for (conn, addr) in &observed.conns {
        let left = reported.entry(addr.to_string()).or_default();
        assert!(
            *left > 0,
            "connection {conn} to {addr} missing from the report"
        );
        *left -= 1;
    }
}

/// Panics when, at some address, more of the connections the driver saw sent bytes after
/// their handshake than `allowed` lists there: the report's connections whose trust decision
/// let them go on after the handshake. Counted per address, not matched to one connection,
/// since two hosts of one check may share an address (two MX names on one server, where one
/// host's opportunistic connection may talk after its handshake and the other's refused DANE
/// connection may not).
pub fn assert_sent_after_tls_allowed<'a>(
    observed: &Observed,
    allowed: impl IntoIterator<Item = &'a ConnectionReport>,
) {
    let mut room: BTreeMap<String, usize> = BTreeMap::new();
    for conn in allowed {
        *room.entry(conn.address.clone()).or_default() += 1;
    }
    for (id, addr) in &observed.conns {
        if !observed.sent_after_tls.contains_key(id) {
            continue;
        }
        let left = room.entry(addr.to_string()).or_default();
        assert!(
            *left > 0,
            "bytes sent after an unauthenticated handshake: connection {id} to {addr}, beyond \
             the connections the report lets go on there"
        );
        *left -= 1;
    }
}

/// Panics when the driver saw a connection opened to an address of a host of policy `skip`
/// among `hosts` (its MX, address or TLSA lookup failed or was bogus: RFC 7672 sec. 2.2,
/// never a connection in clear there) that no other host lists.
pub fn assert_no_connect_to_skipped<'a>(
    observed: &Observed,
    hosts: impl IntoIterator<Item = &'a HostReport> + Clone,
) {
    let listed = |skipped: bool, ip: &str| {
        hosts.clone().into_iter().any(|h| {
            (h.policy == HostPolicy::Skip) == skipped && h.addresses.iter().any(|a| a == ip)
        })
    };
    for (conn, addr) in &observed.conns {
        let ip = addr.ip().to_string();
        assert!(
            !listed(true, &ip) || listed(false, &ip),
            "connection {conn} to {addr}, an address of a host whose lookups failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ConnectionReport, ConnectionVerdict, HostVerdict, MxReport, TlsaReport};

    #[test]
    fn logins_and_transactions_are_recognised() {
        let commands = "a2 LOGIN user pw|a3 AUTHENTICATE P|AUTH PLAIN AGZvb|USER fred|PASS x|\
                        MAIL FROM:<x@exa|RCPT TO:<a@examp|DATA|BDAT 12 LAST";
        let others = "EHLO daneel|STARTTLS|QUIT|a1 CAPABILITY|a2 STARTTLS|a3 LOGOUT|CAPA|STLS";
        for line in commands.split('|') {
            assert!(is_login_or_transaction(line.as_bytes()), "{line}");
        }
        for line in others.split('|') {
            assert!(!is_login_or_transaction(line.as_bytes()), "{line}");
        }
    }

    /// What the driver sees of `writes` on connection 0, none after a handshake.
    fn sent(writes: &[&[u8]]) -> Observed {
        let mut observed = Observed::default();
        for bytes in writes {
            let send = Action::Send {
                conn: ConnId(0),
                bytes: bytes.to_vec(),
            };
            observed.saw(send, &BTreeMap::new());
        }
        observed
    }

    fn logs_in(writes: &[&[u8]]) -> bool {
        let observed = sent(writes);
        std::panic::catch_unwind(|| assert_no_login_or_transaction(&observed)).is_err()
    }

    #[test]
    fn every_line_of_every_write_is_examined() {
        assert!(logs_in(&[b"a2 LOGIN user pw\r\n"]));
        // A command after an innocent one in the same write, terminated or not.
        assert!(logs_in(&[b"EHLO x\r\nMAIL FROM:<a@b>\r\n"]));
        assert!(logs_in(&[b"EHLO x\r\nMAIL FRO"]));
        assert!(logs_in(&[b"QUIT\r\nAUTH PLAIN"]));
        // Past the first 16 bytes, and split across writes.
        assert!(logs_in(&[b"EHLO a.long.client.name\r\nRCPT TO:<a@b>\r\n"]));
        assert!(logs_in(&[b"EHLO x\r\nMA", b"IL FROM:<a@b>\r\n"]));
        assert!(logs_in(&[b"a1 CAPABILITY\r\na2 LOG", b"IN u p\r\n"]));
        assert!(!logs_in(&[b"EHLO x\r\nSTART", b"TLS\r\nQUIT\r\n"]));
        let observed = sent(&[b"EHLO x\r\nMA", b"IL FROM:<a@b>\r\nQU"]);
        let lines: Vec<&[u8]> = observed.commands().map(|(_, _, l)| l).collect();
        assert_eq!(lines, [&b"EHLO x"[..], b"MAIL FROM:<a@b>", b"QU"]);
    }

    fn report(mode: &str, validating: bool) -> Report {
        let mut report = Report::abandoned(Timestamp::from_unix_secs(0));
        report.resolver.mode = mode.into();
        report.resolver.validating = validating;
        report.domain = "Example.COM".into();
        report
    }

    const RESOLVER: SocketAddr = SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
        53,
    );

    /// What the driver sees when the machine asks `name` `rtype` as query `id` and gets an
    /// answer with AD=1 from `from`.
    fn ad_answer(
        observed: &mut Observed,
        id: u16,
        name: &str,
        rtype: RecordType,
        from: SocketAddr,
    ) {
        let mut query = Message::new(id, MessageType::Query, OpCode::Query);
        let Ok(qname) = Name::from_ascii(name) else {
            panic!("{name}");
        };
        query.add_query(Query::query(qname, rtype));
        let Ok(wire) = query.to_vec() else {
            panic!("unencodable");
        };
        let send = Action::SendDns {
            query: QueryId(u32::from(id)),
            server: RESOLVER,
            transport: Transport::Udp,
            wire: wire.clone(),
        };
        observed.saw(send, &BTreeMap::new());
        let Some(answer) = encode_answer(&["."], &wire, true, 0, false, &[]) else {
            panic!("no answer");
        };
        observed.fed(QueryId(u32::from(id)), Some(from), &answer);
    }

    fn host(name: &str, security: Security) -> HostReport {
        HostReport {
            name: name.into(),
            preference: Some(10),
            port: None,
            tlsa_base: None,
            expanded_name: None,
            address_security: AddressSecurity {
                a: Some(Security::Insecure),
                aaaa: None,
            },
            addresses: vec!["192.0.2.1".into()],
            tlsa: Some(TlsaReport {
                name: format!("_25._tcp.{name}"),
                security,
                ttl: None,
                rrsig_expires: None,
                records: Vec::new(),
                usable: false,
            }),
            reference_ids: Vec::new(),
            policy: HostPolicy::Opportunistic,
            verdict: HostVerdict::Untrusted,
            reason: None,
            failed_lookup: None,
            tlsrpt: None,
            connections: vec![ConnectionReport {
                address: "192.0.2.1:25".into(),
                starttls: false,
                tls: None,
                certificate: None,
                verdict: ConnectionVerdict::Untrusted,
                reason: None,
                matched: None,
                authenticated_by: None,
                authenticated_name: None,
                tlsrpt: None,
            }],
        }
    }

    fn unjustified(report: &Report, observed: &Observed) -> bool {
        std::panic::catch_unwind(|| {
            assert_mx_justified(report, observed);
            for host in &report.hosts {
                assert_host_justified(report, observed, host, 25);
            }
        })
        .is_err()
    }

    fn set_tlsa(report: &mut Report, security: Security) {
        if let Some(t) = report.hosts.first_mut().and_then(|h| h.tlsa.as_mut()) {
            t.security = security;
        }
    }

    #[test]
    fn secure_needs_an_ad_answer_to_its_own_question() {
        let mut report = report("ad-bit", true);
        report.mx = Some(MxReport {
            security: Security::Secure,
            hosts: vec!["10 mx1.example.com".into()],
            implicit: false,
            cnames: Vec::new(),
        });
        report.hosts.push(host("mx1.example.com", Security::Secure));
        // The probe passed (AD on the root DNSKEY), nothing else carried AD: the reviewer's
        // case, which `validating && any_ad` let through.
        let mut observed = Observed::default();
        ad_answer(&mut observed, 1, ".", RecordType::DNSKEY, RESOLVER);
        assert!(unjustified(&report, &observed));
        // AD on the MX answer (question in another case): the MX is justified, the TLSA not.
        ad_answer(&mut observed, 2, "eXample.com.", RecordType::MX, RESOLVER);
        set_tlsa(&mut report, Security::Insecure);
        assert!(!unjustified(&report, &observed));
        set_tlsa(&mut report, Security::Secure);
        assert!(unjustified(&report, &observed));
        // AD on a TLSA answer from another server than the one asked never counts.
        let foreign = SocketAddr::from(([127, 0, 0, 2], 53));
        ad_answer(
            &mut observed,
            3,
            "_25._tcp.mx1.example.com.",
            RecordType::TLSA,
            foreign,
        );
        assert!(unjustified(&report, &observed));
        // Nor on another port's TLSA question, nor on another type at the name.
        ad_answer(
            &mut observed,
            4,
            "_587._tcp.mx1.example.com.",
            RecordType::TLSA,
            RESOLVER,
        );
        ad_answer(
            &mut observed,
            5,
            "_25._tcp.mx1.example.com.",
            RecordType::TXT,
            RESOLVER,
        );
        assert!(unjustified(&report, &observed));
        // At the CNAME-expanded name (RFC 7672 sec. 2.2.2), it does.
        report.hosts[0].expanded_name = Some("mx.example.net".into());
        ad_answer(
            &mut observed,
            6,
            "_25._tcp.mx.example.net.",
            RecordType::TLSA,
            RESOLVER,
        );
        assert!(!unjustified(&report, &observed));
        // A secure address RRset needs its own.
        report.hosts[0].address_security.aaaa = Some(Security::Secure);
        assert!(unjustified(&report, &observed));
        ad_answer(
            &mut observed,
            7,
            "mx.example.net.",
            RecordType::AAAA,
            RESOLVER,
        );
        assert!(!unjustified(&report, &observed));
        // Without a probed resolver, or in validate mode, nothing is justified.
        report.resolver.validating = false;
        assert!(unjustified(&report, &observed));
        report.resolver.validating = true;
        report.resolver.mode = "validate".into();
        assert!(unjustified(&report, &observed));
        // Not secure: nothing to justify.
        report.mx = None;
        report.hosts.clear();
        assert!(!unjustified(&report, &Observed::default()));
    }

    #[test]
    #[should_panic(expected = "TLSA: secure without an AD answer")]
    fn a_secure_tlsa_without_its_ad_answer_fails() {
        let report = report("ad-bit", true);
        let mut observed = Observed::default();
        ad_answer(&mut observed, 1, ".", RecordType::DNSKEY, RESOLVER);
        ad_answer(&mut observed, 2, "example.com.", RecordType::MX, RESOLVER);
        let host = host("mx1.example.com", Security::Secure);
        assert_host_justified(&report, &observed, &host, 25);
    }

    #[test]
    fn bytes_after_a_handshake_are_counted_per_address() {
        // The scan target's finding: two MX hosts on one address; the opportunistic host's
        // connection talks after its handshake, the DANE host's refused one does not.
        let addr = SocketAddr::from(([192, 0, 2, 1], 25));
        let mut observed = Observed::default();
        for conn in [ConnId(0), ConnId(1)] {
            observed.saw(Action::Connect { conn, addr }, &BTreeMap::new());
        }
        let after = BTreeMap::from([(ConnId(0), true)]);
        let ehlo = Action::Send {
            conn: ConnId(0),
            bytes: b"EHLO a\r\n".to_vec(),
        };
        observed.saw(ehlo, &after);
        let opportunistic = host("mx1.example.com", Security::Insecure);
        assert_sent_after_tls_allowed(&observed, &opportunistic.connections);
        // Without a connection there that may go on, the bytes are a leak...
        let caught = std::panic::catch_unwind(|| assert_sent_after_tls_allowed(&observed, []));
        assert!(
            caught.is_err(),
            "bytes after a refused handshake went unnoticed"
        );
        // ...and so are a second connection's, beyond the one allowed.
        let both = BTreeMap::from([(ConnId(0), true), (ConnId(1), true)]);
        let leak = Action::Send {
            conn: ConnId(1),
            bytes: b"EHLO a\r\n".to_vec(),
        };
        observed.saw(leak, &both);
        let caught = std::panic::catch_unwind(|| {
            assert_sent_after_tls_allowed(&observed, &opportunistic.connections)
        });
        assert!(
            caught.is_err(),
            "a second connection's bytes went unnoticed"
        );
    }

    #[test]
    fn every_observed_connection_must_be_reported() {
        let mut observed = Observed::default();
        let addr = SocketAddr::from(([192, 0, 2, 1], 25));
        let connect = Action::Connect {
            conn: ConnId(0),
            addr,
        };
        observed.saw(connect, &BTreeMap::new());
        let mut hosts = vec![host("mx1.example.com", Security::Insecure)];
        assert_connects_reported(&observed, &hosts);
        assert_no_connect_to_skipped(&observed, &hosts);
        // The report loses the connection.
        hosts[0].connections.clear();
        let caught = std::panic::catch_unwind(|| assert_connects_reported(&observed, &hosts));
        assert!(caught.is_err(), "an unreported connection went unnoticed");
        // The host is skipped: no connection may go to its address...
        hosts[0].policy = HostPolicy::Skip;
        let caught = std::panic::catch_unwind(|| assert_no_connect_to_skipped(&observed, &hosts));
        assert!(
            caught.is_err(),
            "a connection to a skipped host went unnoticed"
        );
        // ...unless another host, not skipped, has the same address.
        hosts.push(host("mx2.example.net", Security::Insecure));
        assert_no_connect_to_skipped(&observed, &hosts);
        // Two connections to one address need two reported.
        let again = Action::Connect {
            conn: ConnId(1),
            addr,
        };
        observed.saw(again, &BTreeMap::new());
        let caught = std::panic::catch_unwind(|| assert_connects_reported(&observed, &hosts));
        assert!(caught.is_err(), "a second connection went unnoticed");
    }
}

#[cfg(test)]
mod bound_tests {
    //! The bound on deadlines after the last step fails machines that never finish, even
    //! those that keep starting work.
    use super::*;
    use crate::machine::{Transport, UsageError};

    /// A machine that never ends: at each deadline it ends its query and, when `respawn`,
    /// sends a new one (always busy, never done).
    struct NeverDone {
        next: u32,
        pending: Vec<Action>,
        respawn: bool,
    }

    impl NeverDone {
        fn send(&mut self) {
            self.pending.push(Action::SendDns {
                query: QueryId(self.next),
                server: SocketAddr::from(([127, 0, 0, 1], 53)),
                transport: Transport::Udp,
                wire: vec![0; 12],
            });
            self.next += 1;
        }
    }

    impl Machine for NeverDone {
        fn handle_input(&mut self, _now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
            if matches!(input, Input::Timeout) && self.next > 0 {
                self.pending.push(Action::EndDns {
                    query: QueryId(self.next - 1),
                });
                if self.respawn {
                    self.send();
                }
            }
            Ok(())
        }

        fn poll_output(&mut self, now: Timestamp) -> Output {
            match self.pending.pop() {
                Some(action) => Output::Action(action),
                None => Output::Timeout(now.saturating_add(Duration::from_secs(1))),
            }
        }
    }

    fn drive_never_done(respawn: bool) -> String {
        let mut machine = NeverDone {
            next: 0,
            pending: Vec::new(),
            respawn,
        };
        machine.send();
        let now = Timestamp::from_unix_secs(1_800_000_000);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drive(&mut machine, now, vec![FuzzOp::Timeout], &[])
        }));
        let Err(panic) = caught else {
            panic!("a machine that never ends passed the bound")
        };
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn a_machine_that_never_ends_fails_the_bound() {
        let message = drive_never_done(false);
        assert!(
            message.starts_with("no Done after 64 deadlines"),
            "{message}"
        );
    }

    #[test]
    fn a_machine_that_keeps_starting_work_fails_at_the_ceiling() {
        let message = drive_never_done(true);
        let expected = format!("no Done after {MAX_DEADLINES_AFTER_STEPS} deadlines");
        assert!(message.starts_with(&expected), "{message}");
    }
}
