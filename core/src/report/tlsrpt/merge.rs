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
    /// A report whose `date-range` is not RFC 3339 (RFC 8460 sec. 4.1), or ends before it
    /// starts.
    BadDate {
        /// The value.
        value: String,
    },
    /// Adding the session counts of the inputs overflows.
    CountOverflow {
        /// The policy domain.
        domain: String,
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
            MergeError::BadDate { value } => write!(
                f,
                "date-range value {value:?} is not an RFC 3339 date-time, or ends before it starts"
            ),
            MergeError::CountOverflow { domain } => {
                write!(f, "{domain}: the added session counts overflow")
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
        let (start, end) = (
            date(&report.date_range.start_datetime)?,
            date(&report.date_range.end_datetime)?,
        );
        if end < start {
            return Err(MergeError::BadDate {
                value: report.date_range.end_datetime,
            });
        }
        Ok(Results {
            start,
            end,
            policies: report.policies,
        })
    }

    /// Reads a file: an RFC 8460 report (one JSON object), an array of them (what
    /// `daneel tlsrpt merge` prints, so a merge can be merged again), or a transcript of an
    /// SMTP check, which is replayed (decided again when of an older format) through
    /// [`Recording::replay`] and ends at its last event.
    pub fn read(text: &str) -> Result<Vec<Results>, MergeError> {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        if text.trim_start().starts_with('[') {
            return serde_json::from_str::<Vec<TlsRptReport>>(text)
                .map_err(|e| MergeError::NotAReport {
                    detail: e.to_string(),
                })?
                .into_iter()
                .map(Results::of_report)
                .collect();
        }
        if !first.contains("\"daneel_transcript\"") {
            return serde_json::from_str::<TlsRptReport>(text)
                .map_err(|e| MergeError::NotAReport {
                    detail: e.to_string(),
                })
                .and_then(Results::of_report)
                .map(|r| vec![r]);
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
        Results::of_check(&report, ended).map(|r| vec![r])
    }
}

/// Merges `inputs` into one report per policy domain (in domain order, the domain in lower
/// case), each for the date range of the inputs that hold that domain, by `reporter`.
/// Within a domain, results of the same policy (type and records) are one policy: `mx-host`
/// the union, counts added, equal failures one group; a changed policy (say, a new TLSA
/// record) is a policy of its own. Policies, hosts and failures are sorted, so the order of
/// the inputs never shows.
pub fn merge(inputs: &[Results], reporter: &Reporter) -> Result<Vec<TlsRptReport>, MergeError> {
    type Domain = ((Timestamp, Timestamp), Vec<PolicyResult>);
    let mut domains: BTreeMap<String, Domain> = BTreeMap::new();
    for input in inputs {
        for p in &input.policies {
            let key = p.policy.policy_domain.to_ascii_lowercase();
            let ((start, end), policies) = domains
                .entry(key.clone())
                .or_insert(((input.start, input.end), Vec::new()));
            *start = (*start).min(input.start);
            *end = (*end).max(input.end);
            let mut p = p.clone();
            p.policy.policy_domain = key.clone();
            match policies.iter_mut().find(|q| same_policy(q, &p)) {
                Some(q) => add(q, &p).ok_or(MergeError::CountOverflow { domain: key })?,
                None => policies.push(p),
            }
        }
    }
    Ok(domains
        .into_values()
        .map(|(range, mut policies)| {
            for p in &mut policies {
                p.policy.policy_string.sort();
                p.policy.mx_host.sort();
            }
            policies.sort_by(|a, b| {
                (a.policy.policy_type, &a.policy.policy_string)
                    .cmp(&(b.policy.policy_type, &b.policy.policy_string))
            });
            build::report(reporter, range, policies)
        })
        .collect())
}

fn same_policy(a: &PolicyResult, b: &PolicyResult) -> bool {
    let set = |p: &PolicyResult| {
        let mut s = p.policy.policy_string.clone();
        s.sort();
        s
    };
    a.policy.policy_type == b.policy.policy_type && set(a) == set(b)
}

/// Adds `from` into `into`; `None` when a count overflows.
fn add(into: &mut PolicyResult, from: &PolicyResult) -> Option<()> {
    for host in &from.policy.mx_host {
        if !into.policy.mx_host.contains(host) {
            into.policy.mx_host.push(host.clone());
        }
    }
    let (a, b) = (&mut into.summary, &from.summary);
    a.total_successful_session_count = a
        .total_successful_session_count
        .checked_add(b.total_successful_session_count)?;
    a.total_failure_session_count = a
        .total_failure_session_count
        .checked_add(b.total_failure_session_count)?;
    let details = into
        .failure_details
        .drain(..)
        .chain(from.failure_details.iter().cloned())
        .collect();
    into.failure_details = build::group(details)?;
    Some(())
}
