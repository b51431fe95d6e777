//! [`TrustedDns`]: the DNS of one check, answering only with what a believed resolver said
//! (RFC 7672 sec. 2.1.1, DESIGN.md section 4). Every check (the SMTP check of RFC 7672, the
//! MUA check of RFC 7673) asks its questions through it and gets back the results of
//! validating resolvers only, tagged with what each lookup was for.
//!
//! Every configured resolver is probed at once, each alone; lookups go to one speculative
//! resolver meanwhile ([`ResolverSet::speculative`]). Results are held until every probe is
//! in; then only those of believed resolvers are released and everything else is asked
//! again of the believed ones, so a second, non-validating resolver can never turn bogus into
//! insecure, and no report depends on which answer came first.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use super::resolvers::{self, ResolverSet};
use crate::dns::{Answer, DnsClient, DnsConfig, LookupError, LookupId, LookupResult, RcodeClass};
use crate::dnssec::{
    validated_ttl, AnchorError, DnssecMode, DnssecSettings, TrustAnchor, ValidationFailure,
    Validator,
};
use crate::machine::{Action, QueryId, UsageError};
use crate::report::{
    DomainVerdict, LocalStep, ProbeDetail, Reason, ResolverEntry, ResolverReport, Warning,
};
use crate::seed::DetRng;
use crate::time::Timestamp;

/// What [`TrustedDns`] tells its check besides results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DnsEvent {
    /// A line for the check's log.
    Log(String),
    /// A warning for the report.
    Warning(Warning),
    /// No answer can be believed: the check ends with this verdict and reason (no validating
    /// resolver: `temp-fail`; a probe not even sent: `inconclusive`, issue 7).
    End(DomainVerdict, Reason),
}

/// A lookup asked: what for, and the question (to ask again elsewhere).
struct Pending<P> {
    purpose: Option<P>,
    /// For a resolver probe, which resolver.
    probe_of: Option<usize>,
    /// A DS or DNSKEY lookup of the in-core validator's chain of trust.
    chain: bool,
    name: Name,
    rtype: RecordType,
}

/// A result held until the probes decide which resolvers count.
struct Held<P> {
    id: LookupId,
    purpose: P,
    name: Name,
    rtype: RecordType,
    result: LookupResult,
}

/// The DNS of one check, releasing only believed results. `P` says what a lookup is for
/// (the check's own purpose type); results come back with it from
/// [`TrustedDns::poll_result`].
pub(crate) struct TrustedDns<P> {
    dns: DnsClient,
    resolvers: ResolverSet,
    configured: Vec<SocketAddr>,
    lookups: BTreeMap<LookupId, Pending<P>>,
    held: Vec<Held<P>>,
    results: VecDeque<(P, LookupResult)>,
    events: VecDeque<DnsEvent>,
    /// The `--dnssec` mode configured.
    mode: DnssecMode,
    /// The trust anchors, parsed (used when the core validates).
    anchors: Result<Vec<TrustAnchor>, AnchorError>,
    /// The chain walker, once the probes decided that the core validates.
    validator: Option<Validator>,
    /// Believed answers waiting for the validator's chain, in the order they came.
    awaiting: Vec<(P, Answer)>,
}

impl<P: Clone> TrustedDns<P> {
    /// The DNS over `servers`, each attempt waiting `attempt_timeout`, with `attempts`
    /// attempts per lookup, message ids drawn from `rng` (RFC 5452 sec. 9.2), DNSSEC
    /// statuses from where `dnssec` says.
    pub(crate) fn new(
        servers: &[SocketAddr],
        attempt_timeout: Duration,
        attempts: u8,
        rng: DetRng,
        dnssec: &DnssecSettings,
    ) -> Self {
        let resolvers = ResolverSet::new(servers);
        let dns = DnsClient::new(
            DnsConfig {
                // Until the probes are in, lookups ask one resolver; see `resolvers`.
                servers: resolvers.speculative().into_iter().collect(),
                attempt_timeout,
                attempts: attempts.max(1),
                payload: 1232,
                max_in_flight: crate::dns::DEFAULT_MAX_IN_FLIGHT,
                // `validate` asks with CD=1 from the start, probes included: the probe then
                // checks the resolver serves DNSSEC data (RFC 4035 sec. 3.2.2).
                checking_disabled: dnssec.mode == DnssecMode::Validate,
            },
            rng,
        );
        TrustedDns {
            dns,
            resolvers,
            configured: servers.to_vec(),
            lookups: BTreeMap::new(),
            held: Vec::new(),
            results: VecDeque::new(),
            events: VecDeque::new(),
            mode: dnssec.mode,
            anchors: dnssec.anchors(),
            validator: None,
            awaiting: Vec::new(),
        }
    }

    /// Probes every configured resolver at once, each alone (DESIGN.md section 4).
    pub(crate) fn start_probes(&mut self, now: Timestamp) {
        if let (DnssecMode::Validate | DnssecMode::Auto, Err(error)) = (self.mode, &self.anchors) {
            let reason = Reason::TrustAnchorInvalid {
                error: error.to_string(),
            };
            self.log(reason.to_string());
            self.events
                .push_back(DnsEvent::End(DomainVerdict::TempFail, reason));
            return;
        }
        for (index, server) in self.resolvers.addresses().into_iter().enumerate() {
            let id = self.dns.lookup_at(
                now,
                server,
                &Name::root(),
                RecordType::DNSKEY,
                resolvers::PROBE_ATTEMPTS,
            );
            self.lookups.insert(
                id,
                Pending {
                    purpose: None,
                    probe_of: Some(index),
                    chain: false,
                    name: Name::root(),
                    rtype: RecordType::DNSKEY,
                },
            );
        }
    }

    /// Asks `name` `rtype` for `purpose`; the result comes back from
    /// [`TrustedDns::poll_result`] once a believed resolver gave it.
    pub(crate) fn lookup(&mut self, now: Timestamp, purpose: P, name: &Name, rtype: RecordType) {
        let id = self.dns.lookup(now, name, rtype);
        self.lookups.insert(
            id,
            Pending {
                purpose: Some(purpose),
                probe_of: None,
                chain: false,
                name: name.clone(),
                rtype,
            },
        );
    }

    /// A DNS message arrived (see [`DnsClient::handle_answer`]).
    pub(crate) fn handle_answer(
        &mut self,
        now: Timestamp,
        query: QueryId,
        from: Option<SocketAddr>,
        wire: &[u8],
    ) -> Result<(), UsageError> {
        self.dns.handle_answer(now, query, from, wire)
    }

    /// An exchange failed at the transport level.
    pub(crate) fn handle_failed(
        &mut self,
        now: Timestamp,
        query: QueryId,
        error: &crate::machine::NetError,
    ) -> Result<(), UsageError> {
        self.dns.handle_failed(now, query, error)
    }

    /// Time passed.
    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        self.dns.handle_timeout(now);
    }

    /// A believed result, in the order it became usable. Poll until `None` after every
    /// input and after starting lookups (a lookup with no server to ask fails at once).
    pub(crate) fn poll_result(&mut self, now: Timestamp) -> Option<(P, LookupResult)> {
        if self.results.is_empty() {
            self.process(now);
        }
        self.results.pop_front()
    }

    /// A log line, warning or end of the check.
    pub(crate) fn poll_event(&mut self) -> Option<DnsEvent> {
        self.events.pop_front()
    }

    /// The next DNS action for the runtime.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.dns.poll_action()
    }

    /// When the DNS next needs [`TrustedDns::handle_timeout`].
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.dns.next_deadline()
    }

    /// Ends every exchange (their sockets are freed by the `EndDns` actions that follow) and
    /// forgets every lookup: the check is finishing.
    pub(crate) fn abandon_all(&mut self) {
        self.dns.abandon_all();
        self.lookups.clear();
        self.held.clear();
        self.awaiting.clear();
    }

    /// Whether the probes are decided (believed resolvers known, possibly none).
    pub(crate) fn decided(&self) -> bool {
        self.resolvers.believed().is_some()
    }

    /// Whether the probes are decided and at least one resolver is believed.
    pub(crate) fn usable(&self) -> bool {
        self.resolvers.usable()
    }

    /// The resolver summary of the report (DESIGN.md section 6).
    pub(crate) fn summary(&self) -> ResolverReport {
        let mode = match (self.validator.is_some(), self.mode) {
            (true, _) | (false, DnssecMode::Validate) => "validate",
            (false, _) => "ad-bit",
        };
        ResolverReport {
            addresses: self.configured.iter().map(|s| s.to_string()).collect(),
            mode: mode.into(),
            validating: self.resolvers.usable(),
        }
    }

    /// Each configured resolver and its probe.
    pub(crate) fn entries(&self) -> Vec<ResolverEntry> {
        self.resolvers.entries()
    }

    fn log(&mut self, line: String) {
        self.events.push_back(DnsEvent::Log(line));
    }

    /// Takes what the client finished: probe results at once, anything else held until every
    /// probe is in, and released only if a believed resolver gave it.
    fn process(&mut self, now: Timestamp) {
        while let Some(ignored) = self.dns.poll_ignored() {
            let from = ignored
                .from
                .map_or_else(|| "an unknown source".to_string(), |f| f.to_string());
            self.log(format!(
                "ignored a DNS message from {from} for {} sent to {}: {} (RFC 5452 sec. 9.1)",
                ignored.query, ignored.server, ignored.why
            ));
        }
        while let Some((id, result)) = self.dns.poll_result() {
            self.on_result(now, id, result);
        }
    }

    fn on_result(&mut self, now: Timestamp, id: LookupId, result: LookupResult) {
        let Some(pending) = self.lookups.remove(&id) else {
            return;
        };
        if pending.chain {
            if let Some(validator) = &mut self.validator {
                validator.on_fetched(&pending.name, pending.rtype, result);
            }
            self.judge_awaiting(now);
            return;
        }
        let Some(purpose) = pending.purpose else {
            if let Some(index) = pending.probe_of {
                self.on_probe(now, index, result);
            }
            return;
        };
        let Some(believed) = self.resolvers.believed() else {
            self.held.push(Held {
                id,
                purpose,
                name: pending.name,
                rtype: pending.rtype,
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
                self.lookup(now, purpose, &pending.name, pending.rtype);
                return;
            }
        }
        self.release(now, purpose, result);
    }

    /// A believed result goes to the check, through the validator when the core validates.
    fn release(&mut self, now: Timestamp, purpose: P, result: LookupResult) {
        match (&self.validator, result) {
            (Some(_), Ok(answer)) => {
                self.awaiting.push((purpose, answer));
                self.judge_awaiting(now);
            }
            (_, result) => self.results.push_back((purpose, result)),
        }
    }

    /// Judges every answer waiting for the chain, releases those decided, and asks for
    /// what the chain still needs (CD=1, through the believed resolvers).
    fn judge_awaiting(&mut self, now: Timestamp) {
        let Some(validator) = &mut self.validator else {
            return;
        };
        let mut still = Vec::new();
        let mut mismatch = None;
        for (purpose, mut answer) in std::mem::take(&mut self.awaiting) {
            match validator.judge(&answer) {
                None => still.push((purpose, answer)),
                Some(Ok(judgement)) => {
                    if let Some(zone) = &judgement.insecure_below {
                        self.events.push_back(DnsEvent::Log(format!(
                            "{} {}: insecure: {} is a proven unsigned delegation (RFC 4035 sec. 5.2)",
                            answer.final_name, answer.qtype, zone
                        )));
                    }
                    answer.security = judgement.security;
                    answer.ede.extend(judgement.ede);
                    if answer.ttl.is_some() {
                        answer.ttl = validated_ttl(&answer, now);
                    }
                    self.results.push_back((purpose, Ok(answer)));
                }
                Some(Err(failure)) => {
                    if let ValidationFailure::AnchorMismatch { zone } = &failure {
                        mismatch.get_or_insert(zone.clone());
                    }
                    self.results
                        .push_back((purpose, Err(LookupError::Validation { failure })));
                }
            }
        }
        self.awaiting = still;
        let mut requests = Vec::new();
        while let Some(request) = validator.poll_request() {
            requests.push(request);
        }
        for (name, rtype) in requests {
            let id = self.dns.lookup(now, &name, rtype);
            self.lookups.insert(
                id,
                Pending {
                    purpose: None,
                    probe_of: None,
                    chain: true,
                    name,
                    rtype,
                },
            );
        }
        if let Some(zone) = mismatch {
            // RFC 4035 sec. 4.4: with an anchor that matches nothing, no status means
            // anything: the check stops with its own reason.
            self.results.clear();
            self.awaiting.clear();
            let reason = Reason::TrustAnchorMismatch { zone };
            self.log(reason.to_string());
            self.events
                .push_back(DnsEvent::End(DomainVerdict::TempFail, reason));
        }
    }

    /// The probe of resolver `index` answered.
    fn on_probe(&mut self, now: Timestamp, index: usize, result: LookupResult) {
        let server = self
            .resolvers
            .address(index)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let state = match result {
            Ok(answer) => self.probe_state(&server, &answer),
            Err(LookupError::LocalResources { error }) => {
                self.log(format!(
                    "resolver {server}: validating-resolver probe not sent: {error}"
                ));
                resolvers::ProbeState::NotSent(error)
            }
            Err(error) => {
                let detail = ProbeDetail::Failed { error };
                self.log(format!(
                    "resolver {server}: validating-resolver probe {detail}"
                ));
                resolvers::ProbeState::Unreachable(detail)
            }
        };
        self.resolvers.record(index, state);
        if self.resolvers.all_probed() && self.resolvers.believed().is_none() {
            self.on_probes_done(now);
        }
    }

    /// What the probe's answer (the root DNSKEY, DO=1) says of a resolver: it validates
    /// (AD=1, asked with CD=0), it serves DNSSEC data (the RRset came with its RRSIG, for
    /// the core to validate: RFC 4035 sec. 3.2.2), or neither.
    fn probe_state(&mut self, server: &str, answer: &Answer) -> resolvers::ProbeState {
        let signed = answer.rcode == RcodeClass::Data
            && answer.sections.answer.iter().any(|r| {
                matches!(
                    &r.data,
                    hickory_proto::rr::RData::DNSSEC(
                        hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)
                    ) if sig.input().type_covered == RecordType::DNSKEY && r.name.is_root()
                )
            });
        let validates = self.mode != DnssecMode::Validate
            && answer.security.is_secure()
            && answer.rcode == RcodeClass::Data;
        if validates {
            self.log(format!(
                "resolver {server} validates: root DNSKEY is secure (AD=1)"
            ));
            return resolvers::ProbeState::Validating;
        }
        if signed && self.mode != DnssecMode::TrustAd {
            self.log(format!(
                "resolver {server} serves DNSSEC data: root DNSKEY with its RRSIG"
            ));
            return resolvers::ProbeState::ServesDnssec;
        }
        let detail = if self.mode == DnssecMode::TrustAd || signed {
            ProbeDetail::NoAdBit {
                security: answer.security,
                rcode: answer.rcode,
            }
        } else {
            ProbeDetail::NoDnssecData {
                rcode: answer.rcode,
            }
        };
        self.log(format!("resolver {server} {detail}"));
        resolvers::ProbeState::NotValidating(detail)
    }

    /// Every probe is in: decide which resolvers count, then release or re-ask what was held.
    fn on_probes_done(&mut self, now: Timestamp) {
        let speculative = self.resolvers.speculative();
        let core_validates = match self.mode {
            DnssecMode::TrustAd => false,
            DnssecMode::Validate => true,
            DnssecMode::Auto => !self.resolvers.local_validator(),
        };
        let believed = if core_validates {
            self.resolvers.decide_for_core_validation()
        } else {
            self.resolvers.demote_serving();
            self.resolvers.decide()
        };
        for (addr, detail) in self.resolvers.dropped() {
            self.events
                .push_back(DnsEvent::Warning(Warning::ResolverDropped {
                    resolver: addr.to_string(),
                    detail,
                }));
        }
        for addr in self.resolvers.unused_validating() {
            self.log(format!(
                "resolver {addr} validates but is not asked: a validating resolver on loopback is preferred"
            ));
        }
        if !core_validates {
            for addr in self.resolvers.believed_remote() {
                self.events
                    .push_back(DnsEvent::Warning(Warning::ResolverRemote {
                        resolver: addr.to_string(),
                    }));
            }
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
            self.log(format!("{reason}: the check is incomplete"));
            self.events
                .push_back(DnsEvent::End(DomainVerdict::Inconclusive, reason));
            return;
        }
        if believed.is_empty() {
            let reason = Reason::ResolverNotValidating {
                resolvers: self.resolvers.dropped_entries(),
            };
            self.held.clear();
            self.log(reason.to_string());
            self.events
                .push_back(DnsEvent::End(DomainVerdict::TempFail, reason));
            return;
        }
        self.log(format!(
            "asking {}",
            believed
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        self.dns.set_servers(believed.clone());
        if core_validates {
            if let Ok(anchors) = self.anchors.clone() {
                self.log(format!(
                    "validating DNSSEC in daneel from {} trust anchor(s), asking with CD=1",
                    anchors.len()
                ));
                self.validator = Some(Validator::new(anchors, now));
            }
            self.dns.set_checking_disabled(true);
        }
        let speculative_believed = speculative.is_some_and(|s| believed.contains(&s));
        if !speculative_believed {
            // Everything in flight went to a resolver that does not count: ask again.
            let in_flight: Vec<LookupId> = self
                .lookups
                .iter()
                .filter(|(_, p)| p.purpose.is_some())
                .map(|(id, _)| *id)
                .collect();
            for id in in_flight {
                self.dns.abandon(now, id);
                if let Some(Pending {
                    purpose: Some(purpose),
                    name,
                    rtype,
                    ..
                }) = self.lookups.remove(&id)
                {
                    self.lookup(now, purpose, &name, rtype);
                }
            }
        }
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|h| h.id);
        for h in held {
            let usable = match &h.result {
                Ok(answer) => believed.contains(&answer.server),
                Err(e) => speculative_believed && (e.is_final() || believed.len() == 1),
            };
            if usable {
                self.release(now, h.purpose, h.result);
            } else {
                self.lookup(now, h.purpose, &h.name, h.rtype);
            }
        }
    }
}
