//! The DNS trust boundary on real sockets, through both runtimes (issue 7): a second,
//! non-validating resolver in either position of the list, and an off-path forger whose
//! answers carry the query's id and reach the client's port from another address (or from
//! the resolver's address on another port) before the real answer (RFC 5452 sec. 9.1).
//! The same through the in-core validator (`--dnssec validate`, issue 13) behind the
//! non-validating resolver and behind a forwarder that strips DNSSEC records. Served on
//! 127.21.0.0/16.

use std::net::{Ipv4Addr, SocketAddr};

use daneel_core::check::{AddressFamily, CheckConfig, SmtpCheck};
use daneel_core::dnssec::{DnssecMode, DnssecSettings};
use daneel_core::{DomainVerdict, Report, Seed};
use daneel_tests::live::{LiveForger, LiveWorld};
use daneel_tests::world::catalogue::{self, Scenario};
use daneel_tests::world::certs::{self_signed, tlsa};
use daneel_tests::world::signed_catalogue::{relies_on_proven_answers, signed_scenarios};
use daneel_tests::world::{Status, World};
use hickory_proto::rr::RecordType;

fn config(s: &Scenario, resolvers: Vec<SocketAddr>) -> CheckConfig {
    let mut config = s.config(resolvers[0]);
    config.resolvers = resolvers;
    config.family = AddressFamily::V4;
    config.smtp_timeout_ms = Some(5_000);
    config.dns_timeout_ms = 1_000;
    config.dns_attempts = 2;
    config
}

/// Runs the check through tokio and smol; both reports.
fn both(config: &CheckConfig) -> [Report; 2] {
    let now = daneel_tokio::system_clock().origin();
    let tokio_check = SmtpCheck::new(config.clone(), Seed(7), now).unwrap();
    let (tokio_report, _) =
        daneel_tokio::run_blocking(tokio_check, daneel_tokio::system_clock()).unwrap();
    let smol_check = SmtpCheck::new(config.clone(), Seed(7), now).unwrap();
    let (smol_report, _) =
        daneel_smol::run_blocking(smol_check, daneel_smol::system_clock()).unwrap();
    [*tokio_report, *smol_report]
}

#[test]
fn hostile_live_non_validating_resolver_in_either_position() {
    let mut failures = Vec::new();
    // Good DANE, bogus TLSA, bogus MX, AAAA bogus beside a secure A, unsigned.
    for (i, id) in ["S01", "S10", "S18", "S16", "S14"].into_iter().enumerate() {
        let s = catalogue::by_id(id).unwrap();
        let base = Ipv4Addr::new(127, 21, i as u8 + 1, 0);
        let port = s.world.smtp_port();
        let mut live = LiveWorld::start(&s.world, base, port)
            .unwrap_or_else(|e| panic!("{id}: cannot serve on {base} port {port}: {e}"));
        let validating = live.resolver_addr();
        let plain = live.serve_plain_resolver().unwrap();
        for order in [vec![validating, plain], vec![plain, validating]] {
            for (runtime, report) in ["tokio", "smol"]
                .iter()
                .zip(both(&config(&s, order.clone())))
            {
                let mismatches = s.expected.mismatches(&report);
                if !mismatches.is_empty() {
                    failures.push(format!(
                        "{id} {runtime} {order:?}: {}",
                        mismatches.join("; ")
                    ));
                }
                let used: Vec<bool> = report.resolvers.iter().map(|r| r.used).collect();
                let expected: Vec<bool> = order.iter().map(|a| *a == validating).collect();
                if used != expected {
                    failures.push(format!("{id} {runtime}: resolvers used {used:?}"));
                }
            }
        }
        // The plain resolver alone: nothing it says is reported.
        for report in both(&config(&s, vec![plain])) {
            if report.verdict != DomainVerdict::TempFail || !report.hosts.is_empty() {
                failures.push(format!(
                    "{id}: plain alone gave {}",
                    report.verdict.as_str()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_live_forged_answers_from_another_source_are_not_believed() {
    let s = catalogue::by_id("S01").unwrap();
    let evil = self_signed(&["mx.example.net"]);
    let attacker = World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .mx("example.com", 10, "evil.example.org")
        .a("evil.example.org", "192.0.2.66".parse().unwrap())
        .tlsa_for("mx.example.net", &tlsa(3, 1, 1, &evil))
        .build();
    let mut failures = Vec::new();
    for (i, (qname, qtype)) in [
        ("_25._tcp.mx.example.net", RecordType::TLSA),
        ("example.com", RecordType::MX),
    ]
    .into_iter()
    .enumerate()
    {
        let base = Ipv4Addr::new(127, 21, 20 + i as u8, 0);
        let forger = LiveForger {
            qname: qname.into(),
            qtype,
            world: attacker.clone(),
        };
        let port = s.world.smtp_port();
        let live = LiveWorld::start_forged(&s.world, base, port, Some(forger))
            .unwrap_or_else(|e| panic!("cannot serve on {base} port {port}: {e}"));
        for (runtime, report) in ["tokio", "smol"]
            .iter()
            .zip(both(&config(&s, vec![live.resolver_addr()])))
        {
            if report.verdict != DomainVerdict::DaneVerified
                || report.hosts.iter().any(|h| h.name != "mx.example.net")
            {
                failures.push(format!(
                    "{runtime} forged {qname} {qtype}: {} {:?}",
                    report.verdict.as_str(),
                    report.hosts.iter().map(|h| &h.name).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--dnssec validate` from the world's trust anchor, through `resolver` only.
fn validating(s: &Scenario, resolver: SocketAddr) -> CheckConfig {
    let mut config = config(s, vec![resolver]);
    config.dnssec = DnssecSettings {
        mode: DnssecMode::Validate,
        trust_anchors: vec![s.world.trust_anchor_line()],
    };
    config
}

/// `--dnssec validate` on real sockets (issue 13): the world served by its non-validating
/// resolver (unbound with `module-config: "iterator"`), the core validating every answer from
/// the world's trust anchor, reaches the expected verdict; behind the stripping forwarder, no
/// check relies on an answer it cannot prove. Served on 127.21.160.0/20.
#[test]
fn live_validation_through_non_validating_and_stripping_resolvers() {
    let signed = signed_scenarios().into_iter().map(|s| s.scenario);
    let picked: Vec<Scenario> = ["S01", "S10", "S14", "S39"]
        .into_iter()
        .map(|id| catalogue::by_id(id).unwrap())
        .chain(signed.filter(|s| ["V02", "V04", "V05", "V09", "V17"].contains(&s.id)))
        .collect();
    assert_eq!(picked.len(), 9);
    let mut failures = Vec::new();
    for (i, s) in picked.iter().enumerate() {
        let base = Ipv4Addr::new(127, 21, 160 + i as u8, 0);
        let port = s.world.smtp_port();
        let mut live = LiveWorld::start(&s.world, base, port)
            .unwrap_or_else(|e| panic!("{}: cannot serve on {base} port {port}: {e}", s.id));
        let plain = live.serve_plain_resolver().unwrap();
        let stripping = live.serve_stripping_resolver().unwrap();
        for (runtime, report) in ["tokio", "smol"].iter().zip(both(&validating(s, plain))) {
            let mismatches = s.expected.mismatches(&report);
            if !mismatches.is_empty() {
                failures.push(format!("{} {runtime}: {}", s.id, mismatches.join("; ")));
            }
        }
        for (runtime, report) in ["tokio", "smol"]
            .iter()
            .zip(both(&validating(s, stripping)))
        {
            if relies_on_proven_answers(report.verdict) {
                failures.push(format!(
                    "{} {runtime} stripped: {}",
                    s.id,
                    report.verdict.as_str()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
