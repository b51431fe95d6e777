//! DANE chain verification cases (SPEC-NOTES c.3, S43-S63; RFC 7672 sec. 3, RFC 7671 sec. 5
//! and 9). Each case asserts the exact outcome: matched record, depth and `via`, or the
//! failure kind.

#![allow(clippy::cloned_ref_to_slice_refs)] // `&[r.clone()]` reads better in tests

use daneel_core::dane::verify::{MAX_CHAIN_BYTES, MAX_CHAIN_LEN, MAX_DNS_TA_ATTEMPTS};
use daneel_core::dane::CertDates;
use daneel_core::dane::{
    selected_digest, verify, Anchor, ChainLimit, DaneFailure, DaneFailureKind, DaneMatch,
    DaneOutcome, DigestPrefs, MatchVia, PathError, RecordError, TlsaRecord, TlsaSet, Unusable,
    UsagePolicy, VerifyParams,
};
use daneel_core::report::Reason;
use daneel_core::time::Timestamp;
use daneel_tests::pki::{fixtures, Ca, Cert, Eku, IssuerKind, KeyKind, LeafSpec, Pki, DEFAULT_NOW};

const MX: &str = "mx.example.com";
/// 2025-01-01: an expired `notAfter` relative to `DEFAULT_NOW` (2026-01-01).
const PAST: i64 = 1_735_689_600;
/// 2024-01-01.
const LONG_AGO: i64 = 1_704_067_200;
/// 2027-01-01: a `notBefore` still in the future at `DEFAULT_NOW`.
const FUTURE: i64 = 1_798_761_600;
/// 2028-01-01.
const FAR_FUTURE: i64 = 1_830_297_600;

fn rec(u: u8, s: u8, m: u8, cert: &[u8]) -> TlsaRecord {
    TlsaRecord::new(u, s, m, selected_digest(cert, s, m).expect("selectable"))
}

fn set(recs: &[TlsaRecord]) -> TlsaSet {
    TlsaSet::new(recs.to_vec(), &UsagePolicy::smtp(), &DigestPrefs::default())
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn run_at(chain: &[Vec<u8>], recs: &[TlsaRecord], names: &[&str], now: i64) -> DaneOutcome {
    let reference_ids = ids(names);
    let s = set(recs);
    verify(
        chain,
        &s,
        &VerifyParams {
            reference_ids: &reference_ids,
            now: Timestamp::from_unix_secs(now as u64),
        },
    )
}

fn run(chain: &[Vec<u8>], recs: &[TlsaRecord], names: &[&str]) -> DaneOutcome {
    run_at(chain, recs, names, DEFAULT_NOW)
}

#[track_caller]
fn matched(o: DaneOutcome) -> DaneMatch {
    match o {
        DaneOutcome::Matched(m) => m,
        DaneOutcome::Failed(f) => panic!("expected a match, got {f}"),
    }
}

#[track_caller]
fn failed(o: DaneOutcome) -> DaneFailure {
    match o {
        DaneOutcome::Failed(f) => f,
        DaneOutcome::Matched(m) => panic!("expected a failure, got {m:?}"),
    }
}

#[track_caller]
fn assert_ee(o: DaneOutcome, r: &TlsaRecord) {
    let m = matched(o);
    assert_eq!(&m.record, r);
    assert_eq!(m.depth, 0);
    assert_eq!(m.via, MatchVia::Chain);
    assert_eq!(m.peername, None, "DANE-EE checks no name");
}

#[track_caller]
fn assert_ta(o: DaneOutcome, r: &TlsaRecord, depth: usize, via: MatchVia, peer: &str) {
    let m = matched(o);
    assert_eq!(&m.record, r);
    assert_eq!(m.depth, depth);
    assert_eq!(m.via, via);
    assert_eq!(m.peername.as_deref(), Some(peer));
}

#[track_caller]
fn assert_fail(o: DaneOutcome, kind: DaneFailureKind) -> DaneFailure {
    let f = failed(o);
    assert_eq!(f.kind, kind, "{f}");
    f
}

/// root -> "Issuing CA" -> leaf(SAN mx.example.com); chain sent: leaf, intermediate.
struct World {
    pki: Pki,
    ica: Ca,
    leaf: Cert,
}

fn world() -> World {
    let pki = Pki::new("example");
    let ica = pki.intermediate("Example Issuing CA");
    let leaf = pki.issue_leaf(&ica, LeafSpec::new([MX]));
    World { pki, ica, leaf }
}

impl World {
    fn chain(&self) -> Vec<Vec<u8>> {
        self.leaf.chain_with(&[&self.ica])
    }
    fn full_chain(&self) -> Vec<Vec<u8>> {
        self.leaf.chain_with(&[&self.ica, self.pki.root()])
    }
    fn leaf_with(&self, spec: LeafSpec) -> Vec<Vec<u8>> {
        self.pki
            .issue_leaf(&self.ica, spec)
            .chain_with(&[&self.ica])
    }
}

// ---------------------------------------------------------------- DANE-EE(3)

#[test]
fn ee_3_1_1_matches_leaf() {
    let w = world();
    let r = rec(3, 1, 1, &w.leaf.der);
    assert_ee(run(&w.chain(), &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_3_0_1_matches_leaf() {
    let w = world();
    let r = rec(3, 0, 1, &w.leaf.der);
    assert_ee(run(&w.chain(), &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_3_1_2_sha512() {
    let w = world();
    let r = rec(3, 1, 2, &w.leaf.der);
    assert_eq!(r.data.len(), 64);
    assert_ee(run(&w.chain(), &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_3_1_0_full_spki_and_3_0_0_full_cert() {
    let w = world();
    let r = rec(3, 1, 0, &w.leaf.der);
    assert_eq!(r.data, w.leaf.spki_der);
    assert_ee(run(&w.chain(), &[r.clone()], &[MX]), &r);
    let r = rec(3, 0, 0, &w.leaf.der);
    assert_ee(run(&w.chain(), &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_expired_leaf_still_authenticates() {
    // RFC 7672 sec. 3.1.1: validity dates are ignored with DANE-EE.
    let w = world();
    let chain = w.leaf_with(LeafSpec::new([MX]).validity(LONG_AGO, PAST));
    let r = rec(3, 1, 1, &chain[0]);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_not_yet_valid_leaf_still_authenticates() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new([MX]).validity(FUTURE, FAR_FUTURE));
    let r = rec(3, 1, 1, &chain[0]);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_name_mismatch_still_authenticates() {
    // RFC 7672 sec. 3.2.1: no name checks with DANE-EE.
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["other.example.net"]));
    let r = rec(3, 1, 1, &chain[0]);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
    // Even without any reference identifier.
    assert_ee(run(&chain, &[r.clone()], &[]), &r);
}

#[test]
fn ee_v1_self_signed_fixture() {
    let (cert, _key) = fixtures::v1_self_signed();
    let chain = vec![cert.clone()];
    for (s, m) in [(1, 1), (0, 1), (1, 2), (0, 0)] {
        let r = rec(3, s, m, &cert);
        assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
    }
}

#[test]
fn ee_rsa1024_self_signed_fixture() {
    let (cert, _key) = fixtures::rsa1024_self_signed();
    let r = rec(3, 1, 1, &cert);
    assert_ee(run(&[cert], &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_self_signed_ca_leaf() {
    // A self-signed cA=TRUE leaf is fine for DANE-EE (webpki is not involved).
    let w = world();
    let mut spec = LeafSpec::new([MX]);
    spec.self_signed = true;
    spec.is_ca = true;
    let leaf = w.pki.issue_leaf(&w.ica, spec);
    let r = rec(3, 1, 1, &leaf.der);
    assert_ee(run(&[leaf.der.clone()], &[r.clone()], &[MX]), &r);
}

#[test]
fn ee_no_match_lists_each_record() {
    let w = world();
    let other = w.pki.issue_leaf(&w.ica, LeafSpec::new([MX]));
    let r1 = rec(3, 1, 1, &other.der);
    let r2 = rec(3, 0, 1, &other.der);
    let f = assert_fail(
        run(&w.chain(), &[r1.clone(), r2.clone()], &[MX]),
        DaneFailureKind::NoMatch,
    );
    assert_eq!(f.details.len(), 2);
    assert!(f.details.iter().any(|d| d.record == r1));
    assert!(f.details.iter().all(|d| d.why == RecordError::LeafMismatch));
}

#[test]
fn ee_does_not_match_issuer() {
    // A 3 x x record naming the intermediate never matches (depth 0 only).
    let w = world();
    let r = rec(3, 1, 1, w.ica.der());
    assert_fail(run(&w.chain(), &[r], &[MX]), DaneFailureKind::NoMatch);
}

// ---------------------------------------------------------------- DANE-TA(2)

#[test]
fn s43_ta_2_0_1_intermediate() {
    let w = world();
    let r = rec(2, 0, 1, w.ica.der());
    assert_ta(
        run(&w.chain(), &[r.clone()], &[MX]),
        &r,
        1,
        MatchVia::Chain,
        MX,
    );
}

#[test]
fn s49_ta_2_1_1_intermediate() {
    let w = world();
    let r = rec(2, 1, 1, w.ica.der());
    assert_ta(
        run(&w.chain(), &[r.clone()], &[MX]),
        &r,
        1,
        MatchVia::Chain,
        MX,
    );
}

#[test]
fn ta_2_0_1_root_in_chain_depth_2() {
    let w = world();
    let r = rec(2, 0, 1, w.pki.root().der());
    assert_ta(
        run(&w.full_chain(), &[r.clone()], &[MX]),
        &r,
        2,
        MatchVia::Chain,
        MX,
    );
}

#[test]
fn s46_ta_2_0_1_root_not_sent_fails() {
    let w = world();
    let r = rec(2, 0, 1, w.pki.root().der());
    let f = assert_fail(run(&w.chain(), &[r], &[MX]), DaneFailureKind::NoMatch);
    assert_eq!(f.details[0].why, RecordError::NotInChain, "{f}");
}

#[test]
fn s47_ta_2_0_0_root_not_sent_uses_dns_certificate() {
    let w = world();
    let r = rec(2, 0, 0, w.pki.root().der());
    assert_ta(
        run(&w.chain(), &[r.clone()], &[MX]),
        &r,
        2,
        MatchVia::TlsaCertificate,
        MX,
    );
}

#[test]
fn ta_2_0_0_root_sent_matches_in_chain() {
    let w = world();
    let r = rec(2, 0, 0, w.pki.root().der());
    assert_ta(
        run(&w.full_chain(), &[r.clone()], &[MX]),
        &r,
        2,
        MatchVia::Chain,
        MX,
    );
}

#[test]
fn s48_ta_2_1_0_root_key_not_sent() {
    let w = world();
    let r = rec(2, 1, 0, w.pki.root().der());
    assert_ta(
        run(&w.chain(), &[r.clone()], &[MX]),
        &r,
        2,
        MatchVia::TlsaPublicKey,
        MX,
    );
}

#[test]
fn ta_2_1_0_wrong_key_fails_chain_invalid() {
    let w = world();
    let other = Pki::new("other");
    let r = rec(2, 1, 0, other.root().der());
    assert_fail(run(&w.chain(), &[r], &[MX]), DaneFailureKind::ChainInvalid);
}

#[test]
fn s50_ta_matching_leaf_only_fails() {
    // OpenSSL/Postfix: DANE-TA matches issuers only, never the leaf.
    let w = world();
    for (s, m) in [(0, 1), (1, 1), (1, 2)] {
        let r = rec(2, s, m, &w.leaf.der);
        let f = assert_fail(run(&w.chain(), &[r], &[MX]), DaneFailureKind::NoMatch);
        assert_eq!(f.details[0].why, RecordError::LeafOnly, "{f}");
    }
}

#[test]
fn s44_ta_name_mismatch() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["other.example.net"]));
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NameMismatch);
}

#[test]
fn ta_without_reference_ids_fails_name_check() {
    let w = world();
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&w.chain(), &[r], &[]), DaneFailureKind::NameMismatch);
}

#[test]
fn ta_second_reference_id_matches() {
    // RFC 7672 sec. 3.2.2: the next-hop domain is a further reference identifier.
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["example.com"]));
    let r = rec(2, 0, 1, w.ica.der());
    assert_ta(
        run(&chain, &[r.clone()], &[MX, "example.com"]),
        &r,
        1,
        MatchVia::Chain,
        "example.com",
    );
}

#[test]
fn ta_cn_only_certificate_uses_cn() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::default().cn(MX));
    let r = rec(2, 0, 1, w.ica.der());
    let m = matched(run(&chain, &[r], &[MX]));
    assert_eq!(m.peername.as_deref(), Some(MX));
    assert_eq!(m.presented_name.as_deref(), Some(MX));
}

#[test]
fn ta_san_present_cn_ignored() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["www.example.com"]).cn(MX));
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NameMismatch);
}

#[test]
fn ta_wildcard_matches_one_label() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["*.example.com"]));
    let r = rec(2, 0, 1, w.ica.der());
    let m = matched(run(&chain, &[r.clone()], &[MX]));
    assert_eq!(m.presented_name.as_deref(), Some("*.example.com"));
    assert_fail(
        run(&chain, &[r.clone()], &["a.mx.example.com"]),
        DaneFailureKind::NameMismatch,
    );
    assert_fail(
        run(&chain, &[r], &["example.com"]),
        DaneFailureKind::NameMismatch,
    );
}

#[test]
fn ta_partial_wildcard_never_matches() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["m*.example.com"]));
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NameMismatch);
}

#[test]
fn ta_names_case_and_trailing_dot_and_idna() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["MX.Example.COM", "xn--bcher-kva.example"]));
    let r = rec(2, 0, 1, w.ica.der());
    assert_ta(
        run(&chain, &[r.clone()], &["mx.example.com."]),
        &r,
        1,
        MatchVia::Chain,
        "mx.example.com.",
    );
    assert_ta(
        run(&chain, &[r.clone()], &["bücher.example"]),
        &r,
        1,
        MatchVia::Chain,
        "bücher.example",
    );
}

#[test]
fn s45_ta_expired_leaf_fails() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new([MX]).validity(LONG_AGO, PAST));
    let r = rec(2, 0, 1, w.ica.der());
    let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Expired);
    // The reason carries the dates of the certificate at fault, not prose.
    assert_eq!(
        Reason::from_dane_failure(&f),
        Reason::Expired {
            dates: Some(CertDates {
                depth: Some(0),
                now: DEFAULT_NOW,
                not_before: Some(LONG_AGO),
                not_after: Some(PAST),
            }),
            failure: f,
        }
    );
}

#[test]
fn ta_not_yet_valid_leaf_fails() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new([MX]).validity(FUTURE, FAR_FUTURE));
    let r = rec(2, 0, 1, w.ica.der());
    let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NotYetValid);
    let dates = f.dates().copied().expect("dates");
    assert_eq!((dates.depth, dates.not_before), (Some(0), Some(FUTURE)));
}

#[test]
fn ta_expired_intermediate_below_ta_fails() {
    let pki = Pki::new("example");
    let ica = pki.intermediate_with(pki.root(), "Expired CA", KeyKind::EcdsaP256, LONG_AGO, PAST);
    let leaf = pki.issue_leaf(&ica, LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[&ica, pki.root()]);
    let r = rec(2, 0, 1, pki.root().der());
    let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Expired);
    // The intermediate, at depth 1, is the certificate at fault.
    let dates = f.dates().copied().expect("dates");
    assert_eq!((dates.depth, dates.not_after), (Some(1), Some(PAST)));
}

#[test]
fn ta_expired_ta_certificate_is_a_trust_anchor_like_postfix() {
    // Decision pinned by the interop lab (X02): Postfix 3.7 + OpenSSL 3.0 report "Verified"
    // for an expired intermediate matched by 2 0 1; a trust anchor has no validity period
    // of its own (RFC 5280 sec. 6.1.1 (d)).
    let pki = Pki::new("example");
    let ica = pki.intermediate_with(pki.root(), "Expired CA", KeyKind::EcdsaP256, LONG_AGO, PAST);
    let leaf = pki.issue_leaf(&ica, LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[&ica]);
    let r = rec(2, 0, 1, ica.der());
    assert_ta(run(&chain, &[r.clone()], &[MX]), &r, 1, MatchVia::Chain, MX);
    // The same CA one level down (an expired intermediate below the TA) still fails:
    // see ta_expired_intermediate_below_ta_fails.
}

#[test]
fn ta_expired_root_from_dns_is_a_trust_anchor_too() {
    let pki = Pki::with_root("old", KeyKind::EcdsaP256, LONG_AGO, PAST);
    let ica = pki.intermediate("Old Issuing CA");
    let leaf = pki.issue_leaf(&ica, LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[&ica]);
    let full = rec(2, 0, 0, pki.root().der());
    assert_ta(
        run(&chain, &[full.clone()], &[MX]),
        &full,
        2,
        MatchVia::TlsaCertificate,
        MX,
    );
    let key = rec(2, 1, 0, pki.root().der());
    assert_ta(
        run(&chain, &[key.clone()], &[MX]),
        &key,
        2,
        MatchVia::TlsaPublicKey,
        MX,
    );
}

#[test]
fn ta_ca_leaf_is_chain_invalid() {
    let w = world();
    let mut spec = LeafSpec::new([MX]);
    spec.is_ca = true;
    let chain = w.leaf_with(spec);
    let r = rec(2, 0, 1, w.ica.der());
    let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::ChainInvalid);
    assert!(
        matches!(
            f.details[0].why,
            RecordError::PathInvalid {
                anchor: Anchor::Chain { depth: 1 },
                error: PathError::CaUsedAsEndEntity
            }
        ),
        "{f}"
    );
}

#[test]
fn ta_client_auth_only_eku_is_chain_invalid() {
    let w = world();
    let mut spec = LeafSpec::new([MX]);
    spec.eku = Eku::ClientAuthOnly;
    let chain = w.leaf_with(spec);
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::ChainInvalid);
}

#[test]
fn ta_absent_eku_is_fine() {
    let w = world();
    let mut spec = LeafSpec::new([MX]);
    spec.eku = Eku::Absent;
    let chain = w.leaf_with(spec);
    let r = rec(2, 0, 1, w.ica.der());
    assert_ta(run(&chain, &[r.clone()], &[MX]), &r, 1, MatchVia::Chain, MX);
}

#[test]
fn ta_v1_leaf_is_typed_failure() {
    // webpki needs v3 for the end entity: a v1 leaf under DANE-TA fails, no panic.
    let (leaf, ca) = fixtures::v1_leaf_with_ca();
    let chain = vec![leaf.clone(), ca.clone()];
    let r = rec(2, 0, 1, &ca);
    let ids = ["v1.example.com"];
    // The fixtures' notBefore is 2026-11-29; judge at 2027-01-01.
    let f = assert_fail(
        run_at(&chain, &[r], &ids, FUTURE),
        DaneFailureKind::ChainInvalid,
    );
    assert!(
        matches!(f.details[0].why, RecordError::LeafRejected { .. }),
        "{f}"
    );
    // The same v1 leaf is fine for DANE-EE.
    let r = rec(3, 1, 1, &leaf);
    assert_ee(run(&chain, &[r.clone()], &ids), &r);
}

#[test]
fn ta_rsa_and_ed25519_chains() {
    let pki = Pki::with_root_key("ed", KeyKind::Ed25519);
    let ica = pki.intermediate_with(
        pki.root(),
        "Ed CA",
        KeyKind::Rsa2048,
        pki::DEFAULT_NOT_BEFORE,
        pki::DEFAULT_CA_NOT_AFTER,
    );
    let leaf = pki.issue_leaf(&ica, LeafSpec::new([MX]).key(KeyKind::Ed25519));
    let r = rec(2, 1, 1, pki.root().der());
    assert_ta(
        run(&leaf.chain_with(&[&ica, pki.root()]), &[r.clone()], &[MX]),
        &r,
        2,
        MatchVia::Chain,
        MX,
    );
}

use daneel_tests::pki;

#[test]
fn s63_private_root() {
    // No WebPKI involvement: a private root matched by 2 0 1 authenticates.
    let pki = Pki::new("Private Corp");
    let leaf = pki.issue_leaf(pki.root(), LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[pki.root()]);
    let r = rec(2, 0, 1, pki.root().der());
    assert_ta(run(&chain, &[r.clone()], &[MX]), &r, 1, MatchVia::Chain, MX);
}

#[test]
fn ta_extra_unrelated_cert_in_chain_is_harmless() {
    let w = world();
    let other = Pki::new("other");
    let mut chain = w.chain();
    chain.push(other.root().der().to_vec());
    let r = rec(2, 0, 1, w.ica.der());
    assert_ta(run(&chain, &[r.clone()], &[MX]), &r, 1, MatchVia::Chain, MX);
}

#[test]
fn ta_truncated_chain_missing_intermediate() {
    // The server forgot the intermediate: 2 0 1 on the intermediate cannot match.
    let w = world();
    let chain = vec![w.leaf.der.clone()];
    let r = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NoMatch);
    // 2 0 1 on the root with the intermediate missing: no path.
    let r = rec(2, 0, 0, w.pki.root().der());
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::ChainInvalid);
}

// ---------------------------------------------------------------- agility and RRsets

#[test]
fn s55_agility_sha512_preferred_and_matches() {
    let w = world();
    let bad = TlsaRecord::new(3, 1, 1, vec![0xaa; 32]);
    let good = rec(3, 1, 2, &w.leaf.der);
    assert_ee(run(&w.chain(), &[bad, good.clone()], &[MX]), &good);
}

#[test]
fn s56_agility_weaker_digest_ignored() {
    let w = world();
    let good = rec(3, 1, 1, &w.leaf.der);
    let bad = TlsaRecord::new(3, 1, 2, vec![0xaa; 64]);
    let s = set(&[good.clone(), bad.clone()]);
    let e = s.entries.iter().find(|e| e.record == good).unwrap();
    assert_eq!(
        e.unusable,
        Some(Unusable::IgnoredByDigestAgility { preferred: 2 })
    );
    assert_fail(
        run(&w.chain(), &[good, bad], &[MX]),
        DaneFailureKind::NoMatch,
    );
}

#[test]
fn agility_is_per_usage_and_selector() {
    // A 3 0 2 does not disable a 3 1 1 (different selector), nor a 2 0 1 (different usage).
    let w = world();
    let good = rec(3, 1, 1, &w.leaf.der);
    let other = TlsaRecord::new(3, 0, 2, vec![0xaa; 64]);
    assert_ee(run(&w.chain(), &[good.clone(), other], &[MX]), &good);
}

#[test]
fn agility_sha256_only_prefs() {
    // tls_dane_digests = sha256: a 3 1 2 is unusable (DigestNotEnabled), the 3 1 1 wins.
    let w = world();
    let good = rec(3, 1, 1, &w.leaf.der);
    let strong = rec(3, 1, 2, &w.leaf.der);
    let s = TlsaSet::new(
        vec![good.clone(), strong.clone()],
        &UsagePolicy::smtp(),
        &"sha256".parse().unwrap(),
    );
    assert_eq!(s.usable().collect::<Vec<_>>(), vec![&good]);
    let reference_ids = ids(&[MX]);
    let m = matched(verify(
        &w.chain(),
        &s,
        &VerifyParams {
            reference_ids: &reference_ids,
            now: Timestamp::from_unix_secs(DEFAULT_NOW as u64),
        },
    ));
    assert_eq!(m.record, good);
}

#[test]
fn malformed_3_1_2_does_not_disable_3_1_1() {
    let w = world();
    let good = rec(3, 1, 1, &w.leaf.der);
    let malformed = TlsaRecord::new(3, 1, 2, vec![0xaa; 63]);
    assert_ee(run(&w.chain(), &[good.clone(), malformed], &[MX]), &good);
}

#[test]
fn s57_rollover_current_and_next() {
    let w = world();
    let next = w.pki.issue_leaf(&w.ica, LeafSpec::new([MX]));
    let old = rec(3, 1, 1, &w.leaf.der);
    let new = rec(3, 1, 1, &next.der);
    assert_ee(
        run(
            &next.chain_with(&[&w.ica]),
            &[old.clone(), new.clone()],
            &[MX],
        ),
        &new,
    );
    assert_ee(run(&w.chain(), &[old.clone(), new], &[MX]), &old);
}

#[test]
fn s58_3_0_1_breaks_on_renewal_with_same_key() {
    // Renewal with the same key: 3 1 1 still matches, 3 0 1 does not.
    let pki = Pki::new("renew");
    let ica = pki.intermediate("Renew CA");
    let spec = LeafSpec::new([MX]).key(KeyKind::Ed25519);
    let before = pki.issue_leaf(&ica, spec.clone());
    let after = pki.issue_leaf(&ica, spec.validity(LONG_AGO + 1, pki::DEFAULT_NOT_AFTER));
    assert_eq!(before.spki_der, after.spki_der);
    assert_ne!(before.der, after.der);
    let chain = after.chain_with(&[&ica]);
    assert_fail(
        run(&chain, &[rec(3, 0, 1, &before.der)], &[MX]),
        DaneFailureKind::NoMatch,
    );
    let r = rec(3, 1, 1, &before.der);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
}

#[test]
fn s59_3_1_1_plus_2_1_1_key_changed() {
    let w = world();
    let ee_old = rec(3, 1, 1, &w.leaf.der);
    let ta = rec(2, 1, 1, w.ica.der());
    let new = w.pki.issue_leaf(&w.ica, LeafSpec::new([MX]));
    assert_ta(
        run(
            &new.chain_with(&[&w.ica]),
            &[ee_old.clone(), ta.clone()],
            &[MX],
        ),
        &ta,
        1,
        MatchVia::Chain,
        MX,
    );
    // With the old key still in use, the EE record is reported (EE tried first).
    assert_ee(run(&w.chain(), &[ee_old.clone(), ta], &[MX]), &ee_old);
}

#[test]
fn s62_mixed_any_usable_record_suffices() {
    let w = world();
    let nomatch = TlsaRecord::new(3, 1, 1, vec![0x11; 32]);
    let ta = rec(2, 0, 1, w.ica.der());
    assert_ta(
        run(&w.chain(), &[nomatch, ta.clone()], &[MX]),
        &ta,
        1,
        MatchVia::Chain,
        MX,
    );
}

#[test]
fn failure_precedence_name_mismatch_over_no_match() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new(["other.example.net"]));
    let nomatch = TlsaRecord::new(3, 1, 1, vec![0x11; 32]);
    let ta = rec(2, 0, 1, w.ica.der());
    let f = assert_fail(
        run(&chain, &[nomatch, ta], &[MX]),
        DaneFailureKind::NameMismatch,
    );
    assert_eq!(f.details.len(), 2);
}

#[test]
fn failure_precedence_expired_over_no_match() {
    let w = world();
    let chain = w.leaf_with(LeafSpec::new([MX]).validity(LONG_AGO, PAST));
    let nomatch = TlsaRecord::new(2, 0, 1, vec![0x11; 32]);
    let ta = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[nomatch, ta], &[MX]), DaneFailureKind::Expired);
}

#[test]
fn dns_order_does_not_change_the_reported_record() {
    let w = world();
    let a = rec(3, 1, 1, &w.leaf.der);
    let b = rec(3, 0, 1, &w.leaf.der);
    let m1 = matched(run(&w.chain(), &[a.clone(), b.clone()], &[MX]));
    let m2 = matched(run(&w.chain(), &[b, a], &[MX]));
    assert_eq!(m1, m2);
}

#[test]
fn oracle_match_implies_selected_digest_equality() {
    let w = world();
    let chain = w.full_chain();
    let recs = [
        rec(3, 1, 1, &w.leaf.der),
        rec(2, 0, 1, w.ica.der()),
        rec(2, 1, 2, w.pki.root().der()),
    ];
    for r in &recs {
        let m = matched(run(&chain, std::slice::from_ref(r), &[MX]));
        assert_eq!(
            selected_digest(&chain[m.depth], m.record.selector, m.record.matching),
            Some(m.record.data.clone())
        );
    }
}

// ---------------------------------------------------------------- unusable records

#[test]
fn s51_pkix_usages_unusable_for_smtp() {
    let w = world();
    let recs = [rec(0, 0, 1, w.pki.root().der()), rec(1, 1, 1, &w.leaf.der)];
    let s = set(&recs);
    assert!(!s.has_usable());
    assert!(s
        .entries
        .iter()
        .all(|e| matches!(e.unusable, Some(Unusable::UsageNotForProtocol(_)))));
    assert_fail(
        run(&w.chain(), &recs, &[MX]),
        DaneFailureKind::NoUsableRecords,
    );
    // With UsagePolicy::all() they are usable records (PKIX validation is the caller's).
    let all = TlsaSet::new(recs.to_vec(), &UsagePolicy::all(), &DigestPrefs::default());
    assert_eq!(all.usable().count(), 2);
}

#[test]
fn s52_s53_s54_unusable_records() {
    let w = world();
    let d = selected_digest(&w.leaf.der, 1, 1).unwrap();
    let cases = [
        (
            TlsaRecord::new(3, 1, 7, d.clone()),
            Unusable::UnknownMatchingType(7),
        ),
        (
            TlsaRecord::new(3, 1, 1, d[..31].to_vec()),
            Unusable::WrongDigestLength {
                expected: 32,
                actual: 31,
            },
        ),
        (
            TlsaRecord::new(3, 1, 255, d.clone()),
            Unusable::PrivateMatchingType,
        ),
        (
            TlsaRecord::new(3, 2, 1, d.clone()),
            Unusable::UnknownSelector(2),
        ),
        (
            TlsaRecord::new(4, 1, 1, d.clone()),
            Unusable::UnknownUsage(4),
        ),
        (
            TlsaRecord::new(255, 1, 1, d.clone()),
            Unusable::UnknownUsage(255),
        ),
        (
            TlsaRecord::new(2, 0, 0, vec![0x30, 0x03, 1, 2, 3]),
            Unusable::BadFullCertificate,
        ),
        (
            TlsaRecord::new(2, 1, 0, vec![0xff; 10]),
            Unusable::BadFullPublicKey,
        ),
    ];
    for (r, why) in cases {
        let s = set(std::slice::from_ref(&r));
        assert_eq!(s.entries[0].unusable.as_ref(), Some(&why), "{r}");
        assert!(!why.to_string().is_empty());
        assert_fail(
            run(&w.chain(), &[r], &[MX]),
            DaneFailureKind::NoUsableRecords,
        );
    }
}

// ---------------------------------------------------------------- hostile chains

#[test]
fn empty_chain() {
    let r = TlsaRecord::new(3, 1, 1, vec![0; 32]);
    assert_fail(run(&[], &[r], &[MX]), DaneFailureKind::EmptyChain);
}

#[test]
fn garbage_der_chain_is_malformed() {
    let chain = vec![b"not a certificate".to_vec(), vec![0x30, 0x82, 0xff, 0xff]];
    let recs = [
        TlsaRecord::new(3, 1, 1, vec![0; 32]),
        TlsaRecord::new(2, 0, 1, vec![0; 32]),
    ];
    let f = assert_fail(run(&chain, &recs, &[MX]), DaneFailureKind::Malformed);
    assert!(f
        .details
        .iter()
        .any(|d| d.why == RecordError::LeafUnparsable));
}

#[test]
fn garbage_leaf_matched_by_3_0_1_raw_der() {
    // Selector Cert(0) hashes the bytes as presented: a DANE-EE match needs no parse. The TLS
    // handshake signature check (which needs the key) then fails elsewhere.
    let chain = vec![b"opaque".to_vec()];
    let r = rec(3, 0, 1, &chain[0]);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
    let r = TlsaRecord::new(3, 1, 1, vec![0; 32]);
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Malformed);
}

#[test]
fn truncated_leaf_der() {
    let w = world();
    let mut chain = w.chain();
    let n = chain[0].len();
    chain[0].truncate(n / 2);
    let r = rec(3, 1, 1, &w.leaf.der);
    assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Malformed);
    let ta = rec(2, 0, 1, w.ica.der());
    assert_fail(run(&chain, &[ta], &[MX]), DaneFailureKind::ChainInvalid);
}

#[test]
fn ten_megabyte_chain_is_malformed() {
    let chain = vec![vec![0x30; 10 * 1024 * 1024]];
    let r = TlsaRecord::new(3, 0, 1, vec![0; 32]);
    let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Malformed);
    assert_eq!(
        f.limit,
        Some(ChainLimit::Octets {
            count: 10 * 1024 * 1024,
            max: MAX_CHAIN_BYTES
        }),
        "{f}"
    );
}

#[test]
fn seventeen_cert_chain_is_malformed() {
    let w = world();
    let mut chain = w.chain();
    while chain.len() < 17 {
        chain.push(w.ica.der().to_vec());
    }
    let r = rec(3, 1, 1, &w.leaf.der);
    let f = assert_fail(run(&chain, &[r.clone()], &[MX]), DaneFailureKind::Malformed);
    assert_eq!(
        f.limit,
        Some(ChainLimit::Certificates {
            count: 17,
            max: MAX_CHAIN_LEN
        }),
        "{f}"
    );
    chain.truncate(16);
    assert_ee(run(&chain, &[r.clone()], &[MX]), &r);
}

#[test]
fn many_records_are_cheap_and_deterministic() {
    let w = world();
    let mut recs: Vec<TlsaRecord> = (0..1500u32)
        .map(|i| {
            let mut d = vec![0u8; 32];
            d[..4].copy_from_slice(&i.to_be_bytes());
            TlsaRecord::new(2, 1, 1, d)
        })
        .collect();
    recs.push(rec(2, 1, 1, w.ica.der()));
    let ta = recs.last().unwrap().clone();
    assert_ta(run(&w.chain(), &recs, &[MX]), &ta, 1, MatchVia::Chain, MX);
}

// ---------------------------------------------------------------- generation (RFC 7671 sec. 8)

mod generate {
    use super::*;
    use daneel_core::dane::{
        covers, parse_pem_certificates, record_for, verify_published, GenerateError, TlsaPlan,
    };

    #[test]
    fn pem_roundtrip_and_default_3_1_1() {
        let w = world();
        let pem = format!("{}{}{}", w.leaf.pem(), w.leaf.key_pem(), w.ica.cert.pem());
        let chain = parse_pem_certificates(&pem).unwrap();
        assert_eq!(chain, w.chain());
        let plan = TlsaPlan::new(MX, 25, chain).build().unwrap();
        assert_eq!(plan.records.len(), 1);
        let line = plan.records[0].zone_line();
        let expected = rec(3, 1, 1, &w.leaf.der);
        assert_eq!(
            line,
            format!("_25._tcp.mx.example.com. IN TLSA {}", expected.to_text())
        );
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        // The generated record authenticates the chain.
        assert_ee(run(&w.chain(), &[expected.clone()], &[MX]), &expected);
    }

    #[test]
    fn chain_rollover_issuer_and_warnings() {
        let w = world();
        let next = w.pki.issue_leaf(&w.ica, LeafSpec::new([MX]));
        let plan = TlsaPlan::new(MX, 25, w.full_chain())
            .chain_records(0, 1)
            .rollover(next.der.clone())
            .build()
            .unwrap();
        let texts: Vec<String> = plan.records.iter().map(|g| g.record.to_text()).collect();
        assert_eq!(
            texts,
            vec![
                rec(3, 1, 1, &w.leaf.der).to_text(),
                rec(3, 1, 1, &next.der).to_text(),
                rec(2, 0, 1, w.ica.der()).to_text(),
                rec(2, 0, 1, w.pki.root().der()).to_text(),
            ]
        );
        let plan = TlsaPlan::new(MX, 25, w.chain())
            .ee(Some((0, 1)))
            .issuer()
            .build()
            .unwrap();
        assert_eq!(plan.records[1].record, rec(2, 1, 1, w.ica.der()));
        assert!(plan.warnings.iter().any(|w| w.contains("every renewal")));
        assert!(plan.warnings.iter().any(|w| w.contains("several")));
        // Pinning the root that the server does not send.
        let plan = TlsaPlan::new(MX, 25, w.chain())
            .pin_ca(w.pki.root().der().to_vec(), 1, 1)
            .build()
            .unwrap();
        assert!(plan.warnings.iter().any(|w| w.contains("does not send")));
        assert_eq!(
            TlsaPlan::new(MX, 25, vec![w.leaf.der.clone()])
                .issuer()
                .build(),
            Err(GenerateError::NoIssuer)
        );
        assert_eq!(
            record_for(b"junk", 3, 1, 1),
            Err(GenerateError::BadCertificate { index: 0 })
        );
    }

    #[test]
    fn verify_published_before_renewal() {
        let w = world();
        let published = set(&[rec(3, 1, 1, &w.leaf.der), rec(2, 0, 1, &w.leaf.der)]);
        let checks = verify_published(&published, &w.chain());
        assert!(covers(&checks));
        // The renewed certificate has a new key: the 3 1 1 no longer covers it, and the
        // 2 0 1 naming a leaf never counts.
        let renewed = w.pki.issue_leaf(&w.ica, LeafSpec::new([MX]));
        let checks = verify_published(&published, &renewed.chain_with(&[&w.ica]));
        assert!(!covers(&checks));
        assert!(checks.iter().all(|c| c.matched_depth.is_none()));
        // Adding 2 1 1 on the issuer covers both.
        let published = set(&[rec(3, 1, 1, &w.leaf.der), rec(2, 1, 1, w.ica.der())]);
        let checks = verify_published(&published, &renewed.chain_with(&[&w.ica]));
        assert!(covers(&checks));
        assert_eq!(checks.iter().find_map(|c| c.matched_depth), Some(1));
    }
}

#[test]
fn s50_self_signed_leaf_sent_twice_is_still_the_leaf() {
    let w = world();
    let mut spec = LeafSpec::new([MX]);
    spec.self_signed = true;
    let leaf = w.pki.issue_leaf(&w.ica, spec);
    let chain = vec![leaf.der.clone(), leaf.der.clone()];
    for r in [
        rec(2, 0, 1, &leaf.der),
        rec(2, 1, 1, &leaf.der),
        rec(2, 0, 0, &leaf.der),
    ] {
        let f = assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::NoMatch);
        assert_eq!(f.details[0].why, RecordError::LeafOnly, "{f}");
    }
    // 2 0 0 / 2 1 0 carrying the leaf itself, leaf sent alone: not a TA either.
    for r in [rec(2, 0, 0, &leaf.der), rec(2, 1, 0, &leaf.der)] {
        assert_fail(run(&chain[..1], &[r], &[MX]), DaneFailureKind::NoMatch);
    }
}

#[test]
fn dns_supplied_trust_anchors_are_bounded() {
    let w = world();
    let others: Vec<Pki> = (0..10).map(|i| Pki::new(&format!("other{i}"))).collect();
    let recs: Vec<TlsaRecord> = others
        .iter()
        .map(|p| rec(2, 1, 0, p.root().der()))
        .collect();
    let f = assert_fail(run(&w.chain(), &recs, &[MX]), DaneFailureKind::ChainInvalid);
    assert_eq!(f.details.len(), 10);
    let skipped = f
        .details
        .iter()
        .filter(|d| {
            d.why
                == RecordError::SkippedDnsAnchor {
                    max: MAX_DNS_TA_ATTEMPTS,
                }
        })
        .count();
    assert_eq!(skipped, 2);
}

#[test]
fn mutated_chains_never_panic_and_matches_obey_the_oracle() {
    // A deterministic mutation loop (the cargo-fuzz target does the same at scale): flip,
    // truncate or extend bytes of the leaf or intermediate; a match must always be explained
    // by `selected_digest` of the matched certificate (or come from DNS TA data).
    let w = world();
    let base = w.chain();
    let recs = [
        rec(3, 1, 1, &w.leaf.der),
        rec(3, 0, 2, &w.leaf.der),
        rec(2, 0, 1, w.ica.der()),
        rec(2, 1, 0, w.pki.root().der()),
        rec(2, 0, 0, w.pki.root().der()),
    ];
    let mut seed: u64 = 0x5eed_da4e;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let mut matched_count = 0;
    for i in 0..1500 {
        let mut chain = base.clone();
        let which = next() % 2;
        let c = &mut chain[which];
        match next() % 4 {
            0 => {
                let at = next() % c.len();
                c[at] ^= 1 << (next() % 8);
            }
            1 => {
                let n = next() % c.len();
                c.truncate(n);
            }
            2 => c.extend(std::iter::repeat_n(0u8, next() % 8)),
            _ => {
                let at = next() % c.len();
                c[at] = next() as u8;
            }
        }
        let r = &recs[i % recs.len()];
        match run(&chain, std::slice::from_ref(r), &[MX]) {
            DaneOutcome::Matched(m) => {
                matched_count += 1;
                match m.via {
                    MatchVia::Chain => assert_eq!(
                        selected_digest(&chain[m.depth], r.selector, r.matching),
                        Some(r.data.clone())
                    ),
                    _ => assert_eq!(r.matching, 0),
                }
            }
            DaneOutcome::Failed(f) => assert!(!f.to_string().is_empty()),
        }
    }
    assert!(matched_count > 0);
}

// ------------------------------------- DANE-TA(2) Cert(0): the anchor's constraints apply

/// RFC 7671 sec. 5.2.1: with `2 0 x` the client SHOULD apply the constraints of the trust
/// anchor certificate. Postfix with OpenSSL 3.0 says "invalid CA certificate" for a `2 0 1`
/// on a cA:FALSE issuer (interop lab TA2); so does daneel.
#[test]
fn ta_2_0_1_on_a_ca_false_issuer_fails() {
    let pki = Pki::new("constraints");
    let not_ca = pki.issuer_with(pki.root(), "Not A CA", IssuerKind::NotCa);
    let leaf = pki.issue_leaf(&not_ca, LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[&not_ca]);
    let f = assert_fail(
        run(&chain, &[rec(2, 0, 1, not_ca.der())], &[MX]),
        DaneFailureKind::ChainInvalid,
    );
    assert!(
        matches!(
            f.details[0].why,
            RecordError::AnchorNotCa {
                anchor: Anchor::Chain { .. }
            }
        ),
        "{f:?}"
    );
    // The same key pinned with SPKI(1) carries no constraints (RFC 7671 sec. 5.2.1).
    let o = run(&chain, &[rec(2, 1, 1, not_ca.der())], &[MX]);
    assert_ta(o, &rec(2, 1, 1, not_ca.der()), 1, MatchVia::Chain, MX);
}

#[test]
fn ta_2_0_1_path_length_constraint_applies() {
    let pki = Pki::new("pathlen");
    let zero = pki.issuer_with(pki.root(), "PathLen Zero", IssuerKind::PathLen(0));
    let below = pki.intermediate_of(&zero, "Below PathLen Zero");
    let leaf = pki.issue_leaf(&below, LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[&below, &zero]);
    let f = assert_fail(
        run(&chain, &[rec(2, 0, 1, zero.der())], &[MX]),
        DaneFailureKind::ChainInvalid,
    );
    assert!(
        matches!(
            f.details[0].why,
            RecordError::PathLenExceeded { max: 0, below, .. } if below >= 1
        ),
        "{f:?}"
    );
    // Directly under it, the same anchor is fine.
    let direct = pki.issue_leaf(&zero, LeafSpec::new([MX]));
    let chain = direct.chain_with(&[&zero]);
    let o = run(&chain, &[rec(2, 0, 1, zero.der())], &[MX]);
    assert_ta(o, &rec(2, 0, 1, zero.der()), 1, MatchVia::Chain, MX);
}

/// Interop lab TA1: Postfix (OpenSSL 3.0) says "certificate has expired" for a `2 0 1` on an
/// expired self-signed root sent in the chain, though not for an expired intermediate
/// anchor (X02). daneel does the same, so it never passes what Postfix senders defer.
#[test]
fn ta_expired_self_signed_root_in_the_chain_fails_like_openssl() {
    let pki = Pki::with_root("old-sent", KeyKind::EcdsaP256, LONG_AGO, PAST);
    let leaf = pki.issue_leaf(pki.root(), LeafSpec::new([MX]));
    let chain = leaf.chain_with(&[pki.root()]);
    for r in [
        rec(2, 0, 1, pki.root().der()),
        rec(2, 1, 1, pki.root().der()),
    ] {
        assert_fail(run(&chain, &[r], &[MX]), DaneFailureKind::Expired);
    }
}
