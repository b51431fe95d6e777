//! The DNS steps of the SMTP check (RFC 7672 sec. 2.1-2.2.1): the MX lookup, and the routing
//! of every other believed result to the host probe that asked for it.

use super::*;

impl SmtpCheck {
    pub(super) fn on_mx(&mut self, result: LookupResult) {
        let Destination::Domain(domain) = &self.destination else {
            return;
        };
        let domain = domain.as_hickory().clone();
        let answer = match result {
            Err(e) => {
                let reason = lookup_reason(DnsQuery::new(&domain, RecordType::MX), &e);
                self.engine.note(format!(
                    "MX {}: {reason}: delivery would be deferred (RFC 7672 sec. 2.1.2)",
                    display_name(&domain)
                ));
                self.mx_report = Some(MxReport {
                    security: e.security(),
                    hosts: Vec::new(),
                    implicit: false,
                    cnames: Vec::new(),
                });
                // A query we could not even send says nothing about the domain.
                let verdict = match reason {
                    Reason::LocalResources { .. } => DomainVerdict::Inconclusive,
                    _ => DomainVerdict::TempFail,
                };
                self.engine.finish_early(verdict, Some(reason));
                return;
            }
            Ok(answer) => answer,
        };
        let plan = plan_mx(&domain, &answer, &mut self.rng, &mut self.engine.warnings);
        self.mx_secure = plan.security.is_secure();
        let mut report = MxReport {
            security: plan.security,
            hosts: Vec::new(),
            implicit: false,
            cnames: plan.cnames.clone(),
        };
        match plan.kind {
            MxKind::NxDomain => {
                self.engine.note(format!(
                    "MX {}: {}: NXDOMAIN",
                    display_name(&domain),
                    plan.security
                ));
                self.mx_report = Some(report);
                self.engine.finish_early(DomainVerdict::Nxdomain, None);
            }
            MxKind::NullMx => {
                self.engine.note(format!(
                    "MX {}: {}: null MX \"0 .\": the domain accepts no mail (RFC 7505)",
                    display_name(&domain),
                    plan.security
                ));
                report.hosts.push("0 .".into());
                self.mx_report = Some(report);
                self.engine.finish_early(DomainVerdict::NullMx, None);
            }
            MxKind::Implicit => {
                report.implicit = true;
                self.mx_report = Some(report);
                self.engine.note(format!(
                    "MX {}: {}: no MX records, the domain is its own implicit MX (RFC 5321 sec. 5.1)",
                    display_name(&domain),
                    plan.security
                ));
                self.add_host(
                    MxTarget {
                        preference: None,
                        name: domain.clone(),
                        literal: None,
                    },
                    NextHop::NonMx {
                        original: domain.clone(),
                    },
                );
            }
            MxKind::Hosts(targets) => {
                report.hosts = targets
                    .iter()
                    .map(|t| format!("{} {}", t.preference.unwrap_or(0), display_name(&t.name)))
                    .collect();
                self.engine.note(format!(
                    "MX {}: {}: {}",
                    display_name(&domain),
                    plan.security,
                    if report.hosts.is_empty() {
                        "no usable hosts".to_string()
                    } else {
                        report.hosts.join(", ")
                    }
                ));
                if !self.mx_secure {
                    let how = match self.config.insecure_mx {
                        route::InsecureMxPolicy::Dane => {
                            "DANE still used; a match counts as trusted, not verified"
                        }
                        route::InsecureMxPolicy::Encrypt => "TLSA records only make TLS mandatory",
                        route::InsecureMxPolicy::May => "TLSA records ignored",
                    };
                    self.engine
                        .note(format!("MX RRset is insecure (RFC 7672 sec. 2.2.1): {how}"));
                }
                self.mx_report = Some(report);
                let next_hop = if self.mx_secure {
                    NextHop::SecureMx {
                        original: domain.clone(),
                        expanded: plan.expanded.clone(),
                    }
                } else {
                    NextHop::InsecureMx
                };
                for target in targets {
                    self.add_host(target, next_hop.clone());
                }
            }
        }
    }
}

impl SmtpCheck {
    /// Asks for the domain's TLSRPT record at `_smtp._tls.<domain>` (RFC 8460 sec. 3).
    pub(super) fn start_tlsrpt(&mut self, now: Timestamp, domain: &Name) {
        let name = Name::from_ascii("_smtp._tls").and_then(|p| p.append_name(domain));
        let query = match &name {
            Ok(name) => DnsQuery::new(name, RecordType::TXT),
            Err(_) => DnsQuery {
                name: format!("_smtp._tls.{}", display_name(domain)),
                rtype: RecordType::TXT.to_string(),
            },
        };
        match name {
            Ok(name) => {
                self.tlsrpt = Some((query, None));
                self.engine
                    .dns
                    .lookup(now, Purpose::TlsRpt, &name, RecordType::TXT);
            }
            Err(_) => {
                let failed = Err(crate::dns::LookupError::NameTooLong);
                self.tlsrpt = Some((query.clone(), None));
                self.on_tlsrpt(failed);
            }
        }
    }

    /// The TLSRPT record's answer: shown, validated, warned about; never part of a verdict.
    pub(super) fn on_tlsrpt(&mut self, result: LookupResult) {
        let Some((query, outcome)) = &mut self.tlsrpt else {
            return;
        };
        let lookup = TlsRptLookup::from_result(query.clone(), result);
        let line = format!("TXT {}: {lookup}", query.name);
        *outcome = Some(lookup);
        self.engine.note(line);
    }

    /// The TLSRPT lookup as the report shows it, with its warning if any. After an early
    /// end it is `abandoned`, answered or not (its answer races the one that ended the
    /// check).
    pub(super) fn tlsrpt_outcome(&self) -> (TlsRptLookup, Option<Warning>) {
        let lookup = match &self.tlsrpt {
            None => TlsRptLookup::NotLookedUp,
            Some((query, _)) if self.engine.early().is_some() => TlsRptLookup::Abandoned {
                name: query.name.clone(),
            },
            Some((_, Some(lookup))) => lookup.clone(),
            Some((query, None)) => TlsRptLookup::Abandoned {
                name: query.name.clone(),
            },
        };
        let warning = match &lookup {
            TlsRptLookup::Failed { reason, .. } => Some(Warning::TlsRptLookupFailed {
                reason: Box::new(reason.clone()),
            }),
            TlsRptLookup::Found { problems, .. } if !problems.is_empty() => {
                Some(Warning::TlsRptRecordInvalid {
                    problems: problems.clone(),
                })
            }
            _ => None,
        };
        (lookup, warning)
    }
}
