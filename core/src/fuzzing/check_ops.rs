//! The steps of the whole-check fuzz targets (`smtp_check`, `mua_check`), and the driver
//! that feeds them to any check [`Machine`]: well-formed answers to the pending queries built
//! from the fuzzer's choices, raw bytes, transport failures, connection events, canned
//! replies, chains, timeouts. What the driver saw (which answers carried AD from the
//! resolver, which connections were opened, which sent bytes after a handshake) goes to the
//! target's oracle.

use std::collections::BTreeMap;
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
use crate::report::Report;
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
#[derive(Default)]
pub struct Observed {
    /// Some answer from the server its query went to carried AD=1 (answers from elsewhere
    /// never count, RFC 5452 sec. 9.1).
    pub any_ad: bool,
    /// Every connection the check opened, in order, with its address.
    pub conns: Vec<(ConnId, SocketAddr)>,
    /// Connections that sent bytes after their handshake completed.
    pub sent_after_tls: BTreeMap<ConnId, bool>,
    /// The SNI each connection asked for when it started TLS (RFC 6066 sec. 3).
    pub snis: BTreeMap<ConnId, Option<String>>,
    /// Every `Send`, in order: the connection, whether its handshake had completed, and
    /// the first bytes (at most 16).
    pub sends: Vec<(ConnId, bool, Vec<u8>)>,
    /// Every DNS query the machine sent: its server, transport and message.
    pub dns_sent: BTreeMap<QueryId, SentQuery>,
    /// Every DNS datagram the driver fed, in order: the query, the source address, the bytes.
    pub dns_fed: Vec<(QueryId, SocketAddr, Vec<u8>)>,
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
            }
            Action::Connect { conn, addr } => self.conns.push((conn, addr)),
            Action::StartTls { conn, sni } => {
                self.snis.insert(conn, sni);
            }
            Action::Send { conn, bytes } => {
                let after = established.contains_key(&conn);
                if after {
                    self.sent_after_tls.insert(conn, true);
                }
                let head = bytes.iter().copied().take(16).collect();
                self.sends.push((conn, after, head));
            }
            Action::Close { .. } | Action::EndDns { .. } => {}
        }
    }

    /// Notes a DNS datagram fed for `query` from `from`: its AD bit (raw bytes may carry one
    /// too) counts only when it came from the server asked.
    fn fed(&mut self, query: QueryId, from: Option<SocketAddr>, wire: &[u8]) {
        let asked = self.dns_sent.get(&query).map(|q| q.server);
        if wire.get(3).is_some_and(|b| b & 0x20 != 0) && from == asked {
            self.any_ad = true;
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
    /// Deadlines fed after the last step before the machine must be `Done`.
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

/// Feeds `ops` to `check` (started at `now`), then up to 64 deadlines, answering questions
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
    let mut steps = ops
        .into_iter()
        .map(Some)
        .chain(std::iter::repeat_with(|| None).take(pace.deadlines));
    while let Output::Timeout(deadline) = out {
        let Some(op) = steps.next() else { break };
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
                Some(conn) => check.handle_input(
                    now,
                    Input::ConnectFailed {
                        conn,
                        error: NetError::Unreachable,
                    },
                ),
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
            "no Done after {} deadlines past the last input",
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

/// Whether a write that starts with `head` is a login or mail-transaction command: its first
/// word, or its second after an IMAP tag.
pub fn is_login_or_transaction(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_uppercase();
    let words: Vec<&str> = text.split([' ', '\r', '\n']).take(2).collect();
    words
        .iter()
        .any(|w| LOGIN_OR_TRANSACTION.contains(w) && !w.is_empty())
}

/// Panics when a check wrote a login or mail-transaction command (issue 16: nothing of a
/// login or a transaction before an accepted trust decision; a check sends neither, ever).
pub fn assert_no_login_or_transaction(observed: &Observed) {
    for (conn, _, head) in &observed.sends {
        assert!(
            !is_login_or_transaction(head),
            "a check sent a login or transaction command on {conn}: {:?}",
            String::from_utf8_lossy(head)
        );
    }
}

/// Panics when `security` (of `what` in `report`) is `Secure` without justification
/// ([`secure_unjustified`]).
pub fn assert_secure_justified(report: &Report, any_ad: bool, what: &str, security: Security) {
    if security == Security::Secure {
        if let Some(why) = secure_unjustified(report, any_ad) {
            panic!("{what}: {why}");
        }
    }
}

/// Whether `report`'s `Secure` statuses are justified (the cross-target oracle of issue
/// 16): under `--dnssec` trust-ad only with a resolver that passed the validating-resolver
/// probe and an AD answer from the server asked (RFC 7672 sec. 2.1.1, RFC 5452 sec. 9.1);
/// in validate mode never, because the harnesses keep the IANA root anchors and no fuzzed
/// answer carries a signature chain from them (RFC 4035 sec. 5). Returns why not.
pub fn secure_unjustified(report: &Report, any_ad: bool) -> Option<&'static str> {
    let validate = report.resolver.mode == "validate";
    if validate {
        return Some("secure in validate mode without a chain from the root anchors");
    }
    if !report.resolver.validating {
        return Some("secure without a resolver that passed the validating-resolver probe");
    }
    if !any_ad {
        return Some("secure without any AD answer from the server asked");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_transactions_are_recognised() {
        for head in [
            &b"a2 LOGIN user pw"[..],
            b"a3 AUTHENTICATE P",
            b"AUTH PLAIN AGZvb",
            b"USER fred\r\n",
            b"PASS secret\r\n",
            b"MAIL FROM:<x@exa",
            b"RCPT TO:<a@examp",
            b"DATA\r\n",
            b"BDAT 12 LAST\r\n",
        ] {
            assert!(is_login_or_transaction(head), "{head:?}");
        }
        for head in [
            &b"EHLO daneel\r\n"[..],
            b"STARTTLS\r\n",
            b"QUIT\r\n",
            b"a1 CAPABILITY\r\n",
            b"a2 STARTTLS\r\n",
            b"a3 LOGOUT\r\n",
            b"CAPA\r\n",
            b"STLS\r\n",
        ] {
            assert!(!is_login_or_transaction(head), "{head:?}");
        }
    }

    #[test]
    #[should_panic(expected = "a check sent a login or transaction command")]
    fn a_check_that_logs_in_fails() {
        let mut observed = Observed::default();
        observed.saw(
            Action::Send {
                conn: ConnId(0),
                bytes: b"a2 LOGIN user pw\r\n".to_vec(),
            },
            &BTreeMap::new(),
        );
        assert_no_login_or_transaction(&observed);
    }

    fn report(mode: &str, validating: bool) -> Report {
        let mut report = Report::abandoned(Timestamp::from_unix_secs(0));
        report.resolver.mode = mode.into();
        report.resolver.validating = validating;
        report
    }

    #[test]
    fn secure_is_justified_only_by_ad_from_a_probed_resolver() {
        assert_eq!(secure_unjustified(&report("ad-bit", true), true), None);
        assert!(secure_unjustified(&report("ad-bit", true), false).is_some());
        assert!(secure_unjustified(&report("ad-bit", false), true).is_some());
        // The harnesses' validator keeps the IANA root anchors: nothing fuzzed verifies.
        assert!(secure_unjustified(&report("validate", true), true).is_some());
        // Not secure: nothing to justify.
        assert_secure_justified(&report("validate", false), false, "MX", Security::Insecure);
    }

    #[test]
    #[should_panic(expected = "TLSA: secure in validate mode")]
    fn secure_in_validate_mode_fails() {
        assert_secure_justified(&report("validate", true), true, "TLSA", Security::Secure);
    }
}
