//! RFC 8460 TLS reports from checks in the simulated world: the mapping of outcomes to
//! result types on catalogue scenarios, the report of a failing domain against a golden
//! file, the field names and JSON types of RFC 8460 sec. 4.4, merging three checks of two
//! domains, and the `_smtp._tls` TXT record (sec. 3): shown, validated, and never a change
//! of verdict.

use std::net::Ipv4Addr;
use std::time::Duration;

use daneel_core::check::CheckConfig;
use daneel_core::dane::TlsaRecord;
use daneel_core::report::tlsrpt::build::{self, Reporter};
use daneel_core::report::tlsrpt::json::{PolicyType, TlsRptReport};
use daneel_core::report::tlsrpt::merge::{merge, MergeError, Results};
use daneel_core::report::tlsrpt::record::{RecordProblem, TlsRptLookup};
use daneel_core::report::tlsrpt::ResultType;
use daneel_core::report::Warning;
use daneel_core::{Report, Seed};
use daneel_tests::sim::record;
use daneel_tests::world::catalogue::{self, SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::{self_signed, server_tls};
use daneel_tests::world::{Fault, MailServer, Status, World};
use hickory_proto::rr::RecordType;
use serde_json::Value;

const SENDER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 25);

fn reporter() -> Reporter {
    Reporter {
        organization: "Example Sender".into(),
        contact: "mailto:tls-reports@sender.example".into(),
    }
}

fn check(world: &World, config: CheckConfig) -> Report {
    record(world, config, Seed(5), SIM_START).0
}

fn rpt(report: &Report) -> TlsRptReport {
    build::from_check(
        report,
        &reporter(),
        SIM_START.saturating_add(Duration::from_secs(60)),
        &|_| Some(SENDER.into()),
    )
    .expect("an SMTP check of a domain")
}

/// The result types of a report's failure details, with their session counts, and its
/// successful sessions.
fn outcome(r: &TlsRptReport) -> (Vec<(ResultType, u64)>, u64) {
    let p = &r.policies[0];
    let failures = p
        .failure_details
        .iter()
        .map(|d| (d.result_type, d.failed_session_count))
        .collect();
    (failures, p.summary.total_successful_session_count)
}

/// A scenario, the failures (result type, sessions) and the successful sessions of its
/// report.
type Row = (&'static str, &'static [(ResultType, u64)], u64);

/// Rows of the mapping table (`core::report::tlsrpt`), each on the catalogue scenario that
/// shows it.
#[test]
fn catalogue_scenarios_map_to_their_rfc_8460_result_types() {
    use ResultType as T;
    let rows: [Row; 12] = [
        ("S01", &[], 1),
        // DANE-EE ignores dates: an expired leaf is a success, never certificate-expired.
        ("S02", &[], 1),
        ("S05", &[(T::ValidationFailure, 1)], 0),
        ("S06", &[(T::StarttlsNotSupported, 1)], 0),
        ("S08", &[(T::DnssecInvalid, 1)], 0),
        ("S10", &[(T::DnssecInvalid, 1)], 0),
        ("S22", &[(T::DaneRequired, 1)], 0),
        ("S44", &[(T::CertificateHostMismatch, 1)], 0),
        ("S45", &[(T::CertificateExpired, 1)], 0),
        ("S51", &[(T::TlsaInvalid, 1)], 0),
        ("X03", &[(T::ValidationFailure, 1)], 0),
        // An address lookup failure reaches no TLS: no session to count.
        ("X13", &[], 0),
    ];
    for (id, failures, successes) in rows {
        let s = catalogue::by_id(id).unwrap();
        let report = check(&s.world, s.config(SIM_RESOLVER));
        let r = rpt(&report);
        assert_eq!(r.policies.len(), 1, "{id}");
        assert_eq!(outcome(&r), (failures.to_vec(), successes), "{id}: {r:#?}");
        let summary = r.policies[0].summary;
        assert_eq!(
            summary.total_failure_session_count,
            failures.iter().map(|f| f.1).sum::<u64>(),
            "{id}"
        );
    }
    // No TLSA records: the policy is "no-policy-found", the session a success.
    let s = catalogue::by_id("S11").unwrap();
    let r = rpt(&check(&s.world, s.config(SIM_RESOLVER)));
    assert_eq!(r.policies[0].policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(outcome(&r), (vec![], 1));
}

/// A TLSA record whose data is fixed, so that reports stay the same from run to run.
fn fixed_tlsa(fill: u8) -> TlsaRecord {
    TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![fill; 32],
    }
}

/// example.com: a secure MX RRset of two hosts with fixed TLSA records; mx1 presents a
/// certificate that matches none, mx2 offers no STARTTLS; a TLSRPT record.
fn failing_domain(domain: &str, txt: Option<&str>) -> World {
    let cert = self_signed(&[&format!("mx1.{domain}")]);
    let mut b = World::builder()
        .zone(domain, Status::Secure)
        .mx(domain, 10, &format!("mx1.{domain}"))
        .mx(domain, 20, &format!("mx2.{domain}"))
        .a(&format!("mx1.{domain}"), Ipv4Addr::new(192, 0, 2, 11))
        .a(&format!("mx2.{domain}"), Ipv4Addr::new(192, 0, 2, 12))
        .tlsa_for(&format!("mx1.{domain}"), &fixed_tlsa(0xab))
        .tlsa_for(&format!("mx2.{domain}"), &fixed_tlsa(0xcd))
        .server(
            "192.0.2.11".parse().unwrap(),
            MailServer::new(&format!("mx1.{domain}")).with_tls(server_tls(&[&cert])),
        )
        .server(
            "192.0.2.12".parse().unwrap(),
            MailServer::new(&format!("mx2.{domain}"))
                .with_tls(server_tls(&[&cert]))
                .without_starttls(),
        );
    if let Some(txt) = txt {
        b = b.txt(&format!("_smtp._tls.{domain}"), txt);
    }
    b.build()
}

const RUA: &str = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";

/// The report of a failing domain, against `tests/golden/tlsrpt-failing-domain.json`
/// (`DANEEL_BLESS=1` rewrites it).
#[test]
fn report_of_a_failing_domain_equals_the_golden_file() {
    let world = failing_domain("example.com", Some(RUA));
    let report = check(&world, CheckConfig::new("example.com", vec![SIM_RESOLVER]));
    let text = serde_json::to_string_pretty(&rpt(&report)).unwrap() + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/tlsrpt-failing-domain.json");
    if std::env::var_os("DANEEL_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("the golden file");
    assert_eq!(text, golden, "DANEEL_BLESS=1 rewrites the golden file");
}

/// The JSON type of a value, as RFC 8460 sec. 4.4 names it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The keys of `v` with the types of their values, sorted.
fn shape(v: &Value) -> Vec<(String, &'static str)> {
    let mut keys: Vec<_> = v
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), kind(v)))
        .collect();
    keys.sort();
    keys
}

fn pairs(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    let mut v: Vec<_> = list.iter().map(|(k, t)| (k.to_string(), *t)).collect();
    v.sort();
    v
}

/// RFC 8460 sec. 4.4: every field name and JSON type of the report, its policy, summary
/// and failure details; date-times are RFC 3339 (sec. 4.1).
#[test]
fn report_fields_have_the_rfc_8460_names_and_types() {
    let world = failing_domain("example.com", Some(RUA));
    let report = check(&world, CheckConfig::new("example.com", vec![SIM_RESOLVER]));
    let v = serde_json::to_value(rpt(&report)).unwrap();
    assert_eq!(
        shape(&v),
        pairs(&[
            ("organization-name", "string"),
            ("date-range", "object"),
            ("contact-info", "string"),
            ("report-id", "string"),
            ("policies", "array"),
        ])
    );
    assert_eq!(
        shape(&v["date-range"]),
        pairs(&[("start-datetime", "string"), ("end-datetime", "string")])
    );
    for key in ["start-datetime", "end-datetime"] {
        let text = v["date-range"][key].as_str().unwrap();
        assert!(daneel_core::time::parse_rfc3339(text).is_some(), "{text}");
    }
    let policy = &v["policies"][0];
    assert_eq!(
        shape(policy),
        pairs(&[
            ("policy", "object"),
            ("summary", "object"),
            ("failure-details", "array"),
        ])
    );
    assert_eq!(
        shape(&policy["policy"]),
        pairs(&[
            ("policy-type", "string"),
            ("policy-string", "array"),
            ("policy-domain", "string"),
            ("mx-host", "array"),
        ])
    );
    assert_eq!(policy["policy"]["policy-type"], "tlsa");
    for s in policy["policy"]["policy-string"].as_array().unwrap() {
        let text = s.as_str().expect("presentation strings");
        assert!(text.starts_with("3 1 1 "), "{text}");
    }
    assert!(policy["policy"]["mx-host"]
        .as_array()
        .unwrap()
        .iter()
        .all(Value::is_string));
    assert_eq!(
        shape(&policy["summary"]),
        pairs(&[
            ("total-successful-session-count", "integer"),
            ("total-failure-session-count", "integer"),
        ])
    );
    let details = policy["failure-details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    for d in details {
        assert_eq!(
            shape(d),
            pairs(&[
                ("result-type", "string"),
                ("sending-mta-ip", "string"),
                ("receiving-mx-hostname", "string"),
                ("receiving-ip", "string"),
                ("failed-session-count", "integer"),
                ("additional-information", "string"),
                ("failure-reason-code", "string"),
            ]),
            "{d}"
        );
        assert!(d["additional-information"]
            .as_str()
            .unwrap()
            .starts_with("data:,"));
    }
    // And it reads back as what was written.
    let back: TlsRptReport = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), v);
}

/// Three checks of two domains (two of one, recorded as transcripts and decided again; one
/// of the other, as an RFC 8460 report) merge into one report per domain: two policies,
/// the counts of the same domain added, equal failures one group.
#[test]
fn three_checks_of_two_domains_merge_into_two_policies_with_summed_counts() {
    let a = failing_domain("example.com", Some(RUA));
    let b = failing_domain("example.org", None);
    let config = |d: &str| CheckConfig::new(d, vec![SIM_RESOLVER]);
    let (_, first) = record(&a, config("example.com"), Seed(1), SIM_START);
    let later = SIM_START.saturating_add(Duration::from_secs(3600));
    let (_, second) = record(&a, config("example.com"), Seed(2), later);
    let other = rpt(&check(&b, config("example.org")));
    let inputs: Vec<Results> = [
        Results::read(&first.to_json_lines()).unwrap(),
        Results::read(&second.to_json_lines()).unwrap(),
        Results::read(&serde_json::to_string(&other).unwrap()).unwrap(),
    ]
    .concat();
    let merged = merge(&inputs, &reporter()).unwrap();
    // The order of the inputs never shows, report ids included.
    let reversed: Vec<Results> = inputs.iter().rev().cloned().collect();
    assert_eq!(merge(&reversed, &reporter()).unwrap(), merged);
    assert_eq!(merged.len(), 2, "{merged:#?}");
    assert_eq!(merged.iter().map(|r| r.policies.len()).sum::<usize>(), 2);
    let com = &merged[0].policies[0];
    assert_eq!(com.policy.policy_domain, "example.com");
    assert_eq!(com.summary.total_failure_session_count, 4);
    assert_eq!(com.summary.total_successful_session_count, 0);
    let groups: Vec<_> = com
        .failure_details
        .iter()
        .map(|d| {
            (
                d.result_type,
                d.receiving_mx_hostname.as_str(),
                d.failed_session_count,
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (ResultType::ValidationFailure, "mx1.example.com", 2),
            (ResultType::StarttlsNotSupported, "mx2.example.com", 2),
        ]
    );
    let org = &merged[1].policies[0];
    assert_eq!(org.policy.policy_domain, "example.org");
    assert_eq!(org.summary.total_failure_session_count, 2);
    // Each domain's date range spans its own checks: example.com both, example.org one.
    assert_eq!(merged[0].date_range.start_datetime, SIM_START.to_rfc3339());
    assert!(merged[0].date_range.end_datetime >= later.to_rfc3339());
    assert_eq!(merged[1].date_range.start_datetime, SIM_START.to_rfc3339());
    assert!(merged[1].date_range.end_datetime < later.to_rfc3339());
    assert_ne!(merged[0].report_id, merged[1].report_id);
    // What `daneel tlsrpt merge` prints (a JSON array) reads back and merges to the same
    // reports.
    let printed = serde_json::to_string_pretty(&merged).unwrap();
    let again = Results::read(&printed).unwrap();
    assert_eq!(merge(&again, &reporter()).unwrap(), merged);
}

/// Bad merge inputs are typed errors, never panics: counts that overflow when added, a date
/// range that ends before it starts, something that is not a report.
#[test]
fn bad_merge_inputs_are_typed_errors() {
    let b = failing_domain("example.org", None);
    let report = rpt(&check(
        &b,
        CheckConfig::new("example.org", vec![SIM_RESOLVER]),
    ));
    let mut huge = report.clone();
    huge.policies[0].summary.total_failure_session_count = u64::MAX;
    let inputs = [
        Results::of_report(huge).unwrap(),
        Results::of_report(report.clone()).unwrap(),
    ];
    assert!(matches!(
        merge(&inputs, &reporter()),
        Err(MergeError::CountOverflow { .. })
    ));
    let mut backwards = report.clone();
    backwards.date_range.end_datetime = "2000-01-01T00:00:00Z".into();
    assert!(matches!(
        Results::of_report(backwards),
        Err(MergeError::BadDate { .. })
    ));
    assert!(matches!(
        Results::read("[1, 2]"),
        Err(MergeError::NotAReport { .. })
    ));
    assert!(matches!(
        Results::read("{\"x\": 1}"),
        Err(MergeError::NotAReport { .. })
    ));
}

/// RFC 8460 sec. 3: the record is shown with its DNSSEC status and parsed.
#[test]
fn the_tlsrpt_record_is_shown_with_its_dnssec_status() {
    let world = failing_domain("example.com", Some(RUA));
    let report = check(&world, CheckConfig::new("example.com", vec![SIM_RESOLVER]));
    let TlsRptLookup::Found {
        name,
        security,
        record,
        problems,
        ..
    } = &report.tlsrpt
    else {
        panic!("{:#?}", report.tlsrpt);
    };
    assert_eq!(name, "_smtp._tls.example.com");
    assert!(security.is_secure());
    assert_eq!(record.as_ref().unwrap().rua, ["mailto:tlsrpt@example.com"]);
    assert!(problems.is_empty());
    let none = check(
        &failing_domain("example.com", None),
        CheckConfig::new("example.com", vec![SIM_RESOLVER]),
    );
    assert!(
        matches!(none.tlsrpt, TlsRptLookup::Absent { .. }),
        "{:#?}",
        none.tlsrpt
    );
    // Two records: the domain does not implement TLSRPT (sec. 3).
    let two = failing_domain("example.com", Some(RUA))
        .edit()
        .txt(
            "_smtp._tls.example.com",
            "v=TLSRPTv1; rua=https://r.example.net/",
        )
        .build();
    let two = check(&two, CheckConfig::new("example.com", vec![SIM_RESOLVER]));
    assert!(
        matches!(&two.tlsrpt, TlsRptLookup::Found { problems, record: None, .. }
            if problems == &[RecordProblem::MultipleRecords { count: 2 }]),
        "{:#?}",
        two.tlsrpt
    );
    assert!(two
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::TlsRptRecordInvalid { .. })));
}

/// The TXT lookup never changes a verdict: on every catalogue scenario of a domain, a
/// bogus, timed-out or invalid TLSRPT record leaves the expected verdict, and a failed
/// lookup is a warning.
#[test]
fn a_failed_or_invalid_tlsrpt_record_never_changes_a_verdict() {
    for s in catalogue::all() {
        if s.destination.starts_with('[') {
            continue;
        }
        let name = format!("_smtp._tls.{}", s.destination);
        let mut worlds = vec![s
            .world
            .clone()
            .edit()
            .fault(&name, RecordType::TXT, Fault::Timeout)
            .build()];
        // A record under a domain that does not exist would make it exist.
        if s.world.name_exists(&s.destination) {
            worlds.push(
                s.world
                    .clone()
                    .edit()
                    .txt(&name, RUA)
                    .status(&name, RecordType::TXT, Status::BOGUS)
                    .build(),
            );
            worlds.push(
                s.world
                    .clone()
                    .edit()
                    .txt(&name, "v=TLSRPTv1; rua=ftp://x")
                    .build(),
            );
        }
        for (i, world) in worlds.iter().enumerate() {
            let report = check(world, s.config(SIM_RESOLVER));
            let mismatches = s.expected.mismatches(&report);
            assert!(mismatches.is_empty(), "{} world {i}: {mismatches:?}", s.id);
            if matches!(report.tlsrpt, TlsRptLookup::Failed { .. }) {
                assert!(
                    report
                        .warnings
                        .iter()
                        .any(|w| matches!(w, Warning::TlsRptLookupFailed { .. })),
                    "{} world {i}",
                    s.id
                );
            }
        }
    }
}

/// A format-3 transcript recorded before the TLSRPT lookup existed (its configuration has no
/// `lookup_tlsrpt`, its report no `tlsrpt`) still replays byte for byte: its check asks no
/// TXT question and its report says the record was not looked up.
#[test]
fn a_transcript_from_before_the_tlsrpt_lookup_still_replays() {
    let world = failing_domain("example.com", Some(RUA));
    let mut config = CheckConfig::new("example.com", vec![SIM_RESOLVER]);
    config.lookup_tlsrpt = false;
    let (report, transcript) = record(&world, config, Seed(3), SIM_START);
    assert_eq!(report.tlsrpt, TlsRptLookup::NotLookedUp);
    let mut lines: Vec<String> = transcript
        .to_json_lines()
        .lines()
        .map(String::from)
        .collect();
    let mut header: Value = serde_json::from_str(&lines[0]).unwrap();
    let removed = header["config"]
        .as_object_mut()
        .unwrap()
        .remove("lookup_tlsrpt");
    assert_eq!(removed, Some(Value::Bool(false)));
    lines[0] = header.to_string();
    assert!(!lines.iter().any(|l| l.contains("\"tlsrpt\":{")));
    let old = lines.join("\n");
    let recording = daneel_core::transcript::Recording::from_json_lines(&old).unwrap();
    assert!(matches!(
        recording,
        daneel_core::transcript::Recording::Current(_)
    ));
    let replayed = recording.replay().unwrap();
    assert_eq!(replayed.divergence, None);
    assert_eq!(replayed.report.as_deref(), Some(&report));
    // And it merges: the TLSRPT lookup is no part of the RFC 8460 report.
    let results = Results::read(&old).unwrap();
    assert_eq!(
        results[0].policies[0].summary.total_failure_session_count,
        2
    );
}

/// The policy domain follows from the destination: a check that ended before its MX answer
/// (no validating resolver, an abort) still reports for its domain, with no sessions; a
/// `[host]` or an address has none (RFC 8460 sec. 4.4 `policy-domain`).
#[test]
fn the_policy_domain_comes_from_the_destination() {
    let b = failing_domain("example.org", None);
    let mut report = check(&b, CheckConfig::new("example.org", vec![SIM_RESOLVER]));
    report.mx = None;
    report.hosts.clear();
    assert_eq!(build::policy_domain(&report).unwrap(), "example.org");
    let empty = rpt(&report);
    assert_eq!(empty.policies[0].summary.total_failure_session_count, 0);
    assert_eq!(empty.policies[0].summary.total_successful_session_count, 0);
    for destination in ["[mx.example.org]", "192.0.2.1", "2001:db8::1"] {
        report.domain = destination.into();
        assert!(build::policy_domain(&report).is_err(), "{destination}");
    }
}
