//! Every scenario of the catalogue (SPEC-NOTES c.1-c.3 and our extras) through the real
//! `SmtpCheck` in the simulated world: exact domain, host and connection verdicts and reasons,
//! within a bounded number of steps.
//!
//! Each scenario is its own test, named after its id in lower case, so `cargo test -p
//! daneel --test scenarios s25` runs one. `each_catalogue_scenario_has_its_own_test`
//! fails when the catalogue and the list below differ, so together the tests cover every
//! verdict of the catalogue.

use std::collections::BTreeSet;

use daneel_core::check::SmtpCheck;
use daneel_core::Seed;
use daneel_tests::world::catalogue::{self, Scenario, SIM_RESOLVER, SIM_START};

fn check_for(s: &Scenario) -> SmtpCheck {
    let config = s.config(SIM_RESOLVER);
    SmtpCheck::new(config, Seed(0x5eed), SIM_START).expect("valid configuration")
}

/// Runs the catalogue scenario whose id is `id` (in any case) and asserts its expected
/// verdicts.
fn run_scenario(id: &str) {
    let s = catalogue::all()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .unwrap_or_else(|| panic!("no scenario {id} in the catalogue"));
    let (report, mismatches, _sim) = s
        .run(Box::new(check_for(&s)))
        .unwrap_or_else(|e| panic!("{} {}: simulation error {e:?}", s.id, s.title));
    assert!(
        mismatches.is_empty(),
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
    );
}

/// One `#[test]` per listed id, calling [`run_scenario`], and `GENERATED`, the listed ids.
macro_rules! scenario_tests {
    ($($id:ident)*) => {
        $(
            #[test]
            fn $id() {
                run_scenario(stringify!($id));
            }
        )*
        /// The ids that have a generated test, in lower case.
        const GENERATED: &[&str] = &[$(stringify!($id)),*];
    };
}

scenario_tests! {
    s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 s11 s12 s13 s14 s15 s16 s17 s18 s19 s20
    s21 s22 s22b s23 s24 s25 s26 s27 s28 s29 s30 s31 s32 s33 s34 s35 s36 s37 s38 s39
    s40 s41 s42 s43 s44 s45 s46 s47 s48 s49 s50 s51 s52 s53 s54 s55 s56 s57 s58 s59
    s61 s62 s63 s73
    x01 x02 x03 x04 x05 x06 x07 x08 x09 x10 x11 x12 x13 x14 x15 x16 x17 x18 x19 x20
    x21 x22 x23 x24 x25 x26 x27
}

#[test]
fn each_catalogue_scenario_has_its_own_test() {
    let all = catalogue::all();
    let catalogue: BTreeSet<String> = all.iter().map(|s| s.id.to_ascii_lowercase()).collect();
    assert_eq!(catalogue.len(), all.len(), "ids that differ only in case");
    let generated: BTreeSet<String> = GENERATED.iter().map(|id| id.to_string()).collect();
    assert_eq!(generated.len(), GENERATED.len(), "an id listed twice");
    let untested: Vec<&String> = catalogue.difference(&generated).collect();
    let unknown: Vec<&String> = generated.difference(&catalogue).collect();
    assert!(
        untested.is_empty() && unknown.is_empty(),
        "add to scenario_tests! the scenarios {untested:?}; remove the ids {unknown:?} that \
         the catalogue lacks"
    );
}
