//! The DNS client driven through its public API with real wire messages built by
//! hickory-proto (RFC 1035, RFC 4035 AD bit, RFC 7766 TCP fallback, RFC 8914 EDE).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use daneel_core::dane::TlsaRecord;
use daneel_core::dns::{
    tcp_frame, DnsClient, DnsConfig, LookupError, LookupId, LookupResult, Malformed, Name,
    RcodeClass, RecordType, Security, TcpFrameReader, MAX_CNAME_LINKS,
};
use daneel_core::seed::{DetRng, Seed};
use daneel_core::{Action, LocalResource, NetError, QueryId, Timestamp, Transport, UsageError};
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, RRSIG};
use hickory_proto::dnssec::Algorithm;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{CNAME, MX, SOA, TLSA};
use hickory_proto::rr::{RData, Record, SerialNumber};

const T0: u64 = 1_800_000_000;

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(T0 * 1000 + ms)
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn servers(k: u8) -> Vec<SocketAddr> {
    (0..k)
        .map(|i| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + i)), 53))
        .collect()
}

fn client(k: u8) -> DnsClient {
    DnsClient::new(DnsConfig::new(servers(k)), DetRng::new(Seed(7), 1))
}

/// One SendDns action, decomposed.
#[derive(Debug)]
struct Sent {
    query: QueryId,
    server: SocketAddr,
    transport: Transport,
    msg: Message,
}

/// The queries sent since the last call (exchanges ended meanwhile are skipped; the tests
/// of `Action::EndDns` use [`actions`]).
fn sent(c: &mut DnsClient) -> Vec<Sent> {
    std::iter::from_fn(|| c.poll_action())
        .filter_map(|a| match a {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => Some(Sent {
                query,
                server,
                transport,
                msg: Message::from_vec(&wire).unwrap(),
            }),
            Action::EndDns { .. } => None,
            other => panic!("unexpected action {other:?}"),
        })
        .collect()
}

/// Every action since the last call, as `Ok(sent)` or `Err(ended exchange)`.
fn actions(c: &mut DnsClient) -> Vec<Result<Sent, QueryId>> {
    std::iter::from_fn(|| c.poll_action())
        .map(|a| match a {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => Ok(Sent {
                query,
                server,
                transport,
                msg: Message::from_vec(&wire).unwrap(),
            }),
            Action::EndDns { query } => Err(query),
            other => panic!("unexpected action {other:?}"),
        })
        .collect()
}

fn one(c: &mut DnsClient) -> Sent {
    let mut v = sent(c);
    assert_eq!(v.len(), 1, "{v:?}");
    v.pop().unwrap()
}

fn results(c: &mut DnsClient) -> Vec<(LookupId, LookupResult)> {
    std::iter::from_fn(|| c.poll_result()).collect()
}

/// A response to `q` with the same id and question, RA=1 and an OPT record with DO=1.
fn reply(q: &Sent) -> Message {
    let mut m = Message::new(q.msg.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.queries = q.msg.queries.clone();
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(1232);
    m.set_edns(edns);
    m
}

fn wire(m: &Message) -> Vec<u8> {
    m.to_vec().unwrap()
}

fn mx(owner: &str, pref: u16, host: &str) -> Record {
    Record::from_rdata(n(owner), 300, RData::MX(MX::new(pref, n(host))))
}

fn a(owner: &str, last: u8) -> Record {
    Record::from_rdata(
        n(owner),
        60,
        RData::A(Ipv4Addr::new(192, 0, 2, last).into()),
    )
}

fn cname(from: &str, to: &str) -> Record {
    Record::from_rdata(n(from), 100, RData::CNAME(CNAME(n(to))))
}

fn rrsig(owner: &str, covered: RecordType, expiration: u32) -> Record {
    let input = SigInput {
        type_covered: covered,
        algorithm: Algorithm::ED25519,
        num_labels: n(owner).num_labels(),
        original_ttl: 300,
        sig_expiration: SerialNumber::new(expiration),
        sig_inception: SerialNumber::new(expiration - 86_400 * 14),
        key_tag: 12345,
        signer_name: n("example.com."),
    };
    Record::from_rdata(
        n(owner),
        300,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![0x55; 64]))),
    )
}

fn soa(zone: &str) -> Record {
    Record::from_rdata(
        n(zone),
        3600,
        RData::SOA(SOA::new(
            n("ns.example."),
            n("hostmaster.example."),
            1,
            7200,
            900,
            1_209_600,
            600,
        )),
    )
}

fn add_ede(m: &mut Message, code: u16, text: &str) {
    let mut data = code.to_be_bytes().to_vec();
    data.extend_from_slice(text.as_bytes());
    m.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .as_mut()
        .push((EdnsCode::Unknown(15), EdnsOption::Unknown(15, data)));
}

fn answer_of(r: &LookupResult) -> &daneel_core::dns::Answer {
    r.as_ref().unwrap()
}

#[test]
fn secure_mx_answer_with_rrsig() {
    let mut c = client(1);
    let id = c.lookup(t(0), &n("example.com"), RecordType::MX);
    let q = one(&mut c);
    assert_eq!(q.server, servers(1)[0]);
    assert_eq!(q.transport, Transport::Udp);
    assert!(q.msg.metadata.recursion_desired && q.msg.metadata.authentic_data);
    assert!(q.msg.edns.as_ref().unwrap().flags().dnssec_ok);
    assert_eq!(q.msg.queries[0].name(), &n("example.com."));
    assert_eq!(c.next_deadline(), Some(t(3000)));

    let mut m = reply(&q);
    m.metadata.authentic_data = true;
    m.add_answer(mx("example.com.", 10, "mx1.example.com."));
    m.add_answer(mx("example.com.", 20, "mx2.example.com."));
    let exp1 = (T0 + 86_400) as u32;
    let exp2 = (T0 + 3600) as u32;
    m.add_answer(rrsig("example.com.", RecordType::MX, exp1));
    m.add_answer(rrsig("example.com.", RecordType::MX, exp2));
    m.add_answer(rrsig("example.com.", RecordType::TXT, (T0 + 60) as u32));
    c.handle_answer(t(20), q.query, None, &wire(&m)).unwrap();
    let mut r = results(&mut c);
    assert_eq!(r.len(), 1);
    let (got_id, res) = r.pop().unwrap();
    assert_eq!(got_id, id);
    let ans = answer_of(&res);
    assert_eq!(ans.security, Security::Secure);
    assert_eq!(ans.rcode, RcodeClass::Data);
    assert_eq!(
        ans.mx(),
        vec![(10, n("mx1.example.com.")), (20, n("mx2.example.com."))]
    );
    assert_eq!(
        ans.rrsig_expires,
        Some(Timestamp::from_unix_secs(T0 + 3600))
    );
    assert_eq!(ans.ttl, Some(300));
    assert_eq!(ans.server, servers(1)[0]);
    assert_eq!(c.next_deadline(), None);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn insecure_tlsa_answer() {
    let mut c = client(1);
    c.lookup(t(0), &n("_25._tcp.mx.example.com."), RecordType::TLSA);
    let q = one(&mut c);
    let mut m = reply(&q);
    m.add_answer(Record::from_rdata(
        n("_25._tcp.mx.example.com."),
        60,
        RData::TLSA(TLSA::new(
            3u8.into(),
            1u8.into(),
            1u8.into(),
            vec![0xaa; 32],
        )),
    ));
    c.handle_answer(t(5), q.query, None, &wire(&m)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    let ans = answer_of(&res);
    assert_eq!(ans.security, Security::Insecure);
    assert_eq!(ans.tlsa(), vec![TlsaRecord::new(3, 1, 1, vec![0xaa; 32])]);
    assert_eq!(ans.rrsig_expires, None);
}

#[test]
fn nodata_and_nxdomain() {
    let mut c = client(1);
    let l1 = c.lookup(t(0), &n("_25._tcp.mx.example.com."), RecordType::TLSA);
    let l2 = c.lookup(t(0), &n("nope.example.com."), RecordType::A);
    let qs = sent(&mut c);
    assert_eq!(qs.len(), 2, "independent lookups are all in flight");
    let mut nodata = reply(&qs[0]);
    nodata.metadata.authentic_data = true;
    nodata.add_authority(soa("example.com."));
    let mut nx = reply(&qs[1]);
    nx.metadata.response_code = ResponseCode::NXDomain;
    nx.add_authority(soa("example.com."));
    // Answer the second first: results come in completion order.
    c.handle_answer(t(1), qs[1].query, None, &wire(&nx))
        .unwrap();
    c.handle_answer(t(2), qs[0].query, None, &wire(&nodata))
        .unwrap();
    let r = results(&mut c);
    assert_eq!(r[0].0, l2);
    assert_eq!(r[1].0, l1);
    let nx_ans = answer_of(&r[0].1);
    assert_eq!(
        (nx_ans.rcode, nx_ans.security, nx_ans.ttl),
        (RcodeClass::NxDomain, Security::Insecure, Some(600))
    );
    assert!(nx_ans.records.is_empty());
    let nd = answer_of(&r[1].1);
    assert_eq!(
        (nd.rcode, nd.security, nd.ttl),
        (RcodeClass::NoData, Security::Secure, Some(600))
    );
}

#[test]
fn cname_chain_followed() {
    let mut c = client(1);
    c.lookup(t(0), &n("www.example.com."), RecordType::A);
    let q = one(&mut c);
    let mut m = reply(&q);
    m.add_answer(cname("WWW.example.com.", "lb.example.net."));
    m.add_answer(cname("lb.example.net.", "node1.example.org."));
    m.add_answer(a("node1.example.org.", 9));
    m.add_answer(rrsig(
        "node1.example.org.",
        RecordType::A,
        (T0 + 500) as u32,
    ));
    c.handle_answer(t(1), q.query, None, &wire(&m)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    let ans = answer_of(&res);
    assert_eq!(ans.final_name, n("node1.example.org."));
    assert_eq!(
        ans.cnames,
        vec![
            (n("www.example.com."), n("lb.example.net.")),
            (n("lb.example.net."), n("node1.example.org."))
        ]
    );
    assert_eq!(
        ans.addresses(),
        vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))]
    );
    assert_eq!(ans.rrsig_expires, Some(Timestamp::from_unix_secs(T0 + 500)));
}

/// Every server gives the same malformed chain: the lookup ends with `Malformed` after
/// trying each one.
fn chain_result(records: Vec<Record>) -> LookupResult {
    let mut cfg = DnsConfig::new(servers(2));
    cfg.attempts = 2;
    let mut c = DnsClient::new(cfg, DetRng::new(Seed(3), 0));
    c.lookup(t(0), &n("a.example."), RecordType::A);
    let mut seen = Vec::new();
    for i in 0..2 {
        let q = one(&mut c);
        seen.push(q.server);
        let mut m = reply(&q);
        for r in &records {
            m.add_answer(r.clone());
        }
        c.handle_answer(t(i), q.query, None, &wire(&m)).unwrap();
    }
    assert_eq!(seen, servers(2));
    assert!(sent(&mut c).is_empty());
    let mut r = results(&mut c);
    assert_eq!(r.len(), 1);
    r.pop().unwrap().1
}

#[test]
fn cname_loop_and_overlong_chain_are_malformed() {
    let looped = chain_result(vec![
        cname("a.example.", "b.example."),
        cname("b.example.", "a.example."),
    ]);
    assert!(
        matches!(
            &looped,
            Err(LookupError::Malformed { what: Malformed::CnameLoop { at } }) if at == "a.example."
        ),
        "{looped:?}"
    );
    let mut long = Vec::new();
    let mut prev = "a.example.".to_string();
    for i in 0..17 {
        let next = format!("c{i}.example.");
        long.push(cname(&prev, &next));
        prev = next;
    }
    long.push(a(&prev, 1));
    let got = chain_result(long.clone());
    assert!(
        matches!(
            got,
            Err(LookupError::Malformed {
                what: Malformed::CnameChainTooLong {
                    max: MAX_CNAME_LINKS
                }
            })
        ),
        "{got:?}"
    );
    // 16 links is still fine.
    long.remove(16);
    long.pop();
    long.push(a("c15.example.", 1));
    let mut c = client(1);
    c.lookup(t(0), &n("a.example."), RecordType::A);
    let q = one(&mut c);
    let mut m = reply(&q);
    for r in long {
        m.add_answer(r);
    }
    c.handle_answer(t(0), q.query, None, &wire(&m)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    assert_eq!(answer_of(&res).cnames.len(), 16);
}

#[test]
fn mismatched_messages_are_ignored_while_waiting() {
    let mut c = client(1);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let mut good = reply(&q);
    good.add_answer(mx("example.com.", 10, "mx.example.com."));

    let mut bad_id = good.clone();
    bad_id.metadata.id = good.metadata.id.wrapping_add(1);
    let mut bad_name = good.clone();
    bad_name.queries[0].set_name(n("example.net."));
    let mut bad_type = good.clone();
    bad_type.queries[0].set_query_type(RecordType::A);
    let mut not_response = good.clone();
    not_response.metadata.message_type = MessageType::Query;
    let mut bad_opcode = good.clone();
    bad_opcode.metadata.op_code = OpCode::Notify;
    let mut no_question = good.clone();
    no_question.queries.clear();
    for (i, m) in [
        bad_id,
        bad_name,
        bad_type,
        not_response,
        bad_opcode,
        no_question,
    ]
    .iter()
    .enumerate()
    {
        c.handle_answer(t(i as u64), q.query, None, &wire(m))
            .unwrap();
        assert!(c.poll_result().is_none(), "message {i} was accepted");
        assert!(c.poll_action().is_none(), "message {i} caused a retry");
        assert_eq!(c.next_deadline(), Some(t(3000)));
    }
    c.handle_answer(t(100), q.query, None, &wire(&good))
        .unwrap();
    let (_, res) = c.poll_result().unwrap();
    assert_eq!(answer_of(&res).mx().len(), 1);
}

#[test]
fn truncated_udp_retries_same_server_over_tcp() {
    let mut c = client(2);
    c.lookup(t(0), &n("_25._tcp.mx.example.com."), RecordType::TLSA);
    let q = one(&mut c);
    let mut tc = reply(&q);
    tc.metadata.truncation = true;
    c.handle_answer(t(1000), q.query, None, &wire(&tc)).unwrap();
    let tq = one(&mut c);
    assert_eq!(tq.transport, Transport::Tcp);
    assert_eq!(tq.server, q.server);
    assert_ne!(tq.query, q.query);
    assert_eq!(tq.msg.queries, q.msg.queries);
    assert_eq!(c.next_deadline(), Some(t(4000)));
    // A late UDP answer to the abandoned exchange is ignored.
    let mut late = reply(&q);
    late.add_answer(mx("example.com.", 1, "x.example."));
    c.handle_answer(t(1500), q.query, None, &wire(&late))
        .unwrap();
    assert!(c.poll_result().is_none());
    let mut m = reply(&tq);
    m.metadata.authentic_data = true;
    m.add_answer(Record::from_rdata(
        n("_25._tcp.mx.example.com."),
        60,
        RData::TLSA(TLSA::new(2u8.into(), 0u8.into(), 1u8.into(), vec![1; 32])),
    ));
    c.handle_answer(t(2000), tq.query, None, &wire(&m)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    let ans = answer_of(&res);
    assert_eq!(ans.security, Security::Secure);
    assert_eq!(ans.tlsa(), vec![TlsaRecord::new(2, 0, 1, vec![1; 32])]);
}

#[test]
fn tcp_fallback_does_not_use_an_attempt() {
    let mut cfg = DnsConfig::new(servers(2));
    cfg.attempts = 2;
    let mut c = DnsClient::new(cfg, DetRng::new(Seed(9), 0));
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let mut tc = reply(&q);
    tc.metadata.truncation = true;
    c.handle_answer(t(0), q.query, None, &wire(&tc)).unwrap();
    let tq = one(&mut c);
    // TCP connection refused: the second (and last) attempt goes to the next server.
    c.handle_failed(t(10), tq.query, &NetError::Refused)
        .unwrap();
    let q2 = one(&mut c);
    assert_eq!((q2.server, q2.transport), (servers(2)[1], Transport::Udp));
    c.handle_timeout(t(10 + 3000));
    assert_eq!(c.poll_result().unwrap().1, Err(LookupError::Timeout));
}

#[test]
fn servfail_with_ede_6_is_bogus() {
    let mut cfg = DnsConfig::new(servers(1));
    cfg.attempts = 1;
    let mut c = DnsClient::new(cfg, DetRng::new(Seed(1), 0));
    c.lookup(t(0), &n("_25._tcp.mx.dnssec-failed.org."), RecordType::TLSA);
    let q = one(&mut c);
    let mut m = reply(&q);
    m.metadata.response_code = ResponseCode::ServFail;
    add_ede(
        &mut m,
        6,
        "validation failure <_25._tcp.mx.dnssec-failed.org. TLSA IN>",
    );
    c.handle_answer(t(30), q.query, None, &wire(&m)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    let err = res.unwrap_err();
    assert!(matches!(err, LookupError::ServFail { bogus: true, ref ede } if ede[0].code == 6));
    assert_eq!(err.security(), Security::Bogus);
    assert!(
        err.to_string()
            .contains("6 DNSSEC Bogus: validation failure"),
        "{err}"
    );
}

#[test]
fn servfail_then_next_server_answers() {
    let mut c = client(2);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q1 = one(&mut c);
    assert_eq!(q1.server, servers(2)[0]);
    let mut sf = reply(&q1);
    sf.metadata.response_code = ResponseCode::ServFail;
    c.handle_answer(t(50), q1.query, None, &wire(&sf)).unwrap();
    assert!(c.poll_result().is_none());
    let q2 = one(&mut c);
    assert_eq!(q2.server, servers(2)[1]);
    assert_ne!(
        q2.msg.metadata.id, q1.msg.metadata.id,
        "fresh message id per exchange"
    );
    assert_eq!(c.next_deadline(), Some(t(3050)));
    let mut ok = reply(&q2);
    ok.add_answer(mx("example.com.", 5, "mx.example.com."));
    c.handle_answer(t(60), q2.query, None, &wire(&ok)).unwrap();
    let (_, res) = c.poll_result().unwrap();
    assert_eq!(answer_of(&res).server, servers(2)[1]);
}

#[test]
fn refused_everywhere_reports_the_last_rcode() {
    let mut c = client(2);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    for i in 0..4 {
        let q = one(&mut c);
        assert_eq!(q.server, servers(2)[i % 2]);
        let mut m = reply(&q);
        m.metadata.response_code = if i == 3 {
            ResponseCode::Refused
        } else {
            ResponseCode::ServFail
        };
        c.handle_answer(t(i as u64), q.query, None, &wire(&m))
            .unwrap();
    }
    assert!(sent(&mut c).is_empty());
    assert_eq!(
        c.poll_result().unwrap().1,
        Err(LookupError::Rcode { rcode: 5 })
    );
}

#[test]
fn timeouts_back_off_per_round() {
    let mut c = client(2);
    let id = c.lookup(t(0), &n("example.com."), RecordType::MX);
    let mut log = Vec::new();
    let mut now = t(0);
    loop {
        for q in sent(&mut c) {
            log.push((now, q.server));
        }
        let Some(d) = c.next_deadline() else { break };
        // Nothing happens just before the deadline.
        c.handle_timeout(Timestamp::from_millis(d.as_millis() - 1));
        assert!(c.poll_action().is_none() && c.poll_result().is_none());
        now = d;
        c.handle_timeout(now);
    }
    let s = servers(2);
    assert_eq!(
        log,
        vec![
            (t(0), s[0]),
            (t(3000), s[1]),
            (t(6000), s[0]),
            (t(12000), s[1])
        ]
    );
    assert_eq!(now, t(18000));
    assert_eq!(results(&mut c), vec![(id, Err(LookupError::Timeout))]);
}

#[test]
fn single_server_deadlines_double() {
    let mut c = client(1);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let mut deadlines = Vec::new();
    while let Some(d) = c.next_deadline() {
        deadlines.push(d);
        c.handle_timeout(d);
    }
    assert_eq!(deadlines, vec![t(3000), t(9000), t(21000), t(45000)]);
    assert_eq!(sent(&mut c).len(), 4);
}

#[test]
fn garbage_never_panics_and_ends_as_malformed() {
    let mut c = client(1);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let id = q.msg.metadata.id.to_be_bytes();
    for junk in [
        vec![],
        vec![0xff],
        vec![
            id[0], id[1], 0x81, 0x80, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 2, 3,
        ],
        vec![0; 12],
        vec![0xff; 600],
    ] {
        c.handle_answer(t(1), q.query, None, &junk).unwrap();
        assert!(c.poll_result().is_none());
    }
    let mut d = c.next_deadline();
    while let Some(x) = d {
        for q in sent(&mut c) {
            c.handle_answer(x, q.query, None, b"\x00\x01garbage")
                .unwrap();
        }
        c.handle_timeout(x);
        d = c.next_deadline();
    }
    match c.poll_result().unwrap().1 {
        Err(LookupError::Malformed { .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn garbage_over_tcp_ends_the_attempt() {
    let mut c = client(2);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let mut tc = reply(&q);
    tc.metadata.truncation = true;
    c.handle_answer(t(0), q.query, None, &wire(&tc)).unwrap();
    let tq = one(&mut c);
    c.handle_answer(t(1), tq.query, None, &[1, 2, 3]).unwrap();
    let next = one(&mut c);
    assert_eq!(
        (next.server, next.transport),
        (servers(2)[1], Transport::Udp)
    );
}

#[test]
fn answers_after_completion_are_ignored_and_unknown_ids_rejected() {
    let mut c = client(1);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let m = reply(&q);
    c.handle_answer(t(1), q.query, None, &wire(&m)).unwrap();
    assert_eq!(results(&mut c).len(), 1);
    assert_eq!(c.handle_answer(t(2), q.query, None, &wire(&m)), Ok(()));
    assert_eq!(c.handle_failed(t(2), q.query, &NetError::Reset), Ok(()));
    c.handle_timeout(t(100_000));
    assert!(c.poll_result().is_none() && sent(&mut c).is_empty());
    assert!(c.owns(q.query));
    assert!(!c.owns(QueryId(99)));
    assert_eq!(
        c.handle_answer(t(3), QueryId(99), None, &wire(&m)),
        Err(UsageError::UnknownQuery(QueryId(99)))
    );
    assert_eq!(
        c.handle_failed(t(3), QueryId(99), &NetError::Refused),
        Err(UsageError::UnknownQuery(QueryId(99)))
    );
}

#[test]
fn abandoned_lookups_end_silently() {
    let mut c = client(1);
    let id = c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    c.abandon(t(0), id);
    assert_eq!(c.next_deadline(), None);
    c.handle_answer(t(1), q.query, None, &wire(&reply(&q)))
        .unwrap();
    assert!(c.poll_result().is_none());
}

#[test]
fn no_servers() {
    let mut c = DnsClient::new(DnsConfig::new(vec![]), DetRng::new(Seed(0), 0));
    let id = c.lookup(t(0), &Name::root(), RecordType::DNSKEY);
    assert!(c.poll_action().is_none());
    assert_eq!(results(&mut c), vec![(id, Err(LookupError::NoServers))]);
}

#[test]
fn same_seed_same_queries() {
    let run = |seed| {
        let mut c = DnsClient::new(DnsConfig::new(servers(2)), DetRng::new(Seed(seed), 0));
        c.lookup(t(0), &n("example.com."), RecordType::MX);
        c.lookup(t(0), &n("example.org."), RecordType::MX);
        c.handle_timeout(t(3000));
        std::iter::from_fn(|| c.poll_action()).collect::<Vec<_>>()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn tcp_frames_split_and_merged() {
    let mut c = client(1);
    c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let mut m = reply(&q);
    m.add_answer(mx("example.com.", 10, "mx.example.com."));
    let msg = wire(&m);
    let mut stream = tcp_frame(&msg);
    stream.extend(tcp_frame(&msg));
    let mut r = TcpFrameReader::new();
    let (first, second) = stream.split_at(3);
    r.push(first).unwrap();
    assert_eq!(r.pop(), None);
    r.push(second).unwrap();
    assert_eq!(r.pop().as_deref(), Some(&msg[..]));
    assert_eq!(r.pop().as_deref(), Some(&msg[..]));
    assert_eq!(r.pop(), None);
}

#[test]
fn mutated_answers_never_panic_nor_fake_security() {
    let mut rng = DetRng::new(Seed(2026), 42);
    let mut cfg = DnsConfig::new(servers(1));
    cfg.attempts = 1;
    let mut c = DnsClient::new(cfg, DetRng::new(Seed(1), 0));
    let mut secure = 0;
    let mut insecure = 0;
    let mut errors = 0;
    for round in 0..3000u64 {
        let now = t(round * 10);
        let id = c.lookup(now, &n("www.example.com."), RecordType::A);
        let q = one(&mut c);
        let mut m = reply(&q);
        m.metadata.authentic_data = rng.below(2) == 0;
        m.add_answer(cname("www.example.com.", "a.example.net."));
        m.add_answer(a("a.example.net.", 1));
        m.add_answer(rrsig("a.example.net.", RecordType::A, (T0 + 99) as u32));
        m.add_authority(soa("example.net."));
        add_ede(&mut m, rng.below(30) as u16, "x");
        let mut bytes = wire(&m);
        for _ in 0..=rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let i = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[i] = rng.next_u64() as u8,
                1 => bytes[i] ^= 1 << rng.below(8),
                _ => bytes.truncate(i),
            }
        }
        // Keep the id intact half of the time so mutations reach the parser.
        if round % 2 == 0 && bytes.len() >= 2 {
            bytes[..2].copy_from_slice(&q.msg.metadata.id.to_be_bytes());
        }
        let ad = bytes.get(3).is_some_and(|b| b & 0x20 != 0);
        c.handle_answer(now, q.query, None, &bytes).unwrap();
        match c.poll_result() {
            Some((got, Ok(ans))) => {
                assert_eq!(got, id);
                if ans.security == Security::Secure {
                    assert!(ad, "Secure without AD=1 in round {round}");
                    secure += 1;
                } else {
                    insecure += 1;
                }
            }
            Some((_, Err(_))) => errors += 1,
            None => {
                c.abandon(now, id);
                sent(&mut c);
            }
        }
        assert!(c.poll_result().is_none());
    }
    assert_eq!(c.in_flight(), 0);
    assert!(
        secure > 100 && insecure > 100 && errors > 0,
        "{secure} {insecure} {errors}"
    );
}

#[test]
fn config_defaults() {
    let cfg = DnsConfig::new(servers(1));
    assert_eq!(cfg.attempt_timeout, Duration::from_secs(3));
    assert_eq!(cfg.attempts, 4);
    assert_eq!(cfg.payload, 1232);
}

/// Issue 7: every exchange ends with exactly one `EndDns` however it ends (answer, timeout,
/// SERVFAIL and retry, truncation and TCP, abandon), so a runtime closes each socket as soon
/// as the client stops listening on it, and never while it still listens.
#[test]
fn every_exchange_ends_once_with_end_dns() {
    let mut c = client(2);
    let mut open = std::collections::BTreeSet::new();
    let mut ended = Vec::new();
    let mut track = |c: &mut DnsClient, open: &mut std::collections::BTreeSet<QueryId>| {
        let mut new = Vec::new();
        for a in actions(c) {
            match a {
                Ok(s) => {
                    assert!(open.insert(s.query), "query id reused");
                    new.push(s);
                }
                Err(q) => {
                    assert!(open.remove(&q), "EndDns for {q:?}, which is not open");
                    ended.push(q);
                }
            }
        }
        new
    };
    // Answered at once.
    c.lookup(t(0), &n("a.example."), RecordType::A);
    let q = track(&mut c, &mut open).pop().unwrap();
    c.handle_answer(t(1), q.query, None, &wire(&reply(&q)))
        .unwrap();
    assert!(track(&mut c, &mut open).is_empty());
    assert!(open.is_empty(), "answered exchange still open");
    assert_eq!(results(&mut c).len(), 1);
    // SERVFAIL from the first server, then a timeout at the second, then an answer.
    c.lookup(t(10_000), &n("b.example."), RecordType::A);
    let q = track(&mut c, &mut open).pop().unwrap();
    let mut fail = reply(&q);
    fail.metadata.response_code = ResponseCode::ServFail;
    c.handle_answer(t(10_001), q.query, None, &wire(&fail))
        .unwrap();
    let q2 = track(&mut c, &mut open).pop().unwrap();
    assert_eq!(open.len(), 1, "only the retry is open");
    c.handle_timeout(t(10_001 + 3_000));
    let q3 = track(&mut c, &mut open).pop().unwrap();
    assert!(!open.contains(&q2.query), "timed-out exchange still open");
    // A late answer to the timed-out exchange is ignored, the current one is taken.
    c.handle_answer(t(13_100), q2.query, None, &wire(&reply(&q2)))
        .unwrap();
    assert!(c.poll_result().is_none());
    c.handle_answer(t(13_101), q3.query, None, &wire(&reply(&q3)))
        .unwrap();
    track(&mut c, &mut open);
    assert!(open.is_empty());
    // Abandoned while waiting.
    let id = c.lookup(t(20_000), &n("c.example."), RecordType::A);
    track(&mut c, &mut open);
    c.abandon(t(20_001), id);
    track(&mut c, &mut open);
    assert!(open.is_empty(), "abandoned exchange still open");
    assert_eq!(ended.len(), 5);
    // Finishing with lookups open and waiting: no new query, every open one ends.
    let mut small = DnsConfig::new(vec![SocketAddr::from(([192, 0, 2, 53], 53))]);
    small.max_in_flight = 2;
    let mut c = DnsClient::new(small, DetRng::new(Seed(3), 0));
    for i in 0..5 {
        c.lookup(t(0), &n(&format!("w{i}.example.")), RecordType::A);
    }
    assert_eq!(sent(&mut c).len(), 2);
    c.abandon_all();
    let after = actions(&mut c);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.iter().all(|a| a.is_err()), "only EndDns: {after:?}");
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.next_deadline(), None);
}

/// Issue 7: at most `max_in_flight` exchanges are open at once; later lookups wait in order
/// and start as slots free, their timers starting only when they are sent; every lookup
/// still gets its answer.
#[test]
fn open_exchanges_are_bounded_and_waiting_lookups_start_in_order() {
    let mut config = DnsConfig::new(vec![SocketAddr::from(([192, 0, 2, 53], 53))]);
    config.max_in_flight = 3;
    let mut c = DnsClient::new(config, DetRng::new(Seed(7), 0));
    let ids: Vec<LookupId> = (0..10)
        .map(|i| c.lookup(t(0), &n(&format!("h{i}.example.")), RecordType::A))
        .collect();
    let mut open: Vec<Sent> = sent(&mut c);
    assert_eq!(open.len(), 3, "only three exchanges open");
    assert_eq!(c.in_flight(), 10);
    // Nothing waiting has a deadline of its own yet.
    assert_eq!(c.next_deadline(), Some(t(3_000)));
    let mut answered = Vec::new();
    let mut now = 1;
    let mut order = Vec::new();
    while let Some(q) = (!open.is_empty()).then(|| open.remove(0)) {
        order.push(q.msg.queries[0].name().to_ascii());
        c.handle_answer(t(now), q.query, None, &wire(&reply(&q)))
            .unwrap();
        answered.extend(results(&mut c).into_iter().map(|(id, r)| {
            assert!(r.is_ok(), "{r:?}");
            id
        }));
        open.extend(sent(&mut c));
        assert!(open.len() <= 3, "{} exchanges open", open.len());
        now += 1;
    }
    assert_eq!(answered, ids, "every lookup answered, in order");
    let want: Vec<String> = (0..10).map(|i| format!("h{i}.example.")).collect();
    assert_eq!(
        order, want,
        "waiting lookups start in the order they were made"
    );
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.next_deadline(), None);
}

/// Issue 7: a socket the runtime could not open for want of file descriptors fails the
/// lookup at once with its own reason: no retry elsewhere, no timeout blaming the resolver.
#[test]
fn out_of_file_descriptors_is_a_local_error_not_a_timeout() {
    let mut c = client(2);
    let id = c.lookup(t(0), &n("example.com."), RecordType::MX);
    let q = one(&mut c);
    let emfile = std::io::Error::from_raw_os_error(24);
    let error = NetError::from_io(&emfile);
    assert!(matches!(error, NetError::LocalResources(_)), "{error:?}");
    c.handle_failed(t(1), q.query, &error).unwrap();
    assert!(sent(&mut c).is_empty(), "no other resolver asked");
    match results(&mut c).as_slice() {
        [(got, Err(LookupError::LocalResources { error }))] => {
            assert_eq!(*got, id);
            assert_eq!(error.resource, LocalResource::FileDescriptors, "{error}");
        }
        other => panic!("{other:?}"),
    }
    // A refused connection is the peer's doing: the next resolver is asked.
    c.lookup(t(10), &n("example.org."), RecordType::MX);
    let q = one(&mut c);
    c.handle_failed(t(11), q.query, &NetError::Refused).unwrap();
    assert_eq!(sent(&mut c).len(), 1);
}
