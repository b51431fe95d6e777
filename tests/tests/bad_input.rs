//! Hostile and broken peers at the level of the whole check: every case ends with a typed
//! reason, within the step bound (no hang), and without a panic or a `UsageError`.

use std::net::Ipv4Addr;

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::report::{ConnectionVerdict, DaneRequirement, ProtocolFault, Reason, Report};
use daneel_core::smtp::reply::ReplyError;
use daneel_core::smtp::session::Stage;
use daneel_core::{DomainVerdict, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::{self_signed, server_tls, tlsa};
use daneel_tests::world::{Behaviour, Fault, MailServer, Status, World, WorldBuilder};
use hickory_proto::rr::RecordType;

const MX: &str = "mx.example.com";

fn base() -> WorldBuilder {
    World::builder()
        .zone("example.com", Status::Secure)
        .mx("example.com", 10, MX)
        .a(MX, Ipv4Addr::new(192, 0, 2, 10))
}

fn run(world: World) -> Report {
    let check = SmtpCheck::new(
        CheckConfig::new("example.com", vec![SIM_RESOLVER]),
        Seed(5),
        SIM_START,
    )
    .unwrap();
    Sim::new(world, Box::new(check), SIM_START)
        .run_bounded(10_000)
        .expect("finishes within the step bound")
}

fn connection_reason(r: &Report) -> (ConnectionVerdict, Option<Reason>) {
    let c = &r.hosts[0].connections[0];
    (c.verdict, c.reason.clone())
}

fn with_server(behaviour: Behaviour) -> World {
    let cert = self_signed(&[MX]);
    base()
        .tlsa_for(MX, &tlsa(3, 1, 1, &cert))
        .server(
            "192.0.2.10".parse().unwrap(),
            MailServer::new(MX)
                .with_tls(server_tls(&[&cert]))
                .behaviour(behaviour),
        )
        .build()
}

#[test]
fn garbage_dns_answers_never_pass_for_answers() {
    // Bytes that cannot be matched to the query (no id, no question) are noise, possibly
    // spoofed (RFC 5452): the lookup waits for a real answer and ends as a typed timeout.
    let r = run(base()
        .fault(
            "example.com",
            RecordType::MX,
            Fault::Garbage(vec![0xde, 0xad, 0xbe, 0xef]),
        )
        .build());
    assert_eq!(r.verdict, DomainVerdict::TempFail);
    assert_eq!(
        r.reason.as_ref().map(|r| r.code()),
        Some("dns-timeout"),
        "{:?}",
        r.reason
    );
}

#[test]
fn truncated_answers_are_retried_over_tcp() {
    let cert = self_signed(&[MX]);
    let world = base()
        .tlsa_for(MX, &tlsa(3, 1, 1, &cert))
        .fault(&format!("_25._tcp.{MX}"), RecordType::TLSA, Fault::Truncate)
        .server(
            "192.0.2.10".parse().unwrap(),
            MailServer::new(MX).with_tls(server_tls(&[&cert])),
        )
        .build();
    assert_eq!(run(world).verdict, DomainVerdict::DaneVerified);
}

#[test]
fn a_ten_thousand_line_reply_is_a_protocol_error() {
    let mut greeting = Vec::new();
    for _ in 0..10_000 {
        greeting.extend_from_slice(b"220-mx.example.com is chatty\r\n");
    }
    greeting.extend_from_slice(b"220 mx.example.com\r\n");
    let r = run(with_server(Behaviour::RawGreeting(greeting)));
    let (verdict, reason) = connection_reason(&r);
    assert_eq!(verdict, ConnectionVerdict::Unreachable);
    assert_eq!(
        reason,
        Some(Reason::ProtocolError {
            fault: ProtocolFault::Reply {
                stage: Stage::Greeting,
                error: ReplyError::TooManyLines
            }
        })
    );
    assert_eq!(r.verdict, DomainVerdict::Inconclusive);
}

#[test]
fn a_line_without_crlf_is_bounded() {
    let r = run(with_server(Behaviour::RawGreeting(vec![b'2'; 100_000])));
    let (verdict, reason) = connection_reason(&r);
    assert_eq!(verdict, ConnectionVerdict::Unreachable);
    assert_eq!(
        reason,
        Some(Reason::ProtocolError {
            fault: ProtocolFault::Reply {
                stage: Stage::Greeting,
                error: ReplyError::LineTooLong
            }
        })
    );
}

#[test]
fn an_unterminated_greeting_times_out() {
    let r = run(with_server(Behaviour::RawGreeting(
        b"220 mx.example.com but no line end".to_vec(),
    )));
    let (verdict, reason) = connection_reason(&r);
    assert_eq!(verdict, ConnectionVerdict::Unreachable);
    assert_eq!(
        reason,
        Some(Reason::Timeout {
            stage: Stage::Greeting
        })
    );
}

#[test]
fn a_server_that_stalls_after_starttls_fails_dane_by_timeout() {
    let r = run(with_server(Behaviour::StallAfter(
        daneel_tests::world::Stage::Handshake,
    )));
    let (verdict, reason) = connection_reason(&r);
    assert_eq!(verdict, ConnectionVerdict::DaneFailed);
    assert_eq!(
        reason,
        Some(Reason::Timeout {
            stage: Stage::TlsHandshake
        })
    );
    assert_eq!(r.verdict, DomainVerdict::DaneFailed);
}

#[test]
fn a_dns_server_that_never_answers_is_a_typed_timeout() {
    let r = run(base()
        .fault("example.com", RecordType::MX, Fault::Timeout)
        .build());
    assert_eq!(r.verdict, DomainVerdict::TempFail);
    assert_eq!(r.reason.as_ref().map(|r| r.code()), Some("dns-timeout"));
}

#[test]
fn mandatory_dane_never_connects_to_an_address_literal() {
    let mut config = CheckConfig::new("[192.0.2.10]", vec![SIM_RESOLVER]);
    config.require_dane = true;
    let check = SmtpCheck::new(config, Seed(5), SIM_START).unwrap();
    let r = Sim::new(with_server(Behaviour::Normal), Box::new(check), SIM_START)
        .run_bounded(10_000)
        .unwrap();
    assert_eq!(r.verdict, DomainVerdict::DaneFailed);
    assert!(r.hosts[0].connections.is_empty());
    assert_eq!(
        r.hosts[0].reason,
        Some(Reason::DaneRequired {
            why: DaneRequirement::AddressLiteral
        })
    );
}
