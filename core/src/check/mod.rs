//! [`SmtpCheck`]: the RFC 7672 check of a mail destination. It plans the MX hosts
//! ([`crate::smtp::route::plan_mx`]), decides which resolvers to believe ([`resolvers`]), runs
//! one [`HostProbe`] per host (addresses, TLSA, policy, SMTP sessions and the DANE trust
//! decision), routes DNS results and connection inputs to the probes, and gives the domain
//! verdict in a [`Report`].
//!
//! Every DNS query that does not depend on another is in flight at the same time: the
//! validating-resolver probe of every configured resolver with the MX lookup; all address
//! lookups of all MX hosts; then all TLSA lookups (RFC 7672 sec. 2.2.2 R22: a host's TLSA
//! lookup waits for its address answers). Answers are held until every probe is in and only
//! those of the believed resolvers are used ([`resolvers`]), so nothing is reported from a
//! resolver that does not validate and a second resolver can never turn bogus into insecure.

mod assemble;
mod config;
mod connections;
mod lookups;
pub mod resolvers;
mod verdict;

pub use config::{parse_destination, AddressFamily, CheckConfig, Destination};

use assemble::verdict_explanation;
pub use verdict::{
    connection_verdict, domain_verdict, host_verdict, trust_decision, DomainFacts, HostFacts,
};

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::dane::DigestPrefs;
use crate::dns::{DnsClient, DnsConfig, LookupId, LookupResult, RcodeClass, Security};
use crate::machine::{Action, ConnId, Input, Machine, Output, UsageError};
use crate::probe::{
    lookup_reason, HostLookup, HostProbe, LookupOrder, NamedBy, Note, ProbeOptions, ProbeParams,
    ReferenceIds, Service, TrustModel,
};
use crate::report::{DomainVerdict, LogLine, MxReport, Reason, Report, ResolverReport, Warning};
use crate::seed::{DetRng, Seed};
use crate::smtp::route::{self, display_name, plan_mx, MxKind, MxTarget, NextHop};
use crate::smtp::session::SmtpTimeouts;
use crate::time::Timestamp;

/// What a pending lookup is for.
#[derive(Clone, Debug)]
enum Purpose {
    /// The validating-resolver probe of resolver `index` (root DNSKEY, DESIGN.md section 4).
    ResolverProbe { index: usize },
    /// The MX lookup of the destination domain.
    Mx,
    /// A lookup of the probe of host `host`.
    Host { host: usize, lookup: HostLookup },
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

/// The SMTP check machine (RFC 7672). Create it with [`SmtpCheck::new`] and drive it through
/// [`Machine`]; it finishes with [`Output::Done`] carrying the [`Report`].
///
/// It plans the MX hosts, believes only validating resolvers ([`resolvers`]), runs one
/// [`HostProbe`] per host, routing DNS results to them by lookup id and connection inputs by
/// connection id, bounds the connections in flight across all probes
/// ([`CheckConfig::max_parallel`]), and gives the domain verdict.
pub struct SmtpCheck {
    config: CheckConfig,
    destination: Destination,
    /// Settings every probe shares.
    options: ProbeOptions,
    service: Service,
    start: Timestamp,
    now: Timestamp,
    dns: DnsClient,
    rng: DetRng,
    lookups: BTreeMap<LookupId, Pending>,
    resolvers: resolvers::ResolverSet,
    held: Vec<Held>,
    mx_secure: bool,
    mx_report: Option<MxReport>,
    /// One probe per host, in MX order.
    hosts: Vec<HostProbe>,
    /// Which host owns each connection, in connection order.
    routes: BTreeMap<ConnId, usize>,
    /// Hosts with connections to open, in the order their policies were decided.
    ready: VecDeque<usize>,
    next_conn: u32,
    actions: VecDeque<Action>,
    log: Vec<LogLine>,
    warnings: Vec<Warning>,
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
        let options = ProbeOptions {
            family: config.family,
            sni: config.sni,
            ehlo_name: config.ehlo_name.clone(),
            timeouts,
            digests,
            dns_only: config.dns_only,
        };
        let mut check = SmtpCheck {
            destination: destination.clone(),
            options,
            service: Service::smtp(port),
            start: now,
            now,
            dns,
            rng: DetRng::new(seed, 2),
            lookups: BTreeMap::new(),
            resolvers: resolver_set,
            held: Vec::new(),
            mx_secure: false,
            mx_report: None,
            hosts: Vec::new(),
            routes: BTreeMap::new(),
            ready: VecDeque::new(),
            next_conn: 0,
            actions: VecDeque::new(),
            log: Vec::new(),
            warnings: Vec::new(),
            early: None,
            done: None,
            config,
        };
        if check.config.sni == route::SniMode::None && needs_dns {
            check.warnings.push(Warning::SniOff);
        }
        if check.config.fixed_seed && needs_dns {
            check.warnings.push(Warning::FixedSeed);
        }
        match destination {
            Destination::Literal { addr, .. } => {
                check.note(format!(
                    "{addr}: address literal, no DANE (RFC 7672 sec. 2.2)"
                ));
                check.add_host(
                    MxTarget {
                        preference: None,
                        name: Name::root(),
                        literal: Some(addr),
                    },
                    NextHop::InsecureMx,
                );
            }
            Destination::Host { ref name, .. } => {
                check.start_probe();
                check.mx_secure = true;
                check.note(format!(
                    "{}: static destination, no MX lookup (treated like a secure MX host)",
                    display_name(name)
                ));
                check.add_host(
                    MxTarget {
                        preference: None,
                        name: name.clone(),
                        literal: None,
                    },
                    NextHop::NonMx {
                        original: name.clone(),
                    },
                );
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

    /// Starts the probe of `target`, reached as `next_hop` (RFC 7672 sec. 3.2.2), through
    /// an RRset as secure as the MX RRset.
    fn add_host(&mut self, target: MxTarget, next_hop: NextHop) {
        let host = display_name(&target.name);
        let params = ProbeParams {
            named_by: NamedBy {
                security: if self.mx_secure {
                    Security::Secure
                } else {
                    Security::Insecure
                },
                if_insecure: self.config.insecure_mx,
            },
            reference_ids: ReferenceIds::Smtp { next_hop },
            trust: TrustModel::DaneOnly,
            service: self.service,
            order: LookupOrder::AddressesFirst,
            require_dane: self.config.require_dane,
            options: self.options.clone(),
        };
        match HostProbe::new(target, params) {
            Ok(probe) => {
                self.hosts.push(probe);
                self.drain_host(self.hosts.len() - 1);
            }
            // Cannot happen: `new` refused port 0, and SMTP with STARTTLS and DANE-only trust
            // is what the probe implements. Never a silent pass: the check ends untested.
            Err(e) => {
                self.note(format!("internal: {e}"));
                self.warnings.push(Warning::ProbeRefused { host });
                self.finish_early(DomainVerdict::Inconclusive, None);
            }
        }
    }

    /// Takes what host `h` wants after a change: its log lines and warnings, its lookups
    /// (started at once, in order), and its place in the connection queue.
    fn drain_host(&mut self, h: usize) {
        while let Some(note) = self.hosts[h].poll_note() {
            match note {
                Note::Log(line) => self.note(line),
                Note::Warning(line) => self.warnings.push(line),
            }
        }
        while let Some(request) = self.hosts[h].poll_lookup() {
            let purpose = Purpose::Host {
                host: h,
                lookup: request.lookup,
            };
            self.start_lookup(purpose, &request.name, request.rtype);
        }
        if self.hosts[h].wants_connection() && !self.ready.contains(&h) {
            self.ready.push_back(h);
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
            while let Some(action) = self.dns.poll_action() {
                self.actions.push_back(action);
            }
            if self.poll_connections() {
                moved = true;
            }
            if self.start_connections() {
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
        hosts_known && probed && self.hosts.iter().all(HostProbe::is_done)
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
        for host in &mut self.hosts {
            host.abort(now);
        }
        for (conn, h) in &self.routes {
            while let Some(action) = self.hosts[*h].poll_action(now, *conn) {
                self.actions.push_back(action);
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
        let sessions = self.hosts.iter().filter_map(HostProbe::next_deadline);
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
                let h = *self
                    .routes
                    .get(conn)
                    .ok_or(UsageError::UnknownConn(*conn))?;
                self.hosts[h].handle_conn_input(now, &input);
            }
            Input::Timeout => {
                self.dns.handle_timeout(now);
                for host in &mut self.hosts {
                    host.handle_timeout(now);
                }
                self.progress();
                if self.done.is_none() && self.actions.is_empty() && self.next_deadline().is_none()
                {
                    // Nothing can happen any more: never hang (DESIGN.md section 8).
                    self.warnings.push(Warning::Stalled);
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
