//! Denial of existence with NSEC (RFC 4035 sec. 5.4, RFC 4034 sec. 4, RFC 7129 sec. 3 and 5):
//! from NSEC records whose signatures the caller has already validated
//! ([`super::verify_rrset`]), prove that a name does not exist (NXDOMAIN), that it has no
//! record of a type (NODATA), or that a positive answer synthesised from a wildcard was
//! allowed (the name itself does not exist). Names are compared in canonical DNS order
//! (RFC 4034 sec. 6.1), which is hickory-proto's `Name` order.
//!
//! The rules that keep a forged or misplaced NSEC from proving too much:
//! - an NSEC proves only within the zone that signed it (its signer), so the caller passes
//!   the zone;
//! - an NSEC from the parent side of a delegation (NS without SOA in its type map) proves
//!   nothing but the absence of a DS, and a child-apex NSEC (SOA in its type map) never
//!   proves the absence of a DS (RFC 6840 sec. 4.4);
//! - a NODATA proof needs CNAME absent from the type map too (RFC 4035 sec. 5.4);
//! - an NXDOMAIN proof needs the wildcard at the closest encloser denied as well (RFC 4035
//!   sec. 5.4, RFC 7129 sec. 5.2);
//! - a name below a delegation (NS without SOA at an ancestor) or a DNAME is not proven
//!   absent by the parent's NSEC chain (RFC 6672 sec. 5.3.4.1).

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::{Name, RecordType};

/// One NSEC record: its owner and data. The caller has validated its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsecRecord {
    /// The owner name.
    pub owner: Name,
    /// The record data.
    pub nsec: NSEC,
}

impl NsecRecord {
    fn has(&self, rtype: RecordType) -> bool {
        self.nsec.type_set().contains(rtype)
    }

    /// Parent side of a delegation: NS without SOA (RFC 6840 sec. 4.4).
    fn is_delegation(&self) -> bool {
        self.has(RecordType::NS) && !self.has(RecordType::SOA)
    }

    /// Whether this NSEC covers `name`: `name` sorts strictly between the owner and the next
    /// name, the last NSEC of the zone (next = the apex, which sorts first) covering every
    /// name after its owner (RFC 4034 sec. 4.1.1). A delegation's NSEC covers nothing below
    /// the delegation, and no NSEC covers a name below a DNAME.
    fn covers(&self, name: &Name, zone: &Name) -> bool {
        let next = self.nsec.next_domain_name();
        if !zone.zone_of(name) || !zone.zone_of(&self.owner) {
            return false;
        }
        if (self.is_delegation() || self.has(RecordType::DNAME))
            && self.owner.zone_of(name)
            && self.owner != *name
        {
            return false;
        }
        if self.owner < *next {
            self.owner < *name && *name < *next
        } else {
            // The last NSEC of the zone wraps to the apex.
            self.owner < *name
        }
    }
}

/// Why the NSEC records do not prove the denial.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenialError {
    /// No NSEC matches or covers the name.
    NameNotCovered,
    /// The NSEC at the name lists the type (or CNAME): the data exists.
    TypeExists,
    /// The NSEC is from the wrong side of a delegation for this question (RFC 6840
    /// sec. 4.4).
    WrongSideOfDelegation,
    /// The wildcard at the closest encloser is not denied (RFC 4035 sec. 5.4).
    WildcardNotDenied,
    /// The name is outside the zone whose NSEC records were given.
    OutsideZone,
    /// The proof needed more than `MAX_NSEC3_HASHES` NSEC3 hash
    /// computations (CVE-2023-50868).
    TooMuchWork,
}

/// What a proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The name does not exist (NXDOMAIN), nor does the wildcard that could have made it.
    NoName {
        /// The closest encloser: the longest existing ancestor (RFC 7129 sec. 5.3).
        closest_encloser: Name,
    },
    /// The name exists without the type (NODATA).
    NoData,
    /// The name does not exist and the wildcard at the closest encloser exists without
    /// the type (wildcard NODATA, RFC 7129 sec. 5.3).
    WildcardNoData {
        /// The closest encloser.
        closest_encloser: Name,
    },
}

/// The longest ancestor of `name` (itself included) that is also an ancestor of `other`.
fn common_ancestor(name: &Name, other: &Name) -> Name {
    let mut ancestor = name.clone();
    while !ancestor.zone_of(other) && !ancestor.is_root() {
        ancestor = ancestor.base_name();
    }
    ancestor
}

/// The closest encloser of `qname` proven by the NSEC `covering` it: the longer of the
/// common ancestors of `qname` with the NSEC's owner and with its next name, both of which
/// exist (RFC 7129 sec. 5.3).
fn closest_encloser(qname: &Name, covering: &NsecRecord) -> Name {
    let a = common_ancestor(qname, &covering.owner);
    let b = common_ancestor(qname, covering.nsec.next_domain_name());
    if a.num_labels() >= b.num_labels() {
        a
    } else {
        b
    }
}

/// The wildcard `*.<encloser>`, if it is a valid name.
fn wildcard_at(encloser: &Name) -> Option<Name> {
    encloser.prepend_label("*").ok()
}

/// Proves that `qname` has no `qtype` record, or does not exist at all, in `zone`, from the
/// validated NSEC records `nsecs` (RFC 4035 sec. 5.4).
pub fn prove_denial(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    nsecs: &[NsecRecord],
) -> Result<Denial, DenialError> {
    if !zone.zone_of(qname) {
        return Err(DenialError::OutsideZone);
    }
    let in_zone: Vec<&NsecRecord> = nsecs.iter().filter(|n| zone.zone_of(&n.owner)).collect();
    if let Some(at) = in_zone.iter().find(|n| n.owner == *qname) {
        return nodata_at(at, qtype).map(|()| Denial::NoData);
    }
    let covering = in_zone
        .iter()
        .find(|n| n.covers(qname, zone))
        .ok_or(DenialError::NameNotCovered)?;
    let encloser = closest_encloser(qname, covering);
    if encloser == *qname {
        // The next name is below the question: an empty non-terminal, which exists with no
        // data at all.
        return Ok(Denial::NoData);
    }
    let wildcard = wildcard_at(&encloser).ok_or(DenialError::WildcardNotDenied)?;
    if let Some(at) = in_zone.iter().find(|n| n.owner == wildcard) {
        // The wildcard exists: only a wildcard NODATA can be proven.
        return nodata_at(at, qtype).map(|()| Denial::WildcardNoData {
            closest_encloser: encloser,
        });
    }
    if in_zone.iter().any(|n| n.covers(&wildcard, zone)) {
        Ok(Denial::NoName {
            closest_encloser: encloser,
        })
    } else {
        Err(DenialError::WildcardNotDenied)
    }
}

/// Whether the validated NSEC records of `zone` show `name` as a delegation point: an NSEC
/// owned by `name` whose type map has NS without SOA (RFC 4035 sec. 5.2: only such a proof
/// of "no DS" makes the child an insecure delegation; an ordinary name without DS is not a
/// zone cut). `None` when no NSEC is owned by `name`.
pub fn delegation_at(name: &Name, zone: &Name, nsecs: &[NsecRecord]) -> Option<bool> {
    nsecs
        .iter()
        .find(|n| n.owner == *name && zone.zone_of(&n.owner))
        .map(|n| n.has(RecordType::NS) && !n.has(RecordType::SOA))
}

/// NODATA at an NSEC that matches the name: see [`nodata_types`].
fn nodata_at(at: &NsecRecord, qtype: RecordType) -> Result<(), DenialError> {
    nodata_types(&|t| at.has(t), &at.owner, qtype)
}

/// NODATA from the type map (`has`) of an NSEC or NSEC3 that matches `qname`: neither the
/// type nor CNAME is listed (RFC 4035 sec. 5.4, RFC 5155 sec. 8.5), and the record is on the
/// right side of a delegation for the type: the parent side (NS without SOA) proves only
/// "no DS", a child apex (SOA) never does, but the root (RFC 6840 sec. 4.4).
pub(super) fn nodata_types(
    has: &dyn Fn(RecordType) -> bool,
    qname: &Name,
    qtype: RecordType,
) -> Result<(), DenialError> {
    let ds = qtype == RecordType::DS;
    let delegation = has(RecordType::NS) && !has(RecordType::SOA);
    if (ds && has(RecordType::SOA) && !qname.is_root()) || (!ds && delegation) {
        return Err(DenialError::WrongSideOfDelegation);
    }
    if has(qtype) || has(RecordType::CNAME) {
        return Err(DenialError::TypeExists);
    }
    Ok(())
}

/// A positive answer for `qname` synthesised from a wildcard whose RRSIG has label count
/// `rrsig_labels` ([`super::SignedBy::wildcard`]) is valid only if no closer match exists:
/// an NSEC must cover `qname`, and the closest encloser it proves must be the wildcard's
/// parent, with exactly `rrsig_labels` labels (RFC 4035 sec. 5.3.4, RFC 7129 sec. 5.3). An
/// existing name between them would have been the answer instead.
pub fn prove_wildcard_expansion(
    qname: &Name,
    rrsig_labels: u8,
    zone: &Name,
    nsecs: &[NsecRecord],
) -> Result<(), DenialError> {
    let covering = nsecs
        .iter()
        .filter(|n| zone.zone_of(&n.owner))
        .find(|n| n.covers(qname, zone))
        .ok_or(DenialError::NameNotCovered)?;
    if closest_encloser(qname, covering).num_labels() == rrsig_labels {
        Ok(())
    } else {
        Err(DenialError::WildcardNotDenied)
    }
}
