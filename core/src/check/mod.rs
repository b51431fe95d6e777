//! [`SmtpCheck`]: the RFC 7672 check of a mail destination. It plans the MX hosts
//! (`plan_mx`), decides which resolvers to believe ([`resolvers`]), runs
//! one `HostProbe` per host (addresses, TLSA, policy, SMTP sessions and the DANE trust
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
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod fleet;
mod lookups;
pub mod resolvers;
pub(crate) mod trusted_dns;
internal! {
    mod verdict;
}

pub use config::{parse_destination, AddressFamily, CheckConfig, Destination, DestinationError};

internal!(
    use verdict::{
        connection_verdict, domain_verdict, host_verdict, pkix_failure_reason,
        session_failure_reason, trust_decision, Authentication, DomainFacts, HostFacts,
    };
);

use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::dns::{LookupResult, Security};
use crate::machine::{Input, Machine, Output, UsageError};
use crate::probe::{
    lookup_reason, HostLookup, HostProbe, LookupOrder, NamedBy, ProbeOptions, ProbeParams,
    ReferenceIds, Service, TrustModel,
};
use crate::report::tlsrpt::record::TlsRptLookup;
use crate::report::{DnsQuery, DomainVerdict, MxReport, Reason, Report, Warning};
use crate::seed::{DetRng, Seed};
use crate::smtp::route::{self, display_name, plan_mx, MxKind, MxTarget, NextHop};
use crate::smtp::session::SmtpTimeouts;
use crate::time::Timestamp;

/// What a lookup of the check is for.
#[derive(Clone, Debug)]
pub(crate) enum Purpose {
    /// The MX lookup of the destination domain.
    Mx,
    /// The `_smtp._tls` TXT lookup of the destination domain (RFC 8460 sec. 3).
    TlsRpt,
    /// A lookup of the probe of host `host`.
    Host { host: usize, lookup: HostLookup },
}

/// The SMTP check machine (RFC 7672). Create it with [`SmtpCheck::new`] and drive it through
/// [`Machine`]; it finishes with [`Output::Done`] carrying the [`Report`].
///
/// It plans the MX hosts, believes only validating resolvers ([`resolvers`]), runs one
/// `HostProbe` per host, routing DNS results to them by lookup id and connection inputs by
/// connection id, bounds the connections in flight across all probes
/// ([`CheckConfig::max_parallel`]), and gives the domain verdict.
pub struct SmtpCheck {
    config: CheckConfig,
    destination: Destination,
    /// Settings every probe shares.
    options: ProbeOptions,
    service: Service,
    /// The DNS, the probes, the log: what every check holds.
    engine: engine::Engine<Purpose>,
    rng: DetRng,
    mx_secure: bool,
    mx_report: Option<MxReport>,
    /// The TLSRPT lookup: its question once asked, its outcome once answered.
    tlsrpt: Option<(DnsQuery, Option<TlsRptLookup>)>,
    /// Set when the check carries a delivery ([`crate::delivery::Delivery`]): whether a
    /// failed DANE authentication is waived (RFC 8689 sec. 4.1).
    delivery: Option<bool>,
}

impl SmtpCheck {
    /// A check of `config.destination`, starting at `now`, with all randomness drawn from
    /// `seed`. Fails only for an invalid configuration (a local error, never the peer's).
    pub fn new(config: CheckConfig, seed: Seed, now: Timestamp) -> Result<Self, UsageError> {
        Self::start(config, seed, now, None)
    }

    /// The check of a delivery ([`crate::delivery`]): the same RFC 7672 steps, with one
    /// connection at a time in MX preference order, every SMTP session held for a
    /// transaction instead of QUIT, and, with `waive`, failed DANE authentications let
    /// through as unauthenticated TLS (RFC 8689 sec. 4.1).
    pub(crate) fn for_delivery(
        mut config: CheckConfig,
        seed: Seed,
        now: Timestamp,
        waive: bool,
    ) -> Result<Self, UsageError> {
        config.max_parallel = 1;
        config.dns_only = false;
        // A delivery writes no TLS report: the _smtp._tls record would only delay it.
        config.lookup_tlsrpt = false;
        Self::start(config, seed, now, Some(waive))
    }

    fn start(
        config: CheckConfig,
        seed: Seed,
        now: Timestamp,
        delivery: Option<bool>,
    ) -> Result<Self, UsageError> {
        let invalid = UsageError::InvalidConfig;
        if config.port == 0 {
            return Err(invalid("port 0".into()));
        }
        let digests =
            config::validate_shared(config.max_parallel, &config.ehlo_name, &config.digests)?;
        let destination = parse_destination(&config.destination, config.port)
            .map_err(|e| invalid(e.to_string()))?;
        let port = match &destination {
            Destination::Domain(_) => config.port,
            Destination::Host { port, .. } | Destination::Literal { port, .. } => *port,
        };
        let needs_dns = !matches!(destination, Destination::Literal { .. });
        if needs_dns && config.resolvers.is_empty() {
            return Err(invalid("no resolver configured".into()));
        }
        let timeouts = match config.smtp_timeout_ms {
            Some(ms) if delivery.is_some() => {
                SmtpTimeouts::dialogue(Duration::from_millis(ms.max(1)))
            }
            Some(ms) => SmtpTimeouts::uniform(Duration::from_millis(ms.max(1))),
            None => SmtpTimeouts::rfc5321(),
        };
        let dns = trusted_dns::TrustedDns::new(
            &config.resolvers,
            Duration::from_millis(config.dns_timeout_ms.max(1)),
            config.dns_attempts,
            DetRng::new(seed, 1),
            &config.dnssec,
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
            engine: engine::Engine::new(now, dns, config.max_parallel),
            rng: DetRng::new(seed, 2),
            mx_secure: false,
            mx_report: None,
            tlsrpt: None,
            delivery,
            config,
        };
        if delivery.is_some() {
            check.engine.probes.set_in_order();
        }
        if check.config.sni == route::SniMode::None && needs_dns {
            check.engine.warnings.push(Warning::SniOff);
        }
        if check.config.fixed_seed && needs_dns {
            check.engine.warnings.push(Warning::FixedSeed);
        }
        match destination {
            Destination::Literal { addr, .. } => {
                check.engine.note(format!(
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
                let name = name.as_hickory();
                check.engine.dns.start_probes(now);
                check.mx_secure = true;
                check.engine.note(format!(
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
                let name = name.as_hickory();
                check.engine.dns.start_probes(now);
                check
                    .engine
                    .dns
                    .lookup(now, Purpose::Mx, &name.clone(), RecordType::MX);
                if check.config.lookup_tlsrpt {
                    // In parallel with the MX lookup, so it adds no DNS round; the check waits
                    // for its answer, which the DNS deadlines bound.
                    check.start_tlsrpt(now, name);
                }
            }
        }
        engine::progress(&mut check);
        Ok(check)
    }

    /// The configuration this check runs with.
    pub fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// Whether the MX RRset is known and DNSSEC-secure (a `[host]` destination counts as
    /// secure, an address literal as insecure; RFC 7672 sec. 2.2.1).
    pub(crate) fn mx_known(&self) -> Option<bool> {
        let known = match &self.destination {
            Destination::Domain(_) => self.mx_report.is_some(),
            _ => true,
        };
        known.then_some(self.mx_secure)
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
            Ok(mut probe) => {
                if let Some(waive) = self.delivery {
                    probe.hold_for_delivery();
                    if waive {
                        probe.waive_authentication();
                    }
                }
                self.engine.probes.add(probe);
            }
            // Cannot happen: `new` refused port 0, and SMTP with STARTTLS and DANE-only trust
            // is what the probe implements. Never a silent pass: the check ends untested.
            Err(e) => {
                self.engine.note(format!("internal: {e}"));
                self.engine.warnings.push(Warning::ProbeRefused { host });
                self.engine.finish_early(DomainVerdict::Inconclusive, None);
            }
        }
    }

    fn all_settled(&self) -> bool {
        let tlsrpt_known = !matches!(self.tlsrpt, Some((_, None)));
        let hosts_known = tlsrpt_known
            && match &self.destination {
                Destination::Domain(_) => self.mx_report.is_some(),
                _ => true,
            };
        let probed = match &self.destination {
            Destination::Literal { .. } => true,
            _ => self.engine.dns.decided(),
        };
        hosts_known && probed
    }
}

impl engine::CheckSteps for SmtpCheck {
    type Purpose = Purpose;

    fn engine(&mut self) -> &mut engine::Engine<Purpose> {
        &mut self.engine
    }

    fn engine_ref(&self) -> &engine::Engine<Purpose> {
        &self.engine
    }

    fn probe_purpose(host: usize, lookup: HostLookup) -> Purpose {
        Purpose::Host { host, lookup }
    }

    fn dispatch(&mut self, purpose: Purpose, result: LookupResult) {
        match purpose {
            Purpose::Mx => self.on_mx(result),
            Purpose::TlsRpt => self.on_tlsrpt(result),
            Purpose::Host { host, lookup } => {
                self.engine.probes.handle_lookup(host, lookup, result)
            }
        }
    }

    /// Connections wait for the resolvers to be decided, except to an address literal.
    fn may_connect(&self) -> bool {
        matches!(self.destination, Destination::Literal { .. }) || self.engine.dns.usable()
    }

    fn settled(&self) -> bool {
        self.all_settled()
    }

    fn build_report(&mut self) -> Report {
        SmtpCheck::build_report(self)
    }
}

impl Machine for SmtpCheck {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        engine::handle_input(self, now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        engine::poll_output(self, now)
    }
}
