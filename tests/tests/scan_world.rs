//! The generated benchmark world of `daneel scan` (issue 14): its plan is deterministic, it
//! builds quickly, and one `SmtpCheck` of each domain, in the simulator, gives the verdict
//! its plan states.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::dnssec::{DnssecMode, DnssecSettings};
use daneel_core::{DomainVerdict, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};
use daneel_tests::world::generated::{self, plan, HostKind, Kind};
use daneel_tests::world::World;

/// One check of `domain` in `world`, in the simulator.
fn check(world: &World, domain: &str) -> daneel_core::Report {
    let config = CheckConfig::new(domain, vec![SIM_RESOLVER]);
    let machine = SmtpCheck::new(config, Seed(7), SIM_START).unwrap();
    let mut sim = Sim::new(world.clone(), Box::new(machine), SIM_START);
    sim.run_bounded(10_000).unwrap()
}

#[test]
fn the_plan_is_deterministic_and_has_every_kind() {
    assert_eq!(plan(1000, 1), plan(1000, 1));
    assert_ne!(plan(1000, 1).domains, plan(1000, 2).domains);
    let p = plan(1000, 1);
    assert_eq!(p.domains.len(), 1000);
    assert_eq!(p.domains[0].name, "d00000.example");
    assert_eq!(p.domains[999].name, "d00999.example");
    let count = |k: Kind| p.domains.iter().filter(|d| d.kind == k).count();
    assert!(count(Kind::Dane) > 700, "mostly good DANE");
    for k in [Kind::Failing, Kind::NoTlsa, Kind::Insecure] {
        assert!((40..=130).contains(&count(k)), "{k:?}: {}", count(k));
    }
    let two = p.domains.iter().filter(|d| d.mx.len() == 2).count();
    assert!(
        (250..=420).contains(&two),
        "about a third have two MX hosts: {two}"
    );
    for d in &p.domains {
        let hosts: BTreeSet<usize> = d.mx.iter().copied().collect();
        assert_eq!(hosts.len(), d.mx.len(), "{}: distinct MX hosts", d.name);
    }
    // Many domains per host, few addresses.
    assert_eq!(p.hosts.len(), 40);
    assert_eq!(p.addrs.len(), 5);
    let mut per_host: BTreeMap<usize, usize> = BTreeMap::new();
    for h in p.domains.iter().flat_map(|d| &d.mx) {
        *per_host.entry(*h).or_default() += 1;
    }
    assert_eq!(per_host.len(), p.hosts.len(), "every host is used");
    assert!(per_host.values().all(|n| *n >= 10), "{per_host:?}");
    let ta = p
        .hosts
        .iter()
        .filter(|h| h.kind == HostKind::DaneTa)
        .count();
    assert!(ta >= 4, "some DANE-TA hosts: {ta}");
    assert_eq!(
        generated::expected(1000, 1),
        p.domains
            .iter()
            .map(|d| (d.name.clone(), d.kind.verdict()))
            .collect::<Vec<_>>()
    );
}

/// Building the 10,000-domain world takes well under a second in an optimised build; the
/// bound here is loose (debug builds, a shared machine) and only catches a blow-up.
#[test]
fn ten_thousand_domains_build_quickly() {
    let started = Instant::now();
    let world = generated::generated(10_000, 1);
    let took = started.elapsed();
    eprintln!("generated(10_000) built in {took:?}");
    assert!(took.as_secs() < 20, "{took:?}");
    assert_eq!(
        world.hosts().len(),
        plan(10_000, 1).addrs.len(),
        "one server per shared address"
    );
}

/// Every domain kind, with one and with two MX hosts, checked once: the verdict is the
/// plan's.
#[test]
fn one_check_of_each_kind_gives_the_planned_verdict() {
    let p = plan(1000, 3);
    let world = p.world();
    let mut seen = BTreeSet::new();
    for d in &p.domains {
        let ta = d.mx.iter().any(|h| p.hosts[*h].kind == HostKind::DaneTa);
        if !seen.insert((format!("{:?}", d.kind), d.mx.len(), ta)) {
            continue;
        }
        let report = check(&world, &d.name);
        assert_eq!(
            report.verdict,
            d.kind.verdict(),
            "{} ({:?}, hosts {:?}): {:#?}",
            d.name,
            d.kind,
            d.mx,
            report.log
        );
        if d.kind == Kind::Dane {
            assert_eq!(report.verdict, DomainVerdict::DaneVerified);
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
}

/// Every domain of the 1,000-domain world, checked alone, gets the verdict of its plan (the
/// world's own test, without the scan).
#[test]
fn every_domain_of_a_thousand_gets_its_planned_verdict() {
    let p = plan(1000, 1);
    let world = p.world();
    let mut wrong = Vec::new();
    for (domain, verdict) in p.expected() {
        let report = check(&world, &domain);
        if report.verdict != verdict {
            wrong.push(format!(
                "{domain}: {} (expected {})",
                report.verdict.as_str(),
                verdict.as_str()
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of 1000: {wrong:#?}", wrong.len());
}

/// One check of `domain` in `world` with every DNS answer `delay` after its query and the
/// mail servers answering at once: the simulated time it took, its DNS rounds, its verdict,
/// and its queries as `depth:name/type`.
fn critical_path(
    world: World,
    config: CheckConfig,
    delay: Duration,
) -> (Duration, u32, DomainVerdict, Vec<String>) {
    let machine = SmtpCheck::new(config, Seed(7), SIM_START).unwrap();
    let mut sim = Sim::new(world, Box::new(machine), SIM_START).with_latency(delay, Duration::ZERO);
    let report = sim.run_bounded(10_000).unwrap();
    let queries = sim
        .rounds_log()
        .into_iter()
        .map(|(_, name, rtype, depth)| format!("{depth}:{name}/{rtype}"))
        .collect();
    (sim.elapsed(), sim.dns_rounds(), report.verdict, queries)
}

/// Issue 14, the critical path of one check: with every DNS answer 50 ms after its query and
/// the mail servers answering at once, the simulated time of a check of a secure domain with
/// two MX hosts divided by 50 ms is its number of sequential DNS rounds, 3: the MX lookup
/// (with the resolver probe and the TLSRPT record beside it), the address lookups of both
/// hosts, then their TLSA lookups. The simulated clock makes this exact, not a timing.
#[test]
fn critical_path_of_a_secure_two_mx_domain_is_three_dns_rounds() {
    let delay = Duration::from_millis(50);
    let p = plan(1000, 1);
    let d = p
        .secure_two_mx()
        .expect("a secure domain with two MX hosts");
    let config = CheckConfig::new(d.name.as_str(), vec![SIM_RESOLVER]);
    let (elapsed, rounds, verdict, queries) = critical_path(p.world(), config, delay);
    eprintln!(
        "{}: {elapsed:?} / {delay:?} = {} DNS rounds; {queries:?}",
        d.name,
        elapsed.as_nanos() / delay.as_nanos()
    );
    assert_eq!(verdict, DomainVerdict::DaneVerified);
    assert_eq!(elapsed, delay * 3, "{queries:?}");
    assert_eq!(rounds, 3, "{queries:?}");
}

/// The same check with `--dnssec validate` (the core's own validator, asking with CD=1)
/// takes 5 rounds today: the MX answer reaches the check only once its zone's chain
/// (`example` DS and DNSKEY, and the root DNSKEY again) is in, so the address lookups
/// wait one round; the same again for the hosts' zone (`mx.example`) before the TLSA
/// lookups. Pinned so that a change to the critical path is seen here.
#[test]
fn critical_path_when_the_core_validates_is_five_dns_rounds() {
    let delay = Duration::from_millis(50);
    let p = plan(1000, 1);
    let world = p.world();
    let d = p
        .secure_two_mx()
        .expect("a secure domain with two MX hosts");
    let mut config = CheckConfig::new(d.name.as_str(), vec![SIM_RESOLVER]);
    config.dnssec = DnssecSettings::new(DnssecMode::Validate);
    config.dnssec.trust_anchors = vec![world.trust_anchor_line()];
    let (elapsed, rounds, verdict, queries) = critical_path(world, config, delay);
    eprintln!("{}, validate: {elapsed:?}; {queries:?}", d.name);
    assert_eq!(verdict, DomainVerdict::DaneVerified);
    assert_eq!(elapsed, delay * 5, "{queries:?}");
    assert_eq!(rounds, 5, "{queries:?}");
    let round = |n: u32| {
        let mut q: Vec<&str> = queries
            .iter()
            .filter_map(|q| q.strip_prefix(&format!("{n}:")))
            .collect();
        q.sort();
        q
    };
    assert_eq!(round(2), ["/DNSKEY", "example/DNSKEY", "example/DS"]);
    assert_eq!(round(4), ["mx.example/DNSKEY", "mx.example/DS"]);
}

/// `World::name_exists` answers from an index of names built on first use (so a 10,000
/// domain world answers NXDOMAIN without a scan); a record added afterwards is seen.
#[test]
fn name_exists_sees_empty_non_terminals_and_later_records() {
    use std::net::Ipv4Addr;
    let world = World::builder()
        .zone("example.com", daneel_tests::world::Status::Secure)
        .a("a.b.example.com", Ipv4Addr::new(192, 0, 2, 1))
        .build();
    assert!(world.name_exists("a.b.example.com"));
    assert!(world.name_exists("B.example.com."), "an empty non-terminal");
    assert!(world.name_exists("example.com"), "a zone apex");
    assert!(!world.name_exists("c.example.com"));
    assert!(
        !world.name_exists("b.example"),
        "not a label boundary of an owner"
    );
    assert!(!world.name_exists("x.a.b.example.com"));
    let world = world
        .edit()
        .a("x.c.example.com", Ipv4Addr::new(192, 0, 2, 2))
        .build();
    assert!(world.name_exists("c.example.com"));
    assert!(world.name_exists("x.c.example.com"));
}

/// Runs `daneel_core::scan::Scan` over every domain of `p` in `world`, `concurrency` at a
/// time: its results (in completion order) and the simulator.
fn scan(
    world: &World,
    p: &generated::Plan,
    concurrency: usize,
) -> (Vec<daneel_core::scan::ScanResult>, Sim) {
    use daneel_core::scan::{Scan, ScanConfig, ScanResult};
    use std::sync::{Arc, Mutex};
    let mut config = ScanConfig::new(CheckConfig::new("", vec![SIM_RESOLVER]));
    config.concurrency = concurrency;
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let results = results.clone();
        move |r: ScanResult| results.lock().unwrap().push(r)
    };
    let domains = p.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    let scan = Scan::new(config, Seed(14), SIM_START, domains.into_iter(), sink).unwrap();
    let mut sim = Sim::new(world.clone(), Box::new(scan), SIM_START);
    sim.run_bounded(10_000_000).expect("the scan finishes");
    let results = std::mem::take(&mut *results.lock().unwrap());
    (results, sim)
}

/// The decisions of a report: the domain verdict, and each host's verdict and reason.
fn decisions(r: &daneel_core::Report) -> (DomainVerdict, Vec<String>) {
    let hosts = r
        .hosts
        .iter()
        .map(|h| format!("{} {:?} {:?}", h.name, h.verdict, h.reason))
        .collect();
    (r.verdict, hosts)
}

/// Issue 14: a scan of the 1,000 generated domains gives each domain the verdict of its plan
/// and the decisions of a single check of it, and asks each shared question once: one TLSA
/// and one address lookup per MX host however many domains share it (none for TLSA of the
/// hosts in the unsigned zone), one MX lookup per domain, one resolver probe.
#[test]
fn a_scan_of_a_thousand_generated_domains_matches_the_plan_and_single_checks() {
    use daneel_core::scan::ScanOutcome;
    let p = plan(1000, 1);
    let world = p.world();
    for concurrency in [100, 1000] {
        let (results, sim) = scan(&world, &p, concurrency);
        assert_eq!(results.len(), p.domains.len(), "concurrency {concurrency}");
        let mut indices: Vec<u64> = results.iter().map(|r| r.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..1000).collect::<Vec<u64>>(), "each domain once");
        let kinds: BTreeMap<&str, Kind> = p
            .domains
            .iter()
            .map(|d| (d.name.as_str(), d.kind))
            .collect();
        for r in &results {
            let ScanOutcome::Report(report) = &r.outcome else {
                panic!("{}: {:?}", r.domain, r.outcome);
            };
            assert_eq!(
                report.verdict,
                kinds[r.domain.as_str()].verdict(),
                "{}",
                r.domain
            );
            assert_eq!(
                decisions(report),
                decisions(&check(&world, &r.domain)),
                "{}",
                r.domain
            );
        }
        let mut asked: BTreeMap<(String, String), usize> = BTreeMap::new();
        for q in sim.queries() {
            *asked.entry((q.name, q.rtype)).or_default() += 1;
        }
        let count = |name: &str, rtype: &str| {
            asked
                .get(&(name.to_string(), rtype.to_string()))
                .copied()
                .unwrap_or(0)
        };
        for h in &p.hosts {
            let tlsa = format!("_25._tcp.{}", h.name);
            let want = usize::from(h.kind != HostKind::Plain);
            assert_eq!(count(&tlsa, "TLSA"), want, "{} ({:?})", h.name, h.kind);
            assert_eq!(count(&h.name, "A"), 1, "{}", h.name);
        }
        for d in &p.domains {
            assert_eq!(count(&d.name, "MX"), 1, "{}", d.name);
        }
        assert_eq!(count("", "DNSKEY"), 1, "one resolver probe");
        eprintln!(
            "concurrency {concurrency}: {} queries for {} domains, {:?} simulated, peak {} DNS exchanges and {} connections open",
            sim.queries().len(),
            results.len(),
            sim.elapsed(),
            sim.peak_open_dns(),
            sim.peak_open_conns()
        );
    }
}
