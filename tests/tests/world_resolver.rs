//! The validating-resolver simulator's answers, parsed with hickory.

use std::net::Ipv4Addr;

use daneel_core::dane::TlsaRecord;
use daneel_core::Transport;
use daneel_tests::world::resolver::{answer, EDNS_EDE};
use daneel_tests::world::{Fault, Status, World};
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, RecordType};

fn q(name: &str, rtype: RecordType, dnssec_ok: bool, edns: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn ask(w: &World, name: &str, rtype: RecordType) -> Message {
    Message::from_vec(&answer(w, &q(name, rtype, true, true), Transport::Udp).expect("answer"))
        .expect("parses")
}

fn tlsa() -> TlsaRecord {
    TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0xab; 32],
    }
}

fn world() -> World {
    World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .zone("unsigned.org", Status::Insecure)
        .mx("example.com", 10, "mx.example.net")
        .a("mx.example.net", Ipv4Addr::new(192, 0, 2, 25))
        .tlsa_for("mx.example.net", &tlsa())
        .cname("alias.example.net", "mx.example.net")
        .cname("out.example.net", "host.unsigned.org")
        .a("host.unsigned.org", Ipv4Addr::new(192, 0, 2, 26))
        .cname("in.unsigned.org", "mx.example.net")
        .a("bad.example.net", Ipv4Addr::new(192, 0, 2, 27))
        .status("bad.example.net", RecordType::A, Status::BOGUS)
        .a("tc.example.net", Ipv4Addr::new(192, 0, 2, 28))
        .fault("tc.example.net", RecordType::A, Fault::Truncate)
        .fault("sf.example.net", RecordType::A, Fault::ServFail)
        .fault("slow.example.net", RecordType::A, Fault::Timeout)
        .fault(
            "junk.example.net",
            RecordType::A,
            Fault::Garbage(vec![1, 2, 3]),
        )
        .fault("no.example.net", RecordType::A, Fault::Refused)
        .build()
}

#[test]
fn secure_answer_has_ad_rrsig_and_echoes_header() {
    let w = world();
    let m = ask(&w, "example.com.", RecordType::MX);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert!(m.metadata.recursion_available && m.metadata.recursion_desired);
    assert!(m.metadata.authentic_data);
    assert_eq!(m.queries.len(), 1);
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
    assert!(matches!(m.answers[0].data, RData::MX(_)));
    let sig = m
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.clone()),
            _ => None,
        })
        .expect("rrsig");
    assert_eq!(sig.input().sig_expiration.get(), w.rrsig_expiration());
    let t = ask(&w, "_25._tcp.mx.example.net.", RecordType::TLSA);
    assert!(t.metadata.authentic_data);
    assert!(matches!(t.answers[0].data, RData::TLSA(_)));
}

#[test]
fn ad_needs_do_or_ad_and_a_validating_resolver() {
    let w = world();
    let plain = answer(
        &w,
        &q("example.com.", RecordType::MX, false, false),
        Transport::Udp,
    );
    let m = Message::from_vec(&plain.unwrap()).unwrap();
    assert!(!m.metadata.authentic_data);
    assert!(m.edns.is_none());
    assert!(m
        .answers
        .iter()
        .all(|r| r.record_type() != RecordType::RRSIG));
    let nv = World::builder()
        .zone("example.com", Status::Secure)
        .mx("example.com", 10, "mx.example.net")
        .non_validating()
        .build();
    assert!(
        !ask(&nv, "example.com.", RecordType::MX)
            .metadata
            .authentic_data
    );
    assert!(!ask(&nv, ".", RecordType::DNSKEY).metadata.authentic_data);
}

#[test]
fn root_dnskey_probe_is_secure() {
    let m = ask(&world(), ".", RecordType::DNSKEY);
    assert!(m.metadata.authentic_data);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::DNSKEY));
}

#[test]
fn cname_chains_combine_and_ad_needs_every_link() {
    let w = world();
    let m = ask(&w, "alias.example.net.", RecordType::A);
    assert!(m.metadata.authentic_data);
    let types: Vec<_> = m
        .answers
        .iter()
        .map(|r| r.record_type())
        .filter(|t| *t != RecordType::RRSIG)
        .collect();
    assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
    // secure CNAME into an unsigned zone: insecure overall
    let m = ask(&w, "out.example.net.", RecordType::A);
    assert!(!m.metadata.authentic_data);
    assert_eq!(
        m.answers
            .iter()
            .filter(|r| r.record_type() == RecordType::A)
            .count(),
        1
    );
    // insecure CNAME into a signed zone: insecure overall
    assert!(
        !ask(&w, "in.unsigned.org.", RecordType::A)
            .metadata
            .authentic_data
    );
    // a CNAME query returns the alias itself
    let m = ask(&w, "alias.example.net.", RecordType::CNAME);
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    assert!(m.answers.iter().all(|r| r.record_type() != RecordType::A));
}

#[test]
fn denials_carry_soa_and_status() {
    let w = world();
    let m = ask(&w, "nothere.example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authentic_data);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name.to_ascii(), "example.net.");
    let m = ask(&w, "mx.example.net.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty() && m.metadata.authentic_data);
    // empty non-terminal: NODATA, not NXDOMAIN
    let m = ask(&w, "_tcp.mx.example.net.", RecordType::TXT);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let m = ask(&w, "x.unsigned.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(!m.metadata.authentic_data);
}

#[test]
fn bogus_is_servfail_with_ede() {
    let m = ask(&world(), "bad.example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty() && !m.metadata.authentic_data);
    let edns = m.edns.expect("opt");
    match edns.option(EDNS_EDE.into()) {
        Some(EdnsOption::Unknown(15, data)) => assert_eq!(&data[..2], &[0, 6]),
        other => panic!("no EDE: {other:?}"),
    }
}

#[test]
fn faults() {
    let w = world();
    let udp = ask(&w, "tc.example.net.", RecordType::A);
    assert!(udp.metadata.truncation && udp.answers.is_empty());
    assert_eq!(udp.metadata.id, 0x4242);
    let tcp = answer(
        &w,
        &q("tc.example.net.", RecordType::A, true, true),
        Transport::Tcp,
    );
    let tcp = Message::from_vec(&tcp.unwrap()).unwrap();
    assert!(!tcp.metadata.truncation && !tcp.answers.is_empty());
    let sf = ask(&w, "sf.example.net.", RecordType::A);
    assert_eq!(sf.metadata.response_code, ResponseCode::ServFail);
    assert!(sf.edns.unwrap().option(EDNS_EDE.into()).is_none());
    assert_eq!(
        ask(&w, "no.example.net.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::Refused
    );
    assert!(answer(
        &w,
        &q("slow.example.net.", RecordType::A, true, true),
        Transport::Udp
    )
    .is_none());
    assert_eq!(
        answer(
            &w,
            &q("junk.example.net.", RecordType::A, true, true),
            Transport::Udp
        ),
        Some(vec![1, 2, 3])
    );
    assert!(answer(&w, b"\x00\x01", Transport::Udp).is_none());
}
