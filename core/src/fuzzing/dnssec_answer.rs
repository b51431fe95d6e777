//! `dnssec_answer` target (issue 13): the in-core validator ([`Validator`]) judging answers
//! built from a small signed world, with the answers and every DS and DNSKEY reply it asks
//! for chosen by the fuzzer: honest, stripped of RRSIGs or of the authority section, timed
//! out, assembled record by record from the world's signed records, and with bytes flipped
//! after the question.
//!
//! The world: the root (its key is the only trust anchor) delegates `lab.` with a DS; `lab.`
//! holds `mx.lab. A`, `_25._tcp.mx.lab. TLSA`, `alias.lab. DNAME lab.` (RFC 6672: answers
//! below it carry an unsigned synthesised CNAME), `*.w.lab. A` (RFC 4592: answers below
//! `w.lab.` are expansions, proven with the NSEC at the wildcard), the signed delegation of
//! `n3.lab.` and an NSEC chain; the root an NSEC chain too. `n3.lab.` is signed with NSEC3
//! (RFC 5155; SHA-1, no extra iterations, no salt, as RFC 9276 sec. 3.1 asks, and no opt-out):
//! `mx.n3.lab. A`, `_25._tcp.mx.n3.lab. TLSA`, `*.w.n3.lab. A` and an NSEC3 record for each
//! name, empty non-terminals included; its honest denials are RFC 5155 sec. 7.2's (NODATA with
//! the matching NSEC3, NXDOMAIN with a closest encloser proof and the NSEC3 covering the
//! wildcard, wildcard answers with the NSEC3 covering the next closer name). The fuzzer may
//! also move any record to another name (NSEC3 owners included), insert altered copies of
//! RRSIGs (label count, signer, key tag), the forgeries of CVE-2017-15105 and of a wildcard
//! proof built on another RRSIG's label count, and alter an NSEC3 record without signing it
//! again (a bit of its next hashed owner name, a type of its bitmap). The three keys are
//! Ed25519 with fixed private keys, so the fuzzer cannot sign anything. Nothing in it is
//! insecure (no unsigned delegation, no NSEC3 opt-out or iterations above the limit, no
//! unsupported algorithm).
//!
//! Oracles:
//! - `Secure` only for the truth: data only when every record is one of the world's signed
//!   records, unchanged; NXDOMAIN only for a name the world does not have; NODATA only for a
//!   name the world has without that type;
//! - never `Insecure`: no proof of an insecure delegation exists in this world, so one would
//!   be a downgrade;
//! - with every reply honest, the answer is `Secure` (the validator accepts valid data and
//!   valid NSEC and NSEC3 proofs);
//! - an answer whose NSEC3 record was altered is not `Secure`: every NSEC3 of an honest
//!   answer is needed by its proof, and the altered one no longer matches its RRSIG;
//! - work stays within [`MAX_CHAIN_LOOKUPS`], and a judgement still waiting always has a
//!   lookup to wait for (a check would hang otherwise).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, DNSKEY, DS, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{DigestType, Nsec3HashAlgorithm, SigningKey, Verifier, TBS};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NULL, SOA, TLSA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::BinEncodable;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::dns::{check_response, Answer, Checked, Expected, LookupError, RcodeClass, Security};
use crate::dnssec::{TrustAnchor, ValidationFailure, Validator, MAX_CHAIN_LOOKUPS};
use crate::time::Timestamp;

/// The time every case is judged at.
pub const NOW: u64 = 1_800_000_000;

/// The root's Ed25519 key (PKCS#8 v2, fixed: a fuzz world, not a secret).
const ROOT_KEY: &str = "3053020101300506032b65700422042056c0d7b7cb50eee2fc831a4237efb2620ac43b1954323a671ec9ac74fdad98efa1230321004c3dd141bd2b0c849c19ce135896a5c83999d6ffe98786dccb90c0a0a1147d10";
/// `lab.`'s Ed25519 key.
const LAB_KEY: &str = "3053020101300506032b657004220420c654223d61a68babf32ddeede689bab9ad445db986f330d9d343bb7261f467e2a1230321009b0ee23c906fc64b1529f2693245d8801a214cf4f5171a2d9f2350fc523ff803";
/// `n3.lab.`'s Ed25519 key.
const N3_KEY: &str = "3053020101300506032b6570042204204c1b58ba4c6f9e0a202e9fed139eb91bb342e04a6549d79abac58ccc320c9567a1230321002988b0fc8ac013e978639ba45d6fe9e188a36beea4595bcd9e9fc0b35b7eaf30";

/// The zone signed with NSEC3 (RFC 5155): SHA-1, no iterations, no salt (RFC 9276 sec. 3.1),
/// no opt-out.
const N3: &str = "n3.lab.";

/// The questions a case can start from: (name, type).
pub const QUESTIONS: [(&str, RecordType); 22] = [
    ("_25._tcp.mx.lab.", RecordType::TLSA),
    ("mx.lab.", RecordType::A),
    ("_25._tcp.mx2.lab.", RecordType::TLSA),
    ("mx.lab.", RecordType::TLSA),
    ("_tcp.mx.lab.", RecordType::TLSA),
    ("nosuch.", RecordType::MX),
    ("lab.", RecordType::DS),
    ("mx.lab.", RecordType::AAAA),
    ("mx.alias.lab.", RecordType::A),
    ("x.w.lab.", RecordType::A),
    ("x.w.lab.", RecordType::TLSA),
    ("a.b.w.lab.", RecordType::A),
    // In `n3.lab.` (NSEC3): data, NODATA at a name and at an empty non-terminal, NXDOMAIN
    // with the apex and with an empty non-terminal as closest encloser, wildcard answers,
    // and the DS of the delegation.
    ("_25._tcp.mx.n3.lab.", RecordType::TLSA),
    ("mx.n3.lab.", RecordType::A),
    ("mx.n3.lab.", RecordType::TLSA),
    ("_tcp.mx.n3.lab.", RecordType::TLSA),
    ("_25._tcp.mx2.n3.lab.", RecordType::TLSA),
    ("_26._tcp.mx.n3.lab.", RecordType::TLSA),
    ("x.w.n3.lab.", RecordType::A),
    ("x.w.n3.lab.", RecordType::TLSA),
    ("a.b.w.n3.lab.", RecordType::A),
    ("n3.lab.", RecordType::DS),
];

/// The first question in `n3.lab.`.
const FIRST_NSEC3_QUESTION: usize = 12;

/// Names a forged record can be moved to (mutation 6) or an altered RRSIG can name as its
/// signer (mutation 8); the world adds the owners of its NSEC3 records.
const FORGED_NAMES: [&str; 17] = [
    ".",
    "lab.",
    "alias.lab.",
    "mx.lab.",
    "_tcp.mx.lab.",
    "_25._tcp.mx.lab.",
    "w.lab.",
    "*.w.lab.",
    "x.w.lab.",
    "mx2.lab.",
    "nosuch.",
    "n3.lab.",
    "mx.n3.lab.",
    "_25._tcp.mx.n3.lab.",
    "w.n3.lab.",
    "*.w.n3.lab.",
    "x.w.n3.lab.",
];

/// The wildcard of `lab.`: every name below `w.lab.` has its A record (RFC 4592).
const WILDCARD: &str = "*.w.lab.";
/// The wildcard of `n3.lab.`, the same below `w.n3.lab.`.
const N3_WILDCARD: &str = "*.w.n3.lab.";

/// The signed world.
struct World {
    /// Every record, RRSIGs included, with the zone that serves it.
    records: Vec<(Name, Record)>,
    anchor: TrustAnchor,
    /// The names that exist (empty non-terminals included), with their types.
    types: Vec<(Name, Vec<RecordType>)>,
    /// `n3.lab.`'s NSEC3 chain: each owner's hash and the owner, sorted by hash.
    chain: Vec<(Vec<u8>, Name)>,
    /// [`FORGED_NAMES`] and the owners of the NSEC3 records.
    forged: Vec<Name>,
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|_| Name::root())
}

fn key(hex: &str) -> Option<Ed25519SigningKey> {
    let der = crate::hex::decode(hex)?;
    Ed25519SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(der)).ok()
}

/// `records` (one RRset) and their RRSIG by `signer` of `zone`, served by `zone`.
fn signed(
    signer: &Ed25519SigningKey,
    zone: &Name,
    records: Vec<Record>,
    out: &mut Vec<(Name, Record)>,
) -> Option<()> {
    let first = records.first()?;
    let owner = first.name.clone();
    let public = DNSKEY::with_flags(257, signer.to_public_key().ok()?);
    let input = SigInput {
        type_covered: first.record_type(),
        algorithm: signer.algorithm(),
        num_labels: owner.num_labels(),
        original_ttl: 3600,
        sig_expiration: SerialNumber::new((NOW + 30 * 86_400) as u32),
        sig_inception: SerialNumber::new((NOW - 86_400) as u32),
        key_tag: public.calculate_key_tag().ok()?,
        signer_name: zone.clone(),
    };
    let tbs = TBS::from_input(&owner, DNSClass::IN, &input, records.iter()).ok()?;
    let sig = RRSIG::from_sig(input, signer.sign(&tbs).ok()?);
    out.extend(records.into_iter().map(|r| (zone.clone(), r)));
    out.push((
        zone.clone(),
        Record::from_rdata(owner, 3600, RData::DNSSEC(DNSSECRData::RRSIG(sig))),
    ));
    Some(())
}

fn record(owner: &str, data: RData) -> Record {
    Record::from_rdata(name(owner), 3600, data)
}

fn nsec(owner: &str, next: &str, types: &[RecordType]) -> Record {
    record(
        owner,
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(
            name(next),
            types.iter().copied(),
        ))),
    )
}

fn soa(zone: &str) -> Record {
    record(
        zone,
        RData::SOA(SOA::new(
            name("ns.lab."),
            name("hostmaster.lab."),
            1,
            3600,
            600,
            86_400,
            300,
        )),
    )
}

/// The DS record of `zone` for its key `dnskey` (SHA-256).
fn ds_of(zone: &Name, dnskey: &DNSKEY) -> Option<Record> {
    let digest = dnskey.to_digest(zone, DigestType::SHA256).ok()?;
    let ds = DS::new(
        dnskey.calculate_key_tag().ok()?,
        dnskey.algorithm(),
        DigestType::SHA256,
        digest.as_ref().to_vec(),
    );
    Some(Record::from_rdata(
        zone.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DS(ds)),
    ))
}

/// `owner` hashed as `n3.lab.`'s NSEC3 records hash it (RFC 5155 sec. 5: SHA-1, no salt, no
/// extra iterations).
fn nsec3_hash(owner: &Name) -> Option<Vec<u8>> {
    Nsec3HashAlgorithm::SHA1
        .hash(&[], owner, 0)
        .ok()
        .map(|d| d.as_ref().to_vec())
}

/// The NSEC3 chain of `n3.lab.` over its names and their types (RFC 5155 sec. 7.1: every
/// name, empty non-terminals included, with no opt-out): each record's owner is the
/// base32hex hash of a name under the zone (sec. 3.3), its next hashed owner the following
/// hash, the last one wrapping to the first.
fn nsec3_chain(names: &[(&str, Vec<RecordType>)]) -> Option<Vec<(Vec<u8>, Record)>> {
    let mut hashed = names
        .iter()
        .map(|(n, types)| Some((nsec3_hash(&name(n))?, types)))
        .collect::<Option<Vec<_>>>()?;
    hashed.sort();
    let nexts = hashed.iter().cycle().skip(1).map(|(h, _)| h.clone());
    hashed
        .iter()
        .zip(nexts)
        .map(|((hash, types), next)| {
            let label = data_encoding::BASE32HEX_NOPAD
                .encode(hash)
                .to_ascii_lowercase();
            let owner = Name::from_ascii(format!("{label}.{N3}")).ok()?;
            let data = NSEC3::new(
                Nsec3HashAlgorithm::SHA1,
                false,
                0,
                Vec::new(),
                next,
                types.iter().copied(),
            );
            let data = RData::DNSSEC(DNSSECRData::NSEC3(data));
            Some((hash.clone(), Record::from_rdata(owner, 3600, data)))
        })
        .collect()
}

fn build_world() -> Option<World> {
    use RecordType::{DNSKEY as KEY, DS as DSR, NS, NSEC as NSC, RRSIG as SIG, SOA as SOAT};
    let root_key = key(ROOT_KEY)?;
    let lab_key = key(LAB_KEY)?;
    let n3_key = key(N3_KEY)?;
    let root = Name::root();
    let lab = name("lab.");
    let n3 = name(N3);
    let root_dnskey = DNSKEY::with_flags(257, root_key.to_public_key().ok()?);
    let lab_dnskey = DNSKEY::with_flags(257, lab_key.to_public_key().ok()?);
    let n3_dnskey = DNSKEY::with_flags(257, n3_key.to_public_key().ok()?);
    let dnskey =
        |owner: &str, k: &DNSKEY| record(owner, RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())));
    let dname_target = name("lab.").to_bytes().ok()?;
    // Each zone's RRsets, one record each, signed by the zone's key.
    let root_sets = [
        dnskey(".", &root_dnskey),
        soa("."),
        ds_of(&lab, &lab_dnskey)?,
        nsec(".", "lab.", &[NS, SOAT, SIG, NSC, KEY]),
        nsec("lab.", ".", &[NS, DSR, SIG, NSC]),
    ];
    let tlsa = TLSA::new(3u8.into(), 1u8.into(), 1u8.into(), vec![0x5a; 32]);
    let dname = RData::Unknown {
        code: RecordType::DNAME,
        rdata: NULL::with(dname_target),
    };
    let lab_sets = [
        dnskey("lab.", &lab_dnskey),
        soa("lab."),
        record("mx.lab.", RData::A(A::new(192, 0, 2, 1))),
        record("_25._tcp.mx.lab.", RData::TLSA(tlsa)),
        record("alias.lab.", dname),
        record(WILDCARD, RData::A(A::new(192, 0, 2, 9))),
        nsec("lab.", "alias.lab.", &[NS, SOAT, SIG, NSC, KEY]),
        nsec("alias.lab.", "mx.lab.", &[RecordType::DNAME, SIG, NSC]),
        nsec("mx.lab.", "_25._tcp.mx.lab.", &[RecordType::A, SIG, NSC]),
        nsec("_25._tcp.mx.lab.", N3, &[RecordType::TLSA, SIG, NSC]),
        nsec(WILDCARD, "lab.", &[RecordType::A, SIG, NSC]),
        // Appended, so that the records above keep their indices (mutation 4).
        ds_of(&n3, &n3_dnskey)?,
        nsec(N3, WILDCARD, &[NS, DSR, SIG, NSC]),
    ];
    let n3_names = [
        (N3, vec![NS, SOAT, SIG, KEY]),
        ("mx.n3.lab.", vec![RecordType::A, SIG]),
        ("_tcp.mx.n3.lab.", vec![]),
        ("_25._tcp.mx.n3.lab.", vec![RecordType::TLSA, SIG]),
        ("w.n3.lab.", vec![]),
        (N3_WILDCARD, vec![RecordType::A, SIG]),
    ];
    let nsec3s = nsec3_chain(&n3_names)?;
    let n3_tlsa = TLSA::new(3u8.into(), 1u8.into(), 1u8.into(), vec![0x3c; 32]);
    let n3_sets = [
        dnskey(N3, &n3_dnskey),
        soa(N3),
        record("mx.n3.lab.", RData::A(A::new(192, 0, 2, 3))),
        record("_25._tcp.mx.n3.lab.", RData::TLSA(n3_tlsa)),
        record(N3_WILDCARD, RData::A(A::new(192, 0, 2, 10))),
    ]
    .into_iter()
    .chain(nsec3s.iter().map(|(_, r)| r.clone()));
    let mut records = Vec::new();
    for set in root_sets {
        signed(&root_key, &root, vec![set], &mut records)?;
    }
    for set in lab_sets {
        signed(&lab_key, &lab, vec![set], &mut records)?;
    }
    for set in n3_sets {
        signed(&n3_key, &n3, vec![set], &mut records)?;
    }
    let anchor = TrustAnchor::from_dnskey_record(root.clone(), root_dnskey);
    let chain: Vec<(Vec<u8>, Name)> = nsec3s.into_iter().map(|(hash, r)| (hash, r.name)).collect();
    let forged = FORGED_NAMES
        .iter()
        .map(|n| name(n))
        .chain(chain.iter().map(|(_, owner)| owner.clone()))
        .collect();
    let mut types = vec![
        (root, vec![NS, SOAT, SIG, NSC, KEY]),
        (lab, vec![NS, SOAT, SIG, NSC, KEY, DSR]),
        (name("alias.lab."), vec![RecordType::DNAME, SIG, NSC]),
        (name("mx.lab."), vec![RecordType::A, SIG, NSC]),
        (name("_tcp.mx.lab."), vec![]),
        (name("_25._tcp.mx.lab."), vec![RecordType::TLSA, SIG, NSC]),
        (name("w.lab."), vec![]),
        (name(WILDCARD), vec![RecordType::A, SIG, NSC]),
    ];
    // `n3.lab.` has the DS and NSEC of the delegation in `lab.` too.
    types.extend(n3_names.iter().map(|(n, t)| {
        let mut t = t.clone();
        if *n == N3 {
            t.extend([DSR, NSC]);
        }
        (name(n), t)
    }));
    types.extend(
        chain
            .iter()
            .map(|(_, owner)| (owner.clone(), vec![RecordType::NSEC3, SIG])),
    );
    Some(World {
        records,
        anchor,
        types,
        chain,
        forged,
    })
}

fn world() -> Option<&'static World> {
    static WORLD: OnceLock<Option<World>> = OnceLock::new();
    WORLD.get_or_init(build_world).as_ref()
}

/// The wildcard a name expands and the types it has through it: every name strictly below
/// `w.lab.` or `w.n3.lab.` but the wildcard itself (RFC 4592 sec. 2.1.1), with no names of
/// their own below them in this world.
fn wildcard_of(qname: &Name) -> Option<(Name, Vec<RecordType>)> {
    [WILDCARD, N3_WILDCARD].into_iter().find_map(|text| {
        let wildcard = name(text);
        let parent = wildcard.base_name();
        (parent.zone_of(qname) && *qname != parent && *qname != wildcard)
            .then(|| (wildcard, vec![RecordType::A]))
    })
}

/// The type of a record, or the type an RRSIG covers.
fn covers(r: &Record) -> RecordType {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => s.input().type_covered,
        _ => r.record_type(),
    }
}

/// What an honest resolver answers in `n3.lab.` (RFC 5155 sec. 7.2): the RRset; a wildcard
/// expansion with the NSEC3 covering the next closer name (sec. 7.2.6); NODATA with the NSEC3
/// matching the name (sec. 7.2.3, 7.2.4); a wildcard NODATA with the closest encloser proof
/// and the NSEC3 matching the wildcard (sec. 7.2.5); NXDOMAIN with the closest encloser proof
/// and the NSEC3 covering the wildcard at the closest encloser (sec. 7.2.2). Each NSEC3 once,
/// with its RRSIG, and the SOA when nothing is answered.
fn honest_nsec3(
    w: &World,
    qname: &Name,
    qtype: RecordType,
) -> (ResponseCode, Vec<Record>, Vec<Record>) {
    let zone = name(N3);
    let at = |owner: &Name, t: RecordType| -> Vec<Record> {
        w.records
            .iter()
            .filter(|(z, r)| *z == zone && r.name == *owner && covers(r) == t)
            .map(|(_, r)| r.clone())
            .collect()
    };
    let answer = at(qname, qtype);
    if !answer.is_empty() {
        return (ResponseCode::NoError, answer, Vec::new());
    }
    let exists = |n: &Name| w.types.iter().any(|(known, _)| known == n);
    let hash = |n: &Name| nsec3_hash(n).unwrap_or_default();
    let matching = |n: &Name| {
        let h = hash(n);
        w.chain
            .iter()
            .find(|(owner, _)| *owner == h)
            .map(|(_, o)| o)
    };
    // The record whose owner hash is the last one below the name's, or the last one of the
    // chain (it wraps around) when none is below.
    let covering = |n: &Name| {
        let h = hash(n);
        let below = w.chain.iter().rev().find(|(owner, _)| *owner < h);
        below.or(w.chain.last()).map(|(_, o)| o)
    };
    let (rcode, answer, proof) = if exists(qname) {
        (ResponseCode::NoError, Vec::new(), vec![matching(qname)])
    } else if let Some((wildcard, types)) = wildcard_of(qname) {
        let parent = wildcard.base_name();
        let next_closer = qname.trim_to(usize::from(parent.num_labels()) + 1);
        if types.contains(&qtype) {
            let answer = at(&wildcard, qtype)
                .into_iter()
                .map(|mut r| {
                    r.name = qname.clone();
                    r
                })
                .collect();
            (ResponseCode::NoError, answer, vec![covering(&next_closer)])
        } else {
            let proof = vec![
                matching(&parent),
                covering(&next_closer),
                matching(&wildcard),
            ];
            (ResponseCode::NoError, Vec::new(), proof)
        }
    } else {
        let mut encloser = qname.base_name();
        while !exists(&encloser) && encloser.num_labels() > zone.num_labels() {
            encloser = encloser.base_name();
        }
        let next_closer = qname.trim_to(usize::from(encloser.num_labels()) + 1);
        let wildcard = encloser.prepend_label("*").unwrap_or_else(|_| zone.clone());
        let proof = vec![
            matching(&encloser),
            covering(&next_closer),
            covering(&wildcard),
        ];
        (ResponseCode::NXDomain, Vec::new(), proof)
    };
    let mut owners: Vec<&Name> = Vec::new();
    for owner in proof.into_iter().flatten() {
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    let mut authority = if answer.is_empty() {
        at(&zone, RecordType::SOA)
    } else {
        Vec::new()
    };
    for owner in owners {
        authority.extend(at(owner, RecordType::NSEC3));
    }
    (rcode, answer, authority)
}

/// The zone an honest server answers `qname` from.
fn zone_of(qname: &Name, qtype: RecordType) -> Name {
    let lab = name("lab.");
    if lab.zone_of(qname) && !(qname == &lab && qtype == RecordType::DS) {
        lab
    } else {
        Name::root()
    }
}

/// What an honest resolver answers (with CD=1): the RRset and its RRSIGs, or NXDOMAIN or
/// NODATA with the zone's SOA and NSEC records and their RRSIGs.
fn honest(w: &World, qname: &Name, qtype: RecordType) -> (ResponseCode, Vec<Record>, Vec<Record>) {
    let n3 = name(N3);
    if n3.zone_of(qname) && !(*qname == n3 && qtype == RecordType::DS) {
        return honest_nsec3(w, qname, qtype);
    }
    let alias = name("alias.lab.");
    if alias.zone_of(qname) && *qname != alias {
        // RFC 6672 sec. 3.1: the DNAME, a synthesised unsigned CNAME, then the target's
        // answer.
        let prefix = Name::from_labels(qname.iter().take(usize::from(qname.num_labels() - 2)));
        let Some(target) = prefix.ok().and_then(|p| p.append_name(&name("lab.")).ok()) else {
            return (ResponseCode::ServFail, Vec::new(), Vec::new());
        };
        let mut answer: Vec<Record> = w
            .records
            .iter()
            .filter(|(_, r)| r.name == alias && covers(r) == RecordType::DNAME)
            .map(|(_, r)| r.clone())
            .collect();
        answer.push(Record::from_rdata(
            qname.clone(),
            3600,
            RData::CNAME(CNAME(target.clone())),
        ));
        let (rcode, more, authority) = honest(w, &target, qtype);
        answer.extend(more);
        return (rcode, answer, authority);
    }
    if let Some((wildcard, types)) = wildcard_of(qname) {
        // RFC 4035 sec. 3.1.3.3: the expansion with the wildcard's RRSIG, and the NSEC that
        // proves no closer name exists; for another type a wildcard NODATA.
        let at_wildcard = |t: RecordType| -> Vec<Record> {
            w.records
                .iter()
                .filter(|(_, r)| r.name == wildcard && covers(r) == t)
                .map(|(_, r)| r.clone())
                .collect()
        };
        let proof = at_wildcard(RecordType::NSEC);
        if !types.contains(&qtype) {
            let mut authority = proof;
            authority.extend(
                w.records
                    .iter()
                    .filter(|(_, r)| r.name == name("lab.") && covers(r) == RecordType::SOA)
                    .map(|(_, r)| r.clone()),
            );
            return (ResponseCode::NoError, Vec::new(), authority);
        }
        let answer = at_wildcard(qtype)
            .into_iter()
            .map(|mut r| {
                r.name = qname.clone();
                r
            })
            .collect();
        return (ResponseCode::NoError, answer, proof);
    }
    let zone = zone_of(qname, qtype);
    let served = || w.records.iter().filter(|(z, _)| *z == zone).map(|(_, r)| r);
    let answer: Vec<Record> = served()
        .filter(|r| r.name == *qname && covers(r) == qtype)
        .cloned()
        .collect();
    if !answer.is_empty() {
        return (ResponseCode::NoError, answer, Vec::new());
    }
    let authority: Vec<Record> = served()
        .filter(|r| matches!(covers(r), RecordType::NSEC | RecordType::SOA))
        .cloned()
        .collect();
    let exists = w.types.iter().any(|(n, _)| qname == n);
    let rcode = if exists {
        ResponseCode::NoError
    } else {
        ResponseCode::NXDomain
    };
    (rcode, Vec::new(), authority)
}

/// Reads the fuzzer's bytes.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
}

/// One reply, as the fuzzer chose it.
struct Reply {
    /// The checked answer, or a failed lookup.
    result: Result<Answer, LookupError>,
    /// Whether it is the honest reply.
    honest: bool,
    /// Whether an NSEC3 record of the honest reply was altered and not signed again
    /// (mutation 8): every NSEC3 of an honest reply is needed by its proof, so the answer
    /// must not be secure.
    tampered: bool,
}

/// Types mutation 8 adds to or takes from an NSEC3 type bitmap.
const TOGGLED: [RecordType; 9] = [
    RecordType::A,
    RecordType::TLSA,
    RecordType::NS,
    RecordType::SOA,
    RecordType::DS,
    RecordType::CNAME,
    RecordType::DNAME,
    RecordType::AAAA,
    RecordType::MX,
];

/// Alters the `i`-th (cyclically) NSEC3 record of `records` in place, without signing it
/// again: one bit of its next hashed owner name flipped (odd `value`) or one type of
/// [`TOGGLED`] added to or taken from its bitmap (even `value`). Whether there was one.
fn tamper_nsec3(records: &mut [Record], i: usize, value: u8) -> bool {
    let mut nsec3s: Vec<&mut Record> = records
        .iter_mut()
        .filter(|r| r.record_type() == RecordType::NSEC3)
        .collect();
    let n = nsec3s.len().max(1);
    let Some(r) = nsec3s.get_mut(i % n) else {
        return false;
    };
    let RData::DNSSEC(DNSSECRData::NSEC3(old)) = r.data.clone() else {
        return false;
    };
    let mut next = old.next_hashed_owner_name().to_vec();
    let mut types: Vec<RecordType> = old.type_bit_maps().collect();
    let k = usize::from(value >> 1);
    if value & 1 == 1 {
        let bit = k % (8 * next.len()).max(1);
        if let Some(b) = next.get_mut(bit / 8) {
            *b ^= 1 << (bit % 8);
        }
    } else {
        let t = TOGGLED[k % TOGGLED.len()];
        match types.iter().position(|x| *x == t) {
            Some(p) => {
                types.remove(p);
            }
            None => types.push(t),
        }
    }
    let altered = NSEC3::new(
        old.hash_algorithm(),
        old.opt_out(),
        old.iterations(),
        old.salt().to_vec(),
        next,
        types,
    );
    r.data = RData::DNSSEC(DNSSECRData::NSEC3(altered));
    true
}

/// One reply, as the fuzzer chose it.
fn reply(w: &World, bytes: &mut Bytes<'_>, qname: &Name, qtype: RecordType) -> Reply {
    let kind = bytes.byte().unwrap_or(0);
    let (mut rcode, mut answer, mut authority) = honest(w, qname, qtype);
    let mut flips = Vec::new();
    let is_honest = kind.is_multiple_of(10);
    let mut tampered = false;
    let failed = Reply {
        result: Err(LookupError::Timeout),
        honest: false,
        tampered: false,
    };
    match kind % 10 {
        0 => {}
        1 => {
            answer.retain(|r| r.record_type() != RecordType::RRSIG);
            authority.retain(|r| r.record_type() != RecordType::RRSIG);
        }
        2 => authority.clear(),
        3 => return failed,
        4 => {
            // assembled from the world's records by index
            rcode = match bytes.byte().unwrap_or(0) % 3 {
                0 => ResponseCode::NoError,
                1 => ResponseCode::NXDomain,
                _ => ResponseCode::ServFail,
            };
            let pick = |bytes: &mut Bytes<'_>| -> Vec<Record> {
                let n = bytes.byte().unwrap_or(0) % 8;
                (0..n)
                    .filter_map(|_| {
                        let i = usize::from(bytes.byte()?);
                        w.records
                            .get(i % w.records.len().max(1))
                            .map(|(_, r)| r.clone())
                    })
                    .collect()
            };
            answer = pick(bytes);
            authority = pick(bytes);
        }
        5 => {
            let n = bytes.byte().unwrap_or(0) % 4;
            for _ in 0..n {
                let at = u16::from_be_bytes([bytes.byte().unwrap_or(0), bytes.byte().unwrap_or(0)]);
                flips.push((at, bytes.byte().unwrap_or(1) | 1));
            }
        }
        6 => {
            // one record, answer or authority, moved to another name (RRSIGs stay valid
            // over their original owner only if the name is a wildcard expansion of it)
            let to = w.forged[usize::from(bytes.byte().unwrap_or(0)) % w.forged.len()].clone();
            let i = usize::from(bytes.byte().unwrap_or(0));
            let n = answer.len() + authority.len();
            if n > 0 {
                let i = i % n;
                let r = if i < answer.len() {
                    &mut answer[i]
                } else {
                    &mut authority[i - answer.len()]
                };
                r.name = to;
            }
        }
        7 => answer.append(&mut authority),
        8 => {
            // an altered copy of one RRSIG put before the others: another label count,
            // signer or key tag, with the same signature bytes; or one NSEC3 altered
            let i = usize::from(bytes.byte().unwrap_or(0));
            let what = bytes.byte().unwrap_or(0) % 4;
            let value = bytes.byte().unwrap_or(0);
            if what == 3 {
                tampered = tamper_nsec3(&mut authority, i, value);
            }
            let sigs: Vec<(bool, usize)> = answer
                .iter()
                .enumerate()
                .filter(|(_, r)| r.record_type() == RecordType::RRSIG)
                .map(|(j, _)| (true, j))
                .chain(
                    authority
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.record_type() == RecordType::RRSIG)
                        .map(|(j, _)| (false, j)),
                )
                .collect();
            let sig = sigs.get(i % sigs.len().max(1)).filter(|_| what < 3);
            if let Some(&(in_answer, j)) = sig {
                let section = if in_answer {
                    &mut answer
                } else {
                    &mut authority
                };
                let original = section[j].clone();
                if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &original.data {
                    let mut input = sig.input().clone();
                    match what {
                        0 => input.num_labels = value % 8,
                        1 => {
                            input.signer_name =
                                w.forged[usize::from(value) % w.forged.len()].clone()
                        }
                        _ => input.key_tag ^= u16::from(value) | 1,
                    }
                    let altered = RRSIG::from_sig(input, sig.sig().to_vec());
                    let mut copy = original.clone();
                    copy.data = RData::DNSSEC(DNSSECRData::RRSIG(altered));
                    section.insert(j, copy);
                }
            }
        }
        _ => {
            // the authority section of the honest answer to another question
            let (q, t) = QUESTIONS[usize::from(bytes.byte().unwrap_or(0)) % QUESTIONS.len()];
            let (_, _, other) = honest(w, &name(q), t);
            authority = other;
        }
    }
    let mut msg = Message::new(0x4242, MessageType::Response, OpCode::Query);
    msg.metadata.checking_disabled = true;
    msg.metadata.recursion_desired = true;
    msg.metadata.recursion_available = true;
    msg.metadata.response_code = rcode;
    let mut q = Query::query(qname.clone(), qtype);
    q.set_query_class(DNSClass::IN);
    msg.add_query(q);
    for r in answer {
        msg.add_answer(r);
    }
    for r in authority {
        msg.add_authority(r);
    }
    let Ok(mut wire) = msg.to_vec() else {
        return failed;
    };
    let question_end = 12 + qname.to_bytes().map(|b| b.len()).unwrap_or(0) + 4;
    for (at, xor) in flips {
        let span = wire.len().saturating_sub(question_end).max(1);
        let i = question_end + usize::from(at) % span;
        if let Some(b) = wire.get_mut(i) {
            *b ^= xor;
        }
    }
    let expected = Expected {
        id: 0x4242,
        qname: qname.clone(),
        qtype,
        checking_disabled: true,
    };
    let server = SocketAddr::from(([127, 0, 0, 1], 53));
    let now = Timestamp::from_unix_secs(NOW);
    match check_response(&expected, &wire, now, server) {
        Checked::Final(result) => Reply {
            result,
            honest: is_honest,
            tampered,
        },
        _ => failed,
    }
}

/// Whether a secure `answer` says only what the world holds.
fn truthful(w: &World, answer: &Answer) -> bool {
    let types = w
        .types
        .iter()
        .find(|(n, _)| *n == answer.final_name)
        .map(|(_, t)| t.clone());
    let types = types.or_else(|| wildcard_of(&answer.final_name).map(|(_, t)| t));
    let expanded = |r: &Record| {
        wildcard_of(&r.name).is_some_and(|(wildcard, t)| {
            t.contains(&r.record_type())
                && w.records
                    .iter()
                    .any(|(_, known)| known.name == wildcard && known.data == r.data)
        })
    };
    match answer.rcode {
        RcodeClass::Data => answer
            .records
            .iter()
            .all(|r| w.records.iter().any(|(_, known)| known == r) || expanded(r)),
        RcodeClass::NxDomain => types.is_none(),
        RcodeClass::NoData => types.is_some_and(|t| !t.contains(&answer.qtype)),
    }
}

/// Runs one case: the first byte picks the question, then each reply (the answer first,
/// then every DS or DNSKEY lookup the validator asks, in order) takes its bytes.
pub fn run(data: &[u8]) {
    let Some(w) = world() else {
        panic!("the fuzz world must build");
    };
    let mut bytes = Bytes(data);
    let (qname, qtype) = QUESTIONS[usize::from(bytes.byte().unwrap_or(0)) % QUESTIONS.len()];
    let qname = name(qname);
    let main = reply(w, &mut bytes, &qname, qtype);
    let mut all_honest = main.honest;
    let Ok(answer) = main.result else {
        return;
    };
    let mut validator = Validator::new(vec![w.anchor.clone()], Timestamp::from_unix_secs(NOW));
    let mut asked = BTreeSet::new();
    for _ in 0..=MAX_CHAIN_LOOKUPS + 1 {
        if let Some(result) = validator.judge(&answer) {
            match result {
                Ok(j) => {
                    assert_ne!(
                        j.security,
                        Security::Insecure,
                        "insecure in a world with no insecure delegation"
                    );
                    assert!(
                        truthful(w, &answer),
                        "secure but not what the world holds: {answer:?}"
                    );
                    assert!(
                        !main.tampered,
                        "secure with an altered NSEC3 record: {answer:?}"
                    );
                }
                Err(failure) => assert!(
                    !all_honest,
                    "honest replies judged {failure}: {qname} {qtype}"
                ),
            }
            assert!(validator.lookups() <= MAX_CHAIN_LOOKUPS);
            return;
        }
        let mut any = false;
        while let Some((name, rtype)) = validator.poll_request() {
            assert!(
                asked.insert((name.clone(), rtype)),
                "asked twice: {name} {rtype}"
            );
            any = true;
            let fetched = reply(w, &mut bytes, &name, rtype);
            all_honest &= fetched.honest;
            validator.on_fetched(&name, rtype, fetched.result);
        }
        assert!(any, "the validator waits with no lookup outstanding");
    }
    panic!("the validator did not decide within {MAX_CHAIN_LOOKUPS} lookups");
}

/// Validates question `question` (an index into [`QUESTIONS`]) from the trust anchor with
/// honest replies throughout, in a fresh validator (no zone validated yet): the work of one
/// cold chain, for the benchmark. Returns the status and the DS/DNSKEY lookups it took.
pub fn judge_honestly(question: usize) -> Option<(Security, usize)> {
    judge(question, &[])?.ok()
}

/// Validates question `question` with the answer the fuzzer's bytes `main` make of it (empty:
/// honest) and honest DS and DNSKEY replies: the status and lookups, or why it failed; `None`
/// without an answer or a decision.
fn judge(question: usize, main: &[u8]) -> Option<Result<(Security, usize), ValidationFailure>> {
    let w = world()?;
    let (qname, qtype) = QUESTIONS[question % QUESTIONS.len()];
    let qname = name(qname);
    let answer = reply(w, &mut Bytes(main), &qname, qtype).result.ok()?;
    let mut validator = Validator::new(vec![w.anchor.clone()], Timestamp::from_unix_secs(NOW));
    for _ in 0..=MAX_CHAIN_LOOKUPS {
        if let Some(result) = validator.judge(&answer) {
            return Some(result.map(|j| (j.security, validator.lookups())));
        }
        while let Some((name, rtype)) = validator.poll_request() {
            let fetched = reply(w, &mut Bytes(&[]), &name, rtype);
            validator.on_fetched(&name, rtype, fetched.result);
        }
    }
    None
}

/// Seeds: every question with honest replies, then the same with the answer stripped of its
/// RRSIGs, without its authority section, with a record moved to another name, an RRSIG copy
/// with another label count, another question's authority, and a DS reply stripped or timing
/// out; for the questions in `n3.lab.`, an NSEC3 with a bit of its next hashed owner flipped
/// and one with a type added to its bitmap.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for q in 0..QUESTIONS.len() as u8 {
        out.push(vec![q]);
        out.push(vec![q, 1]);
        out.push(vec![q, 6, 5, 1]);
        out.push(vec![q, 8, 0, 0, 2]);
        out.push(vec![q, 9, 10]);
    }
    out.extend([
        vec![0, 2],
        vec![0, 0, 0, 1],
        vec![0, 0, 0, 3],
        vec![1, 0, 0, 3],
    ]);
    for q in FIRST_NSEC3_QUESTION as u8..QUESTIONS.len() as u8 {
        out.push(vec![q, 8, 0, 3, 1]);
        out.push(vec![q, 8, 1, 3, 2]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The questions in `n3.lab.` whose honest answer carries NSEC3 records.
    fn nsec3_proofs() -> Vec<usize> {
        let w = world().expect("the world builds");
        (FIRST_NSEC3_QUESTION..QUESTIONS.len())
            .filter(|&q| {
                let (qname, qtype) = QUESTIONS[q];
                let (_, _, authority) = honest(w, &name(qname), qtype);
                authority
                    .iter()
                    .any(|r| r.record_type() == RecordType::NSEC3)
            })
            .collect()
    }

    #[test]
    fn honest_answers_in_the_nsec3_zone_are_secure() {
        for (q, question) in QUESTIONS.iter().enumerate().skip(FIRST_NSEC3_QUESTION) {
            let judged = judge(q, &[]).expect("decided");
            assert!(
                matches!(judged, Ok((Security::Secure, _))),
                "{question:?}: {judged:?}"
            );
        }
        // NODATA (two), NXDOMAIN (two), wildcard answer, NODATA and deeper answer.
        assert_eq!(nsec3_proofs().len(), 7);
    }

    #[test]
    fn the_nsec3_chain_has_every_name_of_the_zone() {
        let w = world().expect("the world builds");
        assert_eq!(w.chain.len(), 6);
        let (rcode, _, authority) = honest(w, &name("_25._tcp.mx2.n3.lab."), RecordType::TLSA);
        assert_eq!(rcode, ResponseCode::NXDomain);
        // The closest encloser's, the next closer name's and the wildcard's NSEC3.
        let nsec3s = authority
            .iter()
            .filter(|r| r.record_type() == RecordType::NSEC3)
            .count();
        assert_eq!(nsec3s, 3);
    }

    /// Every NSEC3 of an honest proof is needed: moved away (to `nosuch.`, mutation 6) or
    /// altered without a new signature (mutation 8), the answer is not secure. A validator
    /// that did not check NSEC3 proofs would still call them secure.
    #[test]
    fn nsec3_proofs_fail_without_each_of_their_records() {
        let w = world().expect("the world builds");
        let nosuch = w.forged.iter().position(|n| *n == name("nosuch.")).unwrap();
        for q in nsec3_proofs() {
            let (qname, qtype) = QUESTIONS[q];
            let (_, answer, authority) = honest(w, &name(qname), qtype);
            for (i, r) in authority.iter().enumerate() {
                if r.record_type() != RecordType::NSEC3 {
                    continue;
                }
                let at = u8::try_from(answer.len() + i).unwrap();
                let judged = judge(q, &[6, nosuch as u8, at]);
                assert!(
                    !matches!(judged, Some(Ok((Security::Secure, _)))),
                    "{qname} {qtype} without {}: {judged:?}",
                    r.name
                );
            }
            let count = authority
                .iter()
                .filter(|r| r.record_type() == RecordType::NSEC3)
                .count();
            for i in 0..count as u8 {
                for value in [1, 2, 9, 40] {
                    let judged = judge(q, &[8, i, 3, value]);
                    assert!(
                        !matches!(judged, Some(Ok((Security::Secure, _)))),
                        "{qname} {qtype} with NSEC3 {i} altered ({value}): {judged:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_seed_runs_and_every_honest_answer_is_secure() {
        for seed in seeds() {
            run(&seed);
        }
        for (q, question) in QUESTIONS.iter().enumerate() {
            assert!(
                matches!(judge_honestly(q), Some((Security::Secure, _))),
                "{question:?}"
            );
        }
    }
}
