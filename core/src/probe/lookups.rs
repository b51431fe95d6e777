//! The DNS steps of a probe (RFC 7672 sec. 2.2.2-2.2.3): the address lookups, the CNAME probe
//! and the TLSA lookups, ending in the host policy.

use super::*;

use crate::check::AddressFamily;
use crate::dns::{RcodeClass, Security};
use crate::report::{DaneRequirement, DnsQuery, TlsaRecordReport};
use crate::smtp::route::{
    classify_tlsa, decide_policy, tlsa_candidates, tlsa_query_name, BaseDecision, InsecureMxPolicy,
};

use super::describe::abbreviate;

/// The TLSA report of one lookup (RFC 7672 sec. 2.2: status, records, usability).
fn tlsa_report(qname: &Name, result: &LookupResult, outcome: &TlsaOutcome) -> TlsaReport {
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

impl HostProbe {
    fn wants_a(&self) -> bool {
        self.params.options.family != AddressFamily::V6
    }

    fn wants_aaaa(&self) -> bool {
        self.params.options.family != AddressFamily::V4
    }

    /// Asks for the host's addresses, and with [`LookupOrder::Parallel`] for the TLSA RRset of
    /// its own name too.
    pub(super) fn start_address_lookups(&mut self) {
        let name = self.target.name.clone();
        if self.wants_a() {
            self.request(HostLookup::A, name.clone(), RecordType::A);
        }
        if self.wants_aaaa() {
            self.request(HostLookup::Aaaa, name.clone(), RecordType::AAAA);
        }
        // RFC 7673 sec. 3.1: under an insecure SRV RRset DANE does not apply, so there is no
        // TLSA RRset to ask for, early or late.
        let dane_may_apply = self.params.named_by.is_secure()
            || self.params.named_by.if_insecure != InsecureMxPolicy::May;
        if self.params.order == LookupOrder::Parallel && dane_may_apply {
            let base = name.to_lowercase();
            if let Ok(qname) = tlsa_query_name(self.params.service.port, &base) {
                self.early_tlsa = Some(EarlyTlsa::Asked(base.clone()));
                self.request(HostLookup::Tlsa { base }, qname, RecordType::TLSA);
            }
        }
    }

    /// A lookup this probe asked for finished. A result the probe no longer waits for (its
    /// state moved on) is ignored.
    pub fn handle_lookup(&mut self, lookup: HostLookup, result: LookupResult) {
        match lookup {
            HostLookup::A => self.on_address(false, result),
            HostLookup::Aaaa => self.on_address(true, result),
            HostLookup::Cname => self.on_cname_probe(result),
            HostLookup::Tlsa { base } => self.on_tlsa(base, result),
        }
    }

    fn on_address(&mut self, v6: bool, result: LookupResult) {
        let filled = match &self.stage {
            Stage::Addresses { a, aaaa } => {
                if v6 {
                    aaaa.is_some()
                } else {
                    a.is_some()
                }
            }
            _ => return,
        };
        if filled {
            return;
        }
        let rtype = if v6 { RecordType::AAAA } else { RecordType::A };
        let line = format!("{}: {rtype} {}", self.label(), describe_answer(&result));
        self.note(line);
        let (want_a, want_aaaa) = (self.wants_a(), self.wants_aaaa());
        let Stage::Addresses { a, aaaa } = &mut self.stage else {
            return;
        };
        if v6 {
            *aaaa = Some(Box::new(result));
        } else {
            *a = Some(Box::new(result));
        }
        if (!want_a || a.is_some()) && (!want_aaaa || aaaa.is_some()) {
            let (a, aaaa) = (a.take().map(|r| *r), aaaa.take().map(|r| *r));
            self.on_addresses(a, aaaa);
        }
    }

    /// Both address answers are in (RFC 7672 sec. 2.2.2).
    fn on_addresses(&mut self, a: Option<LookupResult>, aaaa: Option<LookupResult>) {
        let security = |r: &Option<LookupResult>| {
            r.as_ref()
                .map(|r| r.as_ref().map_or_else(|e| e.security(), |a| a.security))
        };
        self.found.address_security = AddressSecurity {
            a: security(&a),
            aaaa: security(&aaaa),
        };
        let mut addresses = Vec::new();
        let mut errors = Vec::new();
        for (result, rtype) in [(&a, RecordType::A), (&aaaa, RecordType::AAAA)] {
            match result {
                Some(Ok(answer)) if answer.rcode == RcodeClass::Data => {
                    if !answer.cnames.is_empty() {
                        self.found.expanded = Some(answer.final_name.to_lowercase());
                    }
                    addresses.extend(answer.addresses());
                }
                Some(Ok(_)) | None => {}
                Some(Err(e)) => {
                    errors.push(lookup_reason(DnsQuery::new(&self.target.name, rtype), e))
                }
            }
        }
        addresses.sort();
        addresses.dedup();
        self.found.addresses = addresses;
        let label = self.label();
        let answers: Vec<Answer> = [a, aaaa]
            .into_iter()
            .filter_map(|r| r.and_then(|r| r.ok()))
            .collect();
        let securities: Vec<Security> = answers
            .iter()
            .filter(|a| a.rcode == RcodeClass::Data)
            .map(|a| a.security)
            .collect();
        let mixed =
            securities.contains(&Security::Secure) && securities.contains(&Security::Insecure);
        if self.found.addresses.is_empty() {
            let reason = errors.into_iter().next().unwrap_or(Reason::NoAddresses);
            self.note(format!("{label}: no usable addresses: {reason}"));
            self.decide(HostPolicy::Skip, false, Some(reason));
            return;
        }
        // A family whose lookup could not even be sent (out of descriptors or memory) was
        // never checked: the host's result would be incomplete (issue 7).
        if let Some(local) = errors
            .iter()
            .find(|e| matches!(e, Reason::LocalResources { .. }))
        {
            let reason = local.clone();
            self.note(format!("{label}: {reason}: host not checked"));
            self.decide(HostPolicy::Skip, false, Some(reason));
            return;
        }
        // A bogus RRset means the name is in a signed zone, so the other family's insecure
        // answer contradicts it: with no secure RRset to decide on, the host's DANE status is
        // unknown and it is skipped (RFC 7672 sec. 2.1.1 and sec. 2.2.2: bogus results MUST
        // delay or abandon delivery; RFC 7673 sec. 3.2). A timeout or a plain SERVFAIL says
        // nothing about signatures, and the other family is used, as Postfix does.
        let secure_data = securities.contains(&Security::Secure);
        if let Some(bogus) = errors
            .iter()
            .find(|e| matches!(e, Reason::DnsBogus { .. }))
            .filter(|_| !secure_data)
        {
            let reason = bogus.clone();
            self.note(format!(
                "{label}: {reason} next to an insecure answer: DANE status unknown, host skipped"
            ));
            self.decide(HostPolicy::Skip, false, Some(reason));
            return;
        }
        // RFC 7673 sec. 3.2: for an SRV target, an address lookup that fails ("bogus" or
        // "indeterminate") means the client MUST NOT connect and uses the next SRV target;
        // the MX rule above (use the other family, as Postfix does) does not apply.
        if let (ReferenceIds::Srv { .. }, Some(failed)) =
            (&self.params.reference_ids, errors.first())
        {
            let reason = failed.clone();
            self.note(format!(
                "{label}: {reason}: SRV target skipped (RFC 7673 sec. 3.2)"
            ));
            self.decide(HostPolicy::Skip, false, Some(reason));
            return;
        }
        for reason in errors {
            self.warn(Warning::AddressFamilyFailed {
                host: label.clone(),
                reason: Box::new(reason),
            });
        }
        if mixed {
            self.warn(Warning::MixedAddressSecurity {
                host: label.clone(),
            });
        }
        if !self.params.named_by.is_secure()
            && self.params.named_by.if_insecure == InsecureMxPolicy::May
        {
            let why = match self.params.reference_ids {
                ReferenceIds::Srv { .. } => {
                    "insecure SRV RRset: DANE does not apply, no TLSA lookup (RFC 7673 sec. 3.1)"
                }
                ReferenceIds::Smtp { .. } => "insecure MX and policy 'may': no TLSA lookup",
            };
            self.note(format!("{label}: {why}"));
            self.decide(HostPolicy::Opportunistic, false, None);
            return;
        }
        self.decide_candidates(answers, None);
    }

    fn on_cname_probe(&mut self, result: LookupResult) {
        let Stage::CnameProbe { answers } = &mut self.stage else {
            return;
        };
        let answers = std::mem::take(answers);
        let line = format!("{}: CNAME {}", self.label(), describe_answer(&result));
        self.note(line);
        self.decide_candidates(answers, Some(result));
    }

    /// The TLSA base domain candidates (RFC 7672 sec. 2.2.2, sec. 2.1.3).
    fn decide_candidates(&mut self, answers: Vec<Answer>, cname_probe: Option<LookupResult>) {
        let refs: Vec<&Answer> = answers.iter().collect();
        let decision = tlsa_candidates(&self.target.name, &refs, cname_probe.as_ref());
        let label = self.label();
        let name = self.target.name.clone();
        match decision {
            BaseDecision::Candidates(candidates) => {
                self.stage = Stage::Tlsa {
                    candidates,
                    candidate: 0,
                };
                self.start_tlsa();
            }
            BaseDecision::NeedCnameProbe => {
                self.note(format!(
                    "{label}: addresses via an insecure CNAME chain: asking for the CNAME alone (RFC 7672 sec. 2.1.3)"
                ));
                self.stage = Stage::CnameProbe { answers };
                self.request(HostLookup::Cname, name, RecordType::CNAME);
            }
            BaseDecision::NoDane => {
                self.note(format!(
                    "{label}: address records insecure: no TLSA lookup, DANE does not apply (RFC 7672 sec. 2.2.2)"
                ));
                self.decide(HostPolicy::Opportunistic, false, None);
            }
            BaseDecision::Failed(e) => {
                let reason = lookup_reason(DnsQuery::new(&name, RecordType::CNAME), &e);
                self.note(format!("{label}: {reason}: host skipped"));
                self.decide(HostPolicy::Skip, false, Some(reason));
            }
        }
    }

    /// The candidate base domain the probe is at, in state `Tlsa`.
    fn current_base(&self) -> Option<&Name> {
        match &self.stage {
            Stage::Tlsa {
                candidates,
                candidate,
            } => candidates.get(*candidate),
            _ => None,
        }
    }

    /// Asks for the TLSA RRset of the current candidate, or uses the early answer for it.
    fn start_tlsa(&mut self) {
        let Some(base) = self.current_base().cloned() else {
            return;
        };
        match self.early_tlsa.take() {
            Some(EarlyTlsa::Answered(early, result)) if early == base => {
                return self.use_tlsa(base, *result);
            }
            Some(EarlyTlsa::Asked(early)) if early == base => {
                // Its answer is on the way: wait for it.
                self.early_tlsa = Some(EarlyTlsa::Asked(early));
                return;
            }
            other => self.early_tlsa = other,
        }
        match tlsa_query_name(self.params.service.port, &base) {
            Ok(qname) => self.request(HostLookup::Tlsa { base }, qname, RecordType::TLSA),
            Err(error) => {
                let reason = Reason::DnsError {
                    query: DnsQuery {
                        name: format!("_{}._tcp.{}", self.params.service.port, display_name(&base)),
                        rtype: RecordType::TLSA.to_string(),
                    },
                    error,
                };
                self.decide(HostPolicy::Skip, false, Some(reason));
            }
        }
    }

    fn on_tlsa(&mut self, base: Name, result: LookupResult) {
        if self.current_base() == Some(&base) {
            if matches!(&self.early_tlsa, Some(EarlyTlsa::Asked(early)) if *early == base) {
                self.early_tlsa = None;
            }
            return self.use_tlsa(base, result);
        }
        if matches!(&self.early_tlsa, Some(EarlyTlsa::Asked(early)) if *early == base) {
            // Parallel mode, addresses not decided yet: kept until they say whether this name
            // is a base domain at all (RFC 7673 sec. 7).
            self.early_tlsa = Some(EarlyTlsa::Answered(base, Box::new(result)));
        }
    }

    /// The TLSA answer of the current candidate (RFC 7672 sec. 2.2 (a)-(d), R27, R31, R35).
    fn use_tlsa(&mut self, base: Name, result: LookupResult) {
        let Stage::Tlsa {
            candidates,
            candidate,
        } = &self.stage
        else {
            return;
        };
        let more = *candidate + 1 < candidates.len();
        let qname =
            tlsa_query_name(self.params.service.port, &base).unwrap_or_else(|_| base.clone());
        let outcome = classify_tlsa(
            &result,
            &self.params.trust.usages(),
            &self.params.options.digests,
        );
        let report = tlsa_report(&qname, &result, &outcome);
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
        self.note(format!(
            "{}: TLSA {}: {summary}",
            self.label(),
            display_name(&qname)
        ));
        self.found.tlsa = Some(report);
        if outcome.try_next_candidate() && more {
            if let Stage::Tlsa { candidate, .. } = &mut self.stage {
                *candidate += 1;
            }
            return self.start_tlsa();
        }
        let (policy, trusted_only) = decide_policy(
            &outcome,
            self.params.named_by.is_secure(),
            self.params.named_by.if_insecure,
        );
        let reason = match &outcome {
            TlsaOutcome::Failed(e) => {
                Some(lookup_reason(DnsQuery::new(&qname, RecordType::TLSA), e))
            }
            _ => None,
        };
        let base = matches!(policy, HostPolicy::Dane | HostPolicy::Encrypt).then_some(base);
        self.decide_with(policy, trusted_only, reason, Some(outcome), base);
    }

    /// Records the host policy and queues its connections (RFC 7672 sec. 2.2).
    pub(super) fn decide(
        &mut self,
        policy: HostPolicy,
        trusted_only: bool,
        reason: Option<Reason>,
    ) {
        self.decide_with(policy, trusted_only, reason, None, None);
    }

    /// With PKIX ([`TrustModel::DaneAndPkix`]), the SNI name and reference identifiers of
    /// a host whose policy leaves it without usable TLSA records (RFC 7673 sec. 4.1,
    /// [`ReferenceIds::pkix`]); `None` otherwise.
    pub(super) fn pkix_names(&self, policy: HostPolicy) -> Option<(String, Vec<String>)> {
        match (&self.params.trust, policy) {
            (TrustModel::DaneAndPkix { .. }, HostPolicy::Encrypt | HostPolicy::Opportunistic)
                if self.target.literal.is_none() =>
            {
                Some(
                    self.params
                        .reference_ids
                        .pkix(&self.target.name, &self.params.named_by),
                )
            }
            _ => None,
        }
    }

    /// [`HostProbe::decide`] with the TLSA outcome and base domain. With mandatory DANE
    /// (RFC 7672 sec. 6), a host that would not be authenticated is not connected to.
    fn decide_with(
        &mut self,
        policy: HostPolicy,
        trusted_only: bool,
        reason: Option<Reason>,
        outcome: Option<TlsaOutcome>,
        base: Option<Name>,
    ) {
        let (policy, reason) = if self.params.require_dane
            && policy != HostPolicy::Skip
            && (policy != HostPolicy::Dane || trusted_only)
        {
            let why = if self.target.literal.is_some() {
                DaneRequirement::AddressLiteral
            } else if !self.params.named_by.is_secure() {
                DaneRequirement::InsecureMx
            } else if policy == HostPolicy::Encrypt {
                DaneRequirement::AllUnusable
            } else {
                DaneRequirement::NoUsableTlsa
            };
            (HostPolicy::Skip, Some(Reason::DaneRequired { why }))
        } else {
            (policy, reason)
        };
        let dns_failure = matches!(
            reason,
            Some(
                Reason::DnsServfail { .. }
                    | Reason::DnsBogus { .. }
                    | Reason::DnsTimeout { .. }
                    | Reason::DnsError { .. }
            )
        );
        // Which lookup left the host skipped: the one the probe was waiting for.
        let failed_lookup =
            (policy == HostPolicy::Skip && dns_failure).then_some(match self.stage {
                Stage::Tlsa { .. } => FailedLookup::Tlsa,
                Stage::CnameProbe { .. } => FailedLookup::CnameProbe,
                _ => FailedLookup::Address,
            });
        let pkix = self.pkix_names(policy);
        let reference_ids = match &pkix {
            Some((_, ids)) => ids.clone(),
            None => base
                .as_ref()
                .map(|base| {
                    self.params.reference_ids.resolve(
                        base,
                        &self.target.name,
                        &self.params.named_by,
                    )
                })
                .unwrap_or_default(),
        };
        let label = self.label();
        if let (
            TrustModel::DaneAndPkix {
                trust_store: PkixTrustStore::WebPkiRoots,
            },
            Some(TlsaOutcome::Usable(set)),
        ) = (&self.params.trust, &outcome)
        {
            for record in set.usable().filter(|r| r.usage == 0 && r.selector == 0) {
                self.notes
                    .push_back(Note::Warning(Warning::PkixTaNeedsRootCertificate {
                        host: label.clone(),
                        record: record.to_text(),
                    }));
            }
        }
        let line = match policy {
            _ if pkix.is_some() && policy != HostPolicy::Skip => format!(
                "{label}: policy {}: TLS mandatory, PKIX authentication (RFC 7673 sec. 4.1); \
                 reference identifiers {}",
                if policy == HostPolicy::Encrypt {
                    "encrypt (all TLSA records unusable)"
                } else {
                    "opportunistic (no usable TLSA records)"
                },
                reference_ids.join(", ")
            ),
            HostPolicy::Dane => format!(
                "{label}: policy dane: TLS and authentication mandatory{}; reference identifiers {}",
                if trusted_only { " (insecure MX: success is 'trusted')" } else { "" },
                reference_ids.join(", ")
            ),
            HostPolicy::Encrypt => format!("{label}: policy encrypt: TLS mandatory, no authentication (all TLSA records unusable)"),
            HostPolicy::Opportunistic => format!("{label}: policy opportunistic: no DANE, TLS if offered"),
            HostPolicy::Skip => format!(
                "{label}: policy skip: unreachable for delivery ({})",
                reason.as_ref().map(|r| r.to_string()).unwrap_or_default()
            ),
        };
        if policy != HostPolicy::Skip && !self.params.options.dns_only {
            let port = self.params.service.port;
            self.to_connect = self
                .found
                .addresses
                .iter()
                .map(|addr| SocketAddr::new(*addr, port))
                .collect();
        }
        self.decision = Some(Decision {
            policy,
            trusted_only,
            reason,
            failed_lookup,
            outcome,
            base,
            reference_ids,
        });
        self.stage = if self.to_connect.is_empty() {
            Stage::Done
        } else {
            Stage::Connecting
        };
        self.note(line);
    }
}
