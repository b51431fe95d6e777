//! Transcripts of formats 1 and 2, recorded by older daneels (tests/fixtures/transcripts-v1/
//! and -v2/), re-decided by this version through the public API (issue 8): same verdict, with
//! or without the recorded report (whose reasons and warnings were prose), a note in the
//! report, and a typed error, never a guess, when the recording lacks what this version asks
//! for.

use daneel_core::transcript::{Divergence, Recording, ReplayError, Transcript};
use daneel_core::{CheckKind, DomainVerdict, Report};
use daneel_tests::transcripts::{
    fixture_text, without_events, without_reports, FIXTURES, OLDER_FORMATS,
};

fn v1_text(file: &str) -> String {
    fixture_text(1, file)
}

fn read(text: &str) -> Recording {
    Recording::from_json_lines(text).expect("readable")
}

fn redecided(text: &str) -> Box<Report> {
    let replay = read(text).replay().expect("re-decided");
    assert_eq!(replay.divergence, None);
    replay.report.expect("finished")
}

#[test]
fn every_older_fixture_is_re_decided_to_its_recorded_verdict() {
    for (format, (file, verdict)) in OLDER_FORMATS
        .into_iter()
        .flat_map(|f| FIXTURES.map(|x| (f, x)))
    {
        let text = fixture_text(format, file);
        let Recording::Older {
            transcript,
            recorded_verdict,
        } = read(&text)
        else {
            panic!("v{format}/{file}: an older format");
        };
        assert_eq!(transcript.header.daneel_transcript, format, "{file}");
        assert_eq!(recorded_verdict, Some(verdict), "v{format}/{file}");
        // Format 1 held an SMTP configuration, untagged; format 2 a tagged one.
        assert_eq!(transcript.header.config.kind(), CheckKind::Smtp, "{file}");
        let report = redecided(&text);
        assert_eq!(report.verdict, verdict, "v{format}/{file}");
        assert_eq!(report.kind, CheckKind::Smtp, "{file}");
        let note = report.redecided.as_ref().expect("the report says so");
        assert_eq!(note.format, format, "{file}");
        assert_eq!(note.recorded_by, "daneel 0.1.0", "{file}");
        assert_eq!(note.recorded_verdict, Some(verdict), "v{format}/{file}");
        assert!(note.dns_exchanges >= 2, "v{format}/{file}: {note:?}");
        // In JSON, the field is there; the rest of the SMTP report keeps its shape.
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kind"], "smtp");
        assert_eq!(json["redecided"]["format"], format);
        assert_eq!(json["verdict"], verdict.as_str());
    }
}

/// The format-2 fixture of a DANE failure held a prose reason; re-decided, the reason is
/// typed: the one usable `3 1 1` record does not match the leaf.
#[test]
fn a_format_2_failure_is_re_decided_with_a_typed_reason() {
    use daneel_core::dane::{DaneFailureKind, RecordError};
    use daneel_core::report::Reason;
    let text = fixture_text(2, "failed.jsonl");
    assert!(text.contains("\"detail\":\"no usable TLSA record matched"));
    let report = redecided(&text);
    let reason = report.hosts[0].reason.clone();
    let Some(Reason::TlsaMismatch { failure }) = reason else {
        panic!("{reason:?}");
    };
    assert_eq!(failure.kind, DaneFailureKind::NoMatch);
    assert_eq!(failure.details.len(), 1);
    assert_eq!(failure.details[0].why, RecordError::LeafMismatch);
    assert_eq!(
        (
            failure.details[0].record.usage,
            failure.details[0].record.selector
        ),
        (3, 1)
    );
}

#[test]
fn every_older_fixture_is_re_decided_without_its_recorded_report() {
    for (format, (file, verdict)) in OLDER_FORMATS
        .into_iter()
        .flat_map(|f| FIXTURES.map(|x| (f, x)))
    {
        let stripped = without_reports(&fixture_text(format, file));
        assert!(!stripped.contains("\"done\""), "{file}: report stripped");
        let report = redecided(&stripped);
        assert_eq!(report.verdict, verdict, "{file}");
        assert_eq!(
            report.redecided.as_ref().map(|n| n.recorded_verdict),
            Some(None),
            "{file}"
        );
    }
}

/// The connections are matched too: the partial fixture's two MX hosts each get their own
/// recorded connection (one refused, one verified).
#[test]
fn the_partial_fixture_feeds_both_connections() {
    let report = redecided(&v1_text("partial.jsonl"));
    assert_eq!(report.redecided.as_ref().unwrap().connections, 2);
    let connections: Vec<_> = report.hosts.iter().map(|h| h.connections.len()).collect();
    assert_eq!(connections, vec![1, 1]);
}

#[test]
fn a_different_recorded_verdict_is_a_divergence() {
    let text = v1_text("verified.jsonl").replace(
        "\"verdict\":\"dane-verified\"",
        "\"verdict\":\"dane-failed\"",
    );
    let replay = read(&text).replay().unwrap();
    assert_eq!(
        replay.divergence,
        Some(Divergence::Verdict {
            recorded: DomainVerdict::DaneFailed,
            replayed: DomainVerdict::DaneVerified,
        })
    );
}

/// verified.jsonl: query 0 is the resolver probe, 1 the MX, 2 the A and 3 the TLSA lookup.
fn is_query(event: &serde_json::Value, query: u64) -> bool {
    event["query"] == query || event["action"]["query"] == query
}

#[test]
fn a_question_the_recording_never_asked_is_a_typed_error() {
    let text = without_events(&v1_text("verified.jsonl"), |e| is_query(e, 2));
    match read(&text).replay() {
        Err(ReplayError::MissingDnsExchange { question, .. }) => {
            assert_eq!(question.to_string(), "mx.verified.example. A");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_connection_the_recording_never_opened_is_a_typed_error() {
    let text = without_events(&v1_text("verified.jsonl"), |e| {
        e["action"]["action"] == "connect"
    });
    match read(&text).replay() {
        Err(ReplayError::MissingConnection { addr, recorded }) => {
            assert_eq!(addr.to_string(), "127.20.250.10:25");
            assert_eq!(recorded, 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn waiting_for_a_dns_answer_the_recording_lacks_is_a_typed_error() {
    // Everything up to the TLSA query, nothing after: the answer was never recorded.
    let text = v1_text("verified.jsonl");
    let cut = text
        .lines()
        .position(|l| l.contains("\"action\":\"send-dns\",\"query\":3"))
        .unwrap();
    let text: String = text
        .lines()
        .take(cut + 1)
        .map(|l| format!("{l}\n"))
        .collect();
    match read(&text).replay() {
        Err(ReplayError::DnsExchangeEnds {
            question,
            listened_until,
            waits_until,
            ..
        }) => {
            assert_eq!(question.to_string(), "_25._tcp.mx.verified.example. TLSA");
            assert!(waits_until > listened_until);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_old_format_is_not_replayed_byte_for_byte_and_an_unknown_one_is_refused() {
    let err = Transcript::from_json_lines(&v1_text("verified.jsonl")).unwrap_err();
    assert!(err.detail.contains("re-decided"), "{err}");
    let text = v1_text("verified.jsonl").replacen(
        "\"daneel_transcript\":1",
        "\"daneel_transcript\":99",
        1,
    );
    let err = Recording::from_json_lines(&text).unwrap_err();
    assert_eq!(err.line, 1);
    assert!(
        err.detail.contains("unsupported transcript format 99"),
        "{err}"
    );
}

#[test]
fn waiting_on_a_connection_longer_than_the_recording_listened_is_a_typed_error() {
    // The server's 221 to QUIT removed: this version waits for it, the recording cannot say.
    let text = without_events(&v1_text("verified.jsonl"), |e| {
        e["input"] == "received" && e["bytes"].as_str().is_some_and(|b| b.starts_with("323231"))
    });
    match read(&text).replay() {
        Err(ReplayError::ConnectionEnds {
            addr,
            listened_until,
            waits_until,
        }) => {
            assert_eq!(addr.to_string(), "127.20.250.10:25");
            assert!(waits_until > listened_until);
        }
        other => panic!("{other:?}"),
    }
}
