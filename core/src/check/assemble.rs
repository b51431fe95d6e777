//! Assembling the [`Report`] from the hosts and connections (DESIGN.md sections 5 and 6).

use super::*;
use crate::report::{CheckKind, FailedLookup};

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

/// Which lookup left host `h` without a policy other than `skip`, read from how far its
/// lookups got (RFC 7672 sec. 2.2.2 order: addresses, then the CNAME probe if needed, then
/// TLSA): `None` unless the host was skipped on a DNS failure.
fn failed_lookup(host: &Host) -> Option<FailedLookup> {
    if host.policy != Some(HostPolicy::Skip)
        || !matches!(
            host.reason,
            Some(
                Reason::DnsServfail { .. }
                    | Reason::DnsBogus { .. }
                    | Reason::DnsTimeout { .. }
                    | Reason::DnsError { .. }
            )
        )
    {
        return None;
    }
    Some(if !host.candidates.is_empty() {
        FailedLookup::Tlsa
    } else if matches!(host.cname_probe, Some(Err(_))) {
        FailedLookup::CnameProbe
    } else {
        FailedLookup::Address
    })
}

/// The warning for a host whose every TLSA record is unusable (RFC 7672 sec. 2.2 (b),
/// sec. 3.1.3), worded after Postfix's.
pub const ALL_UNUSABLE_WARNING: &str =
    "all TLSA records unusable: TLS mandatory without authentication";

impl SmtpCheck {
    pub(super) fn build_report(&mut self) -> Report {
        let mut hosts = Vec::new();
        let mut facts = DomainFacts {
            mx_secure: self.mx_secure,
            ..DomainFacts::default()
        };
        for host in &self.hosts {
            let policy = host.policy.unwrap_or(HostPolicy::Skip);
            let connections: Vec<ConnectionReport> = host
                .conns
                .iter()
                .filter_map(|c| self.conns.get(c).and_then(|c| c.report.clone()))
                .collect();
            let verdicts: Vec<ConnectionVerdict> = connections.iter().map(|c| c.verdict).collect();
            let mut verdict = host_verdict(policy, &verdicts);
            if verdict == HostVerdict::DnsFailed && host.reason == Some(Reason::NoAddresses) {
                verdict = HostVerdict::Untested;
            }
            if matches!(host.reason, Some(Reason::DaneRequired { .. })) {
                verdict = HostVerdict::DaneFailed;
            }
            if host.policy.is_none() {
                verdict = HostVerdict::Untested;
            }
            let reason = host.reason.clone().or_else(|| {
                connections
                    .iter()
                    .filter(|c| c.verdict == ConnectionVerdict::DaneFailed)
                    .find_map(|c| c.reason.clone())
            });
            if matches!(
                verdict,
                HostVerdict::Untested | HostVerdict::ClientUnsupported
            ) {
                self.warnings.push(format!(
                    "{}: not tested{}",
                    host.label(),
                    reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ));
            }
            for c in &connections {
                if matches!(
                    c.verdict,
                    ConnectionVerdict::Unreachable | ConnectionVerdict::ClientUnsupported
                ) {
                    self.warnings.push(format!(
                        "{}[{}]: {}{}",
                        host.label(),
                        c.address,
                        serde_json::to_value(c.verdict)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        c.reason
                            .as_ref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ));
                }
            }
            let failed_lookup = failed_lookup(host);
            if failed_lookup == Some(FailedLookup::Address) {
                self.warnings.push(format!(
                    "{}: unreachable: address lookup failed{} (RFC 7672 sec. 2.1.2); not tested",
                    host.label(),
                    reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ));
            }
            let tlsrpt = if policy == HostPolicy::Encrypt {
                self.warnings
                    .push(format!("{}: {ALL_UNUSABLE_WARNING}", host.label()));
                // RFC 8460 sec. 4.3.2.1: "tlsa-invalid": none of the records were valid.
                Some("tlsa-invalid".to_string())
            } else if policy == HostPolicy::Skip {
                host.reason
                    .as_ref()
                    .and_then(|r| r.tlsrpt_result_type())
                    .map(str::to_string)
            } else {
                None
            };
            let local = |r: &Option<Reason>| matches!(r, Some(Reason::LocalResources { .. }));
            if local(&host.reason) || connections.iter().any(|c| local(&c.reason)) {
                if !facts.local_failure {
                    self.warnings.push(format!(
                        "{}: local resources ran out (file descriptors or memory): the check is incomplete",
                        host.label()
                    ));
                }
                facts.local_failure = true;
            }
            facts.hosts.push(HostFacts {
                policy,
                verdict,
                reason: host.reason.clone(),
                failed_lookup,
            });
            hosts.push(HostReport {
                name: if host.target.literal.is_some() && host.target.name.is_root() {
                    host.target
                        .literal
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                } else {
                    host.label()
                },
                preference: host.target.preference,
                tlsa_base: host.base.as_ref().map(display_name),
                expanded_name: host.expanded.as_ref().map(display_name),
                address_security: host.address_security.clone(),
                addresses: host.addresses.iter().map(|a| a.to_string()).collect(),
                tlsa: host.tlsa.clone(),
                reference_ids: host.reference_ids.clone(),
                policy,
                verdict,
                reason,
                failed_lookup,
                tlsrpt,
                connections,
            });
        }
        let (verdict, reason) = match &self.early {
            Some((v, r)) => (*v, r.clone()),
            None => {
                if let Destination::Domain(_) = self.destination {
                    if self.hosts.is_empty() {
                        self.warnings.push("no MX host left to try".into());
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
