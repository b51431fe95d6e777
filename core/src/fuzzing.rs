//! Fuzz entry points (not a stable API; feature `__fuzz`). The targets in `../fuzz` are
//! one-liners into these functions, so the harness logic is compiled and type-checked with
//! the library, and the corpora also run as ordinary tests on stable.
//!
//! Every target checks more than "no panic" (STYLE-ANCHORS section 3.9):
//! - `smtp_reply`: bounds and a parse/print round trip, on raw and alphabet-mapped bytes;
//! - `dns_answer`: `Secure` never without AD=1; a peer's bytes never give a `UsageError`;
//! - `smtp_check`: sequences of inputs into [`SmtpCheck`] with well-formed answers to the
//!   pending queries; no `UsageError`, `Done` within a bounded number of deadlines, and the
//!   security invariants of DESIGN.md section 8.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{tlsa, A, AAAA, CNAME, MX, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::check::{CheckConfig, SmtpCheck};
use crate::dns::{DnsClient, DnsConfig, Security};
use crate::machine::{Action, ConnId, Input, Machine, NetError, Output, QueryId};
use crate::report::{ConnectionVerdict, HostPolicy};
use crate::seed::{DetRng, Seed};
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsFailureKind, TlsInfo};

/// `smtp_reply` target: the reply parser on raw and RFC 5321-alphabet bytes.
pub fn smtp_reply(data: &[u8]) {
    crate::smtp::reply::fuzz_reply_parser(data);
}

/// `smtp_session` target: sequences of inputs into one SMTP session.
pub fn smtp_session(data: &[u8]) {
    crate::smtp::session::fuzz_session(data);
}

/// `dns_answer` target: arbitrary bytes as the answer to a pending query. The first byte
/// chooses whether the harness patches in the query's id and question, so the fuzzer gets
/// past the checks that reject spoofed answers.
pub fn dns_answer(data: &[u8]) {
    let server = SocketAddr::from(([127, 0, 0, 1], 53));
    let mut client = DnsClient::new(DnsConfig::new(vec![server]), DetRng::new(Seed(7), 0));
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let Ok(qname) = Name::from_ascii("_25._tcp.mx.example.com.") else {
        return;
    };
    let _lookup = client.lookup(now, &qname, RecordType::TLSA);
    let Some(Action::SendDns {
        query, wire: qwire, ..
    }) = client.poll_action()
    else {
        panic!("a lookup must send a query");
    };
    let (mode, body) = data.split_first().unwrap_or((&0, &[]));
    let mut answer = body.to_vec();
    if mode & 1 == 1 && answer.len() >= 12 && qwire.len() >= 12 {
        // Same id, QR=1, opcode QUERY, and the query's question section spliced in.
        answer[..2].copy_from_slice(&qwire[..2]);
        answer[2] = (answer[2] | 0x80) & 0x87;
        let question_end = question_end(&qwire).unwrap_or(qwire.len());
        let mut spliced = answer[..12].to_vec();
        spliced[4..6].copy_from_slice(&[0, 1]);
        spliced.extend_from_slice(&qwire[12..question_end]);
        spliced.extend_from_slice(&answer[12..]);
        answer = spliced;
    }
    let ad = answer.len() > 3 && answer[3] & 0x20 != 0;
    assert!(
        client.handle_answer(now, query, None, &answer).is_ok(),
        "peer bytes gave a UsageError"
    );
    for _ in 0..16 {
        while let Some(result) = client.poll_result() {
            if let (_, Ok(a)) = result {
                assert!(a.security != Security::Secure || ad, "Secure without AD");
            }
        }
        while client.poll_action().is_some() {}
        match client.next_deadline() {
            Some(d) => client.handle_timeout(d),
            None => break,
        }
    }
}

/// Offset just past the question section of a query we built (one question).
fn question_end(wire: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = usize::from(*wire.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        i += len;
    }
    Some(i + 4)
}

/// The names the `smtp_check` fuzzer can use in its records.
const NAMES: [&str; 6] = [
    "example.com.",
    "mx1.example.com.",
    "mx2.example.net.",
    "alias.example.com.",
    ".",
    "tlsa.example.org.",
];

/// One record the fuzzer asks to put in an answer.
#[derive(Arbitrary, Debug)]
pub enum FuzzRecord {
    /// An MX record.
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

/// Builds a well-formed answer to `query` (a message we sent).
fn encode_answer(
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
        let name = |i: u8| Name::from_ascii(NAMES[usize::from(i) % NAMES.len()]).ok();
        let data = match r {
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

/// `smtp_check` target: arbitrary sequences of inputs into an [`SmtpCheck`].
pub fn smtp_check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let destination = match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => "example.com",
        1 => "[mx1.example.com]",
        2 => "[mx1.example.com]:587",
        _ => "[192.0.2.1]",
    };
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let resolver = SocketAddr::from(([127, 0, 0, 1], 53));
    let mut config = CheckConfig::new(destination, vec![resolver]);
    config.dns_attempts = 2;
    let mut now = Timestamp::from_unix_secs(1_800_000_000);
    let Ok(mut check) = SmtpCheck::new(config, Seed(1), now) else {
        panic!("a valid configuration was refused");
    };
    let mut queries: BTreeMap<QueryId, Vec<u8>> = BTreeMap::new();
    let mut ad_answers: BTreeMap<QueryId, bool> = BTreeMap::new();
    let mut conns: Vec<(ConnId, SocketAddr)> = Vec::new();
    let mut established: BTreeMap<ConnId, bool> = BTreeMap::new();
    let mut sent_after_tls: BTreeMap<ConnId, bool> = BTreeMap::new();
    let drain = |check: &mut SmtpCheck,
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
                Output::Action(Action::Send { conn, .. }) => {
                    if established.contains_key(&conn) {
                        sent_after_tls.insert(conn, true);
                    }
                }
                Output::Action(_) => {}
                other => return other,
            }
        }
        panic!("poll_output never reached Timeout or Done");
    };
    let pick = |n: u8, len: usize| usize::from(n) % len.max(1);
    let mut out = drain(
        &mut check,
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
                        .and_then(|w| encode_answer(w, ad, rcode, tc, &records));
                    if ad {
                        ad_answers.insert(id, true);
                    }
                    check.handle_input(
                        now,
                        Input::DnsAnswer {
                            query: id,
                            from: None,
                            wire: &wire.unwrap_or_default(),
                        },
                    )
                }
                None => Ok(()),
            },
            Some(FuzzOp::RawAnswer(n, bytes)) => match q(n) {
                Some(id) => {
                    // Raw bytes may carry AD=1 too (the oracle must know).
                    if bytes.get(3).is_some_and(|b| b & 0x20 != 0) {
                        ad_answers.insert(id, true);
                    }
                    check.handle_input(
                        now,
                        Input::DnsAnswer {
                            query: id,
                            from: None,
                            wire: &bytes,
                        },
                    )
                }
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
            Some(FuzzOp::Received(n, bytes)) => match c(n) {
                Some(conn) => check.handle_input(
                    now,
                    Input::Received {
                        conn,
                        bytes: &bytes,
                    },
                ),
                None => Ok(()),
            },
            Some(FuzzOp::Reply(n, r)) => match c(n) {
                Some(conn) => check.handle_input(
                    now,
                    Input::Received {
                        conn,
                        bytes: REPLIES[usize::from(r) % REPLIES.len()],
                    },
                ),
                None => Ok(()),
            },
            Some(FuzzOp::TlsEstablished(n, chain)) => match c(n) {
                Some(conn) => {
                    established.insert(conn, true);
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
                                detail: "fuzz".into(),
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
            &mut check,
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
    // Invariants (DESIGN.md section 8).
    let any_ad = ad_answers.values().any(|ad| *ad);
    if let Some(mx) = &report.mx {
        assert!(
            mx.security != Security::Secure || any_ad,
            "secure MX without any AD answer"
        );
    }
    for host in &report.hosts {
        if let Some(t) = &host.tlsa {
            assert!(
                t.security != Security::Secure || any_ad,
                "secure TLSA without AD"
            );
        }
        for conn in &host.connections {
            if matches!(
                conn.verdict,
                ConnectionVerdict::Verified | ConnectionVerdict::Trusted
            ) {
                assert_eq!(
                    host.policy,
                    HostPolicy::Dane,
                    "authenticated without policy dane"
                );
                assert!(conn.matched.is_some(), "verified without a matched record");
            }
            if matches!(host.policy, HostPolicy::Dane | HostPolicy::Encrypt) {
                assert_ne!(
                    conn.verdict,
                    ConnectionVerdict::Plaintext,
                    "downgrade to plaintext"
                );
            }
            if host.policy == HostPolicy::Dane
                && !matches!(
                    conn.verdict,
                    ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                )
            {
                // Nothing may follow a handshake whose chain was not authenticated.
                let leaked = conns
                    .iter()
                    .filter(|(_, addr)| addr.to_string() == conn.address)
                    .any(|(id, _)| sent_after_tls.contains_key(id));
                assert!(!leaked, "bytes sent after an unauthenticated handshake");
            }
        }
        if host.policy == HostPolicy::Skip {
            assert!(
                host.connections.is_empty(),
                "connected to a host whose lookups failed"
            );
        }
    }
}

/// Certificates the `dane_verify` fuzzer can pick whole (committed fixtures: a v1 self-signed
/// certificate, a v1 CA and its leaf, an RSA-1024 certificate), so it reaches past parsing.
const FIXTURE_PEMS: [&str; 4] = [
    include_str!("../../tests/fixtures/v1.cert.pem"),
    include_str!("../../tests/fixtures/v1ca.cert.pem"),
    include_str!("../../tests/fixtures/v1leaf.cert.pem"),
    include_str!("../../tests/fixtures/rsa1024.cert.pem"),
];

/// One certificate of a fuzzed chain.
#[derive(Arbitrary, Debug)]
pub enum FuzzCert {
    /// A fixture, possibly with one byte flipped.
    Fixture(u8, Option<(u16, u8)>),
    /// Arbitrary bytes.
    Raw(Vec<u8>),
}

/// One TLSA record of a fuzzed set.
#[derive(Arbitrary, Debug)]
pub enum FuzzTlsa {
    /// The digest (or full data) of chain element `depth`, so matches happen.
    Of(u8, u8, u8, u8),
    /// Arbitrary fields.
    Raw(u8, u8, u8, Vec<u8>),
}

/// `dane_verify` target: arbitrary chains and TLSA sets. Oracle: a match names a usable
/// record whose data really is the digest of the selected part of the certificate at the
/// reported depth (or, for DNS-supplied anchors, a usable DANE-TA Full(0) record).
pub fn dane_verify(data: &[u8]) {
    use crate::dane::verify::selected_digest;
    use crate::dane::{
        verify, DaneOutcome, DigestPrefs, MatchVia, TlsaRecord, TlsaSet, UsagePolicy, VerifyParams,
    };
    let mut u = Unstructured::new(data);
    let pool: Vec<Vec<u8>> = FIXTURE_PEMS
        .iter()
        .filter_map(|p| crate::dane::generate::parse_pem_certificates(p).ok())
        .flatten()
        .collect();
    let certs: Vec<FuzzCert> = u.arbitrary().unwrap_or_default();
    let chain: Vec<Vec<u8>> = certs
        .into_iter()
        .take(6)
        .map(|c| match c {
            FuzzCert::Fixture(i, flip) => {
                let mut der = pool
                    .get(usize::from(i) % pool.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                if let Some((at, x)) = flip {
                    let len = der.len().max(1);
                    if let Some(b) = der.get_mut(usize::from(at) % len) {
                        *b ^= x;
                    }
                }
                der
            }
            FuzzCert::Raw(bytes) => bytes,
        })
        .collect();
    let specs: Vec<FuzzTlsa> = u.arbitrary().unwrap_or_default();
    let records: Vec<TlsaRecord> = specs
        .into_iter()
        .take(8)
        .map(|t| match t {
            FuzzTlsa::Of(usage, depth, selector, matching) => {
                let cert = chain
                    .get(usize::from(depth) % chain.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                let (s, m) = (selector % 2, matching % 3);
                let data = selected_digest(&cert, s, m).unwrap_or(cert);
                TlsaRecord {
                    usage: usage % 4,
                    selector: s,
                    matching: m,
                    data,
                }
            }
            FuzzTlsa::Raw(usage, selector, matching, data) => TlsaRecord {
                usage,
                selector,
                matching,
                data,
            },
        })
        .collect();
    let digests: DigestPrefs = if u.arbitrary().unwrap_or(false) {
        "sha256".parse().unwrap_or_default()
    } else {
        DigestPrefs::default()
    };
    let set = TlsaSet::new(records, &UsagePolicy::smtp(), &digests);
    let now = Timestamp::from_unix_secs(
        u.int_in_range(0u64..=4_000_000_000)
            .unwrap_or(1_800_000_000),
    );
    let reference_ids = vec!["mx.example.com".to_string(), "example.com".to_string()];
    let outcome = verify(
        &chain,
        &set,
        &VerifyParams {
            reference_ids: &reference_ids,
            now,
        },
    );
    if let DaneOutcome::Matched(m) = outcome {
        let entry = set.entries.iter().find(|e| e.record == m.record);
        assert!(
            entry.is_some_and(|e| e.unusable.is_none()),
            "matched an unusable or unknown record"
        );
        match m.via {
            MatchVia::Chain => {
                let cert = chain.get(m.depth).expect("match depth inside the chain");
                let digest = selected_digest(cert, m.record.selector, m.record.matching);
                assert_eq!(
                    digest.as_deref(),
                    Some(&m.record.data[..]),
                    "match without equal digest"
                );
                if m.record.usage == 2 {
                    assert!(m.depth >= 1, "DANE-TA matched the leaf");
                } else {
                    assert_eq!(m.depth, 0, "DANE-EE matched an issuer");
                }
            }
            MatchVia::TlsaCertificate | MatchVia::TlsaPublicKey => {
                assert_eq!(
                    (m.record.usage, m.record.matching),
                    (2, 0),
                    "DNS anchor from a digest record"
                );
            }
        }
    }
}

/// `tlsa_text` target: presentation text parses, prints and parses back to the same record
/// (both the numeric and the RFC 7218 mnemonic forms), and RDATA round-trips.
pub fn tlsa_text(data: &[u8]) {
    use crate::dane::TlsaRecord;
    let text = String::from_utf8_lossy(data);
    if let Ok(record) = text.parse::<TlsaRecord>() {
        let numeric = record.to_text();
        assert_eq!(
            numeric.parse::<TlsaRecord>().as_ref(),
            Ok(&record),
            "{numeric}"
        );
        let mnemonic = record.to_mnemonic();
        assert_eq!(
            mnemonic.parse::<TlsaRecord>().as_ref(),
            Ok(&record),
            "{mnemonic}"
        );
        assert_eq!(
            TlsaRecord::from_rdata(&record.to_rdata()).as_ref(),
            Ok(&record)
        );
    }
    if let Ok(record) = TlsaRecord::from_rdata(data) {
        assert_eq!(record.to_rdata(), data, "rdata round trip");
        // A 3-byte RDATA (empty association data) has no RFC 6698 presentation form: the
        // parser rejects `u s m` without data, as zone-file parsers do.
        if !record.data.is_empty() {
            let numeric = record.to_text();
            assert_eq!(
                numeric.parse::<TlsaRecord>().as_ref(),
                Ok(&record),
                "{numeric}"
            );
        }
    }
}
