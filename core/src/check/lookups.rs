//! The DNS steps of a check (RFC 7672 sec. 2.1-2.2): the validating-resolver probe, the MX
//! lookup, the address lookups, the CNAME probe and the TLSA lookups of each host, ending in the
//! host policy.

use super::*;

/// `name type` for reasons and log lines.
pub(super) fn query_text(name: &Name, rtype: RecordType) -> String {
    format!("{} {rtype}", display_name(name))
}

/// The reason a failed lookup gives (RFC 7672 sec. 2.1.1; bogus kept apart for RFC 8460's
/// `dnssec-invalid`).
pub(super) fn lookup_reason(query: String, error: &LookupError) -> Reason {
    match error {
        LookupError::ServFail { ede, bogus } => {
            let ede = ede
                .iter()
                .map(|e| {
                    if e.text.is_empty() {
                        format!("EDE {}", e.code)
                    } else {
                        format!("EDE {}: {}", e.code, e.text)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            if *bogus {
                Reason::DnsBogus { query, ede }
            } else {
                Reason::DnsServfail { query, ede }
            }
        }
        LookupError::Timeout => Reason::DnsTimeout { query },
        LookupError::LocalResources { detail } => Reason::LocalResources {
            detail: format!("{query} not sent: {detail}"),
        },
        other => Reason::DnsError {
            query,
            detail: other.to_string(),
        },
    }
}

pub(super) fn describe_answer(result: &LookupResult) -> String {
    match result {
        Err(e) => format!("failed: {e}"),
        Ok(a) => {
            let what = match a.rcode {
                RcodeClass::NxDomain => "NXDOMAIN".to_string(),
                RcodeClass::NoData => "no records".to_string(),
                RcodeClass::Data => {
                    let addrs = a.addresses();
                    if addrs.is_empty() {
                        format!("{} records", a.records.len())
                    } else {
                        addrs
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                }
            };
            let via = if a.cnames.is_empty() {
                String::new()
            } else {
                format!(" via CNAME {}", display_name(&a.final_name))
            };
            format!("{}: {what}{via}", a.security)
        }
    }
}

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
                    purpose: Purpose::Probe { index },
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

    pub(super) fn start_address_lookups(&mut self, h: usize) {
        let name = self.hosts[h].target.name.clone();
        if self.config.family != AddressFamily::V6 {
            self.start_lookup(
                Purpose::Address { host: h, v6: false },
                &name,
                RecordType::A,
            );
        }
        if self.config.family != AddressFamily::V4 {
            self.start_lookup(
                Purpose::Address { host: h, v6: true },
                &name,
                RecordType::AAAA,
            );
        }
    }

    /// A lookup finished. Probe results are taken at once; any other result is held until
    /// every probe is in, and used only if a believed resolver gave it (see [`resolvers`]).
    pub(super) fn on_lookup(&mut self, id: LookupId, result: LookupResult) {
        let Some(pending) = self.lookups.remove(&id) else {
            return;
        };
        if let Purpose::Probe { index } = pending.purpose {
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
        for (addr, why) in self.resolvers.dropped() {
            self.warnings.push(format!(
                "resolver {addr} {why}: not asked in this check (RFC 7672 sec. 2.1.1)"
            ));
        }
        for addr in self.resolvers.unused_validating() {
            self.note(format!(
                "resolver {addr} validates but is not asked: a validating resolver on loopback is preferred"
            ));
        }
        for addr in self.resolvers.believed_remote() {
            self.warnings.push(format!(
                "resolver {addr} is not on loopback: its AD bit crossed a network (RFC 7672 sec. 2.1.1)"
            ));
        }
        if believed.is_empty() {
            let detail = self
                .resolvers
                .dropped()
                .iter()
                .map(|(addr, why)| format!("{addr} {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            let detail = format!(
                "no resolver validates DNSSEC, so no DANE result would mean anything: {detail}"
            );
            self.held.clear();
            if let Some(detail) = self.resolvers.local_failure() {
                // Not the resolvers' fault: we could not ask them (issue 7).
                self.note(format!(
                    "local-resources: {detail}: the check is incomplete"
                ));
                self.finish_early(
                    DomainVerdict::Inconclusive,
                    Some(Reason::LocalResources { detail }),
                );
                return;
            }
            self.note(format!("resolver-not-validating: {detail}"));
            self.finish_early(
                DomainVerdict::TempFail,
                Some(Reason::ResolverNotValidating { detail }),
            );
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
                .filter(|(_, p)| !matches!(p.purpose, Purpose::Probe { .. }))
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
            Purpose::Probe { .. } => {}
            Purpose::Mx => self.on_mx(result),
            Purpose::Address { host, v6 } => {
                let name = self.hosts[host].target.name.clone();
                let rtype = if v6 { RecordType::AAAA } else { RecordType::A };
                let line = format!(
                    "{}: {rtype} {}",
                    display_name(&name),
                    describe_answer(&result)
                );
                self.note(line);
                if v6 {
                    self.hosts[host].aaaa = Some(result);
                } else {
                    self.hosts[host].a = Some(result);
                }
                let h = &self.hosts[host];
                let want_a = self.config.family != AddressFamily::V6;
                let want_aaaa = self.config.family != AddressFamily::V4;
                if (!want_a || h.a.is_some()) && (!want_aaaa || h.aaaa.is_some()) {
                    self.on_addresses(host);
                }
            }
            Purpose::CnameProbe { host } => {
                let line = format!(
                    "{}: CNAME {}",
                    self.hosts[host].label(),
                    describe_answer(&result)
                );
                self.note(line);
                self.hosts[host].cname_probe = Some(result);
                self.decide_candidates(host);
            }
            Purpose::Tlsa { host } => self.on_tlsa(host, result),
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
                let detail = format!(
                    "the root DNSKEY came back {} ({:?}) without the AD bit",
                    answer.security, answer.rcode
                );
                self.note(format!("resolver {server} does not validate: {detail}"));
                resolvers::ProbeState::NotValidating(detail)
            }
            Err(e) => {
                let reason = lookup_reason(". DNSKEY".into(), &e);
                self.note(format!(
                    "resolver {server}: validating-resolver probe failed: {reason}"
                ));
                match reason {
                    Reason::LocalResources { detail } => resolvers::ProbeState::NotSent(detail),
                    _ => resolvers::ProbeState::Unreachable(reason.to_string()),
                }
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
                let reason = lookup_reason(query_text(&domain, RecordType::MX), &e);
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
        self.next_hop_expanded = Some(plan.expanded.clone());
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
                self.hosts.push(Host::new(MxTarget {
                    preference: None,
                    name: domain.clone(),
                    literal: None,
                }));
                self.start_address_lookups(0);
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
                for target in targets {
                    let h = self.hosts.len();
                    let literal = target.literal;
                    self.hosts.push(Host::new(target));
                    if let Some(addr) = literal {
                        self.hosts[h].addresses = vec![addr];
                        self.set_policy(h, HostPolicy::Opportunistic, false, None);
                    } else {
                        self.start_address_lookups(h);
                    }
                }
            }
        }
    }

    /// Both address answers of host `h` are in (RFC 7672 sec. 2.2.2).
    pub(super) fn on_addresses(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        host.address_security = AddressSecurity {
            a: host
                .a
                .as_ref()
                .map(|r| r.as_ref().map_or_else(|e| e.security(), |a| a.security)),
            aaaa: host
                .aaaa
                .as_ref()
                .map(|r| r.as_ref().map_or_else(|e| e.security(), |a| a.security)),
        };
        let mut addresses = Vec::new();
        let mut errors = Vec::new();
        for (result, rtype) in [(&host.a, RecordType::A), (&host.aaaa, RecordType::AAAA)] {
            match result {
                Some(Ok(answer)) if answer.rcode == RcodeClass::Data => {
                    if !answer.cnames.is_empty() {
                        host.expanded = Some(answer.final_name.to_lowercase());
                    }
                    addresses.extend(answer.addresses());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => errors.push(lookup_reason(query_text(&host.target.name, rtype), e)),
                None => {}
            }
        }
        addresses.sort();
        addresses.dedup();
        host.addresses = addresses;
        let label = host.label();
        let answers: Vec<&crate::dns::Answer> = [&host.a, &host.aaaa]
            .into_iter()
            .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok()))
            .collect();
        let securities: Vec<Security> = answers
            .iter()
            .filter(|a| a.rcode == RcodeClass::Data)
            .map(|a| a.security)
            .collect();
        let mixed =
            securities.contains(&Security::Secure) && securities.contains(&Security::Insecure);
        if host.addresses.is_empty() {
            let reason = errors.into_iter().next().unwrap_or(Reason::NoAddresses);
            self.note(format!("{label}: no usable addresses: {reason}"));
            self.set_policy(h, HostPolicy::Skip, false, Some(reason));
            return;
        }
        for e in errors {
            self.warnings.push(format!(
                "{label}: {e}; using the other address family (RFC 7672 sec. 2.1.2)"
            ));
        }
        if mixed {
            self.warnings.push(format!(
                "{label}: A and AAAA records differ in DNSSEC status; the host's TLSA policy \
                 applies to every address, those of the insecure RRset too"
            ));
        }
        if !self.mx_secure && self.config.insecure_mx == route::InsecureMxPolicy::May {
            self.note(format!(
                "{label}: insecure MX and policy 'may': no TLSA lookup"
            ));
            self.set_policy(h, HostPolicy::Opportunistic, false, None);
            return;
        }
        self.decide_candidates(h);
    }

    pub(super) fn decide_candidates(&mut self, h: usize) {
        let host = &self.hosts[h];
        let answers: Vec<&crate::dns::Answer> = [&host.a, &host.aaaa]
            .into_iter()
            .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok()))
            .collect();
        let decision = tlsa_candidates(&host.target.name, &answers, host.cname_probe.as_ref());
        let label = host.label();
        let name = host.target.name.clone();
        match decision {
            BaseDecision::Candidates(candidates) => {
                self.hosts[h].candidates = candidates;
                self.hosts[h].candidate = 0;
                self.start_tlsa(h);
            }
            BaseDecision::NeedCnameProbe => {
                self.note(format!(
                    "{label}: addresses via an insecure CNAME chain: asking for the CNAME alone (RFC 7672 sec. 2.1.3)"
                ));
                self.start_lookup(Purpose::CnameProbe { host: h }, &name, RecordType::CNAME);
            }
            BaseDecision::NoDane => {
                self.note(format!(
                    "{label}: address records insecure: no TLSA lookup, DANE does not apply (RFC 7672 sec. 2.2.2)"
                ));
                self.set_policy(h, HostPolicy::Opportunistic, false, None);
            }
            BaseDecision::Failed(e) => {
                let reason = lookup_reason(query_text(&name, RecordType::CNAME), &e);
                self.note(format!("{label}: {reason}: host skipped"));
                self.set_policy(h, HostPolicy::Skip, false, Some(reason));
            }
        }
    }

    pub(super) fn start_tlsa(&mut self, h: usize) {
        let base = self.hosts[h].candidates[self.hosts[h].candidate].clone();
        match tlsa_query_name(self.port, &base) {
            Ok(qname) => self.start_lookup(Purpose::Tlsa { host: h }, &qname, RecordType::TLSA),
            Err(detail) => {
                let reason = Reason::DnsError {
                    query: display_name(&base),
                    detail,
                };
                self.set_policy(h, HostPolicy::Skip, false, Some(reason));
            }
        }
    }

    pub(super) fn tlsa_report(
        &self,
        qname: &Name,
        result: &LookupResult,
        outcome: &TlsaOutcome,
    ) -> TlsaReport {
        let (security, ttl, rrsig_expires) = match result {
            Ok(a) => (a.security, a.ttl, a.rrsig_expires.map(|t| t.to_rfc3339())),
            Err(e) => (e.security(), None, None),
        };
        let records: Vec<TlsaRecordReport> = match outcome {
            TlsaOutcome::Usable(set) | TlsaOutcome::AllUnusable(set) => set
                .entries
                .iter()
                .map(|e| TlsaRecordReport {
                    record: e.record.clone(),
                    text: e.record.to_text(),
                    usable: e.unusable.is_none(),
                    unusable_reason: e.unusable.as_ref().map(|u| u.to_string()),
                })
                .collect(),
            _ => Vec::new(),
        };
        TlsaReport {
            name: display_name(qname),
            security,
            ttl,
            rrsig_expires,
            usable: records.iter().any(|r| r.usable),
            records,
        }
    }

    pub(super) fn on_tlsa(&mut self, h: usize, result: LookupResult) {
        let base = self.hosts[h].candidates[self.hosts[h].candidate].clone();
        let qname = tlsa_query_name(self.port, &base).unwrap_or_else(|_| base.clone());
        let outcome = classify_tlsa(&result, &self.usages, &self.digests);
        let report = self.tlsa_report(&qname, &result, &outcome);
        let label = self.hosts[h].label();
        let summary = match &outcome {
            TlsaOutcome::Usable(_) | TlsaOutcome::AllUnusable(_) => {
                let lines: Vec<String> = report
                    .records
                    .iter()
                    .map(|r| match &r.unusable_reason {
                        None => format!("{} (usable)", abbreviate(&r.text)),
                        Some(why) => format!("{} (unusable: {why})", abbreviate(&r.text)),
                    })
                    .collect();
                format!("secure: {}", lines.join("; "))
            }
            TlsaOutcome::SecureAbsent => "secure: no TLSA records".into(),
            TlsaOutcome::Insecure => format!("insecure ({})", describe_answer(&result)),
            TlsaOutcome::Failed(e) => format!("lookup failed: {e}"),
        };
        self.note(format!("{label}: TLSA {}: {summary}", display_name(&qname)));
        self.hosts[h].tlsa = Some(report);
        if outcome.try_next_candidate()
            && self.hosts[h].candidate + 1 < self.hosts[h].candidates.len()
        {
            self.hosts[h].candidate += 1;
            self.start_tlsa(h);
            return;
        }
        let (policy, trusted_only) =
            decide_policy(&outcome, self.mx_secure, self.config.insecure_mx);
        let reason = match &outcome {
            TlsaOutcome::Failed(e) => Some(lookup_reason(query_text(&qname, RecordType::TLSA), e)),
            _ => None,
        };
        if matches!(policy, HostPolicy::Dane | HostPolicy::Encrypt) {
            self.hosts[h].base = Some(base);
        }
        self.hosts[h].outcome = Some(outcome);
        self.set_policy(h, policy, trusted_only, reason);
    }

    /// Records the host policy and queues its connections (RFC 7672 sec. 2.2). With mandatory
    /// DANE (RFC 7672 sec. 6), a host that would not be authenticated is not connected to.
    pub(super) fn set_policy(
        &mut self,
        h: usize,
        policy: HostPolicy,
        trusted_only: bool,
        reason: Option<Reason>,
    ) {
        let (policy, reason) = if self.config.require_dane
            && policy != HostPolicy::Skip
            && (policy != HostPolicy::Dane || trusted_only)
        {
            let detail = if self.hosts[h].target.literal.is_some() {
                "an IP address never uses DANE (RFC 7672 sec. 2.2)".to_string()
            } else if !self.mx_secure {
                "the MX RRset is not DNSSEC-signed (RFC 7672 sec. 2.2.1)".to_string()
            } else if policy == HostPolicy::Encrypt {
                "every TLSA record is unusable".to_string()
            } else {
                "no usable secure TLSA records".to_string()
            };
            (HostPolicy::Skip, Some(Reason::DaneRequired { detail }))
        } else {
            (policy, reason)
        };
        let next_hop = match &self.destination {
            Destination::Domain(domain) if self.mx_report.as_ref().is_some_and(|m| m.implicit) => {
                NextHop::NonMx {
                    original: domain.clone(),
                }
            }
            Destination::Domain(domain) if self.mx_secure => NextHop::SecureMx {
                original: domain.clone(),
                expanded: self
                    .next_hop_expanded
                    .clone()
                    .unwrap_or_else(|| domain.clone()),
            },
            Destination::Domain(_) => NextHop::InsecureMx,
            Destination::Host { name, .. } => NextHop::NonMx {
                original: name.clone(),
            },
            Destination::Literal { .. } => NextHop::InsecureMx,
        };
        let host = &mut self.hosts[h];
        host.policy = Some(policy);
        host.trusted_only = trusted_only;
        host.reason = reason;
        if let Some(base) = &host.base {
            host.reference_ids = reference_identifiers(base, &host.target.name, &next_hop);
        }
        let label = host.label();
        let line = match policy {
            HostPolicy::Dane => format!(
                "{label}: policy dane: TLS and authentication mandatory{}; reference identifiers {}",
                if trusted_only { " (insecure MX: success is 'trusted')" } else { "" },
                host.reference_ids.join(", ")
            ),
            HostPolicy::Encrypt => format!("{label}: policy encrypt: TLS mandatory, no authentication (all TLSA records unusable)"),
            HostPolicy::Opportunistic => format!("{label}: policy opportunistic: no DANE, TLS if offered"),
            HostPolicy::Skip => format!(
                "{label}: policy skip: unreachable for delivery ({})",
                host.reason.as_ref().map(|r| r.to_string()).unwrap_or_default()
            ),
        };
        if policy != HostPolicy::Skip && !self.config.dns_only {
            for addr in host.addresses.clone() {
                self.queue.push_back((h, SocketAddr::new(addr, self.port)));
            }
        }
        self.note(line);
    }
}
