//! Trust anchors through the public API (RFC 4035 sec. 4.4, RFC 7958): an anchor file of
//! which the validator can use nothing for a zone is refused with the line, never accepted
//! and then taken for "insecure".

use daneel_core::dns::DomainName;
use daneel_core::dnssec::{parse_anchors, root_anchors, TrustAnchor};

const KEY: &str = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3";
const DIGEST: &str = "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

#[test]
fn anchors_the_validator_cannot_use_are_refused_with_their_line() {
    for (text, line) in [
        // Digest type 3 (GOST R 34.11-94) and 200 (unassigned).
        (format!(". IN DS 20326 8 3 {DIGEST}\n"), 1),
        (format!("\n. IN DS 20326 8 200 {DIGEST}\n"), 2),
        // Algorithm 200 (unassigned) for DS and DNSKEY.
        (format!(". IN DS 20326 200 2 {DIGEST}\n"), 1),
        (format!(". IN DNSKEY 257 3 200 {KEY}\n"), 1),
        // A DNSKEY anchor without the zone-key flag, and one with the revoke flag (RFC 5011).
        (format!(". IN DNSKEY 1 3 8 {KEY}\n"), 1),
        (format!(". IN DNSKEY 385 3 8 {KEY}\n"), 1),
        // A usable root anchor does not cover another zone's unusable one.
        (
            format!(". IN DS 20326 8 2 {DIGEST}\nexample. IN DS 1 8 3 {DIGEST}\n"),
            2,
        ),
    ] {
        let e = parse_anchors(&text).expect_err(&text);
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.to_string().contains("this validator implements"), "{e}");
    }
}

#[test]
fn an_unusable_anchor_beside_a_usable_one_for_its_zone_is_accepted() {
    let text = format!(". IN DS 20326 8 3 {DIGEST}\n. IN DS 20326 8 2 {DIGEST}\n");
    let anchors = parse_anchors(&text).expect("one usable anchor for the root");
    assert_eq!(
        anchors.iter().map(TrustAnchor::usable).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(root_anchors().iter().all(TrustAnchor::usable));
    let root = DomainName::root();
    assert!(!TrustAnchor::ds(root.clone(), 1, 8, 3, vec![0; 32]).usable());
    assert!(TrustAnchor::ds(root.clone(), 1, 13, 2, vec![0; 32]).usable());
    assert!(TrustAnchor::dnskey(root.clone(), 257, 8, vec![3, 1, 0, 1]).usable());
    assert!(!TrustAnchor::dnskey(root, 257, 250, vec![3, 1, 0, 1]).usable());
}
