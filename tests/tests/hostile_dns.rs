//! The DNS trust boundary against hostile and careless resolvers (issue 7; RFC 7672
//! sec. 2.1.1, RFC 5452 sec. 9.1, RFC 8914), in the simulation: a non-validating resolver in
//! either position of the list, resolvers that never answer, forged answers from another
//! source or with a wrong id or question, and bogus SERVFAILs that must not be asked again.
//! Each test asserts that the check refuses to be downgraded.

use std::net::SocketAddr;

use daneel_core::check::SmtpCheck;
use daneel_core::dns::LookupError;
use daneel_core::dnssec::{DnssecMode, DnssecSettings};
use daneel_core::report::{ProbeDetail, ProbeResult, Warning};
use daneel_core::{DomainVerdict, Report, Seed};
use daneel_tests::sim::{Forgery, ForgeryKind, ResolverRole, Sim};
use daneel_tests::world::catalogue::{self, Scenario, SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::{self_signed, tlsa};
use daneel_tests::world::{Status, World};
use hickory_proto::rr::RecordType;

/// A second loopback resolver that does not validate (unbound with `module-config:
/// "iterator"`, or the resolver DHCP handed out behind a local stub).
const PLAIN: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 54)),
    53,
);

/// Another validating resolver.
const SECOND: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 55)),
    53,
);

const MAX_STEPS: usize = 20_000;

fn run(s: &Scenario, resolvers: Vec<SocketAddr>, sim: impl FnOnce(Sim) -> Sim) -> (Report, Sim) {
    run_in(DnssecMode::Auto, s, resolvers, sim)
}

/// [`run`] with DNSSEC statuses from `mode` (`--dnssec`).
fn run_in(
    mode: DnssecMode,
    s: &Scenario,
    resolvers: Vec<SocketAddr>,
    sim: impl FnOnce(Sim) -> Sim,
) -> (Report, Sim) {
    let mut config = s.config(SIM_RESOLVER);
    config.resolvers = resolvers;
    config.dnssec = DnssecSettings::new(mode);
    let check = SmtpCheck::new(config, Seed(0x5eed), SIM_START).expect("valid configuration");
    let mut sim = sim(Sim::new(s.world.clone(), Box::new(check), SIM_START));
    let report = sim
        .run_bounded(MAX_STEPS)
        .unwrap_or_else(|e| panic!("{}: {e}", s.id));
    (report, sim)
}

/// What a report decided, without the log, the resolver list or the warnings about it.
fn decisions(r: &Report) -> String {
    let hosts: Vec<String> = r
        .hosts
        .iter()
        .map(|h| {
            let conns: Vec<String> = h
                .connections
                .iter()
                .map(|c| format!("{} {:?} {:?}", c.address, c.verdict, c.reason))
                .collect();
            format!(
                "{} {:?} {:?} {:?} {:?} [{}]",
                h.name,
                h.policy,
                h.verdict,
                h.reason,
                h.tlsa.as_ref().map(|t| (t.security, t.usable)),
                conns.join(", ")
            )
        })
        .collect();
    format!(
        "{} {:?} mx={:?} hosts={hosts:?}",
        r.verdict.as_str(),
        r.reason.as_ref().map(|x| x.code()),
        r.mx.as_ref().map(|m| (m.security, m.hosts.clone()))
    )
}

#[test]
fn hostile_non_validating_resolver_in_either_position_changes_no_verdict() {
    let mut failures = Vec::new();
    let all = catalogue::all();
    for s in &all {
        let (alone, _) = run(s, vec![SIM_RESOLVER], |sim| sim);
        for order in [vec![SIM_RESOLVER, PLAIN], vec![PLAIN, SIM_RESOLVER]] {
            let (report, _) = run(s, order.clone(), |sim| {
                sim.with_resolver(PLAIN, ResolverRole::NonValidating)
            });
            if decisions(&report) != decisions(&alone) {
                failures.push(format!(
                    "{} with {order:?}:\n   alone: {}\n   mixed: {}",
                    s.id,
                    decisions(&alone),
                    decisions(&report)
                ));
            }
            let plain = report
                .resolvers
                .iter()
                .find(|r| r.address == PLAIN.to_string());
            // An address literal needs no DNS, so nothing is probed.
            let literal = s.destination.starts_with("[")
                && s.destination[1..].starts_with(|c: char| c.is_ascii_digit());
            if s.world.is_validating()
                && !literal
                && !plain.is_some_and(|p| p.probe == ProbeResult::NotValidating && !p.used)
            {
                failures.push(format!(
                    "{}: the plain resolver is not reported as dropped: {plain:?}",
                    s.id
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} scenarios:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn hostile_only_non_validating_resolvers_report_nothing_they_said() {
    let s = catalogue::by_id("S01").unwrap();
    for resolvers in [vec![PLAIN], vec![PLAIN, SocketAddr::new(PLAIN.ip(), 5353)]] {
        let plain = |sim: Sim| {
            resolvers.iter().fold(sim, |sim, r| {
                sim.with_resolver(*r, ResolverRole::NonValidating)
            })
        };
        // `auto`: no resolver on loopback validates, so the core validates through them
        // from the IANA root anchors, which match no key of the simulated root: nothing
        // they said is believed either.
        let (report, sim) = run(&s, resolvers.clone(), plain);
        assert_eq!(report.verdict, DomainVerdict::TempFail);
        assert_eq!(
            report.reason.as_ref().map(|r| r.code()),
            Some("trust-anchor-mismatch")
        );
        assert!(
            report.mx.is_none() && report.hosts.is_empty(),
            "{report:#?}"
        );
        assert!(sim.connections().is_empty());
        assert_eq!(report.resolver.mode, "validate");
        let (report, sim) = run_in(DnssecMode::TrustAd, &s, resolvers.clone(), plain);
        assert_eq!(report.verdict, DomainVerdict::TempFail);
        assert_eq!(
            report.reason.as_ref().map(|r| r.code()),
            Some("resolver-not-validating")
        );
        assert!(
            report.mx.is_none() && report.hosts.is_empty(),
            "{report:#?}"
        );
        assert!(sim.connections().is_empty());
        assert!(report
            .resolvers
            .iter()
            .all(|r| r.probe == ProbeResult::NotValidating && !r.used));
    }
}

#[test]
fn hostile_silent_resolver_is_dropped_and_named() {
    let s = catalogue::by_id("S01").unwrap();
    let (alone, _) = run(&s, vec![SIM_RESOLVER], |sim| sim);
    let (report, _) = run(&s, vec![PLAIN, SIM_RESOLVER], |sim| {
        sim.with_resolver(PLAIN, ResolverRole::Silent)
    });
    assert_eq!(decisions(&report), decisions(&alone));
    assert_eq!(report.resolvers[0].probe, ProbeResult::Unreachable);
    assert!(!report.resolvers[0].used && report.resolvers[1].used);
    assert!(report.warnings.iter().any(|w| matches!(
        w,
        Warning::ResolverDropped {
            resolver,
            detail: ProbeDetail::Failed {
                error: LookupError::Timeout
            }
        } if *resolver == PLAIN.to_string()
    )));
}

#[test]
fn hostile_validating_resolver_on_loopback_is_preferred_to_a_remote_one() {
    let s = catalogue::by_id("S01").unwrap();
    let remote: SocketAddr = "192.0.2.53:53".parse().unwrap();
    let (report, sim) = run(&s, vec![remote, SIM_RESOLVER], |sim| sim);
    assert_eq!(report.verdict, DomainVerdict::DaneVerified);
    let used: Vec<(bool, bool)> = report
        .resolvers
        .iter()
        .map(|r| (r.loopback, r.used))
        .collect();
    assert_eq!(used, vec![(false, false), (true, true)]);
    // Only the probe went to the remote resolver.
    let to_remote = sim.queries().iter().filter(|q| q.rtype != "DNSKEY").count();
    assert!(to_remote > 0);
    // Believing the AD bit of a remote resolver is warned about (`trust-ad`); `auto` would
    // validate in the core instead.
    let (report, _) = run_in(DnssecMode::TrustAd, &s, vec![remote], |sim| sim);
    assert!(report.warnings.contains(&Warning::ResolverRemote {
        resolver: remote.to_string()
    }));
}

/// Issue 7 (review): when the loopback resolver cannot even be probed because this process
/// is out of file descriptors, a remote validating resolver must not silently decide: which
/// AD bits count is unknown, so the check is `inconclusive` with `local-resources`, and no
/// verdict from the remote resolver's answers is given.
#[test]
fn hostile_a_probe_not_sent_for_want_of_descriptors_makes_the_check_inconclusive() {
    let s = catalogue::by_id("S01").unwrap();
    let remote: SocketAddr = "192.0.2.53:53".parse().unwrap();
    let (report, _) = run(&s, vec![SIM_RESOLVER, remote], |sim| {
        sim.with_resolver(SIM_RESOLVER, ResolverRole::OutOfDescriptors)
    });
    assert_eq!(
        report.verdict,
        DomainVerdict::Inconclusive,
        "{:?}",
        report.log
    );
    assert!(matches!(
        report.reason,
        Some(daneel_core::report::Reason::LocalResources { .. })
    ));
    assert!(report.hosts.is_empty());
}

/// The attacker's version of S01's world: the same names, its own TLSA key, and MX
/// pointing at its own host.
fn attacker_world() -> World {
    let evil = self_signed(&["mx.example.net"]);
    World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .mx("example.com", 10, "evil.example.org")
        .a("mx.example.net", "192.0.2.66".parse().unwrap())
        .a("evil.example.org", "192.0.2.66".parse().unwrap())
        .tlsa_for("mx.example.net", &tlsa(3, 1, 1, &evil))
        .build()
}

#[test]
fn hostile_forged_answers_are_ignored() {
    let s = catalogue::by_id("S01").unwrap();
    let kinds = [
        ForgeryKind::OtherSource("127.0.0.66:53".parse().unwrap()),
        ForgeryKind::OtherSource(SocketAddr::new(SIM_RESOLVER.ip(), 5353)),
        ForgeryKind::WrongId,
        ForgeryKind::WrongQuestion,
    ];
    for kind in kinds {
        for (qname, qtype) in [
            ("example.com", RecordType::MX),
            ("_25._tcp.mx.example.net", RecordType::TLSA),
            ("mx.example.net", RecordType::A),
        ] {
            let (report, sim) = run(&s, vec![SIM_RESOLVER], |sim| {
                sim.with_forgery(Forgery {
                    qname: qname.into(),
                    qtype,
                    kind: kind.clone(),
                    world: attacker_world(),
                })
            });
            assert_eq!(
                report.verdict,
                DomainVerdict::DaneVerified,
                "{kind:?} {qname} {qtype}: {}",
                decisions(&report)
            );
            assert!(
                sim.connections()
                    .iter()
                    .all(|c| c.addr.ip().to_string() == "192.0.2.10"),
                "{kind:?} {qname}: connected to the attacker"
            );
            assert!(
                report
                    .log
                    .iter()
                    .any(|l| l.text.contains("ignored a DNS message")),
                "{kind:?} {qname}: the forgery is not in the log"
            );
        }
    }
}

#[test]
fn hostile_bogus_servfail_is_final_and_asked_once() {
    // S10: the TLSA RRset is bogus (SERVFAIL with EDE 6 from a validating resolver).
    let s = catalogue::by_id("S10").unwrap();
    let (alone, _) = run(&s, vec![SIM_RESOLVER], |sim| sim);
    let (report, sim) = run(&s, vec![SIM_RESOLVER, SECOND], |sim| sim);
    assert_eq!(decisions(&report), decisions(&alone));
    assert_eq!(report.verdict, DomainVerdict::DaneFailed);
    let tlsa_queries = sim.queries().iter().filter(|q| q.rtype == "TLSA").count();
    assert_eq!(tlsa_queries, 1, "a bogus answer was asked again");
    assert!(
        sim.connections().is_empty(),
        "connected to a host whose TLSA is bogus"
    );
}

#[test]
fn hostile_tlsa_failure_never_leads_to_a_connection() {
    // On-path SERVFAIL or silence for the TLSA query only (S08-style and X12-style).
    for id in ["S08", "S10", "X12"] {
        let s = catalogue::by_id(id).unwrap();
        for resolvers in [
            vec![SIM_RESOLVER],
            vec![SIM_RESOLVER, PLAIN],
            vec![PLAIN, SIM_RESOLVER],
        ] {
            let (report, sim) = run(&s, resolvers.clone(), |sim| {
                sim.with_resolver(PLAIN, ResolverRole::NonValidating)
            });
            assert!(
                sim.connections().is_empty(),
                "{id} {resolvers:?}: connected after a failed TLSA lookup"
            );
            assert!(
                !matches!(
                    report.verdict,
                    DomainVerdict::DaneVerified
                        | DomainVerdict::DaneTrusted
                        | DomainVerdict::DanePartial
                        | DomainVerdict::NoDane
                ),
                "{id} {resolvers:?}: {}",
                decisions(&report)
            );
        }
    }
}

/// Issue 17: no part of a report but its log depends on the order in which independent DNS
/// answers arrive. Every catalogue scenario, alone and with a plain resolver beside the
/// validating one, under several arrival orders.
#[test]
fn reports_do_not_depend_on_the_order_of_dns_answers() {
    let strip = |r: &Report| {
        let mut r = r.clone();
        r.log.clear();
        serde_json::to_string_pretty(&r).unwrap()
    };
    let mut failures = Vec::new();
    for s in &catalogue::all() {
        for resolvers in [vec![SIM_RESOLVER], vec![PLAIN, SIM_RESOLVER]] {
            let (reference, _) = run(s, resolvers.clone(), |sim| {
                sim.with_resolver(PLAIN, ResolverRole::NonValidating)
            });
            for seed in 1..=6u64 {
                let (report, _) = run(s, resolvers.clone(), |sim| {
                    sim.with_resolver(PLAIN, ResolverRole::NonValidating)
                        .with_dns_jitter(seed * 0x9e37_79b9)
                });
                if strip(&report) != strip(&reference) {
                    failures.push(format!(
                        "{} {resolvers:?} seed {seed}:\n{}\n---- vs ----\n{}",
                        s.id,
                        strip(&reference),
                        strip(&report)
                    ));
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
