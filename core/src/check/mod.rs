//! [`SmtpCheck`]: the RFC 7672 check of a mail destination, composing DNS lookups
//! ([`crate::dns::DnsClient`]), the planner ([`crate::smtp::route`]), SMTP sessions
//! ([`crate::smtp::session`]) and the DANE engine ([`crate::dane`]) into a [`Report`].
//!
//! Every DNS query that does not depend on another is in flight at the same time: the
//! validating-resolver probe with the MX lookup; all address lookups of all MX hosts; then all
//! TLSA lookups (RFC 7672 sec. 2.2.2 R22: a host's TLSA lookup waits for its address answers).
//! Connections wait for the probe, so nothing is reported from a resolver that does not validate.

mod certificate;
mod config;
mod verdict;

pub use config::{parse_destination, AddressFamily, CheckConfig, Destination};
pub use verdict::{connection_verdict, domain_verdict, host_verdict, DomainFacts};

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
    /// The validating-resolver probe (root DNSKEY, DESIGN.md section 4).
    Probe,
    /// The MX lookup of the destination domain.
    Mx,
    /// A or AAAA of a host.
    Address { host: usize, v6: bool },
    /// The separate CNAME query of RFC 7672 sec. 2.1.3.
    CnameProbe { host: usize },
    /// The TLSA lookup of a host's current candidate base domain.
    Tlsa { host: usize },
}

/// State of the validating-resolver probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    Pending,
    Passed,
    NotNeeded,
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
    lookups: BTreeMap<LookupId, Purpose>,
    probe: Probe,
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

/// `name type` for reasons and log lines.
fn query_text(name: &Name, rtype: RecordType) -> String {
    format!("{} {rtype}", display_name(name))
}

/// The reason a failed lookup gives (RFC 7672 sec. 2.1.1; bogus kept apart for RFC 8460's
/// `dnssec-invalid`).
fn lookup_reason(query: String, error: &LookupError) -> Reason {
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
        other => Reason::DnsError {
            query,
            detail: other.to_string(),
        },
    }
}

fn describe_answer(result: &LookupResult) -> String {
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
        let dns = DnsClient::new(
            DnsConfig {
                servers: config.resolvers.clone(),
                attempt_timeout: Duration::from_millis(config.dns_timeout_ms.max(1)),
                attempts: config.dns_attempts.max(1),
                payload: 1232,
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
            probe: Probe::NotNeeded,
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
        for server in check.config.resolvers.clone() {
            if needs_dns && !server.ip().is_loopback() {
                check.warnings.push(format!(
                    "resolver {server} is not on loopback: its AD bit crossed a network (RFC 7672 sec. 2.1.1)"
                ));
            }
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

    fn start_probe(&mut self) {
        self.probe = Probe::Pending;
        self.start_lookup(Purpose::Probe, &Name::root(), RecordType::DNSKEY);
    }

    fn start_lookup(&mut self, purpose: Purpose, name: &Name, rtype: RecordType) {
        let id = self.dns.lookup(self.now, name, rtype);
        self.lookups.insert(id, purpose);
    }

    fn start_address_lookups(&mut self, h: usize) {
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

    fn finish_early(&mut self, verdict: DomainVerdict, reason: Option<Reason>) {
        if self.early.is_none() {
            self.early = Some((verdict, reason));
        }
    }

    fn on_lookup(&mut self, id: LookupId, result: LookupResult) {
        let Some(purpose) = self.lookups.remove(&id) else {
            return;
        };
        match purpose {
            Purpose::Probe => self.on_probe(result),
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

    fn on_probe(&mut self, result: LookupResult) {
        match result {
            Ok(answer) if answer.security.is_secure() && answer.rcode == RcodeClass::Data => {
                self.probe = Probe::Passed;
                let servers: Vec<String> = self
                    .config
                    .resolvers
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                self.note(format!(
                    "resolver {} validates: root DNSKEY is secure (AD=1)",
                    servers.join(", ")
                ));
            }
            Ok(answer) => {
                let detail = format!(
                    "the root DNSKEY came back {} ({:?}) without the AD bit: the resolver does not validate DNSSEC, so no DANE result would mean anything",
                    answer.security, answer.rcode
                );
                self.note(format!("resolver-not-validating: {detail}"));
                self.finish_early(
                    DomainVerdict::TempFail,
                    Some(Reason::ResolverNotValidating { detail }),
                );
            }
            Err(e) => {
                let reason = lookup_reason(". DNSKEY".into(), &e);
                self.note(format!("validating-resolver probe failed: {reason}"));
                self.finish_early(DomainVerdict::TempFail, Some(reason));
            }
        }
    }

    fn on_mx(&mut self, result: LookupResult) {
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
                self.finish_early(DomainVerdict::TempFail, Some(reason));
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
    fn on_addresses(&mut self, h: usize) {
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
                "{label}: A and AAAA records differ in DNSSEC status; DANE not applied to this host"
            ));
            self.note(format!(
                "{label}: address records partly insecure: no TLSA lookup (RFC 7672 sec. 2.2.2)"
            ));
            self.set_policy(h, HostPolicy::Opportunistic, false, None);
            return;
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

    fn decide_candidates(&mut self, h: usize) {
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

    fn start_tlsa(&mut self, h: usize) {
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

    fn tlsa_report(
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

    fn on_tlsa(&mut self, h: usize, result: LookupResult) {
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
    fn set_policy(
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
            let detail = if !self.mx_secure {
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

    fn start_connections(&mut self) {
        if self.probe == Probe::Pending || self.early.is_some() {
            return;
        }
        let active = self.conns.values().filter(|c| c.report.is_none()).count();
        let mut room = self.config.max_parallel.saturating_sub(active);
        while room > 0 {
            let Some((h, addr)) = self.queue.pop_front() else {
                break;
            };
            room -= 1;
            let host = &self.hosts[h];
            let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
            let sni = sni_name(
                policy,
                host.base.as_ref(),
                &host.target.name,
                host.target.literal.is_some(),
                self.config.sni,
            );
            let conn = ConnId(self.next_conn);
            self.next_conn += 1;
            let tls = match policy {
                HostPolicy::Dane | HostPolicy::Encrypt => TlsRequirement::Required,
                _ => TlsRequirement::Opportunistic,
            };
            let label = format!("{}[{}]:{}", host.label(), addr.ip(), addr.port());
            self.note(format!(
                "{label}: connecting (policy {}, SNI {})",
                serde_json::to_value(policy)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                sni.as_deref().unwrap_or("none")
            ));
            let session = SmtpSession::new(
                conn,
                addr,
                SessionConfig {
                    ehlo_name: self.config.ehlo_name.clone(),
                    tls,
                    sni,
                    timeouts: self.timeouts,
                },
                self.now,
            );
            self.hosts[h].conns.push(conn);
            self.conns.insert(
                conn,
                Conn {
                    host: h,
                    addr,
                    session,
                    dane: None,
                    report: None,
                },
            );
        }
    }

    fn conn_label(&self, c: &Conn) -> String {
        format!(
            "{}[{}]:{}",
            self.hosts[c.host].label(),
            c.addr.ip(),
            c.addr.port()
        )
    }

    /// Makes the trust decision for sessions that completed a handshake (RFC 7672 sec. 3.2),
    /// and turns finished sessions into connection reports.
    fn service_sessions(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            if conn.report.is_some() {
                continue;
            }
            let label = self.conn_label(conn);
            let host = &self.hosts[conn.host];
            let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
            if let Some(info) = conn.session.awaiting_trust() {
                let decision = match (&host.outcome, policy) {
                    (Some(TlsaOutcome::Usable(set)), HostPolicy::Dane) => Some(dane::verify(
                        &info.chain,
                        set,
                        &VerifyParams {
                            reference_ids: &host.reference_ids,
                            now: self.now,
                        },
                    )),
                    _ => None,
                };
                let accepted = !matches!(decision, Some(DaneOutcome::Failed(_)));
                let line = match &decision {
                    Some(DaneOutcome::Matched(m)) => format!(
                        "{label}: matched DANE {} at depth {}: {}{}",
                        if m.record.usage == 3 {
                            "EE certificate"
                        } else {
                            "TA certificate"
                        },
                        m.depth,
                        abbreviate(&m.record.to_text()),
                        m.peername
                            .as_ref()
                            .map(|p| format!(", peername {p}"))
                            .unwrap_or_default()
                    ),
                    Some(DaneOutcome::Failed(f)) => {
                        format!("{label}: DANE authentication failed: {f}")
                    }
                    None => format!("{label}: TLS established, no authentication required"),
                };
                let now = self.now;
                let Some(conn) = self.conns.get_mut(&id) else {
                    continue;
                };
                conn.dane = decision;
                conn.session.trust_decided(now, accepted);
                self.note(line);
            }
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            let dialogue = conn.session.take_log();
            for (_, line) in dialogue {
                self.note(format!("{label}: {line}"));
            }
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            if let Some(outcome) = conn.session.outcome() {
                let host = &self.hosts[conn.host];
                let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
                let (verdict, reason) =
                    connection_verdict(policy, host.trusted_only, outcome, conn.dane.as_ref());
                let matched = match &conn.dane {
                    Some(DaneOutcome::Matched(m)) => Some(MatchedReport {
                        record: m.record.to_text(),
                        depth: m.depth,
                        via: match m.via {
                            MatchVia::Chain => "chain",
                            MatchVia::TlsaCertificate => "tlsa-certificate",
                            MatchVia::TlsaPublicKey => "tlsa-public-key",
                        }
                        .into(),
                        peername: m.peername.clone(),
                    }),
                    _ => None,
                };
                let report = ConnectionReport {
                    address: conn.addr.to_string(),
                    starttls: outcome.starttls_offered,
                    tls: outcome.tls.as_ref().map(|t| TlsReport {
                        version: t.version.clone(),
                        cipher: t.cipher.clone(),
                        sni: t.sni.clone(),
                    }),
                    certificate: outcome
                        .tls
                        .as_ref()
                        .and_then(|t| certificate::summarize(&t.chain)),
                    verdict,
                    tlsrpt: reason
                        .as_ref()
                        .and_then(|r| r.tlsrpt_result_type())
                        .map(str::to_string),
                    reason,
                    matched,
                };
                let line = summary_line(&label, &report);
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.report = Some(report);
                }
                self.note(line);
            }
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
        hosts_known
            && self.probe != Probe::Pending
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
        // Close whatever is still open (only on an early end or an abort).
        let now = self.now;
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

    fn build_report(&mut self) -> Report {
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
            facts.hosts.push((policy, verdict, host.reason.clone()));
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
                validating: self.probe == Probe::Passed,
            },
            mx: self.mx_report.clone(),
            hosts,
            warnings: self.warnings.clone(),
            started: self.start,
            log: Vec::new(),
        }
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

/// Shortens long hex in log lines the way Postfix does (head...tail).
fn abbreviate(text: &str) -> String {
    match text.rsplit_once(' ') {
        Some((head, data)) if data.len() > 24 => {
            format!("{head} {}...{}", &data[..8], &data[data.len() - 8..])
        }
        _ => text.to_string(),
    }
}

/// Postfix-style summary of a connection (`Verified TLS connection established to ...`).
fn summary_line(label: &str, c: &ConnectionReport) -> String {
    let class = match c.verdict {
        ConnectionVerdict::Verified => "Verified TLS connection",
        ConnectionVerdict::Trusted => "Trusted TLS connection",
        ConnectionVerdict::Untrusted => "Untrusted TLS connection",
        ConnectionVerdict::Plaintext => "Plaintext connection",
        ConnectionVerdict::DaneFailed => "DANE FAILED",
        ConnectionVerdict::ClientUnsupported => "Not tested (client-unsupported)",
        ConnectionVerdict::Unreachable => "Not tested (unreachable)",
    };
    let tls = c
        .tls
        .as_ref()
        .map(|t| format!(": {} with cipher {}", t.version, t.cipher))
        .unwrap_or_default();
    let reason = c
        .reason
        .as_ref()
        .map(|r| format!(" [{r}]"))
        .unwrap_or_default();
    format!("{label}: {class}{tls}{reason}")
}

/// One sentence per domain verdict, for the last log line.
fn verdict_explanation(v: DomainVerdict) -> &'static str {
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

impl Machine for SmtpCheck {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.done.is_some() {
            return Err(UsageError::AfterDone);
        }
        self.now = self.now.max(now);
        let now = self.now;
        match &input {
            Input::DnsAnswer { query, wire } => self.dns.handle_answer(now, *query, wire)?,
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
