//! Issue 7: an MX RRset of 1,000 hosts in the simulated world. The check verifies every host
//! while holding at most `DEFAULT_MAX_IN_FLIGHT` DNS exchanges (each a socket in a runtime)
//! and `max_parallel` connections at once, and ends every exchange it opened. The same world
//! served live under `ulimit -n` is in `tests/tests/cli.rs`.

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::dns::DEFAULT_MAX_IN_FLIGHT;
use daneel_core::report::HostVerdict;
use daneel_core::{DomainVerdict, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::bulk::{many_mx, many_mx_host};
use daneel_tests::world::catalogue::{self, SIM_RESOLVER, SIM_START};

const HOSTS: usize = 1_000;

#[test]
fn an_mx_rrset_of_1000_hosts_is_checked_within_the_socket_bounds() {
    let config = CheckConfig::new("example.com", vec![SIM_RESOLVER]);
    let max_parallel = config.max_parallel;
    let check = SmtpCheck::new(config, Seed(1000), SIM_START).unwrap();
    let mut sim = Sim::new(many_mx(HOSTS, 10), Box::new(check), SIM_START);
    let report = sim.run_bounded(2_000_000).unwrap();
    assert_eq!(
        report.verdict,
        DomainVerdict::DaneVerified,
        "{:?}",
        report.warnings
    );
    assert_eq!(report.hosts.len(), HOSTS);
    let mut names: Vec<&str> = report.hosts.iter().map(|h| h.name.as_str()).collect();
    names.sort_unstable();
    let want: Vec<String> = (0..HOSTS).map(many_mx_host).collect();
    assert_eq!(names, want);
    assert!(report
        .hosts
        .iter()
        .all(|h| h.verdict == HostVerdict::Verified));
    // The MX answer alone needs TCP (it exceeds the 1,232-byte EDNS0 payload).
    assert!(sim
        .queries()
        .iter()
        .any(|q| q.rtype == "MX" && q.transport == daneel_core::Transport::Tcp));
    // 1 probe + 1 MX (UDP and TCP) + 1,000 A + 1,000 TLSA (the world has no AAAA).
    assert!(
        sim.queries().len() >= 2 * HOSTS + 2,
        "{}",
        sim.queries().len()
    );
    assert!(
        sim.peak_open_dns() <= DEFAULT_MAX_IN_FLIGHT,
        "{} DNS exchanges open at once",
        sim.peak_open_dns()
    );
    // The bound is reached, so the test would see a check that ignored it.
    assert_eq!(sim.peak_open_dns(), DEFAULT_MAX_IN_FLIGHT);
    assert!(
        sim.peak_open_conns() <= max_parallel,
        "{}",
        sim.peak_open_conns()
    );
    assert_eq!(sim.open_dns(), 0, "every exchange ended");
}

/// Every scenario of the catalogue ends every DNS exchange it opens, whatever its outcome
/// (answers, timeouts, SERVFAIL, TCP fallback, forged datagrams).
#[test]
fn every_scenario_ends_every_dns_exchange() {
    for s in catalogue::all() {
        let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(5), SIM_START).unwrap();
        let mut sim = Sim::new(s.world.clone(), Box::new(check), SIM_START);
        sim.run_bounded(catalogue::MAX_STEPS).unwrap();
        assert_eq!(sim.open_dns(), 0, "{}: exchanges left open", s.id);
        assert!(sim.peak_open_dns() <= DEFAULT_MAX_IN_FLIGHT, "{}", s.id);
    }
}
