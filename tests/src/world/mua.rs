//! The MUA scenario catalogue (SPEC-NOTES S64-S72; RFC 6186, RFC 7673, RFC 8314): worlds
//! with SRV-published submission, IMAP and POP3 services, each with the services a client
//! asks for and the PKIX trust anchors it holds. `tests/tests/mua_check.rs` checks each one
//! in the simulation and live; `tests/tests/fuzz_corpus.rs` makes `mua_check` fuzz seeds of
//! their transcripts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use daneel_core::check::AddressFamily;
use daneel_core::mua::{MailService, MuaConfig};
use daneel_core::Timestamp;

use super::certs::{self_signed, server_tls, tlsa, Ca, Issued, Validity};
use super::{Behaviour, MailServer, Protocol, Status, World, WorldBuilder};

/// The mail domain of every MUA scenario.
pub const DOMAIN: &str = "example.com";
/// The SRV target that serves.
pub const HOST: &str = "mail.example.net";
const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);

/// When MUA scenarios start in the simulation: 2026-01-01T00:00:00Z, inside every test
/// certificate's validity.
pub const SIM_START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// The resolver address of the simulation.
pub const SIM_RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)), 53);

/// One MUA scenario.
pub struct MuaScenario {
    /// `S64`, `M-FOUR`, ...
    pub id: &'static str,
    /// What it shows.
    pub what: &'static str,
    /// The world.
    pub world: World,
    /// The port the world's servers answer on by default (others via `with_service`).
    pub port: u16,
    /// The services the client asks for.
    pub services: Vec<MailService>,
    /// The client's PKIX trust anchors (DER).
    pub anchors: Vec<Vec<u8>>,
    /// The address families the client uses (IPv4 only unless a scenario needs AAAA).
    pub family: AddressFamily,
}

impl MuaScenario {
    /// The check's configuration, asking `resolver`, with `--dnssec trust-ad` (the world's
    /// validating resolver's AD bit; `validate_catalogue` checks the MUA catalogue with
    /// `--dnssec validate` too).
    pub fn config(&self, resolver: SocketAddr) -> MuaConfig {
        let mut c = MuaConfig::new(DOMAIN, vec![resolver]);
        c.dnssec =
            daneel_core::dnssec::DnssecSettings::new(daneel_core::dnssec::DnssecMode::TrustAd);
        c.services = self.services.clone();
        c.family = self.family;
        c.session_timeout_ms = 5_000;
        c.dns_timeout_ms = 1_000;
        c.trust_anchors = self.anchors.clone();
        c
    }
}

/// A test Web PKI: a root the client trusts and an issuing CA under it.
struct Pki {
    root: Ca,
    issuing: Ca,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::root("daneel test root");
        let issuing = root.intermediate("daneel test issuing CA");
        Pki { root, issuing }
    }

    fn leaf(&self, names: &[&str]) -> Vec<Issued> {
        vec![
            self.issuing.leaf(names, Validity::Current),
            self.issuing.cert.clone(),
        ]
    }

    fn anchors(&self) -> Vec<Vec<u8>> {
        vec![self.root.cert.der.to_vec()]
    }
}

fn implicit(protocol: Protocol, chain: &[Issued]) -> MailServer {
    let refs: Vec<&Issued> = chain.iter().collect();
    MailServer::implicit(protocol, HOST, server_tls(&refs))
}

/// A server of `protocol` that offers STARTTLS (IMAP) or STLS (POP3) with this chain.
fn starttls(protocol: Protocol, chain: &[Issued]) -> MailServer {
    let refs: Vec<&Issued> = chain.iter().collect();
    MailServer {
        protocol,
        ..MailServer::new(HOST).with_tls(server_tls(&refs))
    }
}

/// A secure `_<service>._tcp` SRV RRset naming [`HOST`] on `port`, a DANE-EE TLSA RRset
/// for `ee`, and `server` answering there.
fn dane_ee(service: &str, port: u16, ee: &Issued, server: MailServer) -> World {
    world(S)
        .smtp_port(port)
        .srv(&format!("_{service}._tcp.example.com"), 0, 1, port, HOST)
        .tlsa(&format!("_{port}._tcp.{HOST}"), &tlsa(3, 1, 1, ee))
        .server(IpAddr::V4(IP), server)
        .build()
}

/// A secure `_imaps._tcp` SRV RRset naming [`HOST`] on 993, a DANE-TA(2) record for the
/// issuing CA of `pki`, and `server` answering there.
fn imaps_dane_ta(pki: &Pki, server: MailServer) -> World {
    world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
        .tlsa(
            &format!("_993._tcp.{HOST}"),
            &tlsa(2, 0, 1, &pki.issuing.cert),
        )
        .server(IpAddr::V4(IP), server)
        .build()
}

fn world(srv_zone: Status) -> WorldBuilder {
    World::builder()
        .zone(DOMAIN, srv_zone)
        .zone("example.net", Status::Secure)
        .a(HOST, IP)
}

fn scenario(
    id: &'static str,
    what: &'static str,
    world: World,
    port: u16,
    services: &[MailService],
    pki: &Pki,
) -> MuaScenario {
    MuaScenario {
        id,
        what,
        world,
        port,
        services: services.to_vec(),
        anchors: pki.anchors(),
        family: AddressFamily::V4,
    }
}

const S: Status = Status::Secure;

/// Every MUA scenario, in catalogue order.
pub fn all() -> Vec<MuaScenario> {
    let pki = Pki::new();
    let ee = self_signed(&["unrelated.example.org"]);
    let other = self_signed(&["other.example.org"]);
    let mut out = Vec::new();
    out.push(scenario(
        "S64",
        "secure SRV for submissions (465), DANE-EE: no name check, SNI the target",
        world(S)
            .smtp_port(465)
            .srv("_submissions._tcp.example.com", 0, 1, 465, HOST)
            .tlsa(&format!("_465._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Smtp, std::slice::from_ref(&ee)),
            )
            .build(),
        465,
        &[MailService::Submissions],
        &pki,
    ));
    out.push(scenario(
        "S65",
        "DANE-TA with only the mail domain in the certificate (RFC 7673 sec. 4.1)",
        imaps_dane_ta(&pki, implicit(Protocol::Imap, &pki.leaf(&[DOMAIN]))),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    for (id, names) in [("S66-target", HOST), ("S66-domain", DOMAIN)] {
        let chain = pki.leaf(&[names]);
        out.push(scenario(
            id,
            "insecure SRV: no DANE; PKIX against the mail domain only, SNI the mail domain",
            world(Status::Insecure)
                .smtp_port(995)
                .srv("_pop3s._tcp.example.com", 0, 1, 995, HOST)
                .tlsa(&format!("_995._tcp.{HOST}"), &tlsa(3, 1, 1, &chain[0]))
                .server(IpAddr::V4(IP), implicit(Protocol::Pop3, &chain))
                .build(),
            995,
            &[MailService::Pop3s],
            &pki,
        ));
    }
    out.push(scenario(
        "S67",
        "bogus SRV RRset: no connection (RFC 7673 sec. 3.1)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .status(
                "_imaps._tcp.example.com",
                hickory_proto::rr::RecordType::SRV,
                Status::BOGUS,
            )
            .server(IpAddr::V4(IP), implicit(Protocol::Imap, &pki.leaf(&[HOST])))
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    out.push(scenario(
        "S68",
        "a lone \".\" target and absent records: unavailable",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 0, 0, ".")
            .build(),
        993,
        &[MailService::Imaps, MailService::Pop3s],
        &pki,
    ));
    let down1 = Ipv4Addr::new(192, 0, 2, 31);
    let down2 = Ipv4Addr::new(192, 0, 2, 32);
    out.push(scenario(
        "S71",
        "priority 0 (weights 90/10) down, priority 10 up",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 90, 993, "a.example.net")
            .srv("_imaps._tcp.example.com", 0, 10, 993, "b.example.net")
            .srv("_imaps._tcp.example.com", 10, 0, 993, HOST)
            .a("a.example.net", down1)
            .a("b.example.net", down2)
            .unreachable(IpAddr::V4(down1))
            .unreachable(IpAddr::V4(down2))
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .tlsa("_993._tcp.a.example.net", &tlsa(3, 1, 1, &ee))
            .tlsa("_993._tcp.b.example.net", &tlsa(3, 1, 1, &ee))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Imap, std::slice::from_ref(&ee)),
            )
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    out.push(scenario(
        "S72",
        "the SRV target is a secure CNAME: TLSA base domain and SNI the expanded name",
        World::builder()
            .zone(DOMAIN, S)
            .zone("example.net", S)
            .srv("_imaps._tcp.example.com", 0, 1, 993, "alias.example.net")
            .cname("alias.example.net", HOST)
            .a(HOST, IP)
            .smtp_port(993)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Imap, std::slice::from_ref(&ee)),
            )
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    let chain = std::slice::from_ref(&ee);
    let submission = MailServer::new(HOST).with_tls(server_tls(&[&ee]));
    let server = implicit(Protocol::Smtp, chain)
        .with_service(587, submission)
        .with_service(993, implicit(Protocol::Imap, chain))
        .with_service(995, implicit(Protocol::Pop3, chain));
    let mut b = world(S).smtp_port(465).server(IpAddr::V4(IP), server);
    for (svc, port) in [
        ("submissions", 465),
        ("submission", 587),
        ("imaps", 993),
        ("pop3s", 995),
    ] {
        b = b
            .srv(&format!("_{svc}._tcp.example.com"), 0, 1, port, HOST)
            .tlsa(&format!("_{port}._tcp.{HOST}"), &tlsa(3, 1, 1, &ee));
    }
    out.push(scenario(
        "M-FOUR",
        "submissions, submission (587), imaps and pop3s on one host, all DANE-EE",
        b.build(),
        465,
        &[
            MailService::Submission,
            MailService::Submissions,
            MailService::Pop3s,
            MailService::Imaps,
        ],
        &pki,
    ));
    out.push(scenario(
        "M-MISMATCH",
        "a TLSA mismatch on the only imaps target",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &other))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Imap, std::slice::from_ref(&ee)),
            )
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    let unusable = daneel_core::dane::TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0xab; 5],
    };
    out.push(scenario(
        "M-UNUSABLE",
        "secure SRV, secure TLSA RRset whose records are all unusable: TLS mandatory, PKIX (RFC 7673 sec. 4.1)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .tlsa(&format!("_993._tcp.{HOST}"), &unusable)
            .server(IpAddr::V4(IP), implicit(Protocol::Imap, &pki.leaf(&[HOST])))
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    out.push(scenario(
        "M-NOTLSA",
        "secure SRV, no TLSA RRset: PKIX, the target name accepted, SNI the target (RFC 7673 sec. 4.1)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .server(IpAddr::V4(IP), implicit(Protocol::Imap, &pki.leaf(&[HOST])))
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    out.push(scenario(
        "M-TLSA-BOGUS",
        "the TLSA RRset of the only target is bogus: the target is skipped, never connected to (RFC 7673 sec. 3.3)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .status(
                &format!("_993._tcp.{HOST}"),
                hickory_proto::rr::RecordType::TLSA,
                Status::BOGUS,
            )
            .server(IpAddr::V4(IP), implicit(Protocol::Imap, std::slice::from_ref(&ee)))
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    let mut aaaa_bogus = scenario(
        "M-AAAA-BOGUS",
        "secure A, bogus AAAA: the SRV target is skipped, never connected to (RFC 7673 sec. 3.2)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .aaaa(HOST, "2001:db8::30".parse().unwrap())
            .status(HOST, hickory_proto::rr::RecordType::AAAA, Status::BOGUS)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Imap, std::slice::from_ref(&ee)),
            )
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    );
    aaaa_bogus.family = AddressFamily::Any;
    out.push(aaaa_bogus);
    out.push(scenario(
        "M-BAD-GREETING",
        "DANE-EE matches but the server greets with SMTP on the imaps port: verified, never stored",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .server(
                IpAddr::V4(IP),
                implicit(Protocol::Imap, std::slice::from_ref(&ee)).behaviour(
                    Behaviour::RawGreeting(b"220 this is SMTP, not IMAP\r\n".to_vec()),
                ),
            )
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    let both = implicit(Protocol::Imap, std::slice::from_ref(&ee))
        .with_service(995, implicit(Protocol::Pop3, std::slice::from_ref(&ee)));
    out.push(scenario(
        "M-POP-FIRST",
        "the domain prefers POP3 by SRV priority: the auto-configuration follows it (RFC 6186 sec. 3.4)",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 10, 1, 993, HOST)
            .srv("_pop3s._tcp.example.com", 0, 1, 995, HOST)
            .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .tlsa(&format!("_995._tcp.{HOST}"), &tlsa(3, 1, 1, &ee))
            .server(IpAddr::V4(IP), both)
            .build(),
        993,
        &[MailService::Imaps, MailService::Pop3s],
        &pki,
    ));
    out.push(scenario(
        "M-PLAINTEXT",
        "a plaintext SMTP server on the imaps port (found by the mua_check fuzz target): never plaintext",
        world(S)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .server(IpAddr::V4(IP), MailServer::new(HOST).without_starttls())
            .build(),
        993,
        &[MailService::Imaps],
        &pki,
    ));
    starttls_scenarios(&pki, &ee, &mut out);
    matrix_scenarios(&pki, &mut out);
    out
}

/// IMAP STARTTLS on 143 and POP3 STLS on 110 (issue 10; RFC 2595, RFC 7673, M8).
fn starttls_scenarios(pki: &Pki, ee: &Issued, out: &mut Vec<MuaScenario>) {
    use super::Behaviour;
    let chain = std::slice::from_ref(ee);
    let imap = |s: MailServer| dane_ee("imap", 143, ee, s);
    let pop3 = |s: MailServer| dane_ee("pop3", 110, ee, s);
    let cases = [
        (
            "S69",
            "secure _imap._tcp SRV and DANE-EE TLSA, no STARTTLS capability: abort, never LOGIN in clear (M8)",
            MailService::Imap,
            imap(starttls(Protocol::Imap, chain).without_starttls()),
        ),
        (
            "S70",
            "secure _pop3._tcp SRV, secure TLSA RRset with no usable record, STLS: PKIX (RFC 7673 sec. 4.1)",
            MailService::Pop3,
            world(S)
                .smtp_port(110)
                .srv("_pop3._tcp.example.com", 0, 1, 110, HOST)
                .tlsa(&format!("_110._tcp.{HOST}"), &tlsa(3, 1, 7, ee))
                .server(
                    IpAddr::V4(IP),
                    starttls(Protocol::Pop3, &pki.leaf(&[HOST])),
                )
                .build(),
        ),
        (
            "M-STRIPPED-NO-DANE",
            "insecure _imap._tcp SRV (no DANE), no STARTTLS capability: plaintext, and still no LOGIN",
            MailService::Imap,
            world(Status::Insecure)
                .smtp_port(143)
                .srv("_imap._tcp.example.com", 0, 1, 143, HOST)
                .server(
                    IpAddr::V4(IP),
                    starttls(Protocol::Imap, chain).without_starttls(),
                )
                .build(),
        ),
        (
            "M-IMAP-STARTTLS",
            "secure _imap._tcp SRV, DANE-EE, STARTTLS: verified; capabilities asked again over TLS",
            MailService::Imap,
            imap(starttls(Protocol::Imap, chain)),
        ),
        (
            "M-CAPS-ACROSS-TLS",
            "POP3 STLS whose CAPA changes across TLS (STLS before, SASL after): the second list counts",
            MailService::Pop3,
            pop3(starttls(Protocol::Pop3, chain)),
        ),
        (
            "M-PREAUTH",
            "IMAP greets * PREAUTH under DANE: no STARTTLS possible, dane-failed, nothing sent",
            MailService::Imap,
            imap(starttls(Protocol::Imap, chain).behaviour(Behaviour::Preauth)),
        ),
        (
            "M-STLS-REFUSED",
            "POP3 lists STLS but answers it -ERR under DANE: dane-failed, starttls-rejected",
            MailService::Pop3,
            pop3(starttls(Protocol::Pop3, chain).behaviour(Behaviour::NoTlsSupport)),
        ),
        (
            "M-IMAP-LITERAL",
            "IMAP answers CAPABILITY with an absurd literal: refused before any octet of it",
            MailService::Imap,
            imap(
                starttls(Protocol::Imap, chain).behaviour(Behaviour::RawCapability(
                    b"* CAPABILITY {18446744073709551615}\r\n".to_vec(),
                )),
            ),
        ),
        (
            "M-POP3-UNTERMINATED",
            "POP3 answers CAPA with a multi-line response that never ends, then closes",
            MailService::Pop3,
            pop3(
                starttls(Protocol::Pop3, chain).behaviour(Behaviour::RawCapability(
                    b"+OK\r\nUSER\r\nSTLS\r\n".to_vec(),
                )),
            ),
        ),
    ];
    for (id, what, service, world) in cases {
        out.push(scenario(
            id,
            what,
            world,
            service.default_port(),
            &[service],
            pki,
        ));
    }
}

/// The compatibility-matrix scenarios (draft-fanf-dane-mua, slide "compatibility"): a
/// secure `_imaps._tcp` SRV RRset naming [`HOST`], a DANE-TA(2) record for the issuing CA,
/// and an implicit-TLS IMAP server whose certificate names the host, the mail domain, both,
/// or the host for SNI = the host and the mail domain otherwise (also behind an insecure SRV
/// RRset).
fn matrix_scenarios(pki: &Pki, out: &mut Vec<MuaScenario>) {
    let matrix = |tls| imaps_dane_ta(pki, MailServer::implicit(Protocol::Imap, HOST, tls));
    let tls = |names: &[&str]| {
        let chain = pki.leaf(names);
        server_tls(&chain.iter().collect::<Vec<_>>())
    };
    for (id, what, names) in [
        (
            "M-MATRIX-HOST",
            "certificate names only the host: legacy and DANE clients served, RFC 6186 clients not",
            &[HOST][..],
        ),
        (
            "M-MATRIX-DOMAIN",
            "certificate names only the mail domain: RFC 6186 and DANE clients served, legacy not",
            &[DOMAIN][..],
        ),
        (
            "M-MATRIX-BOTH",
            "certificate names the host and the mail domain: every class served",
            &[HOST, DOMAIN][..],
        ),
    ] {
        out.push(scenario(
            id,
            what,
            matrix(tls(names)),
            993,
            &[MailService::Imaps],
            pki,
        ));
    }
    let host = pki.leaf(&[HOST]);
    let by_sni = tls(&[DOMAIN])
        .with_sni(
            HOST,
            host.iter().map(|c| c.der.clone()).collect(),
            &host[0].key(),
        )
        .expect("identity");
    out.push(scenario(
        "M-MATRIX-NOSNI",
        "the host's certificate for SNI = the host, the mail domain's otherwise: legacy half served",
        matrix(by_sni.clone()),
        993,
        &[MailService::Imaps],
        pki,
    ));
    out.push(scenario(
        "M-MATRIX-INSECURE",
        "as M-MATRIX-NOSNI behind an insecure SRV RRset: PKIX for the mail domain, no DANE",
        world(Status::Insecure)
            .smtp_port(993)
            .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
            .server(
                IpAddr::V4(IP),
                MailServer::implicit(Protocol::Imap, HOST, by_sni),
            )
            .build(),
        993,
        &[MailService::Imaps],
        pki,
    ));
}

/// The scenario `id`.
pub fn by_id(id: &str) -> Option<MuaScenario> {
    all().into_iter().find(|s| s.id == id)
}
