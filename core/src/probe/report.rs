//! The host report and verdict of a probe (DESIGN.md section 5).

use super::*;

use crate::check::{host_verdict, HostFacts};
use crate::report::tlsrpt;
use crate::report::{ConnectionVerdict, HostReport, HostVerdict};

/// What a probe ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostOutcome {
    /// The host's part of the report.
    pub report: HostReport,
    /// What the domain verdict needs from it.
    pub facts: HostFacts,
    /// Warnings for the report, in order.
    pub warnings: Vec<Warning>,
}

impl HostProbe {
    /// The host report and verdict: the worst tested connection (DESIGN.md section 5),
    /// `dns-failed` for policy `skip`, `untested` when the probe ended before its policy.
    pub fn report(&self) -> HostOutcome {
        let mut warnings = Vec::new();
        let decision = self.decision.as_ref();
        let policy = self.policy().unwrap_or(HostPolicy::Skip);
        let host_reason = decision.and_then(|d| d.reason.clone());
        let connections: Vec<ConnectionReport> = self
            .conns
            .values()
            .filter_map(|c| match &c.end {
                ConnEnd::Reported(r) => Some((**r).clone()),
                _ => None,
            })
            .collect();
        let verdicts: Vec<ConnectionVerdict> = connections.iter().map(|c| c.verdict).collect();
        let mut verdict = host_verdict(policy, &verdicts);
        if verdict == HostVerdict::DnsFailed && host_reason == Some(Reason::NoAddresses) {
            verdict = HostVerdict::Untested;
        }
        if matches!(host_reason, Some(Reason::DaneRequired { .. })) {
            verdict = HostVerdict::DaneFailed;
        }
        if decision.is_none() {
            verdict = HostVerdict::Untested;
        }
        let reason = host_reason.clone().or_else(|| {
            connections
                .iter()
                .filter(|c| c.verdict == ConnectionVerdict::DaneFailed)
                .find_map(|c| c.reason.clone())
        });
        let because = reason.clone().map(Box::new);
        let label = self.label();
        if matches!(
            verdict,
            HostVerdict::Untested | HostVerdict::ClientUnsupported
        ) {
            warnings.push(Warning::HostNotTested {
                host: label.clone(),
                reason: because.clone(),
            });
        }
        for c in &connections {
            if matches!(
                c.verdict,
                ConnectionVerdict::Unreachable | ConnectionVerdict::ClientUnsupported
            ) {
                warnings.push(Warning::ConnectionNotTested {
                    host: label.clone(),
                    address: c.address.clone(),
                    verdict: c.verdict,
                    reason: c.reason.clone().map(Box::new),
                });
            }
        }
        let failed_lookup = decision.and_then(|d| d.failed_lookup);
        if failed_lookup == Some(FailedLookup::Address) {
            warnings.push(Warning::AddressLookupFailed {
                host: label.clone(),
                reason: because,
            });
        }
        if policy == HostPolicy::Encrypt {
            warnings.push(Warning::AllTlsaUnusable {
                host: label.clone(),
            });
        }
        let tlsrpt = tlsrpt::result_type(tlsrpt::Outcome::Host {
            policy,
            failed_lookup,
            reason: host_reason.as_ref(),
        });
        let facts = HostFacts {
            policy,
            verdict,
            reason: host_reason,
            failed_lookup,
        };
        let name = match self.target.literal {
            Some(addr) if self.target.name.is_root() => addr.to_string(),
            _ => label,
        };
        let report = HostReport {
            port: None,
            name,
            preference: self.target.preference,
            tlsa_base: decision.and_then(|d| d.base.as_ref()).map(display_name),
            expanded_name: self.found.expanded.as_ref().map(display_name),
            address_security: self.found.address_security.clone(),
            addresses: self.found.addresses.iter().map(|a| a.to_string()).collect(),
            tlsa: self.found.tlsa.clone(),
            reference_ids: decision
                .map(|d| d.reference_ids.clone())
                .unwrap_or_default(),
            policy,
            verdict,
            reason,
            failed_lookup,
            tlsrpt,
            connections,
        };
        HostOutcome {
            report,
            facts,
            warnings,
        }
    }
}
