//! Every scenario of the catalogue (SPEC-NOTES c.1-c.3 and our extras) through the real
//! `SmtpCheck` in the simulated world: exact domain, host and connection verdicts and reasons,
//! a bounded number of steps, and a transcript that replays to the same outputs.

use daneel_core::check::SmtpCheck;
use daneel_core::Seed;
use daneel_tests::world::catalogue::{self, Scenario, SIM_RESOLVER, SIM_START};

fn check_for(s: &Scenario) -> SmtpCheck {
    let config = s.config(SIM_RESOLVER);
    SmtpCheck::new(config, Seed(0x5eed), SIM_START).expect("valid configuration")
}

#[test]
fn every_scenario_gives_its_expected_verdicts() {
    let mut failures = Vec::new();
    let all = catalogue::all();
    for s in &all {
        match s.run(Box::new(check_for(s))) {
            Ok((report, mismatches, _sim)) => {
                if !mismatches.is_empty() {
                    failures.push(format!(
                        "{} {} ({}): {}\n{}",
                        s.id,
                        s.title,
                        s.destination,
                        mismatches.join("; "),
                        report
                            .log
                            .iter()
                            .map(|l| format!("      {}", l.text))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
            Err(e) => failures.push(format!("{} {}: simulation error {e:?}", s.id, s.title)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
