//! DANE verification cost (RFC 7672 sec. 3.1): `3 1 1` on a two-certificate chain, `2 0 1` on
//! a three-certificate chain (path validation and name check included), and a bare SHA-256
//! over the leaf SPKI as the lower bound.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use daneel_core::dane::{
    selected_digest, verify, DigestPrefs, TlsaRecord, TlsaSet, UsagePolicy, VerifyParams,
};
use daneel_core::time::Timestamp;
use daneel_tests::pki::{LeafSpec, Pki, DEFAULT_NOW};
use sha2::{Digest, Sha256};

fn bench(c: &mut Criterion) {
    let pki = Pki::new("bench");
    let ica = pki.intermediate("Bench Issuing CA");
    let leaf = pki.issue_leaf(&ica, LeafSpec::new(["mx.example.com"]));
    let two = leaf.chain_with(&[&ica]);
    let three = leaf.chain_with(&[&ica, pki.root()]);
    let ids = vec!["mx.example.com".to_string()];
    let params = VerifyParams {
        reference_ids: &ids,
        now: Timestamp::from_unix_secs(DEFAULT_NOW as u64),
    };
    let mk = |u, s, m, der: &[u8]| {
        TlsaSet::new(
            vec![TlsaRecord::new(
                u,
                s,
                m,
                selected_digest(der, s, m).unwrap(),
            )],
            &UsagePolicy::smtp(),
            &DigestPrefs::default(),
        )
    };
    let ee = mk(3, 1, 1, &leaf.der);
    let ta = mk(2, 0, 1, pki.root().der());
    assert!(verify(&two, &ee, &params).is_matched());
    assert!(verify(&three, &ta, &params).is_matched());

    c.bench_function("verify 3 1 1, 2-cert chain", |b| {
        b.iter(|| verify(black_box(&two), black_box(&ee), &params))
    });
    c.bench_function("verify 2 0 1 (root), 3-cert chain", |b| {
        b.iter(|| verify(black_box(&three), black_box(&ta), &params))
    });
    c.bench_function("sha256 over leaf SPKI (lower bound)", |b| {
        b.iter(|| Sha256::digest(black_box(&leaf.spki_der)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
