//! `dnssec_answer` target (issue 13): the in-core validator ([`Validator`]) judging answers
//! built from a small signed world, with the answers and every DS and DNSKEY reply it asks
//! for chosen by the fuzzer: honest, stripped of RRSIGs or of the authority section, timed
//! out, assembled record by record from the world's signed records, and with bytes flipped
//! after the question.
//!
//! The world: the root (its key is the only trust anchor) delegates `lab.` with a DS; `lab.`
//! holds `mx.lab. A`, `_25._tcp.mx.lab. TLSA`, `alias.lab. DNAME lab.` (RFC 6672: answers
//! below it carry an unsigned synthesised CNAME), `*.w.lab. A` (RFC 4592: answers below
//! `w.lab.` are expansions, proven with the NSEC at the wildcard) and an NSEC chain; the
//! root an NSEC chain too. The fuzzer may also move any record to another name and insert
//! altered copies of RRSIGs (label count, signer, key tag), the forgeries of
//! CVE-2017-15105 and of a wildcard proof built on another RRSIG's label count. Both keys are Ed25519 with fixed private keys, so the fuzzer cannot sign anything.
//! Nothing in it is insecure (no unsigned delegation, no NSEC3, no unsupported algorithm).
//!
//! Oracles:
//! - `Secure` only for the truth: data only when every record is one of the world's signed
//!   records, unchanged; NXDOMAIN only for a name the world does not have; NODATA only for a
//!   name the world has without that type;
//! - never `Insecure`: no proof of an insecure delegation exists in this world, so one would
//!   be a downgrade;
//! - with every reply honest, the answer is `Secure` (the validator accepts valid data);
//! - work stays within [`MAX_CHAIN_LOOKUPS`], and a judgement still waiting always has a
//!   lookup to wait for (a check would hang otherwise).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, DNSKEY, DS, NSEC, RRSIG};
use hickory_proto::dnssec::{DigestType, SigningKey, Verifier, TBS};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NULL, SOA, TLSA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::BinEncodable;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::dns::{check_response, Answer, Checked, Expected, LookupError, RcodeClass, Security};
use crate::dnssec::{TrustAnchor, Validator, MAX_CHAIN_LOOKUPS};
use crate::time::Timestamp;

/// The time every case is judged at.
pub const NOW: u64 = 1_800_000_000;

/// The root's Ed25519 key (PKCS#8 v2, fixed: a fuzz world, not a secret).
const ROOT_KEY: &str = "3053020101300506032b65700422042056c0d7b7cb50eee2fc831a4237efb2620ac43b1954323a671ec9ac74fdad98efa1230321004c3dd141bd2b0c849c19ce135896a5c83999d6ffe98786dccb90c0a0a1147d10";
/// `lab.`'s Ed25519 key.
const LAB_KEY: &str = "3053020101300506032b657004220420c654223d61a68babf32ddeede689bab9ad445db986f330d9d343bb7261f467e2a1230321009b0ee23c906fc64b1529f2693245d8801a214cf4f5171a2d9f2350fc523ff803";

/// The questions a case can start from: (name, type).
pub const QUESTIONS: [(&str, RecordType); 12] = [
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
];

/// Names a forged record can be moved to (mutation 6) or an altered RRSIG can name as its
/// signer (mutation 8).
const FORGED_NAMES: [&str; 11] = [
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
];

/// The wildcard of the world: every name below `w.lab.` has its A record (RFC 4592).
const WILDCARD: &str = "*.w.lab.";

/// The signed world.
struct World {
    /// Every record, RRSIGs included, with the zone that serves it.
    records: Vec<(Name, Record)>,
    anchor: TrustAnchor,
    /// The names that exist (empty non-terminals included), with their types.
    types: Vec<(Name, Vec<RecordType>)>,
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

fn build_world() -> Option<World> {
    use RecordType::{DNSKEY as KEY, DS as DSR, NS, NSEC as NSC, RRSIG as SIG, SOA as SOAT};
    let root_key = key(ROOT_KEY)?;
    let lab_key = key(LAB_KEY)?;
    let root = Name::root();
    let lab = name("lab.");
    let root_dnskey = DNSKEY::with_flags(257, root_key.to_public_key().ok()?);
    let lab_dnskey = DNSKEY::with_flags(257, lab_key.to_public_key().ok()?);
    let dnskey =
        |owner: &str, k: &DNSKEY| record(owner, RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())));
    let digest = lab_dnskey.to_digest(&lab, DigestType::SHA256).ok()?;
    let ds = DS::new(
        lab_dnskey.calculate_key_tag().ok()?,
        lab_dnskey.algorithm(),
        DigestType::SHA256,
        digest.as_ref().to_vec(),
    );
    let dname_target = name("lab.").to_bytes().ok()?;
    // Each zone's RRsets, one record each, signed by the zone's key.
    let root_sets = [
        dnskey(".", &root_dnskey),
        soa("."),
        record("lab.", RData::DNSSEC(DNSSECRData::DS(ds))),
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
        nsec("_25._tcp.mx.lab.", WILDCARD, &[RecordType::TLSA, SIG, NSC]),
        nsec(WILDCARD, "lab.", &[RecordType::A, SIG, NSC]),
    ];
    let mut records = Vec::new();
    for set in root_sets {
        signed(&root_key, &root, vec![set], &mut records)?;
    }
    for set in lab_sets {
        signed(&lab_key, &lab, vec![set], &mut records)?;
    }
    let anchor = TrustAnchor::from_dnskey_record(root.clone(), root_dnskey);
    let types = vec![
        (root, vec![NS, SOAT, SIG, NSC, KEY]),
        (lab, vec![NS, SOAT, SIG, NSC, KEY, DSR]),
        (name("alias.lab."), vec![RecordType::DNAME, SIG, NSC]),
        (name("mx.lab."), vec![RecordType::A, SIG, NSC]),
        (name("_tcp.mx.lab."), vec![]),
        (name("_25._tcp.mx.lab."), vec![RecordType::TLSA, SIG, NSC]),
        (name("w.lab."), vec![]),
        (name(WILDCARD), vec![RecordType::A, SIG, NSC]),
    ];
    Some(World {
        records,
        anchor,
        types,
    })
}

fn world() -> Option<&'static World> {
    static WORLD: OnceLock<Option<World>> = OnceLock::new();
    WORLD.get_or_init(build_world).as_ref()
}

/// The types a name has through the wildcard: every name strictly below `w.lab.` but the
/// wildcard itself (RFC 4592 sec. 2.1.1), with no names of its own below it in this world.
fn wildcard_types(qname: &Name) -> Option<Vec<RecordType>> {
    let parent = name("w.lab.");
    (parent.zone_of(qname) && *qname != parent && *qname != name(WILDCARD))
        .then(|| vec![RecordType::A])
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
    let covers = |r: &Record| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => s.input().type_covered,
        _ => r.record_type(),
    };
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
    if let Some(types) = wildcard_types(qname) {
        // RFC 4035 sec. 3.1.3.3: the expansion with the wildcard's RRSIG, and the NSEC that
        // proves no closer name exists; for another type a wildcard NODATA.
        let wildcard = name(WILDCARD);
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

/// One reply, as the fuzzer chose it; `None` for a failed lookup. Returns whether it was
/// honest too.
fn reply(
    w: &World,
    bytes: &mut Bytes<'_>,
    qname: &Name,
    qtype: RecordType,
) -> (Result<Answer, LookupError>, bool) {
    let kind = bytes.byte().unwrap_or(0);
    let (mut rcode, mut answer, mut authority) = honest(w, qname, qtype);
    let mut flips = Vec::new();
    let is_honest = kind.is_multiple_of(10);
    match kind % 10 {
        0 => {}
        1 => {
            answer.retain(|r| r.record_type() != RecordType::RRSIG);
            authority.retain(|r| r.record_type() != RecordType::RRSIG);
        }
        2 => authority.clear(),
        3 => return (Err(LookupError::Timeout), false),
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
            let to =
                name(FORGED_NAMES[usize::from(bytes.byte().unwrap_or(0)) % FORGED_NAMES.len()]);
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
            // signer or key tag, with the same signature bytes
            let i = usize::from(bytes.byte().unwrap_or(0));
            let what = bytes.byte().unwrap_or(0);
            let value = bytes.byte().unwrap_or(0);
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
            if let Some(&(in_answer, j)) = sigs.get(i % sigs.len().max(1)) {
                let section = if in_answer {
                    &mut answer
                } else {
                    &mut authority
                };
                let original = section[j].clone();
                if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &original.data {
                    let mut input = sig.input().clone();
                    match what % 3 {
                        0 => input.num_labels = value % 8,
                        1 => {
                            input.signer_name =
                                name(FORGED_NAMES[usize::from(value) % FORGED_NAMES.len()])
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
        return (Err(LookupError::Timeout), false);
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
        Checked::Final(result) => (result, is_honest),
        _ => (Err(LookupError::Timeout), false),
    }
}

/// Whether a secure `answer` says only what the world holds.
fn truthful(w: &World, answer: &Answer) -> bool {
    let types = w
        .types
        .iter()
        .find(|(n, _)| *n == answer.final_name)
        .map(|(_, t)| t.clone());
    let types = types.or_else(|| wildcard_types(&answer.final_name));
    let expanded = |r: &Record| {
        wildcard_types(&r.name).is_some_and(|t| t.contains(&r.record_type()))
            && w.records
                .iter()
                .any(|(_, known)| known.name == name(WILDCARD) && known.data == r.data)
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
    let (main, mut all_honest) = reply(w, &mut bytes, &qname, qtype);
    let Ok(answer) = main else {
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
            let (result, honest) = reply(w, &mut bytes, &name, rtype);
            all_honest &= honest;
            validator.on_fetched(&name, rtype, result);
        }
        assert!(any, "the validator waits with no lookup outstanding");
    }
    panic!("the validator did not decide within {MAX_CHAIN_LOOKUPS} lookups");
}

/// Validates question `question` (an index into [`QUESTIONS`]) from the trust anchor with
/// honest replies throughout, in a fresh validator (no zone validated yet): the work of one
/// cold chain, for the benchmark. Returns the status and the DS/DNSKEY lookups it took.
pub fn judge_honestly(question: usize) -> Option<(Security, usize)> {
    let w = world()?;
    let (qname, qtype) = QUESTIONS[question % QUESTIONS.len()];
    let qname = name(qname);
    let (main, _) = reply(w, &mut Bytes(&[]), &qname, qtype);
    let answer = main.ok()?;
    let mut validator = Validator::new(vec![w.anchor.clone()], Timestamp::from_unix_secs(NOW));
    for _ in 0..=MAX_CHAIN_LOOKUPS {
        if let Some(result) = validator.judge(&answer) {
            return result.ok().map(|j| (j.security, validator.lookups()));
        }
        while let Some((name, rtype)) = validator.poll_request() {
            let (result, _) = reply(w, &mut Bytes(&[]), &name, rtype);
            validator.on_fetched(&name, rtype, result);
        }
    }
    None
}

/// Seeds: every question with honest replies, then the same with the answer stripped of its
/// RRSIGs, without its authority section, with a record moved to another name, an RRSIG copy
/// with another label count, another question's authority, and a DS reply stripped or timing
/// out.
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
    out
}
