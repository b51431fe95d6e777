//! DNSSEC status of an answer (RFC 4035 sec. 4.3, RFC 7672 sec. 2.1.1).

use serde::{Deserialize, Serialize};

/// The DNSSEC status of an RRset or of a denial of existence.
///
/// RFC 4035 sec. 4.3: "Secure: An RRset for which the resolver is able to build a chain of
/// signed DNSKEY and DS RRs from a trusted security anchor to the RRset. Insecure: An RRset
/// for which the resolver knows that it has no chain of signed DNSKEY and DS RRs from any
/// trusted starting point to the RRset. Bogus: An RRset for which the resolver believes that
/// it ought to be able to establish a chain of trust but for which it is unable to do so.
/// Indeterminate: An RRset for which the resolver is not able to determine whether the RRset
/// should be signed." RFC 7672 sec. 2.1.1 treats indeterminate as bogus (a lookup error).
#[must_use = "Security is the DNSSEC status of the data: interrogate it before using records"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Validated by the resolver (AD=1 from a validating resolver).
    Secure,
    /// Provably unsigned (AD=0 on a NOERROR or NXDOMAIN answer).
    Insecure,
    /// Validation failed (SERVFAIL with a DNSSEC Extended DNS Error, RFC 8914).
    Bogus,
    /// Could not be determined (SERVFAIL without a DNSSEC reason, timeouts).
    Indeterminate,
}

impl Security {
    /// True for `Secure`.
    pub fn is_secure(self) -> bool {
        self == Security::Secure
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Security::Secure => "secure",
            Security::Insecure => "insecure",
            Security::Bogus => "bogus",
            Security::Indeterminate => "indeterminate",
        })
    }
}

/// What an answer's response code says about the name (RFC 1035 sec. 4.1.1, RFC 2308).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RcodeClass {
    /// NOERROR with records of the requested type (after any CNAMEs).
    Data,
    /// NOERROR without records of the requested type (RFC 2308 NODATA).
    NoData,
    /// NXDOMAIN: the name (or the end of the CNAME chain) does not exist.
    NxDomain,
}
