//! Assembling the [`Report`] from the host probes' reports (DESIGN.md sections 5 and 6).

use super::*;
use crate::report::CheckKind;

/// One sentence per domain verdict, for the last log line.
pub(super) fn verdict_explanation(v: DomainVerdict) -> &'static str {
    match v {
        DomainVerdict::Nxdomain => "the domain does not exist",
        DomainVerdict::NullMx => "the domain accepts no mail (null MX)",
        DomainVerdict::TempFail => "delivery would be deferred",
        DomainVerdict::DaneFailed => "a host failed DANE: mail to it would be deferred",
        DomainVerdict::Inconclusive => "no host could be tested",
        DomainVerdict::DaneVerified => {
            "every MX host is authenticated by DNSSEC-signed TLSA records"
        }
        DomainVerdict::DaneTrusted => {
            "hosts match their TLSA records, but the MX RRset is not signed"
        }
        DomainVerdict::DanePartial => "some hosts use DANE, others do not",
        DomainVerdict::NoDane => "no DANE: opportunistic TLS at best",
    }
}

impl SmtpCheck {
    pub(super) fn build_report(&mut self) -> Report {
        let mut hosts = Vec::new();
        let mut facts = DomainFacts {
            mx_secure: self.mx_secure,
            ..DomainFacts::default()
        };
        for host in &self.hosts {
            let outcome = host.report();
            self.warnings.extend(outcome.warnings);
            let local = |r: &Option<Reason>| matches!(r, Some(Reason::LocalResources { .. }));
            let report = &outcome.report;
            if local(&report.reason) || report.connections.iter().any(|c| local(&c.reason)) {
                if !facts.local_failure {
                    self.warnings.push(Warning::LocalResources {
                        host: report.name.clone(),
                    });
                }
                facts.local_failure = true;
            }
            facts.hosts.push(outcome.facts);
            hosts.push(outcome.report);
        }
        let (verdict, reason) = match &self.early {
            Some((v, r)) => (*v, r.clone()),
            None => {
                if let Destination::Domain(_) = self.destination {
                    if self.hosts.is_empty() {
                        self.warnings.push(Warning::NoMxLeft);
                    }
                }
                (domain_verdict(&facts), None)
            }
        };
        Report {
            kind: CheckKind::Smtp,
            domain: self.config.destination.clone(),
            verdict,
            reason,
            resolver: ResolverReport {
                addresses: self
                    .config
                    .resolvers
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                mode: "ad-bit".into(),
                validating: self.resolvers.usable(),
            },
            resolvers: self.resolvers.entries(),
            mx: self.mx_report.clone(),
            hosts,
            warnings: self.warnings.clone(),
            started: self.start,
            log: Vec::new(),
            redecided: None,
        }
    }
}
