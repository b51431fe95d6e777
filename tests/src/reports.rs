//! Reports built by hand, for the small test machines that finish without running a check
//! (the sim's toys, the runtime conformance suite's scripted machine).

use daneel_core::{DomainVerdict, Report, Timestamp};

/// A report for `domain` with `verdict`, started at `started`, and nothing else: no
/// resolvers, MX or hosts, warnings or log.
pub fn blank(domain: &str, verdict: DomainVerdict, started: Timestamp) -> Report {
    // Report is #[non_exhaustive]: start from the core's one constructor and set the fields.
    let mut report = Report::abandoned(started);
    report.kind = daneel_core::CheckKind::Smtp;
    report.domain = domain.into();
    report.verdict = verdict;
    report.reason = None;
    report.resolver.validating = true;
    report
}
