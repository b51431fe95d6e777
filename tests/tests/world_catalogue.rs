//! The catalogue builds, ids are unique, and every world answers its destination's first
//! lookup.

use std::collections::BTreeSet;

use daneel_tests::world::catalogue;

#[test]
fn catalogue_is_complete_and_unique() {
    let all = catalogue::all();
    let ids: BTreeSet<_> = all.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), all.len());
    for id in [
        "S01", "S16", "S29", "S30", "S31", "S33", "S38", "S61", "S63", "S73",
    ] {
        assert!(ids.contains(id), "{id} missing");
    }
    assert!(all.len() >= 60, "{}", all.len());
    assert_eq!(catalogue::by_id("S32").unwrap().world.smtp_port(), 587);
}
