//! Attacks on the in-core validator found by review (issue 13), each an end-to-end case:
//! answers built as DNS wire messages, parsed by the client's own `check_response`, judged by
//! the `Validator` with every DS and DNSKEY lookup it asks answered by a small signed world
//! (root `.` -> `example.`, Ed25519). Each forged answer must come out bogus, never secure or
//! insecure; each honest one secure.
use std::collections::BTreeMap;
use std::net::SocketAddr;

use daneel_core::dns::{check_response, Answer, Checked, Expected, LookupError, Security};
use daneel_core::dnssec::{TrustAnchor, Validator};
use daneel_core::Timestamp;
use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, DNSKEY, DS, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{DigestType, Nsec3HashAlgorithm, SigningKey, Verifier, TBS};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A as Ardata, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use rustls_pki_types::PrivatePkcs8KeyDer;

const ROOT_KEY: &str = "3053020101300506032b65700422042056c0d7b7cb50eee2fc831a4237efb2620ac43b1954323a671ec9ac74fdad98efa1230321004c3dd141bd2b0c849c19ce135896a5c83999d6ffe98786dccb90c0a0a1147d10";
const EX_KEY: &str = "3053020101300506032b657004220420c654223d61a68babf32ddeede689bab9ad445db986f330d9d343bb7261f467e2a1230321009b0ee23c906fc64b1529f2693245d8801a214cf4f5171a2d9f2350fc523ff803";
const NOW: u64 = 1_800_000_000;
use RecordType::*;

/// A name.
fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}
struct Zone {
    name: Name,
    key: Ed25519SigningKey,
    dnskey: DNSKEY,
}
fn zone(name: &str, hex: &str) -> Zone {
    let der = data_encoding::HEXLOWER.decode(hex.as_bytes()).unwrap();
    let key = Ed25519SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(der)).unwrap();
    let dnskey = DNSKEY::with_flags(257, key.to_public_key().unwrap());
    Zone {
        name: n(name),
        key,
        dnskey,
    }
}
fn rec(owner: &Name, data: RData) -> Record {
    Record::from_rdata(owner.clone(), 3600, data)
}
fn rrsig_with(z: &Zone, owner: &Name, recs: &[Record], labels: u8) -> RRSIG {
    let input = SigInput {
        type_covered: recs[0].record_type(),
        algorithm: z.key.algorithm(),
        num_labels: labels,
        original_ttl: 3600,
        sig_expiration: SerialNumber::new((NOW + 86_400) as u32),
        sig_inception: SerialNumber::new((NOW - 86_400) as u32),
        key_tag: z.dnskey.calculate_key_tag().unwrap(),
        signer_name: z.name.clone(),
    };
    let tbs = TBS::from_input(owner, DNSClass::IN, &input, recs.iter()).unwrap();
    RRSIG::from_sig(input, z.key.sign(&tbs).unwrap())
}
/// The RRset and its RRSIG record (owner `shown`, signed as `owner`).
fn signed(z: &Zone, recs: Vec<Record>) -> Vec<Record> {
    let owner = recs[0].name.clone();
    let sig = rrsig_with(z, &owner, &recs, owner.num_labels());
    let mut out = recs;
    out.push(rec(&owner, RData::DNSSEC(DNSSECRData::RRSIG(sig))));
    out
}
fn sigrec(owner: &Name, s: RRSIG) -> Record {
    rec(owner, RData::DNSSEC(DNSSECRData::RRSIG(s)))
}
fn nsec(owner: &str, next: &str, types: &[RecordType]) -> Record {
    rec(
        &n(owner),
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(n(next), types.iter().copied()))),
    )
}
fn soa(z: &str) -> Record {
    rec(
        &n(z),
        RData::SOA(SOA::new(n("ns."), n("h."), 1, 3600, 600, 86400, 300)),
    )
}
fn a(owner: &str) -> Record {
    rec(&n(owner), RData::A(Ardata::new(192, 0, 2, 1)))
}

fn wire(
    qname: &Name,
    qtype: RecordType,
    rcode: ResponseCode,
    ans: Vec<Record>,
    auth: Vec<Record>,
) -> Result<Answer, LookupError> {
    let mut msg = Message::new(7, MessageType::Response, OpCode::Query);
    msg.metadata.checking_disabled = true;
    msg.metadata.response_code = rcode;
    let mut q = Query::query(qname.clone(), qtype);
    q.set_query_class(DNSClass::IN);
    msg.add_query(q);
    for r in ans {
        msg.add_answer(r);
    }
    for r in auth {
        msg.add_authority(r);
    }
    let bytes = msg.to_vec().unwrap();
    let exp = Expected {
        id: 7,
        qname: qname.clone(),
        qtype,
        checking_disabled: true,
    };
    match check_response(
        &exp,
        &bytes,
        Timestamp::from_unix_secs(NOW),
        SocketAddr::from(([127, 0, 0, 1], 53)),
    ) {
        Checked::Final(r) => r,
        other => panic!("{other:?}"),
    }
}

/// What the world serves for one question: answer, authority, response code.
type Served = (Vec<Record>, Vec<Record>, ResponseCode);

/// root `.` -> `example.` (DS), both Ed25519; `serve` answers further lookups.
struct World {
    root: Zone,
    ex: Zone,
    extra: BTreeMap<(Name, RecordType), Served>,
}
impl World {
    fn new() -> World {
        World {
            root: zone(".", ROOT_KEY),
            ex: zone("example.", EX_KEY),
            extra: BTreeMap::new(),
        }
    }
    fn serve(&self, name: &Name, rtype: RecordType) -> Result<Answer, LookupError> {
        if let Some((a, au, rc)) = self.extra.get(&(name.clone(), rtype)) {
            return wire(name, rtype, *rc, a.clone(), au.clone());
        }
        let ex = &self.ex;
        let root = &self.root;
        match (name.to_string().as_str(), rtype) {
            (".", DNSKEY) => wire(
                name,
                rtype,
                ResponseCode::NoError,
                signed(
                    root,
                    vec![rec(
                        name,
                        RData::DNSSEC(DNSSECRData::DNSKEY(root.dnskey.clone())),
                    )],
                ),
                vec![],
            ),
            ("example.", DNSKEY) => wire(
                name,
                rtype,
                ResponseCode::NoError,
                signed(
                    ex,
                    vec![rec(
                        name,
                        RData::DNSSEC(DNSSECRData::DNSKEY(ex.dnskey.clone())),
                    )],
                ),
                vec![],
            ),
            ("example.", DS) => {
                let d = ex.dnskey.to_digest(&ex.name, DigestType::SHA256).unwrap();
                let ds = DS::new(
                    ex.dnskey.calculate_key_tag().unwrap(),
                    ex.dnskey.algorithm(),
                    DigestType::SHA256,
                    d.as_ref().to_vec(),
                );
                wire(
                    name,
                    rtype,
                    ResponseCode::NoError,
                    signed(root, vec![rec(name, RData::DNSSEC(DNSSECRData::DS(ds)))]),
                    vec![],
                )
            }
            _ => Err(LookupError::Timeout),
        }
    }
    fn judge(&self, anchors: Vec<TrustAnchor>, answer: &Answer) -> Security {
        let mut v = Validator::new(anchors, Timestamp::from_unix_secs(NOW));
        run(self, &mut v, answer)
    }
    fn root_anchor(&self) -> Vec<TrustAnchor> {
        vec![TrustAnchor::from_dnskey_record(
            Name::root(),
            self.root.dnskey.clone(),
        )]
    }
}

/// The status `v` gives `answer`, every lookup answered by `w`.
fn run(w: &World, v: &mut Validator, answer: &Answer) -> Security {
    for _ in 0..64 {
        if let Some(r) = v.judge(answer) {
            return match r {
                Ok(j) => j.security,
                Err(f) => f.security(),
            };
        }
        let mut any = false;
        while let Some((name, rtype)) = v.poll_request() {
            any = true;
            v.on_fetched(&name, rtype, w.serve(&name, rtype));
        }
        assert!(any, "waiting with nothing asked");
    }
    panic!("undecided")
}

/// RFC 4035 sec. 5.3.4: the wildcard proof uses the label count of the RRSIG that verified;
/// a garbage RRSIG put first with another count must not choose the wildcard.
#[test]
fn a_wildcard_label_count_comes_from_the_rrsig_that_verified() {
    let w = World::new();
    let ex = &w.ex;
    let q = n("a.b.example.");
    let wc = n("*.example.");
    let real = rrsig_with(ex, &wc, &[a("*.example.")], 1);
    let mut fi = real.input().clone();
    fi.num_labels = 2;
    let forged = RRSIG::from_sig(fi, vec![0; 64]);
    // the zone's real NSEC after b.example. (covers a.b.example. and *.b.example.)
    let auth = signed(ex, vec![nsec("b.example.", "example.", &[A, RRSIG, NSEC])]);
    let ans_forged = vec![
        a("a.b.example."),
        sigrec(&q, forged),
        sigrec(&q, real.clone()),
    ];
    let ans_plain = vec![a("a.b.example."), sigrec(&q, real)];
    let forged = wire(&q, A, ResponseCode::NoError, ans_forged, auth.clone()).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &forged), Security::Bogus);
    let plain = wire(&q, A, ResponseCode::NoError, ans_plain, auth).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &plain), Security::Bogus);
}

/// RFC 4035 sec. 4.3: the anchor covering the data governs; a signer above it neither
/// validates nor makes the data insecure.
#[test]
fn a_signer_above_the_anchor_is_bogus_not_insecure() {
    let w = World::new();
    let anchors = vec![TrustAnchor::from_dnskey_record(
        n("example."),
        w.ex.dnskey.clone(),
    )];
    let q = n("www.example.");
    let real = rrsig_with(&w.ex, &q, &[a("www.example.")], 2);
    let mut fi = real.input().clone();
    fi.signer_name = Name::root();
    let forged = RRSIG::from_sig(fi.clone(), vec![0; 64]);
    let ans = wire(
        &q,
        A,
        ResponseCode::NoError,
        vec![a("www.example."), sigrec(&q, forged)],
        vec![],
    )
    .unwrap();
    assert_eq!(w.judge(anchors.clone(), &ans), Security::Bogus);
    let honest = wire(
        &q,
        A,
        ResponseCode::NoError,
        signed(&w.ex, vec![a("www.example.")]),
        vec![],
    )
    .unwrap();
    assert_eq!(w.judge(anchors.clone(), &honest), Security::Secure);
    // a denial whose NSEC claims to be signed by the root
    let nrec = nsec("www.example.", "example.", &[A, RRSIG, NSEC]);
    let s = rrsig_with(&w.ex, &q, std::slice::from_ref(&nrec), 2);
    let mut si = s.input().clone();
    si.signer_name = Name::root();
    let nodata = wire(
        &q,
        TLSA,
        ResponseCode::NoError,
        vec![],
        vec![nrec, sigrec(&q, RRSIG::from_sig(si, vec![0; 64]))],
    )
    .unwrap();
    assert_eq!(w.judge(anchors, &nodata), Security::Bogus);
}
/// An NSEC3 chain (no salt, no extra iterations) of `names` in zone `z`.
fn nsec3_chain(
    z: &Zone,
    names: &[(&str, Vec<RecordType>)],
    opt_out: bool,
) -> Vec<(Vec<u8>, Record)> {
    let h = |x: &Name| {
        Nsec3HashAlgorithm::SHA1
            .hash(&[], x, 0)
            .unwrap()
            .as_ref()
            .to_vec()
    };
    let mut hs: Vec<(Vec<u8>, Vec<RecordType>)> =
        names.iter().map(|(x, t)| (h(&n(x)), t.clone())).collect();
    hs.sort();
    (0..hs.len())
        .map(|i| {
            let next = hs[(i + 1) % hs.len()].0.clone();
            let owner = n(&format!(
                "{}.{}",
                data_encoding::BASE32HEX_NOPAD
                    .encode(&hs[i].0)
                    .to_ascii_lowercase(),
                z.name
            ));
            (
                hs[i].0.clone(),
                rec(
                    &owner,
                    RData::DNSSEC(DNSSECRData::NSEC3(NSEC3::new(
                        Nsec3HashAlgorithm::SHA1,
                        opt_out,
                        0,
                        vec![],
                        next,
                        hs[i].1.clone(),
                    ))),
                ),
            )
        })
        .collect()
}
/// The record of `chain` that covers `name`.
fn covering(chain: &[(Vec<u8>, Record)], name: &Name) -> Record {
    let h = Nsec3HashAlgorithm::SHA1
        .hash(&[], name, 0)
        .unwrap()
        .as_ref()
        .to_vec();
    for (i, (o, r)) in chain.iter().enumerate() {
        let nx = &chain[(i + 1) % chain.len()].0;
        if (o < nx && *o < h && h < *nx) || (o >= nx && (*o < h || h < *nx)) {
            return r.clone();
        }
    }
    panic!("no cover")
}
/// The record of `chain` that matches `name`.
fn matching(chain: &[(Vec<u8>, Record)], name: &Name) -> Record {
    let h = Nsec3HashAlgorithm::SHA1
        .hash(&[], name, 0)
        .unwrap()
        .as_ref()
        .to_vec();
    chain.iter().find(|(o, _)| *o == h).unwrap().1.clone()
}

/// RFC 5155 sec. 8.4: an NXDOMAIN under opt-out still needs the wildcard denied; a NODATA
/// may do without (erratum 3441), so it is insecure, never secure.
#[test]
fn an_opt_out_nxdomain_needs_the_wildcard_denied() {
    let w = World::new();
    let ex = &w.ex;
    let chain = nsec3_chain(
        ex,
        &[
            ("example.", vec![SOA, NS, DNSKEY, RRSIG, NSEC3PARAM]),
            ("*.example.", vec![A, RRSIG]),
            ("www.example.", vec![A, RRSIG]),
        ],
        true,
    );
    let q = n("foo.example."); // exists through *.example. A
    let mut auth = signed(ex, vec![matching(&chain, &n("example."))]);
    auth.extend(signed(ex, vec![covering(&chain, &q)]));
    auth.extend(signed(ex, vec![soa("example.")]));
    let nxdomain = wire(&q, A, ResponseCode::NXDomain, vec![], auth.clone()).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nxdomain), Security::Bogus);
    let nodata = wire(&q, A, ResponseCode::NoError, vec![], auth).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nodata), Security::Insecure);
}

/// An NSEC owned by the wildcard itself verifies (its label count is the wildcard's), so an
/// honest wildcard NODATA and a wildcard answer are secure.
#[test]
fn an_nsec_owned_by_the_wildcard_verifies() {
    let w = World::new();
    let ex = &w.ex;
    let q = n("foo.example.");
    let wnsec = signed(
        ex,
        vec![nsec("*.example.", "www.example.", &[A, RRSIG, NSEC])],
    );
    let mut auth = wnsec.clone();
    auth.extend(signed(
        ex,
        vec![nsec(
            "example.",
            "*.example.",
            &[SOA, NS, DNSKEY, RRSIG, NSEC],
        )],
    ));
    auth.extend(signed(ex, vec![soa("example.")]));
    let nodata = wire(&q, TLSA, ResponseCode::NoError, vec![], auth.clone()).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nodata), Security::Secure);
    let real = rrsig_with(ex, &n("*.example."), &[a("*.example.")], 1);
    let ans = vec![a("foo.example."), sigrec(&q, real)];
    let answer = wire(&q, A, ResponseCode::NoError, ans, auth).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &answer), Security::Secure);
}

/// An island of trust under an insecure delegation stays secure whatever the check walked
/// before; a forged RRSIG naming the insecure parent is bogus.
#[test]
fn an_island_under_an_insecure_delegation_stays_secure() {
    let mut w = World::new();
    let isl = zone("isl.example.", EX_KEY);
    // root: example. is an unsigned delegation (NSEC: NS, no DS)
    w.extra.insert(
        (n("example."), DS),
        (
            vec![],
            signed(&w.root, vec![nsec("example.", ".", &[NS, RRSIG, NSEC])]),
            ResponseCode::NoError,
        ),
    );
    w.extra.insert(
        (n("isl.example."), DNSKEY),
        (
            signed(
                &isl,
                vec![rec(
                    &n("isl.example."),
                    RData::DNSSEC(DNSSECRData::DNSKEY(isl.dnskey.clone())),
                )],
            ),
            vec![],
            ResponseCode::NoError,
        ),
    );
    let anchors = vec![
        TrustAnchor::from_dnskey_record(Name::root(), w.root.dnskey.clone()),
        TrustAnchor::from_dnskey_record(n("isl.example."), isl.dnskey.clone()),
    ];
    let q = n("www.isl.example.");
    let good = wire(
        &q,
        A,
        ResponseCode::NoError,
        signed(&isl, vec![a("www.isl.example.")]),
        vec![],
    )
    .unwrap();
    let mut v = Validator::new(anchors.clone(), Timestamp::from_unix_secs(NOW));
    assert_eq!(run(&w, &mut v, &good), Security::Secure);
    let unsigned = wire(
        &n("foo.example."),
        A,
        ResponseCode::NoError,
        vec![a("foo.example.")],
        vec![],
    )
    .unwrap();
    assert_eq!(run(&w, &mut v, &unsigned), Security::Insecure);
    assert_eq!(run(&w, &mut v, &good), Security::Secure);
    let real = rrsig_with(&isl, &q, &[a("www.isl.example.")], 3);
    let mut fi = real.input().clone();
    fi.signer_name = n("example.");
    let forged = wire(
        &q,
        A,
        ResponseCode::NoError,
        vec![
            a("www.isl.example."),
            sigrec(&q, RRSIG::from_sig(fi, vec![0; 64])),
        ],
        vec![],
    )
    .unwrap();
    let mut v2 = Validator::new(anchors, Timestamp::from_unix_secs(NOW));
    assert_eq!(run(&w, &mut v2, &forged), Security::Bogus);
}

/// CVE-2017-15105: an NSEC signed as a wildcard expansion proves nothing at the name it is
/// shown under, NXDOMAIN or NODATA.
#[test]
fn a_wildcard_expanded_nsec_proves_nothing() {
    let w = World::new();
    let ex = &w.ex;
    let wnsec = nsec("*.example.", "www.example.", &[A, RRSIG, NSEC]);
    let wsig = rrsig_with(ex, &n("*.example."), std::slice::from_ref(&wnsec), 1);
    let mut forged_owner = Name::from_labels(vec![b"!" as &[u8], b"example"]).unwrap();
    forged_owner.set_fqdn(true);
    let forged = rec(&forged_owner, wnsec.data.clone());
    let q = n("foo.example."); // exists through *.example. A
    let mut auth = vec![forged, sigrec(&forged_owner, wsig.clone())];
    auth.extend(signed(ex, vec![soa("example.")]));
    let nx = wire(&q, A, ResponseCode::NXDomain, vec![], auth.clone()).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nx), Security::Bogus);
    let nx_self = wire(&n("*.example."), A, ResponseCode::NXDomain, vec![], auth).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nx_self), Security::Bogus);
    // re-owned at an existing name: a NODATA for its TLSA
    let q = n("_25._tcp.mx.example.");
    let mut auth = vec![rec(&q, wnsec.data.clone()), sigrec(&q, wsig)];
    auth.extend(signed(ex, vec![soa("example.")]));
    let nodata = wire(&q, TLSA, ResponseCode::NoError, vec![], auth).unwrap();
    assert_eq!(w.judge(w.root_anchor(), &nodata), Security::Bogus);
}
