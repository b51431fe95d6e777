//! SRV discovery for the MUA check (RFC 6186, RFC 2782, RFC 8314), through the public API:
//! real DNS response messages, built with hickory-proto and read back by daneel's own
//! response checker, then planned by `plan_srv`.

use std::net::SocketAddr;

use daneel_core::dns::{
    build_query, check_response, Answer, Checked, DomainName, Expected, Name, RcodeClass,
    RecordType, Security,
};
use daneel_core::mua::srv::{plan_srv, DroppedSrv, MailService, SrvKind, MAX_SRV_TARGETS};
use daneel_core::seed::{DetRng, Seed};
use daneel_core::Timestamp;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{RData, Record};

const OWNER: &str = "_imaps._tcp.example.com.";

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// The answer daneel reads from a response to `_imaps._tcp.example.com. SRV` carrying
/// `records` (priority, weight, port, target), with AD set when `secure`.
fn srv_answer(records: &[(u16, u16, u16, &str)], secure: bool, rcode: ResponseCode) -> Answer {
    let expected = Expected {
        id: 4242,
        qname: name(OWNER),
        qtype: RecordType::SRV,
        checking_disabled: false,
    };
    let query = Message::from_vec(&build_query(4242, &expected.qname, RecordType::SRV, 1232))
        .expect("our own query parses");
    let mut m = Message::new(4242, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.authentic_data = secure;
    m.metadata.response_code = rcode;
    m.queries = query.queries;
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    // As over TCP: room for thousands of records.
    edns.set_max_payload(u16::MAX);
    m.set_edns(edns);
    for (priority, weight, port, target) in records {
        m.add_answer(Record::from_rdata(
            name(OWNER),
            300,
            RData::SRV(SRV::new(*priority, *weight, *port, name(target))),
        ));
    }
    let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
    match check_response(
        &expected,
        &m.to_vec().unwrap(),
        Timestamp::from_unix_secs(1_800_000_000),
        server,
    ) {
        Checked::Final(Ok(answer)) => answer,
        other => panic!("not an answer: {other:?}"),
    }
}

fn targets(kind: &SrvKind) -> Vec<String> {
    match kind {
        SrvKind::Targets(t) => t.iter().map(|t| t.to_string()).collect(),
        other => panic!("no targets: {other:?}"),
    }
}

fn rng(seed: u64) -> DetRng {
    DetRng::new(Seed(seed), 2)
}

#[test]
fn service_names_ports_and_owners() {
    let domain: DomainName = "example.com.".parse().unwrap();
    let owner = MailService::Submissions.owner(&domain).unwrap();
    assert_eq!(owner.to_string(), "_submissions._tcp.example.com");
    assert_eq!(owner, "_SUBMISSIONS._tcp.Example.com".parse().unwrap());
    assert_eq!(MailService::parse(" IMAPS "), Some(MailService::Imaps));
    assert_eq!(MailService::parse("smtp"), None);
    let ports: Vec<u16> = MailService::ALL.iter().map(|s| s.default_port()).collect();
    assert_eq!(ports, vec![465, 587, 993, 143, 995, 110]);
    assert!(MailService::Pop3s.implicit_tls());
    assert!(!MailService::Submission.implicit_tls());
}

#[test]
fn priority_orders_first_and_security_is_the_answers() {
    let records = [
        (10, 0, 993, "late.example.net."),
        (0, 5, 993, "early.example.net."),
    ];
    for secure in [true, false] {
        let plan = plan_srv(
            &srv_answer(&records, secure, ResponseCode::NoError),
            &mut rng(1),
        );
        assert_eq!(
            plan.security,
            if secure {
                Security::Secure
            } else {
                Security::Insecure
            }
        );
        assert_eq!(
            targets(&plan.kind),
            vec!["0 5 993 early.example.net", "10 0 993 late.example.net"]
        );
        assert_eq!(plan.records.len(), 2);
        assert!(plan.dropped.is_empty());
    }
}

/// S71: within one priority the choice is weighted (RFC 2782), the next priority only after.
/// The seeds are fixed, so the counts are the same on every run.
#[test]
fn weights_decide_the_order_within_a_priority() {
    let records = [
        (0, 90, 993, "heavy.example.net."),
        (0, 10, 993, "light.example.net."),
        (10, 0, 993, "backup.example.net."),
    ];
    let answer = srv_answer(&records, true, ResponseCode::NoError);
    let mut heavy_first = 0;
    for seed in 0..1000 {
        let order = targets(&plan_srv(&answer, &mut rng(seed)).kind);
        assert_eq!(order[2], "10 0 993 backup.example.net", "seed {seed}");
        if order[0].ends_with("heavy.example.net") {
            heavy_first += 1;
        }
    }
    assert!(
        (820..=970).contains(&heavy_first),
        "heavy first {heavy_first} times in 1000, expected about 900"
    );
}

#[test]
fn weight_zero_records_are_still_chosen() {
    let records = [(0, 0, 993, "a.example.net."), (0, 0, 993, "b.example.net.")];
    let answer = srv_answer(&records, true, ResponseCode::NoError);
    let firsts: std::collections::BTreeSet<String> = (0..64)
        .map(|seed| targets(&plan_srv(&answer, &mut rng(seed)).kind)[0].clone())
        .collect();
    assert_eq!(firsts.len(), 2, "both orders occur: {firsts:?}");
}

#[test]
fn the_same_seed_gives_the_same_order() {
    let records: Vec<(u16, u16, u16, String)> = (0..8)
        .map(|i| (0, 10, 993, format!("h{i}.example.net.")))
        .collect();
    let borrowed: Vec<(u16, u16, u16, &str)> = records
        .iter()
        .map(|(p, w, port, t)| (*p, *w, *port, t.as_str()))
        .collect();
    let answer = srv_answer(&borrowed, true, ResponseCode::NoError);
    assert_eq!(
        plan_srv(&answer, &mut rng(7)),
        plan_srv(&answer, &mut rng(7))
    );
    assert_ne!(
        targets(&plan_srv(&answer, &mut rng(7)).kind),
        targets(&plan_srv(&answer, &mut rng(8)).kind),
        "another seed, another order (8 equal records)"
    );
}

/// S68: a lone "." target: the service is decidedly not available, never guessed.
#[test]
fn a_lone_root_target_means_unavailable() {
    let plan = plan_srv(
        &srv_answer(&[(0, 0, 0, ".")], true, ResponseCode::NoError),
        &mut rng(1),
    );
    assert_eq!(plan.kind, SrvKind::Unavailable);
}

#[test]
fn absent_records_are_reported_as_absent() {
    let nx = plan_srv(&srv_answer(&[], true, ResponseCode::NXDomain), &mut rng(1));
    assert_eq!(nx.kind, SrvKind::Absent { nxdomain: true });
    let nodata = srv_answer(&[], false, ResponseCode::NoError);
    assert_eq!(nodata.rcode, RcodeClass::NoData);
    assert_eq!(
        plan_srv(&nodata, &mut rng(1)).kind,
        SrvKind::Absent { nxdomain: false }
    );
}

#[test]
fn bad_records_are_dropped_with_a_typed_reason() {
    let records = [
        (0, 0, 993, "."),
        (0, 0, 0, "zero.example.net."),
        (0, 0, 993, "192.0.2.1."),
        (0, 0, 993, "ok.example.net."),
        (5, 0, 993, "OK.example.net."),
        (5, 0, 995, "ok.example.net."),
    ];
    let plan = plan_srv(
        &srv_answer(&records, true, ResponseCode::NoError),
        &mut rng(3),
    );
    assert_eq!(
        targets(&plan.kind),
        vec!["0 0 993 ok.example.net", "5 0 995 ok.example.net"]
    );
    let mut codes: Vec<&str> = plan
        .dropped
        .iter()
        .map(|d| match d {
            DroppedSrv::RootBesideOthers { .. } => "root",
            DroppedSrv::PortZero { .. } => "port-zero",
            DroppedSrv::AddressLiteral { .. } => "literal",
            DroppedSrv::Duplicate { .. } => "duplicate",
            DroppedSrv::OverLimit { .. } => "over-limit",
        })
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["duplicate", "literal", "port-zero", "root"]);
    assert_eq!(
        plan.dropped
            .iter()
            .find(|d| matches!(d, DroppedSrv::Duplicate { .. })),
        Some(&DroppedSrv::Duplicate {
            record: "5 0 993 ok.example.net".into()
        }),
        "the duplicate kept is the one of the best priority"
    );
}

#[test]
fn thousands_of_records_are_bounded_and_reported() {
    let names: Vec<String> = (0..1000).map(|i| format!("h{i}.example.net.")).collect();
    let records: Vec<(u16, u16, u16, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| ((i % 7) as u16, (i % 3) as u16, 993, n.as_str()))
        .collect();
    let plan = plan_srv(
        &srv_answer(&records, true, ResponseCode::NoError),
        &mut rng(9),
    );
    let kept = targets(&plan.kind);
    assert_eq!(kept.len(), MAX_SRV_TARGETS);
    assert!(
        kept.iter().all(|t| t.starts_with("0 ")),
        "best priority first"
    );
    assert_eq!(
        plan.dropped,
        vec![DroppedSrv::OverLimit {
            count: 1000 - MAX_SRV_TARGETS,
            limit: MAX_SRV_TARGETS
        }]
    );
}
