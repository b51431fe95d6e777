//! One RRset against its RRSIGs (RFC 4035 sec. 5.3): which signature, which key, which time.
//! The cryptographic check is hickory-proto's `Verifier::verify_rrsig`, which builds the
//! canonical form (RFC 4034 sec. 3.1.8.1, sec. 6) itself.

use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, Verifier};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use super::window::{check_window, WindowError};
use crate::time::Timestamp;

/// The most signature verifications tried for one RRset. Key-tag collisions let an attacker
/// make a validator try every key against every signature (KeyTrap, CVE-2023-50387); real
/// RRsets carry one or two signatures per algorithm and zones a handful of keys.
pub const MAX_VERIFICATIONS: usize = 8;

/// The signature that validated an RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBy {
    /// The key tag of the DNSKEY (RFC 4034 App. B).
    pub key_tag: u16,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The signer (zone) name.
    pub signer: Name,
    /// The signature's expiration, seconds since the epoch modulo 2^32.
    pub expiration: u32,
    /// The RRSIG's label count is below the owner's: the RRset was synthesised from a
    /// wildcard (RFC 4035 sec. 5.3.4), which the caller must prove with NSEC or NSEC3.
    pub wildcard: bool,
    /// The label count of the RRSIG that verified: the wildcard it names is `*.` and the
    /// owner's last `labels` labels (RFC 4035 sec. 5.3.2). Only this RRSIG's count may be
    /// used for the proof; another RRSIG's is the attacker's choice.
    pub labels: u8,
}

/// Why no signature validated the RRset, the most telling failure first: a signature that
/// does not verify outranks one out of its window, which outranks a missing key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SignatureError {
    /// No RRSIG covers the type (RFC 4035 sec. 5.3.1).
    NoSignature,
    /// Every RRSIG uses an algorithm this validator does not implement; whether that makes
    /// the data insecure is decided at the DS (RFC 4035 sec. 5.2).
    UnsupportedAlgorithm,
    /// The RRSIG's signer is not the zone whose keys were given, or the owner is not in it,
    /// or its label count exceeds the owner's (RFC 4035 sec. 5.3.1).
    WrongSigner,
    /// No key of the set has the RRSIG's key tag and algorithm, with the zone-key flag set
    /// and the revoke flag clear (RFC 4034 sec. 2.1.1, RFC 5011 sec. 2.1).
    NoKey,
    /// The signature is outside its validity window.
    Window {
        /// Which end.
        error: WindowError,
    },
    /// More than `MAX_VERIFICATIONS` verifications would have been needed.
    WorkLimit,
    /// A matching key was found and the signature does not verify.
    BadSignature,
    /// An NSEC or NSEC3 RRset whose signature names a wildcard: denial records are never
    /// synthesised (RFC 4035 sec. 5.3.4); such a record re-owned at another name would
    /// "prove" anything there (CVE-2017-15105).
    ExpandedDenial,
}

impl SignatureError {
    fn rank(&self) -> u8 {
        match self {
            SignatureError::NoSignature => 0,
            SignatureError::UnsupportedAlgorithm => 1,
            SignatureError::WrongSigner => 2,
            SignatureError::NoKey => 3,
            SignatureError::Window { .. } => 4,
            SignatureError::WorkLimit => 5,
            SignatureError::BadSignature => 6,
            SignatureError::ExpandedDenial => 7,
        }
    }
}

/// Whether a DNSKEY may validate signatures: the zone-key flag set and the revoke flag clear
/// (RFC 4034 sec. 2.1.1; RFC 5011 sec. 2.1: a revoked key validates nothing but its own
/// revocation).
pub fn usable_key(key: &DNSKEY) -> bool {
    key.zone_key() && !key.revoke()
}

/// Validates the RRset `records` (owner `owner`, type `rtype`, class IN) of zone `zone` with
/// its `rrsigs` and the zone's `keys` at `now`. One valid signature by any supported
/// algorithm suffices (RFC 6840 sec. 5.4 and 5.11: no "every algorithm" rule).
pub fn verify_rrset(
    owner: &Name,
    rtype: RecordType,
    records: &[Record],
    rrsigs: &[RRSIG],
    zone: &Name,
    keys: &[DNSKEY],
    now: Timestamp,
) -> Result<SignedBy, SignatureError> {
    let mut worst = SignatureError::NoSignature;
    let note = |e: SignatureError, worst: &mut SignatureError| {
        if e.rank() > worst.rank() {
            *worst = e;
        }
    };
    let mut tries = 0usize;
    for sig in rrsigs.iter().filter(|s| s.input().type_covered == rtype) {
        let input = sig.input();
        if !input.algorithm.is_supported() {
            note(SignatureError::UnsupportedAlgorithm, &mut worst);
            continue;
        }
        // hickory-proto's label count already leaves out a leading `*` (RFC 4034 sec. 3.1.3).
        let owner_labels = owner.num_labels();
        if input.signer_name != *zone || !zone.zone_of(owner) || input.num_labels > owner_labels {
            note(SignatureError::WrongSigner, &mut worst);
            continue;
        }
        if let Err(error) = check_window(input.sig_inception, input.sig_expiration, now) {
            note(SignatureError::Window { error }, &mut worst);
            continue;
        }
        let candidates = keys.iter().filter(|k| {
            usable_key(k)
                && k.algorithm() == input.algorithm
                && k.calculate_key_tag().ok() == Some(input.key_tag)
        });
        let mut any_key = false;
        for key in candidates {
            any_key = true;
            tries += 1;
            if tries > MAX_VERIFICATIONS {
                return Err(SignatureError::WorkLimit);
            }
            if key
                .verify_rrsig(owner, DNSClass::IN, sig, records.iter())
                .is_ok()
            {
                return Ok(SignedBy {
                    key_tag: input.key_tag,
                    algorithm: input.algorithm,
                    signer: input.signer_name.clone(),
                    expiration: input.sig_expiration.get(),
                    wildcard: input.num_labels < owner_labels,
                    labels: input.num_labels,
                });
            }
            note(SignatureError::BadSignature, &mut worst);
        }
        if !any_key {
            note(SignatureError::NoKey, &mut worst);
        }
    }
    Err(worst)
}
