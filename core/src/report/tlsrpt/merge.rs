//! Merging the results of many checks (RFC 8460 reports, or transcripts decided again) into
//! one report per policy domain for one date range, the session counts added (RFC 8460
//! sec. 4: reports aggregate the sessions of a period per policy domain).

use std::collections::BTreeMap;
use std::fmt;

use super::build::{self, BuildError, Reporter};
use super::json::{PolicyResult, TlsRptReport};
use crate::report::Report;
use crate::time::{parse_rfc3339, Timestamp};
use crate::transcript::{Divergence, Recording, ReplayError, TranscriptError};

/// Why an input of a merge cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// Neither an RFC 8460 report nor a transcript: the JSON error of reading it as a
    /// report.
    NotAReport {
        /// What serde said.
        detail: String,
    },
    /// A transcript that could not be read.
    Transcript(TranscriptError),
    /// A transcript that could not be replayed.
    Replay(ReplayError),
    /// A transcript this version decides differently (its verdict, or its outputs).
    Diverged,
    /// A transcript that ends before its check did.
    Unfinished,
    /// A check without an RFC 8460 report.
    Build(BuildError),
    /// A report whose `date-range` is not RFC 3339 (RFC 8460 sec. 4.1).
    BadDate {
        /// The value.
        value: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NotAReport { detail } => {
                write!(f, "neither an RFC 8460 report nor a transcript: {detail}")
            }
            MergeError::Transcript(e) => write!(f, "{e}"),
            MergeError::Replay(e) => write!(f, "replay failed: {e}"),
            MergeError::Diverged => {
                f.write_str("this version decides the transcript differently from the recording")
            }
            MergeError::Unfinished => f.write_str("the transcript ends before the check finished"),
            MergeError::Build(e) => write!(f, "{e}"),
            MergeError::BadDate { value } => {
                write!(f, "date-range value {value:?} is not an RFC 3339 date-time")
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// One input of a merge: the results for one policy domain over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Results {
    /// When the period starts.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// The results, one per policy.
    pub policies: Vec<PolicyResult>,
}

impl Results {
    /// The results of a check's report, for a check that ended at `ended`; the sending
    /// address is not known.
    pub fn of_check(report: &Report, ended: Timestamp) -> Result<Results, MergeError> {
        let policy = build::policy_result(report, &|_| None).map_err(MergeError::Build)?;
        Ok(Results {
            start: report.started,
            end: ended.max(report.started),
            policies: vec![policy],
        })
    }

    /// The results an RFC 8460 report holds.
    pub fn of_report(report: TlsRptReport) -> Result<Results, MergeError> {
        let date = |value: &str| {
            parse_rfc3339(value).ok_or_else(|| MergeError::BadDate {
                value: value.to_string(),
            })
        };
        Ok(Results {
            start: date(&report.date_range.start_datetime)?,
            end: date(&report.date_range.end_datetime)?,
            policies: report.policies,
        })
    }

    /// Reads a file: an RFC 8460 report (one JSON object), or a transcript of an SMTP check,
    /// which is replayed (decided again when of an older format) through
    /// [`Recording::replay`] and ends at its last event.
    pub fn read(text: &str) -> Result<Results, MergeError> {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        if !first.contains("\"daneel_transcript\"") {
            return serde_json::from_str::<TlsRptReport>(text)
                .map_err(|e| MergeError::NotAReport {
                    detail: e.to_string(),
                })
                .and_then(Results::of_report);
        }
        let recording = Recording::from_json_lines(text).map_err(MergeError::Transcript)?;
        let replayed = recording.replay().map_err(MergeError::Replay)?;
        if matches!(
            replayed.divergence,
            Some(Divergence::Output { .. } | Divergence::Verdict { .. })
        ) {
            return Err(MergeError::Diverged);
        }
        let report = replayed.report.ok_or(MergeError::Unfinished)?;
        let transcript = match &recording {
            Recording::Current(t) => t,
            Recording::Older { transcript, .. } => transcript,
        };
        let ended = transcript
            .events
            .iter()
            .map(|e| e.at())
            .max()
            .unwrap_or(transcript.header.start);
        Results::of_check(&report, ended)
    }
}

/// Merges `inputs` into one report per policy domain (in domain order), each for the date
/// range spanning every input, by `reporter`. Within a domain, results of the same policy
/// (type and records) are one policy: `mx-host` the union, counts added, equal failures one
/// group; a changed policy (say, a new TLSA record) is a policy of its own.
pub fn merge(inputs: &[Results], reporter: &Reporter) -> Vec<TlsRptReport> {
    let Some(start) = inputs.iter().map(|r| r.start).min() else {
        return Vec::new();
    };
    let end = inputs.iter().map(|r| r.end).max().unwrap_or(start);
    let mut domains: BTreeMap<String, Vec<PolicyResult>> = BTreeMap::new();
    for p in inputs.iter().flat_map(|r| r.policies.iter()) {
        let policies = domains
            .entry(p.policy.policy_domain.to_ascii_lowercase())
            .or_default();
        match policies.iter_mut().find(|q| same_policy(q, p)) {
            Some(q) => add(q, p),
            None => policies.push(p.clone()),
        }
    }
    domains
        .into_values()
        .map(|policies| build::report(reporter, (start, end), policies))
        .collect()
}

fn same_policy(a: &PolicyResult, b: &PolicyResult) -> bool {
    let set = |p: &PolicyResult| {
        let mut s = p.policy.policy_string.clone();
        s.sort();
        s
    };
    a.policy.policy_type == b.policy.policy_type && set(a) == set(b)
}

fn add(into: &mut PolicyResult, from: &PolicyResult) {
    for host in &from.policy.mx_host {
        if !into.policy.mx_host.contains(host) {
            into.policy.mx_host.push(host.clone());
        }
    }
    into.summary.total_successful_session_count += from.summary.total_successful_session_count;
    into.summary.total_failure_session_count += from.summary.total_failure_session_count;
    let details = into
        .failure_details
        .drain(..)
        .chain(from.failure_details.iter().cloned())
        .collect();
    into.failure_details = build::group(details);
}
