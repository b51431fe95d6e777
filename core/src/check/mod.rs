//! [`SmtpCheck`]: the RFC 7672 check of a mail destination, composing DNS lookups
//! ([`crate::dns::DnsClient`]), the planner ([`crate::smtp::route`]), SMTP sessions
//! ([`crate::smtp::session`]) and the DANE engine ([`crate::dane`]) into a [`Report`].
//!
//! Every DNS query that does not depend on another is in flight at the same time: the
//! validating-resolver probe of every configured resolver with the MX lookup; all address
//! lookups of all MX hosts; then all TLSA lookups (RFC 7672 sec. 2.2.2 R22: a host's TLSA
//! lookup waits for its address answers). Answers are held until every probe is in and only
//! those of the believed resolvers are used ([`resolvers`]), so nothing is reported from a
//! resolver that does not validate and a second resolver can never turn bogus into insecure.

mod assemble;
mod certificate;
mod config;
mod connections;
mod lookups;
pub mod resolvers;
mod verdict;

pub use config::{parse_destination, AddressFamily, CheckConfig, Destination};

use assemble::verdict_explanation;
use connections::abbreviate;
pub use verdict::{connection_verdict, domain_verdict, host_verdict, DomainFacts, HostFacts};

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::dane::{self, DaneOutcome, DigestPrefs, MatchVia, UsagePolicy, VerifyParams};
use crate::dns::{DnsClient, DnsConfig, LookupError, LookupId, LookupResult, RcodeClass, Security};
use crate::machine::{Action, ConnId, Input, Machine, Output, UsageError};
use crate::report::{
    AddressSecurity, ConnectionReport, ConnectionVerdict, DomainVerdict, HostPolicy, HostReport,
    HostVerdict, LogLine, MatchedReport, MxReport, Reason, Report, ResolverReport, TlsReport,
    TlsaRecordReport, TlsaReport,
};
use crate::seed::{DetRng, Seed};
use crate::smtp::route::{
    self, classify_tlsa, decide_policy, display_name, plan_mx, reference_identifiers, sni_name,
    tlsa_candidates, tlsa_query_name, BaseDecision, MxKind, MxTarget, NextHop, TlsaOutcome,
};
use crate::smtp::session::{SessionConfig, SmtpSession, SmtpTimeouts, TlsRequirement};
use crate::time::Timestamp;

/// What a pending lookup is for.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    /// The validating-resolver probe of resolver `index` (root DNSKEY, DESIGN.md section 4).
    Probe { index: usize },
    /// The MX lookup of the destination domain.
    Mx,
    /// A or AAAA of a host.
    Address { host: usize, v6: bool },
    /// The separate CNAME query of RFC 7672 sec. 2.1.3.
    CnameProbe { host: usize },
    /// The TLSA lookup of a host's current candidate base domain.
    Tlsa { host: usize },
}

/// A lookup the check started: why, and what it asked (to ask again elsewhere).
struct Pending {
    purpose: Purpose,
    name: Name,
    rtype: RecordType,
}

/// A lookup result held until the probes decide which resolvers count.
struct Held {
    id: LookupId,
    pending: Pending,
    result: LookupResult,
}

/// Per-host progress.
struct Host {
    target: MxTarget,
    a: Option<LookupResult>,
    aaaa: Option<LookupResult>,
    cname_probe: Option<LookupResult>,
    candidates: Vec<Name>,
    candidate: usize,
    tlsa: Option<TlsaReport>,
    outcome: Option<TlsaOutcome>,
    base: Option<Name>,
    expanded: Option<Name>,
    policy: Option<HostPolicy>,
    trusted_only: bool,
    reference_ids: Vec<String>,
    addresses: Vec<IpAddr>,
    address_security: AddressSecurity,
    reason: Option<Reason>,
    conns: Vec<ConnId>,
}

impl Host {
    fn new(target: MxTarget) -> Self {
        Host {
            target,
            a: None,
            aaaa: None,
            cname_probe: None,
            candidates: Vec::new(),
            candidate: 0,
            tlsa: None,
            outcome: None,
            base: None,
            expanded: None,
            policy: None,
            trusted_only: false,
            reference_ids: Vec::new(),
            addresses: Vec::new(),
            address_security: AddressSecurity::default(),
            reason: None,
            conns: Vec::new(),
        }
    }

    fn label(&self) -> String {
        display_name(&self.target.name)
    }
}

/// One connection.
struct Conn {
    host: usize,
    addr: SocketAddr,
    session: SmtpSession,
    dane: Option<DaneOutcome>,
    report: Option<ConnectionReport>,
}

/// The SMTP check machine (RFC 7672). Create it with [`SmtpCheck::new`] and drive it through
/// [`Machine`]; it finishes with [`Output::Done`] carrying the [`Report`].
pub struct SmtpCheck {
    config: CheckConfig,
    destination: Destination,
    port: u16,
    start: Timestamp,
    now: Timestamp,
    dns: DnsClient,
    rng: DetRng,
    usages: UsagePolicy,
    digests: DigestPrefs,
    timeouts: SmtpTimeouts,
    lookups: BTreeMap<LookupId, Pending>,
    resolvers: resolvers::ResolverSet,
    held: Vec<Held>,
    mx_secure: bool,
    mx_report: Option<MxReport>,
    next_hop_expanded: Option<Name>,
    hosts: Vec<Host>,
    conns: BTreeMap<ConnId, Conn>,
    queue: VecDeque<(usize, SocketAddr)>,
    next_conn: u32,
    actions: VecDeque<Action>,
    log: Vec<LogLine>,
    warnings: Vec<String>,
    early: Option<(DomainVerdict, Option<Reason>)>,
    done: Option<Box<Report>>,
}

impl SmtpCheck {
    /// A check of `config.destination`, starting at `now`, with all randomness drawn from
    /// `seed`. Fails only for an invalid configuration (a local error, never the peer's).
    pub fn new(config: CheckConfig, seed: Seed, now: Timestamp) -> Result<Self, UsageError> {
        let invalid = UsageError::InvalidConfig;
        if config.port == 0 {
            return Err(invalid("port 0".into()));
        }
        if config.max_parallel == 0 {
            return Err(invalid("max_parallel must be at least 1".into()));
        }
        let destination = parse_destination(&config.destination, config.port).map_err(invalid)?;
        let port = match &destination {
            Destination::Domain(_) => config.port,
            Destination::Host { port, .. } | Destination::Literal { port, .. } => *port,
        };
        let needs_dns = !matches!(destination, Destination::Literal { .. });
        if needs_dns && config.resolvers.is_empty() {
            return Err(invalid("no resolver configured".into()));
        }
        if config.ehlo_name.is_empty() || config.ehlo_name.contains(['\r', '\n', ' ', '\0']) {
            return Err(invalid(format!("invalid EHLO name {:?}", config.ehlo_name)));
        }
        let digests: DigestPrefs = config
            .digests
            .parse()
            .map_err(|e: crate::dane::tlsa::DigestPrefsError| invalid(e.to_string()))?;
        let timeouts = match config.smtp_timeout_ms {
            Some(ms) => SmtpTimeouts::uniform(Duration::from_millis(ms.max(1))),
            None => SmtpTimeouts::rfc5321(),
        };
        let resolver_set = resolvers::ResolverSet::new(&config.resolvers);
        let dns = DnsClient::new(
            DnsConfig {
                // Until the probes are in, lookups ask one resolver; see `resolvers`.
                servers: resolver_set.speculative().into_iter().collect(),
                attempt_timeout: Duration::from_millis(config.dns_timeout_ms.max(1)),
                attempts: config.dns_attempts.max(1),
                payload: 1232,
                max_in_flight: crate::dns::DEFAULT_MAX_IN_FLIGHT,
            },
            DetRng::new(seed, 1),
        );
        let mut check = SmtpCheck {
            destination: destination.clone(),
            port,
            start: now,
            now,
            dns,
            rng: DetRng::new(seed, 2),
            usages: UsagePolicy::smtp(),
            digests,
            timeouts,
            lookups: BTreeMap::new(),
            resolvers: resolver_set,
            held: Vec::new(),
            mx_secure: false,
            mx_report: None,
            next_hop_expanded: None,
            hosts: Vec::new(),
            conns: BTreeMap::new(),
            queue: VecDeque::new(),
            next_conn: 0,
            actions: VecDeque::new(),
            log: Vec::new(),
            warnings: Vec::new(),
            early: None,
            done: None,
            config,
        };
        if check.config.sni == route::SniMode::None && needs_dns {
            check.warnings.push(
                "SNI turned off: RFC 7672 sec. 8.1 requires SNI (the TLSA base domain) towards DANE hosts; \
                 use this only to test that servers do not require it"
                    .into(),
            );
        }
        if check.config.fixed_seed && needs_dns {
            check.warnings.push(
                "fixed seed: DNS message ids are predictable to anyone who knows it; for tests only (RFC 5452 sec. 9.2)"
                    .into(),
            );
        }
        match destination {
            Destination::Literal { addr, .. } => {
                check.note(format!(
                    "{addr}: address literal, no DANE (RFC 7672 sec. 2.2)"
                ));
                let mut host = Host::new(MxTarget {
                    preference: None,
                    name: Name::root(),
                    literal: Some(addr),
                });
                host.addresses = vec![addr];
                check.hosts.push(host);
                check.set_policy(0, HostPolicy::Opportunistic, false, None);
            }
            Destination::Host { ref name, .. } => {
                check.start_probe();
                check.mx_secure = true;
                check.note(format!(
                    "{}: static destination, no MX lookup (treated like a secure MX host)",
                    display_name(name)
                ));
                check.hosts.push(Host::new(MxTarget {
                    preference: None,
                    name: name.clone(),
                    literal: None,
                }));
                check.start_address_lookups(0);
            }
            Destination::Domain(ref name) => {
                check.start_probe();
                check.start_lookup(Purpose::Mx, &name.clone(), RecordType::MX);
            }
        }
        check.progress();
        Ok(check)
    }

    /// The configuration this check runs with.
    pub fn config(&self) -> &CheckConfig {
        &self.config
    }

    fn note(&mut self, text: String) {
        let at_ms = self.now.saturating_since(self.start).as_millis() as u64;
        self.log.push(LogLine { at_ms, text });
    }

    fn finish_early(&mut self, verdict: DomainVerdict, reason: Option<Reason>) {
        if self.early.is_none() {
            self.early = Some((verdict, reason));
        }
    }

    /// Runs everything that can run now, then collects actions. Called after every input.
    fn progress(&mut self) {
        loop {
            let mut moved = false;
            while let Some((id, result)) = self.dns.poll_result() {
                self.on_lookup(id, result);
                moved = true;
            }
            while let Some(ignored) = self.dns.poll_ignored() {
                let from = ignored
                    .from
                    .map_or_else(|| "an unknown source".to_string(), |f| f.to_string());
                self.note(format!(
                    "ignored a DNS message from {from} for {} sent to {}: {} (RFC 5452 sec. 9.1)",
                    ignored.query, ignored.server, ignored.why
                ));
            }
            self.start_connections();
            self.service_sessions();
            while let Some(action) = self.dns.poll_action() {
                self.actions.push_back(action);
            }
            for conn in self.conns.values_mut() {
                while let Some(action) = conn.session.poll_action() {
                    self.actions.push_back(action);
                    moved = true;
                }
            }
            let before = self.queue.len();
            self.start_connections();
            if self.queue.len() != before {
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.maybe_finish();
    }

    fn all_settled(&self) -> bool {
        let hosts_known = match &self.destination {
            Destination::Domain(_) => self.mx_report.is_some(),
            _ => true,
        };
        let probed = match &self.destination {
            Destination::Literal { .. } => true,
            _ => self.resolvers.believed().is_some(),
        };
        hosts_known
            && probed
            && self.queue.is_empty()
            && self.hosts.iter().all(|h| h.policy.is_some())
            && self.conns.values().all(|c| c.report.is_some())
    }

    fn maybe_finish(&mut self) {
        if self.done.is_some() {
            return;
        }
        if self.early.is_none() && !self.all_settled() {
            return;
        }
        // Close whatever is still open (only on an early end or an abort): lookups end their
        // exchanges (the runtime frees their sockets), sessions abort.
        let now = self.now;
        self.dns.abandon_all();
        self.lookups.clear();
        while let Some(action) = self.dns.poll_action() {
            self.actions.push_back(action);
        }
        for conn in self.conns.values_mut() {
            if conn.report.is_none() {
                conn.session.abort(now);
                while let Some(action) = conn.session.poll_action() {
                    self.actions.push_back(action);
                }
            }
        }
        let report = self.build_report();
        self.note(format!(
            "verdict {}: {}",
            report.verdict.as_str(),
            report
                .reason
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| verdict_explanation(report.verdict).into())
        ));
        let mut report = report;
        report.log = self.log.clone();
        self.done = Some(Box::new(report));
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        let sessions = self
            .conns
            .values()
            .filter(|c| c.report.is_none())
            .filter_map(|c| c.session.next_deadline());
        self.dns.next_deadline().into_iter().chain(sessions).min()
    }
}

impl Machine for SmtpCheck {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.done.is_some() {
            return Err(UsageError::AfterDone);
        }
        self.now = self.now.max(now);
        let now = self.now;
        match &input {
            Input::DnsAnswer { query, from, wire } => {
                self.dns.handle_answer(now, *query, *from, wire)?
            }
            Input::DnsFailed { query, error } => self.dns.handle_failed(now, *query, error)?,
            Input::Connected { conn }
            | Input::ConnectFailed { conn, .. }
            | Input::Received { conn, .. }
            | Input::TlsEstablished { conn, .. }
            | Input::TlsFailed { conn, .. }
            | Input::Closed { conn } => {
                let c = self
                    .conns
                    .get_mut(conn)
                    .ok_or(UsageError::UnknownConn(*conn))?;
                c.session.handle_input(now, &input);
            }
            Input::Timeout => {
                self.dns.handle_timeout(now);
                for c in self.conns.values_mut() {
                    if c.report.is_none() {
                        c.session.handle_timeout(now);
                    }
                }
                self.progress();
                if self.done.is_none() && self.actions.is_empty() && self.next_deadline().is_none()
                {
                    // Nothing can happen any more: never hang (DESIGN.md section 8).
                    self.warnings
                        .push("internal: the check stalled with nothing pending".into());
                    self.finish_early(DomainVerdict::Inconclusive, None);
                }
            }
            Input::Abort => {
                self.note("aborted".into());
                self.finish_early(DomainVerdict::Inconclusive, Some(Reason::Aborted));
            }
        }
        self.progress();
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.now = self.now.max(now);
        if let Some(action) = self.actions.pop_front() {
            return Output::Action(action);
        }
        if let Some(report) = &self.done {
            return Output::Done(report.clone());
        }
        match self.next_deadline() {
            Some(deadline) => Output::Timeout(deadline),
            // Nothing pending and not finished cannot happen; a far deadline keeps runtimes
            // from spinning if it ever did, and the next Timeout input finishes the check.
            None => Output::Timeout(self.now.saturating_add(Duration::from_secs(1))),
        }
    }
}
