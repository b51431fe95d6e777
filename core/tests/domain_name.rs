//! `daneel_core::dns::DomainName` through the public API: what parses, what it prints, and the
//! typed reason for what does not parse (RFC 1035 sec. 2.3.1, 2.3.4 and 3.1).

use std::collections::HashSet;

use daneel_core::check::{parse_destination, Destination};
use daneel_core::dns::{DomainName, NameError};
use daneel_core::dnssec::{parse_anchors, root_anchors, TrustAnchor};
use daneel_core::mua::MailService;

fn name(text: &str) -> DomainName {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

#[test]
fn names_print_lower_case_a_labels_without_the_trailing_dot() {
    assert_eq!(name("Example.COM").to_string(), "example.com");
    assert_eq!(name("example.com.").to_string(), "example.com");
    assert_eq!(name("Bücher.example").to_string(), "xn--bcher-kva.example");
    assert_eq!(
        name("_25._tcp.mx.example").to_string(),
        "_25._tcp.mx.example"
    );
    assert_eq!(name(".").to_string(), ".");
    assert!(name(".").is_root() && DomainName::root() == name("."));
    assert!(!name("example").is_root());
    assert_eq!(
        format!("{:?}", name("Example.com")),
        "DomainName(\"example.com.\")"
    );
}

#[test]
fn equality_hashing_and_order_ignore_case_and_the_trailing_dot() {
    assert_eq!(name("MX.Example.net"), name("mx.example.net."));
    let set: HashSet<DomainName> = ["a.example", "A.EXAMPLE.", "b.example"]
        .into_iter()
        .map(name)
        .collect();
    assert_eq!(set.len(), 2);
    // The canonical order of RFC 4034 sec. 6.1: the most significant label first.
    let mut names = [name("z.a.example"), name("b.example"), name("a.example")];
    names.sort();
    let shown: Vec<String> = names.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a.example", "z.a.example", "b.example"]);
}

#[test]
fn bad_names_get_a_typed_reason() {
    let parse = |text: &str| text.parse::<DomainName>();
    assert_eq!(parse(""), Err(NameError::Empty));
    for text in ["a..example", ".example", "..", "example.."] {
        assert_eq!(parse(text), Err(NameError::EmptyLabel), "{text:?}");
    }
    let long_label = "a".repeat(64);
    assert_eq!(
        parse(&format!("{long_label}.example")),
        Err(NameError::LabelTooLong { octets: 64 })
    );
    assert!(parse(&format!("{}.example", "a".repeat(63))).is_ok());
    // 4 labels of 63 octets: 4 * 64 + 1 = 257 octets in wire form; 3 of them and one of 61
    // make exactly 255.
    let label = "a".repeat(63);
    let too_long = [label.as_str(); 4].join(".");
    assert_eq!(parse(&too_long), Err(NameError::NameTooLong));
    let longest = format!("{label}.{label}.{label}.{}", "a".repeat(61));
    assert!(parse(&longest).is_ok());
    for (text, label) in [
        ("exa mple.com", "exa mple"),
        ("dis_allowed.example", "dis_allowed"),
        ("tab\t.example", "tab\t"),
    ] {
        assert_eq!(
            parse(text),
            Err(NameError::InvalidLabel {
                label: label.to_string()
            }),
            "{text:?}"
        );
    }
    let e = parse("a..example").unwrap_err();
    assert!(e.to_string().contains("empty label"), "{e}");
}

#[test]
fn destinations_trust_anchors_and_srv_owners_carry_domain_names() {
    assert_eq!(
        parse_destination("Example.COM", 25),
        Ok(Destination::Domain(name("example.com")))
    );
    assert_eq!(
        parse_destination("[MX.example.net]:587", 25),
        Ok(Destination::Host {
            name: name("mx.example.net"),
            port: 587
        })
    );

    let roots = root_anchors();
    assert!(roots.iter().all(|a| a.owner().is_root()));
    assert_eq!(
        roots[0],
        TrustAnchor::ds(
            DomainName::root(),
            20326,
            8,
            2,
            data_encoding::HEXUPPER
                .decode(b"E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D")
                .unwrap(),
        )
    );
    let parsed = parse_anchors("Example.NET. IN DNSKEY 257 3 15 AAECAwQ=\n").unwrap();
    assert_eq!(parsed[0].owner(), &name("example.net"));
    assert_eq!(
        parsed[0],
        TrustAnchor::dnskey(name("example.net"), 257, 15, vec![0, 1, 2, 3, 4])
    );
    assert_ne!(
        parsed[0],
        TrustAnchor::dnskey(name("example.net"), 256, 15, vec![0, 1, 2, 3, 4])
    );

    let owner = MailService::Imaps.owner(&name("Example.com")).unwrap();
    assert_eq!(owner.to_string(), "_imaps._tcp.example.com");
    // `_imaps._tcp.` adds 12 octets to a name of 251 in wire form: over 255.
    let long = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(
        MailService::Imaps.owner(&name(&long)),
        Err(NameError::NameTooLong)
    );
}
