//! What a [`super::HostProbe`] is told about its host: the parameters that differ between the
//! SMTP check (RFC 7672), the MUA check over SRV (RFC 7673) and delivery. Fixed here so those
//! machines reuse the probe without changing it; what only the SMTP variant needs today is
//! implemented, the rest is typed and refused by [`ProbeParams::supported`] with an
//! [`Unsupported`] reason, never run half-way.

use std::fmt;

use hickory_proto::rr::Name;

use crate::check::AddressFamily;
pub use crate::dane::PkixTrustStore;
use crate::dane::{DigestPrefs, UsagePolicy};
use crate::dns::Security;
use crate::smtp::route::{display_name, reference_identifiers, InsecureMxPolicy, NextHop, SniMode};
use crate::smtp::session::SmtpTimeouts;

/// The RRset that named the host, and what an insecure one means.
///
/// RFC 7672 sec. 2.2.1: DANE authenticates the next-hop domain only when the MX RRset is
/// secure; with an insecure MX RRset a match is at best "trusted", per `if_insecure`
/// (Postfix's `smtp_tls_dane_insecure_mx_policy`). RFC 7673 sec. 3.1: with an insecure SRV
/// RRset the protocol does not apply ([`InsecureMxPolicy::May`]), and sec. 4.1 keeps the
/// status for the reference identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedBy {
    /// DNSSEC status of the MX or SRV RRset (a statically configured `[host]` counts as
    /// secure, as Postfix treats it; an address literal as insecure).
    pub security: Security,
    /// What to do with the host's TLSA records when `security` is not secure.
    pub if_insecure: InsecureMxPolicy,
}

impl NamedBy {
    /// Whether the naming RRset is secure.
    pub fn is_secure(&self) -> bool {
        self.security.is_secure()
    }
}

/// The names a DANE-TA(2) certificate may carry (RFC 6125 reference identifiers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceIds {
    /// RFC 7672 sec. 3.2.2: the TLSA base domain always, then the next-hop names as
    /// [`reference_identifiers`] gives them for how the host was reached.
    Smtp {
        /// How the host was reached.
        next_hop: NextHop,
    },
    /// RFC 7673 sec. 4.1: the service domain always; the TLSA base domain (the SRV target or
    /// its secure expansion) only when the SRV RRset is secure.
    Srv {
        /// The service domain (the SRV owner without `_service._tcp`).
        service_domain: Name,
    },
}

impl ReferenceIds {
    /// The reference identifiers for a host whose TLSA base domain is `base`.
    pub fn resolve(&self, base: &Name, host: &Name, named_by: &NamedBy) -> Vec<String> {
        match self {
            ReferenceIds::Smtp { next_hop } => reference_identifiers(base, host, next_hop),
            ReferenceIds::Srv { service_domain } => {
                let mut ids = Vec::new();
                if named_by.is_secure() {
                    // The TLSA base domain, and the SRV target itself when the base is its
                    // secure CNAME expansion (RFC 7673 sec. 4.1: the target host name).
                    ids.push(display_name(base));
                    let target = display_name(host);
                    if !ids.contains(&target) {
                        ids.push(target);
                    }
                }
                let service = display_name(service_domain);
                if !ids.contains(&service) {
                    ids.push(service);
                }
                ids
            }
        }
    }
}

impl ReferenceIds {
    /// The SNI name and the reference identifiers of a host authenticated by PKIX alone,
    /// with no usable TLSA record (RFC 7673 sec. 4.1): with a secure SRV RRset, SNI is the
    /// target host name and both it and the service domain are accepted; with an insecure
    /// one, SNI and the only reference identifier are the service domain, never the
    /// insecure target. For [`ReferenceIds::Smtp`], the host name and the RFC 7672
    /// sec. 3.2.2 names.
    pub fn pkix(&self, host: &Name, named_by: &NamedBy) -> (String, Vec<String>) {
        match self {
            ReferenceIds::Srv { service_domain } if !named_by.is_secure() => {
                let service = display_name(service_domain);
                (service.clone(), vec![service])
            }
            _ => (display_name(host), self.resolve(host, host, named_by)),
        }
    }
}

/// Which TLSA certificate usages count, and how PKIX usages are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustModel {
    /// SMTP (RFC 7672 sec. 3.1.3): DANE-TA(2) and DANE-EE(3) only; PKIX-TA(0) and PKIX-EE(1)
    /// records are unusable.
    DaneOnly,
    /// SRV services (RFC 7673 sec. 4.2, RFC 6698 sec. 2.1.1): all four usages; PKIX-TA and
    /// PKIX-EE also need Web PKI validation against `trust_store`, and so does every host
    /// without a usable TLSA record (RFC 7673 sec. 4.1: no secure TLSA RRset, an insecure
    /// SRV RRset, or a secure RRset whose records are all unusable), with the names
    /// [`ReferenceIds::pkix`] gives. TLS is then required on every connection.
    DaneAndPkix {
        /// The PKIX trust anchors.
        trust_store: PkixTrustStore,
    },
}

impl TrustModel {
    /// The usages this model accepts in a TLSA RRset.
    pub fn usages(&self) -> UsagePolicy {
        match self {
            TrustModel::DaneOnly => UsagePolicy::smtp(),
            TrustModel::DaneAndPkix { .. } => UsagePolicy::all(),
        }
    }
}

/// The application protocol spoken on the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// SMTP relay (RFC 5321), STARTTLS per RFC 3207.
    Smtp,
    /// Message submission (RFC 6409; RFC 8314 for implicit TLS on 465).
    Submission,
    /// IMAP (RFC 9051; STARTTLS, or implicit TLS on 993 per RFC 8314).
    Imap,
    /// POP3 (RFC 1939, STLS per RFC 2595, or implicit TLS on 995 per RFC 8314).
    Pop3,
}

/// How TLS starts on the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsStart {
    /// In-band upgrade (RFC 3207 STARTTLS, RFC 2595 STLS).
    StartTls,
    /// TLS from the first byte (RFC 8314 sec. 3).
    Implicit,
}

/// Where and how to talk to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// The TCP port; also names the TLSA RRset `_<port>._tcp.<base>` (RFC 7672 sec. 2.2.3,
    /// RFC 7673 sec. 3.3: the port from the SRV RDATA).
    pub port: u16,
    /// The protocol.
    pub kind: SessionKind,
    /// How TLS starts.
    pub tls: TlsStart,
}

impl Service {
    /// SMTP with STARTTLS on `port` (RFC 7672).
    pub fn smtp(port: u16) -> Self {
        Service {
            port,
            kind: SessionKind::Smtp,
            tls: TlsStart::StartTls,
        }
    }
}

/// When the TLSA lookup may leave relative to the address lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupOrder {
    /// RFC 7672 sec. 2.2.2: only after the A and AAAA answers are in, and only if one of them
    /// is secure (the TLSA base domain may be the CNAME expansion they reveal).
    AddressesFirst,
    /// RFC 7673 sec. 7: the TLSA lookup of the target's own name leaves with the address
    /// lookups; its answer is used only if the address answers make that name a TLSA base
    /// domain (sec. 3.2), and ignored otherwise.
    Parallel,
}

/// Settings of the probe that are the same for every host of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Which address families to look up and connect to.
    pub family: AddressFamily,
    /// SNI behaviour (RFC 7672 sec. 8.1).
    pub sni: SniMode,
    /// The EHLO name (RFC 5321 sec. 4.1.1.1).
    pub ehlo_name: String,
    /// Per-stage SMTP timeouts.
    pub timeouts: SmtpTimeouts,
    /// Digest preference (RFC 7671 sec. 9).
    pub digests: DigestPrefs,
    /// Make every DNS decision but open no connection.
    pub dns_only: bool,
}

/// Everything a [`super::HostProbe`] needs to know about its host besides its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeParams {
    /// The RRset that named the host and its DNSSEC status (RFC 7672 sec. 2.2.1, RFC 7673
    /// sec. 3.1).
    pub named_by: NamedBy,
    /// The reference identifiers rule (RFC 7672 sec. 3.2.2, RFC 7673 sec. 4.1).
    pub reference_ids: ReferenceIds,
    /// Which usages count (RFC 7672 sec. 3.1.3; RFC 7673 sec. 4.2).
    pub trust: TrustModel,
    /// Port and protocol.
    pub service: Service,
    /// Address lookups before TLSA (RFC 7672 sec. 2.2.2) or in parallel (RFC 7673 sec. 7).
    pub order: LookupOrder,
    /// Mandatory DANE (RFC 7672 sec. 6): a host that would not be authenticated is skipped
    /// with `dane-required`, never connected to.
    pub require_dane: bool,
    /// The settings shared by every host.
    pub options: ProbeOptions,
}

/// A parameter combination the probe does not implement yet: refused when the probe is
/// built, so nothing runs that would pass silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// The session has no implementation: SMTP relay with implicit TLS.
    Session {
        /// The protocol asked for.
        kind: SessionKind,
        /// How TLS was to start.
        tls: TlsStart,
    },
    /// Port 0 names no service and no TLSA RRset.
    PortZero,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Session { kind, tls } => write!(
                f,
                "{kind:?} with {} TLS is not supported yet",
                match tls {
                    TlsStart::StartTls => "STARTTLS",
                    TlsStart::Implicit => "implicit",
                }
            ),
            Unsupported::PortZero => f.write_str("port 0"),
        }
    }
}

impl std::error::Error for Unsupported {}

impl ProbeParams {
    /// `Ok` if the probe implements this combination, else what it lacks. Implemented: SMTP
    /// and submission with STARTTLS (RFC 3207, RFC 6409), IMAP with STARTTLS and POP3 with
    /// STLS (RFC 2595), and submission, IMAP and POP3 with implicit TLS (RFC 8314 sec. 3),
    /// under either trust model; SMTP relay with implicit TLS is refused.
    pub fn supported(&self) -> Result<(), Unsupported> {
        if self.service.port == 0 {
            return Err(Unsupported::PortZero);
        }
        match (self.service.kind, self.service.tls) {
            (_, TlsStart::StartTls)
            | (
                SessionKind::Submission | SessionKind::Imap | SessionKind::Pop3,
                TlsStart::Implicit,
            ) => Ok(()),
            (kind, tls) => Err(Unsupported::Session { kind, tls }),
        }
    }
}
