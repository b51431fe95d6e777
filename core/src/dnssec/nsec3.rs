//! Denial of existence with NSEC3 (RFC 5155 sec. 8; RFC 7129 sec. 5; RFC 9276): from NSEC3
//! records whose signatures the caller has already validated ([`super::verify_rrset`]).
//! Names are hashed with each record's own salt and iterations (RFC 5155 sec. 5) and
//! compared as hashes: the owner's first label is the base32hex hash (sec. 3.3), the next
//! hashed owner name is raw.
//!
//! - NODATA: an NSEC3 matches the name, without the type or CNAME (sec. 8.5), on the right
//!   side of a delegation (RFC 6840 sec. 4.4).
//! - NXDOMAIN: a closest encloser proof (sec. 8.3: an NSEC3 matches the closest encloser,
//!   one covers the next closer name), and one covering the wildcard at the closest encloser
//!   (sec. 8.4); a matching wildcard NSEC3 makes it a wildcard NODATA (sec. 8.7).
//! - Opt-out: only when the NSEC3 that covers the next closer name has the opt-out flag is
//!   the answer insecure (an unsigned delegation may exist there, sec. 8.6 and 9.2);
//!   anywhere else the flag changes nothing.
//! - RFC 9276 sec. 3.2: an NSEC3 with more than [`MAX_NSEC3_ITERATIONS`] iterations makes
//!   the answer insecure without hashing anything, and only because the caller validated its
//!   RRSIG first: an unsigned high-iteration NSEC3 would otherwise be a downgrade. It is
//!   reported with Extended DNS Error 27, "Unsupported NSEC3 Iterations Value" (RFC 9276
//!   sec. 3.2, the IANA EDE registry of RFC 8914).

use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::rr::{Name, RecordType};

use super::nsec::{nodata_types, DenialError};

/// The most NSEC3 iterations this validator hashes (RFC 9276 sec. 3.2 asks validators to
/// lower their limit over time towards 0; BIND 9.18 uses 50, unbound 150). Above it the
/// answer is insecure.
pub const MAX_NSEC3_ITERATIONS: u16 = 50;

/// The Extended DNS Error for an NSEC3 iteration count above the limit (RFC 9276 sec. 3.2,
/// IANA "Extended DNS Error Codes": 27, Unsupported NSEC3 Iterations Value).
pub const EDE_UNSUPPORTED_NSEC3_ITERATIONS: u16 = 27;

/// The most NSEC3 hash computations one proof may make (each name is hashed once per
/// distinct salt and iteration count): a closest encloser proof for a name of N labels
/// needs at most N + 2. Beyond it the proof fails (CVE-2023-50868: answers crafted so a
/// validator hashes without end).
pub const MAX_NSEC3_HASHES: usize = 64;

/// What one hash is of: the name (lowercase), the salt and the iteration count.
type HashInput = (Name, Vec<u8>, u16);

/// The hashes computed for one proof, each [`HashInput`] once.
#[derive(Default)]
struct Hashes {
    done: Vec<(HashInput, Option<Vec<u8>>)>,
    exceeded: bool,
}

impl Hashes {
    /// `name` hashed with `record`'s parameters (RFC 5155 sec. 5); `None` if it cannot be,
    /// or past [`MAX_NSEC3_HASHES`].
    fn of(&mut self, record: &Nsec3Record, name: &Name) -> Option<Vec<u8>> {
        let key = (
            name.to_lowercase(),
            record.nsec3.salt().to_vec(),
            record.nsec3.iterations(),
        );
        if let Some((_, hash)) = self.done.iter().find(|(k, _)| *k == key) {
            return hash.clone();
        }
        if self.done.len() >= MAX_NSEC3_HASHES {
            self.exceeded = true;
            return None;
        }
        let hash = record.hash(name);
        self.done.push((key, hash.clone()));
        hash
    }

    /// `result`, unless the hash budget ran out while it was proven.
    fn checked<T>(&self, result: Result<T, DenialError>) -> Result<T, DenialError> {
        if self.exceeded {
            Err(DenialError::TooMuchWork)
        } else {
            result
        }
    }
}

/// One NSEC3 record: its owner and data. The caller has validated its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsec3Record {
    /// The owner name (`<base32hex hash>.<zone>`).
    pub owner: Name,
    /// The record data.
    pub nsec3: NSEC3,
}

/// What an NSEC3 proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nsec3Denial {
    /// The name exists without the type.
    NoData,
    /// The name does not exist, nor the wildcard at its closest encloser.
    NoName {
        /// The closest encloser.
        closest_encloser: Name,
    },
    /// The name does not exist; the wildcard at the closest encloser exists without the type.
    WildcardNoData {
        /// The closest encloser.
        closest_encloser: Name,
    },
    /// The NSEC3 covering the next closer name has the opt-out flag: an unsigned delegation
    /// may exist there, so the answer is insecure (RFC 5155 sec. 8.6, 9.2).
    OptOut {
        /// The closest encloser.
        closest_encloser: Name,
    },
    /// An NSEC3 of the proof has more than [`MAX_NSEC3_ITERATIONS`] iterations: insecure,
    /// with EDE [`EDE_UNSUPPORTED_NSEC3_ITERATIONS`] (RFC 9276 sec. 3.2).
    TooManyIterations {
        /// The iteration count found.
        iterations: u16,
    },
}

impl Nsec3Record {
    /// The hash in the owner's first label, if the owner is `<hash>.<zone>`.
    fn owner_hash(&self, zone: &Name) -> Option<Vec<u8>> {
        if self.owner.base_name() != *zone {
            return None;
        }
        let label = self.owner.iter().next()?;
        data_encoding::BASE32HEX_NOPAD
            .decode(&label.to_ascii_uppercase())
            .ok()
    }

    /// `name` hashed with this record's parameters (RFC 5155 sec. 5).
    fn hash(&self, name: &Name) -> Option<Vec<u8>> {
        self.nsec3
            .hash_algorithm()
            .hash(self.nsec3.salt(), name, self.nsec3.iterations())
            .ok()
            .map(|d| d.as_ref().to_vec())
    }

    fn matches(&self, name: &Name, zone: &Name, hashes: &mut Hashes) -> bool {
        match (self.owner_hash(zone), hashes.of(self, name)) {
            (Some(owner), Some(h)) => owner == h,
            _ => false,
        }
    }

    /// The hash of `name` sorts strictly between the owner's and the next one, the last
    /// record wrapping around (RFC 5155 sec. 3.1.7).
    fn covers(&self, name: &Name, zone: &Name, hashes: &mut Hashes) -> bool {
        let (Some(owner), Some(h)) = (self.owner_hash(zone), hashes.of(self, name)) else {
            return false;
        };
        let next = self.nsec3.next_hashed_owner_name();
        if owner.as_slice() < next {
            owner < h && h.as_slice() < next
        } else {
            owner < h || h.as_slice() < next
        }
    }

    fn has(&self, rtype: RecordType) -> bool {
        self.nsec3.type_set().contains(rtype)
    }
}

/// Proves that `qname` has no `qtype` record, or does not exist, in `zone`, from the
/// validated NSEC3 records `records` (RFC 5155 sec. 8).
pub fn prove_denial3(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    records: &[Nsec3Record],
) -> Result<Nsec3Denial, DenialError> {
    let mut hashes = Hashes::default();
    let proof = prove_denial3_with(qname, qtype, zone, records, &mut hashes);
    hashes.checked(proof)
}

fn prove_denial3_with(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    records: &[Nsec3Record],
    hashes: &mut Hashes,
) -> Result<Nsec3Denial, DenialError> {
    if !zone.zone_of(qname) {
        return Err(DenialError::OutsideZone);
    }
    let records: Vec<&Nsec3Record> = records
        .iter()
        .filter(|r| r.owner.base_name() == *zone)
        .collect();
    // RFC 9276 sec. 3.2: no hashing at all beyond the limit.
    if let Some(r) = records
        .iter()
        .find(|r| r.nsec3.iterations() > MAX_NSEC3_ITERATIONS)
    {
        return Ok(Nsec3Denial::TooManyIterations {
            iterations: r.nsec3.iterations(),
        });
    }
    if let Some(at) = records.iter().find(|r| r.matches(qname, zone, hashes)) {
        return nodata_types(&|t| at.has(t), qname, qtype).map(|()| Nsec3Denial::NoData);
    }
    let (encloser, next_closer) = closest_encloser(qname, zone, &records, hashes)?;
    if next_closer.nsec3.opt_out() {
        return Ok(Nsec3Denial::OptOut {
            closest_encloser: encloser,
        });
    }
    let wildcard = encloser
        .prepend_label("*")
        .map_err(|_| DenialError::WildcardNotDenied)?;
    if let Some(at) = records.iter().find(|r| r.matches(&wildcard, zone, hashes)) {
        return nodata_types(&|t| at.has(t), &wildcard, qtype).map(|()| {
            Nsec3Denial::WildcardNoData {
                closest_encloser: encloser,
            }
        });
    }
    if records.iter().any(|r| r.covers(&wildcard, zone, hashes)) {
        Ok(Nsec3Denial::NoName {
            closest_encloser: encloser,
        })
    } else {
        Err(DenialError::WildcardNotDenied)
    }
}

/// Whether the validated NSEC3 records of `zone` cover the wildcard at `closest_encloser`
/// (RFC 5155 sec. 8.4): an NXDOMAIN under opt-out still needs it (sec. 8.4; only a NODATA
/// may do without, RFC 5155 erratum 3441).
pub fn wildcard_covered3(
    closest_encloser: &Name,
    zone: &Name,
    records: &[Nsec3Record],
) -> Result<bool, DenialError> {
    let wildcard = closest_encloser
        .prepend_label("*")
        .map_err(|_| DenialError::WildcardNotDenied)?;
    let mut hashes = Hashes::default();
    let covered = records
        .iter()
        .filter(|r| r.owner.base_name() == *zone)
        .any(|r| r.covers(&wildcard, zone, &mut hashes));
    hashes.checked(Ok(covered))
}

/// Whether the validated NSEC3 records of `zone` show `name` as a delegation point: the
/// NSEC3 matching its hash has NS without SOA (RFC 5155 sec. 8.6). `None` when no record
/// matches, or when a record exceeds [`MAX_NSEC3_ITERATIONS`] (nothing is hashed then).
pub fn delegation_at3(name: &Name, zone: &Name, records: &[Nsec3Record]) -> Option<bool> {
    let records: Vec<&Nsec3Record> = records
        .iter()
        .filter(|r| r.owner.base_name() == *zone)
        .collect();
    if records
        .iter()
        .any(|r| r.nsec3.iterations() > MAX_NSEC3_ITERATIONS)
    {
        return None;
    }
    let mut hashes = Hashes::default();
    let found = records
        .iter()
        .find(|r| r.matches(name, zone, &mut hashes))
        .map(|r| r.has(RecordType::NS) && !r.has(RecordType::SOA));
    found.filter(|_| !hashes.exceeded)
}

/// The closest provable encloser of `qname` (RFC 5155 sec. 8.3): the longest ancestor whose
/// hash an NSEC3 matches, that is not a delegation or DNAME (RFC 5155 sec. 8.3, RFC 6840
/// sec. 4.4), with the NSEC3 that covers the next closer name.
fn closest_encloser<'a>(
    qname: &Name,
    zone: &Name,
    records: &[&'a Nsec3Record],
    hashes: &mut Hashes,
) -> Result<(Name, &'a Nsec3Record), DenialError> {
    let mut next_closer = qname.clone();
    while next_closer.num_labels() > zone.num_labels() {
        let candidate = next_closer.base_name();
        let matching = records.iter().find(|r| r.matches(&candidate, zone, hashes));
        if let Some(m) = matching {
            if (m.has(RecordType::NS) && !m.has(RecordType::SOA)) || m.has(RecordType::DNAME) {
                return Err(DenialError::WrongSideOfDelegation);
            }
            return records
                .iter()
                .find(|r| r.covers(&next_closer, zone, hashes))
                .map(|r| (candidate, *r))
                .ok_or(DenialError::NameNotCovered);
        }
        next_closer = candidate;
    }
    Err(DenialError::NameNotCovered)
}

/// What the NSEC3 records say of a positive answer synthesised from a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nsec3Expansion {
    /// The next closer name is covered: no closer match exists.
    Proven,
    /// The NSEC3 covering the next closer name has the opt-out flag: an unsigned delegation
    /// may exist there, so the expansion is insecure (RFC 5155 sec. 9.2).
    OptOut,
    /// An NSEC3 has more than [`MAX_NSEC3_ITERATIONS`] iterations: insecure (RFC 9276
    /// sec. 3.2).
    TooManyIterations {
        /// The iteration count found.
        iterations: u16,
    },
}

/// A positive answer for `qname` synthesised from a wildcard whose RRSIG has label count
/// `rrsig_labels` is valid only if an NSEC3 covers the next closer name, the ancestor of
/// `qname` with one label more than the wildcard's parent (RFC 5155 sec. 8.8). Opt-out on
/// that NSEC3 makes the expansion insecure (sec. 9.2).
pub fn prove_wildcard_expansion3(
    qname: &Name,
    rrsig_labels: u8,
    zone: &Name,
    records: &[Nsec3Record],
) -> Result<Nsec3Expansion, DenialError> {
    if rrsig_labels >= qname.num_labels() {
        return Err(DenialError::WildcardNotDenied);
    }
    let next_closer = qname.trim_to(usize::from(rrsig_labels) + 1);
    let in_zone: Vec<&Nsec3Record> = records
        .iter()
        .filter(|r| r.owner.base_name() == *zone)
        .collect();
    if let Some(r) = in_zone
        .iter()
        .find(|r| r.nsec3.iterations() > MAX_NSEC3_ITERATIONS)
    {
        return Ok(Nsec3Expansion::TooManyIterations {
            iterations: r.nsec3.iterations(),
        });
    }
    let mut hashes = Hashes::default();
    let covering = in_zone
        .iter()
        .find(|r| r.covers(&next_closer, zone, &mut hashes));
    hashes.checked(match covering {
        // RFC 5155 sec. 9.2: under opt-out the next closer name may be an unsigned
        // delegation whose own data this expansion hides: insecure, not secure.
        Some(r) if r.nsec3.opt_out() => Ok(Nsec3Expansion::OptOut),
        Some(_) => Ok(Nsec3Expansion::Proven),
        None => Err(DenialError::NameNotCovered),
    })
}
