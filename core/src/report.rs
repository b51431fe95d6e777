//! The report of a check: verdicts per connection, host and domain (DESIGN.md section 5),
//! the facts behind them, and their RFC 8460 result types. Serialized as the `--json` output
//! (DESIGN.md section 6).

mod facts;
pub mod tlsrpt;
mod warning;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use facts::{DaneRequirement, DnsQuery, LocalStep, ProbeDetail, ProtocolFault};
pub use warning::Warning;

use crate::dane::names::NameError;
use crate::dane::{CertDates, DaneFailure, DaneFailureKind, PkixError, TlsaRecord};
use crate::dns::{ExtendedError, LookupError, Security};
pub use crate::implicit::greeting::{GreetingError, GreetingProtocol};
use crate::machine::{LocalFailure, NetError};
use crate::smtp::session::Stage;
use crate::time::Timestamp;
use crate::tls::TlsError;

/// The domain verdict, decided by the precedence table of DESIGN.md section 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DomainVerdict {
    /// The domain does not exist (NXDOMAIN on the MX lookup and, for an implicit MX, on the
    /// address lookups).
    Nxdomain,
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx,
    /// Delivery would be deferred: the MX lookup failed or was bogus, or the resolver does not
    /// validate (RFC 7672 sec. 2.1.2).
    TempFail,
    /// A host required DANE (or TLS) and did not deliver it, or a TLSA lookup failed in a signed
    /// zone (RFC 7672 sec. 2.2).
    DaneFailed,
    /// No host could be tested.
    Inconclusive,
    /// Secure MX RRset, and every host is DANE-authenticated (RFC 7672 sec. 3).
    DaneVerified,
    /// Insecure MX RRset, and every tested host matched its secure TLSA records (Postfix's
    /// "Trusted": RFC 7672 sec. 2.2.1 forbids calling this secure delivery to the domain).
    DaneTrusted,
    /// Some hosts authenticated with DANE, others without it.
    DanePartial,
    /// No DANE for this domain.
    NoDane,
    /// MUA check only: no requested service is published (no SRV records, or a lone "."
    /// target: RFC 6186 sec. 3, RFC 2782).
    Unavailable,
}

impl DomainVerdict {
    /// The command-line exit status for this verdict (DESIGN.md section 6).
    pub fn exit_code(self) -> i32 {
        match self {
            DomainVerdict::DaneVerified => 0,
            DomainVerdict::DaneFailed => 1,
            DomainVerdict::TempFail => 3,
            DomainVerdict::Inconclusive => 4,
            DomainVerdict::DanePartial => 5,
            DomainVerdict::DaneTrusted => 6,
            DomainVerdict::NoDane => 7,
            DomainVerdict::NullMx => 8,
            DomainVerdict::Nxdomain => 9,
            DomainVerdict::Unavailable => 10,
        }
    }

    /// One sentence for the last log line of a check of `kind`.
    pub fn explanation(self, kind: CheckKind) -> &'static str {
        let mua = kind == CheckKind::Mua;
        match self {
            DomainVerdict::Nxdomain => "the domain does not exist",
            DomainVerdict::NullMx => "the domain accepts no mail (null MX)",
            DomainVerdict::TempFail if mua => "a service lookup failed: a client would not connect",
            DomainVerdict::TempFail => "delivery would be deferred",
            DomainVerdict::DaneFailed if mua => "a server failed DANE: a client would not connect",
            DomainVerdict::DaneFailed => "a host failed DANE: mail to it would be deferred",
            DomainVerdict::Inconclusive if mua => "no server could be tested",
            DomainVerdict::Inconclusive => "no host could be tested",
            DomainVerdict::DaneVerified if mua => {
                "every server is authenticated by DNSSEC-signed TLSA records"
            }
            DomainVerdict::DaneVerified => {
                "every MX host is authenticated by DNSSEC-signed TLSA records"
            }
            DomainVerdict::DaneTrusted => {
                "hosts match their TLSA records, but the MX RRset is not signed"
            }
            DomainVerdict::DanePartial => "some hosts use DANE, others do not",
            DomainVerdict::NoDane => "no DANE: opportunistic TLS at best",
            DomainVerdict::Unavailable => "no requested service is published",
        }
    }

    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainVerdict::Nxdomain => "nxdomain",
            DomainVerdict::NullMx => "null-mx",
            DomainVerdict::TempFail => "temp-fail",
            DomainVerdict::DaneFailed => "dane-failed",
            DomainVerdict::Inconclusive => "inconclusive",
            DomainVerdict::DaneVerified => "dane-verified",
            DomainVerdict::DaneTrusted => "dane-trusted",
            DomainVerdict::DanePartial => "dane-partial",
            DomainVerdict::NoDane => "no-dane",
            DomainVerdict::Unavailable => "unavailable",
        }
    }
}

/// What RFC 7672 decided for a host before connecting (RFC 7672 sec. 2.2, outcomes (a)-(d)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostPolicy {
    /// (a) Secure usable TLSA records: TLS and DANE authentication are mandatory.
    Dane,
    /// (b) Secure TLSA records, all unusable: TLS mandatory, no authentication.
    Encrypt,
    /// (c) No secure TLSA records: pre-DANE opportunistic TLS, cleartext allowed.
    Opportunistic,
    /// (d) A lookup failed: the host is unreachable for delivery (RFC 7672 sec. 2.1.2).
    Skip,
}

/// Which lookup of a host failed when its policy is `skip` (DESIGN.md section 5). The
/// domain verdict depends on it: an address failure makes the host unreachable
/// (RFC 7672 sec. 2.1.2, R7), a failure of a lookup that locates TLSA records makes it a
/// DANE failure (RFC 7672 sec. 2.1.2, R8; sec. 2.2 (d)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailedLookup {
    /// The A/AAAA lookups: no address could be obtained (RFC 7672 sec. 2.2.2).
    Address,
    /// The TLSA lookup at a candidate base domain (RFC 7672 sec. 2.2.3).
    Tlsa,
    /// The separate CNAME query that decides the TLSA base domain (RFC 7672 sec. 2.1.3,
    /// 2.2.2).
    CnameProbe,
}

impl FailedLookup {
    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailedLookup::Address => "address",
            FailedLookup::Tlsa => "tlsa",
            FailedLookup::CnameProbe => "cname-probe",
        }
    }
}

/// The verdict of one connection (one address of one host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ConnectionVerdict {
    /// A usable TLSA record matched, with a secure MX RRset (or none needed).
    Verified,
    /// A usable TLSA record matched, but the MX RRset was insecure.
    Trusted,
    /// TLS without authentication.
    Untrusted,
    /// No TLS, and none was required.
    Plaintext,
    /// TLS or authentication was required and not obtained.
    DaneFailed,
    /// The server only speaks what this client refuses (TLS 1.0/1.1, RSA < 2048, SHA-1).
    ClientUnsupported,
    /// Not tested: connect failed or timed out, or the banner refused us.
    Unreachable,
}

impl ConnectionVerdict {
    /// The kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionVerdict::Verified => "verified",
            ConnectionVerdict::Trusted => "trusted",
            ConnectionVerdict::Untrusted => "untrusted",
            ConnectionVerdict::Plaintext => "plaintext",
            ConnectionVerdict::DaneFailed => "dane-failed",
            ConnectionVerdict::ClientUnsupported => "client-unsupported",
            ConnectionVerdict::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for ConnectionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of one host: the worst of its tested connections (DESIGN.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HostVerdict {
    /// Every tested connection verified.
    Verified,
    /// Every tested connection trusted (insecure MX).
    Trusted,
    /// Worst tested connection: TLS without authentication.
    Untrusted,
    /// Worst tested connection: plaintext.
    Plaintext,
    /// A tested connection failed DANE.
    DaneFailed,
    /// No connection could be tested because this client cannot speak the server's TLS.
    ClientUnsupported,
    /// No connection could be tested.
    Untested,
    /// A DNS lookup for the host failed: policy `skip`.
    DnsFailed,
}

/// Why a verdict is what it is: typed data (addresses, dates, records, what a library or
/// the peer named), with a stable kebab-case `code` in JSON, an RFC 8460 result type where
/// one applies, and [`fmt::Display`] for people. Strings in it are the peer's (a reply, a
/// name) or a library's name for an error, never daneel's prose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "code")]
#[non_exhaustive]
pub enum Reason {
    /// STARTTLS missing from the EHLO reply of a host that must do TLS (RFC 7672 sec. 2.2).
    StarttlsNotOffered,
    /// The server refused STARTTLS with this reply (RFC 3207 sec. 4).
    StarttlsRejected {
        /// The reply, as the server sent it (code and first line).
        reply: String,
    },
    /// No usable TLSA record matched the chain (RFC 7672 sec. 3.2).
    TlsaMismatch {
        /// The overall kind and, per usable record, why it did not match.
        failure: DaneFailure,
    },
    /// A DANE-TA record matched but the certificate names none of the reference identifiers
    /// (RFC 7672 sec. 3.2.2).
    NameMismatch {
        /// The reference identifiers tried, in order.
        reference_ids: Vec<String>,
        /// The names the certificate presents (SAN dNSNames, or CNs).
        presented: Vec<String>,
        /// Per usable record, why it did not authenticate.
        failure: DaneFailure,
    },
    /// A DANE-TA path was found but a certificate on it has expired or is not yet valid
    /// (RFC 7672 sec. 3.1.2); `failure.kind` says which.
    Expired {
        /// The dates of the certificate at fault, when known.
        dates: Option<CertDates>,
        /// Per usable record, why it did not authenticate.
        failure: DaneFailure,
    },
    /// The TLS handshake failed.
    HandshakeFailed {
        /// What rustls, daneel's handshake verifier or the connection named.
        error: TlsError,
    },
    /// The server sent bytes after its `220` to STARTTLS (RFC 3207 sec. 4.2).
    PlaintextInjection,
    /// The server only speaks TLS this client refuses (DESIGN.md section 5).
    ClientUnsupported {
        /// What rustls or daneel's handshake verifier named.
        error: TlsError,
    },
    /// TCP connect failed.
    ConnectFailed {
        /// What the runtime reported.
        error: NetError,
    },
    /// A stage of the SMTP dialogue timed out (RFC 5321 sec. 4.5.3.2).
    Timeout {
        /// The stage.
        stage: Stage,
    },
    /// The server rejected the session or a command.
    SmtpRejected {
        /// The stage.
        stage: Stage,
        /// The reply, as the server sent it (code and first line).
        reply: String,
    },
    /// The server broke the protocol (malformed or oversized reply, early close).
    ProtocolError {
        /// What it did.
        fault: ProtocolFault,
    },
    /// SERVFAIL on a lookup (RFC 7672 sec. 2.1.1).
    DnsServfail {
        /// The question.
        query: DnsQuery,
        /// The Extended DNS Errors the resolver sent (RFC 8914).
        ede: Vec<ExtendedError>,
    },
    /// Bogus DNSSEC data (SERVFAIL with a DNSSEC Extended DNS Error, RFC 8914 sec. 4).
    DnsBogus {
        /// The question.
        query: DnsQuery,
        /// The Extended DNS Errors the resolver sent, or the one the in-core validator gives
        /// its failure (RFC 8914 sec. 4).
        ede: Vec<ExtendedError>,
        /// Why the in-core validator found it bogus (`--dnssec validate`); absent when the
        /// resolver said so.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        validation: Option<Box<crate::dnssec::ValidationFailure>>,
    },
    /// A lookup timed out.
    DnsTimeout {
        /// The question.
        query: DnsQuery,
    },
    /// A lookup returned a malformed answer or an error rcode, or could not be made.
    DnsError {
        /// The question.
        query: DnsQuery,
        /// What went wrong.
        error: LookupError,
    },
    /// The host has no address records (RFC 7672 sec. 2.2.2: unreachable).
    NoAddresses,
    /// The resolver does not set the AD bit for data that must be secure (DESIGN.md sec. 4):
    /// no resolver validates, so no DANE result would mean anything.
    ResolverNotValidating {
        /// Each resolver dropped, with what its probe found.
        resolvers: Vec<ResolverEntry>,
    },
    /// The trust anchors given (`--trust-anchor`) do not parse: nothing can be validated
    /// (RFC 4034 sec. 2.2, 5.3 presentation format).
    TrustAnchorInvalid {
        /// The line and what is wrong with it.
        error: String,
    },
    /// A trust anchor matches no DNSKEY of its zone (RFC 4035 sec. 4.4): the anchors are out
    /// of date or wrong, so no DNSSEC status would mean anything.
    TrustAnchorMismatch {
        /// The anchored zone.
        zone: String,
    },
    /// Mandatory DANE was configured and this host has no usable secure TLSA records or was
    /// reached through an insecure MX RRset (RFC 7672 sec. 6).
    DaneRequired {
        /// Why DANE does not apply.
        why: DaneRequirement,
    },
    /// This process ran out of file descriptors or memory, so a lookup or connection could
    /// not even start: a local failure, never a peer's (issue 7). The check is incomplete.
    LocalResources {
        /// What could not be started.
        during: LocalStep,
        /// The resource and the operating system's description.
        error: LocalFailure,
    },
    /// PKIX validation (RFC 7673 sec. 4.1, RFC 5280 sec. 6) found no valid path from the
    /// server's chain to the trust store.
    PkixInvalid {
        /// What webpki refused.
        error: PkixError,
    },
    /// The PKIX path is valid but the certificate names none of the reference identifiers
    /// (RFC 7673 sec. 4.1, RFC 6125 sec. 6).
    PkixNameMismatch {
        /// The reference identifiers tried, in order.
        reference_ids: Vec<String>,
        /// The names the certificate presents.
        presented: Vec<String>,
    },
    /// The greeting after an implicit-TLS handshake is not usable (RFC 8314 sec. 3).
    BadGreeting {
        /// The protocol.
        protocol: GreetingProtocol,
        /// What was wrong.
        error: GreetingError,
    },
    /// TLS is required and the IMAP server greeted `* PREAUTH` (RFC 9051 sec. 7.1.4), which
    /// leaves no way to start TLS (sec. 6.2.1): a STARTTLS-stripping vector.
    Preauth,
    /// The check was aborted.
    Aborted,
}

impl Reason {
    /// A short kebab-case code (the JSON `code`), for log lines.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::StarttlsNotOffered => "starttls-not-offered",
            Reason::StarttlsRejected { .. } => "starttls-rejected",
            Reason::TlsaMismatch { .. } => "tlsa-mismatch",
            Reason::NameMismatch { .. } => "name-mismatch",
            Reason::Expired { .. } => "expired",
            Reason::HandshakeFailed { .. } => "handshake-failed",
            Reason::PlaintextInjection => "plaintext-injection",
            Reason::ClientUnsupported { .. } => "client-unsupported",
            Reason::ConnectFailed { .. } => "connect-failed",
            Reason::Timeout { .. } => "timeout",
            Reason::SmtpRejected { .. } => "smtp-rejected",
            Reason::ProtocolError { .. } => "protocol-error",
            Reason::DnsServfail { .. } => "dns-servfail",
            Reason::DnsBogus { .. } => "dns-bogus",
            Reason::DnsTimeout { .. } => "dns-timeout",
            Reason::DnsError { .. } => "dns-error",
            Reason::NoAddresses => "no-addresses",
            Reason::ResolverNotValidating { .. } => "resolver-not-validating",
            Reason::TrustAnchorInvalid { .. } => "trust-anchor-invalid",
            Reason::TrustAnchorMismatch { .. } => "trust-anchor-mismatch",
            Reason::DaneRequired { .. } => "dane-required",
            Reason::LocalResources { .. } => "local-resources",
            Reason::PkixInvalid { .. } => "pkix-invalid",
            Reason::PkixNameMismatch { .. } => "pkix-name-mismatch",
            Reason::BadGreeting { .. } => "bad-greeting",
            Reason::Preauth => "preauth",
            Reason::Aborted => "aborted",
        }
    }

    /// The reason a failed DANE verification gives (RFC 7672 sec. 3.2; the RFC 8460 result
    /// types tell a name mismatch and an expiry apart from other failures).
    pub fn from_dane_failure(failure: &DaneFailure) -> Reason {
        let failure = failure.clone();
        match failure.kind {
            DaneFailureKind::NameMismatch => {
                let (reference_ids, presented) = match failure.names() {
                    Some(NameError::Mismatch {
                        reference_ids,
                        presented,
                    }) => (reference_ids.clone(), presented.clone()),
                    _ => (Vec::new(), Vec::new()),
                };
                Reason::NameMismatch {
                    reference_ids,
                    presented,
                    failure,
                }
            }
            DaneFailureKind::Expired | DaneFailureKind::NotYetValid => Reason::Expired {
                dates: failure.dates().copied(),
                failure,
            },
            _ => Reason::TlsaMismatch { failure },
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())?;
        match self {
            Reason::StarttlsRejected { reply } => write!(f, ": {reply}"),
            Reason::TlsaMismatch { failure } => write!(f, ": {failure}"),
            Reason::NameMismatch {
                reference_ids,
                presented,
                failure,
            } => write!(
                f,
                ": {failure} (reference identifiers {}; certificate names {})",
                list(reference_ids),
                list(presented)
            ),
            Reason::Expired { dates, failure } => {
                write!(f, ": {failure}")?;
                match dates {
                    Some(d) => write!(f, " ({d})"),
                    None => Ok(()),
                }
            }
            Reason::HandshakeFailed { error } | Reason::ClientUnsupported { error } => {
                write!(f, ": {error}")
            }
            Reason::ConnectFailed { error } => write!(f, ": {error}"),
            Reason::Timeout { stage } => write!(f, ": {stage}"),
            Reason::SmtpRejected { stage, reply } => write!(f, ": {reply} (at {stage})"),
            Reason::ProtocolError { fault } => write!(f, ": {fault}"),
            Reason::DnsServfail { query, ede } | Reason::DnsBogus { query, ede, .. } => {
                write!(f, ": {query}")?;
                for (i, e) in ede.iter().enumerate() {
                    f.write_str(if i == 0 { " (" } else { "; " })?;
                    write!(f, "EDE {}", e.code)?;
                    if !e.text.is_empty() {
                        write!(f, ": {}", e.text)?;
                    }
                }
                if !ede.is_empty() {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Reason::DnsTimeout { query } => write!(f, ": {query}"),
            Reason::PkixInvalid { error } => write!(f, ": {error}"),
            Reason::PkixNameMismatch {
                reference_ids,
                presented,
            } => write!(
                f,
                ": reference identifiers {}; certificate names {}",
                reference_ids.join(", "),
                presented.join(", ")
            ),
            Reason::BadGreeting { protocol, error } => write!(f, ": {protocol:?}: {error}"),
            Reason::DnsError { query, error } => write!(f, ": {query}: {error}"),
            Reason::ResolverNotValidating { resolvers } => {
                f.write_str(
                    ": no resolver validates DNSSEC, so no DANE result would mean anything",
                )?;
                for (i, r) in resolvers.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { "; " })?;
                    match &r.detail {
                        Some(d) => write!(f, "{} {d}", r.address)?,
                        None => write!(f, "{} {}", r.address, r.probe)?,
                    }
                }
                Ok(())
            }
            Reason::TrustAnchorInvalid { error } => write!(f, ": {error}"),
            Reason::TrustAnchorMismatch { zone } => write!(
                f,
                ": the trust anchor for {zone} matches none of the DNSKEY records served for it (outdated anchors, or a resolver serving forged keys)"
            ),
            Reason::DaneRequired { why } => write!(f, ": {why}"),
            Reason::LocalResources { during, error } => {
                write!(f, ": {during} not started: {error}")
            }
            Reason::StarttlsNotOffered
            | Reason::PlaintextInjection
            | Reason::NoAddresses
            | Reason::Preauth
            | Reason::Aborted => Ok(()),
        }
    }
}

/// `a, b` or `none`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The resolver used and whether it validates (DESIGN.md section 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResolverReport {
    /// The resolvers, as `ip:port`.
    pub addresses: Vec<String>,
    /// How DNSSEC status is obtained: `ad-bit` (trust a validating resolver's AD bit) or
    /// `validate` (the core validated every answer from the trust anchors, issue 13).
    pub mode: String,
    /// Whether at least one resolver passed the validating-resolver probe (root DNSKEY with
    /// AD); only those are asked.
    pub validating: bool,
}

/// What the validation probe of one resolver found (DESIGN.md section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProbeResult {
    /// The root DNSKEY came back with AD=1: the resolver validates (RFC 4035 sec. 3.2.3).
    Validating,
    /// It answered without AD: dropped for the whole check (RFC 7672 sec. 2.1.1).
    NotValidating,
    /// It does not validate, but serves DNSSEC data (the root DNSKEY with its RRSIG): usable
    /// when the core validates (`--dnssec validate`, RFC 4035 sec. 3.2.2).
    ServesDnssec,
    /// No usable answer to the probe (timeout, SERVFAIL, REFUSED): dropped.
    Unreachable,
    /// Not probed (an address-literal destination needs no DNS).
    NotProbed,
}

impl fmt::Display for ProbeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeResult::Validating => "validating",
            ProbeResult::NotValidating => "not-validating",
            ProbeResult::ServesDnssec => "serves-dnssec",
            ProbeResult::Unreachable => "unreachable",
            ProbeResult::NotProbed => "not-probed",
        })
    }
}

/// One configured resolver: where it is, whether its AD bit can be believed, and whether this
/// check used it (DESIGN.md section 6, `resolvers[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverEntry {
    /// `ip:port`.
    pub address: String,
    /// On 127.0.0.0/8, `::1` or `::ffff:127.0.0.0/104` (an AD bit that crossed no network).
    pub loopback: bool,
    /// The probe's result.
    pub probe: ProbeResult,
    /// What the probe found when the resolver failed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ProbeDetail>,
    /// Whether the check asked it (validating, and in the preferred tier: loopback first).
    pub used: bool,
}

/// The MX lookup (RFC 7672 sec. 2.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MxReport {
    /// DNSSEC status of the MX RRset (or of its denial, for an implicit MX).
    pub security: Security,
    /// The MX records as `preference exchange`, in the order tried; empty for an implicit MX
    /// or a destination that skips the MX lookup.
    pub hosts: Vec<String>,
    /// True when no MX records exist and the domain is its own implicit MX (RFC 5321 sec. 5.1).
    pub implicit: bool,
    /// The CNAME chain of the MX lookup, if any (RFC 7672 sec. 2.2.1).
    pub cnames: Vec<String>,
}

/// Address lookups of a host (RFC 7672 sec. 2.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSecurity {
    /// Status of the A lookup, if made.
    pub a: Option<Security>,
    /// Status of the AAAA lookup, if made.
    pub aaaa: Option<Security>,
}

/// One TLSA record with its usability (RFC 6698 sec. 2.1, RFC 7672 sec. 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsaRecordReport {
    /// The record.
    #[serde(flatten)]
    pub record: TlsaRecord,
    /// Presentation form, `3 1 1 abcd...`.
    pub text: String,
    /// Whether the record is usable.
    pub usable: bool,
    /// Why not, if not.
    pub unusable_reason: Option<String>,
}

/// The TLSA lookup of a host (RFC 7672 sec. 2.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsaReport {
    /// The name queried that decided (e.g. `_25._tcp.mx.example.com`).
    pub name: String,
    /// DNSSEC status of the answer.
    pub security: Security,
    /// TTL of the RRset, seconds.
    pub ttl: Option<u32>,
    /// Earliest expiry of an RRSIG over the RRset (the date a monitoring job alerts on).
    pub rrsig_expires: Option<String>,
    /// The records.
    pub records: Vec<TlsaRecordReport>,
    /// Whether at least one record is usable.
    pub usable: bool,
}

/// TLS parameters of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsReport {
    /// Protocol version.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
    /// SNI sent.
    pub sni: Option<String>,
}

/// The server's leaf certificate, as far as it parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CertificateReport {
    /// Subject, RFC 4514-ish.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Not valid after (RFC 3339).
    pub not_after: String,
    /// DNS names in the subjectAltName.
    pub dns_names: Vec<String>,
    /// Number of certificates in the presented chain.
    pub chain_length: usize,
}

/// Which TLSA record authenticated the server (Postfix's "Matched DANE ... at depth N").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MatchedReport {
    /// The record, in presentation form.
    pub record: String,
    /// Chain depth of the matching certificate (0 = leaf).
    pub depth: usize,
    /// `chain`, `tlsa-certificate` (2 0 0) or `tlsa-public-key` (2 1 0).
    pub via: String,
    /// The reference identifier that the certificate matched (DANE-TA only).
    pub peername: Option<String>,
}

/// How a connection's server was authenticated: the usage of the TLSA record that matched
/// (RFC 6698 sec. 2.1.1, RFC 7218 mnemonics), or PKIX alone for a host without usable TLSA
/// records (RFC 7673 sec. 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthenticatedBy {
    /// A DANE-EE(3) record matched the leaf (no name or date checks).
    DaneEe,
    /// A DANE-TA(2) record matched an issuer, the path validated and a name matched.
    DaneTa,
    /// A PKIX-TA(0) record matched a CA of a validated Web PKI path, and a name matched.
    PkixTa,
    /// A PKIX-EE(1) record matched the leaf of a validated Web PKI path, and a name matched.
    PkixEe,
    /// No usable TLSA record: a validated Web PKI path and a matching name.
    Pkix,
}

/// One connection to one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionReport {
    /// `ip:port`.
    pub address: String,
    /// Whether the server offered STARTTLS.
    pub starttls: bool,
    /// TLS parameters if a handshake completed.
    pub tls: Option<TlsReport>,
    /// The leaf certificate, if one was presented.
    pub certificate: Option<CertificateReport>,
    /// The verdict.
    pub verdict: ConnectionVerdict,
    /// Why, where it is not plain success.
    pub reason: Option<Reason>,
    /// The record that matched, if any.
    pub matched: Option<MatchedReport>,
    /// How the server was authenticated, when it was (absent otherwise, and in reports
    /// written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_by: Option<AuthenticatedBy>,
    /// The reference identifier the certificate matched (what an auto-configuration
    /// stores); absent for DANE-EE, which checks no name (RFC 7673 sec. 4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_name: Option<String>,
    /// The RFC 8460 result type of the session ([`tlsrpt::result_type`]), if it failed.
    pub tlsrpt: Option<tlsrpt::ResultType>,
}

/// One MX host (or the destination host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostReport {
    /// The host name as found in the MX record (or the destination).
    pub name: String,
    /// MX preference, if from an MX record (the SRV priority for an SRV target).
    pub preference: Option<u16>,
    /// The port, for an SRV target (RFC 7673 sec. 3.3: the TLSA RRset follows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The TLSA base domain chosen (RFC 7672 sec. 2.2.2), if DANE applies.
    pub tlsa_base: Option<String>,
    /// The CNAME-expanded name, if the host name is an alias.
    pub expanded_name: Option<String>,
    /// Address lookup statuses.
    pub address_security: AddressSecurity,
    /// Addresses found.
    pub addresses: Vec<String>,
    /// The TLSA lookup that decided, if one was made.
    pub tlsa: Option<TlsaReport>,
    /// Reference identifiers for DANE-TA name checks (RFC 7672 sec. 3.2.2).
    pub reference_ids: Vec<String>,
    /// The policy.
    pub policy: HostPolicy,
    /// The verdict.
    pub verdict: HostVerdict,
    /// Why.
    pub reason: Option<Reason>,
    /// For a host skipped on a DNS failure (verdict `dns-failed`), which lookup failed.
    #[serde(default)]
    pub failed_lookup: Option<FailedLookup>,
    /// The RFC 8460 sec. 4.3 result type of the host's own failure or policy
    /// ([`tlsrpt::result_type`]), if any: the DNS failure of a skipped host, or
    /// `tlsa-invalid` when every TLSA record is unusable (policy `encrypt`). Connection
    /// failures carry theirs in `connections[].tlsrpt`.
    #[serde(default)]
    pub tlsrpt: Option<tlsrpt::ResultType>,
    /// Connections, one per address.
    pub connections: Vec<ConnectionReport>,
}

/// A step of the check, for the human log (one line per step, like a postmaster's log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Milliseconds since the check started.
    pub at_ms: u64,
    /// The line.
    pub text: String,
}

/// Which check a report, or a transcript's configuration, belongs to. Today the SMTP check
/// only; the MUA check (RFC 7673) and delivery will come, with reports of their own kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The check of a mail domain's MX hosts between MTAs (RFC 7672), `daneel check`.
    #[default]
    Smtp,
    /// The check of a mail domain's SRV-published user services (RFC 6186, RFC 7673, RFC
    /// 8314), `daneel mua`.
    Mua,
}

/// Set on a report that `daneel replay` decided again from a transcript (one of an older
/// format always; one of the current format with `--redecide`), absent from a live check's
/// report and from a byte-for-byte replay: each recorded DNS
/// answer was matched to this version's queries by question and resolver, each connection's
/// bytes by address and order. Outputs may differ from the recording; the verdict may not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReDecided {
    /// The transcript's format (`daneel_transcript` of its header).
    pub format: u32,
    /// The version that recorded it (`recorded_by` of its header).
    pub recorded_by: String,
    /// The verdict of the recorded report, when the transcript still holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_verdict: Option<DomainVerdict>,
    /// DNS exchanges of this version answered from the recording.
    pub dns_exchanges: usize,
    /// Connections of this version fed from the recording.
    pub connections: usize,
}

/// The whole report of a check. Its fields are those of the SMTP check (`kind` is `smtp`),
/// the only kind so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Which check wrote it (absent in reports written before it existed: `smtp`).
    #[serde(default)]
    pub kind: CheckKind,
    /// The destination as given.
    pub domain: String,
    /// The domain verdict.
    pub verdict: DomainVerdict,
    /// Why, for verdicts decided before any host.
    pub reason: Option<Reason>,
    /// The resolver summary.
    pub resolver: ResolverReport,
    /// Each configured resolver and its probe (RFC 7672 sec. 2.1.1).
    #[serde(default)]
    pub resolvers: Vec<ResolverEntry>,
    /// The MX lookup, absent for `[host]` destinations.
    pub mx: Option<MxReport>,
    /// The `_smtp._tls` TXT lookup of the domain (RFC 8460 sec. 3), absent when not looked
    /// up (`[host]` destinations, the MUA check, transcripts recorded before it existed).
    #[serde(
        default,
        skip_serializing_if = "tlsrpt::record::TlsRptLookup::is_not_looked_up"
    )]
    pub tlsrpt: tlsrpt::record::TlsRptLookup,
    /// The hosts, in MX order (SMTP check).
    pub hosts: Vec<HostReport>,
    /// The services (MUA check), in the order asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::mua::ServiceReport>,
    /// What a mail client should store (MUA check): per purpose, the preferred
    /// authenticated server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoconfig: Vec<crate::mua::AutoConfig>,
    /// Warnings: untested hosts, insecure resolver path, and the like.
    pub warnings: Vec<Warning>,
    /// When the check started.
    pub started: Timestamp,
    /// The steps.
    pub log: Vec<LogLine>,
    /// Set by `daneel replay` only, when it re-decided a transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redecided: Option<ReDecided>,
    /// What a delivery did with each recipient ([`crate::delivery::Delivery`]); absent
    /// from a check's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Box<crate::delivery::DeliveryReport>>,
}

impl Report {
    /// The stand-in report of a machine that had to be abandoned without one of its own
    /// (see [`crate::driver::MAX_OUTPUTS_PER_INPUT`]): `inconclusive`, reason `aborted`,
    /// nothing else known.
    pub fn abandoned(now: Timestamp) -> Self {
        Report {
            kind: CheckKind::default(),
            domain: String::new(),
            verdict: DomainVerdict::Inconclusive,
            reason: Some(Reason::Aborted),
            resolver: ResolverReport {
                addresses: Vec::new(),
                mode: "ad-bit".into(),
                validating: false,
            },
            resolvers: Vec::new(),
            mx: None,
            tlsrpt: Default::default(),
            hosts: Vec::new(),
            services: Vec::new(),
            autoconfig: Vec::new(),
            warnings: Vec::new(),
            started: now,
            log: Vec::new(),
            redecided: None,
            delivery: None,
        }
    }
}
