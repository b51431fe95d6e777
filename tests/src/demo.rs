//! The world of `daneel demo`: a handful of mail domains that show what a postmaster sees,
//! served live on loopback with no network (DESIGN.md section 7; issue 4).
//!
//! | domain | what it shows |
//! |---|---|
//! | `verified.example` | secure MX, DANE-EE `3 1 1` matching: `dane-verified` |
//! | `ta.example` | DANE-TA `2 0 1` on the intermediate, leaf names the MX host: `dane-verified` |
//! | `failed.example` | the TLSA record does not match the server's key: `dane-failed` |
//! | `insecure.example` | an unsigned zone: no DANE, opportunistic TLS: `no-dane` |
//! | `bogus.example` | the MX RRset fails validation: delivery would defer: `temp-fail` |
//! | `nullmx.example` | `MX 0 .`: the domain accepts no mail (RFC 7505): `null-mx` |

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;

use crate::world::certs::{self_signed, server_tls, tlsa, Ca, Validity};
use crate::world::{MailServer, Status, World};

use daneel_core::DomainVerdict;

/// The demo's domains, what each shows and the verdict it must get, in the order checked.
pub const DOMAINS: [(&str, &str, DomainVerdict); 6] = [
    (
        "verified.example",
        "secure MX, DANE-EE 3 1 1 matching the server's key",
        DomainVerdict::DaneVerified,
    ),
    (
        "ta.example",
        "DANE-TA 2 0 1 on the issuing CA; the leaf names the MX host",
        DomainVerdict::DaneVerified,
    ),
    (
        "failed.example",
        "a TLSA record that no longer matches the server's key",
        DomainVerdict::DaneFailed,
    ),
    (
        "insecure.example",
        "an unsigned zone: DANE does not apply",
        DomainVerdict::NoDane,
    ),
    (
        "bogus.example",
        "an MX RRset that fails DNSSEC validation",
        DomainVerdict::TempFail,
    ),
    (
        "nullmx.example",
        "a null MX: the domain accepts no mail",
        DomainVerdict::NullMx,
    ),
];

/// The demo world, with mail servers listening on `port` (TLSA names follow it).
pub fn world(port: u16) -> World {
    let mx1 = self_signed(&["mx.verified.example"]);
    let root = Ca::root("Demo Root CA");
    let inter = root.intermediate("Demo Issuing CA");
    let ta_leaf = inter.leaf(&["mail.ta.example"], Validity::Current);
    let renewed = self_signed(&["mx.failed.example"]);
    let old_key = self_signed(&["mx.failed.example"]);
    let plain = self_signed(&["mx.insecure.example"]);
    let ip = |n: u8| Ipv4Addr::new(192, 0, 2, n);
    World::builder()
        .smtp_port(port)
        .zone("verified.example", Status::Secure)
        .mx("verified.example", 10, "mx.verified.example")
        .a("mx.verified.example", ip(10))
        .tlsa_for("mx.verified.example", &tlsa(3, 1, 1, &mx1))
        .server(
            ip(10).into(),
            MailServer::new("mx.verified.example").with_tls(server_tls(&[&mx1])),
        )
        .zone("ta.example", Status::Secure)
        .mx("ta.example", 10, "mail.ta.example")
        .a("mail.ta.example", ip(20))
        .tlsa_for("mail.ta.example", &tlsa(2, 0, 1, &inter.cert))
        .server(
            ip(20).into(),
            MailServer::new("mail.ta.example").with_tls(server_tls(&[&ta_leaf, &inter.cert])),
        )
        .zone("failed.example", Status::Secure)
        .mx("failed.example", 10, "mx.failed.example")
        .a("mx.failed.example", ip(30))
        .tlsa_for("mx.failed.example", &tlsa(3, 1, 1, &old_key))
        .server(
            ip(30).into(),
            MailServer::new("mx.failed.example").with_tls(server_tls(&[&renewed])),
        )
        .zone("insecure.example", Status::Insecure)
        .mx("insecure.example", 10, "mx.insecure.example")
        .a("mx.insecure.example", ip(40))
        .server(
            ip(40).into(),
            MailServer::new("mx.insecure.example").with_tls(server_tls(&[&plain])),
        )
        .zone("bogus.example", Status::Secure)
        .mx("bogus.example", 10, "mx.bogus.example")
        .status("bogus.example", RecordType::MX, Status::BOGUS)
        .a("mx.bogus.example", ip(50))
        .zone("nullmx.example", Status::Secure)
        .null_mx("nullmx.example")
        .build()
}
