//! The scenario catalogue: SPEC-NOTES c.1, c.2 and c.3 (S01-S63 where a server is needed),
//! plus extra cases, each as a [`World`] with the verdicts RFC 7672 calls for, in the model of
//! DESIGN.md section 5 with the default insecure-MX policy `dane` (Postfix half-dane).
//!
//! Conventions (SPEC-NOTES c): next hop `example.com`, MX host `mx.example.net` at
//! 192.0.2.10, port 25. AUTH means host `verified` (`trusted` under an insecure MX), ENC means
//! `untrusted` (TLS without authentication), OPP with STARTTLS means `untrusted`, SKIP/DEFER
//! means host `dane-failed` (or `dns-failed` for lookups) and domain `dane-failed`.
//! Expected verdicts come from the RFCs, not from any implementation. `hosts` lists the hosts
//! whose verdicts are pinned; a report may list more.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use daneel_core::dane::TlsaRecord;
use daneel_core::report::{DomainVerdict, FailedLookup, HostVerdict};
use hickory_proto::rr::RecordType;

use super::certs::{self_signed, server_tls, tlsa, Ca, Issued, Validity};
use super::server::{Behaviour, MailServer, ServerTls, Stage, TlsVersions};
use super::zones::{Fault, Status, World, WorldBuilder};

/// The pinned verdict of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedHost {
    /// The host name as in the MX record (or the destination).
    pub name: String,
    /// Its verdict.
    pub verdict: HostVerdict,
    /// The `Reason::code()` expected, if pinned.
    pub reason: Option<&'static str>,
    /// For a `dns-failed` host, the lookup that failed, if pinned (DESIGN.md section 5).
    pub lookup: Option<FailedLookup>,
    /// The host's RFC 8460 result type (`HostReport::tlsrpt`), if pinned.
    pub tlsrpt: Option<&'static str>,
}

impl ExpectedHost {
    /// Pins the failed lookup of a `dns-failed` host.
    pub fn lookup(mut self, lookup: FailedLookup) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// Pins the host's RFC 8460 result type.
    pub fn tlsrpt(mut self, result_type: &'static str) -> Self {
        self.tlsrpt = Some(result_type);
        self
    }
}

/// What a check of the scenario must report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The domain verdict.
    pub domain: DomainVerdict,
    /// The domain-level reason code, if pinned.
    pub reason: Option<&'static str>,
    /// Pinned host verdicts.
    pub hosts: Vec<ExpectedHost>,
    /// The SNI the (first) TLS connection must send, if pinned (RFC 7672 sec. 8.1).
    pub sni: Option<&'static str>,
    /// The code of a warning the report must carry, if pinned.
    pub warning: Option<&'static str>,
}

/// One scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `S01`...; `X..` for scenarios not in SPEC-NOTES.
    pub id: &'static str,
    /// What it is about, with the RFC section.
    pub title: &'static str,
    /// The world.
    pub world: World,
    /// The destination as given to the check: `example.com` or `[host]:port`.
    pub destination: String,
    /// The expected verdicts.
    pub expected: Expected,
    /// Run with mandatory DANE (`--require-dane`, RFC 7672 sec. 6).
    pub require_dane: bool,
}

impl Scenario {
    /// Whether the scenario pins `code` (a domain or host reason) as its outcome.
    pub fn expects(&self, code: &str) -> bool {
        self.expected.reason == Some(code)
            || self.expected.hosts.iter().any(|h| h.reason == Some(code))
    }

    /// The check configuration for a live run with `resolver` (IPv4 only, as the live
    /// world). Timeouts are short only where the expected outcome is that timer firing (a
    /// stalled server, a DNS timeout), which keeps those cases quick. Everywhere else a timer
    /// that fires changes the verdict, and on a loaded machine (issue 17,
    /// tests/under-load.sh) a loopback answer can take far longer than the usual millisecond;
    /// those timers stay long enough never to fire and cost nothing while answers arrive.
    pub fn live_config(&self, resolver: std::net::SocketAddr) -> daneel_core::check::CheckConfig {
        let mut config = self.config(resolver);
        config.family = daneel_core::check::AddressFamily::V4;
        config.smtp_timeout_ms = Some(if self.expects("timeout") {
            1_500
        } else {
            20_000
        });
        config.dns_timeout_ms = if self.expects("dns-timeout") {
            500
        } else {
            3_000
        };
        config.dns_attempts = 2;
        config
    }

    /// The check configuration for this scenario with `resolver`. The world's resolvers
    /// simulate a validating resolver's AD bit on their CD=0 answers (the path whose
    /// statuses the catalogue states), so the catalogue is judged with `--dnssec trust-ad`;
    /// `validate_catalogue` judges it again with `--dnssec validate` on the signed data.
    pub fn config(&self, resolver: std::net::SocketAddr) -> daneel_core::check::CheckConfig {
        let mut config =
            daneel_core::check::CheckConfig::new(self.destination.clone(), vec![resolver]);
        config.require_dane = self.require_dane;
        config.dnssec =
            daneel_core::dnssec::DnssecSettings::new(daneel_core::dnssec::DnssecMode::TrustAd);
        config
    }
}

/// The MX host of most scenarios.
pub const MX: &str = "mx.example.net";
/// Its address.
pub const MX_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// A second MX host.
pub const MX2: &str = "mx2.example.net";
/// Its address.
pub const MX2_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

fn v4(ip: Ipv4Addr) -> IpAddr {
    IpAddr::V4(ip)
}

/// Certificates shared by the scenarios of one catalogue.
struct Pki {
    root: Ca,
    inter: Ca,
    /// Leaf for `mx.example.net` issued by `inter`.
    leaf: Issued,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::root("daneel world root");
        let inter = root.intermediate("daneel world intermediate");
        let leaf = inter.leaf(&[MX], Validity::Current);
        Pki { root, inter, leaf }
    }
    /// leaf + intermediate.
    fn chain(&self, leaf: &Issued) -> ServerTls {
        server_tls(&[leaf, &self.inter.cert])
    }
}

/// A pinned host verdict, with its reason code if pinned.
pub(crate) fn host(name: &str, verdict: HostVerdict, reason: Option<&'static str>) -> ExpectedHost {
    ExpectedHost {
        name: name.to_string(),
        verdict,
        reason,
        lookup: None,
        tlsrpt: None,
    }
}

/// The expectations: a domain verdict and pinned hosts.
pub(crate) fn expect(domain: DomainVerdict, hosts: Vec<ExpectedHost>) -> Expected {
    Expected {
        domain,
        reason: None,
        hosts,
        sni: None,
        warning: None,
    }
}

/// A scenario for the next hop `example.com`.
pub(crate) fn scenario(
    id: &'static str,
    title: &'static str,
    world: World,
    expected: Expected,
) -> Scenario {
    Scenario {
        id,
        title,
        world,
        destination: "example.com".into(),
        expected,
        require_dane: false,
    }
}

/// Secure `example.com` and `example.net`, MX `10 mx.example.net`, A of the MX host.
fn base() -> WorldBuilder {
    World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .mx("example.com", 10, MX)
        .a(MX, MX_IP)
}

fn server(tls: ServerTls) -> MailServer {
    MailServer::new(MX).with_tls(tls)
}

/// S01-style: base + TLSA + a server presenting `tls`.
fn dane(rec: &TlsaRecord, tls: ServerTls) -> WorldBuilder {
    base().tlsa_for(MX, rec).server(v4(MX_IP), server(tls))
}

use DomainVerdict as D;
use FailedLookup as L;
use HostVerdict as H;

/// Every scenario, in id order. Certificates are generated afresh on each call.
pub fn all() -> Vec<Scenario> {
    let p = Pki::new();
    let ee = tlsa(3, 1, 1, &p.leaf);
    let chain = || p.chain(&p.leaf);
    let other = self_signed(&["other.example.org"]);
    let wrong = tlsa(3, 1, 1, &other);
    let ok = |n: &str| host(n, H::Verified, None);
    let mut v = Vec::new();

    // c.1 MX / address / DNS status
    v.push(scenario(
        "S01",
        "DANE-EE 3 1 1 matches the leaf (RFC 7672 sec. 3.1.1)",
        dane(&ee, chain()).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let expired = p.inter.leaf(&[MX], Validity::Expired);
    v.push(scenario(
        "S02",
        "DANE-EE ignores expiry (RFC 7672 sec. 3.1.1)",
        dane(&tlsa(3, 1, 1, &expired), p.chain(&expired)).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let misnamed = p.inter.leaf(&["other.example.org"], Validity::Current);
    v.push(scenario(
        "S03",
        "DANE-EE checks no names (RFC 7672 sec. 3.2.1)",
        dane(&tlsa(3, 1, 1, &misnamed), p.chain(&misnamed)).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let selfs = self_signed(&[MX]);
    v.push(scenario(
        "S04",
        "DANE-EE with a self-signed leaf",
        dane(&tlsa(3, 1, 1, &selfs), server_tls(&[&selfs])).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S05",
        "usable TLSA that does not match: never deliver (RFC 7672 sec. 3.2)",
        dane(&wrong, chain()).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    v.push(scenario(
        "S06",
        "usable TLSA, no STARTTLS offered (RFC 7672 sec. 2.2)",
        base()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()).without_starttls())
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("starttls-not-offered"))],
        ),
    ));
    v.push(scenario(
        "S07",
        "usable TLSA, handshake fails: no cleartext retry",
        base()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()).behaviour(Behaviour::TlsGarbage))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("handshake-failed"))],
        ),
    ));
    let tlsa_name = |h: &str| format!("_25._tcp.{h}");
    v.push(scenario(
        "S08",
        "TLSA lookup SERVFAIL: skip host (RFC 7672 sec. 2.1.2)",
        base()
            .fault(&tlsa_name(MX), RecordType::TLSA, Fault::ServFail)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DnsFailed, Some("dns-servfail")).lookup(L::Tlsa)],
        ),
    ));
    v.push(scenario(
        "S09",
        "two MX hosts, both TLSA lookups fail: defer",
        base()
            .mx("example.com", 20, MX2)
            .a(MX2, MX2_IP)
            .fault(&tlsa_name(MX), RecordType::TLSA, Fault::ServFail)
            .fault(&tlsa_name(MX2), RecordType::TLSA, Fault::ServFail)
            .server(v4(MX_IP), server(chain()))
            .server(v4(MX2_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![
                host(MX, H::DnsFailed, Some("dns-servfail")),
                host(MX2, H::DnsFailed, Some("dns-servfail")),
            ],
        ),
    ));
    v.push(scenario(
        "S10",
        "TLSA bogus: skip host, dnssec-invalid",
        dane(&ee, chain())
            .status(&tlsa_name(MX), RecordType::TLSA, Status::BOGUS)
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DnsFailed, Some("dns-bogus"))
                .lookup(L::Tlsa)
                .tlsrpt("dnssec-invalid")],
        ),
    ));
    v.push(scenario(
        "S11",
        "TLSA securely absent (NXDOMAIN): opportunistic TLS",
        base().server(v4(MX_IP), server(chain())).build(),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    v.push(scenario(
        "S12",
        "TLSA NODATA insecure (opt-out): opportunistic, not an error",
        base()
            .record(
                &tlsa_name(MX),
                hickory_proto::rr::RData::TXT(hickory_proto::rr::rdata::TXT::new(vec!["x".into()])),
            )
            .denial(&tlsa_name(MX), Status::Insecure)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    v.push(scenario(
        "S13",
        "TLSA present but insecure: not DANE (RFC 7672 sec. 2.2)",
        dane(&wrong, chain())
            .status(&tlsa_name(MX), RecordType::TLSA, Status::Insecure)
            .build(),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    let unsigned_host = |b: WorldBuilder| {
        b.zone("unsigned.net", Status::Insecure)
            .mx("example.com", 10, "mx.unsigned.net")
            .a("mx.unsigned.net", MX_IP)
            .server(
                v4(MX_IP),
                MailServer::new("mx.unsigned.net").with_tls(chain()),
            )
    };
    v.push(scenario(
        "S14",
        "MX secure, host address insecure: no TLSA lookup (RFC 7672 sec. 2.2.2)",
        unsigned_host(World::builder().zone("example.com", Status::Secure))
            .tlsa_for("mx.unsigned.net", &wrong)
            .build(),
        expect(D::NoDane, vec![host("mx.unsigned.net", H::Untrusted, None)]),
    ));
    v.push(scenario(
        "S15",
        "host address insecure, TLSA would SERVFAIL: still opportunistic",
        unsigned_host(World::builder().zone("example.com", Status::Secure))
            .fault(
                "_25._tcp.mx.unsigned.net",
                RecordType::TLSA,
                Fault::ServFail,
            )
            .build(),
        expect(D::NoDane, vec![host("mx.unsigned.net", H::Untrusted, None)]),
    ));
    v.push(scenario(
        "S16",
        "A secure, AAAA bogus: DANE over IPv4 (RFC 7672 sec. 2.2.2)",
        dane(&ee, chain())
            .aaaa(MX, Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10))
            .status(MX, RecordType::AAAA, Status::BOGUS)
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S17",
        "MX lookup SERVFAIL: defer (RFC 7672 sec. 2.1.2)",
        dane(&ee, chain())
            .fault("example.com", RecordType::MX, Fault::ServFail)
            .build(),
        expect(D::TempFail, vec![]),
    ));
    v.push(scenario(
        "S18",
        "MX bogus: defer",
        dane(&ee, chain())
            .status("example.com", RecordType::MX, Status::BOGUS)
            .build(),
        expect(D::TempFail, vec![]),
    ));
    let insecure_mx = || {
        World::builder()
            .zone("example.com", Status::Insecure)
            .zone("example.net", Status::Secure)
            .mx("example.com", 10, MX)
            .a(MX, MX_IP)
    };
    v.push(scenario(
        "S19",
        "MX insecure, host TLSA secure and matching: trusted (half-dane)",
        insecure_mx()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::DaneTrusted, vec![host(MX, H::Trusted, None)]),
    ));
    v.push(scenario(
        "S20",
        "MX insecure, TLSA secure not matching: dane policy fails",
        insecure_mx()
            .tlsa_for(MX, &wrong)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    let mut s21 = scenario(
        "S21",
        "mandatory DANE, MX insecure: defer (RFC 7672 sec. 2.2.1, 6)",
        insecure_mx()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("dane-required"))],
        ),
    );
    s21.require_dane = true;
    v.push(s21);
    let mut s22 = scenario(
        "S22",
        "mandatory DANE, secure MX, secure NXDOMAIN TLSA: defer (RFC 7672 sec. 6)",
        base().server(v4(MX_IP), server(chain())).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("dane-required"))],
        ),
    );
    s22.require_dane = true;
    v.push(s22);
    let mut s22b = scenario(
        "S22b",
        "mandatory DANE, secure MX, usable TLSA matching: verified as usual",
        dane(&ee, chain()).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    );
    s22b.require_dane = true;
    v.push(s22b);
    let a_only = |b: WorldBuilder| {
        b.mx("example.com", 10, "a.example.net")
            .mx("example.com", 20, "b.example.net")
            .a("a.example.net", MX_IP)
            .a("b.example.net", MX2_IP)
            .tlsa_for("b.example.net", &tlsa(3, 1, 1, &p.leaf))
            .server(
                v4(MX2_IP),
                MailServer::new("b.example.net").with_tls(chain()),
            )
    };
    let two_zones = || {
        World::builder()
            .zone("example.com", Status::Secure)
            .zone("example.net", Status::Secure)
    };
    v.push(scenario(
        "S23",
        "a (no TLSA) preferred over b (TLSA): order kept (RFC 7672 sec. 2.2.1)",
        a_only(two_zones())
            .server(
                v4(MX_IP),
                MailServer::new("a.example.net").with_tls(chain()),
            )
            .build(),
        expect(
            D::DanePartial,
            vec![
                host("a.example.net", H::Untrusted, None),
                ok("b.example.net"),
            ],
        ),
    ));
    v.push(scenario(
        "S24",
        "a unreachable, b authenticated",
        a_only(two_zones()).unreachable(v4(MX_IP)).build(),
        expect(
            D::DanePartial,
            vec![
                host("a.example.net", H::Untested, Some("connect-failed")),
                ok("b.example.net"),
            ],
        ),
    ));
    v.push(scenario(
        "S25",
        "equal preference, one host with TLSA, one without",
        two_zones()
            .mx("example.com", 10, "a.example.net")
            .mx("example.com", 10, "b.example.net")
            .a("a.example.net", MX_IP)
            .a("b.example.net", MX2_IP)
            .tlsa_for("b.example.net", &ee)
            .server(
                v4(MX_IP),
                MailServer::new("a.example.net").with_tls(chain()),
            )
            .server(
                v4(MX2_IP),
                MailServer::new("b.example.net").with_tls(chain()),
            )
            .build(),
        expect(
            D::DanePartial,
            vec![
                host("a.example.net", H::Untrusted, None),
                ok("b.example.net"),
            ],
        ),
    ));
    let implicit = |s: Status| {
        World::builder()
            .zone("example.com", Status::Secure)
            .a("example.com", MX_IP)
            .denial("example.com", s)
            .tlsa_for("example.com", &ee)
            .server(v4(MX_IP), MailServer::new("example.com").with_tls(chain()))
    };
    v.push(scenario(
        "S26",
        "no MX (secure NODATA): implicit MX with DANE (RFC 7672 sec. 2.2.1)",
        implicit(Status::Secure).build(),
        expect(D::DaneVerified, vec![ok("example.com")]),
    ));
    v.push(scenario(
        "S27",
        "no MX (insecure NODATA), host secure: half-dane like S19",
        implicit(Status::Insecure).build(),
        expect(D::DaneTrusted, vec![host("example.com", H::Trusted, None)]),
    ));
    v.push(scenario(
        "S28",
        "null MX (RFC 7505)",
        World::builder()
            .zone("example.com", Status::Secure)
            .null_mx("example.com")
            .build(),
        expect(D::NullMx, vec![]),
    ));
    v.push(scenario(
        "S29",
        "null MX plus another MX: an ordinary MX list (RFC 7505 sec. 3)",
        dane(&ee, chain()).null_mx("example.com").build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let mut s30 = scenario(
        "S30",
        "address literal: no DANE (RFC 7672 sec. 2.2)",
        World::builder()
            .server(
                v4(Ipv4Addr::new(192, 0, 2, 1)),
                MailServer::new("192.0.2.1").with_tls(chain()),
            )
            .build(),
        expect(D::NoDane, vec![host("192.0.2.1", H::Untrusted, None)]),
    );
    s30.destination = "[192.0.2.1]".into();
    v.push(s30);
    v.push(scenario(
        "S31",
        "MX exchange is an IP address: connected to without DANE (RFC 7672 sec. 2.2, R15)",
        World::builder()
            .zone("example.com", Status::Secure)
            .mx("example.com", 10, "192.0.2.10")
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::NoDane, vec![host("192.0.2.10", H::Untrusted, None)]),
    ));
    let relay = p.inter.leaf(&["relay.example.net"], Validity::Current);
    let mut s32 = scenario(
        "S32",
        "[relay]:587 with _587._tcp TLSA (RFC 7672 sec. 2.2.1)",
        World::builder()
            .smtp_port(587)
            .zone("example.net", Status::Secure)
            .a("relay.example.net", MX_IP)
            .tlsa_for("relay.example.net", &tlsa(3, 1, 1, &relay))
            .server(
                v4(MX_IP),
                MailServer::new("relay.example.net").with_tls(p.chain(&relay)),
            )
            .build(),
        expect(D::DaneVerified, vec![ok("relay.example.net")]),
    );
    s32.destination = "[relay.example.net]:587".into();
    v.push(s32);

    // c.2 CNAMEs and the TLSA base domain
    let provider = |b: WorldBuilder| {
        b.zone("provider.net", Status::Secure)
            .cname(MX, "host.provider.net")
            .a("host.provider.net", MX_IP)
    };
    let cname_base = || {
        World::builder()
            .zone("example.com", Status::Secure)
            .zone("example.net", Status::Secure)
            .mx("example.com", 10, MX)
    };
    let mut s33 = scenario(
        "S33",
        "secure CNAME: TLSA base and SNI are the expanded name (RFC 7672 sec. 2.2.2)",
        provider(cname_base())
            .tlsa_for("host.provider.net", &ee)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    );
    s33.expected.sni = Some("host.provider.net");
    v.push(s33);
    let mut s34 = scenario(
        "S34",
        "no TLSA at the expanded name: fall back to the original",
        provider(cname_base())
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    );
    s34.expected.sni = Some(MX);
    v.push(s34);
    v.push(scenario(
        "S35",
        "TLSA at the expanded name SERVFAIL: skip, no fallback",
        provider(cname_base())
            .tlsa_for(MX, &ee)
            .fault(
                "_25._tcp.host.provider.net",
                RecordType::TLSA,
                Fault::ServFail,
            )
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DnsFailed, Some("dns-servfail")).lookup(L::Tlsa)],
        ),
    ));
    v.push(scenario(
        "S36",
        "secure CNAME into an unsigned zone: base is the original name",
        cname_base()
            .zone("unsigned.net", Status::Insecure)
            .cname(MX, "host.unsigned.net")
            .a("host.unsigned.net", MX_IP)
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S37",
        "MX host in an unsigned zone, CNAME anywhere: no DANE",
        World::builder()
            .zone("example.com", Status::Secure)
            .zone("unsigned.net", Status::Insecure)
            .zone("provider.net", Status::Secure)
            .mx("example.com", 10, "mx.unsigned.net")
            .cname("mx.unsigned.net", "host.provider.net")
            .a("host.provider.net", MX_IP)
            .tlsa_for("host.provider.net", &wrong)
            .server(
                v4(MX_IP),
                MailServer::new("mx.unsigned.net").with_tls(chain()),
            )
            .build(),
        expect(D::NoDane, vec![host("mx.unsigned.net", H::Untrusted, None)]),
    ));
    let ta = tlsa(2, 0, 1, &p.inter.cert);
    v.push(scenario(
        "S38",
        "TLSA owner is a CNAME to a shared record: base stays the host",
        base()
            .cname(&tlsa_name(MX), "tlsa201._dane.example.net")
            .tlsa("tlsa201._dane.example.net", &ta)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S39",
        "TLSA CNAME into an unsigned zone: insecure, opportunistic",
        base()
            .zone("unsigned.net", Status::Insecure)
            .cname(&tlsa_name(MX), "tlsa201._dane.unsigned.net")
            .tlsa("tlsa201._dane.unsigned.net", &ta)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    let nexthop = |san: &str| {
        let leaf = p.inter.leaf(&[san], Validity::Current);
        World::builder()
            .zone("example.com", Status::Secure)
            .zone("example.org", Status::Secure)
            .cname("exchange.example.org", "example.com")
            .mx("example.com", 10, "mx10.example.com")
            .a("mx10.example.com", MX_IP)
            .tlsa_for("mx10.example.com", &ta)
            .server(
                v4(MX_IP),
                MailServer::new("mx10.example.com").with_tls(p.chain(&leaf)),
            )
            .build()
    };
    let mut s40 = scenario(
        "S40",
        "leaf names the CNAME-expanded next hop (RFC 7672 sec. 3.2.2)",
        nexthop("example.com"),
        expect(D::DaneVerified, vec![ok("mx10.example.com")]),
    );
    s40.destination = "exchange.example.org".into();
    v.push(s40);
    let mut s41 = scenario(
        "S41",
        "leaf names the original next hop (RFC 7672 sec. 3.2.2)",
        nexthop("exchange.example.org"),
        expect(D::DaneVerified, vec![ok("mx10.example.com")]),
    );
    s41.destination = "exchange.example.org".into();
    v.push(s41);
    let mx15 = p.inter.leaf(&["mx15.example.com"], Validity::Current);
    v.push(scenario(
        "S42",
        "MX host alias, TLSA only at the alias (RFC 7672 sec. 3.2.2 example)",
        World::builder()
            .zone("example.com", Status::Secure)
            .mx("example.com", 10, "mx15.example.com")
            .cname("mx15.example.com", "mxbackup.example.com")
            .a("mxbackup.example.com", MX_IP)
            .tlsa_for("mx15.example.com", &ta)
            .server(
                v4(MX_IP),
                MailServer::new("mxbackup.example.com").with_tls(p.chain(&mx15)),
            )
            .build(),
        expect(D::DaneVerified, vec![ok("mx15.example.com")]),
    ));

    // c.3 usages, selectors, matching types, chains
    v.push(scenario(
        "S43",
        "DANE-TA 2 0 1 on the intermediate (RFC 7672 sec. 3.1.2)",
        dane(&ta, chain()).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S44",
        "DANE-TA, leaf names none of the reference identifiers",
        dane(&ta, p.chain(&misnamed)).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("name-mismatch"))],
        ),
    ));
    v.push(scenario(
        "S45",
        "DANE-TA, leaf expired",
        dane(&ta, p.chain(&expired)).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("expired"))],
        ),
    ));
    v.push(scenario(
        "S46",
        "2 0 1 digest of a root the server does not send",
        dane(&tlsa(2, 0, 1, &p.root.cert), chain()).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    v.push(scenario(
        "S47",
        "2 0 0 full TA certificate, server omits it (RFC 7671 sec. 5.2)",
        dane(&tlsa(2, 0, 0, &p.inter.cert), server_tls(&[&p.leaf])).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S48",
        "2 1 0 TA public key, server omits the TA",
        dane(&tlsa(2, 1, 0, &p.inter.cert), server_tls(&[&p.leaf])).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S49",
        "2 1 1 intermediate SPKI digest",
        dane(&tlsa(2, 1, 1, &p.inter.cert), chain()).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S50",
        "2 x 1 matching only the leaf: a TA must issue (pinned as failure)",
        dane(&tlsa(2, 0, 1, &p.leaf), chain()).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    let unusable = |recs: &[TlsaRecord]| {
        let mut b = base().server(v4(MX_IP), server(chain()));
        for r in recs {
            b = b.tlsa_for(MX, r);
        }
        b.build()
    };
    let mut pkix = tlsa(1, 1, 1, &p.leaf);
    let mut s51 = scenario(
        "S51",
        "only PKIX usages: all unusable, encrypt (RFC 7672 sec. 3.1.3), tlsa-invalid (RFC 8460)",
        unusable(&[tlsa(0, 0, 1, &p.root.cert), pkix.clone()]),
        expect(
            D::NoDane,
            vec![host(MX, H::Untrusted, None).tlsrpt("tlsa-invalid")],
        ),
    );
    s51.expected.warning = Some("all-tlsa-unusable");
    v.push(s51);
    pkix.usage = 3;
    pkix.matching = 7;
    v.push(scenario(
        "S52",
        "unknown matching type only: encrypt",
        unusable(&[pkix.clone()]),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    let mut short = ee.clone();
    short.data.truncate(31);
    v.push(scenario(
        "S53",
        "3 1 1 with 31 bytes: unusable, encrypt",
        unusable(&[short]),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    pkix.matching = 255;
    v.push(scenario(
        "S54",
        "private matching type 255 only: encrypt",
        unusable(&[pkix]),
        expect(D::NoDane, vec![host(MX, H::Untrusted, None)]),
    ));
    let sha512 = tlsa(3, 1, 2, &p.leaf);
    let wrong512 = tlsa(3, 1, 2, &other);
    v.push(scenario(
        "S55",
        "3 1 1 bad + 3 1 2 good: SHA2-512 wins (RFC 7671 sec. 9)",
        dane(&wrong, chain()).tlsa_for(MX, &sha512).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S56",
        "3 1 1 good + 3 1 2 bad: the weaker digest is ignored (RFC 7671 sec. 9)",
        dane(&ee, chain()).tlsa_for(MX, &wrong512).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    v.push(scenario(
        "S57",
        "key rollover: old and new 3 1 1, server on the new key",
        dane(&wrong, chain()).tlsa_for(MX, &ee).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let renewed = p.inter.leaf_with_key(&[MX], &p.leaf, 4242);
    v.push(scenario(
        "S58",
        "3 0 1 of the old certificate, renewed with the same key",
        dane(&tlsa(3, 0, 1, &p.leaf), p.chain(&renewed)).build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    let newkey = p.inter.leaf(&[MX], Validity::Current);
    v.push(scenario(
        "S59",
        "3 1 1 (old key) + 2 1 1 (CA): new leaf authenticates via 2 1 1",
        dane(&ee, p.chain(&newkey))
            .tlsa_for(MX, &tlsa(2, 1, 1, &p.inter.cert))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let sni_only = ServerTls::sni_only()
        .with_sni(
            MX,
            vec![p.leaf.der.clone(), p.inter.cert.der.clone()],
            &p.leaf.key(),
        )
        .expect("identity");
    let mut s61 = scenario(
        "S61",
        "server needs SNI: the client sends the TLSA base (RFC 7672 sec. 8.1)",
        base()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(sni_only))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    );
    s61.expected.sni = Some(MX);
    v.push(s61);
    v.push(scenario(
        "S62",
        "3 1 1 no match + 2 0 1 match: any usable record suffices",
        dane(&wrong, chain()).tlsa_for(MX, &ta).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "S63",
        "2 0 1 on a private root sent in the chain: no WebPKI involved",
        dane(
            &tlsa(2, 0, 1, &p.root.cert),
            server_tls(&[&p.leaf, &p.inter.cert, &p.root.cert]),
        )
        .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));

    // Extra scenarios.
    let mut s73 = scenario(
        "S73",
        "non-validating resolver: stop, never verified (DESIGN.md sec. 4)",
        dane(&ee, chain()).non_validating().build(),
        expect(D::TempFail, vec![]),
    );
    s73.expected.reason = Some("resolver-not-validating");
    v.push(s73);
    v.push(scenario(
        "X01",
        "TLSA answer truncated over UDP: retried over TCP (RFC 7766 sec. 5)",
        dane(&ee, chain())
            .fault(&tlsa_name(MX), RecordType::TLSA, Fault::Truncate)
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "X02",
        "the same host twice in the MX RRset",
        dane(&ee, chain()).mx("example.com", 20, MX).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "X03",
        "plaintext injected after 220 to STARTTLS (RFC 3207 sec. 4.2)",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain())
                    .behaviour(Behaviour::InjectAfterStartTls(b"250 injected\r\n".to_vec())),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("plaintext-injection"))],
        ),
    ));
    v.push(scenario(
        "X04",
        "server never sends its banner: untested",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::StallAfter(Stage::Connect)),
            )
            .build(),
        expect(
            D::Inconclusive,
            vec![host(MX, H::Untested, Some("timeout"))],
        ),
    ));
    v.push(scenario(
        "X05",
        "421 greeting: untested (RFC 5321 sec. 3.8)",
        base()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()).behaviour(Behaviour::Greeting421))
            .build(),
        expect(
            D::Inconclusive,
            vec![host(MX, H::Untested, Some("smtp-rejected"))],
        ),
    ));
    v.push(scenario(
        "X06",
        "connection refused: untested",
        base().tlsa_for(MX, &ee).build(),
        expect(
            D::Inconclusive,
            vec![host(MX, H::Untested, Some("connect-failed"))],
        ),
    ));
    let mut x07 = scenario(
        "X07",
        "the domain does not exist (secure NXDOMAIN)",
        World::builder().zone("example.com", Status::Secure).build(),
        expect(D::Nxdomain, vec![]),
    );
    x07.destination = "nonexistent.example.com".into();
    v.push(x07);
    v.push(scenario(
        "X08",
        "STARTTLS answered 454 with a usable TLSA",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::NoTlsSupport),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("starttls-rejected"))],
        ),
    ));
    v.push(scenario(
        "X09",
        "TLS 1.2-only server with DANE-EE",
        dane(&ee, chain().versions(TlsVersions::Tls12Only)).build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    v.push(scenario(
        "X10",
        "insecure MX, host without TLSA, no STARTTLS: plaintext",
        insecure_mx().server(v4(MX_IP), MailServer::new(MX)).build(),
        expect(D::NoDane, vec![host(MX, H::Plaintext, None)]),
    ));
    v.push(scenario(
        "X11",
        "MX host name does not exist (secure NXDOMAIN)",
        World::builder()
            .zone("example.com", Status::Secure)
            .zone("example.net", Status::Secure)
            .mx("example.com", 10, MX)
            .build(),
        expect(
            D::Inconclusive,
            vec![host(MX, H::Untested, Some("no-addresses"))],
        ),
    ));
    v.push(scenario(
        "X12",
        "TLSA lookup times out at every resolver, addresses answered: a server that drops TLSA queries is a DANE failure (RFC 7672 sec. 2.1.2, 2.2 (d); SPEC-NOTES S75)",
        dane(&ee, chain())
            .fault(&tlsa_name(MX), RecordType::TLSA, Fault::Timeout)
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DnsFailed, Some("dns-timeout")).lookup(L::Tlsa)],
        ),
    ));
    let mut x13 = scenario(
        "X13",
        "the only MX host's A lookup SERVFAILs: unreachable, delivery deferred, not a DANE failure (RFC 7672 sec. 2.1.2)",
        dane(&ee, chain())
            .fault(MX, RecordType::A, Fault::ServFail)
            .build(),
        expect(
            D::TempFail,
            vec![host(MX, H::DnsFailed, Some("dns-servfail")).lookup(L::Address)],
        ),
    );
    x13.expected.warning = Some("address-lookup-failed");
    v.push(x13);
    v.push(scenario(
        "X14",
        "one MX host's A lookup times out, the other is verified: the first is unreachable, not a DANE failure (RFC 7672 sec. 2.1.2)",
        dane(&ee, chain())
            .mx("example.com", 20, MX2)
            .a(MX2, MX2_IP)
            .tlsa_for(MX2, &ee)
            .server(v4(MX2_IP), MailServer::new(MX2).with_tls(chain()))
            .fault(MX, RecordType::A, Fault::Timeout)
            .build(),
        expect(
            D::DaneVerified,
            vec![
                host(MX, H::DnsFailed, Some("dns-timeout")).lookup(L::Address),
                ok(MX2),
            ],
        ),
    ));
    v.push(scenario(
        "X15",
        "the CNAME probe of the TLSA base domain SERVFAILs: a DANE failure (RFC 7672 sec. 2.1.2, 2.1.3, 2.2.2)",
        cname_base()
            .zone("unsigned.net", Status::Insecure)
            .cname(MX, "host.unsigned.net")
            .a("host.unsigned.net", MX_IP)
            .tlsa_for(MX, &ee)
            .fault(MX, RecordType::CNAME, Fault::ServFail)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DnsFailed, Some("dns-servfail")).lookup(L::CnameProbe)],
        ),
    ));
    // Hostile peers (issue 7; tests/tests/hostile_smtp.rs runs each in the simulation and
    // live on both runtimes). Every one must refuse: never verified, never no-dane.
    v.push(scenario(
        "X16",
        "a 220 to STARTTLS sent with the EHLO reply, before STARTTLS: a reply to a command never sent (RFC 5321 sec. 4.2, RFC 2920 sec. 3.1)",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::ExtraAfterEhlo(
                    b"220 2.0.0 Ready to start TLS\r\n".to_vec(),
                )),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("protocol-error"))],
        ),
    ));
    let attacker = self_signed(&[MX]);
    let mut x17 = scenario(
        "X17",
        "MX host CNAME into an unsigned zone whose TLSA names the attacker's key: the TLSA base stays the original name (RFC 7672 sec. 2.2.2), the attacker's certificate fails",
        cname_base()
            .zone("unsigned.net", Status::Insecure)
            .cname(MX, "host.unsigned.net")
            .a("host.unsigned.net", MX_IP)
            .tlsa_for(MX, &ee)
            .tlsa_for("host.unsigned.net", &tlsa(3, 1, 1, &attacker))
            .server(v4(MX_IP), server(server_tls(&[&attacker])))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    );
    x17.expected.sni = Some(MX);
    v.push(x17);
    let mail_domain_only = p.inter.leaf(&["example.com"], Validity::Current);
    v.push(scenario(
        "X18",
        "DANE-TA, insecure MX, certificate names only the mail domain: the MX host name is the only reference identifier (RFC 7672 sec. 3.2.2)",
        insecure_mx()
            .tlsa_for(MX, &ta)
            .server(v4(MX_IP), server(p.chain(&mail_domain_only)))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("name-mismatch"))],
        ),
    ));
    v.push(scenario(
        "X19",
        "server trickles its STARTTLS reply one byte per second: the stage deadline ends it (RFC 5321 sec. 4.5.3.2)",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::TrickleStartTls),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("timeout"))],
        ),
    ));
    v.push(scenario(
        "X20",
        "a 100 MB reply line to STARTTLS: the line limit ends it (RFC 5321 sec. 4.5.3.1.5)",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::HugeStartTlsLine(HUGE_LINE)),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("protocol-error"))],
        ),
    ));
    v.push(scenario(
        "X21",
        "a 100,000-line reply to STARTTLS: the reply limits end it",
        base()
            .tlsa_for(MX, &ee)
            .server(
                v4(MX_IP),
                server(chain()).behaviour(Behaviour::ManyLineStartTlsReply(MANY_LINES)),
            )
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("protocol-error"))],
        ),
    ));
    v.push(scenario(
        "X22",
        "a fatal handshake_failure alert answers the ClientHello: handshake-failed, a DANE failure, not client-unsupported",
        base()
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()).behaviour(Behaviour::TlsAlert(40)))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("handshake-failed"))],
        ),
    ));
    let mut big = dane(&ee, chain());
    for i in 0..(BIG_TLSA_RRSET - 1) as u32 {
        let mut data = vec![0x5a; 32];
        data[..4].copy_from_slice(&i.to_be_bytes());
        big = big.tlsa_for(
            MX,
            &TlsaRecord {
                usage: 3,
                selector: 1,
                matching: 1,
                data,
            },
        );
    }
    v.push(scenario(
        "X23",
        "970 TLSA records in a 64 KB answer (truncated over UDP, complete over TCP), one matching",
        big.build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    ));
    let mx_v6 = IpAddr::V6(MX_IP6);
    let mixed = |a: Status, aaaa: Status| {
        base()
            .aaaa(MX, MX_IP6)
            .status(MX, RecordType::A, a)
            .status(MX, RecordType::AAAA, aaaa)
    };
    let mut x24 = scenario(
        "X24",
        "A secure, AAAA insecure, TLSA matching: TLSA is looked up and both families are verified (RFC 7673 sec. 3.2 rule)",
        mixed(Status::Secure, Status::Insecure)
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()))
            .server(mx_v6, server(chain()))
            .build(),
        expect(D::DaneVerified, vec![ok(MX)]),
    );
    x24.expected.warning = Some("mixed-address-security");
    v.push(x24);
    v.push(scenario(
        "X25",
        "A secure, AAAA insecure, TLSA not matching: dane-failed, an insecure AAAA RRset does not turn DANE off",
        mixed(Status::Secure, Status::Insecure)
            .tlsa_for(MX, &wrong)
            .server(v4(MX_IP), server(chain()))
            .server(mx_v6, server(chain()))
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("tlsa-mismatch"))],
        ),
    ));
    v.push(scenario(
        "X26",
        "A insecure, AAAA secure: the IPv4 address of the insecure RRset keeps the host's DANE policy (no STARTTLS there fails)",
        mixed(Status::Insecure, Status::Secure)
            .tlsa_for(MX, &ee)
            .server(v4(MX_IP), server(chain()).without_starttls())
            .server(mx_v6, server(chain()).without_starttls())
            .build(),
        expect(
            D::DaneFailed,
            vec![host(MX, H::DaneFailed, Some("starttls-not-offered"))],
        ),
    ));
    v.push(scenario(
        "X27",
        "A insecure, AAAA bogus: the name is signed, so its DANE status is unknown: host skipped, not opportunistic (RFC 7672 sec. 2.2.2)",
        mixed(Status::Insecure, Status::BOGUS)
            .tlsa_for(MX, &wrong)
            .server(v4(MX_IP), server(chain()))
            .build(),
        expect(
            D::TempFail,
            vec![host(MX, H::DnsFailed, Some("dns-bogus")).lookup(L::Address)],
        ),
    ));
    v
}

/// The IPv6 address of [`MX`] in the scenarios with A and AAAA of different status.
pub const MX_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10);

/// The line length of scenario X20: 100 MB.
pub const HUGE_LINE: usize = 100 * 1024 * 1024;

/// The reply length, in lines, of scenario X21.
pub const MANY_LINES: usize = 100_000;

/// The TLSA RRset size of scenario X23: as many `3 1 1` records as a DNS message over TCP
/// can carry (65,535 bytes, RFC 1035 sec. 4.2.2) from the world's resolver. With full name
/// compression a record takes 47 bytes and about 1,390 would fit; hickory-proto's encoder
/// compresses only the last label of these owner names (67 bytes a record), so 970 fill
/// the answer to about 65,000 bytes (`hostile_huge_tlsa_rrset` checks the size).
pub const BIG_TLSA_RRSET: usize = 970;

/// The scenario with this id, if any.
pub fn by_id(id: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.id == id)
}

/// The clock at which the simulated catalogue runs start (2027-01-15T08:00:00Z): inside the
/// validity of current leaves, after the expiry of expired ones.
pub const SIM_START: daneel_core::Timestamp = daneel_core::Timestamp::from_unix_secs(1_800_000_000);

/// A resolver address to configure checks with in the simulated world (the simulator answers
/// whatever address the machine uses).
pub const SIM_RESOLVER: std::net::SocketAddr =
    std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)), 53);

/// The step bound of [`Scenario::run`].
pub const MAX_STEPS: usize = 10_000;

fn host_key(name: &str) -> String {
    crate::world::norm_name(name.trim_start_matches('[').trim_end_matches(']'))
}

impl Expected {
    /// The differences between `report` and these expectations, one line each; empty when
    /// the report conforms. Hosts not pinned here are ignored.
    pub fn mismatches(&self, report: &daneel_core::Report) -> Vec<String> {
        let mut out = Vec::new();
        if report.verdict != self.domain {
            out.push(format!(
                "domain verdict {} (expected {})",
                report.verdict.as_str(),
                self.domain.as_str()
            ));
        }
        if let Some(code) = self.reason {
            let got = report.reason.as_ref().map(|r| r.code());
            if got != Some(code) {
                out.push(format!("domain reason {got:?} (expected {code})"));
            }
        }
        for want in &self.hosts {
            let Some(h) = report
                .hosts
                .iter()
                .find(|h| host_key(&h.name) == host_key(&want.name))
            else {
                out.push(format!("host {} missing from the report", want.name));
                continue;
            };
            if h.verdict != want.verdict {
                out.push(format!(
                    "host {} verdict {:?} (expected {:?})",
                    want.name, h.verdict, want.verdict
                ));
            }
            if want.lookup.is_some() && h.failed_lookup != want.lookup {
                out.push(format!(
                    "host {} failed lookup {:?} (expected {:?})",
                    want.name, h.failed_lookup, want.lookup
                ));
            }
            if want.tlsrpt.is_some() && h.tlsrpt.map(|t| t.as_str()) != want.tlsrpt {
                out.push(format!(
                    "host {} tlsrpt {:?} (expected {:?})",
                    want.name, h.tlsrpt, want.tlsrpt
                ));
            }
            if let Some(code) = want.reason {
                let host_code = h.reason.as_ref().map(|r| r.code());
                let conn_codes: Vec<&str> = h
                    .connections
                    .iter()
                    .filter_map(|c| c.reason.as_ref().map(|r| r.code()))
                    .collect();
                if host_code != Some(code) && !conn_codes.contains(&code) {
                    out.push(format!(
                        "host {} reason {host_code:?}/{conn_codes:?} (expected {code})",
                        want.name
                    ));
                }
            }
        }
        if let Some(w) = self.warning {
            if !report.warnings.iter().any(|x| x.code() == w) {
                out.push(format!("no warning {w:?} in {:?}", report.warnings));
            }
        }
        if let Some(sni) = self.sni {
            let sent = report
                .hosts
                .iter()
                .flat_map(|h| &h.connections)
                .find_map(|c| c.tls.as_ref().map(|t| t.sni.clone()));
            if sent != Some(Some(sni.to_string())) {
                out.push(format!("SNI {sent:?} (expected {sni})"));
            }
        }
        out
    }
}

impl Scenario {
    /// Runs `machine` (a check of [`Scenario::destination`] configured with
    /// [`SIM_RESOLVER`], started at [`SIM_START`]) in this scenario's world, and returns the
    /// report, the mismatches with [`Scenario::expected`], and the driver for further
    /// assertions (rounds, transcript).
    pub fn run(
        &self,
        machine: Box<dyn daneel_core::Machine>,
    ) -> Result<(daneel_core::Report, Vec<String>, crate::sim::Sim), crate::sim::SimError> {
        let mut sim = crate::sim::Sim::new(self.world.clone(), machine, SIM_START);
        let report = sim.run_bounded(MAX_STEPS)?;
        let mismatches = self.expected.mismatches(&report);
        Ok((report, mismatches, sim))
    }
}
