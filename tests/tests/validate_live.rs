//! `--dnssec validate` on real sockets through both runtimes (issue 13): the world served on
//! loopback by its non-validating resolver (unbound with `module-config: "iterator"`), the
//! core validating every answer from the world's trust anchor, reaches the expected verdict;
//! behind the stripping forwarder, no check is verified or `no-dane`. Served on
//! 127.21.200.0/21.

use std::net::{Ipv4Addr, SocketAddr};

use daneel_core::check::{AddressFamily, CheckConfig, SmtpCheck};
use daneel_core::dnssec::{DnssecMode, DnssecSettings};
use daneel_core::{DomainVerdict, Report, Seed};
use daneel_tests::live::LiveWorld;
use daneel_tests::world::catalogue::{self, Scenario};
use daneel_tests::world::signed_catalogue::signed_scenarios;

fn config(s: &Scenario, resolver: SocketAddr) -> CheckConfig {
    let mut config = s.config(resolver);
    config.family = AddressFamily::V4;
    config.smtp_timeout_ms = Some(5_000);
    config.dns_timeout_ms = 1_000;
    config.dns_attempts = 2;
    config.dnssec = DnssecSettings {
        mode: DnssecMode::Validate,
        trust_anchors: vec![s.world.trust_anchor_line()],
    };
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
fn live_validation_through_non_validating_and_stripping_resolvers() {
    let signed = signed_scenarios().into_iter().map(|s| s.scenario);
    let picked: Vec<Scenario> = ["S01", "S10", "S14", "S39"]
        .into_iter()
        .map(|id| catalogue::by_id(id).unwrap())
        .chain(signed.filter(|s| ["V02", "V04", "V05", "V09", "V13"].contains(&s.id)))
        .collect();
    assert_eq!(picked.len(), 9);
    let mut failures = Vec::new();
    for (i, s) in picked.iter().enumerate() {
        let base = Ipv4Addr::new(127, 21, 200 + i as u8, 0);
        let port = s.world.smtp_port();
        let mut live = LiveWorld::start(&s.world, base, port)
            .unwrap_or_else(|e| panic!("{}: cannot serve on {base} port {port}: {e}", s.id));
        let plain = live.serve_plain_resolver().unwrap();
        let stripping = live.serve_stripping_resolver().unwrap();
        for (runtime, report) in ["tokio", "smol"].iter().zip(both(&config(s, plain))) {
            let mismatches = s.expected.mismatches(&report);
            if !mismatches.is_empty() {
                failures.push(format!("{} {runtime}: {}", s.id, mismatches.join("; ")));
            }
        }
        for (runtime, report) in ["tokio", "smol"].iter().zip(both(&config(s, stripping))) {
            if matches!(
                report.verdict,
                DomainVerdict::DaneVerified
                    | DomainVerdict::DaneTrusted
                    | DomainVerdict::DanePartial
                    | DomainVerdict::NoDane
            ) {
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
