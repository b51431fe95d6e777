//! [`MuaCheck`]: what a mail user agent, given only an address, finds and can trust
//! (draft-fanf-dane-mua, RFC 6186, RFC 7673, RFC 8314).
//!
//! For each service ([`srv::MailService`]) it looks up `_<service>._tcp.<domain>` SRV through
//! the same believed resolvers as the SMTP check ([`crate::check`]'s `TrustedDns`), orders the
//! targets as RFC 2782 says (`plan_srv`), and runs one `HostProbe` per target with the
//! parameters of RFC 7673: the SRV RRset's status, the service domain and target as reference
//! identifiers, all four TLSA usages plus a PKIX trust store, the port from the SRV record,
//! the TLSA lookup in parallel with the address lookups (sec. 7). A bogus or failed SRV
//! lookup connects to nothing (sec. 3.1); a missing SRV RRset or a lone "." target makes the
//! service `unavailable` (RFC 6186 sec. 3, RFC 2782).

pub mod compat;
pub mod config;
pub mod report;
internal! {
    mod imap;
    mod pop3;
    mod starttls;
    mod wire;
    mod srv;
}

pub use compat::{ClassReport, ClassVerdict, CompatCell, Compatibility};
pub use config::{MuaConfig, DEFAULT_SERVICES};
pub use report::{AutoConfig, ServiceReport, SrvReport, TlsMode};
pub use srv::{DroppedSrv, MailService, ServicePurpose};
pub use wire::ResponseError;
internal!(
    use srv::{plan_srv, SrvKind, SrvPlan, SrvTarget};
);

use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::check::engine::{self, CheckSteps, Engine};
use crate::check::trusted_dns::TrustedDns;
use crate::check::{domain_verdict, DomainFacts, HostFacts};
use crate::dns::LookupResult;
use crate::machine::{Input, Machine, Output, UsageError};
use crate::probe::{
    lookup_reason, HostLookup, HostProbe, LookupOrder, NamedBy, Observe, PkixTrustStore,
    ProbeOptions, ProbeParams, ReferenceIds, TrustModel, Unsupported,
};
use crate::report::{
    CheckKind, ConnectionVerdict, DnsQuery, DomainVerdict, HostPolicy, HostReport, HostVerdict,
    Reason, Report, Warning,
};
use crate::seed::{DetRng, Seed};
use crate::smtp::route::{display_name, parse_domain, InsecureMxPolicy, MxTarget, SniMode};
use crate::smtp::session::SmtpTimeouts;
use crate::time::Timestamp;

/// What a lookup of the MUA check is for.
#[derive(Clone, Debug)]
pub(crate) enum Purpose {
    /// The SRV lookup of service number `service`.
    Srv { service: usize },
    /// A lookup of the probe `probe` of the fleet.
    Host { probe: usize, lookup: HostLookup },
}

/// One requested service and what became of it.
struct ServiceState {
    service: MailService,
    owner: Name,
    /// Set once the SRV lookup is in.
    srv: Option<srv::SrvPlan>,
    /// The SRV lookup failed: its reason (the service is `temp-fail`, or `inconclusive` for
    /// a local failure).
    failed: Option<Reason>,
    /// The fleet indices of its targets' probes, in RFC 2782 order, with their ports.
    probes: Vec<(usize, u16)>,
    /// Its sessions are not implemented ([`ProbeParams::supported`] refused them): discovered
    /// only.
    untested: Option<Unsupported>,
}

/// The MUA check machine (RFC 7673 for SRV-published mail services). Create it with
/// [`MuaCheck::new`] and drive it through [`Machine`]; it finishes with [`Output::Done`]
/// carrying a [`Report`] of kind `mua`.
pub struct MuaCheck {
    config: MuaConfig,
    domain: Name,
    options: ProbeOptions,
    trust_store: PkixTrustStore,
    /// The DNS, the probes, the log: what every check holds.
    engine: Engine<Purpose>,
    seed: Seed,
    services: Vec<ServiceState>,
}

impl MuaCheck {
    /// A check of `config.domain`'s services, starting at `now`, with all randomness drawn
    /// from `seed`. Fails only for an invalid configuration.
    pub fn new(config: MuaConfig, seed: Seed, now: Timestamp) -> Result<Self, UsageError> {
        let invalid = UsageError::InvalidConfig;
        let domain = parse_domain(&config.domain).map_err(|e| invalid(e.to_string()))?;
        if config.resolvers.is_empty() {
            return Err(invalid("no resolver configured".into()));
        }
        if config.services.is_empty() {
            return Err(invalid("no service to check".into()));
        }
        let digests = crate::check::config::validate_shared(
            config.max_parallel,
            &config.ehlo_name,
            &config.digests,
        )?;
        let mut services = Vec::new();
        for service in &config.services {
            if services
                .iter()
                .any(|s: &ServiceState| s.service == *service)
            {
                continue;
            }
            services.push(ServiceState {
                service: *service,
                owner: service
                    .srv_owner(&domain)
                    .map_err(|e| invalid(format!("{}: {e}", service.as_str())))?,
                srv: None,
                failed: None,
                probes: Vec::new(),
                untested: None,
            });
        }
        let trust_store = if config.trust_anchors.is_empty() {
            PkixTrustStore::WebPkiRoots
        } else {
            PkixTrustStore::Anchors(config.trust_anchors.clone())
        };
        let options = ProbeOptions {
            family: config.family,
            sni: SniMode::Auto,
            ehlo_name: config.ehlo_name.clone(),
            timeouts: SmtpTimeouts::uniform(Duration::from_millis(
                config.session_timeout_ms.max(1),
            )),
            digests,
            dns_only: config.dns_only,
        };
        let mut check = MuaCheck {
            domain,
            options,
            trust_store,
            engine: Engine::new(
                now,
                TrustedDns::new(
                    &config.resolvers,
                    Duration::from_millis(config.dns_timeout_ms.max(1)),
                    config.dns_attempts,
                    DetRng::new(seed, 1),
                    &config.dnssec,
                ),
                config.max_parallel,
            ),
            seed,
            services,
            config,
        };
        if check.config.fixed_seed {
            check.engine.warnings.push(Warning::FixedSeed);
        }
        check.engine.dns.start_probes(now);
        for (index, state) in check.services.iter().enumerate() {
            check.engine.dns.lookup(
                now,
                Purpose::Srv { service: index },
                &state.owner,
                RecordType::SRV,
            );
        }
        engine::progress(&mut check);
        Ok(check)
    }

    /// The configuration this check runs with.
    pub fn config(&self) -> &MuaConfig {
        &self.config
    }

    /// The SRV lookup of service `index` is in (RFC 7673 sec. 3.1).
    fn on_srv(&mut self, index: usize, result: LookupResult) {
        let owner = self.services[index].owner.clone();
        let answer = match result {
            Err(e) => {
                let reason = lookup_reason(DnsQuery::new(&owner, RecordType::SRV), &e);
                self.engine.note(format!(
                    "SRV {}: {reason}: not connecting to any target (RFC 7673 sec. 3.1)",
                    display_name(&owner)
                ));
                self.services[index].failed = Some(reason);
                return;
            }
            Ok(answer) => answer,
        };
        // One stream per service, so each service's order follows from the seed alone, not
        // from which SRV answer came first.
        let mut rng = DetRng::new(self.seed, 100 + index as u64);
        let plan = plan_srv(&answer, &mut rng);
        for dropped in &plan.dropped {
            self.engine.warnings.push(Warning::SrvDropped {
                owner: display_name(&owner),
                dropped: dropped.clone(),
            });
        }
        let service = self.services[index].service;
        match &plan.kind {
            SrvKind::Absent { nxdomain } => self.engine.note(format!(
                "SRV {}: {}: {}: the service is not published (RFC 6186 sec. 3)",
                display_name(&owner),
                plan.security,
                if *nxdomain { "NXDOMAIN" } else { "no records" }
            )),
            SrvKind::Unavailable => self.engine.note(format!(
                "SRV {}: {}: target \".\": the service is decidedly not available (RFC 2782)",
                display_name(&owner),
                plan.security
            )),
            SrvKind::Targets(targets) => {
                self.engine.note(format!(
                    "SRV {}: {}: {}",
                    display_name(&owner),
                    plan.security,
                    targets
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if !plan.security.is_secure() {
                    self.engine.note(format!(
                        "SRV RRset of {service} is not secure (RFC 7673 sec. 4.1): no DANE; PKIX against {} only",
                        display_name(&self.domain)
                    ));
                }
                let targets = targets.clone();
                for target in targets {
                    self.add_target(index, &plan, target);
                }
            }
        }
        self.services[index].srv = Some(plan);
    }

    /// Starts the probe of one SRV target of service `index` (RFC 7673 sec. 3.2-4).
    fn add_target(&mut self, index: usize, plan: &SrvPlan, target: SrvTarget) {
        let service = self.services[index].service;
        let params = ProbeParams {
            named_by: NamedBy {
                security: plan.security,
                // RFC 7673 sec. 3.1: with an insecure SRV RRset the protocol does not apply.
                if_insecure: InsecureMxPolicy::May,
            },
            reference_ids: ReferenceIds::Srv {
                service_domain: self.domain.clone(),
            },
            trust: TrustModel::DaneAndPkix {
                trust_store: self.trust_store.clone(),
            },
            service: service.session(target.port),
            order: LookupOrder::Parallel,
            require_dane: false,
            options: self.options.clone(),
        };
        let host = MxTarget {
            preference: Some(target.priority),
            name: target.target.clone(),
            literal: None,
        };
        match HostProbe::new(host, params) {
            Ok(mut probe) => {
                if self.config.compatibility {
                    let (name, domain) = (display_name(&target.target), display_name(&self.domain));
                    probe = probe.with_observations(Observe {
                        snis: compat::row_snis(&name, &domain),
                        names: compat::observed_names(&name, &domain),
                        trust_store: self.trust_store.clone(),
                    });
                }
                let at = self.engine.probes.add(probe);
                self.services[index].probes.push((at, target.port));
            }
            Err(why) => {
                if self.services[index].untested.is_none() {
                    self.engine.note(format!("{service}: {why}"));
                    self.engine
                        .warnings
                        .push(Warning::ServiceNotTested { service });
                    self.services[index].untested = Some(why);
                }
            }
        }
    }

    fn all_settled(&self) -> bool {
        self.engine.dns.decided()
            && self
                .services
                .iter()
                .all(|s| s.srv.is_some() || s.failed.is_some())
    }

    /// The report: one entry per service, the overall verdict, the auto-configuration.
    fn build_report(&mut self) -> Report {
        let mut services = Vec::new();
        let mut local_failure = false;
        for state in &self.services {
            let mut targets = Vec::new();
            let mut observations = Vec::new();
            let mut facts = DomainFacts {
                mx_secure: state.srv.as_ref().is_some_and(|p| p.security.is_secure()),
                ..DomainFacts::default()
            };
            for (at, port) in &state.probes {
                let probe = &self.engine.probes.probes()[*at];
                observations.push(probe.observations());
                let outcome = probe.report();
                self.engine.warnings.extend(outcome.warnings);
                let mut host = outcome.report;
                host.port = Some(*port);
                let local = |r: &Option<Reason>| matches!(r, Some(Reason::LocalResources { .. }));
                if local(&host.reason) || host.connections.iter().any(|c| local(&c.reason)) {
                    facts.local_failure = true;
                }
                facts.hosts.push(dane_facts(outcome.facts));
                targets.push(host);
            }
            local_failure |=
                facts.local_failure || matches!(state.failed, Some(Reason::LocalResources { .. }));
            let (verdict, reason) = service_verdict(state, &facts);
            let tested = state.untested.is_none() && !targets.is_empty();
            let compatibility = (self.config.compatibility && tested && !self.options.dns_only)
                .then(|| {
                    let rows: Vec<compat::TargetRows<'_>> = targets
                        .iter()
                        .zip(observations)
                        .map(|(host, observations)| compat::TargetRows {
                            host,
                            port: host.port.unwrap_or(state.service.default_port()),
                            observations,
                        })
                        .collect();
                    compat::compatibility(&display_name(&self.domain), &rows)
                });
            services.push(ServiceReport {
                service: state.service,
                owner: display_name(&state.owner),
                srv: state.srv.as_ref().map(|p| SrvReport {
                    security: p.security,
                    records: p.records.clone(),
                    cnames: p.cnames.clone(),
                    dropped: p.dropped.clone(),
                    null_target: p.kind == SrvKind::Unavailable,
                }),
                verdict,
                reason,
                targets,
                compatibility,
            });
        }
        let (verdict, reason) = match self.engine.early() {
            Some((v, r)) => (*v, r.clone()),
            None => (overall_verdict(&services, local_failure), None),
        };
        let autoconfig = autoconfig(&services);
        Report {
            kind: CheckKind::Mua,
            domain: self.config.domain.clone(),
            verdict,
            reason,
            resolver: self.engine.dns.summary(),
            resolvers: self.engine.dns.entries(),
            mx: None,
            tlsrpt: Default::default(),
            hosts: Vec::new(),
            services,
            autoconfig,
            warnings: self.engine.warnings.clone(),
            started: self.engine.start,
            log: Vec::new(),
            redecided: None,
            delivery: None,
        }
    }
}

impl CheckSteps for MuaCheck {
    type Purpose = Purpose;

    fn engine(&mut self) -> &mut Engine<Purpose> {
        &mut self.engine
    }

    fn engine_ref(&self) -> &Engine<Purpose> {
        &self.engine
    }

    fn probe_purpose(probe: usize, lookup: HostLookup) -> Purpose {
        Purpose::Host { probe, lookup }
    }

    fn dispatch(&mut self, purpose: Purpose, result: LookupResult) {
        match purpose {
            Purpose::Srv { service } => self.on_srv(service, result),
            Purpose::Host { probe, lookup } => {
                self.engine.probes.handle_lookup(probe, lookup, result)
            }
        }
    }

    fn settled(&self) -> bool {
        self.all_settled()
    }

    fn build_report(&mut self) -> Report {
        MuaCheck::build_report(self)
    }
}

/// A target as the DANE verdict of its service sees it: a server authenticated by PKIX
/// alone (no usable TLSA records, RFC 7673 sec. 4.1) is not a DANE server, so it counts as
/// TLS without DANE authentication; how it was authenticated stays in its connection report
/// and in the auto-configuration.
fn dane_facts(mut facts: HostFacts) -> HostFacts {
    if facts.policy != HostPolicy::Dane
        && matches!(facts.verdict, HostVerdict::Verified | HostVerdict::Trusted)
    {
        facts.verdict = HostVerdict::Untrusted;
    }
    facts
}

/// The verdict of one service (RFC 7673 sec. 3.1 for the SRV lookup; the targets by the
/// precedence of DESIGN.md section 5, the SRV RRset standing in for the MX RRset).
fn service_verdict(state: &ServiceState, facts: &DomainFacts) -> (DomainVerdict, Option<Reason>) {
    if let Some(reason) = &state.failed {
        let verdict = match reason {
            Reason::LocalResources { .. } => DomainVerdict::Inconclusive,
            _ => DomainVerdict::TempFail,
        };
        return (verdict, Some(reason.clone()));
    }
    match state.srv.as_ref().map(|p| &p.kind) {
        None => (DomainVerdict::Inconclusive, Some(Reason::Aborted)),
        Some(SrvKind::Absent { .. } | SrvKind::Unavailable) => (DomainVerdict::Unavailable, None),
        Some(SrvKind::Targets(_)) if state.untested.is_some() => {
            (DomainVerdict::Inconclusive, None)
        }
        Some(SrvKind::Targets(_)) => (domain_verdict(facts), None),
    }
}

/// The overall verdict over the services that are published: `unavailable` when none is;
/// otherwise the worst failure first (`dane-failed`, `temp-fail`), then `dane-verified` when
/// every tested service is (`inconclusive` instead when something could not start for want of
/// local resources and nothing failed DANE), `dane-trusted` when every one is
/// DANE-authenticated but some only
/// trusted, `no-dane` when none uses DANE, `dane-partial` for a mix, `inconclusive` when no
/// service could be tested.
pub fn overall_verdict(services: &[ServiceReport], local_failure: bool) -> DomainVerdict {
    let published: Vec<DomainVerdict> = services
        .iter()
        .map(|s| s.verdict)
        .filter(|v| *v != DomainVerdict::Unavailable)
        .collect();
    if published.is_empty() {
        return DomainVerdict::Unavailable;
    }
    if published.contains(&DomainVerdict::DaneFailed) {
        return DomainVerdict::DaneFailed;
    }
    // A lookup or connection that could not even start leaves the check incomplete: only a
    // DANE failure already found outranks that (issue 7, as for the SMTP check).
    if local_failure {
        return DomainVerdict::Inconclusive;
    }
    if published.contains(&DomainVerdict::TempFail) {
        return DomainVerdict::TempFail;
    }
    let tested: Vec<DomainVerdict> = published
        .into_iter()
        .filter(|v| *v != DomainVerdict::Inconclusive)
        .collect();
    if tested.is_empty() {
        return DomainVerdict::Inconclusive;
    }
    let dane =
        |v: &DomainVerdict| matches!(v, DomainVerdict::DaneVerified | DomainVerdict::DaneTrusted);
    if tested.iter().all(|v| *v == DomainVerdict::DaneVerified) {
        DomainVerdict::DaneVerified
    } else if tested.iter().all(dane) {
        DomainVerdict::DaneTrusted
    } else if tested.iter().all(|v| *v == DomainVerdict::NoDane) {
        DomainVerdict::NoDane
    } else {
        DomainVerdict::DanePartial
    }
}

/// The auto-configuration: for each purpose, the service the domain prefers by SRV priority
/// (its best target's), then implicit TLS before STARTTLS (RFC 8314 sec. 5.1), then IMAP
/// before POP3 (RFC 6186 sec. 3.4); within it, the first target in RFC 2782 order that
/// spoke the protocol and whose every tested connection was authenticated (host verdict
/// `verified` or `trusted`, no failure after the handshake).
pub fn autoconfig(services: &[ServiceReport]) -> Vec<AutoConfig> {
    let mut found = Vec::new();
    for purpose in [ServicePurpose::Submission, ServicePurpose::Access] {
        let mut candidates: Vec<&ServiceReport> = services
            .iter()
            .filter(|s| s.service.purpose() == purpose)
            .collect();
        candidates.sort_by_key(|s| {
            (
                s.targets
                    .iter()
                    .filter_map(|t| t.preference)
                    .min()
                    .unwrap_or(u16::MAX),
                !s.service.implicit_tls(),
                matches!(s.service, MailService::Pop3 | MailService::Pop3s),
            )
        });
        let usable = |t: &&HostReport| {
            matches!(t.verdict, HostVerdict::Verified | HostVerdict::Trusted)
                && t.connections.iter().all(|c| c.reason.is_none())
        };
        let chosen = candidates.iter().find_map(|s| {
            s.targets.iter().filter(usable).find_map(|t| {
                t.connections
                    .iter()
                    .find(|c| {
                        matches!(
                            c.verdict,
                            ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                        )
                    })
                    .map(|c| (s, t, c))
            })
        });
        if let Some((s, t, c)) = chosen {
            found.push(AutoConfig {
                purpose,
                service: s.service,
                host: t.name.clone(),
                port: t.port.unwrap_or(s.service.default_port()),
                tls: if s.service.implicit_tls() {
                    TlsMode::Implicit
                } else {
                    TlsMode::Starttls
                },
                connection: c.verdict,
                authenticated_by: c.authenticated_by,
                authenticated_name: c.authenticated_name.clone(),
            });
        }
    }
    found
}

impl Machine for MuaCheck {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        engine::handle_input(self, now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        engine::poll_output(self, now)
    }
}
