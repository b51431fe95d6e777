//! [`TrustChain`]: the zones validated so far, from a trust anchor down (RFC 4035 sec. 5),
//! and the status of an RRset given the zones it depends on. It holds no I/O: the chain
//! walker that asks for DNSKEY and DS RRsets feeds it, zone by zone, and asks it what it
//! still needs ([`RrsetStatus::NeedZone`]).
//!
//! A zone enters the chain in one of three ways: as an anchored zone (its DNSKEY RRset
//! vouched for by a trust anchor), as a secure delegation from a secure parent (the DS RRset
//! signed by the parent's keys, then the delegation step of [`super::zone_keys`]), or as an
//! insecure delegation from a secure parent, which needs the parent's signed proof that no
//! DS exists (NSEC or NSEC3, validated here) or a DS RRset with no supported algorithm.
//! Everything below an insecure zone is insecure; everything signed by a bogus zone is bogus.

use std::collections::BTreeMap;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, RRSIG};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::anchor::TrustAnchor;
use super::delegation::{match_anchors, match_ds, zone_keys, KeysError, ZoneKeys};
use super::nsec::{delegation_at, prove_denial, Denial, NsecRecord};
use super::nsec3::{delegation_at3, prove_denial3, Nsec3Denial, Nsec3Record};
use super::signature::{verify_rrset, SignatureError, SignedBy};
use crate::time::Timestamp;

/// An RRset with its RRSIGs, as a response carried it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignedRrset {
    /// The records (all of one owner and type).
    pub records: Vec<Record>,
    /// The RRSIGs over them.
    pub rrsigs: Vec<RRSIG>,
}

/// The parent's evidence that a child zone has no DS, each NSEC or NSEC3 RRset with its
/// RRSIGs (RFC 4035 sec. 5.2, RFC 5155 sec. 8.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoDsProof {
    /// NSEC records (owner, data, RRSIGs).
    Nsec(Vec<(NsecRecord, Vec<RRSIG>)>),
    /// NSEC3 records (owner, data, RRSIGs).
    Nsec3(Vec<(Nsec3Record, Vec<RRSIG>)>),
}

/// Why a zone or an RRset is bogus.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ChainError {
    /// The zone's keys are bogus.
    Keys {
        /// Why.
        error: KeysError,
    },
    /// An RRset's signature (the DS RRset, a denial record, the data) did not validate.
    Signature {
        /// Why.
        error: SignatureError,
    },
    /// The proof that the child has no DS does not prove it.
    NoDsNotProven,
    /// The parent is not a validated secure zone.
    ParentNotSecure,
}

/// A denial record that did not validate ([`TrustChain::verify_denial`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenialRecordError {
    /// Its owner.
    pub owner: Name,
    /// NSEC or NSEC3.
    pub rtype: RecordType,
    /// Why.
    pub error: ChainError,
}

/// What the chain says of an RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RrsetStatus {
    /// Validated by the keys of its signer zone.
    Secure(SignedBy),
    /// Its zone (or an ancestor's delegation) is provably insecure.
    Insecure,
    /// It fails validation.
    Bogus(ChainError),
    /// The keys of this zone are needed first (ask for its DNSKEY, and its DS at the parent).
    NeedZone(Name),
}

/// The validated zones (see the module documentation).
#[derive(Clone, Debug)]
pub struct TrustChain {
    anchors: Vec<TrustAnchor>,
    now: Timestamp,
    zones: BTreeMap<Name, ZoneKeys>,
}

impl TrustChain {
    /// An empty chain over `anchors`, judging signatures at `now`.
    pub fn new(anchors: Vec<TrustAnchor>, now: Timestamp) -> Self {
        TrustChain {
            anchors,
            now,
            zones: BTreeMap::new(),
        }
    }

    /// What the chain knows of `zone`.
    pub fn zone(&self, zone: &Name) -> Option<&ZoneKeys> {
        self.zones.get(zone)
    }

    fn keys_of(dnskeys: &SignedRrset) -> Vec<DNSKEY> {
        dnskeys
            .records
            .iter()
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::DNSSEC(
                    hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(k),
                ) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    /// An anchored zone: its DNSKEY RRset must be signed by a key a trust anchor vouches for
    /// (RFC 4035 sec. 4.4, 5.2).
    pub fn add_anchored(&mut self, zone: &Name, dnskeys: &SignedRrset) -> &ZoneKeys {
        let keys = Self::keys_of(dnskeys);
        let vouched = match_anchors(zone, &self.anchors, &keys);
        let status = zone_keys(
            zone,
            &dnskeys.records,
            &keys,
            &dnskeys.rrsigs,
            vouched,
            self.now,
        );
        self.zones.entry(zone.clone()).or_insert(status)
    }

    fn secure_parent(&self, parent: &Name) -> Result<Vec<DNSKEY>, ChainError> {
        match self.zones.get(parent) {
            Some(ZoneKeys::Secure(keys)) => Ok(keys.clone()),
            _ => Err(ChainError::ParentNotSecure),
        }
    }

    /// A delegation with a DS RRset at the parent: the DS RRset must be signed by the
    /// parent's keys, then the delegation step decides the child's keys (RFC 4035 sec. 5.2).
    pub fn add_delegation(
        &mut self,
        parent: &Name,
        child: &Name,
        ds: &SignedRrset,
        dnskeys: &SignedRrset,
    ) -> Result<&ZoneKeys, ChainError> {
        let parent_keys = self.secure_parent(parent)?;
        verify_rrset(
            child,
            RecordType::DS,
            &ds.records,
            &ds.rrsigs,
            parent,
            &parent_keys,
            self.now,
        )
        .map_err(|error| ChainError::Signature { error })?;
        let ds_set: Vec<DS> = ds
            .records
            .iter()
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::DNSSEC(
                    hickory_proto::dnssec::rdata::DNSSECRData::DS(d),
                ) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let keys = Self::keys_of(dnskeys);
        let status = zone_keys(
            child,
            &dnskeys.records,
            &keys,
            &dnskeys.rrsigs,
            match_ds(child, &ds_set, &keys),
            self.now,
        );
        Ok(self.zones.entry(child.clone()).or_insert(status))
    }

    /// Validates every NSEC or NSEC3 RRset of `proof` with the keys of the secure zone
    /// `zone` (the signer must be `zone`); a record signed as a wildcard expansion is refused,
    /// since denial records are never synthesised (RFC 4035 sec. 5.3.4, CVE-2017-15105).
    /// The error names the record that failed.
    pub fn verify_denial(&self, zone: &Name, proof: &NoDsProof) -> Result<(), DenialRecordError> {
        let keys = self
            .secure_parent(zone)
            .map_err(|error| DenialRecordError {
                owner: zone.clone(),
                rtype: RecordType::NSEC,
                error,
            })?;
        let sets: Vec<(&Name, RecordType, DNSSECRData, &[RRSIG])> = match proof {
            NoDsProof::Nsec(items) => items
                .iter()
                .map(|(n, sigs)| {
                    let data = DNSSECRData::NSEC(n.nsec.clone());
                    (&n.owner, RecordType::NSEC, data, sigs.as_slice())
                })
                .collect(),
            NoDsProof::Nsec3(items) => items
                .iter()
                .map(|(n, sigs)| {
                    let data = DNSSECRData::NSEC3(n.nsec3.clone());
                    (&n.owner, RecordType::NSEC3, data, sigs.as_slice())
                })
                .collect(),
        };
        for (owner, rtype, data, sigs) in sets {
            let record = Record::from_rdata(owner.clone(), 0, RData::DNSSEC(data));
            let fail = |error| DenialRecordError {
                owner: owner.clone(),
                rtype,
                error: ChainError::Signature { error },
            };
            let by =
                verify_rrset(owner, rtype, &[record], sigs, zone, &keys, self.now).map_err(fail)?;
            if by.wildcard {
                return Err(fail(SignatureError::ExpandedDenial));
            }
        }
        Ok(())
    }

    /// An insecure delegation: the parent's NSEC or NSEC3 records, each validated with the
    /// parent's keys, must prove that `child` is a delegation point (NS without SOA) with no
    /// DS (RFC 4035 sec. 5.2), or NSEC3 opt-out must cover it (RFC 5155 sec. 8.6), or the
    /// NSEC3 iterations exceed the RFC 9276 limit (sec. 3.2: insecure).
    pub fn add_insecure_delegation(
        &mut self,
        parent: &Name,
        child: &Name,
        proof: &NoDsProof,
    ) -> Result<&ZoneKeys, ChainError> {
        self.verify_denial(parent, proof).map_err(|e| e.error)?;
        let proven = match proof {
            NoDsProof::Nsec(items) => {
                let records: Vec<NsecRecord> = items.iter().map(|(n, _)| n.clone()).collect();
                // "No DS" at a name that is not a delegation point proves nothing about a
                // zone cut: the name is the parent's own, and its data must be signed.
                matches!(
                    prove_denial(child, RecordType::DS, parent, &records),
                    Ok(Denial::NoData)
                ) && delegation_at(child, parent, &records) == Some(true)
            }
            NoDsProof::Nsec3(items) => {
                let records: Vec<Nsec3Record> = items.iter().map(|(n, _)| n.clone()).collect();
                match prove_denial3(child, RecordType::DS, parent, &records) {
                    Ok(Nsec3Denial::NoData) => {
                        delegation_at3(child, parent, &records) == Some(true)
                    }
                    Ok(Nsec3Denial::OptOut { .. } | Nsec3Denial::TooManyIterations { .. }) => true,
                    Ok(Nsec3Denial::NoName { .. } | Nsec3Denial::WildcardNoData { .. })
                    | Err(_) => false,
                }
            }
        };
        if !proven {
            return Err(ChainError::NoDsNotProven);
        }
        Ok(self
            .zones
            .entry(child.clone())
            .or_insert(ZoneKeys::Insecure))
    }

    /// The deepest zone at or above `name` that the chain proved insecure (an insecure
    /// delegation, RFC 4035 sec. 5.2), if any.
    pub fn insecure_above(&self, name: &Name) -> Option<&Name> {
        self.zones
            .iter()
            .filter(|(zone, keys)| **keys == ZoneKeys::Insecure && zone.zone_of(name))
            .max_by_key(|(zone, _)| zone.num_labels())
            .map(|(zone, _)| zone)
    }

    /// The status of the RRset `owner`/`rtype`: by the keys of the zone that signed it (the
    /// RRSIGs' signer name), insecure when that zone or a delegation above it is insecure.
    pub fn rrset(&self, owner: &Name, rtype: RecordType, rrset: &SignedRrset) -> RrsetStatus {
        let signer = rrset
            .rrsigs
            .iter()
            .find(|s| s.input().type_covered == rtype)
            .map(|s| s.input().signer_name.clone());
        // The closest zone the chain knows at or above the owner, and below the signer,
        // decides when it is insecure: nothing below an insecure delegation can be secure.
        // Above the signer it does not count: an island of trust under an insecure zone is
        // secure by its own anchor (RFC 4035 sec. 4.3).
        let mut at = owner.clone();
        loop {
            if signer.as_ref() == Some(&at) {
                break;
            }
            if let Some(ZoneKeys::Insecure) = self.zones.get(&at) {
                return RrsetStatus::Insecure;
            }
            if at.is_root() {
                break;
            }
            at = at.base_name();
        }

        let Some(signer) = signer else {
            return RrsetStatus::Bogus(ChainError::Signature {
                error: SignatureError::NoSignature,
            });
        };
        match self.zones.get(&signer) {
            None => RrsetStatus::NeedZone(signer),
            Some(ZoneKeys::Insecure) => RrsetStatus::Insecure,
            Some(ZoneKeys::Bogus(error)) => RrsetStatus::Bogus(ChainError::Keys {
                error: error.clone(),
            }),
            Some(ZoneKeys::Secure(keys)) => match verify_rrset(
                owner,
                rtype,
                &rrset.records,
                &rrset.rrsigs,
                &signer,
                keys,
                self.now,
            ) {
                Ok(signed) => RrsetStatus::Secure(signed),
                Err(error) => RrsetStatus::Bogus(ChainError::Signature { error }),
            },
        }
    }
}
