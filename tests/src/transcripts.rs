//! The transcript fixtures of older formats kept in `tests/fixtures/` (their README says how
//! and from which commit they were recorded), and edits that tests make to them.

use std::path::PathBuf;

use daneel_core::DomainVerdict;

/// The older formats kept as fixtures: `tests/fixtures/transcripts-v1/` and `-v2/`, each
/// with the same files, recorded from the same worlds.
pub const OLDER_FORMATS: [u32; 2] = [1, 2];

/// The fixtures of each older format and the verdict each recorded.
pub const FIXTURES: [(&str, DomainVerdict); 6] = [
    ("verified.jsonl", DomainVerdict::DaneVerified),
    ("ta-verified.jsonl", DomainVerdict::DaneVerified),
    ("failed.jsonl", DomainVerdict::DaneFailed),
    ("bogus.jsonl", DomainVerdict::TempFail),
    ("null-mx.jsonl", DomainVerdict::NullMx),
    ("partial.jsonl", DomainVerdict::DanePartial),
];

/// The path of a fixture of transcript format `format`.
pub fn fixture_path(format: u32, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/transcripts-v{format}"))
        .join(file)
}

/// The text of a fixture of transcript format `format`.
pub fn fixture_text(format: u32, file: &str) -> String {
    std::fs::read_to_string(fixture_path(format, file))
        .unwrap_or_else(|e| panic!("v{format}/{file}: {e}"))
}

/// Whether a transcript event is a recorded final report (`"output": "done"`).
pub fn is_report(event: &serde_json::Value) -> bool {
    event["event"] == "output" && event["output"] == "done"
}

/// The transcript without the events for which `drop` is true (the header is kept).
pub fn without_events(text: &str, drop: impl Fn(&serde_json::Value) -> bool) -> String {
    text.lines()
        .enumerate()
        .filter(|(i, l)| {
            *i == 0 || !serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| drop(&v))
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// The transcript without its recorded report lines.
pub fn without_reports(text: &str) -> String {
    without_events(text, is_report)
}
