//! `dane_verify` target: DANE verification (RFC 6698 sec. 2.1, RFC 7671, RFC 7672 sec.
//! 3.1) of arbitrary chains against arbitrary TLSA sets.

use arbitrary::{Arbitrary, Unstructured};

use crate::fuzzing::seed_bytes::SeedBytes;
use crate::time::Timestamp;

/// Certificates the `dane_verify` fuzzer can pick whole (committed fixtures: a v1 self-signed
/// certificate, a v1 CA and its leaf, an RSA-1024 certificate), so it reaches past parsing.
const FIXTURE_PEMS: [&str; 4] = [
    include_str!("../../../tests/fixtures/v1.cert.pem"),
    include_str!("../../../tests/fixtures/v1ca.cert.pem"),
    include_str!("../../../tests/fixtures/v1leaf.cert.pem"),
    include_str!("../../../tests/fixtures/rsa1024.cert.pem"),
];

/// One certificate of a fuzzed chain.
#[derive(Arbitrary, Debug)]
pub enum FuzzCert {
    /// A fixture, possibly with one byte flipped.
    Fixture(u8, Option<(u16, u8)>),
    /// Arbitrary bytes.
    Raw(Vec<u8>),
}

/// One TLSA record of a fuzzed set.
#[derive(Arbitrary, Debug)]
pub enum FuzzTlsa {
    /// The digest (or full data) of chain element `depth`, so matches happen.
    Of(u8, u8, u8, u8),
    /// Arbitrary fields.
    Raw(u8, u8, u8, Vec<u8>),
}

/// The latest time [`run`] can check at, in seconds since the epoch.
const LATEST: u64 = 4_000_000_000;

/// The input on which [`run`] checks `chain` against `records` (each `(usage, selector,
/// matching, data)`) at `now_secs` (at most 4e9) with the default digest preferences, for
/// seeds made from real handshakes and answers.
pub fn seed(chain: &[Vec<u8>], records: &[(u8, u8, u8, Vec<u8>)], now_secs: u64) -> Vec<u8> {
    let mut s = SeedBytes::new();
    s.list(chain, |s, der| {
        s.variant(1, 2).bytes(der);
    });
    s.list(records, |s, (u, sel, m, data)| {
        s.variant(1, 2).u8(*u).u8(*sel).u8(*m).bytes(data);
    });
    s.bool(false).int_in_range(now_secs.min(LATEST), LATEST);
    s.into_bytes()
}

/// Runs one case: arbitrary chains and TLSA sets. Oracle: a match names a usable
/// record whose data really is the digest of the selected part of the certificate at the
/// reported depth (or, for DNS-supplied anchors, a usable DANE-TA Full(0) record).
pub fn run(data: &[u8]) {
    use crate::dane::verify::selected_digest;
    use crate::dane::{
        verify, DaneOutcome, DigestPrefs, MatchVia, TlsaRecord, TlsaSet, UsagePolicy, VerifyParams,
    };
    let mut u = Unstructured::new(data);
    let pool: Vec<Vec<u8>> = FIXTURE_PEMS
        .iter()
        .filter_map(|p| crate::dane::generate::parse_pem_certificates(p).ok())
        .flatten()
        .collect();
    let certs: Vec<FuzzCert> = u.arbitrary().unwrap_or_default();
    let chain: Vec<Vec<u8>> = certs
        .into_iter()
        .take(6)
        .map(|c| match c {
            FuzzCert::Fixture(i, flip) => {
                let mut der = pool
                    .get(usize::from(i) % pool.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                if let Some((at, x)) = flip {
                    let len = der.len().max(1);
                    if let Some(b) = der.get_mut(usize::from(at) % len) {
                        *b ^= x;
                    }
                }
                der
            }
            FuzzCert::Raw(bytes) => bytes,
        })
        .collect();
    let specs: Vec<FuzzTlsa> = u.arbitrary().unwrap_or_default();
    let records: Vec<TlsaRecord> = specs
        .into_iter()
        .take(8)
        .map(|t| match t {
            FuzzTlsa::Of(usage, depth, selector, matching) => {
                let cert = chain
                    .get(usize::from(depth) % chain.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                let (s, m) = (selector % 2, matching % 3);
                let data = selected_digest(&cert, s, m).unwrap_or(cert);
                TlsaRecord {
                    usage: usage % 4,
                    selector: s,
                    matching: m,
                    data,
                }
            }
            FuzzTlsa::Raw(usage, selector, matching, data) => TlsaRecord {
                usage,
                selector,
                matching,
                data,
            },
        })
        .collect();
    let digests: DigestPrefs = if u.arbitrary().unwrap_or(false) {
        "sha256".parse().unwrap_or_default()
    } else {
        DigestPrefs::default()
    };
    let set = TlsaSet::new(records, &UsagePolicy::smtp(), &digests);
    let now = Timestamp::from_unix_secs(u.int_in_range(0u64..=LATEST).unwrap_or(1_800_000_000));
    let reference_ids = vec!["mx.example.com".to_string(), "example.com".to_string()];
    let outcome = verify(
        &chain,
        &set,
        &VerifyParams {
            reference_ids: &reference_ids,
            now,
        },
    );
    if let DaneOutcome::Matched(m) = outcome {
        let entry = set.entries.iter().find(|e| e.record == m.record);
        assert!(
            entry.is_some_and(|e| e.unusable.is_none()),
            "matched an unusable or unknown record"
        );
        match m.via {
            MatchVia::Chain => {
                let cert = chain.get(m.depth).expect("match depth inside the chain");
                let digest = selected_digest(cert, m.record.selector, m.record.matching);
                assert_eq!(
                    digest.as_deref(),
                    Some(&m.record.data[..]),
                    "match without equal digest"
                );
                if m.record.usage == 2 {
                    assert!(m.depth >= 1, "DANE-TA matched the leaf");
                } else {
                    assert_eq!(m.depth, 0, "DANE-EE matched an issuer");
                }
            }
            MatchVia::TlsaCertificate | MatchVia::TlsaPublicKey => {
                assert_eq!(
                    (m.record.usage, m.record.matching),
                    (2, 0),
                    "DNS anchor from a digest record"
                );
            }
            MatchVia::TrustStore => panic!("dane::verify used a PKIX trust store"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_decode_to_their_chain_and_records() {
        let chain = vec![vec![0x30, 0x03, 1, 2, 3], vec![]];
        let records = vec![(3, 1, 1, vec![0xab; 32]), (2, 0, 0, vec![])];
        let bytes = seed(&chain, &records, 1_800_000_000);
        let mut u = Unstructured::new(&bytes);
        let certs: Vec<FuzzCert> = u.arbitrary().unwrap();
        let tlsa: Vec<FuzzTlsa> = u.arbitrary().unwrap();
        assert_eq!(
            format!("{certs:?}"),
            format!(
                "{:?}",
                [FuzzCert::Raw(chain[0].clone()), FuzzCert::Raw(vec![])]
            )
        );
        assert_eq!(
            format!("{tlsa:?}"),
            format!(
                "{:?}",
                [
                    FuzzTlsa::Raw(3, 1, 1, vec![0xab; 32]),
                    FuzzTlsa::Raw(2, 0, 0, vec![])
                ]
            )
        );
        assert!(!u.arbitrary::<bool>().unwrap());
        assert_eq!(u.int_in_range(0u64..=LATEST).unwrap(), 1_800_000_000);
        assert!(u.is_empty());
        run(&bytes);
    }
}
