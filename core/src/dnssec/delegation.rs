//! A zone's DNSKEY RRset against its parent's DS RRset (RFC 4035 sec. 5.2) or a trust anchor
//! (sec. 4.4): which keys of the child are vouched for.

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{DigestType, PublicKey, Verifier};
use hickory_proto::rr::Name;

use super::anchor::{AnchorKey, TrustAnchor};
use super::signature::usable_key;

/// What the DS RRset says about the child's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsMatch {
    /// These keys (by key tag) match a usable DS record: the DNSKEY RRset must be signed by
    /// one of them.
    Vouched(Vec<DNSKEY>),
    /// No DS record has both an algorithm and a digest type this validator implements: the
    /// child zone is insecure, not bogus (RFC 4035 sec. 5.2, RFC 6840 sec. 5.2).
    NoSupportedDs,
    /// Usable DS records exist and no key of the DNSKEY RRset matches one: bogus.
    Mismatch,
}

/// Whether this validator can use a DS record: a supported algorithm and digest type.
pub(super) fn supported(ds: &DS) -> bool {
    ds.algorithm().is_supported()
        && matches!(
            ds.digest_type(),
            DigestType::SHA1 | DigestType::SHA256 | DigestType::SHA384
        )
}

/// The keys of `owner`'s DNSKEY RRset `keys` vouched for by its DS RRset `ds_set`. SHA-1 DS
/// records are ignored when a usable SHA-256 or SHA-384 one is present (RFC 4509 sec. 3),
/// so a downgraded digest cannot stand in for a strong one.
pub fn match_ds(owner: &Name, ds_set: &[DS], keys: &[DNSKEY]) -> DsMatch {
    let usable: Vec<&DS> = ds_set.iter().filter(|d| supported(d)).collect();
    if usable.is_empty() {
        return DsMatch::NoSupportedDs;
    }
    let strong = usable.iter().any(|d| d.digest_type() != DigestType::SHA1);
    let usable: Vec<&DS> = usable
        .into_iter()
        .filter(|d| !strong || d.digest_type() != DigestType::SHA1)
        .collect();
    let vouched: Vec<DNSKEY> = keys
        .iter()
        .filter(|k| usable_key(k))
        .filter(|k| {
            usable.iter().any(|d| {
                k.algorithm() == d.algorithm()
                    && k.calculate_key_tag().ok() == Some(d.key_tag())
                    && d.covers(owner, k).unwrap_or(false)
            })
        })
        .cloned()
        .collect();
    if vouched.is_empty() {
        DsMatch::Mismatch
    } else {
        DsMatch::Vouched(vouched)
    }
}

/// The keys of `owner`'s DNSKEY RRset that the trust anchors for `owner` vouch for: DS
/// anchors as [`match_ds`], DNSKEY anchors by identical key; `Mismatch` (the anchor matches no
/// DNSKEY: the check stops with its own error) otherwise. Anchors of which this validator
/// can use none are a `Mismatch` too, never `NoSupportedDs`: a DS RRset of unknown algorithms
/// makes a child insecure (RFC 4035 sec. 5.2), but an anchor the operator configured is a
/// promise that the zone is signed, and ignoring it (as unbound does, with a log line) would
/// turn every answer below it insecure, a silent downgrade. `parse_anchors` refuses such an
/// anchor file up front.
pub fn match_anchors(owner: &Name, anchors: &[TrustAnchor], keys: &[DNSKEY]) -> DsMatch {
    let mut ds_set = Vec::new();
    let mut pinned = Vec::new();
    for anchor in anchors.iter().filter(|a| a.owner().as_hickory() == owner) {
        match anchor.key() {
            AnchorKey::Ds(ds) => ds_set.push(ds.clone()),
            AnchorKey::Dnskey(key) => pinned.push(key),
        }
    }
    let mut vouched: Vec<DNSKEY> = keys
        .iter()
        .filter(|k| usable_key(k))
        .filter(|k| {
            pinned.iter().any(|p| {
                p.algorithm() == k.algorithm()
                    && p.public_key().public_bytes() == k.public_key().public_bytes()
            })
        })
        .cloned()
        .collect();
    let from_ds = if ds_set.is_empty() {
        None
    } else {
        Some(match_ds(owner, &ds_set, keys))
    };
    match from_ds {
        Some(DsMatch::Vouched(more)) => {
            for key in more {
                if !vouched.contains(&key) {
                    vouched.push(key);
                }
            }
            DsMatch::Vouched(vouched)
        }
        _ if !vouched.is_empty() => DsMatch::Vouched(vouched),
        _ => DsMatch::Mismatch,
    }
}

/// A zone's keys after the delegation step (RFC 4035 sec. 5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneKeys {
    /// The DNSKEY RRset is signed by a key the parent's DS (or a trust anchor) vouches for:
    /// every key of it may now validate the zone's data.
    Secure(Vec<DNSKEY>),
    /// No DS the validator can use: the zone is insecure (RFC 4035 sec. 5.2).
    Insecure,
    /// Usable DS records, and no vouched key signs the DNSKEY RRset (or none matches): bogus.
    Bogus(KeysError),
}

/// Why a zone's keys are bogus.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeysError {
    /// No key of the DNSKEY RRset matches a usable DS or trust anchor.
    NoVouchedKey,
    /// A vouched key exists but no RRSIG by one validates the DNSKEY RRset.
    Signature {
        /// Why.
        error: super::signature::SignatureError,
    },
}

/// The delegation step for `zone`: `vouched` is what [`match_ds`] (or [`match_anchors`]) says
/// of its DNSKEY RRset `records` (the DNSKEY records, `keys` their data), and `rrsigs` the
/// RRSIGs over that RRset. The RRset must be self-signed by a vouched key at `now`; then all
/// its keys are the zone's (RFC 4035 sec. 5.2).
pub fn zone_keys(
    zone: &Name,
    records: &[hickory_proto::rr::Record],
    keys: &[DNSKEY],
    rrsigs: &[hickory_proto::dnssec::rdata::RRSIG],
    vouched: DsMatch,
    now: crate::time::Timestamp,
) -> ZoneKeys {
    let vouched = match vouched {
        DsMatch::NoSupportedDs => return ZoneKeys::Insecure,
        DsMatch::Mismatch => return ZoneKeys::Bogus(KeysError::NoVouchedKey),
        DsMatch::Vouched(v) => v,
    };
    match super::signature::verify_rrset(
        zone,
        hickory_proto::rr::RecordType::DNSKEY,
        records,
        rrsigs,
        zone,
        &vouched,
        now,
    ) {
        Ok(_) => ZoneKeys::Secure(keys.iter().filter(|k| usable_key(k)).cloned().collect()),
        Err(error) => ZoneKeys::Bogus(KeysError::Signature { error }),
    }
}
