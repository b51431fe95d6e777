//! Signed-world scenarios (issue 13): worlds whose DNSSEC data exercises an in-core validator
//! beyond what the catalogue's [`Status`] values say: NSEC3 with opt-out and with too many
//! iterations, wildcard answers, CNAME chains across zones, an algorithm rollover, a DS of an
//! unknown algorithm, a DNAME, and each kind of bogus data. Each carries the verdict a check with
//! `--dnssec validate` must reach, a one-line RFC reason, and the status a correct validator
//! finds for its telling lookups.
//!
//! Conventions as in [`super::catalogue`]: next hop `example.com`, MX host `mx.example.net` at
//! 192.0.2.10, a self-signed leaf matched by `3 1 1`.

use std::net::{IpAddr, Ipv4Addr};

use daneel_core::report::{DomainVerdict, FailedLookup, HostVerdict};
use hickory_proto::rr::RecordType;

use super::catalogue::{expect, host, scenario, Expected, Scenario, MX, MX_IP};
use super::certs::{self_signed, server_tls, tlsa, Issued};
use super::server::MailServer;
use super::zones::{Status, World, WorldBuilder};

/// The status a correct validator finds for one lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The name asked.
    pub name: String,
    /// The type asked.
    pub rtype: RecordType,
    /// Secure, Insecure or Bogus (the code is not compared).
    pub status: Status,
}

/// One signed-world scenario.
#[derive(Clone, Debug)]
pub struct SignedScenario {
    /// The scenario (`V01`...) with the verdict of a check with `--dnssec validate`.
    pub scenario: Scenario,
    /// Why, with the RFC section.
    pub rfc: &'static str,
    /// Whether the world's [`Status`] values alone say the same (so a check trusting the AD
    /// bit of the validating resolver must reach the same verdict); false where the signing
    /// itself decides (NSEC3 iterations, wildcards, an unknown DS algorithm).
    pub same_with_trust_ad: bool,
    /// What a correct validator finds for these lookups.
    pub lookups: Vec<Lookup>,
}

/// Whether a check ending with `verdict` took DNSSEC answers as proven, secure or provably
/// insecure (verified in any form, `no-dane`, a null MX or NXDOMAIN): what no check may
/// reach when every signed answer is bogus, as behind a forwarder that strips RRSIG, NSEC,
/// NSEC3 and DS records (issue 13).
pub fn relies_on_proven_answers(verdict: DomainVerdict) -> bool {
    matches!(
        verdict,
        DomainVerdict::DaneVerified
            | DomainVerdict::DaneTrusted
            | DomainVerdict::DanePartial
            | DomainVerdict::NoDane
            | DomainVerdict::NullMx
            | DomainVerdict::Nxdomain
    )
}

/// The TLSA owner of the MX host.
const MX_TLSA: &str = "_25._tcp.mx.example.net";

fn lookup(name: &str, rtype: RecordType, status: Status) -> Lookup {
    Lookup {
        name: name.to_string(),
        rtype,
        status,
    }
}

fn one_host(domain: DomainVerdict, verdict: HostVerdict, reason: Option<&'static str>) -> Expected {
    expect(domain, vec![host(MX, verdict, reason)])
}

/// Secure `example.com` and `example.net`, MX `10 <mx>`, a server named `mx` at 192.0.2.10
/// presenting `leaf`; no address record for the MX host yet.
fn served(leaf: &Issued, mx: &str) -> WorldBuilder {
    World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .mx("example.com", 10, mx)
        .server(
            IpAddr::V4(MX_IP),
            MailServer::new(mx).with_tls(server_tls(&[leaf])),
        )
}

/// [`served`] for `mx.example.net`, with its A record.
fn base(leaf: &Issued) -> WorldBuilder {
    served(leaf, MX).a(MX, MX_IP)
}

/// Every signed-world scenario, in id order.
pub fn signed_scenarios() -> Vec<SignedScenario> {
    use DomainVerdict as D;
    use HostVerdict as H;
    use RecordType as T;
    use Status::{Insecure, Secure};
    const BOGUS: Status = Status::BOGUS;
    let leaf = self_signed(&[MX]);
    let ee = tlsa(3, 1, 1, &leaf);
    let verified = || one_host(D::DaneVerified, H::Verified, None);
    let opportunistic = || one_host(D::NoDane, H::Untrusted, None);
    let tlsa_bogus = || {
        let mut e = one_host(D::DaneFailed, H::DnsFailed, Some("dns-bogus"));
        e.hosts[0].lookup = Some(FailedLookup::Tlsa);
        e
    };
    let mut v = Vec::new();
    let mut push = |id: &'static str,
                    title: &'static str,
                    rfc: &'static str,
                    same_with_trust_ad: bool,
                    world: World,
                    expected: Expected,
                    lookups: Vec<Lookup>| {
        v.push(SignedScenario {
            scenario: scenario(id, title, world, expected),
            rfc,
            same_with_trust_ad,
            lookups,
        })
    };
    push(
        "V01",
        "NSEC3 zone: a signed TLSA RRset, NODATA and NXDOMAIN proven with NSEC3",
        "RFC 5155 sec. 8.5, 8.4: closest encloser, next closer and wildcard proofs",
        true,
        base(&leaf)
            .nsec3("example.net", 0, false)
            .tlsa_for(MX, &ee)
            .build(),
        verified(),
        vec![
            lookup(MX_TLSA, T::TLSA, Secure),
            lookup(MX, T::AAAA, Secure),
            lookup("_25._tcp.nothing.example.net", T::TLSA, Secure),
        ],
    );
    let sub = "mx.sub.example.net";
    push(
        "V02",
        "NSEC3 opt-out over an unsigned delegation: the MX host's address is insecure",
        "RFC 5155 sec. 6, 8.6: opt-out proves no DS only insecurely; RFC 7672 sec. 2.2.2",
        true,
        served(&leaf, sub)
            .nsec3("example.net", 0, true)
            .zone("sub.example.net", Status::Insecure)
            .a("www.example.net", Ipv4Addr::new(192, 0, 2, 99))
            .a(sub, MX_IP)
            .tlsa_for(sub, &tlsa(3, 1, 1, &self_signed(&["other.example.org"])))
            .build(),
        expect(D::NoDane, vec![host(sub, H::Untrusted, None)]),
        vec![
            lookup(sub, T::A, Insecure),
            lookup("www.example.net", T::A, Secure),
            lookup("example.com", T::MX, Secure),
        ],
    );
    push(
        "V03",
        "NSEC3 with iterations above the limit: the TLSA denial is insecure",
        "RFC 9276 sec. 3.2: above the limit, insecure (EDE 27) once the NSEC3 RRSIG verified",
        false,
        base(&leaf)
            .nsec3(
                "example.net",
                daneel_core::dnssec::MAX_NSEC3_ITERATIONS + 1,
                false,
            )
            .build(),
        opportunistic(),
        vec![lookup(MX, T::A, Secure), lookup(MX_TLSA, T::TLSA, Insecure)],
    );
    push(
        "V04",
        "TLSA synthesised from a wildcard, proven with NSEC",
        "RFC 4035 sec. 5.3.4: RRSIG labels below the owner's, the NSEC proves no closer match",
        false,
        base(&leaf).tlsa("*._tcp.mx.example.net", &ee).build(),
        verified(),
        vec![lookup(MX_TLSA, T::TLSA, Secure)],
    );
    push(
        "V05",
        "A synthesised from a wildcard in an NSEC3 zone, TLSA a wildcard NODATA",
        "RFC 5155 sec. 8.8 (wildcard answer), 8.7 (wildcard NODATA)",
        false,
        served(&leaf, MX)
            .nsec3("example.net", 0, false)
            .a("*.example.net", MX_IP)
            .build(),
        opportunistic(),
        vec![
            lookup(MX, T::A, Secure),
            lookup(MX, T::AAAA, Secure),
            lookup(MX_TLSA, T::TLSA, Secure),
        ],
    );
    push(
        "V06",
        "TLSA synthesised from a wildcard, proven with NSEC3",
        "RFC 5155 sec. 8.8: an NSEC3 covers the next closer name",
        false,
        base(&leaf)
            .nsec3("example.net", 0, false)
            .tlsa("*._tcp.mx.example.net", &ee)
            .build(),
        verified(),
        vec![lookup(MX_TLSA, T::TLSA, Secure)],
    );
    push(
        "V07",
        "CNAME chain across two zones: a secure alias into an unsigned zone",
        "RFC 4035 sec. 5 per link; RFC 7672 sec. 2.2.2: the TLSA base stays the original name",
        true,
        served(&leaf, MX)
            .zone("unsigned.net", Status::Insecure)
            .cname("alias.example.com", MX)
            .cname(MX, "host.unsigned.net")
            .a("host.unsigned.net", MX_IP)
            .tlsa_for(MX, &ee)
            .build(),
        verified(),
        vec![
            lookup(MX, T::A, Insecure),
            lookup(MX, T::CNAME, Secure),
            lookup("alias.example.com", T::CNAME, Secure),
            lookup("host.unsigned.net", T::A, Insecure),
        ],
    );
    push(
        "V08",
        "algorithm rollover: Ed25519 and P-256 keys, every RRset signed by both, DS for P-256",
        "RFC 6781 sec. 4.1.4; RFC 6840 sec. 5.11: one valid signature by a vouched algorithm",
        true,
        base(&leaf)
            .rollover("example.net")
            .tlsa_for(MX, &ee)
            .build(),
        verified(),
        vec![
            lookup(MX_TLSA, T::TLSA, Secure),
            lookup(MX, T::AAAA, Secure),
        ],
    );
    push(
        "V09",
        "DS of an unknown algorithm: the zone is insecure, not bogus",
        "RFC 4035 sec. 5.2: a DS RRset with no supported algorithm means insecure",
        false,
        base(&leaf)
            .ds_algorithm("example.net", 200)
            .tlsa_for(MX, &ee)
            .build(),
        opportunistic(),
        vec![
            lookup(MX, T::A, Insecure),
            lookup(MX_TLSA, T::TLSA, Insecure),
            lookup("example.com", T::MX, Secure),
        ],
    );
    // Bogus by Extended DNS Error code: the zone example.net (its DS, its DNSKEY RRset), or
    // the TLSA RRset alone.
    for (id, title, rfc, code, whole_zone) in [
        (
            "V10",
            "DS digest matching no DNSKEY: the zone is bogus",
            "RFC 4035 sec. 5.2: usable DS records and no matching key (EDE 9)",
            9,
            true,
        ),
        (
            "V11",
            "a bad signature over the DNSKEY RRset: the zone's keys are bogus",
            "RFC 4035 sec. 5.2: the DNSKEY RRset must be signed by a vouched key (EDE 6)",
            6,
            true,
        ),
        (
            "V12",
            "expired RRSIG over the TLSA RRset",
            "RFC 4035 sec. 5.3.1: now after the expiration is bogus (EDE 7)",
            7,
            false,
        ),
        (
            "V13",
            "RRSIG over the TLSA RRset not yet valid",
            "RFC 4035 sec. 5.3.1: now before the inception is bogus (EDE 8)",
            8,
            false,
        ),
        (
            "V14",
            "TLSA RRset signed by a key the zone does not publish",
            "RFC 4035 sec. 5.3.1: no DNSKEY matches the RRSIG (EDE 9)",
            9,
            false,
        ),
        (
            "V15",
            "TLSA RRset without RRSIG in a signed zone",
            "RFC 4035 sec. 4.3, 5.5: a missing RRSIG is bogus, never insecure (EDE 10)",
            10,
            false,
        ),
    ] {
        let world = base(&leaf).tlsa_for(MX, &ee);
        let (world, expected, address) = if whole_zone {
            let world = world.zone("example.net", Status::Bogus(code));
            (world, expect(D::TempFail, Vec::new()), BOGUS)
        } else {
            let world = world.status(MX_TLSA, T::TLSA, Status::Bogus(code));
            (world, tlsa_bogus(), Secure)
        };
        push(
            id,
            title,
            rfc,
            true,
            world.build(),
            expected,
            vec![
                lookup(MX_TLSA, T::TLSA, BOGUS),
                lookup(MX, T::A, address),
                lookup("example.com", T::MX, Secure),
            ],
        );
    }
    push(
        "V16",
        "bad signature over the MX RRset",
        "RFC 4035 sec. 5.3.3: a signature that does not verify is bogus (EDE 6)",
        true,
        base(&leaf)
            .tlsa_for(MX, &ee)
            .status("example.com", T::MX, Status::Bogus(6))
            .build(),
        expect(D::TempFail, Vec::new()),
        vec![lookup("example.com", T::MX, BOGUS)],
    );
    push(
        "V17",
        "TLSA NXDOMAIN without its NSEC proof",
        "RFC 4035 sec. 5.4: a denial in a signed zone needs NSEC (EDE 12)",
        true,
        base(&leaf).denial(MX_TLSA, Status::Bogus(12)).build(),
        tlsa_bogus(),
        vec![lookup(MX_TLSA, T::TLSA, BOGUS), lookup(MX, T::AAAA, Secure)],
    );
    let through = "mx.hosts.example.net";
    push(
        "V18",
        "MX host reached through a DNAME: the synthesised CNAME is unsigned, the DNAME is signed",
        "RFC 6672 sec. 5.3.1: the unsigned CNAME counts as the substitution of the signed DNAME",
        false,
        served(&leaf, through)
            .zone("example.org", Status::Secure)
            .dname("hosts.example.net", "hosts.example.org")
            .a("mx.hosts.example.org", MX_IP)
            .tlsa_for("mx.hosts.example.org", &ee)
            .build(),
        expect(D::DaneVerified, vec![host(through, H::Verified, None)]),
        vec![
            lookup(through, T::A, Secure),
            lookup("_25._tcp.mx.hosts.example.net", T::TLSA, Secure),
            lookup("mx.hosts.example.org", T::A, Secure),
        ],
    );
    v
}
