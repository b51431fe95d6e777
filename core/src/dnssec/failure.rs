//! Why the in-core validator found an answer bogus or could not decide (RFC 4035 sec. 4.3,
//! 5.5), as typed data for reports, with the Extended DNS Error code (RFC 8914 sec. 4) a
//! validating resolver would have sent for the same failure.

use serde::{Deserialize, Serialize};

use super::chain::ChainError;
use super::delegation::KeysError;
use super::nsec::DenialError;
use super::signature::SignatureError;
use super::window::WindowError;
use crate::dns::{LookupError, Security};

/// A bound the validator enforces against KeyTrap-style work (CVE-2023-50387, CVE-2023-50868).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WorkLimit {
    /// More zones between the anchor and the data than `MAX_CHAIN_DEPTH`.
    ChainDepth,
    /// More DS and DNSKEY lookups in one check than `MAX_CHAIN_LOOKUPS`.
    ChainLookups,
    /// A DNSKEY RRset larger than `MAX_DNSKEYS`.
    DnskeySetSize,
    /// More NSEC or NSEC3 records in one answer than `MAX_DENIAL_RECORDS`.
    DenialRecords,
    /// More RRset validations in one check than `MAX_RRSET_VALIDATIONS`.
    RrsetValidations,
}

/// Why an answer is not secure or provably insecure (issue 13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ValidationFailure {
    /// An RRset does not validate with the keys of its zone (RFC 4035 sec. 5.3).
    Rrset {
        /// Owner name.
        owner: String,
        /// Type.
        rtype: String,
        /// Why.
        error: ChainError,
    },
    /// An RRset in a signed zone came without any RRSIG (RFC 4035 sec. 5.3.1: "RRSIGs
    /// missing", never taken for insecure).
    Unsigned {
        /// Owner name.
        owner: String,
        /// Type.
        rtype: String,
        /// The signed zone it belongs to.
        zone: String,
    },
    /// A zone's DNSKEY RRset is not vouched for by its parent's DS RRset (RFC 4035 sec. 5.2).
    Zone {
        /// The zone.
        zone: String,
        /// Why.
        error: ChainError,
    },
    /// The trust anchor matches no DNSKEY of its zone (RFC 4035 sec. 4.4): the anchor file
    /// or the zone is wrong, and nothing below it can be validated.
    AnchorMismatch {
        /// The anchored zone.
        zone: String,
    },
    /// A denial of existence without a valid NSEC or NSEC3 proof (RFC 4035 sec. 5.4,
    /// RFC 5155 sec. 8).
    Denial {
        /// The name denied.
        qname: String,
        /// The type denied.
        qtype: String,
        /// Why the proof fails.
        error: DenialError,
    },
    /// A DS or DNSKEY lookup the chain needed failed: the status is indeterminate (RFC 4035
    /// sec. 4.3), which RFC 7672 sec. 2.1.1 treats as a failed lookup.
    ChainLookup {
        /// The name asked.
        name: String,
        /// The type asked.
        rtype: String,
        /// The failure.
        error: Box<LookupError>,
    },
    /// A work limit was reached: the answer is treated as bogus.
    Limit {
        /// Which.
        limit: WorkLimit,
    },
}

impl ValidationFailure {
    /// Bogus, or indeterminate when a lookup of the chain failed (RFC 4035 sec. 4.3).
    pub fn security(&self) -> Security {
        match self {
            ValidationFailure::ChainLookup { .. } => Security::Indeterminate,
            _ => Security::Bogus,
        }
    }

    /// The Extended DNS Error INFO-CODE a validating resolver would give (RFC 8914 sec. 4):
    /// 1 unsupported DNSKEY algorithm, 6 bogus, 7 signature expired, 8 not yet valid,
    /// 9 DNSKEY missing, 10 RRSIGs missing, 12 NSEC missing, 5 indeterminate.
    pub fn ede_code(&self) -> u16 {
        match self {
            ValidationFailure::Rrset { error, .. } | ValidationFailure::Zone { error, .. } => {
                chain_ede(error)
            }
            ValidationFailure::Unsigned { .. } => 10,
            ValidationFailure::AnchorMismatch { .. } => 9,
            ValidationFailure::Denial { .. } => 12,
            ValidationFailure::ChainLookup { .. } => 5,
            ValidationFailure::Limit { .. } => 6,
        }
    }
}

fn signature_ede(error: &SignatureError) -> u16 {
    match error {
        SignatureError::NoSignature => 10,
        SignatureError::UnsupportedAlgorithm => 1,
        SignatureError::NoKey => 9,
        SignatureError::Window {
            error: WindowError::Expired,
        } => 7,
        SignatureError::Window {
            error: WindowError::NotYetValid,
        } => 8,
        SignatureError::Window {
            error: WindowError::Inverted,
        } => 25,
        SignatureError::WrongSigner
        | SignatureError::WorkLimit
        | SignatureError::BadSignature
        | SignatureError::ExpandedDenial => 6,
    }
}

fn chain_ede(error: &ChainError) -> u16 {
    match error {
        ChainError::Keys {
            error: KeysError::NoVouchedKey,
        } => 9,
        ChainError::Keys {
            error: KeysError::Signature { error },
        }
        | ChainError::Signature { error } => signature_ede(error),
        ChainError::NoDsNotProven => 12,
        ChainError::ParentNotSecure => 6,
    }
}

fn describe_signature(error: &SignatureError) -> &'static str {
    match error {
        SignatureError::NoSignature => "no RRSIG covers it",
        SignatureError::UnsupportedAlgorithm => "every RRSIG uses an unsupported algorithm",
        SignatureError::WrongSigner => "the RRSIG's signer is not its zone",
        SignatureError::NoKey => "no zone key has the RRSIG's key tag and algorithm",
        SignatureError::Window {
            error: WindowError::Expired,
        } => "the RRSIG has expired",
        SignatureError::Window {
            error: WindowError::NotYetValid,
        } => "the RRSIG is not yet valid",
        SignatureError::Window {
            error: WindowError::Inverted,
        } => "the RRSIG expires before its inception",
        SignatureError::WorkLimit => "too many signatures to try",
        SignatureError::BadSignature => "the signature does not verify",
        SignatureError::ExpandedDenial => "an NSEC or NSEC3 record signed as a wildcard expansion",
    }
}

fn describe_chain(error: &ChainError) -> String {
    match error {
        ChainError::Keys {
            error: KeysError::NoVouchedKey,
        } => "no DNSKEY matches the parent's DS records".into(),
        ChainError::Keys {
            error: KeysError::Signature { error },
        } => format!("DNSKEY RRset: {}", describe_signature(error)),
        ChainError::Signature { error } => describe_signature(error).into(),
        ChainError::NoDsNotProven => "the parent does not prove the delegation unsigned".into(),
        ChainError::ParentNotSecure => "the parent zone is not secure".into(),
    }
}

impl std::fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidationFailure::Rrset {
                owner,
                rtype,
                error,
            } => write!(f, "{owner} {rtype}: {}", describe_chain(error)),
            ValidationFailure::Unsigned { owner, rtype, zone } => write!(
                f,
                "{owner} {rtype}: no RRSIG, but the zone {zone} is signed"
            ),
            ValidationFailure::Zone { zone, error } => {
                write!(f, "zone {zone}: {}", describe_chain(error))
            }
            ValidationFailure::AnchorMismatch { zone } => write!(
                f,
                "the trust anchor for {zone} matches none of the DNSKEY records served for it (outdated anchors, or a resolver serving forged keys)"
            ),
            ValidationFailure::Denial {
                qname,
                qtype,
                error,
            } => write!(f, "{qname} {qtype}: the denial is not proven ({error:?})"),
            ValidationFailure::ChainLookup { name, rtype, error } => {
                write!(f, "{name} {rtype}, needed for the chain of trust: {error}")
            }
            ValidationFailure::Limit { limit } => write!(f, "work limit reached: {limit:?}"),
        }
    }
}
