//! Checks recorded in the interop lab with `--dnssec validate` through its iterator-only
//! unbound (issue 13), kept in `tests/fixtures/transcripts-validate/`: real zones signed by
//! ldns-signzone (NSEC3 in `dane.lab`, NSEC3 opt-out in the `lab` TLD, an expired RRSIG in
//! `broken.lab`), served by NSD, every DS and DNSKEY lookup of the in-core validator in the
//! transcript. Each replays byte for byte to its verdict, so a change in the validator's
//! decisions on real data shows here without the lab; and a replay with another trust anchor
//! diverges, so the fixtures do depend on validating the chain.

use daneel_core::transcript::Recording;
use daneel_core::DomainVerdict;

/// The fixtures and the verdict each recorded.
const FIXTURES: [(&str, DomainVerdict); 5] = [
    // s01.dane.lab: DANE-EE through a chain root -> lab -> dane.lab (NSEC3)
    ("verified.jsonl", DomainVerdict::DaneVerified),
    // s11.dane.lab: a secure NSEC3 NODATA for the TLSA RRset
    ("no-tlsa.jsonl", DomainVerdict::NoDane),
    // s18.broken.lab: its MX RRset's RRSIG has expired: bogus, delivery deferred
    ("expired-mx.jsonl", DomainVerdict::TempFail),
    // s19.unsigned.lab: insecure below an NSEC3 opt-out delegation; its MX host is signed
    ("opt-out.jsonl", DomainVerdict::DaneTrusted),
    // nosuch.dane.lab: a secure NSEC3 NXDOMAIN
    ("nxdomain.jsonl", DomainVerdict::Nxdomain),
];

fn text(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/transcripts-validate")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn lab_checks_with_in_core_validation_replay_byte_for_byte() {
    for (file, verdict) in FIXTURES {
        let recording = Recording::from_json_lines(&text(file)).expect("readable");
        assert!(
            matches!(recording, Recording::Current(_)),
            "{file}: recorded in the current format (re-record it from the lab when the format changes)"
        );
        let replay = recording.replay().expect("replays");
        assert_eq!(replay.divergence, None, "{file}");
        let report = replay.report.expect("finished");
        assert_eq!(report.verdict, verdict, "{file}");
        assert_eq!(report.resolver.mode, "validate", "{file}");
    }
}

#[test]
fn another_trust_anchor_makes_every_replay_diverge() {
    for (file, _) in FIXTURES {
        let original = text(file);
        let header_end = original.find('\n').expect("a header line");
        let header = &original[..header_end];
        // The DS digest's last hex digit changed: the anchor no longer matches the lab root.
        let at = header.find("\"]}").expect("a trust anchor in the header") - 1;
        let digit = header.as_bytes()[at];
        let other = if digit == b'0' { '1' } else { '0' };
        let edited = format!("{}{other}{}", &original[..at], &original[at + 1..]);
        let replay = Recording::from_json_lines(&edited)
            .expect("readable")
            .replay()
            .expect("replays");
        assert!(
            replay.divergence.is_some(),
            "{file}: the anchor did not matter"
        );
    }
}
