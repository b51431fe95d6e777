//! The NSEC3 hashing budget of one proof (issue 13, CVE-2023-50868): a closest encloser proof
//! hashes each ancestor of the question once per salt and iteration count, and a question
//! deep enough to need more than `MAX_NSEC3_HASHES` hashes fails the proof instead of making
//! the validator work without bound. The same proof for an ordinary name succeeds.

use daneel_core::dnssec::{prove_denial3, DenialError, Nsec3Denial, Nsec3Record, MAX_NSEC3_HASHES};
use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::{Name, RecordType};

const SALT: [u8; 2] = [0x12, 0x34];

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn hash(n: &Name) -> Vec<u8> {
    Nsec3HashAlgorithm::SHA1
        .hash(&SALT, n, 0)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// A two-name NSEC3 chain for `example.net.` (the apex and `www`), which denies every other
/// name: the closest encloser of any name below the apex is the apex.
fn zone() -> Vec<Nsec3Record> {
    let mut hashed = [
        (
            hash(&name("example.net.")),
            vec![RecordType::SOA, RecordType::NS],
        ),
        (hash(&name("www.example.net.")), vec![RecordType::A]),
    ];
    hashed.sort();
    (0..hashed.len())
        .map(|i| {
            let (h, types) = &hashed[i];
            Nsec3Record {
                owner: name(&format!(
                    "{}.example.net.",
                    data_encoding::BASE32HEX_NOPAD.encode(h)
                )),
                nsec3: NSEC3::new(
                    Nsec3HashAlgorithm::SHA1,
                    false,
                    0,
                    SALT.to_vec(),
                    hashed[(i + 1) % hashed.len()].0.clone(),
                    types.iter().copied(),
                ),
            }
        })
        .collect()
}

/// `labels` labels of `a` below `example.net.`.
fn deep(labels: usize) -> Name {
    name(&format!("{}example.net.", "a.".repeat(labels)))
}

#[test]
fn an_ordinary_nxdomain_proof_is_within_the_budget() {
    let proof = prove_denial3(&deep(3), RecordType::TLSA, &name("example.net."), &zone());
    assert_eq!(
        proof,
        Ok(Nsec3Denial::NoName {
            closest_encloser: name("example.net.")
        })
    );
}

#[test]
fn a_question_needing_more_hashes_than_the_budget_fails_the_proof() {
    // One hash per ancestor between the question and the apex, plus the wildcard: more than
    // the budget for a name this deep.
    let labels = MAX_NSEC3_HASHES + 4;
    let proof = prove_denial3(
        &deep(labels),
        RecordType::TLSA,
        &name("example.net."),
        &zone(),
    );
    assert_eq!(proof, Err(DenialError::TooMuchWork));
    // Just within it, the same proof holds.
    let proof = prove_denial3(
        &deep(MAX_NSEC3_HASHES - 4),
        RecordType::TLSA,
        &name("example.net."),
        &zone(),
    );
    assert!(matches!(proof, Ok(Nsec3Denial::NoName { .. })), "{proof:?}");
}
