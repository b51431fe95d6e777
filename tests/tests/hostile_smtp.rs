//! Hostile SMTP and TLS peers (issue 7): each case is a catalogue scenario run in the
//! simulation (simulated clock) **and** live on loopback through both runtimes (tokio and
//! smol), and each must refuse: a DANE host ends `dane-failed` with the reason named here,
//! never `verified`, `trusted` or `no-dane`. The exception is `hostile_huge_tlsa_rrset`,
//! whose one matching record must still be found (within bounds).
//!
//! Live worlds listen on 127.20.200.0/24 and up (one /24 per test, below 127.20.250.0), on
//! port 25; nothing listens outside 127.0.0.0/8. Live runs use a 1.5 s stage timeout and
//! assert verdicts only, never durations.

use std::net::Ipv4Addr;
use std::time::Duration;

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::report::{
    ConnectionVerdict, DomainVerdict, HostVerdict, ProtocolFault, Reason, Report,
};
use daneel_core::smtp::reply::ReplyError;
use daneel_core::smtp::session::Stage;
use daneel_core::tls::TlsError;
use daneel_core::Seed;
use daneel_tests::live::LiveWorld;
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{self, Scenario, MX, SIM_RESOLVER, SIM_START};

/// The scenario `id`, checked in the simulation: returns the report and the driver.
fn simulate(s: &Scenario) -> (Report, Sim) {
    let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(0x5eed), SIM_START).unwrap();
    let (report, mismatches, sim) = s
        .run(Box::new(check))
        .unwrap_or_else(|e| panic!("{}: simulation error {e:?}", s.id));
    assert!(mismatches.is_empty(), "{} (sim): {mismatches:?}", s.id);
    (report, sim)
}

/// The scenario served live on `127.20.<net>.0/24`, checked through tokio and smol.
fn live(s: &Scenario, net: u8) -> [Box<Report>; 2] {
    assert!((200..250).contains(&net));
    let world = LiveWorld::start(
        &s.world,
        Ipv4Addr::new(127, 20, net, 0),
        s.world.smtp_port(),
    )
    .unwrap_or_else(|e| panic!("{}: cannot serve the live world: {e}", s.id));
    let config: CheckConfig = s.live_config(world.resolver_addr());
    let now = daneel_tokio::system_clock().origin();
    let check = SmtpCheck::new(config.clone(), Seed(7), now).unwrap();
    let (tokio_report, _) =
        daneel_tokio::run_blocking(check, daneel_tokio::system_clock()).unwrap();
    let check = SmtpCheck::new(config, Seed(7), now).unwrap();
    let (smol_report, _) = daneel_smol::run_blocking(check, daneel_smol::system_clock()).unwrap();
    for (name, report) in [("tokio", &tokio_report), ("smol", &smol_report)] {
        let mismatches = s.expected.mismatches(report);
        assert!(
            mismatches.is_empty(),
            "{} (live, {name}): {mismatches:?}\n{}",
            s.id,
            report
                .log
                .iter()
                .map(|l| format!("  {}", l.text))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    [tokio_report, smol_report]
}

/// The check refused the hostile host: domain and host `dane-failed` with `code`, and no
/// connection verified, trusted or accepted in plaintext or without authentication.
fn assert_refused(report: &Report, code: &str) {
    assert_eq!(report.verdict, DomainVerdict::DaneFailed, "{report:#?}");
    let host = mx_host(report);
    assert_eq!(host.verdict, HostVerdict::DaneFailed);
    for c in &host.connections {
        assert_eq!(c.verdict, ConnectionVerdict::DaneFailed, "{c:?}");
        assert_eq!(c.reason.as_ref().map(Reason::code), Some(code), "{c:?}");
        assert!(c.matched.is_none());
    }
    assert!(!host.connections.is_empty());
}

/// The report of the MX host.
fn mx_host(report: &Report) -> &daneel_core::report::HostReport {
    report
        .hosts
        .iter()
        .find(|h| h.name.trim_end_matches('.') == MX)
        .expect("the MX host in the report")
}

/// The reason of the MX host's first connection.
fn reason(report: &Report) -> Reason {
    mx_host(report)
        .connections
        .first()
        .and_then(|c| c.reason.clone())
        .expect("a connection with a reason")
}

/// Sim and live, both runtimes: refused with `code`; returns the sim report and driver.
fn hostile(id: &str, net: u8, code: &str) -> (Report, Sim) {
    let s = catalogue::by_id(id).unwrap();
    let (report, sim) = simulate(&s);
    assert_refused(&report, code);
    for r in live(&s, net) {
        assert_refused(&r, code);
    }
    (report, sim)
}

#[test]
fn hostile_starttls_missing_from_ehlo() {
    // S06: RFC 7672 sec. 2.2: secure usable TLSA records commit the server to STARTTLS.
    hostile("S06", 200, "starttls-not-offered");
}

#[test]
fn hostile_starttls_answered_454() {
    // X08: RFC 3207 sec. 4; no cleartext fallback under DANE (RFC 7672 sec. 2.2 (a)).
    let (report, _) = hostile("X08", 201, "starttls-rejected");
    assert!(
        matches!(reason(&report), Reason::StarttlsRejected { reply } if reply.starts_with("454"))
    );
}

#[test]
fn hostile_plaintext_injected_after_the_220() {
    // X03: RFC 3207 sec. 4.2.
    let (_, sim) = hostile("X03", 202, "plaintext-injection");
    // The upgrade never happened: no handshake with an injected byte in it.
    assert!(sim.connections().iter().all(|c| c.sni.is_none()));
}

#[test]
fn hostile_reply_to_a_command_never_sent() {
    // X16: a "220" for STARTTLS sent with the EHLO reply; STARTTLS is never sent.
    let (report, sim) = hostile("X16", 203, "protocol-error");
    let Reason::ProtocolError { fault } = reason(&report) else {
        unreachable!()
    };
    assert!(
        matches!(
            fault,
            ProtocolFault::Reply {
                stage: Stage::StartTls,
                error: ReplyError::Unsolicited { bytes }
            } if bytes > 0
        ),
        "{fault:?}"
    );
    assert!(sim.connections().iter().all(|c| !c.tls));
}

#[test]
fn hostile_insecure_cname_in_the_mx_host_chain() {
    // X17: RFC 7672 sec. 2.2.2: the initial CNAME is secure, the address RRset insecure,
    // so the only TLSA base domain is the original name; the attacker's TLSA at the
    // insecure target is never used and its certificate fails the real records.
    let (report, _) = hostile("X17", 204, "tlsa-mismatch");
    let host = &report.hosts[0];
    assert_eq!(host.tlsa_base.as_deref(), Some(MX));
    assert_eq!(
        host.tlsa.as_ref().map(|t| t.name.as_str()),
        Some("_25._tcp.mx.example.net")
    );
}

#[test]
fn hostile_dane_ta_mail_domain_name_under_an_insecure_mx() {
    // X18: RFC 7672 sec. 3.2.2: with an insecure MX RRset the MX host name is the only
    // reference identifier; a certificate naming just the mail domain is not authenticated.
    let (report, _) = hostile("X18", 205, "name-mismatch");
    assert_eq!(report.hosts[0].reference_ids, vec![MX.to_string()]);
}

#[test]
fn hostile_weak_digest_beside_a_strong_one() {
    // S56: RFC 7671 sec. 9: the SHA2-256 record that matches is ignored because a SHA2-512
    // record for the same (usage, selector) exists; that one does not match: failure.
    let (report, _) = hostile("S56", 206, "tlsa-mismatch");
    let tlsa = report.hosts[0].tlsa.as_ref().unwrap();
    let weak = tlsa
        .records
        .iter()
        .find(|r| r.text.starts_with("3 1 1"))
        .unwrap();
    assert!(!weak.usable, "{weak:?}");
}

#[test]
fn hostile_server_trickling_one_byte_per_second() {
    // X19: the STARTTLS reply comes one byte per second; the per-stage deadline ends it
    // (30 s of simulated time with the default --timeout; 1.5 s live).
    let (report, sim) = hostile("X19", 207, "timeout");
    assert_eq!(
        reason(&report),
        Reason::Timeout {
            stage: Stage::StartTls
        }
    );
    // The check's stage timeout (30 s by default) on the simulated clock, not the 1,000 s
    // the reply would take.
    let stage = Duration::from_millis(
        catalogue::by_id("X19")
            .unwrap()
            .config(SIM_RESOLVER)
            .smtp_timeout_ms
            .unwrap(),
    );
    let elapsed = sim.elapsed();
    assert!(
        elapsed >= stage && elapsed < stage + Duration::from_secs(10),
        "{elapsed:?}"
    );
}

#[test]
fn hostile_100_mb_line() {
    // X20: the line limit (2,048 bytes) ends the reply long before its end.
    let (report, sim) = hostile("X20", 208, "protocol-error");
    let Reason::ProtocolError { fault } = reason(&report) else {
        unreachable!()
    };
    assert!(
        matches!(
            fault,
            ProtocolFault::Reply {
                error: ReplyError::LineTooLong,
                ..
            }
        ),
        "{fault:?}"
    );
    assert_eq!(catalogue::HUGE_LINE, 100 * 1024 * 1024);
    assert!(
        sim.elapsed() < Duration::from_secs(5),
        "{:?}",
        sim.elapsed()
    );
}

#[test]
fn hostile_100_000_line_reply() {
    // X21: the reply limit (256 lines) ends it.
    let (report, sim) = hostile("X21", 209, "protocol-error");
    let Reason::ProtocolError { fault } = reason(&report) else {
        unreachable!()
    };
    assert!(
        matches!(
            fault,
            ProtocolFault::Reply {
                error: ReplyError::TooManyLines,
                ..
            }
        ),
        "{fault:?}"
    );
    assert_eq!(catalogue::MANY_LINES, 100_000);
    assert!(
        sim.elapsed() < Duration::from_secs(5),
        "{:?}",
        sim.elapsed()
    );
}

#[test]
fn hostile_tls_alert_mid_handshake() {
    // X22: a bare fatal alert is the server's word, unauthenticated: handshake-failed
    // with the alert named, a DANE failure, not client-unsupported.
    let (report, _) = hostile("X22", 210, "handshake-failed");
    let Reason::HandshakeFailed { error } = reason(&report) else {
        unreachable!()
    };
    assert_eq!(
        error,
        TlsError::Alert {
            alert: "HandshakeFailure".into()
        }
    );
}

#[test]
fn hostile_garbage_instead_of_a_server_hello() {
    // S07: bytes that are no TLS record answer the ClientHello.
    hostile("S07", 211, "handshake-failed");
}

#[test]
fn hostile_huge_tlsa_rrset() {
    // X23: a TLSA RRset that fills a 64 KB answer (970 records with the world's encoder,
    // see `catalogue::BIG_TLSA_RRSET`): truncated over UDP, complete over TCP (RFC 7766
    // sec. 5), close to the 65,535-byte limit of a DNS message over TCP; the one matching
    // record is found, in bounded DNS rounds and time.
    let s = catalogue::by_id("X23").unwrap();
    let (report, sim) = simulate(&s);
    assert_eq!(report.verdict, DomainVerdict::DaneVerified);
    let tlsa = report.hosts[0].tlsa.as_ref().unwrap();
    assert_eq!(tlsa.records.len(), catalogue::BIG_TLSA_RRSET);
    let tlsa_queries: Vec<_> = sim
        .queries()
        .into_iter()
        .filter(|q| q.rtype == "TLSA")
        .collect();
    assert_eq!(
        tlsa_queries.iter().map(|q| q.transport).collect::<Vec<_>>(),
        vec![daneel_core::Transport::Udp, daneel_core::Transport::Tcp]
    );
    assert!(sim.dns_rounds() <= 4, "{}", sim.dns_rounds());
    assert!(
        sim.elapsed() < Duration::from_secs(5),
        "{:?}",
        sim.elapsed()
    );
    // The TCP answer is really that large.
    let tcp = tcp_answer_len(&s);
    assert!((60_000..=65_535).contains(&tcp), "{tcp}");
    for r in live(&s, 212) {
        assert_eq!(r.verdict, DomainVerdict::DaneVerified);
        assert_eq!(r.hosts[0].verdict, HostVerdict::Verified);
    }
}

/// The size of the simulated resolver's TCP answer to the TLSA query of scenario `s`.
fn tcp_answer_len(s: &Scenario) -> usize {
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut q = Message::query();
    q.add_query(Query::query(
        Name::from_ascii("_25._tcp.mx.example.net.").unwrap(),
        RecordType::TLSA,
    ));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(1232);
    q.set_edns(edns);
    let wire = q.to_vec().unwrap();
    let answer =
        daneel_tests::world::resolver::answer(&s.world, &wire, daneel_core::Transport::Tcp)
            .unwrap();
    let parsed = Message::from_vec(&answer).unwrap();
    assert!(!parsed.metadata.truncation);
    answer.len()
}
