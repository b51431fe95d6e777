//! Warnings of a report: typed, with a stable kebab-case `code` in JSON and
//! [`fmt::Display`] for people.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConnectionVerdict, ProbeDetail, Reason};

/// Something the reader of a report should know that does not change the verdict: an
/// untested host or address, a resolver dropped or off loopback, an odd MX RRset, a setting
/// for tests only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "code")]
pub enum Warning {
    /// SNI was turned off although RFC 7672 sec. 8.1 requires it towards DANE hosts.
    SniOff,
    /// A fixed seed makes DNS message ids predictable (RFC 5452 sec. 9.2).
    FixedSeed,
    /// A resolver failed the validating-resolver probe and is not asked in this check
    /// (RFC 7672 sec. 2.1.1).
    ResolverDropped {
        /// `ip:port`.
        resolver: String,
        /// What its probe found.
        detail: ProbeDetail,
    },
    /// A believed resolver is not on loopback: its AD bit crossed a network (RFC 7672
    /// sec. 2.1.1).
    ResolverRemote {
        /// `ip:port`.
        resolver: String,
    },
    /// An MX "." beside other MX records is not a null MX (RFC 7505 sec. 3) and is ignored.
    RootMxIgnored {
        /// The domain.
        domain: String,
    },
    /// An MX host is listed more than once and is checked once.
    DuplicateMx {
        /// The domain.
        domain: String,
        /// The host.
        host: String,
    },
    /// An MX host is an IP address (RFC 5321 sec. 5.1 wants a name): no DANE for it
    /// (RFC 7672 sec. 2.2).
    MxIsAddress {
        /// The domain.
        domain: String,
        /// The MX exchange as published.
        host: String,
    },
    /// A host could not be tested.
    HostNotTested {
        /// The host.
        host: String,
        /// Why, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Box<Reason>>,
    },
    /// A connection could not be tested (`unreachable` or `client-unsupported`).
    ConnectionNotTested {
        /// The host.
        host: String,
        /// `ip:port`.
        address: String,
        /// The connection verdict.
        verdict: ConnectionVerdict,
        /// Why, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Box<Reason>>,
    },
    /// A host is unreachable because its address lookups failed (RFC 7672 sec. 2.1.2).
    AddressLookupFailed {
        /// The host.
        host: String,
        /// Why, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Box<Reason>>,
    },
    /// One address family's lookup failed; the other is used (RFC 7672 sec. 2.1.2).
    AddressFamilyFailed {
        /// The host.
        host: String,
        /// Why that lookup failed.
        reason: Box<Reason>,
    },
    /// A and AAAA records differ in DNSSEC status; the TLSA policy applies to every address.
    MixedAddressSecurity {
        /// The host.
        host: String,
    },
    /// Every TLSA record of a host is unusable: TLS mandatory without authentication
    /// (RFC 7672 sec. 2.2 (b)).
    AllTlsaUnusable {
        /// The host.
        host: String,
    },
    /// Local resources (file descriptors, memory) ran out: the check is incomplete (issue 7).
    LocalResources {
        /// The first host affected.
        host: String,
    },
    /// No MX host was left to try.
    NoMxLeft,
    /// The probe of a host refused its parameters (cannot happen for the SMTP check): the
    /// check ends untested.
    ProbeRefused {
        /// The host.
        host: String,
    },
    /// The check stalled with nothing pending (cannot happen): it ends untested rather than
    /// hanging (DESIGN.md section 8).
    Stalled,
    /// The machine produced more than `max_outputs` outputs for one input without waiting
    /// (cannot happen): the driver aborted it rather than spin (see
    /// [`crate::driver::MAX_OUTPUTS_PER_INPUT`]).
    Runaway {
        /// The bound.
        max_outputs: usize,
    },
    /// A usable PKIX-TA(0) Cert(0) record can match a root only if the root is given as a
    /// certificate, and the trust store is the embedded webpki-roots, which hold none
    /// ([`crate::dane::pkix::PKIX_TA_ROOT_DER_MISSING`]; RFC 7673 sec. 4.2).
    PkixTaNeedsRootCertificate {
        /// The host.
        host: String,
        /// The record, in presentation form.
        record: String,
    },
    /// An SRV record was left out of a service's plan (RFC 2782; port 0, a duplicate, an
    /// address literal, "." beside other records, or beyond the target limit).
    SrvDropped {
        /// The SRV owner name.
        owner: String,
        /// Which record, and why.
        dropped: crate::mua::DroppedSrv,
    },
    /// A service was discovered but its sessions are not implemented
    /// (`supported` refused them): its SRV records were checked,
    /// its targets were not. Every [`crate::mua::MailService`] has sessions since issue 10;
    /// the warning stays for a service whose sessions are refused.
    ServiceNotTested {
        /// The service.
        service: crate::mua::MailService,
    },
    /// The `_smtp._tls` TXT lookup failed or was bogus (RFC 8460 sec. 3): whether the domain
    /// wants TLS reports is unknown. Never changes a verdict.
    TlsRptLookupFailed {
        /// Why.
        reason: Box<Reason>,
    },
    /// The domain's TLSRPT record is not usable (RFC 8460 sec. 3).
    TlsRptRecordInvalid {
        /// What is wrong.
        problems: Vec<super::tlsrpt::record::RecordProblem>,
    },
}

impl Warning {
    /// The kebab-case code (the JSON `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Warning::SniOff => "sni-off",
            Warning::SrvDropped { .. } => "srv-dropped",
            Warning::ServiceNotTested { .. } => "service-not-tested",
            Warning::PkixTaNeedsRootCertificate { .. } => "pkix-ta-needs-root-certificate",
            Warning::FixedSeed => "fixed-seed",
            Warning::ResolverDropped { .. } => "resolver-dropped",
            Warning::ResolverRemote { .. } => "resolver-remote",
            Warning::RootMxIgnored { .. } => "root-mx-ignored",
            Warning::DuplicateMx { .. } => "duplicate-mx",
            Warning::MxIsAddress { .. } => "mx-is-address",
            Warning::HostNotTested { .. } => "host-not-tested",
            Warning::ConnectionNotTested { .. } => "connection-not-tested",
            Warning::AddressLookupFailed { .. } => "address-lookup-failed",
            Warning::AddressFamilyFailed { .. } => "address-family-failed",
            Warning::MixedAddressSecurity { .. } => "mixed-address-security",
            Warning::AllTlsaUnusable { .. } => "all-tlsa-unusable",
            Warning::LocalResources { .. } => "local-resources",
            Warning::NoMxLeft => "no-mx-left",
            Warning::ProbeRefused { .. } => "probe-refused",
            Warning::Stalled => "stalled",
            Warning::Runaway { .. } => "runaway",
            Warning::TlsRptLookupFailed { .. } => "tlsrpt-lookup-failed",
            Warning::TlsRptRecordInvalid { .. } => "tlsrpt-record-invalid",
        }
    }
}

/// ` (reason)` or nothing.
fn because(reason: &Option<Box<Reason>>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SniOff => f.write_str(
                "SNI turned off: RFC 7672 sec. 8.1 requires SNI (the TLSA base domain) towards \
                 DANE hosts; use this only to test that servers do not require it",
            ),
            Warning::FixedSeed => f.write_str(
                "fixed seed: DNS message ids are predictable to anyone who knows it; for tests \
                 only (RFC 5452 sec. 9.2)",
            ),
            Warning::ResolverDropped { resolver, detail } => write!(
                f,
                "resolver {resolver} {detail}: not asked in this check (RFC 7672 sec. 2.1.1)"
            ),
            Warning::ResolverRemote { resolver } => write!(
                f,
                "resolver {resolver} is not on loopback: its AD bit crossed a network \
                 (RFC 7672 sec. 2.1.1)"
            ),
            Warning::RootMxIgnored { domain } => write!(
                f,
                "{domain}: MX \".\" published beside other MX records is not a null MX \
                 (RFC 7505 sec. 3); ignored"
            ),
            Warning::DuplicateMx { domain, host } => {
                write!(
                    f,
                    "{domain}: MX host {host} listed more than once; checked once"
                )
            }
            Warning::MxIsAddress { domain, host } => write!(
                f,
                "{domain}: MX host {host} is an IP address (RFC 5321 sec. 5.1 wants a host \
                 name); no DANE for it (RFC 7672 sec. 2.2)"
            ),
            Warning::HostNotTested { host, reason } => {
                write!(f, "{host}: not tested{}", because(reason))
            }
            Warning::ConnectionNotTested {
                host,
                address,
                verdict,
                reason,
            } => write!(f, "{host}[{address}]: {verdict}{}", because(reason)),
            Warning::AddressLookupFailed { host, reason } => write!(
                f,
                "{host}: unreachable: address lookup failed{} (RFC 7672 sec. 2.1.2); not tested",
                because(reason)
            ),
            Warning::AddressFamilyFailed { host, reason } => write!(
                f,
                "{host}: {reason}; using the other address family (RFC 7672 sec. 2.1.2)"
            ),
            Warning::MixedAddressSecurity { host } => write!(
                f,
                "{host}: A and AAAA records differ in DNSSEC status; the host's TLSA policy \
                 applies to every address, those of the insecure RRset too"
            ),
            Warning::AllTlsaUnusable { host } => write!(
                f,
                "{host}: all TLSA records unusable: TLS mandatory without authentication"
            ),
            Warning::LocalResources { host } => write!(
                f,
                "{host}: local resources ran out (file descriptors or memory): the check is \
                 incomplete"
            ),
            Warning::NoMxLeft => f.write_str("no MX host left to try"),
            Warning::ProbeRefused { host } => write!(
                f,
                "internal: the probe of {host} refused its parameters; the check ends untested"
            ),
            Warning::Stalled => f.write_str("internal: the check stalled with nothing pending"),
            Warning::Runaway { max_outputs } => write!(
                f,
                "internal: the check produced more than {max_outputs} outputs for one input \
                 without waiting and was aborted"
            ),
            Warning::SrvDropped { owner, dropped } => write!(f, "{owner}: {dropped}"),
            Warning::ServiceNotTested { service } => write!(
                f,
                "{service}: its sessions are not implemented: the SRV records were checked, the targets were not"
            ),
            Warning::TlsRptLookupFailed { reason } => write!(
                f,
                "TLSRPT record lookup failed ({reason}): whether the domain wants TLS reports \
                 is unknown (RFC 8460 sec. 3)"
            ),
            Warning::TlsRptRecordInvalid { problems } => {
                f.write_str("TLSRPT record unusable")?;
                for (i, p) in problems.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { "; " })?;
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            Warning::PkixTaNeedsRootCertificate { host, record } => write!(
                f,
                "{host}: TLSA {record}: if it names a root: {}",
                crate::dane::pkix::PKIX_TA_ROOT_DER_MISSING
            ),
        }
    }
}
