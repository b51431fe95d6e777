//! [`Validator`]: the chain walker of the in-core validator (issue 13). It judges each
//! answer of a check (RFC 4035 sec. 5) and asks, as it needs them, for the DS and DNSKEY
//! RRsets between the trust anchor and the data; the check's DNS client sends those
//! questions through the one loop with CD=1 (RFC 4035 sec. 3.2.2), so they are recorded in
//! transcripts and replayed like any other.
//!
//! How an answer is judged:
//! - Each RRset of the answer (every CNAME link, then the data) is validated by the keys of
//!   the zone that signed it (the RRSIG's signer). That zone's keys come from its DS RRset at
//!   the parent, signed by the parent's keys, and so on up to a trust anchor ([`TrustChain`]).
//! - An RRset synthesised from a wildcard also needs the NSEC or NSEC3 proof that no closer
//!   name exists (RFC 4035 sec. 5.3.4, RFC 5155 sec. 8.8).
//! - A denial of existence needs a validated NSEC or NSEC3 proof (RFC 4035 sec. 5.4,
//!   RFC 5155 sec. 8) matching the response code; NSEC3 opt-out and iteration counts above
//!   [`super::MAX_NSEC3_ITERATIONS`] make it insecure (RFC 5155 sec. 9.2, RFC 9276 sec. 3.2).
//! - Unsigned data, or a denial without proof, is insecure only if a signed proof shows an
//!   insecure delegation above it: the walker asks for the DS RRset of each name from the
//!   anchor down to the owner, and only a validated "no DS" at a delegation point (NS without
//!   SOA), an opt-out NSEC3, or a DS RRset of unsupported algorithms ends the chain (RFC 4035
//!   sec. 5.2). In a signed zone, missing RRSIGs or a missing proof are bogus, never insecure:
//!   a resolver that strips them cannot turn bogus into insecure.
//!
//! Work is bounded by named limits ([`MAX_CHAIN_DEPTH`], [`MAX_CHAIN_LOOKUPS`],
//! [`MAX_DNSKEYS`], [`MAX_DENIAL_RECORDS`], [`super::MAX_VERIFICATIONS`] signatures per
//! RRset, [`super::MAX_NSEC3_HASHES`] hashes per NSEC3 proof), against KeyTrap-style answers (CVE-2023-50387, CVE-2023-50868). Validated zones
//! are kept for the whole check, so each zone cut is validated once.
//!
//! A CNAME synthesised from a DNAME (RFC 6672) is unsigned: it counts when the DNAME RRset of
//! the same answer validates and the CNAME is exactly its substitution (sec. 5.3.1).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::anchor::TrustAnchor;
use super::chain::{ChainError, NoDsProof, RrsetStatus, SignedRrset, TrustChain};
use super::delegation::{KeysError, ZoneKeys};
use super::failure::{ValidationFailure, WorkLimit};
use super::nsec::{
    delegation_at, prove_denial, prove_wildcard_expansion, Denial, DenialError, NsecRecord,
};
use super::nsec3::{
    delegation_at3, prove_denial3, prove_wildcard_expansion3, wildcard_covered3, Nsec3Denial,
    Nsec3Expansion, Nsec3Record, EDE_UNSUPPORTED_NSEC3_ITERATIONS,
};
use super::signature::SignatureError;
use crate::dns::{Answer, ExtendedError, LookupResult, RcodeClass, Security};
use crate::time::Timestamp;

/// The most zones (or names, on the way down to an insecure delegation) between a trust
/// anchor and the data: deeper chains are treated as bogus.
pub const MAX_CHAIN_DEPTH: usize = 32;

/// The most DS and DNSKEY lookups one check makes for its chains of trust.
pub const MAX_CHAIN_LOOKUPS: usize = 512;

/// The largest DNSKEY RRset accepted: a zone has a handful of keys, even mid-rollover.
pub const MAX_DNSKEYS: usize = 32;

/// The most NSEC or NSEC3 records read from one answer (a proof needs at most three).
pub const MAX_DENIAL_RECORDS: usize = 16;

/// The most RRset validations (each at most [`super::MAX_VERIFICATIONS`] signatures) one
/// check makes: a check of a few hosts needs a few dozen; beyond this, answers are bogus
/// (as BIND bounds validations per fetch, against CVE-2023-50387).
pub const MAX_RRSET_VALIDATIONS: usize = 2048;

/// Why judging stopped: a lookup is still needed, or the answer failed.
enum Halt {
    Wait,
    Fail(ValidationFailure),
}

impl From<ValidationFailure> for Halt {
    fn from(f: ValidationFailure) -> Self {
        Halt::Fail(f)
    }
}

type Step<T> = Result<T, Halt>;

/// A zone whose keys are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZoneState {
    Secure,
    Insecure,
}

/// Where the walk down from an anchor ended.
enum WalkEnd {
    /// A proven insecure delegation (or no anchor) above the name.
    Insecure,
    /// No zone cut below this secure zone down to the name: it is in this zone.
    InSecureZone(Name),
}

/// A lookup the validator asked for.
enum Fetch {
    Pending,
    Done(Box<LookupResult>),
}

/// The signed NSEC and NSEC3 records of an answer's authority section.
#[derive(Default)]
struct DenialRecords {
    nsec: Vec<(NsecRecord, Vec<RRSIG>)>,
    nsec3: Vec<(Nsec3Record, Vec<RRSIG>)>,
    signer: Option<Name>,
}

impl DenialRecords {
    fn proof(&self) -> NoDsProof {
        if self.nsec.is_empty() {
            NoDsProof::Nsec3(self.nsec3.clone())
        } else {
            NoDsProof::Nsec(self.nsec.clone())
        }
    }
}

/// What a validated answer is worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// Secure or insecure.
    pub security: Security,
    /// An Extended DNS Error to report with it (RFC 9276 sec. 3.2: EDE 27 when NSEC3
    /// iterations made it insecure).
    pub ede: Option<ExtendedError>,
    /// When insecure: the insecure delegation proven above the answer's final name (absent
    /// when NSEC3 opt-out or the iteration limit made the answer itself insecure).
    pub insecure_below: Option<Name>,
}

/// The chain walker (see the module documentation).
pub struct Validator {
    chain: TrustChain,
    anchored: Vec<Name>,
    fetched: BTreeMap<(Name, RecordType), Fetch>,
    failed_zones: BTreeMap<Name, ValidationFailure>,
    requests: VecDeque<(Name, RecordType)>,
    lookups: usize,
    /// Names proven, on the way down to a name, to be no zone cut of their secure zone:
    /// not proven again when answers are judged again.
    not_cuts: BTreeSet<Name>,
    /// RRset validations made so far ([`MAX_RRSET_VALIDATIONS`]).
    validations: usize,
}

fn rtype_text(rtype: RecordType) -> String {
    rtype.to_string()
}

fn name_text(name: &Name) -> String {
    name.to_string()
}

/// The RRset `owner`/`rtype` of `records` with the RRSIGs over it.
fn rrset_in(records: &[Record], owner: &Name, rtype: RecordType) -> SignedRrset {
    let mut set = SignedRrset::default();
    for r in records.iter().filter(|r| r.name == *owner) {
        match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                set.rrsigs.push(sig.clone());
            }
            _ if r.record_type() == rtype => set.records.push(r.clone()),
            _ => {}
        }
    }
    set
}

/// The signer named by the first RRSIG over the set.
fn signer_of(set: &SignedRrset) -> Option<Name> {
    set.rrsigs.first().map(|s| s.input().signer_name.clone())
}

/// The signed NSEC and NSEC3 records of `authority` (unsigned ones are ignored: they prove
/// nothing), at most [`MAX_DENIAL_RECORDS`].
fn denial_records(
    authority: &[Record],
    for_name: &Name,
) -> Result<DenialRecords, ValidationFailure> {
    let limit = || ValidationFailure::Limit {
        limit: WorkLimit::DenialRecords,
    };
    let denials: Vec<&Record> = authority
        .iter()
        .filter(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3))
        .collect();
    // Counted before any is looked at, signed or not, so a huge authority section costs
    // nothing (its RRSIGs are matched per record below).
    if denials.len() > MAX_DENIAL_RECORDS {
        return Err(limit());
    }
    let signed: Vec<(&Record, SignedRrset, Name)> = denials
        .into_iter()
        .filter_map(|r| {
            let set = rrset_in(authority, &r.name, r.record_type());
            let signer = signer_of(&set)?;
            Some((r, set, signer))
        })
        .collect();
    // A CNAME chain may end in another zone: the proof is the one from the deepest zone
    // that holds the name proven, the other zone's records are not part of it.
    let signer = signed
        .iter()
        .map(|(_, _, signer)| signer)
        .filter(|signer| signer.zone_of(for_name))
        .max_by_key(|signer| signer.num_labels())
        .or_else(|| signed.first().map(|(_, _, signer)| signer))
        .cloned();
    let mut out = DenialRecords {
        signer: signer.clone(),
        ..DenialRecords::default()
    };
    for (r, set, by) in signed {
        if Some(&by) != signer.as_ref() {
            continue;
        }
        match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => out.nsec.push((
                NsecRecord {
                    owner: r.name.clone(),
                    nsec: nsec.clone(),
                },
                set.rrsigs,
            )),
            RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => out.nsec3.push((
                Nsec3Record {
                    owner: r.name.clone(),
                    nsec3: nsec3.clone(),
                },
                set.rrsigs,
            )),
            _ => {}
        }
    }
    Ok(out)
}

impl Validator {
    /// A validator over `anchors`, judging signatures at `now`.
    pub fn new(anchors: Vec<TrustAnchor>, now: Timestamp) -> Self {
        let mut anchored: Vec<Name> = anchors
            .iter()
            .map(|a| a.owner().as_hickory().clone())
            .collect();
        anchored.sort();
        anchored.dedup();
        let mut validator = Validator {
            chain: TrustChain::new(anchors, now),
            anchored: anchored.clone(),
            fetched: BTreeMap::new(),
            failed_zones: BTreeMap::new(),
            requests: VecDeque::new(),
            lookups: 0,
            not_cuts: BTreeSet::new(),
            validations: 0,
        };
        // Every chain starts at an anchor's keys: ask for them at once, in the same round
        // trip as the first answers.
        for zone in &anchored {
            let _ = validator.fetch(zone, RecordType::DNSKEY);
        }
        validator
    }

    /// The next DS or DNSKEY lookup to make (with CD=1), for [`Validator::on_fetched`].
    pub fn poll_request(&mut self) -> Option<(Name, RecordType)> {
        self.requests.pop_front()
    }

    /// The result of a lookup asked by [`Validator::poll_request`].
    pub fn on_fetched(&mut self, name: &Name, rtype: RecordType, result: LookupResult) {
        self.fetched
            .insert((name.clone(), rtype), Fetch::Done(Box::new(result)));
    }

    /// How many DS and DNSKEY lookups this validator asked for.
    pub fn lookups(&self) -> usize {
        self.lookups
    }

    /// Judges `answer`: `None` while a lookup it asked for is outstanding (judge it again
    /// after [`Validator::on_fetched`]), else secure or insecure, or why not.
    pub fn judge(&mut self, answer: &Answer) -> Option<Result<Judgement, ValidationFailure>> {
        match self.judge_answer(answer) {
            Ok(j) => Some(Ok(j)),
            Err(Halt::Wait) => None,
            Err(Halt::Fail(f)) => Some(Err(f)),
        }
    }

    fn judge_answer(&mut self, answer: &Answer) -> Step<Judgement> {
        let mut judgement = Self::secure();
        let worst = |j: Judgement, acc: &mut Judgement| {
            if j.security == Security::Insecure {
                acc.security = Security::Insecure;
            }
            if j.ede.is_some() {
                acc.ede = j.ede;
            }
        };
        for (owner, target) in &answer.cnames {
            let j = match dname_behind(answer, owner, target) {
                // RFC 6672 sec. 5.3.1: the CNAME synthesised from a DNAME is unsigned; the
                // DNAME is what must validate, and the CNAME must be its substitution.
                Some(dname) => self.rrset_status(answer, &dname, RecordType::DNAME)?,
                None => self.rrset_status(answer, owner, RecordType::CNAME)?,
            };
            worst(j, &mut judgement);
        }
        let last = match answer.rcode {
            RcodeClass::Data => self.rrset_status(answer, &answer.final_name, answer.qtype)?,
            RcodeClass::NoData | RcodeClass::NxDomain => self.denial_status(answer)?,
        };
        worst(last, &mut judgement);
        if judgement.security == Security::Insecure {
            judgement.insecure_below = self.chain.insecure_above(&answer.final_name).cloned();
        }
        Ok(judgement)
    }

    fn secure() -> Judgement {
        Judgement {
            security: Security::Secure,
            ede: None,
            insecure_below: None,
        }
    }

    fn insecure() -> Judgement {
        Judgement {
            security: Security::Insecure,
            ede: None,
            insecure_below: None,
        }
    }

    fn too_many_iterations(iterations: u16) -> Judgement {
        Judgement {
            security: Security::Insecure,
            insecure_below: None,
            ede: Some(ExtendedError {
                code: EDE_UNSUPPORTED_NSEC3_ITERATIONS,
                text: format!("NSEC3 with {iterations} iterations: insecure (RFC 9276 sec. 3.2)"),
            }),
        }
    }

    /// A lookup's answer, or `Wait` after asking for it.
    fn fetch(&mut self, name: &Name, rtype: RecordType) -> Step<Answer> {
        let key = (name.clone(), rtype);
        match self.fetched.get(&key) {
            Some(Fetch::Pending) => Err(Halt::Wait),
            Some(Fetch::Done(done)) => match done.as_ref() {
                Ok(a) => Ok(a.clone()),
                Err(e) => Err(Halt::Fail(ValidationFailure::ChainLookup {
                    name: name_text(name),
                    rtype: rtype_text(rtype),
                    error: Box::new(e.clone()),
                })),
            },
            None => {
                if self.lookups >= MAX_CHAIN_LOOKUPS {
                    return Err(Halt::Fail(ValidationFailure::Limit {
                        limit: WorkLimit::ChainLookups,
                    }));
                }
                self.lookups += 1;
                self.fetched.insert(key, Fetch::Pending);
                self.requests.push_back((name.clone(), rtype));
                Err(Halt::Wait)
            }
        }
    }

    /// Counts `n` RRset validations against [`MAX_RRSET_VALIDATIONS`].
    fn spend(&mut self, n: usize) -> Step<()> {
        self.validations = self.validations.saturating_add(n);
        if self.validations > MAX_RRSET_VALIDATIONS {
            return Err(Halt::Fail(ValidationFailure::Limit {
                limit: WorkLimit::RrsetValidations,
            }));
        }
        Ok(())
    }

    /// The DNSKEY RRset of `zone`, within [`MAX_DNSKEYS`].
    fn dnskeys(&mut self, zone: &Name) -> Step<SignedRrset> {
        let answer = self.fetch(zone, RecordType::DNSKEY)?;
        let set = rrset_in(&answer.sections.answer, zone, RecordType::DNSKEY);
        if set.records.len() > MAX_DNSKEYS {
            return Err(Halt::Fail(ValidationFailure::Limit {
                limit: WorkLimit::DnskeySetSize,
            }));
        }
        Ok(set)
    }

    fn zone_failure(&mut self, zone: &Name, failure: ValidationFailure) -> Halt {
        self.failed_zones.insert(zone.clone(), failure.clone());
        Halt::Fail(failure)
    }

    fn known_zone(&self, zone: &Name) -> Option<Step<ZoneState>> {
        if let Some(f) = self.failed_zones.get(zone) {
            return Some(Err(Halt::Fail(f.clone())));
        }
        match self.chain.zone(zone)? {
            ZoneKeys::Secure(_) => Some(Ok(ZoneState::Secure)),
            ZoneKeys::Insecure => Some(Ok(ZoneState::Insecure)),
            ZoneKeys::Bogus(error) => Some(Err(Halt::Fail(ValidationFailure::Zone {
                zone: name_text(zone),
                error: ChainError::Keys {
                    error: error.clone(),
                },
            }))),
        }
    }

    /// The deepest trust anchor at or above `name`.
    fn anchor_above(&self, name: &Name) -> Option<Name> {
        self.anchored
            .iter()
            .filter(|a| a.zone_of(name))
            .max_by_key(|a| a.num_labels())
            .cloned()
    }

    /// Whether `signer` is strictly above the deepest trust anchor at or above `name`: the
    /// anchor that covers the data governs it (RFC 4035 sec. 4.3, 5), so a signature by a
    /// zone above that anchor proves nothing, and must not make the data insecure either.
    fn above_anchor(&self, name: &Name, signer: &Name) -> bool {
        self.anchor_above(name)
            .is_some_and(|anchor| !anchor.zone_of(signer))
    }

    /// The keys of `zone` (a signer named by an RRSIG): from its anchor, or from its DS
    /// RRset and the parent's keys, recursively (RFC 4035 sec. 5.2).
    fn ensure_zone(&mut self, zone: &Name, depth: usize) -> Step<ZoneState> {
        if let Some(known) = self.known_zone(zone) {
            return known;
        }
        if depth > MAX_CHAIN_DEPTH {
            return Err(Halt::Fail(ValidationFailure::Limit {
                limit: WorkLimit::ChainDepth,
            }));
        }
        if self.anchored.contains(zone) {
            let dnskeys = self.dnskeys(zone)?;
            self.spend(1)?;
            return match self.chain.add_anchored(zone, &dnskeys) {
                ZoneKeys::Secure(_) => Ok(ZoneState::Secure),
                ZoneKeys::Insecure => Ok(ZoneState::Insecure),
                ZoneKeys::Bogus(KeysError::NoVouchedKey) => {
                    let failure = ValidationFailure::AnchorMismatch {
                        zone: name_text(zone),
                    };
                    Err(self.zone_failure(zone, failure))
                }
                ZoneKeys::Bogus(error) => {
                    let failure = ValidationFailure::Zone {
                        zone: name_text(zone),
                        error: ChainError::Keys {
                            error: error.clone(),
                        },
                    };
                    Err(self.zone_failure(zone, failure))
                }
            };
        }
        if self.anchor_above(zone).is_none() {
            // RFC 4035 sec. 4.3: no trust anchor above: insecure.
            return Ok(ZoneState::Insecure);
        }
        // The zone's keys are asked in the same round trip as its DS: they are needed unless
        // the zone turns out insecure (one lookup more then, one round trip less otherwise).
        let ds_answer = self.fetch(zone, RecordType::DS);
        let _ = self.fetch(zone, RecordType::DNSKEY);
        let ds_answer = ds_answer?;
        let ds = rrset_in(&ds_answer.sections.answer, zone, RecordType::DS);
        if ds.records.is_empty() {
            let proof = denial_records(&ds_answer.sections.authority, zone)?;
            let Some(parent) = proof.signer.clone() else {
                // No signed proof at all: only an insecure delegation above can excuse it.
                return match self.walk_down(zone, depth + 1)? {
                    WalkEnd::Insecure => Ok(ZoneState::Insecure),
                    WalkEnd::InSecureZone(_) => Err(self.zone_failure(
                        zone,
                        ValidationFailure::Denial {
                            qname: name_text(zone),
                            qtype: rtype_text(RecordType::DS),
                            error: DenialError::NameNotCovered,
                        },
                    )),
                };
            };
            if self.ensure_parent(zone, &parent, depth)? == ZoneState::Insecure {
                return Ok(ZoneState::Insecure);
            }
            self.spend(proof.nsec.len() + proof.nsec3.len())?;
            return match self
                .chain
                .add_insecure_delegation(&parent, zone, &proof.proof())
            {
                Ok(_) => Ok(ZoneState::Insecure),
                Err(error) => {
                    let failure = ValidationFailure::Zone {
                        zone: name_text(zone),
                        error,
                    };
                    Err(self.zone_failure(zone, failure))
                }
            };
        }
        let Some(parent) = signer_of(&ds) else {
            // An unsigned DS RRset: fine only below an insecure delegation.
            return match self.walk_down(zone, depth + 1)? {
                WalkEnd::Insecure => Ok(ZoneState::Insecure),
                WalkEnd::InSecureZone(signed) => Err(self.zone_failure(
                    zone,
                    ValidationFailure::Unsigned {
                        owner: name_text(zone),
                        rtype: rtype_text(RecordType::DS),
                        zone: name_text(&signed),
                    },
                )),
            };
        };
        if self.ensure_parent(zone, &parent, depth)? == ZoneState::Insecure {
            return Ok(ZoneState::Insecure);
        }
        let dnskeys = self.dnskeys(zone)?;
        self.spend(2)?;
        match self.chain.add_delegation(&parent, zone, &ds, &dnskeys) {
            Ok(ZoneKeys::Secure(_)) => Ok(ZoneState::Secure),
            Ok(ZoneKeys::Insecure) => Ok(ZoneState::Insecure),
            Ok(ZoneKeys::Bogus(error)) => {
                let failure = ValidationFailure::Zone {
                    zone: name_text(zone),
                    error: ChainError::Keys {
                        error: error.clone(),
                    },
                };
                Err(self.zone_failure(zone, failure))
            }
            Err(error) => {
                let failure = ValidationFailure::Zone {
                    zone: name_text(zone),
                    error,
                };
                Err(self.zone_failure(zone, failure))
            }
        }
    }

    /// The keys of `parent`, the zone that signed `zone`'s DS RRset or its proof of no DS: a
    /// proper ancestor of `zone`, not above the anchor over it (the child never vouches for
    /// itself, RFC 4035 sec. 5.2).
    fn ensure_parent(&mut self, zone: &Name, parent: &Name, depth: usize) -> Step<ZoneState> {
        if parent == zone || !parent.zone_of(zone) || self.above_anchor(zone, parent) {
            let failure = ValidationFailure::Rrset {
                owner: name_text(zone),
                rtype: rtype_text(RecordType::DS),
                error: ChainError::Signature {
                    error: SignatureError::WrongSigner,
                },
            };
            return Err(self.zone_failure(zone, failure));
        }
        self.ensure_zone(parent, depth + 1)
    }

    /// Walks from the deepest anchor above `name` down to `name`, one label at a time,
    /// asking each name's DS RRset, until a proven insecure delegation (insecure) or `name`
    /// itself (then `name` is in the last secure zone found). RFC 4035 sec. 5.2, 4.3.
    fn walk_down(&mut self, name: &Name, depth: usize) -> Step<WalkEnd> {
        let Some(top) = self.anchor_above(name) else {
            return Ok(WalkEnd::Insecure);
        };
        if self.ensure_zone(&top, depth + 1)? == ZoneState::Insecure {
            return Ok(WalkEnd::Insecure);
        }
        let mut current = top.clone();
        let first = usize::from(top.num_labels()) + 1;
        let last = usize::from(name.num_labels());
        if last.saturating_sub(first) >= MAX_CHAIN_DEPTH {
            return Err(Halt::Fail(ValidationFailure::Limit {
                limit: WorkLimit::ChainDepth,
            }));
        }
        for labels in first..=last {
            let at = name.trim_to(labels);
            if let Some(known) = self.known_zone(&at) {
                match known? {
                    ZoneState::Secure => {
                        current = at;
                        continue;
                    }
                    ZoneState::Insecure => return Ok(WalkEnd::Insecure),
                }
            }
            let ds_answer = self.fetch(&at, RecordType::DS)?;
            let ds = rrset_in(&ds_answer.sections.answer, &at, RecordType::DS);
            if !ds.records.is_empty() {
                if signer_of(&ds).is_none() {
                    return Err(Halt::Fail(ValidationFailure::Unsigned {
                        owner: name_text(&at),
                        rtype: rtype_text(RecordType::DS),
                        zone: name_text(&current),
                    }));
                }
                match self.ensure_zone(&at, depth + 1)? {
                    ZoneState::Secure => current = at,
                    ZoneState::Insecure => return Ok(WalkEnd::Insecure),
                }
                continue;
            }
            let proof = denial_records(&ds_answer.sections.authority, &at)?;
            let missing = |error| {
                Halt::Fail(ValidationFailure::Denial {
                    qname: name_text(&at),
                    qtype: rtype_text(RecordType::DS),
                    error,
                })
            };
            let Some(signer) = proof.signer.clone() else {
                return Err(missing(DenialError::NameNotCovered));
            };
            if signer != current {
                return Err(missing(DenialError::OutsideZone));
            }
            if self.not_cuts.contains(&at) {
                continue;
            }
            self.spend(proof.nsec.len() + proof.nsec3.len())?;
            if self
                .chain
                .add_insecure_delegation(&current, &at, &proof.proof())
                .is_ok()
            {
                return Ok(WalkEnd::Insecure);
            }
            // Not an insecure delegation: `at` must be proven a name of the current zone
            // with no DS and no zone cut, or the walk cannot go on.
            self.verify_denial_records(&current, &proof)?;
            let not_a_cut = if proof.nsec.is_empty() {
                let records: Vec<Nsec3Record> =
                    proof.nsec3.iter().map(|(r, _)| r.clone()).collect();
                matches!(
                    prove_denial3(&at, RecordType::DS, &current, &records),
                    Ok(Nsec3Denial::NoData)
                ) && delegation_at3(&at, &current, &records) != Some(true)
            } else {
                let records: Vec<NsecRecord> = proof.nsec.iter().map(|(r, _)| r.clone()).collect();
                matches!(
                    prove_denial(&at, RecordType::DS, &current, &records),
                    Ok(Denial::NoData)
                ) && delegation_at(&at, &current, &records) != Some(true)
            };
            if !not_a_cut {
                return Err(missing(DenialError::NameNotCovered));
            }
            self.not_cuts.insert(at);
        }
        Ok(WalkEnd::InSecureZone(current))
    }

    /// Every NSEC and NSEC3 RRset of `proof` validates with the keys of `zone`.
    fn verify_denial_records(&mut self, zone: &Name, proof: &DenialRecords) -> Step<()> {
        self.spend(proof.nsec.len() + proof.nsec3.len())?;
        self.chain.verify_denial(zone, &proof.proof()).map_err(|e| {
            Halt::Fail(ValidationFailure::Rrset {
                owner: name_text(&e.owner),
                rtype: rtype_text(e.rtype),
                error: e.error,
            })
        })
    }

    /// The status of the RRset `owner`/`rtype` of `answer`.
    fn rrset_status(
        &mut self,
        answer: &Answer,
        owner: &Name,
        rtype: RecordType,
    ) -> Step<Judgement> {
        let set = rrset_in(&answer.sections.answer, owner, rtype);
        let Some(signer) = signer_of(&set) else {
            return match self.walk_down(owner, 0)? {
                WalkEnd::Insecure => Ok(Self::insecure()),
                WalkEnd::InSecureZone(zone) => Err(Halt::Fail(ValidationFailure::Unsigned {
                    owner: name_text(owner),
                    rtype: rtype_text(rtype),
                    zone: name_text(&zone),
                })),
            };
        };
        let bogus = |error: ChainError| {
            Halt::Fail(ValidationFailure::Rrset {
                owner: name_text(owner),
                rtype: rtype_text(rtype),
                error,
            })
        };
        if !signer.zone_of(owner) || self.above_anchor(owner, &signer) {
            return Err(bogus(ChainError::Signature {
                error: SignatureError::WrongSigner,
            }));
        }
        if self.ensure_zone(&signer, 0)? == ZoneState::Insecure {
            return Ok(Self::insecure());
        }
        self.spend(1)?;
        match self.chain.rrset(owner, rtype, &set) {
            RrsetStatus::Secure(by) if by.wildcard => {
                // The label count of the RRSIG that verified, never of another one.
                self.wildcard_proof(answer, owner, by.labels, &by.signer)
            }
            RrsetStatus::Secure(_) => Ok(Self::secure()),
            RrsetStatus::Insecure => Ok(Self::insecure()),
            RrsetStatus::Bogus(error) => Err(bogus(error)),
            RrsetStatus::NeedZone(_) => Err(bogus(ChainError::ParentNotSecure)),
        }
    }

    /// A positive answer expanded from a wildcard (label count `labels`) of `zone` needs the
    /// proof that no closer name exists (RFC 4035 sec. 5.3.4, RFC 5155 sec. 8.8).
    fn wildcard_proof(
        &mut self,
        answer: &Answer,
        owner: &Name,
        labels: u8,
        zone: &Name,
    ) -> Step<Judgement> {
        let proof = denial_records(&answer.sections.authority, owner)?;
        let fail = |error| {
            Halt::Fail(ValidationFailure::Denial {
                qname: name_text(owner),
                qtype: rtype_text(answer.qtype),
                error,
            })
        };
        if proof.signer.as_ref() != Some(zone) {
            return Err(fail(DenialError::WildcardNotDenied));
        }
        self.verify_denial_records(zone, &proof)?;
        if proof.nsec.is_empty() {
            let records: Vec<Nsec3Record> = proof.nsec3.iter().map(|(r, _)| r.clone()).collect();
            match prove_wildcard_expansion3(owner, labels, zone, &records) {
                Ok(Nsec3Expansion::Proven) => Ok(Self::secure()),
                Ok(Nsec3Expansion::OptOut) => Ok(Self::insecure()),
                Ok(Nsec3Expansion::TooManyIterations { iterations }) => {
                    Ok(Self::too_many_iterations(iterations))
                }
                Err(error) => Err(fail(error)),
            }
        } else {
            let records: Vec<NsecRecord> = proof.nsec.iter().map(|(r, _)| r.clone()).collect();
            prove_wildcard_expansion(owner, labels, zone, &records)
                .map(|()| Self::secure())
                .map_err(fail)
        }
    }

    /// The status of a NODATA or NXDOMAIN answer for its final name.
    fn denial_status(&mut self, answer: &Answer) -> Step<Judgement> {
        let qname = &answer.final_name;
        let qtype = answer.qtype;
        let fail = |error| {
            Halt::Fail(ValidationFailure::Denial {
                qname: name_text(qname),
                qtype: rtype_text(qtype),
                error,
            })
        };
        let proof = denial_records(&answer.sections.authority, qname)?;
        let Some(zone) = proof.signer.clone() else {
            return match self.walk_down(qname, 0)? {
                WalkEnd::Insecure => Ok(Self::insecure()),
                WalkEnd::InSecureZone(_) => Err(fail(DenialError::NameNotCovered)),
            };
        };
        if !zone.zone_of(qname) || self.above_anchor(qname, &zone) {
            return Err(fail(DenialError::OutsideZone));
        }
        if self.ensure_zone(&zone, 0)? == ZoneState::Insecure {
            return Ok(Self::insecure());
        }
        self.verify_denial_records(&zone, &proof)?;
        let nxdomain = answer.rcode == RcodeClass::NxDomain;
        if proof.nsec.is_empty() {
            let records: Vec<Nsec3Record> = proof.nsec3.iter().map(|(r, _)| r.clone()).collect();
            match prove_denial3(qname, qtype, &zone, &records) {
                Ok(Nsec3Denial::NoName { .. }) if nxdomain => Ok(Self::secure()),
                Ok(Nsec3Denial::NoData | Nsec3Denial::WildcardNoData { .. }) if !nxdomain => {
                    Ok(Self::secure())
                }
                // RFC 5155 sec. 8.4: an NXDOMAIN needs the wildcard denied even under
                // opt-out; a NODATA may do without (erratum 3441).
                Ok(Nsec3Denial::OptOut { closest_encloser }) if nxdomain => {
                    match wildcard_covered3(&closest_encloser, &zone, &records) {
                        Ok(true) => Ok(Self::insecure()),
                        Ok(false) => Err(fail(DenialError::WildcardNotDenied)),
                        Err(error) => Err(fail(error)),
                    }
                }
                Ok(Nsec3Denial::OptOut { .. }) => Ok(Self::insecure()),
                Ok(Nsec3Denial::TooManyIterations { iterations }) => {
                    Ok(Self::too_many_iterations(iterations))
                }
                Ok(_) => Err(fail(DenialError::NameNotCovered)),
                Err(error) => Err(fail(error)),
            }
        } else {
            let records: Vec<NsecRecord> = proof.nsec.iter().map(|(r, _)| r.clone()).collect();
            match prove_denial(qname, qtype, &zone, &records) {
                Ok(Denial::NoName { .. }) if nxdomain => Ok(Self::secure()),
                Ok(Denial::NoData | Denial::WildcardNoData { .. }) if !nxdomain => {
                    Ok(Self::secure())
                }
                Ok(_) => Err(fail(DenialError::NameNotCovered)),
                Err(error) => Err(fail(error)),
            }
        }
    }
}

/// The target of a DNAME record (RFC 6672 sec. 2.1), carried as unknown data by
/// hickory-proto: a domain name in uncompressed wire format (sec. 2.5).
fn dname_target(record: &Record) -> Option<Name> {
    match &record.data {
        RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
            let mut decoder = BinDecoder::new(&rdata.anything);
            let name = Name::read(&mut decoder).ok()?;
            decoder.is_empty().then_some(name)
        }
        _ => None,
    }
}

/// The owner of the DNAME RRset of `answer` that synthesised the unsigned CNAME `owner` ->
/// `target` (RFC 6672 sec. 2.2: `owner` is below the DNAME's owner, and `target` is `owner`
/// with that suffix replaced by the DNAME's target). `None` when the CNAME is signed (it is
/// then validated as itself) or no DNAME explains it.
fn dname_behind(answer: &Answer, owner: &Name, target: &Name) -> Option<Name> {
    let cname = rrset_in(&answer.sections.answer, owner, RecordType::CNAME);
    if !cname.rrsigs.is_empty() {
        return None;
    }
    answer.sections.answer.iter().find_map(|r| {
        if r.name == *owner || !r.name.zone_of(owner) {
            return None;
        }
        let dname = dname_target(r)?;
        let keep = usize::from(owner.num_labels() - r.name.num_labels());
        let prefix = Name::from_labels(owner.iter().take(keep)).ok()?;
        let substituted = prefix.append_name(&dname).ok()?;
        (substituted == *target).then(|| r.name.clone())
    })
}

/// How long a validated answer may be kept: its TTL, capped by the smallest Original TTL of
/// the RRSIGs over its final RRset and by the time left until the earliest of them expires
/// (RFC 4035 sec. 5.3.3).
pub fn validated_ttl(answer: &Answer, now: Timestamp) -> Option<u32> {
    let original = answer
        .sections
        .answer
        .iter()
        .filter(|r| r.name == answer.final_name)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == answer.qtype => {
                Some(sig.input().original_ttl)
            }
            _ => None,
        })
        .min();
    let left = answer.rrsig_expires.map(|expires| {
        u32::try_from(expires.as_unix_secs().saturating_sub(now.as_unix_secs())).unwrap_or(u32::MAX)
    });
    [answer.ttl, original, left].into_iter().flatten().min()
}
