//! The demo world gives each domain the verdict the demo announces, in the simulator and
//! live through the tokio runtime (what `daneel demo` runs).

use daneel_core::check::{AddressFamily, CheckConfig, SmtpCheck};
use daneel_core::Seed;
use daneel_tests::demo;
use daneel_tests::live::LiveWorld;
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};

#[test]
fn demo_domains_get_their_verdicts_in_the_simulator() {
    for (domain, what, expected) in demo::DOMAINS {
        let check = SmtpCheck::new(
            CheckConfig::new(domain, vec![SIM_RESOLVER]),
            Seed(1),
            SIM_START,
        )
        .unwrap();
        let mut sim = Sim::new(demo::world(25), Box::new(check), SIM_START);
        let report = sim.run_bounded(10_000).unwrap();
        assert_eq!(
            report.verdict, expected,
            "{domain} ({what}): {:#?}",
            report.log
        );
    }
}

#[test]
fn demo_domains_get_their_verdicts_live() {
    let live = LiveWorld::start(&demo::world(2526), "127.20.251.0".parse().unwrap(), 2526).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (domain, what, expected) in demo::DOMAINS {
        let mut config = CheckConfig::new(domain, vec![live.resolver_addr()]);
        config.port = 2526;
        config.family = AddressFamily::V4;
        let clock = daneel_tokio::system_clock();
        let check = SmtpCheck::new(config, Seed(1), clock.origin()).unwrap();
        let (report, _) = rt.block_on(daneel_tokio::run(check, clock));
        assert_eq!(
            report.verdict, expected,
            "{domain} ({what}): {:#?}",
            report.log
        );
    }
}
