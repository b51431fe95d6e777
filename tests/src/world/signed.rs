//! The world as signed zones (issue 13): what an authoritative server of each zone holds,
//! and so what a resolver passes on with DO=1 when it does not validate (CD=1 at a validating
//! resolver, RFC 4035 sec. 3.2.2, or a non-validating one): RRsets with their real RRSIGs,
//! DNSKEY RRsets signed by the key-signing key, DS RRsets signed by the parent, and
//! NSEC or NSEC3 proofs for NXDOMAIN and NODATA (RFC 4035 sec. 3.1.3, RFC 5155 sec. 7.2).
//!
//! The world's [`Status`] values become data a correct validator judges the same way:
//! - a zone `Secure`: signed, with its DS at its parent (the world zone with the longest
//!   proper-suffix apex, ultimately the root);
//! - a zone `Insecure`: unsigned, the parent's signed NSEC/NSEC3 proving no DS;
//! - an RRset or a denial `Insecure` inside a signed zone: an implicit unsigned delegation
//!   at that owner (the parent proves no DS there); a name outside every zone is under an
//!   implicit unsigned delegation from the root at its highest ancestor holding no zone;
//! - `Bogus(code)`, by Extended DNS Error code (RFC 8914 sec. 4): 7 an expired RRSIG, 8 one
//!   not yet valid, 9 a DNSKEY missing (an RRSIG by a key the zone does not publish; for a
//!   zone, a DS whose digest matches no key), 10 no RRSIG, 12 (a denial) no NSEC/NSEC3
//!   records, any other a signature that does not verify (for a zone, over its DNSKEY
//!   RRset).
//!
//! What a world cannot say in real DNSSEC is mapped as closely as it can be and listed by
//! the tests: an `Insecure` RRset at a signed zone's apex stays signed, and an `Insecure`
//! RRset makes every other RRset at and below its owner insecure too.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, Nsec3HashAlgorithm};
use hickory_proto::rr::rdata::{CNAME, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::signing::{WorldKeys, ZoneKey, KSK_FLAGS};
use super::zones::{fqdn, norm, Denial, Status, World};

/// The inception of every valid RRSIG: 2023-11-14T22:13:20Z, before any clock the world
/// runs at.
pub const INCEPTION: u32 = 1_700_000_000;

/// The window of an expired RRSIG (Extended DNS Error 7): 2020-09-13 to 2020-09-14.
pub const EXPIRED: (u32, u32) = (1_600_000_000, 1_600_086_400);

/// The window of an RRSIG not yet valid (Extended DNS Error 8): 2036-07-18 to 2036-11-10.
pub const NOT_YET_VALID: (u32, u32) = (2_100_000_000, 2_110_000_000);

/// The salt of NSEC3 zones (RFC 5155 sec. 3.1.5).
pub const NSEC3_SALT: [u8; 2] = [0xd4, 0x4e];

/// The TTL of DNSKEY, DS and NS RRsets.
const KEY_TTL: u32 = 3600;

/// The TTL of NSEC and NSEC3 records: the SOA minimum (RFC 4034 sec. 4; RFC 5155 sec. 3).
const DENIAL_TTL: u32 = 300;

/// What one zone answers for one name and type.
#[derive(Debug, Default)]
pub(crate) struct Step {
    /// Answer-section records (data and their RRSIGs).
    pub answers: Vec<Record>,
    /// Authority-section records (SOA, NSEC/NSEC3 and their RRSIGs).
    pub authority: Vec<Record>,
    /// The name does not exist (RCODE 3).
    pub nxdomain: bool,
    /// The answer was a CNAME to this name: the resolver follows it.
    pub cname: Option<String>,
}

/// The zones of a world, explicit and implicit, for answering one name.
pub(crate) struct Zones<'w> {
    world: &'w World,
    zones: Cow<'w, BTreeMap<Name, Status>>,
    /// The names of every zone, when `zones` is the world's own (no cut added for the name).
    names: Option<&'w HashMap<Name, Names>>,
}

/// A name's types within its zone, for NSEC type bitmaps.
type Names = BTreeMap<Name, BTreeSet<RecordType>>;

/// What every answer with signed data needs of a world, built on its first such answer
/// (issue 14: a world of 10,000 domains took 20-30 ms per answer building it each time):
/// its zones, explicit and implicit, and the names of each.
#[derive(Debug)]
pub(crate) struct SignedIndex {
    zones: BTreeMap<Name, Status>,
    names: HashMap<Name, Names>,
}

impl SignedIndex {
    fn of(world: &World) -> SignedIndex {
        let zones = world_zones(world, None);
        let base = Zones {
            world,
            zones: Cow::Borrowed(&zones),
            names: None,
        };
        let mut names: HashMap<Name, Names> = HashMap::new();
        for apex in zones.keys() {
            names
                .entry(apex.clone())
                .or_default()
                .insert(apex.clone(), base.apex_types(apex));
        }
        for (owner, rtype, _) in world.rrsets() {
            let name = fqdn(owner);
            let z = base.zone_of(&name);
            names
                .entry(z)
                .or_default()
                .entry(name)
                .or_default()
                .insert(rtype);
        }
        for apex in zones.keys().filter(|a| !a.is_root()) {
            let types = names
                .entry(base.parent_of(apex))
                .or_default()
                .entry(apex.clone())
                .or_default();
            types.insert(RecordType::NS);
            if base.signed(apex) {
                types.insert(RecordType::DS);
            }
        }
        SignedIndex { zones, names }
    }
}

/// A world's [`SignedIndex`], shared by its copies; a world being edited starts afresh.
#[derive(Clone, Default)]
pub(crate) struct SignedIndexCell(std::sync::OnceLock<std::sync::Arc<SignedIndex>>);

impl std::fmt::Debug for SignedIndexCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedIndexCell")
    }
}

/// The zones of `world`, explicit and implicit, with the implicit unsigned delegation that
/// `qname` needs if it is outside every zone.
fn world_zones(world: &World, qname: Option<&Name>) -> BTreeMap<Name, Status> {
    let mut zones: BTreeMap<Name, Status> = world
        .zones
        .iter()
        .map(|(apex, s)| (fqdn(apex), *s))
        .collect();
    zones.entry(Name::root()).or_insert(Status::Secure);
    let explicit = zones.clone();
    let insecure_overrides = world
        .rrsets
        .iter()
        .filter(|(_, set)| set.status == Some(Status::Insecure))
        .map(|((owner, _), _)| owner)
        .chain(
            world
                .denials
                .iter()
                .filter(|(_, s)| **s == Status::Insecure)
                .map(|(n, _)| n),
        );
    for owner in insecure_overrides {
        let name = fqdn(owner);
        let apex = longest_apex(&explicit, &name);
        if apex != name && explicit.get(&apex) != Some(&Status::Insecure) {
            zones.insert(name, Status::Insecure);
        }
    }
    let names: Vec<Name> = world
        .rrsets
        .keys()
        .map(|(o, _)| fqdn(o))
        .chain(world.denials.keys().map(|n| fqdn(n)))
        .chain(qname.cloned())
        .collect();
    for name in names {
        if name.is_root() || !longest_apex(&zones, &name).is_root() {
            continue;
        }
        let cut = (1..=name.num_labels())
            .map(|n| name.trim_to(usize::from(n)))
            .find(|d| !zones.keys().any(|apex| d.zone_of(apex)));
        if let Some(cut) = cut {
            zones.insert(cut, Status::Insecure);
        }
    }
    zones
}

impl<'w> Zones<'w> {
    /// The zones of `world`, with the implicit unsigned delegation that `qname` needs if it is
    /// outside every zone: the world's [`SignedIndex`] when it needs none.
    pub(crate) fn new(world: &'w World, qname: &Name) -> Zones<'w> {
        let index = world
            .signed_index
            .0
            .get_or_init(|| std::sync::Arc::new(SignedIndex::of(world)));
        let inside = qname.is_root() || !longest_apex(&index.zones, qname).is_root();
        if inside {
            return Zones {
                world,
                zones: Cow::Borrowed(&index.zones),
                names: Some(&index.names),
            };
        }
        Zones {
            world,
            zones: Cow::Owned(world_zones(world, Some(qname))),
            names: None,
        }
    }

    /// The apex of the zone `name` is in.
    pub(crate) fn zone_of(&self, name: &Name) -> Name {
        longest_apex(&self.zones, name)
    }

    /// The parent zone of the zone at `apex`.
    fn parent_of(&self, apex: &Name) -> Name {
        if apex.is_root() {
            return Name::root();
        }
        longest_apex(&self.zones, &apex.base_name())
    }

    /// Whether the zone at `apex` is signed (every status but `Insecure`).
    fn signed(&self, apex: &Name) -> bool {
        self.zones.get(apex).is_some_and(|s| *s != Status::Insecure)
    }

    /// The types at the apex of the zone at `z`: SOA, NS, and DNSKEY when it is signed.
    fn apex_types(&self, z: &Name) -> BTreeSet<RecordType> {
        [RecordType::SOA, RecordType::NS]
            .into_iter()
            .chain(self.signed(z).then_some(RecordType::DNSKEY))
            .collect()
    }

    /// Whether `apex` is a zone cut.
    pub(crate) fn is_apex(&self, name: &Name) -> bool {
        self.zones.contains_key(name)
    }

    /// The names of the zone at `z` with the types they hold there (a child apex holds NS,
    /// and DS when the child is signed).
    fn names(&self, z: &Name) -> Cow<'w, Names> {
        if let Some(names) = self.names.and_then(|all| all.get(z)) {
            return Cow::Borrowed(names);
        }
        let mut names: Names = BTreeMap::new();
        names.insert(z.clone(), self.apex_types(z));
        for (owner, rtype, _) in self.world.rrsets() {
            let name = fqdn(owner);
            if self.zone_of(&name) == *z {
                names.entry(name).or_default().insert(rtype);
            }
        }
        for apex in self.zones.keys() {
            if apex != z && !apex.is_root() && self.parent_of(apex) == *z {
                let types = names.entry(apex.clone()).or_default();
                types.insert(RecordType::NS);
                if self.signed(apex) {
                    types.insert(RecordType::DS);
                }
            }
        }
        Cow::Owned(names)
    }

    /// The answer of the zone responsible for `qname`/`qtype` (for DS at a zone cut, the
    /// parent).
    pub(crate) fn lookup(&self, qname: &Name, qtype: RecordType) -> Step {
        let at_cut = qtype == RecordType::DS && self.is_apex(qname) && !qname.is_root();
        let z = if at_cut {
            self.parent_of(qname)
        } else {
            self.zone_of(qname)
        };
        let zone = SignedZone::new(self, &z);
        let mut step = Step::default();
        if at_cut && self.signed(qname) {
            step.answers = zone.signed_rrset(qname, self.ds_rrset(qname), None);
            return step;
        }
        if !at_cut {
            if let Some(records) = zone.apex_rrset(qname, qtype) {
                let fault = (qtype == RecordType::DNSKEY)
                    .then(|| zone_fault(self.zones.get(&z)))
                    .flatten();
                step.answers = zone.signed_rrset(qname, records, fault);
                return step;
            }
            let owner = norm(&qname.to_ascii());
            if let Some(set) = self.world.rrset(&owner, qtype) {
                let records = records_at(qname, set.ttl, &set.records);
                step.answers = zone.signed_rrset(qname, records, bogus_code(set.status));
                return step;
            }
            if let Some(set) = self
                .world
                .rrset(&owner, RecordType::CNAME)
                .filter(|_| qtype != RecordType::CNAME)
            {
                let records = records_at(qname, set.ttl, &set.records);
                step.cname = match set.records.first() {
                    Some(RData::CNAME(CNAME(target))) => Some(norm(&target.to_ascii())),
                    _ => None,
                };
                step.answers = zone.signed_rrset(qname, records, bogus_code(set.status));
                return step;
            }
            if let Some((alias, target)) = self.dname_above(qname, &z) {
                step.answers = zone.signed_rrset(&alias.owner, alias.records, alias.fault);
                step.answers.push(Record::from_rdata(
                    qname.clone(),
                    alias.ttl,
                    RData::CNAME(CNAME(target.clone())),
                ));
                step.cname = Some(norm(&target.to_ascii()));
                return step;
            }
            if let Some(expanded) = zone.wildcard_answer(qname, qtype, &mut step) {
                step.answers = expanded;
                return step;
            }
        }
        zone.denial(qname, &mut step);
        step
    }

    /// The DNAME RRset at a proper ancestor of `qname` in the zone at `z`, and the name it
    /// substitutes for `qname` (RFC 6672 sec. 2.2, 3.1).
    fn dname_above(&self, qname: &Name, z: &Name) -> Option<(Dname, Name)> {
        let mut owner = qname.base_name();
        while z.zone_of(&owner) {
            if let Some(set) = self
                .world
                .rrset(&norm(&owner.to_ascii()), RecordType::DNAME)
            {
                let RData::Unknown { rdata, .. } = set.records.first()? else {
                    return None;
                };
                let wire = rdata.anything.to_vec();
                let mut decoder = hickory_proto::serialize::binary::BinDecoder::new(&wire);
                let target: Name =
                    hickory_proto::serialize::binary::BinDecodable::read(&mut decoder).ok()?;
                let keep = usize::from(qname.num_labels() - owner.num_labels());
                let substituted = Name::from_labels(qname.iter().take(keep))
                    .ok()?
                    .append_name(&target)
                    .ok()?;
                let records = records_at(&owner, set.ttl, &set.records);
                let alias = Dname {
                    owner,
                    records,
                    ttl: set.ttl,
                    fault: bogus_code(set.status),
                };
                return Some((alias, substituted));
            }
            if owner == *z || owner.is_root() {
                return None;
            }
            owner = owner.base_name();
        }
        None
    }

    /// The DS RRset for the signed zone at `apex` (RFC 4034 sec. 5): the SHA-256 digest of its
    /// KSK (of its P-256 KSK in a rollover), with the algorithm number replaced for
    /// [`super::WorldBuilder::ds_algorithm`] and the digest broken for a zone bogus with
    /// Extended DNS Error 9.
    fn ds_rrset(&self, apex: &Name) -> Vec<Record> {
        let signing = self.world.zone_signing(&apex.to_ascii());
        let keys = WorldKeys::of(apex);
        let second = ZoneKey::fixture_p256(KSK_FLAGS);
        let key = if signing.second_algorithm {
            &second
        } else {
            &keys.ksk
        };
        let ds = key.ds(apex, DigestType::SHA256);
        let mut digest = ds.digest().to_vec();
        if self.zones.get(apex) == Some(&Status::Bogus(9)) {
            digest[0] ^= 0xff;
        }
        let algorithm = signing
            .ds_algorithm
            .map(Algorithm::from_u8)
            .unwrap_or(ds.algorithm());
        let ds = DS::new(ds.key_tag(), algorithm, ds.digest_type(), digest);
        vec![Record::from_rdata(
            apex.clone(),
            KEY_TTL,
            RData::DNSSEC(DNSSECRData::DS(ds)),
        )]
    }
}

/// A DNAME RRset above a name: its owner, records, TTL and bogus code.
struct Dname {
    owner: Name,
    records: Vec<Record>,
    ttl: u32,
    fault: Option<u16>,
}

/// The longest apex in `zones` at or above `name` (the root if none).
fn longest_apex(zones: &BTreeMap<Name, Status>, name: &Name) -> Name {
    let mut at = name.clone();
    loop {
        if zones.contains_key(&at) || at.is_root() {
            return at;
        }
        at = at.base_name();
    }
}

/// The Extended DNS Error code of a bogus status override.
fn bogus_code(status: Option<Status>) -> Option<u16> {
    match status {
        Some(Status::Bogus(code)) => Some(code),
        _ => None,
    }
}

/// What a zone bogus with `code` does to its DNSKEY RRset's signatures (a zone bogus with 9
/// is bogus through its DS instead).
fn zone_fault(status: Option<&Status>) -> Option<u16> {
    match status {
        Some(Status::Bogus(code)) if *code != 9 => Some(*code),
        _ => None,
    }
}

fn records_at(owner: &Name, ttl: u32, data: &[RData]) -> Vec<Record> {
    data.iter()
        .map(|d| Record::from_rdata(owner.clone(), ttl, d.clone()))
        .collect()
}

/// One zone's data and keys, for one answer.
struct SignedZone<'z, 'w> {
    zones: &'z Zones<'w>,
    apex: Name,
    signed: bool,
    names: Cow<'w, Names>,
    keys: Option<(WorldKeys, Option<ZoneKey>)>,
}

impl<'z, 'w> SignedZone<'z, 'w> {
    fn new(zones: &'z Zones<'w>, apex: &Name) -> Self {
        let signed = zones.signed(apex);
        let rollover = zones.world.zone_signing(&apex.to_ascii()).second_algorithm;
        SignedZone {
            zones,
            apex: apex.clone(),
            signed,
            names: zones.names(apex),
            keys: signed.then(|| {
                (
                    WorldKeys::of(apex),
                    rollover.then(|| ZoneKey::fixture_p256(KSK_FLAGS)),
                )
            }),
        }
    }

    fn world(&self) -> &'w World {
        self.zones.world
    }

    /// The SOA, NS and DNSKEY RRsets every zone has at its apex.
    fn apex_rrset(&self, qname: &Name, qtype: RecordType) -> Option<Vec<Record>> {
        if *qname != self.apex {
            return None;
        }
        match qtype {
            RecordType::SOA => Some(vec![self.soa()]),
            RecordType::NS => {
                let ns = Name::from_ascii("ns1")
                    .ok()
                    .and_then(|n| n.append_domain(&self.apex).ok())
                    .unwrap_or_else(Name::root);
                Some(vec![Record::from_rdata(
                    self.apex.clone(),
                    KEY_TTL,
                    RData::NS(NS(ns)),
                )])
            }
            RecordType::DNSKEY => {
                let (keys, second) = self.keys.as_ref()?;
                let mut set: Vec<&DNSKEY> = vec![keys.ksk.dnskey(), keys.zsk.dnskey()];
                set.extend(second.as_ref().map(|k| k.dnskey()));
                Some(
                    set.into_iter()
                        .map(|k| {
                            Record::from_rdata(
                                self.apex.clone(),
                                KEY_TTL,
                                RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())),
                            )
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    fn soa(&self) -> Record {
        super::resolver::soa_record(&norm(&self.apex.to_ascii()))
    }

    /// `records` with their RRSIGs when the zone is signed.
    fn signed_rrset(&self, owner: &Name, records: Vec<Record>, fault: Option<u16>) -> Vec<Record> {
        let labels = owner.num_labels();
        let sigs = self.rrsigs(owner, &records, labels, fault);
        records.into_iter().chain(sigs).collect()
    }

    /// RRSIG records over `records` (owner `owner`, label count `labels`) by the zone's keys:
    /// the KSKs for the DNSKEY RRset, the ZSK (and the second algorithm's key) otherwise,
    /// broken as Extended DNS Error `fault` says (see the module documentation).
    fn rrsigs(
        &self,
        owner: &Name,
        records: &[Record],
        labels: u8,
        fault: Option<u16>,
    ) -> Vec<Record> {
        let Some((keys, second)) = &self.keys else {
            return Vec::new();
        };
        if records.is_empty() || fault == Some(10) {
            return Vec::new();
        }
        let expiration = self.world().rrsig_expiration();
        let valid = (
            INCEPTION.min(expiration.saturating_sub(30 * 86_400)),
            expiration,
        );
        let window = match fault {
            Some(7) => EXPIRED,
            Some(8) => NOT_YET_VALID,
            _ => valid,
        };
        let stray;
        let primary = if fault == Some(9) {
            stray = WorldKeys::stray(&self.apex);
            &stray
        } else if records[0].record_type() == RecordType::DNSKEY {
            &keys.ksk
        } else {
            &keys.zsk
        };
        let signers = std::iter::once(primary).chain(second.as_ref());
        signers
            .filter_map(|key| key.try_sign(&self.apex, owner, records, labels, window))
            .map(|sig| {
                let sig = match fault {
                    None | Some(7..=9) => sig,
                    Some(_) => corrupt(sig),
                };
                Record::from_rdata(
                    owner.clone(),
                    records[0].ttl,
                    RData::DNSSEC(DNSSECRData::RRSIG(sig)),
                )
            })
            .collect()
    }

    /// Whether `name` exists in this zone (a name of it, or an empty non-terminal above one).
    fn exists(&self, name: &Name) -> bool {
        self.names.contains_key(name) || self.names.keys().any(|n| name.zone_of(n))
    }

    /// The closest encloser of `qname`: its longest existing ancestor (RFC 4035 sec. 5.4,
    /// RFC 5155 sec. 7.2.1), and the next closer name below it.
    fn closest_encloser(&self, qname: &Name) -> (Name, Name) {
        let mut next_closer = qname.clone();
        loop {
            let up = next_closer.base_name();
            if self.exists(&up) || up == self.apex || up.is_root() {
                return (up, next_closer);
            }
            next_closer = up;
        }
    }

    /// A positive answer synthesised from the wildcard at the closest encloser of a name
    /// that does not exist (RFC 4592 sec. 3.3.1; RFC 4035 sec. 3.1.3.3): the wildcard's
    /// records with `qname` as owner and the wildcard's label count in the RRSIG, and in the
    /// authority section the proof that `qname` itself does not exist.
    fn wildcard_answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        step: &mut Step,
    ) -> Option<Vec<Record>> {
        if self.exists(qname) || *qname == self.apex {
            return None;
        }
        let (encloser, next_closer) = self.closest_encloser(qname);
        let wildcard = encloser.prepend_label("*").ok()?;
        let owner = norm(&wildcard.to_ascii());
        let (rtype, set) = [qtype, RecordType::CNAME]
            .into_iter()
            .find_map(|t| self.world().rrset(&owner, t).map(|s| (t, s)))?;
        let records = records_at(qname, set.ttl, &set.records);
        if rtype == RecordType::CNAME {
            step.cname = match set.records.first() {
                Some(RData::CNAME(CNAME(target))) => Some(norm(&target.to_ascii())),
                _ => None,
            };
        }
        let sigs = self.rrsigs(
            qname,
            &records,
            wildcard.num_labels(),
            bogus_code(set.status),
        );
        if self.signed {
            step.authority.extend(
                match self.world().zone_signing(&self.apex.to_ascii()).denial {
                    Denial::Nsec => self.nsec_covering(qname, None),
                    Denial::Nsec3 { .. } => self.nsec3_proof(&[], &[&next_closer], None),
                },
            );
        }
        Some(records.into_iter().chain(sigs).collect())
    }

    /// NXDOMAIN or NODATA for `qname` (for the type asked, which the world has not there):
    /// the SOA, and in a signed zone its RRSIG and the NSEC or NSEC3 records that prove the
    /// denial (RFC 4035 sec. 3.1.3; RFC 5155 sec. 7.2), unless the denial is bogus with
    /// Extended DNS Error 12.
    fn denial(&self, qname: &Name, step: &mut Step) {
        let soa = self.soa();
        step.authority = self.signed_rrset(&self.apex.clone(), vec![soa], None);
        let exists = if self.signed {
            self.exists(qname)
        } else {
            self.world().name_exists(&qname.to_ascii())
        };
        let fault = self
            .world()
            .denials
            .get(&norm(&qname.to_ascii()))
            .and_then(|s| bogus_code(Some(*s)));
        if !self.signed {
            step.nxdomain = !exists;
            return;
        }
        let (encloser, next_closer) = self.closest_encloser(qname);
        let wildcard = encloser.prepend_label("*").ok();
        let wildcard_exists = wildcard
            .as_ref()
            .is_some_and(|w| self.names.contains_key(w));
        step.nxdomain = !exists && !wildcard_exists;
        if fault == Some(12) {
            return;
        }
        let proof = match self.world().zone_signing(&self.apex.to_ascii()).denial {
            Denial::Nsec => {
                if self.names.contains_key(qname) {
                    self.nsec_matching(qname, fault)
                } else if exists {
                    self.nsec_covering(qname, fault)
                } else {
                    let mut p = self.nsec_covering(qname, fault);
                    if let Some(w) = &wildcard {
                        let more = if wildcard_exists {
                            self.nsec_matching(w, fault)
                        } else {
                            self.nsec_covering(w, fault)
                        };
                        for r in more {
                            if !p.contains(&r) {
                                p.push(r);
                            }
                        }
                    }
                    p
                }
            }
            Denial::Nsec3 { .. } => {
                let chain = self.nsec3_chain();
                let hashed = |n: &Name| self.nsec3_hash(n);
                if chain.iter().any(|(h, _, _)| *h == hashed(qname)) {
                    self.nsec3_proof(&[qname], &[], fault)
                } else if exists {
                    // An opted-out delegation: the closest encloser proof (RFC 5155
                    // sec. 7.2.4).
                    self.nsec3_proof(&[&encloser], &[&next_closer], fault)
                } else {
                    match &wildcard {
                        Some(w) if wildcard_exists => {
                            self.nsec3_proof(&[&encloser, w], &[&next_closer], fault)
                        }
                        Some(w) => self.nsec3_proof(&[&encloser], &[&next_closer, w], fault),
                        None => self.nsec3_proof(&[&encloser], &[&next_closer], fault),
                    }
                }
            }
        };
        step.authority.extend(proof);
    }

    /// The NSEC chain: each name with the next one in canonical order (RFC 4034 sec. 4.1.1,
    /// 6.1), the last wrapping to the apex.
    fn nsec_record(&self, index: usize, fault: Option<u16>) -> Vec<Record> {
        let owners: Vec<&Name> = self.names.keys().collect();
        let owner = owners[index];
        let next = owners[(index + 1) % owners.len()];
        let nsec = NSEC::new_cover_self(next.clone(), self.names[owner].iter().copied());
        let record = Record::from_rdata(
            owner.clone(),
            DENIAL_TTL,
            RData::DNSSEC(DNSSECRData::NSEC(nsec)),
        );
        self.signed_rrset(owner, vec![record], fault)
    }

    fn nsec_matching(&self, name: &Name, fault: Option<u16>) -> Vec<Record> {
        match self.names.keys().position(|n| n == name) {
            Some(i) => self.nsec_record(i, fault),
            None => Vec::new(),
        }
    }

    /// The NSEC whose span holds `name`: the last owner before it (the apex sorts first).
    fn nsec_covering(&self, name: &Name, fault: Option<u16>) -> Vec<Record> {
        let i = self
            .names
            .keys()
            .rposition(|n| n < name)
            .unwrap_or(self.names.len() - 1);
        self.nsec_record(i, fault)
    }

    fn nsec3_params(&self) -> (u16, bool) {
        match self.world().zone_signing(&self.apex.to_ascii()).denial {
            Denial::Nsec3 {
                iterations,
                opt_out,
            } => (iterations, opt_out),
            Denial::Nsec => (0, false),
        }
    }

    fn nsec3_hash(&self, name: &Name) -> Vec<u8> {
        let (iterations, _) = self.nsec3_params();
        Nsec3HashAlgorithm::SHA1
            .hash(&NSEC3_SALT, name, iterations)
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// The NSEC3 chain (RFC 5155 sec. 7.1): every name and empty non-terminal hashed, in hash
    /// order, with its types; with opt-out, unsigned delegations left out and the flag set
    /// on the records whose span holds one.
    fn nsec3_chain(&self) -> Vec<(Vec<u8>, BTreeSet<RecordType>, bool)> {
        let (_, opt_out) = self.nsec3_params();
        let mut all: BTreeMap<Name, BTreeSet<RecordType>> = BTreeMap::new();
        let mut left_out = Vec::new();
        for (name, types) in self.names.iter() {
            let unsigned_cut = types.contains(&RecordType::NS)
                && !types.contains(&RecordType::DS)
                && *name != self.apex;
            if opt_out && unsigned_cut {
                left_out.push(self.nsec3_hash(name));
            } else {
                let mut t = types.clone();
                if !unsigned_cut {
                    t.insert(RecordType::RRSIG);
                }
                if *name == self.apex {
                    t.insert(RecordType::NSEC3PARAM);
                }
                all.insert(name.clone(), t);
            }
            let mut up = name.base_name();
            while up.num_labels() > self.apex.num_labels() {
                all.entry(up.clone()).or_default();
                up = up.base_name();
            }
        }
        let mut chain: Vec<(Vec<u8>, BTreeSet<RecordType>, bool)> = all
            .into_iter()
            .map(|(n, t)| (self.nsec3_hash(&n), t, false))
            .collect();
        chain.sort();
        let len = chain.len();
        for i in 0..len {
            let (from, to) = (chain[i].0.clone(), chain[(i + 1) % len].0.clone());
            chain[i].2 = left_out.iter().any(|h| in_span(&from, &to, h));
        }
        chain
    }

    /// The NSEC3 records matching each of `matching` and covering each of `covering`, each
    /// once, with their RRSIGs.
    fn nsec3_proof(
        &self,
        matching: &[&Name],
        covering: &[&Name],
        fault: Option<u16>,
    ) -> Vec<Record> {
        let chain = self.nsec3_chain();
        let (iterations, _) = self.nsec3_params();
        let mut picked: Vec<usize> = Vec::new();
        for name in matching {
            let h = self.nsec3_hash(name);
            if let Some(i) = chain.iter().position(|(x, _, _)| *x == h) {
                picked.push(i);
            }
        }
        for name in covering {
            let h = self.nsec3_hash(name);
            let i = chain
                .iter()
                .rposition(|(x, _, _)| *x < h)
                .unwrap_or(chain.len() - 1);
            picked.push(i);
        }
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for i in picked {
            if !seen.insert(i) {
                continue;
            }
            let (hash, types, opt_out) = &chain[i];
            let next = chain[(i + 1) % chain.len()].0.clone();
            let nsec3 = NSEC3::new(
                Nsec3HashAlgorithm::SHA1,
                *opt_out,
                iterations,
                NSEC3_SALT.to_vec(),
                next,
                types.iter().copied(),
            );
            let label = data_encoding::BASE32HEX_NOPAD
                .encode(hash)
                .to_ascii_lowercase();
            let owner = Name::from_ascii(&label)
                .ok()
                .and_then(|l| l.append_domain(&self.apex).ok())
                .unwrap_or_else(Name::root);
            let record = Record::from_rdata(
                owner.clone(),
                DENIAL_TTL,
                RData::DNSSEC(DNSSECRData::NSEC3(nsec3)),
            );
            out.extend(self.signed_rrset(&owner, vec![record], fault));
        }
        out
    }
}

/// Whether `h` sorts strictly inside the span from `from` to `to`, wrapping at the end.
fn in_span(from: &[u8], to: &[u8], h: &[u8]) -> bool {
    if from < to {
        from < h && h < to
    } else {
        from < h || h < to
    }
}

/// The signature with its first octet flipped: it no longer verifies.
fn corrupt(sig: RRSIG) -> RRSIG {
    let mut bytes = sig.sig().to_vec();
    if let Some(b) = bytes.first_mut() {
        *b ^= 0xff;
    }
    RRSIG::from_sig(sig.input().clone(), bytes)
}
