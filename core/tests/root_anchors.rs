//! The embedded IANA root trust anchors (issue 13) are the digests of the real root KSKs:
//! KSK-2017 and KSK-2024, RSA/SHA-256, as Debian's dns-root-data 2024071801 ships them
//! (`/usr/share/dns/root.key`, the DNSKEY records of the IANA root-anchors.xml). Parsed as
//! DNSKEY trust anchors and matched against the embedded DS anchors, both must be vouched for:
//! a wrong embedded digest, or an RSA key this validator reads wrongly, fails here.

use daneel_core::dnssec::{match_anchors, parse_anchors, root_anchors, DsMatch};
use hickory_proto::rr::Name;

const ROOT_KEY: &str = "\
. IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=
. IN DNSKEY 257 3 8 AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=
";

#[test]
fn the_embedded_root_anchors_vouch_for_the_real_root_ksks() {
    let keys: Vec<_> = parse_anchors(ROOT_KEY)
        .expect("the root KSKs parse")
        .into_iter()
        .map(|a| match a.dnskey_record() {
            Some(key) => key.clone(),
            None => panic!("a DNSKEY anchor expected, got {a:?}"),
        })
        .collect();
    let tags: Vec<u16> = keys
        .iter()
        .map(|k| k.calculate_key_tag().unwrap())
        .collect();
    assert_eq!(tags, vec![20326, 38696]);
    match match_anchors(&Name::root(), &root_anchors(), &keys) {
        DsMatch::Vouched(vouched) => assert_eq!(vouched.len(), 2),
        other => panic!("the embedded anchors do not vouch for the root KSKs: {other:?}"),
    }
    // One key alone is vouched for too (during a rollover the root publishes either).
    assert!(matches!(
        match_anchors(&Name::root(), &root_anchors(), &keys[1..]),
        DsMatch::Vouched(v) if v.len() == 1
    ));
}
