//! `tlsrpt` target: arbitrary text as a `_smtp._tls` TXT record (RFC 8460 sec. 3) and as a
//! `daneel tlsrpt merge` input (an RFC 8460 report, an array of them, or a transcript).
//! Oracles: no panic; a record that parses is one [`is_tlsrpt`] accepts; a merge either
//! succeeds or is a typed error, and what it prints reads back and merges to the same
//! reports (a merge of a merge changes nothing).

use crate::report::tlsrpt::build::Reporter;
use crate::report::tlsrpt::merge::{merge, Results};
use crate::report::tlsrpt::record::{is_tlsrpt, parse};

/// Runs one case.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if parse(&text).is_ok() {
        assert!(is_tlsrpt(&text), "a record that parses without the version");
    }
    let Ok(inputs) = Results::read(&text) else {
        return;
    };
    let reporter = Reporter {
        organization: "fuzz".into(),
        contact: "mailto:fuzz@example.invalid".into(),
    };
    let Ok(merged) = merge(&inputs, &reporter) else {
        return;
    };
    let printed = serde_json::to_string(&merged).expect("a merged report serializes");
    let again = Results::read(&printed).expect("merge output reads back");
    assert_eq!(
        merge(&again, &reporter).expect("merging a merge"),
        merged,
        "a merge of a merge changed the reports"
    );
}
