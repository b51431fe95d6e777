//! Assembling the [`Report`] from the host probes' reports (DESIGN.md sections 5 and 6).

use super::*;
use crate::report::CheckKind;

impl SmtpCheck {
    pub(crate) fn build_report(&mut self) -> Report {
        let mut hosts = Vec::new();
        let mut facts = DomainFacts {
            mx_secure: self.mx_secure,
            ..DomainFacts::default()
        };
        for host in self.engine.probes.probes() {
            let outcome = host.report();
            self.engine.warnings.extend(outcome.warnings);
            let local = |r: &Option<Reason>| matches!(r, Some(Reason::LocalResources { .. }));
            let report = &outcome.report;
            if local(&report.reason) || report.connections.iter().any(|c| local(&c.reason)) {
                if !facts.local_failure {
                    self.engine.warnings.push(Warning::LocalResources {
                        host: report.name.clone(),
                    });
                }
                facts.local_failure = true;
            }
            facts.hosts.push(outcome.facts);
            hosts.push(outcome.report);
        }
        let (verdict, reason) = match self.engine.early() {
            Some((v, r)) => (*v, r.clone()),
            None => {
                if let Destination::Domain(_) = self.destination {
                    if self.engine.probes.probes().is_empty() {
                        self.engine.warnings.push(Warning::NoMxLeft);
                    }
                }
                (domain_verdict(&facts), None)
            }
        };
        let (tlsrpt, warning) = self.tlsrpt_outcome();
        self.engine.warnings.extend(warning);
        Report {
            kind: CheckKind::Smtp,
            domain: self.config.destination.clone(),
            verdict,
            reason,
            resolver: self.engine.dns.summary(),
            resolvers: self.engine.dns.entries(),
            mx: self.mx_report.clone(),
            tlsrpt,
            hosts,
            services: Vec::new(),
            autoconfig: Vec::new(),
            warnings: self.engine.warnings.clone(),
            started: self.engine.start,
            log: Vec::new(),
            redecided: None,
            delivery: None,
        }
    }
}
