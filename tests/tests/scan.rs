//! Issue 14: many checks as one machine (`daneel_core::scan::Scan`), in the simulated world.
//!
//! Each test compares the scan with what single checks of the same domains decide in the same
//! world, so a shared answer, a renamed id or a queued connection that changed a decision
//! shows up as a different verdict.

use std::sync::{Arc, Mutex};

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::report::Report;
use daneel_core::scan::{Pull, Scan, ScanConfig, ScanOutcome, ScanResult};
use daneel_core::transcript::replay;
use daneel_core::{DomainVerdict, Seed};
use daneel_tests::sim::{Forgery, ForgeryKind, Sim};
use daneel_tests::world::bulk::{shared_mx_domain, shared_mx_world};
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::tlsa;
use daneel_tests::world::{Status, World};
use hickory_proto::rr::RecordType;

const MAX_STEPS: usize = 5_000_000;

fn domains(n: usize) -> Vec<String> {
    (0..n).map(shared_mx_domain).collect()
}

/// Runs a scan of `domains` in `world`; returns its results and the simulator.
fn scan(
    world: &World,
    domains: Vec<String>,
    tune: impl FnOnce(&mut ScanConfig),
) -> (Vec<ScanResult>, Sim) {
    let mut config = ScanConfig::new(CheckConfig::new("", vec![SIM_RESOLVER]));
    tune(&mut config);
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let results = results.clone();
        move |r: ScanResult| results.lock().unwrap().push(r)
    };
    let scan = Scan::new(config, Seed(14), SIM_START, domains.into_iter(), sink).unwrap();
    let mut sim = Sim::new(world.clone(), Box::new(scan), SIM_START);
    sim.run_bounded(MAX_STEPS).expect("the scan finishes");
    let results = std::mem::take(&mut *results.lock().unwrap());
    (results, sim)
}

fn single(world: &World, domain: &str) -> Report {
    let check = SmtpCheck::new(
        CheckConfig::new(domain, vec![SIM_RESOLVER]),
        Seed(1),
        SIM_START,
    )
    .unwrap();
    Sim::new(world.clone(), Box::new(check), SIM_START)
        .run_bounded(MAX_STEPS)
        .unwrap()
}

/// Every result decides as a single check of its domain in `world` does.
fn assert_as_single_checks(world: &World, results: &[ScanResult]) {
    for r in results {
        let alone = single(world, &r.domain);
        assert_eq!(decisions(report(r)), decisions(&alone), "{}", r.domain);
    }
}

fn report(r: &ScanResult) -> &Report {
    match &r.outcome {
        ScanOutcome::Report(report) => report,
        other => panic!("{}: {other:?}", r.domain),
    }
}

/// The verdicts that matter, of the domain and each host and connection.
fn decisions(r: &Report) -> (DomainVerdict, Vec<String>) {
    let hosts = r
        .hosts
        .iter()
        .map(|h| {
            let conns: Vec<_> = h
                .connections
                .iter()
                .map(|c| format!("{:?}/{:?}", c.verdict, c.reason))
                .collect();
            format!("{} {:?} {:?} {conns:?}", h.name, h.verdict, h.reason)
        })
        .collect();
    (r.verdict, hosts)
}

#[test]
fn a_scan_decides_every_domain_as_a_single_check_does_and_shares_lookups() {
    let n = 60;
    let world = shared_mx_world(n).0;
    let (results, sim) = scan(&world, domains(n), |c| c.concurrency = 25);
    assert_eq!(results.len(), n);
    let mut seen: Vec<u64> = results.iter().map(|r| r.index).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..n as u64).collect::<Vec<_>>(),
        "every domain reported once"
    );
    let mut by_verdict = std::collections::BTreeMap::new();
    for r in &results {
        let alone = single(&world, &r.domain);
        assert_eq!(decisions(report(r)), decisions(&alone), "{}", r.domain);
        *by_verdict.entry(alone.verdict).or_insert(0) += 1;
    }
    // The world holds all three kinds of outcome, so the comparison above means something.
    assert_eq!(by_verdict.len(), 3, "{by_verdict:?}");
    let good = (0..n).filter(|i| i % 5 != 0 && i % 7 != 0).count();
    assert_eq!(by_verdict[&DomainVerdict::DaneVerified], good);
    // One TLSA lookup per MX host however many domains share it, one probe for the scan.
    let count = |name: &str, rtype: &str| {
        sim.queries()
            .iter()
            .filter(|q| q.name == name && q.rtype == rtype)
            .count()
    };
    assert_eq!(count("_25._tcp.mx1.example.net", "TLSA"), 1);
    assert_eq!(count("_25._tcp.mx.bad.example.net", "TLSA"), 1);
    assert_eq!(count("mx2.example.net", "A"), 1);
    assert_eq!(count("", "DNSKEY"), 1, "the resolver probe is shared too");
    assert_eq!(count("d1.example.com", "MX"), 1);
    assert_eq!(sim.open_dns(), 0, "every shared exchange ended");
}

#[test]
fn connections_to_one_address_stay_within_the_per_destination_limit() {
    let n = 40;
    let world = shared_mx_world(n).0;
    let (results, sim) = scan(&world, domains(n), |c| {
        c.concurrency = 40;
        c.per_destination = 2;
    });
    assert_eq!(results.len(), n);
    // Four server addresses, two connections each at most.
    assert!(sim.peak_open_conns() <= 8, "{}", sim.peak_open_conns());
    assert!(
        sim.peak_open_conns() >= 3,
        "the limit is reached, so the test can fail"
    );
    assert_as_single_checks(&world, &results);
}

#[test]
fn the_dns_rate_limit_spreads_queries_over_simulated_time() {
    let n = 30;
    let world = shared_mx_world(n).0;
    let (fast, fast_sim) = scan(&world, domains(n), |_| {});
    let (slow, slow_sim) = scan(&world, domains(n), |c| c.dns_rate = Some(5));
    assert_eq!(fast.len(), n);
    assert_eq!(slow.len(), n);
    let sent = slow_sim.queries().len() as u64;
    assert!(sent >= fast_sim.queries().len() as u64);
    assert!(slow_sim.elapsed() > fast_sim.elapsed());
    // A burst of 5, then 5 a second: the last query leaves no earlier than this.
    let last = slow_sim.queries().iter().map(|q| q.sent).max().unwrap();
    let earliest = (sent - 5) * 1000 / 5;
    assert!(
        last.saturating_since(SIM_START).as_millis() as u64 >= earliest,
        "{sent} queries by {last:?}"
    );
    assert_as_single_checks(&world, &slow);
}

#[test]
fn each_checks_transcript_replays_to_its_report() {
    let n = 12;
    let world = shared_mx_world(n).0;
    let (results, _) = scan(&world, domains(n), |c| c.record_transcripts = true);
    for r in &results {
        let transcript = r.transcript.as_ref().expect("recorded");
        let replayed = replay(transcript).unwrap_or_else(|e| panic!("{}: {e:?}", r.domain));
        assert_eq!(
            decisions(replayed.report.as_ref().expect("finished")),
            decisions(report(r)),
            "{}",
            r.domain
        );
    }
}

#[test]
fn bad_lines_get_their_own_result_and_the_scan_goes_on() {
    let world = shared_mx_world(3).0;
    let input = vec![
        "d1.example.com".into(),
        "not a domain!".into(),
        "d2.example.com".into(),
    ];
    let (results, _) = scan(&world, input, |_| {});
    assert_eq!(results.len(), 3);
    let bad = results
        .iter()
        .find(|r| r.domain == "not a domain!")
        .unwrap();
    assert!(
        matches!(bad.outcome, ScanOutcome::Invalid(_)),
        "{:?}",
        bad.outcome
    );
    let good = results
        .iter()
        .filter(|r| matches!(r.outcome, ScanOutcome::Report(_)))
        .count();
    assert_eq!(good, 2);
}

/// A forged answer from another address reaches the check that asked, which drops it, and is
/// never stored: the next domain that asks the same question gets the resolver's answer.
#[test]
fn a_forged_answer_is_neither_believed_nor_shared() {
    let n = 10;
    let (world, good) = shared_mx_world(n);
    // The attacker's TLSA record for mx.bad.example.net matches the key its server really
    // has: believed once, it turns the domains that use it from dane-failed to verified.
    let attacker = World::builder()
        .zone("example.net", Status::Secure)
        .tlsa_for("mx.bad.example.net", &tlsa(3, 1, 1, &good))
        .build();
    let config = ScanConfig::new(CheckConfig::new("", vec![SIM_RESOLVER]));
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let results = results.clone();
        move |r: ScanResult| results.lock().unwrap().push(r)
    };
    let scan = Scan::new(config, Seed(14), SIM_START, domains(n).into_iter(), sink).unwrap();
    let forgery = Forgery {
        qname: "_25._tcp.mx.bad.example.net".into(),
        qtype: RecordType::TLSA,
        world: attacker,
        kind: ForgeryKind::OtherSource("192.0.2.66:53".parse().unwrap()),
    };
    let mut sim = Sim::new(world.clone(), Box::new(scan), SIM_START).with_forgery(forgery);
    sim.run_bounded(MAX_STEPS).unwrap();
    let results = results.lock().unwrap();
    assert_eq!(results.len(), n);
    assert_as_single_checks(&world, &results);
    assert!(results
        .iter()
        .any(|r| report(r).verdict == DomainVerdict::DaneVerified));
    // The genuine answer ended the one shared TLSA query: no check had to ask again.
    let asked = sim
        .queries()
        .iter()
        .filter(|q| q.name == "_25._tcp.mx.bad.example.net" && q.rtype == "TLSA")
        .count();
    assert_eq!(asked, 1);
    assert!(results
        .iter()
        .any(|r| report(r).verdict == DomainVerdict::DaneFailed));
}

/// A source that has nothing yet is asked again later, without stalling the checks running.
#[test]
fn a_slow_source_is_polled_without_blocking() {
    struct Trickle(Vec<Option<String>>);
    impl daneel_core::scan::DomainSource for Trickle {
        fn pull(&mut self) -> Pull {
            match self.0.pop() {
                None => Pull::End,
                Some(None) => Pull::NotYet,
                Some(Some(d)) => Pull::Domain(d),
            }
        }
    }
    let world = shared_mx_world(4).0;
    let mut feed = vec![
        Some("d1.example.com".to_string()),
        None,
        None,
        Some("d2.example.com".to_string()),
        None,
    ];
    feed.reverse();
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let results = results.clone();
        move |r: ScanResult| results.lock().unwrap().push(r)
    };
    let config = ScanConfig::new(CheckConfig::new("", vec![SIM_RESOLVER]));
    let scan = Scan::new(config, Seed(3), SIM_START, Trickle(feed), sink).unwrap();
    let mut sim = Sim::new(world, Box::new(scan), SIM_START);
    sim.run_bounded(MAX_STEPS).unwrap();
    let results = results.lock().unwrap();
    let names: Vec<_> = results.iter().map(|r| r.domain.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// At most `max_dns_in_flight` queries await answers at once (a resolver drops what it cannot
/// queue); the rest wait their turn, and every domain still gets its verdict.
#[test]
fn dns_queries_in_flight_stay_within_the_limit() {
    let n = 30;
    let world = shared_mx_world(n).0;
    let (results, sim) = scan(&world, domains(n), |c| c.max_dns_in_flight = 2);
    assert_eq!(results.len(), n);
    assert!(sim.peak_open_dns() <= 2, "{}", sim.peak_open_dns());
    let (_, free) = scan(&world, domains(n), |_| {});
    assert!(
        free.peak_open_dns() > 2,
        "without the limit more are open: the test can fail"
    );
    assert_as_single_checks(&world, &results);
}
