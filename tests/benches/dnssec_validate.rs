//! In-core DNSSEC validation cost (issue 13): one answer judged from the trust anchor by a
//! fresh validator, every DS and DNSKEY reply given at once (no network), so the figure is the
//! validator's own work: the root DNSKEY RRset against the anchor, the `lab.` DS RRset by the
//! root's key and its digest against `lab.`'s DNSKEY RRset, then the data by `lab.`'s key
//! (four Ed25519 verifications and a SHA-256 digest for a TLSA RRset), and for a denial the
//! NSEC records too. Includes parsing each reply from DNS wire format, as a check does.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use daneel_core::dns::Security;
use daneel_core::fuzzing::dnssec_answer::{judge_honestly, QUESTIONS};

fn bench(c: &mut Criterion) {
    for (i, (name, rtype)) in QUESTIONS.iter().enumerate().take(3) {
        let (security, lookups) = judge_honestly(i).expect("the honest chain decides");
        assert_eq!(security, Security::Secure);
        c.bench_function(
            &format!("validate {name} {rtype} cold ({lookups} chain lookups)"),
            |b| b.iter(|| black_box(judge_honestly(black_box(i)))),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
