//! SMTP TLS Reporting (RFC 8460) from checks: the one mapping from each outcome of a check to
//! an RFC 8460 result type, the JSON report for a policy domain ([`json`], built by
//! [`build`], merged by [`merge`]), and the `_smtp._tls` TXT record that asks for reports
//! ([`record`]).
//!
//! # The mapping
//!
//! Every host and every session (one connection to one address) of an SMTP check maps to at
//! most one result type (RFC 8460 sec. 4.3), by [`result_type`]. It is the only place the
//! result types are decided: the `tlsrpt` fields of [`super::HostReport`] and
//! [`super::ConnectionReport`] and the reports of this module all come from it.
//!
//! | Outcome | Result type | RFC 8460 |
//! |---|---|---|
//! | Session: STARTTLS not offered, refused, or an IMAP `PREAUTH` where TLS is required | `starttls-not-supported` | sec. 4.3.1 |
//! | Session: plaintext to a host without a policy (no STARTTLS offered) | `starttls-not-supported` | sec. 4.3.1 |
//! | Session: DANE-EE or DANE-TA mismatch (no usable TLSA record matched the chain) | `validation-failure` | sec. 4.3.1 |
//! | Session: DANE-TA matched, but the certificate names no reference identifier | `certificate-host-mismatch` | sec. 4.3.1 |
//! | Session: DANE-TA matched, but a certificate on the path expired or is not yet valid (never under DANE-EE, where dates do not count) | `certificate-expired` | sec. 4.3.1 |
//! | Session: PKIX (MUA check): path to an unknown issuer | `certificate-not-trusted` | sec. 4.3.1 |
//! | Session: PKIX (MUA check): expired certificate | `certificate-expired` | sec. 4.3.1 |
//! | Session: PKIX (MUA check): name mismatch | `certificate-host-mismatch` | sec. 4.3.1 |
//! | Session: any other PKIX failure, a failed handshake, TLS this client cannot speak, bytes injected after the `220` to STARTTLS | `validation-failure` | sec. 4.3.3 |
//! | Host or session: mandatory DANE and no usable secure TLSA records, or an insecure MX RRset | `dane-required` | sec. 4.3.2.1 |
//! | Host: every TLSA record unusable (policy `encrypt`); each of its sessions fails with it | `tlsa-invalid` | sec. 4.3.2.1 |
//! | Host: the TLSA lookup (or the CNAME lookup that locates the TLSA records) was bogus or failed | `dnssec-invalid` | sec. 4.3.2.1 |
//! | Host: a bogus address lookup | `dnssec-invalid` | sec. 4.3.2.1 |
//! | Host: an address lookup that failed without being bogus (the host is unreachable, no TLS was attempted) | none | - |
//! | Session: connect failed, timed out, SMTP refused or broke the protocol (no TLS negotiation took place) | none, and not counted | - |
//! | Host or session: this process ran out of local resources (never the peer's fault) | none, and not counted | - |
//! | Session: verified, trusted, or TLS without authentication where none was required | none: a successful session | - |
//!
//! RFC 8460 has no result type for "no TLSA record matched": like mox (`dane-no-match`),
//! daneel reports it as `validation-failure`, with the reason in `failure-reason-code`.

pub mod build;
pub mod json;
pub mod merge;
pub mod record;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConnectionVerdict, FailedLookup, HostPolicy, Reason};
use crate::dane::PkixError;

/// An RFC 8460 result type (sec. 4.3; the IANA "STARTTLS Validation Result Types" registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultType {
    /// The receiving MX did not support STARTTLS (sec. 4.3.1).
    StarttlsNotSupported,
    /// The certificate names none of the expected identities (sec. 4.3.1).
    CertificateHostMismatch,
    /// The certificate expired (sec. 4.3.1).
    CertificateExpired,
    /// The certificate chains to no trusted root (sec. 4.3.1).
    CertificateNotTrusted,
    /// Any other negotiation failure (sec. 4.3.1, 4.3.3).
    ValidationFailure,
    /// None of the TLSA records were valid (sec. 4.3.2.1).
    TlsaInvalid,
    /// No valid records were returned from the recursive resolver (sec. 4.3.2.1).
    DnssecInvalid,
    /// The sender requires DANE and found no DNSSEC-validated TLSA records (sec. 4.3.2.1).
    DaneRequired,
    /// The MTA-STS policy could not be fetched (sec. 4.3.2.2); never produced by daneel.
    StsPolicyFetchError,
    /// The MTA-STS policy is invalid (sec. 4.3.2.2); never produced by daneel.
    StsPolicyInvalid,
    /// The MTA-STS policy host's certificate is invalid (sec. 4.3.2.2); never produced.
    StsWebpkiInvalid,
}

impl ResultType {
    /// The registered name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the mapping looks at: a host before any connection, or one session.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// A host's DNS decision (RFC 7672 sec. 2.2): its policy, the lookup that failed when
    /// the policy is `skip`, and the host's reason.
    Host {
        /// The policy.
        policy: HostPolicy,
        /// Which lookup failed, for a skipped host.
        failed_lookup: Option<FailedLookup>,
        /// The host's reason, if any.
        reason: Option<&'a Reason>,
    },
    /// One session with one address: its verdict and reason.
    Session {
        /// The connection verdict.
        verdict: ConnectionVerdict,
        /// The connection's reason, if any.
        reason: Option<&'a Reason>,
    },
}

/// The RFC 8460 result type of `outcome`: the table of the module documentation.
pub fn result_type(outcome: Outcome<'_>) -> Option<ResultType> {
    use ResultType as T;
    match outcome {
        Outcome::Host {
            reason: Some(Reason::LocalResources { .. }),
            ..
        } => None,
        Outcome::Host {
            policy: HostPolicy::Encrypt,
            ..
        } => Some(T::TlsaInvalid),
        Outcome::Host {
            policy: HostPolicy::Skip,
            failed_lookup,
            reason,
        } => match (failed_lookup, reason) {
            (_, Some(Reason::DaneRequired { .. })) => Some(T::DaneRequired),
            (Some(FailedLookup::Tlsa | FailedLookup::CnameProbe), _) => Some(T::DnssecInvalid),
            (_, Some(Reason::DnsBogus { .. })) => Some(T::DnssecInvalid),
            _ => None,
        },
        Outcome::Host { .. } => None,
        Outcome::Session { verdict, reason } => match reason {
            None if verdict == ConnectionVerdict::Plaintext => Some(T::StarttlsNotSupported),
            None => None,
            Some(reason) => session_reason(reason),
        },
    }
}

/// The session rows of the table, by reason.
fn session_reason(reason: &Reason) -> Option<ResultType> {
    use ResultType as T;
    Some(match reason {
        Reason::StarttlsNotOffered | Reason::StarttlsRejected { .. } | Reason::Preauth => {
            T::StarttlsNotSupported
        }
        Reason::TlsaMismatch { .. } => T::ValidationFailure,
        Reason::NameMismatch { .. } | Reason::PkixNameMismatch { .. } => T::CertificateHostMismatch,
        Reason::Expired { .. }
        | Reason::PkixInvalid {
            error: PkixError::Expired,
        } => T::CertificateExpired,
        Reason::PkixInvalid {
            error: PkixError::UnknownIssuer,
        } => T::CertificateNotTrusted,
        Reason::PkixInvalid { .. }
        | Reason::HandshakeFailed { .. }
        | Reason::PlaintextInjection
        | Reason::ClientUnsupported { .. } => T::ValidationFailure,
        Reason::DaneRequired { .. } => T::DaneRequired,
        Reason::DnsBogus { .. } => T::DnssecInvalid,
        Reason::ConnectFailed { .. }
        | Reason::Timeout { .. }
        | Reason::SmtpRejected { .. }
        | Reason::ProtocolError { .. }
        | Reason::DnsServfail { .. }
        | Reason::DnsTimeout { .. }
        | Reason::DnsError { .. }
        | Reason::NoAddresses
        | Reason::ResolverNotValidating { .. }
        | Reason::TrustAnchorInvalid { .. }
        | Reason::TrustAnchorMismatch { .. }
        | Reason::LocalResources { .. }
        | Reason::BadGreeting { .. }
        | Reason::Aborted => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{LocalFailure, LocalResource};
    use crate::report::{DnsQuery, LocalStep};

    fn query(rtype: &str) -> DnsQuery {
        DnsQuery {
            name: "mx.example.com".into(),
            rtype: rtype.into(),
        }
    }

    fn host(failed_lookup: Option<FailedLookup>, reason: &Reason) -> Option<ResultType> {
        result_type(Outcome::Host {
            policy: HostPolicy::Skip,
            failed_lookup,
            reason: Some(reason),
        })
    }

    /// The host rows of the table that the catalogue does not reach one by one.
    #[test]
    fn host_rows() {
        let servfail = |rtype| Reason::DnsServfail {
            query: query(rtype),
            ede: vec![],
        };
        let bogus = |rtype| Reason::DnsBogus {
            query: query(rtype),
            ede: vec![],
            validation: None,
        };
        let timeout = Reason::DnsTimeout {
            query: query("TLSA"),
        };
        use FailedLookup as L;
        use ResultType as T;
        assert_eq!(
            host(Some(L::Tlsa), &servfail("TLSA")),
            Some(T::DnssecInvalid)
        );
        assert_eq!(host(Some(L::Tlsa), &timeout), Some(T::DnssecInvalid));
        assert_eq!(
            host(Some(L::CnameProbe), &servfail("CNAME")),
            Some(T::DnssecInvalid)
        );
        assert_eq!(host(Some(L::Address), &bogus("A")), Some(T::DnssecInvalid));
        assert_eq!(host(Some(L::Address), &servfail("A")), None);
        let local = Reason::LocalResources {
            during: LocalStep::Lookup {
                query: query("TLSA"),
            },
            error: LocalFailure {
                resource: LocalResource::FileDescriptors,
                message: "Too many open files".into(),
            },
        };
        assert_eq!(host(Some(L::Tlsa), &local), None, "never the peer's fault");
        assert_eq!(
            result_type(Outcome::Host {
                policy: HostPolicy::Encrypt,
                failed_lookup: None,
                reason: None,
            }),
            Some(T::TlsaInvalid)
        );
        for policy in [HostPolicy::Dane, HostPolicy::Opportunistic] {
            let outcome = Outcome::Host {
                policy,
                failed_lookup: None,
                reason: None,
            };
            assert_eq!(result_type(outcome), None);
        }
    }

    /// The session rows of the MUA check's PKIX failures, and sessions that count as success.
    #[test]
    fn session_rows() {
        use ResultType as T;
        let session =
            |verdict, reason: Option<&Reason>| result_type(Outcome::Session { verdict, reason });
        let pkix = |error| Reason::PkixInvalid { error };
        assert_eq!(
            session(
                ConnectionVerdict::DaneFailed,
                Some(&pkix(PkixError::UnknownIssuer))
            ),
            Some(T::CertificateNotTrusted)
        );
        assert_eq!(
            session(
                ConnectionVerdict::DaneFailed,
                Some(&pkix(PkixError::Expired))
            ),
            Some(T::CertificateExpired)
        );
        assert_eq!(
            session(
                ConnectionVerdict::DaneFailed,
                Some(&pkix(PkixError::BadSignature))
            ),
            Some(T::ValidationFailure)
        );
        assert_eq!(
            session(ConnectionVerdict::Plaintext, None),
            Some(T::StarttlsNotSupported)
        );
        for verdict in [
            ConnectionVerdict::Verified,
            ConnectionVerdict::Trusted,
            ConnectionVerdict::Untrusted,
        ] {
            assert_eq!(session(verdict, None), None);
        }
        let refused = Reason::ConnectFailed {
            error: crate::machine::NetError::Refused,
        };
        assert_eq!(
            session(ConnectionVerdict::Unreachable, Some(&refused)),
            None
        );
    }
}
