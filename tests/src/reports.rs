//! Reports built by hand, for the small test machines that finish without running a check
//! (the sim's toys, the runtime conformance suite's scripted machine).

use daneel_core::report::ResolverReport;
use daneel_core::{DomainVerdict, Report, Timestamp};

/// A report for `domain` with `verdict`, started at `started`, and nothing else: no
/// resolvers, MX or hosts, warnings or log.
pub fn blank(domain: &str, verdict: DomainVerdict, started: Timestamp) -> Report {
    Report {
        kind: daneel_core::CheckKind::Smtp,
        domain: domain.into(),
        verdict,
        reason: None,
        resolver: ResolverReport {
            addresses: vec![],
            mode: "ad-bit".into(),
            validating: true,
        },
        resolvers: vec![],
        mx: None,
        tlsrpt: Default::default(),
        hosts: vec![],
        services: vec![],
        autoconfig: vec![],
        warnings: vec![],
        started,
        log: vec![],
        redecided: None,
        delivery: None,
    }
}
