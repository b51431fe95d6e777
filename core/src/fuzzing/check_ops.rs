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

use crate::fuzzing::seed_bytes::SeedBytes;
use crate::machine::{Action, ConnId, Input, Machine, NetError, Output, QueryId, UsageError};
use crate::report::Report;
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsFailureKind, TlsInfo};

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
        const COUNT: u32 = 11;
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
pub struct Observed {
    /// Some answer from the resolver itself carried AD=1 (answers from elsewhere never
    /// count, RFC 5452 sec. 9.1).
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

/// Feeds `ops` to `check` (started at `now`, asking `resolver`), then up to 64 deadlines,
/// answering questions with records named from `names`. Panics on a `UsageError` for an
/// issued id, on a `poll_output` that never settles, and when no `Done` comes.
pub fn drive(
    check: &mut dyn Machine,
    mut now: Timestamp,
    ops: Vec<FuzzOp>,
    names: &[&str],
    resolver: SocketAddr,
) -> (Box<Report>, Observed) {
    let mut queries: BTreeMap<QueryId, Vec<u8>> = BTreeMap::new();
    let mut ad_answers: BTreeMap<QueryId, bool> = BTreeMap::new();
    let mut conns: Vec<(ConnId, SocketAddr)> = Vec::new();
    let mut established: BTreeMap<ConnId, bool> = BTreeMap::new();
    let mut sent_after_tls: BTreeMap<ConnId, bool> = BTreeMap::new();
    let snis: std::cell::RefCell<BTreeMap<ConnId, Option<String>>> = Default::default();
    let sends: std::cell::RefCell<Vec<(ConnId, bool, Vec<u8>)>> = Default::default();
    let drain = |check: &mut dyn Machine,
                 now: Timestamp,
                 queries: &mut BTreeMap<QueryId, Vec<u8>>,
                 conns: &mut Vec<(ConnId, SocketAddr)>,
                 established: &BTreeMap<ConnId, bool>,
                 sent_after_tls: &mut BTreeMap<ConnId, bool>|
     -> Output {
        for _ in 0..10_000 {
            match check.poll_output(now) {
                Output::Action(Action::SendDns { query, wire, .. }) => {
                    queries.insert(query, wire);
                }
                Output::Action(Action::Connect { conn, addr }) => conns.push((conn, addr)),
                Output::Action(Action::StartTls { conn, sni }) => {
                    snis.borrow_mut().insert(conn, sni);
                }
                Output::Action(Action::Send { conn, bytes }) => {
                    let after = established.contains_key(&conn);
                    if after {
                        sent_after_tls.insert(conn, true);
                    }
                    let head = bytes.iter().copied().take(16).collect();
                    sends.borrow_mut().push((conn, after, head));
                }
                Output::Action(_) => {}
                other => return other,
            }
        }
        panic!("poll_output never reached Timeout or Done");
    };
    let pick = |n: u8, len: usize| usize::from(n) % len.max(1);
    // Bit 7 of an answer's pick sends it from another address than the resolver's (issue 7,
    // RFC 5452 sec. 9.1): its AD bit must never count, so the oracle below ignores it too.
    let foreign = SocketAddr::from(([127, 0, 0, 2], 53));
    let source = |n: u8| if n & 0x80 != 0 { foreign } else { resolver };
    // Feeds an answer; the oracle remembers an AD bit (raw bytes may carry one too) only
    // when it came from the resolver.
    let answer = |check: &mut dyn Machine,
                  ad_answers: &mut BTreeMap<QueryId, bool>,
                  now: Timestamp,
                  query: QueryId,
                  from: SocketAddr,
                  wire: &[u8]| {
        if wire.get(3).is_some_and(|b| b & 0x20 != 0) && from == resolver {
            ad_answers.insert(query, true);
        }
        let from = Some(from);
        check.handle_input(now, Input::DnsAnswer { query, from, wire })
    };
    let mut out = drain(
        check,
        now,
        &mut queries,
        &mut conns,
        &established,
        &mut sent_after_tls,
    );
    let mut steps = ops
        .into_iter()
        .map(Some)
        .chain(std::iter::repeat_with(|| None).take(64));
    while let Output::Timeout(deadline) = out {
        let Some(op) = steps.next() else { break };
        now = now.saturating_add(Duration::from_millis(3));
        let qids: Vec<QueryId> = queries.keys().copied().collect();
        let q = |n: u8| qids.get(pick(n, qids.len())).copied();
        let c = |n: u8| conns.get(pick(n, conns.len())).map(|(id, _)| *id);
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
                    let wire = queries
                        .get(&id)
                        .and_then(|w| encode_answer(names, w, ad, rcode, tc, &records))
                        .unwrap_or_default();
                    answer(check, &mut ad_answers, now, id, source(pick), &wire)
                }
                None => Ok(()),
            },
            Some(FuzzOp::RawAnswer(n, bytes)) => match q(n) {
                Some(id) => answer(check, &mut ad_answers, now, id, source(n), &bytes),
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
            Some(FuzzOp::Connected(n)) => match c(n) {
                Some(conn) => check.handle_input(now, Input::Connected { conn }),
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
                    if snis.borrow().contains_key(&conn) {
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
        out = drain(
            check,
            now,
            &mut queries,
            &mut conns,
            &established,
            &mut sent_after_tls,
        );
    }
    let Output::Done(report) = out else {
        panic!("no Done after 64 deadlines past the last input");
    };
    let observed = Observed {
        any_ad: ad_answers.values().any(|ad| *ad),
        conns,
        sent_after_tls,
        snis: snis.into_inner(),
        sends: sends.into_inner(),
    };
    (report, observed)
}
