//! The DNSSEC primitives of the in-core validator (issue 13) on real signatures: keys made
//! with hickory-proto's ring signers through the test world's signing helper
//! (`daneel_tests::world::signing`, the one the signed world uses), RRsets signed over their
//! canonical form, every message serialized to DNS wire format and parsed back before it is
//! validated.

use daneel_core::dnssec::{
    match_anchors, match_ds, parse_anchors, root_anchors, verify_rrset, DsMatch, SignatureError,
    TrustAnchor, WindowError, MAX_VERIFICATIONS,
};
use daneel_core::Timestamp;
use daneel_tests::world::signing::ZoneKey as Key;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, Verifier};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::TLSA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// 2026-01-01T00:00:00Z.
const NOW: u32 = 1_767_225_600;
const DAY: u32 = 86_400;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// An RRSIG like [`Key::sign`] over `records` by `key`, valid over [`VALID`], naming the key
/// as `as_key` (the same public key with other flags), so that only the flags tell the two
/// apart.
fn sign_as(key: &Key, as_key: &DNSKEY, zone: &Name, owner: &Name, records: &[Record]) -> RRSIG {
    let mut input = key
        .sign(zone, owner, records, owner.num_labels(), VALID)
        .input()
        .clone();
    input.key_tag = as_key.calculate_key_tag().unwrap();
    key.sign_input(input, owner, records)
}

fn tlsa_rrset(owner: &Name, data: u8) -> Vec<Record> {
    [data, data.wrapping_add(1)]
        .iter()
        .map(|d| {
            Record::from_rdata(
                owner.clone(),
                3600,
                RData::TLSA(TLSA::new(3u8.into(), 1u8.into(), 1u8.into(), vec![*d; 32])),
            )
        })
        .collect()
}

/// The records and RRSIGs after a trip through the DNS wire format.
fn over_the_wire(records: &[Record], rrsigs: &[RRSIG]) -> (Vec<Record>, Vec<RRSIG>) {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    for r in records {
        m.add_answer(r.clone());
    }
    for s in rrsigs {
        m.add_answer(Record::from_rdata(
            records[0].name.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::RRSIG(s.clone())),
        ));
    }
    let parsed = Message::from_vec(&m.to_vec().unwrap()).unwrap();
    let mut data = Vec::new();
    let mut sigs = Vec::new();
    for r in &parsed.answers {
        match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => sigs.push(s.clone()),
            _ => data.push(r.clone()),
        }
    }
    (data, sigs)
}

fn at(secs: u32) -> Timestamp {
    Timestamp::from_unix_secs(u64::from(secs))
}

const VALID: (u32, u32) = (NOW - DAY, NOW + 7 * DAY);

/// [`verify_rrset`] for the TLSA RRset of `_25._tcp.mx.example.net` in `example.net`, at
/// `now`, the question most tests ask.
fn tlsa_check(
    records: &[Record],
    sigs: &[RRSIG],
    keys: &[DNSKEY],
    now: u32,
) -> Result<daneel_core::dnssec::SignedBy, SignatureError> {
    verify_rrset(
        &name("_25._tcp.mx.example.net."),
        RecordType::TLSA,
        records,
        sigs,
        &name("example.net."),
        keys,
        at(now),
    )
}

#[test]
fn a_valid_signature_verifies_and_names_its_key() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    for key in [Key::generated_ed25519(257), Key::generated_p256(256)] {
        let records = tlsa_rrset(&owner, 1);
        let sig = key.sign(&zone, &owner, &records, owner.num_labels(), VALID);
        let (records, sigs) = over_the_wire(&records, &[sig]);
        let signed = tlsa_check(&records, &sigs, std::slice::from_ref(key.dnskey()), NOW).unwrap();
        assert_eq!(signed.key_tag, key.tag());
        assert!(!signed.wildcard);
    }
}

#[test]
fn changed_data_a_wrong_signer_or_a_missing_signature_fail() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    let key = Key::generated_ed25519(257);
    let records = tlsa_rrset(&owner, 1);
    let sig = key.sign(&zone, &owner, &records, owner.num_labels(), VALID);
    let keys = std::slice::from_ref(key.dnskey());
    let check = |records: &[Record], sigs: &[RRSIG], zone: &Name| {
        verify_rrset(&owner, RecordType::TLSA, records, sigs, zone, keys, at(NOW))
    };
    // Another RRset under the same signature: a forged TLSA record.
    let forged = tlsa_rrset(&owner, 9);
    assert_eq!(
        check(&forged, std::slice::from_ref(&sig), &zone),
        Err(SignatureError::BadSignature)
    );
    // The signature claims another zone than the keys'.
    assert_eq!(
        check(&records, std::slice::from_ref(&sig), &name("example.org.")),
        Err(SignatureError::WrongSigner)
    );
    assert_eq!(
        check(&records, &[], &zone),
        Err(SignatureError::NoSignature)
    );
}

#[test]
fn the_window_is_checked_against_the_given_time() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    let key = Key::generated_ed25519(257);
    let records = tlsa_rrset(&owner, 1);
    let sig = key.sign(&zone, &owner, &records, owner.num_labels(), VALID);
    let keys = std::slice::from_ref(key.dnskey());
    let check = |now| tlsa_check(&records, std::slice::from_ref(&sig), keys, now);
    assert!(check(NOW).is_ok());
    assert_eq!(
        check(NOW + 8 * DAY),
        Err(SignatureError::Window {
            error: WindowError::Expired
        })
    );
    assert_eq!(
        check(NOW - 2 * DAY),
        Err(SignatureError::Window {
            error: WindowError::NotYetValid
        })
    );
}

/// A key without the zone-key flag, or with the revoke flag, validates nothing (RFC 4034
/// sec. 2.1.1, RFC 5011 sec. 2.1); an RRSIG by an algorithm this validator lacks is told
/// apart from a bad one.
#[test]
fn only_zone_keys_that_are_not_revoked_count() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    let key = Key::generated_ed25519(257);
    let records = tlsa_rrset(&owner, 1);
    let sig = key.sign(&zone, &owner, &records, owner.num_labels(), VALID);
    for flags in [0u16, 1, 257 | 0x0080, 256 | 0x0080] {
        // The signature names the key with these flags: only the flags can refuse it.
        let as_key = key.with_flags(flags);
        let sig = sign_as(&key, &as_key, &zone, &owner, &records);
        let result = tlsa_check(
            &records,
            std::slice::from_ref(&sig),
            std::slice::from_ref(&as_key),
            NOW,
        );
        assert_eq!(result, Err(SignatureError::NoKey), "flags {flags}");
    }
    // The same key with flags 256 (zone key) validates.
    let zsk = key.with_flags(256);
    let sig256 = sign_as(&key, &zsk, &zone, &owner, &records);
    assert!(tlsa_check(&records, &[sig256], &[zsk], NOW).is_ok());
    let mut unknown = sig.input().clone();
    unknown.algorithm = Algorithm::Unknown(200);
    let odd = RRSIG::from_sig(unknown, sig.sig().to_vec());
    assert_eq!(
        tlsa_check(&records, &[odd], std::slice::from_ref(key.dnskey()), NOW),
        Err(SignatureError::UnsupportedAlgorithm)
    );
}

/// One valid signature is enough whatever the others (RFC 6840 sec. 5.4, 5.11): a bad
/// ECDSA signature beside a good Ed25519 one validates.
#[test]
fn one_good_signature_among_bad_ones_is_enough() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    let (ed, ec) = (Key::generated_ed25519(257), Key::generated_p256(256));
    let records = tlsa_rrset(&owner, 1);
    let good = ed.sign(&zone, &owner, &records, owner.num_labels(), VALID);
    let bad = ec.sign(
        &zone,
        &owner,
        &tlsa_rrset(&owner, 5),
        owner.num_labels(),
        VALID,
    );
    let (records, sigs) = over_the_wire(&records, &[bad, good]);
    let signed = tlsa_check(
        &records,
        &sigs,
        &[ec.dnskey().clone(), ed.dnskey().clone()],
        NOW,
    )
    .unwrap();
    assert_eq!(signed.key_tag, ed.tag());
}

/// Many signatures that all need checking stop at [`MAX_VERIFICATIONS`] (KeyTrap).
#[test]
fn verification_work_is_bounded() {
    let zone = name("example.net.");
    let owner = name("_25._tcp.mx.example.net.");
    let key = Key::generated_ed25519(257);
    let records = tlsa_rrset(&owner, 1);
    let bad: Vec<RRSIG> = (0..MAX_VERIFICATIONS + 1)
        .map(|i| {
            key.sign(
                &zone,
                &owner,
                &tlsa_rrset(&owner, 50 + i as u8),
                owner.num_labels(),
                VALID,
            )
        })
        .collect();
    assert_eq!(
        tlsa_check(&records, &bad, std::slice::from_ref(key.dnskey()), NOW),
        Err(SignatureError::WorkLimit)
    );
}

/// An RRset synthesised from `*.example.net` for `host.example.net` verifies with the
/// wildcard's label count and says so (RFC 4035 sec. 5.3.4).
#[test]
fn a_wildcard_expansion_verifies_and_is_flagged() {
    let zone = name("example.net.");
    let wildcard = name("*.example.net.");
    let key = Key::generated_ed25519(257);
    let signed_records = tlsa_rrset(&wildcard, 1);
    let sig = key.sign(&zone, &wildcard, &signed_records, 2, VALID);
    let host = name("host.example.net.");
    let expanded = tlsa_rrset(&host, 1);
    let signed = verify_rrset(
        &host,
        RecordType::TLSA,
        &expanded,
        &[sig],
        &zone,
        std::slice::from_ref(key.dnskey()),
        at(NOW),
    )
    .unwrap();
    assert!(signed.wildcard);
}

/// An RRset whose owner is the wildcard itself (the NSEC at `*.example.net` of a wildcard
/// proof, or a query for the literal `*`) verifies with its label count, which leaves the
/// `*` out (RFC 4034 sec. 3.1.3), and is not an expansion.
#[test]
fn an_rrset_at_a_literal_wildcard_owner_verifies() {
    let zone = name("example.net.");
    let wildcard = name("*.example.net.");
    let key = Key::generated_ed25519(257);
    let records = tlsa_rrset(&wildcard, 1);
    assert_eq!(wildcard.num_labels(), 2);
    let sig = key.sign(&zone, &wildcard, &records, 2, VALID);
    let (records, sigs) = over_the_wire(&records, &[sig]);
    let signed = verify_rrset(
        &wildcard,
        RecordType::TLSA,
        &records,
        &sigs,
        &zone,
        std::slice::from_ref(key.dnskey()),
        at(NOW),
    )
    .unwrap();
    assert!(!signed.wildcard);
}

/// DS matching (RFC 4035 sec. 5.2, RFC 4509 sec. 3).
#[test]
fn ds_records_vouch_for_keys_strong_digests_first() {
    let zone = name("example.net.");
    let key = Key::generated_ed25519(257);
    let other = Key::generated_ed25519(257);
    let ds = |k: &Key, digest: DigestType| {
        let d = k.dnskey().to_digest(&zone, digest).unwrap();
        DS::new(k.tag(), k.dnskey().algorithm(), digest, d.as_ref().to_vec())
    };
    let keys = [key.dnskey().clone()];
    assert_eq!(
        match_ds(&zone, &[ds(&key, DigestType::SHA256)], &keys),
        DsMatch::Vouched(keys.to_vec())
    );
    // SHA-1 alone still counts.
    assert_eq!(
        match_ds(&zone, &[ds(&key, DigestType::SHA1)], &keys),
        DsMatch::Vouched(keys.to_vec())
    );
    // A matching SHA-1 DS beside a SHA-256 one for another key: SHA-1 is ignored.
    assert_eq!(
        match_ds(
            &zone,
            &[ds(&key, DigestType::SHA1), ds(&other, DigestType::SHA256)],
            &keys
        ),
        DsMatch::Mismatch
    );
    // Only an unknown digest type, or an algorithm this validator lacks: insecure.
    let mut unknown = ds(&key, DigestType::SHA256);
    unknown = DS::new(
        unknown.key_tag(),
        unknown.algorithm(),
        DigestType::Unknown(99),
        unknown.digest().to_vec(),
    );
    assert_eq!(match_ds(&zone, &[unknown], &keys), DsMatch::NoSupportedDs);
    let alien = DS::new(
        key.tag(),
        Algorithm::Unknown(200),
        DigestType::SHA256,
        vec![0; 32],
    );
    assert_eq!(match_ds(&zone, &[alien], &keys), DsMatch::NoSupportedDs);
    // A DS that matches a revoked key (digest over its flags) vouches for nothing, while the
    // same DS matches when the revoke flag is not set in the flags it was made over.
    let revoked = Key::generated_ed25519(257 | 0x0080);
    assert_eq!(
        match_ds(
            &zone,
            &[ds(&revoked, DigestType::SHA256)],
            std::slice::from_ref(revoked.dnskey())
        ),
        DsMatch::Mismatch
    );
}

/// Trust anchors: the embedded root DS records vouch for no generated key; a DNSKEY anchor
/// pins its key; an anchor file's DS line works like the parent's DS.
#[test]
fn trust_anchors_vouch_for_their_keys_only() {
    let key = Key::generated_ed25519(257);
    let keys = [key.dnskey().clone()];
    assert_eq!(
        match_anchors(&Name::root(), &root_anchors(), &keys),
        DsMatch::Mismatch
    );
    let pinned = vec![TrustAnchor::from_dnskey_record(
        Name::root(),
        key.dnskey().clone(),
    )];
    assert_eq!(
        match_anchors(&Name::root(), &pinned, &keys),
        DsMatch::Vouched(keys.to_vec())
    );
    let digest = key
        .dnskey()
        .to_digest(&Name::root(), DigestType::SHA256)
        .unwrap();
    let line = format!(
        ". IN DS {} 15 2 {}\n",
        key.tag(),
        digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    );
    let anchors = parse_anchors(&line).unwrap();
    assert_eq!(
        match_anchors(&Name::root(), &anchors, &keys),
        DsMatch::Vouched(keys.to_vec())
    );
    // Anchors for another zone say nothing about this one.
    assert_eq!(
        match_anchors(&name("example.net."), &anchors, &keys),
        DsMatch::Mismatch
    );
}

mod nsec_proofs {
    //! NSEC denial proofs (RFC 4035 sec. 5.4, RFC 7129) over one small zone, chained in
    //! canonical order:
    //!
    //! ```text
    //! example.net.        -> a.example.net.       SOA NS DNSKEY
    //! a.example.net.      -> sub.example.net.     A
    //! sub.example.net.    -> x.y.example.net.     NS        (a delegation)
    //! x.y.example.net.    -> *.z.example.net.     A         (y.example.net: empty non-terminal)
    //! *.z.example.net.    -> example.net.         TXT       (a wildcard; the chain wraps)
    //! ```

    use super::name;
    use daneel_core::dnssec::{
        prove_denial, prove_wildcard_expansion, Denial, DenialError, NsecRecord,
    };
    use hickory_proto::dnssec::rdata::NSEC;
    use hickory_proto::rr::{Name, RecordType};
    use RecordType::*;

    fn nsec(owner: &str, next: &str, types: &[RecordType]) -> NsecRecord {
        NsecRecord {
            owner: name(owner),
            nsec: NSEC::new_cover_self(name(next), types.iter().copied()),
        }
    }

    fn zone() -> Vec<NsecRecord> {
        vec![
            nsec("example.net.", "a.example.net.", &[SOA, NS, DNSKEY]),
            nsec("a.example.net.", "sub.example.net.", &[A]),
            nsec("sub.example.net.", "x.y.example.net.", &[NS]),
            nsec("x.y.example.net.", "*.z.example.net.", &[A]),
            nsec("*.z.example.net.", "example.net.", &[TXT]),
        ]
    }

    fn deny(q: &str, t: RecordType) -> Result<Denial, DenialError> {
        prove_denial(&name(q), t, &name("example.net."), &zone())
    }

    /// hickory-proto's `Name` order is the canonical order of RFC 4034 sec. 6.1 (its own
    /// example list), which every proof below relies on.
    #[test]
    fn names_sort_in_canonical_order() {
        let sorted: [&[&[u8]]; 9] = [
            &[b"example"],
            &[b"a", b"example"],
            &[b"yljkjljk", b"a", b"example"],
            &[b"Z", b"a", b"example"],
            &[b"zABC", b"a", b"EXAMPLE"],
            &[b"z", b"example"],
            &[b"\x01", b"z", b"example"],
            &[b"*", b"z", b"example"],
            &[b"\x80", b"z", b"example"],
        ];
        let names: Vec<Name> = sorted
            .iter()
            .map(|labels| {
                let mut n = Name::from_labels(labels.iter().copied()).unwrap();
                n.set_fqdn(true);
                n
            })
            .collect();
        let mut shuffled = names.clone();
        shuffled.reverse();
        shuffled.sort();
        assert_eq!(shuffled, names);
    }

    #[test]
    fn nodata_needs_the_type_and_cname_absent() {
        assert_eq!(deny("a.example.net.", TLSA), Ok(Denial::NoData));
        assert_eq!(deny("a.example.net.", A), Err(DenialError::TypeExists));
        let mut records = zone();
        records[1] = nsec("a.example.net.", "sub.example.net.", &[CNAME]);
        assert_eq!(
            prove_denial(
                &name("a.example.net."),
                TLSA,
                &name("example.net."),
                &records
            ),
            Err(DenialError::TypeExists)
        );
    }

    #[test]
    fn nxdomain_needs_the_wildcard_denied_too() {
        assert_eq!(
            deny("b.example.net.", TLSA),
            Ok(Denial::NoName {
                closest_encloser: name("example.net.")
            })
        );
        // Without the apex NSEC, nothing denies *.example.net.
        let records: Vec<NsecRecord> = zone().into_iter().skip(1).collect();
        assert_eq!(
            prove_denial(
                &name("b.example.net."),
                TLSA,
                &name("example.net."),
                &records
            ),
            Err(DenialError::WildcardNotDenied)
        );
        // And with no NSEC covering the name, nothing is proven.
        assert_eq!(
            prove_denial(
                &name("b.example.net."),
                TLSA,
                &name("example.net."),
                &zone()[2..]
            ),
            Err(DenialError::NameNotCovered)
        );
    }

    #[test]
    fn an_empty_non_terminal_is_nodata() {
        assert_eq!(deny("y.example.net.", TLSA), Ok(Denial::NoData));
    }

    /// RFC 6840 sec. 4.4: the parent-side NSEC of a delegation proves only "no DS"; nothing
    /// below the delegation is proven absent by the parent's chain; a child-apex NSEC never
    /// proves "no DS".
    #[test]
    fn delegations_limit_what_an_nsec_proves() {
        assert_eq!(deny("sub.example.net.", DS), Ok(Denial::NoData));
        assert_eq!(
            deny("sub.example.net.", TLSA),
            Err(DenialError::WrongSideOfDelegation)
        );
        assert_eq!(
            deny("_25._tcp.mx.sub.example.net.", TLSA),
            Err(DenialError::NameNotCovered)
        );
        let child_apex = vec![nsec(
            "sub.example.net.",
            "a.sub.example.net.",
            &[SOA, NS, DNSKEY],
        )];
        assert_eq!(
            prove_denial(
                &name("sub.example.net."),
                DS,
                &name("example.net."),
                &child_apex
            ),
            Err(DenialError::WrongSideOfDelegation)
        );
    }

    /// A positive answer from `*.z.example.net` for `host.z.example.net` (RRSIG labels 3) is
    /// valid only when the NSEC proves `z.example.net` the closest encloser; with the labels
    /// of another source of synthesis it is not. A wildcard that exists without the type is
    /// a wildcard NODATA.
    #[test]
    fn wildcard_answers_and_wildcard_nodata() {
        let zone_name = name("example.net.");
        let q = name("host.z.example.net.");
        assert_eq!(prove_wildcard_expansion(&q, 3, &zone_name, &zone()), Ok(()));
        assert_eq!(
            prove_wildcard_expansion(&q, 2, &zone_name, &zone()),
            Err(DenialError::WildcardNotDenied)
        );
        assert_eq!(
            prove_wildcard_expansion(&name("a.example.net."), 2, &zone_name, &zone()),
            Err(DenialError::NameNotCovered)
        );
        assert_eq!(
            deny("host.z.example.net.", MX),
            Ok(Denial::WildcardNoData {
                closest_encloser: name("z.example.net.")
            })
        );
        assert_eq!(
            deny("host.z.example.net.", TXT),
            Err(DenialError::TypeExists)
        );
    }

    #[test]
    fn names_outside_the_zone_are_not_proven() {
        assert_eq!(deny("example.org.", TLSA), Err(DenialError::OutsideZone));
    }
}

mod nsec3_proofs {
    //! NSEC3 denial proofs (RFC 5155 sec. 8) over a zone hashed with salt `aabbccdd`:
    //! `example.net.` (SOA NS DNSKEY), `a.example.net.` (A), `sub.example.net.` (NS: a
    //! delegation), `z.example.net.` (an empty non-terminal) and `*.z.example.net.` (TXT),
    //! chained in hash order.

    use super::name;
    use daneel_core::dnssec::{
        prove_denial3, prove_wildcard_expansion3, DenialError, Nsec3Denial, Nsec3Expansion,
        Nsec3Record, MAX_NSEC3_ITERATIONS,
    };
    use hickory_proto::dnssec::rdata::NSEC3;
    use hickory_proto::dnssec::Nsec3HashAlgorithm;
    use hickory_proto::rr::{Name, RecordType};
    use RecordType::*;

    const SALT: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

    fn hash(n: &Name, iterations: u16) -> Vec<u8> {
        Nsec3HashAlgorithm::SHA1
            .hash(&SALT, n, iterations)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn base32hex(bytes: &[u8]) -> String {
        data_encoding::BASE32HEX_NOPAD
            .encode(bytes)
            .to_ascii_lowercase()
    }

    /// The chain of `names` (with their types) in `zone`, `opt_out` set on the records whose
    /// owner hash is in `opt_out_at`.
    fn chain(
        zone: &Name,
        names: &[(&str, &[RecordType])],
        iterations: u16,
        opt_out_at: &[Vec<u8>],
    ) -> Vec<Nsec3Record> {
        let mut hashed: Vec<(Vec<u8>, Vec<RecordType>)> = names
            .iter()
            .map(|(n, t)| (hash(&name(n), iterations), t.to_vec()))
            .collect();
        hashed.sort();
        (0..hashed.len())
            .map(|i| {
                let (h, types) = &hashed[i];
                let next = hashed[(i + 1) % hashed.len()].0.clone();
                Nsec3Record {
                    owner: name(&format!("{}.{}", base32hex(h), zone.to_ascii())),
                    nsec3: NSEC3::new(
                        Nsec3HashAlgorithm::SHA1,
                        opt_out_at.contains(h),
                        iterations,
                        SALT.to_vec(),
                        next,
                        types.iter().copied().chain([RRSIG]),
                    ),
                }
            })
            .collect()
    }

    const NAMES: [(&str, &[RecordType]); 5] = [
        ("example.net.", &[SOA, NS, DNSKEY, NSEC3PARAM]),
        ("a.example.net.", &[A]),
        ("sub.example.net.", &[NS]),
        ("z.example.net.", &[]),
        ("*.z.example.net.", &[TXT]),
    ];

    fn zone() -> Vec<Nsec3Record> {
        chain(&name("example.net."), &NAMES, 0, &[])
    }

    fn deny(q: &str, t: RecordType, records: &[Nsec3Record]) -> Result<Nsec3Denial, DenialError> {
        prove_denial3(&name(q), t, &name("example.net."), records)
    }

    /// RFC 5155 App. A: H(example) with salt aabbccdd and 12 iterations is
    /// 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom; an NSEC3 at that owner matches `example.`.
    #[test]
    fn the_rfc_5155_hash_vector_matches() {
        let zone = name("example.");
        assert_eq!(
            base32hex(&hash(&zone, 12)),
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
        );
        let record = Nsec3Record {
            owner: name("0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM.example."),
            nsec3: NSEC3::new(
                Nsec3HashAlgorithm::SHA1,
                false,
                12,
                SALT.to_vec(),
                vec![0; 20],
                [SOA, NS],
            ),
        };
        assert_eq!(
            prove_denial3(&zone, TLSA, &zone, &[record]),
            Ok(Nsec3Denial::NoData)
        );
    }

    /// NODATA, an empty non-terminal, NXDOMAIN, and the delegation rules (RFC 5155 sec. 8,
    /// RFC 6840 sec. 4.4), one question per row.
    #[test]
    fn denials_by_question() {
        let no_name = |ce: &str| {
            Ok(Nsec3Denial::NoName {
                closest_encloser: name(ce),
            })
        };
        let cases: [(&str, RecordType, Result<Nsec3Denial, DenialError>); 7] = [
            ("a.example.net.", TLSA, Ok(Nsec3Denial::NoData)),
            ("a.example.net.", A, Err(DenialError::TypeExists)),
            ("z.example.net.", TLSA, Ok(Nsec3Denial::NoData)),
            ("b.example.net.", TLSA, no_name("example.net.")),
            ("sub.example.net.", DS, Ok(Nsec3Denial::NoData)),
            (
                "sub.example.net.",
                TLSA,
                Err(DenialError::WrongSideOfDelegation),
            ),
            (
                "_25._tcp.mx.sub.example.net.",
                TLSA,
                Err(DenialError::WrongSideOfDelegation),
            ),
        ];
        for (q, t, want) in cases {
            assert_eq!(deny(q, t, &zone()), want, "{q} {t}");
        }
    }

    #[test]
    fn no_closest_encloser_without_the_apex_record() {
        // Without the apex NSEC3 no closest encloser is provable.
        let apex = hash(&name("example.net."), 0);
        let records: Vec<Nsec3Record> = zone()
            .into_iter()
            .filter(|r| !r.owner.to_ascii().starts_with(&base32hex(&apex)))
            .collect();
        assert_eq!(
            deny("b.example.net.", TLSA, &records),
            Err(DenialError::NameNotCovered)
        );
    }

    /// Opt-out counts only on the NSEC3 that covers the next closer name (RFC 5155 sec. 8.6).
    #[test]
    fn opt_out_only_where_it_covers_the_next_closer_name() {
        let zone_name = name("example.net.");
        let records = zone();
        let covering = records
            .iter()
            .find(|r| {
                let others: Vec<Nsec3Record> = vec![(*r).clone()];
                // The record that covers H(b.example.net): the only one that, alone with the
                // apex, makes the closest encloser proof.
                let mut with_apex = others;
                with_apex.extend(
                    records
                        .iter()
                        .filter(|o| o.nsec3.type_set().contains(SOA))
                        .cloned(),
                );
                prove_denial3(&name("b.example.net."), DS, &zone_name, &with_apex)
                    != Err(DenialError::NameNotCovered)
            })
            .expect("a covering record");
        let covering_hash = data_encoding_decode(&covering.owner);
        let opted = chain(&zone_name, &NAMES, 0, &[covering_hash]);
        assert_eq!(
            deny("b.example.net.", DS, &opted),
            Ok(Nsec3Denial::OptOut {
                closest_encloser: name("example.net.")
            })
        );
        // Opt-out on the apex record only (it matches, it does not cover): no effect.
        let elsewhere = chain(&zone_name, &NAMES, 0, &[hash(&zone_name, 0)]);
        assert!(matches!(
            deny("b.example.net.", DS, &elsewhere),
            Ok(Nsec3Denial::NoName { .. })
        ));
    }

    fn data_encoding_decode(owner: &Name) -> Vec<u8> {
        let label = owner.iter().next().unwrap().to_ascii_uppercase();
        data_encoding::BASE32HEX_NOPAD.decode(&label).unwrap()
    }

    #[test]
    fn wildcards() {
        assert_eq!(
            deny("host.z.example.net.", MX, &zone()),
            Ok(Nsec3Denial::WildcardNoData {
                closest_encloser: name("z.example.net.")
            })
        );
        assert_eq!(
            deny("host.z.example.net.", TXT, &zone()),
            Err(DenialError::TypeExists)
        );
        let zone_name = name("example.net.");
        let q = name("host.z.example.net.");
        assert_eq!(
            prove_wildcard_expansion3(&q, 3, &zone_name, &zone()),
            Ok(Nsec3Expansion::Proven)
        );
        // With the labels of *.example.net, the next closer name z.example.net exists.
        assert_eq!(
            prove_wildcard_expansion3(&q, 2, &zone_name, &zone()),
            Err(DenialError::NameNotCovered)
        );
    }

    /// RFC 9276 sec. 3.2: above the limit the answer is insecure, without hashing.
    #[test]
    fn too_many_iterations_is_insecure() {
        let many = chain(&name("example.net."), &NAMES, MAX_NSEC3_ITERATIONS + 1, &[]);
        assert_eq!(
            deny("b.example.net.", TLSA, &many),
            Ok(Nsec3Denial::TooManyIterations {
                iterations: MAX_NSEC3_ITERATIONS + 1
            })
        );
        let at_limit = chain(&name("example.net."), &NAMES, MAX_NSEC3_ITERATIONS, &[]);
        assert!(matches!(
            deny("b.example.net.", TLSA, &at_limit),
            Ok(Nsec3Denial::NoName { .. })
        ));
    }
}

/// The delegation step end to end (RFC 4035 sec. 5.2): the parent's DS vouches for the KSK,
/// the KSK signs the DNSKEY RRset, and then the ZSK it holds validates the zone's TLSA RRset.
/// A DNSKEY RRset signed only by the ZSK, a DS for another key, and a DS of an unknown digest
/// type give bogus, bogus and insecure.
#[test]
fn the_delegation_step_from_ds_to_zone_data() {
    use daneel_core::dnssec::{match_anchors, zone_keys, KeysError, ZoneKeys};
    let zone = name("example.net.");
    let ksk = Key::generated_ed25519(257);
    let zsk = Key::generated_p256(256);
    let keys = [ksk.dnskey().clone(), zsk.dnskey().clone()];
    let dnskey_records: Vec<Record> = keys
        .iter()
        .map(|k| {
            Record::from_rdata(
                zone.clone(),
                3600,
                RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())),
            )
        })
        .collect();
    let by_ksk = ksk.sign(&zone, &zone, &dnskey_records, 2, VALID);
    let by_zsk = zsk.sign(&zone, &zone, &dnskey_records, 2, VALID);
    let ds_for = |k: &Key, digest: DigestType| {
        let d = k.dnskey().to_digest(&zone, digest).unwrap();
        DS::new(k.tag(), k.dnskey().algorithm(), digest, d.as_ref().to_vec())
    };
    let (records, sigs) = over_the_wire(&dnskey_records, std::slice::from_ref(&by_ksk));
    let secure = zone_keys(
        &zone,
        &records,
        &keys,
        &sigs,
        match_ds(&zone, &[ds_for(&ksk, DigestType::SHA256)], &keys),
        at(NOW),
    );
    let ZoneKeys::Secure(zone_keys_found) = secure else {
        panic!("{secure:?}");
    };
    let owner = name("_25._tcp.mx.example.net.");
    let tlsa = tlsa_rrset(&owner, 7);
    let tlsa_sig = zsk.sign(&zone, &owner, &tlsa, owner.num_labels(), VALID);
    let signed = tlsa_check(&tlsa, &[tlsa_sig], &zone_keys_found, NOW).unwrap();
    assert_eq!(signed.key_tag, zsk.tag());
    // Signed by the ZSK only: the vouched KSK signs nothing.
    assert!(matches!(
        zone_keys(
            &zone,
            &dnskey_records,
            &keys,
            &[by_zsk],
            match_ds(&zone, &[ds_for(&ksk, DigestType::SHA256)], &keys),
            at(NOW)
        ),
        ZoneKeys::Bogus(KeysError::Signature { .. })
    ));
    let stranger = Key::generated_ed25519(257);
    assert_eq!(
        zone_keys(
            &zone,
            &dnskey_records,
            &keys,
            std::slice::from_ref(&by_ksk),
            match_ds(&zone, &[ds_for(&stranger, DigestType::SHA256)], &keys),
            at(NOW)
        ),
        ZoneKeys::Bogus(KeysError::NoVouchedKey)
    );
    let odd = ds_for(&ksk, DigestType::SHA256);
    let odd = DS::new(
        odd.key_tag(),
        odd.algorithm(),
        DigestType::Unknown(99),
        odd.digest().to_vec(),
    );
    assert_eq!(
        zone_keys(
            &zone,
            &dnskey_records,
            &keys,
            std::slice::from_ref(&by_ksk),
            match_ds(&zone, &[odd], &keys),
            at(NOW)
        ),
        ZoneKeys::Insecure
    );
    // A DNSKEY trust anchor for the zone itself works the same way.
    let anchored = vec![TrustAnchor::from_dnskey_record(
        zone.clone(),
        ksk.dnskey().clone(),
    )];
    assert!(matches!(
        zone_keys(
            &zone,
            &dnskey_records,
            &keys,
            &[by_ksk],
            match_anchors(&zone, &anchored, &keys),
            at(NOW)
        ),
        ZoneKeys::Secure(_)
    ));
}

/// A [`TrustChain`] from an anchored root down: `net.` and `example.net.` are secure
/// delegations (DS signed by the parent, DNSKEY RRset self-signed by the vouched key),
/// `unsigned.net.` an insecure one proven by `net.`'s signed NSEC. A TLSA RRset is secure
/// once its zone is in the chain, and needs the zone before; data under the insecure
/// delegation is insecure; forged evidence is refused.
mod trust_chain {
    use super::*;
    use daneel_core::dnssec::{
        ChainError, NoDsProof, NsecRecord, RrsetStatus, SignedRrset, TrustChain, ZoneKeys,
    };
    use hickory_proto::dnssec::rdata::NSEC;

    /// A zone with one key: its signed DNSKEY RRset, and the DS RRset for it signed by
    /// `parent` at `parent_zone`.
    struct Zone {
        name: Name,
        key: Key,
    }

    impl Zone {
        fn new(n: &str) -> Zone {
            Zone {
                name: name(n),
                key: Key::generated_ed25519(257),
            }
        }

        fn dnskeys(&self) -> SignedRrset {
            signed(
                self,
                &self.name,
                RData::DNSSEC(DNSSECRData::DNSKEY(self.key.dnskey().clone())),
            )
        }

        fn ds_signed_by(&self, parent: &Zone) -> SignedRrset {
            let digest = self
                .key
                .dnskey()
                .to_digest(&self.name, DigestType::SHA256)
                .unwrap();
            let ds = DS::new(
                self.key.tag(),
                self.key.dnskey().algorithm(),
                DigestType::SHA256,
                digest.as_ref().to_vec(),
            );
            signed(parent, &self.name, RData::DNSSEC(DNSSECRData::DS(ds)))
        }
    }

    impl Zone {
        /// Adds this zone to `chain` as a secure delegation from `parent`.
        fn delegate_from(
            &self,
            parent: &Zone,
            chain: &mut TrustChain,
        ) -> Result<ZoneKeys, ChainError> {
            chain
                .add_delegation(
                    &parent.name,
                    &self.name,
                    &self.ds_signed_by(parent),
                    &self.dnskeys(),
                )
                .cloned()
        }
    }

    /// A one-record RRset at `owner` holding `data`, signed by `by`'s key.
    fn signed(by: &Zone, owner: &Name, data: RData) -> SignedRrset {
        let records = vec![Record::from_rdata(owner.clone(), 3600, data)];
        let sig = by
            .key
            .sign(&by.name, owner, &records, owner.num_labels(), VALID);
        SignedRrset {
            records,
            rrsigs: vec![sig],
        }
    }

    /// A chain whose anchor is `root`'s key, with `root` added.
    fn anchored_at(root: &Zone) -> TrustChain {
        let anchors = vec![TrustAnchor::from_dnskey_record(
            Name::root(),
            root.key.dnskey().clone(),
        )];
        let mut chain = TrustChain::new(anchors, at(NOW));
        chain.add_anchored(&root.name, &root.dnskeys());
        chain
    }

    fn tlsa_in(zone: &Zone, owner: &Name) -> SignedRrset {
        let records = tlsa_rrset(owner, 3);
        let sig = zone
            .key
            .sign(&zone.name, owner, &records, owner.num_labels(), VALID);
        SignedRrset {
            records,
            rrsigs: vec![sig],
        }
    }

    fn nsec_signed(
        zone: &Zone,
        owner: &str,
        next: &str,
        types: &[RecordType],
    ) -> (NsecRecord, Vec<RRSIG>) {
        let nsec = NSEC::new_cover_self(name(next), types.iter().copied());
        let record = Record::from_rdata(
            name(owner),
            0,
            RData::DNSSEC(DNSSECRData::NSEC(nsec.clone())),
        );
        let labels = name(owner).num_labels();
        let sig = zone
            .key
            .sign(&zone.name, &name(owner), &[record], labels, VALID);
        (
            NsecRecord {
                owner: name(owner),
                nsec,
            },
            vec![sig],
        )
    }

    #[test]
    fn from_the_anchor_to_a_tlsa_rrset() {
        let (root, net, example) = (Zone::new("."), Zone::new("net."), Zone::new("example.net."));
        let mut chain = anchored_at(&root);
        assert!(matches!(chain.zone(&root.name), Some(ZoneKeys::Secure(_))));
        let owner = name("_25._tcp.mx.example.net.");
        let tlsa = tlsa_in(&example, &owner);
        assert_eq!(
            chain.rrset(&owner, RecordType::TLSA, &tlsa),
            RrsetStatus::NeedZone(example.name.clone())
        );
        // example.net. cannot come before net.
        assert_eq!(
            example.delegate_from(&net, &mut chain).err(),
            Some(ChainError::ParentNotSecure)
        );
        let added = net.delegate_from(&root, &mut chain).unwrap();
        assert!(matches!(added, ZoneKeys::Secure(_)));
        example.delegate_from(&net, &mut chain).unwrap();
        assert!(matches!(
            chain.rrset(&owner, RecordType::TLSA, &tlsa),
            RrsetStatus::Secure(_)
        ));
        // The same RRset signed by a key the zone does not have: bogus.
        let stranger = Zone::new("example.net.");
        assert!(matches!(
            chain.rrset(&owner, RecordType::TLSA, &tlsa_in(&stranger, &owner)),
            RrsetStatus::Bogus(_)
        ));
    }

    #[test]
    fn a_ds_signed_by_another_key_is_refused() {
        let (root, net) = (Zone::new("."), Zone::new("net."));
        let mut chain = anchored_at(&root);
        let forger = Zone::new(".");
        assert!(matches!(
            chain.add_delegation(
                &root.name,
                &net.name,
                &net.ds_signed_by(&forger),
                &net.dnskeys()
            ),
            Err(ChainError::Signature { .. })
        ));
    }

    #[test]
    fn an_insecure_delegation_needs_the_parents_signed_proof() {
        let (root, net) = (Zone::new("."), Zone::new("net."));
        let mut chain = anchored_at(&root);
        net.delegate_from(&root, &mut chain).unwrap();
        let unsigned = name("unsigned.net.");
        // NS without DS at unsigned.net., signed by net.: an insecure delegation.
        let proof = NoDsProof::Nsec(vec![nsec_signed(
            &net,
            "unsigned.net.",
            "zz.net.",
            &[RecordType::NS],
        )]);
        // Forged evidence first: the same NSEC signed by another key, or listing a DS.
        let forger = Zone::new("net.");
        let forged = NoDsProof::Nsec(vec![nsec_signed(
            &forger,
            "unsigned.net.",
            "zz.net.",
            &[RecordType::NS],
        )]);
        assert!(matches!(
            chain.add_insecure_delegation(&net.name, &unsigned, &forged),
            Err(ChainError::Signature { .. })
        ));
        let has_ds = NoDsProof::Nsec(vec![nsec_signed(
            &net,
            "unsigned.net.",
            "zz.net.",
            &[RecordType::NS, RecordType::DS],
        )]);
        assert_eq!(
            chain
                .add_insecure_delegation(&net.name, &unsigned, &has_ds)
                .err(),
            Some(ChainError::NoDsNotProven)
        );
        assert_eq!(chain.zone(&unsigned), None, "forged evidence left no trace");
        assert_eq!(
            chain
                .add_insecure_delegation(&net.name, &unsigned, &proof)
                .unwrap(),
            &ZoneKeys::Insecure
        );
        let owner = name("_25._tcp.mx.unsigned.net.");
        let unsigned_tlsa = SignedRrset {
            records: tlsa_rrset(&owner, 1),
            rrsigs: Vec::new(),
        };
        assert_eq!(
            chain.rrset(&owner, RecordType::TLSA, &unsigned_tlsa),
            RrsetStatus::Insecure
        );
    }
}
