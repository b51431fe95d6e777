//! The DNS steps of a check (RFC 7672 sec. 2.1-2.2.1): the validating-resolver probe, the MX
//! lookup, and the routing of every other lookup to the host probe that asked for it.

use super::*;
use crate::dns::LookupError;
use crate::report::{DnsQuery, LocalStep, ProbeDetail};

impl SmtpCheck {
    /// Probes every configured resolver at once, each alone (DESIGN.md section 4).
    pub(super) fn start_probe(&mut self) {
        for (index, server) in self.resolvers.addresses().into_iter().enumerate() {
            let id = self.dns.lookup_at(
                self.now,
                server,
                &Name::root(),
                RecordType::DNSKEY,
                resolvers::PROBE_ATTEMPTS,
            );
            self.lookups.insert(
                id,
                Pending {
                    purpose: Purpose::ResolverProbe { index },
                    name: Name::root(),
                    rtype: RecordType::DNSKEY,
                },
            );
        }
    }

    pub(super) fn start_lookup(&mut self, purpose: Purpose, name: &Name, rtype: RecordType) {
        let id = self.dns.lookup(self.now, name, rtype);
        self.lookups.insert(
            id,
            Pending {
                purpose,
                name: name.clone(),
                rtype,
            },
        );
    }

    /// A lookup finished. Probe results are taken at once; any other result is held until
    /// every probe is in, and used only if a believed resolver gave it (see [`resolvers`]).
    pub(super) fn on_lookup(&mut self, id: LookupId, result: LookupResult) {
        let Some(pending) = self.lookups.remove(&id) else {
            return;
        };
        if let Purpose::ResolverProbe { index } = pending.purpose {
            self.on_probe(index, result);
            return;
        }
        let Some(believed) = self.resolvers.believed() else {
            self.held.push(Held {
                id,
                pending,
                result,
            });
            return;
        };
        if believed.is_empty() {
            return;
        }
        if let Ok(answer) = &result {
            if !believed.contains(&answer.server) {
                // Sent before the probes were in, to a resolver that is not believed.
                self.start_lookup(pending.purpose, &pending.name, pending.rtype);
                return;
            }
        }
        self.dispatch(pending.purpose, result);
    }

    /// Every probe is in: decide which resolvers count, then use or re-ask what was held.
    fn on_probes_done(&mut self) {
        let speculative = self.resolvers.speculative();
        let believed = self.resolvers.decide();
        for (addr, detail) in self.resolvers.dropped() {
            self.warnings.push(Warning::ResolverDropped {
                resolver: addr.to_string(),
                detail,
            });
        }
        for addr in self.resolvers.unused_validating() {
            self.note(format!(
                "resolver {addr} validates but is not asked: a validating resolver on loopback is preferred"
            ));
        }
        for addr in self.resolvers.believed_remote() {
            self.warnings.push(Warning::ResolverRemote {
                resolver: addr.to_string(),
            });
        }
        if let Some((resolver, error)) = self.resolvers.local_failure() {
            // A resolver we could not even probe might be the one to believe (a loopback
            // validator before a remote one): which AD bits count is unknown, and it is not
            // the resolvers' fault (issue 7).
            self.held.clear();
            let reason = Reason::LocalResources {
                during: LocalStep::ResolverProbe {
                    resolver: resolver.to_string(),
                },
                error,
            };
            self.note(format!("{reason}: the check is incomplete"));
            self.finish_early(DomainVerdict::Inconclusive, Some(reason));
            return;
        }
        if believed.is_empty() {
            let reason = Reason::ResolverNotValidating {
                resolvers: self.resolvers.dropped_entries(),
            };
            self.held.clear();
            self.note(reason.to_string());
            self.finish_early(DomainVerdict::TempFail, Some(reason));
            return;
        }
        self.note(format!(
            "asking {}",
            believed
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        self.dns.set_servers(believed.clone());
        let speculative_believed = speculative.is_some_and(|s| believed.contains(&s));
        if !speculative_believed {
            // Everything in flight went to a resolver that does not count: ask again.
            let in_flight: Vec<LookupId> = self
                .lookups
                .iter()
                .filter(|(_, p)| !matches!(p.purpose, Purpose::ResolverProbe { .. }))
                .map(|(id, _)| *id)
                .collect();
            for id in in_flight {
                self.dns.abandon(self.now, id);
                if let Some(p) = self.lookups.remove(&id) {
                    self.start_lookup(p.purpose, &p.name, p.rtype);
                }
            }
        }
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|h| h.id);
        for Held {
            id: _,
            pending,
            result,
        } in held
        {
            let usable = match &result {
                Ok(answer) => believed.contains(&answer.server),
                Err(e) => speculative_believed && (e.is_final() || believed.len() == 1),
            };
            if usable {
                self.dispatch(pending.purpose, result);
            } else {
                self.start_lookup(pending.purpose, &pending.name, pending.rtype);
            }
        }
    }

    /// Acts on the result of a lookup from a believed resolver.
    fn dispatch(&mut self, purpose: Purpose, result: LookupResult) {
        match purpose {
            Purpose::ResolverProbe { .. } => {}
            Purpose::Mx => self.on_mx(result),
            Purpose::Host { host, lookup } => {
                self.hosts[host].handle_lookup(lookup, result);
                self.drain_host(host);
            }
        }
    }

    /// The probe of resolver `index` answered.
    pub(super) fn on_probe(&mut self, index: usize, result: LookupResult) {
        let server = self
            .resolvers
            .address(index)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let state = match result {
            Ok(answer) if answer.security.is_secure() && answer.rcode == RcodeClass::Data => {
                self.note(format!(
                    "resolver {server} validates: root DNSKEY is secure (AD=1)"
                ));
                resolvers::ProbeState::Validating
            }
            Ok(answer) => {
                let detail = ProbeDetail::NoAdBit {
                    security: answer.security,
                    rcode: answer.rcode,
                };
                self.note(format!("resolver {server} {detail}"));
                resolvers::ProbeState::NotValidating(detail)
            }
            Err(LookupError::LocalResources { error }) => {
                self.note(format!(
                    "resolver {server}: validating-resolver probe not sent: {error}"
                ));
                resolvers::ProbeState::NotSent(error)
            }
            Err(error) => {
                let detail = ProbeDetail::Failed { error };
                self.note(format!(
                    "resolver {server}: validating-resolver probe {detail}"
                ));
                resolvers::ProbeState::Unreachable(detail)
            }
        };
        self.resolvers.record(index, state);
        if self.resolvers.all_probed() && self.resolvers.believed().is_none() {
            self.on_probes_done();
        }
    }

    pub(super) fn on_mx(&mut self, result: LookupResult) {
        let Destination::Domain(domain) = self.destination.clone() else {
            return;
        };
        let answer = match result {
            Err(e) => {
                let reason = lookup_reason(DnsQuery::new(&domain, RecordType::MX), &e);
                self.note(format!(
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
                self.finish_early(verdict, Some(reason));
                return;
            }
            Ok(answer) => answer,
        };
        let plan = plan_mx(&domain, &answer, &mut self.rng, &mut self.warnings);
        self.mx_secure = plan.security.is_secure();
        let mut report = MxReport {
            security: plan.security,
            hosts: Vec::new(),
            implicit: false,
            cnames: plan.cnames.clone(),
        };
        match plan.kind {
            MxKind::NxDomain => {
                self.note(format!(
                    "MX {}: {}: NXDOMAIN",
                    display_name(&domain),
                    plan.security
                ));
                self.mx_report = Some(report);
                self.finish_early(DomainVerdict::Nxdomain, None);
            }
            MxKind::NullMx => {
                self.note(format!(
                    "MX {}: {}: null MX \"0 .\": the domain accepts no mail (RFC 7505)",
                    display_name(&domain),
                    plan.security
                ));
                report.hosts.push("0 .".into());
                self.mx_report = Some(report);
                self.finish_early(DomainVerdict::NullMx, None);
            }
            MxKind::Implicit => {
                report.implicit = true;
                self.mx_report = Some(report);
                self.note(format!(
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
                self.note(format!(
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
                    self.note(format!("MX RRset is insecure (RFC 7672 sec. 2.2.1): {how}"));
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
