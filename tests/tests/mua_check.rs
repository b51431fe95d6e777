//! `MuaCheck` end to end (issue 9; SPEC-NOTES S64-S72; draft-ietf-dane-srv-14 = RFC 7673):
//! SRV discovery through the world's validating resolver, one probe per target, implicit-TLS
//! IMAP, POP3 and submission servers and submission with STARTTLS, per-service and overall
//! verdicts and the auto-configuration. Each case runs in the simulation and live on
//! loopback through tokio and smol, and all three must give the same summary.
//!
//! `cargo test -p daneel-tests --test mua_check s64` runs one scenario.

use std::net::{IpAddr, Ipv4Addr};

use daneel_core::check::AddressFamily;
use daneel_core::dane::TlsaRecord;
use daneel_core::mua::{MailService, MuaCheck, MuaConfig, TlsMode};
use daneel_core::report::{AuthenticatedBy, ConnectionVerdict, Reason};
use daneel_core::{DomainVerdict, Report, Seed, Timestamp};
use daneel_tests::live::LiveWorld;
use daneel_tests::sim::Sim;
use daneel_tests::world::certs::{self_signed, server_tls, tlsa, Ca, Issued, Validity};
use daneel_tests::world::{MailServer, Protocol, Status, World, WorldBuilder};

const DOMAIN: &str = "example.com";
const HOST: &str = "mail.example.net";
const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);

/// 2026-01-01T00:00:00Z, inside every certificate's validity.
fn sim_start() -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000)
}

/// What a run must show, the same in the simulation and live.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Summary {
    verdict: DomainVerdict,
    services: Vec<ServiceSummary>,
    /// (service, host, port, tls, method, name)
    autoconfig: Vec<Stored>,
}

/// An auto-configuration entry: (service, host, port, tls, method, name).
type Stored = (
    MailService,
    String,
    u16,
    TlsMode,
    Option<AuthenticatedBy>,
    Option<String>,
);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ServiceSummary {
    service: MailService,
    verdict: DomainVerdict,
    reason: Option<Reason>,
    /// Per target: (name, port, connections as (verdict, method, reason, sni)).
    targets: Vec<(String, Option<u16>, Vec<ConnSummary>)>,
}

/// (verdict, method, reason code, SNI). The code, not the reason's data: a refused connect
/// reads "refused" on loopback and "unreachable" in the simulation.
type ConnSummary = (
    ConnectionVerdict,
    Option<AuthenticatedBy>,
    Option<&'static str>,
    Option<String>,
);

fn summary(report: &Report) -> Summary {
    Summary {
        verdict: report.verdict,
        services: report
            .services
            .iter()
            .map(|s| ServiceSummary {
                service: s.service,
                verdict: s.verdict,
                reason: s.reason.clone(),
                targets: s
                    .targets
                    .iter()
                    .map(|t| {
                        (
                            t.name.clone(),
                            t.port,
                            t.connections
                                .iter()
                                .map(|c| {
                                    (
                                        c.verdict,
                                        c.authenticated_by,
                                        c.reason.as_ref().map(Reason::code),
                                        c.tls.as_ref().and_then(|t| t.sni.clone()),
                                    )
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            })
            .collect(),
        autoconfig: report
            .autoconfig
            .iter()
            .map(|a| {
                (
                    a.service,
                    a.host.clone(),
                    a.port,
                    a.tls,
                    a.authenticated_by,
                    a.authenticated_name.clone(),
                )
            })
            .collect(),
    }
}

struct Pki {
    root: Ca,
    issuing: Ca,
}

fn pki() -> Pki {
    let root = Ca::root("daneel test root");
    let issuing = root.intermediate("daneel test issuing CA");
    Pki { root, issuing }
}

impl Pki {
    fn leaf(&self, names: &[&str]) -> Vec<Issued> {
        vec![
            self.issuing.leaf(names, Validity::Current),
            self.issuing.cert.clone(),
        ]
    }
}

fn config(services: &[MailService], resolver: std::net::SocketAddr, pki: &Pki) -> MuaConfig {
    let mut c = MuaConfig::new(DOMAIN, vec![resolver]);
    c.services = services.to_vec();
    c.family = AddressFamily::V4;
    c.session_timeout_ms = 5_000;
    c.dns_timeout_ms = 1_000;
    c.trust_anchors = vec![pki.root.cert.der.to_vec()];
    c
}

fn implicit(protocol: Protocol, chain: &[Issued]) -> MailServer {
    let refs: Vec<&Issued> = chain.iter().collect();
    MailServer::implicit(protocol, HOST, server_tls(&refs))
}

/// The sim and both live runtimes; `port` is the world's main port, `base` the live
/// addresses' /24.
fn run_everywhere(
    world: &World,
    port: u16,
    services: &[MailService],
    pki: &Pki,
    base: u8,
) -> Summary {
    let resolver = "192.0.2.53:53".parse().unwrap();
    let mut sim = Sim::new(
        world.clone(),
        Box::new(MuaCheck::new(config(services, resolver, pki), Seed(7), sim_start()).unwrap()),
        sim_start(),
    );
    let report = sim.run_bounded(200_000).expect("the simulation ends");
    let want = summary(&report);
    let runs: [fn(MuaCheck) -> Report; 2] = [
        |m| {
            *daneel_tokio::run_blocking(m, daneel_tokio::system_clock())
                .unwrap()
                .0
        },
        |m| {
            *daneel_smol::run_blocking(m, daneel_smol::system_clock())
                .unwrap()
                .0
        },
    ];
    for (i, run) in runs.into_iter().enumerate() {
        let live = LiveWorld::start(world, Ipv4Addr::new(127, 23, base, 0), port)
            .expect("serve the world on loopback (root, in a network namespace)");
        let now = daneel_tokio::system_clock().origin();
        let check =
            MuaCheck::new(config(services, live.resolver_addr(), pki), Seed(7), now).unwrap();
        let got = summary(&run(check));
        assert_eq!(got, want, "live run {i} differs from the simulation");
    }
    want
}

fn world(srv_zone: Status) -> WorldBuilder {
    World::builder()
        .zone(DOMAIN, srv_zone)
        .zone("example.net", Status::Secure)
        .a(HOST, IP)
}

const S: Status = Status::Secure;

/// S64: secure SRV for submissions (465), DANE-EE: authenticated without any name check;
/// SNI the target; the client stores the target with implicit TLS.
#[test]
fn s64_dane_ee_on_implicit_tls_submission() {
    let pki = pki();
    let leaf = self_signed(&["unrelated.example.org"]);
    let w = world(S)
        .smtp_port(465)
        .srv("_submissions._tcp.example.com", 0, 1, 465, HOST)
        .tlsa(&format!("_465._tcp.{HOST}"), &tlsa(3, 1, 1, &leaf))
        .server(IpAddr::V4(IP), implicit(Protocol::Smtp, &[leaf]))
        .build();
    let s = run_everywhere(&w, 465, &[MailService::Submissions], &pki, 1);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Verified);
    assert_eq!(conn.1, Some(AuthenticatedBy::DaneEe));
    assert_eq!(conn.3.as_deref(), Some(HOST));
    assert_eq!(
        s.autoconfig,
        vec![(
            MailService::Submissions,
            HOST.to_string(),
            465,
            TlsMode::Implicit,
            Some(AuthenticatedBy::DaneEe),
            None
        )]
    );
}

/// S65: DANE-TA, and the certificate names only the mail domain: accepted (RFC 7673 sec. 4.1
/// lists the service domain among the reference identifiers).
#[test]
fn s65_dane_ta_with_only_the_mail_domain_in_the_certificate() {
    let pki = pki();
    let chain = pki.leaf(&[DOMAIN]);
    let w = world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
        .tlsa(
            &format!("_993._tcp.{HOST}"),
            &tlsa(2, 0, 1, &pki.issuing.cert),
        )
        .server(IpAddr::V4(IP), implicit(Protocol::Imap, &chain))
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps], &pki, 2);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert_eq!(s.autoconfig.len(), 1);
    assert_eq!(s.autoconfig[0].4, Some(AuthenticatedBy::DaneTa));
    assert_eq!(s.autoconfig[0].5.as_deref(), Some(DOMAIN));
}

/// S66: insecure SRV RRset: no DANE even though the target has secure TLSA records; PKIX
/// against the mail domain only (RFC 7673 sec. 4.1), SNI the mail domain. A certificate for
/// the target name alone is not good enough.
#[test]
fn s66_insecure_srv_means_pkix_against_the_mail_domain_only() {
    let pki = pki();
    for (names, base, authenticated) in [(&[HOST][..], 3, false), (&[DOMAIN][..], 4, true)] {
        let chain = pki.leaf(names);
        let w = world(Status::Insecure)
            .smtp_port(995)
            .srv("_pop3s._tcp.example.com", 0, 1, 995, HOST)
            .tlsa(&format!("_995._tcp.{HOST}"), &tlsa(3, 1, 1, &chain[0]))
            .server(IpAddr::V4(IP), implicit(Protocol::Pop3, &chain))
            .build();
        let s = run_everywhere(&w, 995, &[MailService::Pop3s], &pki, base);
        assert_eq!(s.verdict, DomainVerdict::NoDane, "{s:#?}");
        let conn = &s.services[0].targets[0].2[0];
        assert_eq!(conn.3.as_deref(), Some(DOMAIN), "SNI is the mail domain");
        if authenticated {
            assert_eq!(conn.0, ConnectionVerdict::Verified);
            assert_eq!(conn.1, Some(AuthenticatedBy::Pkix));
            assert_eq!(s.autoconfig[0].5.as_deref(), Some(DOMAIN));
        } else {
            assert_eq!(conn.0, ConnectionVerdict::Untrusted, "{conn:?}");
            assert_eq!(conn.2, Some("pkix-name-mismatch"), "{conn:?}");
            assert!(s.autoconfig.is_empty(), "nothing authenticated to store");
        }
    }
}

/// S67: a bogus SRV RRset: do not connect, do not guess (RFC 7673 sec. 3.1).
#[test]
fn s67_bogus_srv_connects_nowhere() {
    let pki = pki();
    let w = world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
        .status(
            "_imaps._tcp.example.com",
            hickory_proto::rr::RecordType::SRV,
            Status::BOGUS,
        )
        .server(IpAddr::V4(IP), implicit(Protocol::Imap, &pki.leaf(&[HOST])))
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps], &pki, 5);
    assert_eq!(s.verdict, DomainVerdict::TempFail, "{s:#?}");
    assert!(matches!(
        s.services[0].reason,
        Some(Reason::DnsBogus { .. })
    ));
    assert!(s.services[0].targets.is_empty());
}

/// S68: a lone "." target: the service is decidedly not available; absent SRV records too.
#[test]
fn s68_null_target_and_absent_records_are_unavailable() {
    let pki = pki();
    let w = world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 0, 0, ".")
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps, MailService::Pop3s], &pki, 6);
    assert_eq!(s.verdict, DomainVerdict::Unavailable, "{s:#?}");
    assert_eq!(s.verdict.exit_code(), 10);
    assert!(s
        .services
        .iter()
        .all(|x| x.verdict == DomainVerdict::Unavailable && x.targets.is_empty()));
}

/// S71: priority 0 (weights 90/10) before priority 10; with the priority-0 hosts down, the
/// client stores the priority-10 one.
#[test]
fn s71_priorities_and_weights_with_the_first_targets_down() {
    let pki = pki();
    let leaf = self_signed(&["unrelated.example.org"]);
    let down1 = Ipv4Addr::new(192, 0, 2, 31);
    let down2 = Ipv4Addr::new(192, 0, 2, 32);
    let w = world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 90, 993, "a.example.net")
        .srv("_imaps._tcp.example.com", 0, 10, 993, "b.example.net")
        .srv("_imaps._tcp.example.com", 10, 0, 993, HOST)
        .a("a.example.net", down1)
        .a("b.example.net", down2)
        .unreachable(IpAddr::V4(down1))
        .unreachable(IpAddr::V4(down2))
        .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &leaf))
        .tlsa("_993._tcp.a.example.net", &tlsa(3, 1, 1, &leaf))
        .tlsa("_993._tcp.b.example.net", &tlsa(3, 1, 1, &leaf))
        .server(IpAddr::V4(IP), implicit(Protocol::Imap, &[leaf]))
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps], &pki, 7);
    let names: Vec<&str> = s.services[0].targets.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names[2], HOST, "priority 10 last: {names:?}");
    assert_eq!(s.autoconfig[0].1, HOST);
    assert_eq!(s.autoconfig[0].4, Some(AuthenticatedBy::DaneEe));
}

/// S72: the SRV target is a secure CNAME: the TLSA base domain, and so the SNI, is the
/// expanded name (RFC 7671 sec. 7, RFC 7673 sec. 3.2).
#[test]
fn s72_cname_target_uses_the_expanded_name() {
    let pki = pki();
    let leaf = self_signed(&["unrelated.example.org"]);
    let w = World::builder()
        .zone(DOMAIN, S)
        .zone("example.net", S)
        .srv("_imaps._tcp.example.com", 0, 1, 993, "alias.example.net")
        .cname("alias.example.net", HOST)
        .a(HOST, IP)
        .smtp_port(993)
        .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &leaf))
        .server(IpAddr::V4(IP), implicit(Protocol::Imap, &[leaf]))
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps], &pki, 8);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert_eq!(s.services[0].targets[0].2[0].3.as_deref(), Some(HOST));
}

/// A whole domain: submissions, submission (587, STARTTLS), imaps and pop3s on one host, each
/// with its own TLSA RRset; the auto-configuration prefers implicit TLS and IMAP.
#[test]
fn a_domain_with_four_services() {
    let pki = pki();
    let leaf = self_signed(&["unrelated.example.org"]);
    let record: TlsaRecord = tlsa(3, 1, 1, &leaf);
    let chain = std::slice::from_ref(&leaf);
    let submission = MailServer::new(HOST).with_tls(server_tls(&[&leaf]));
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
            .tlsa(&format!("_{port}._tcp.{HOST}"), &record);
    }
    let services = [
        MailService::Submission,
        MailService::Submissions,
        MailService::Pop3s,
        MailService::Imaps,
    ];
    let s = run_everywhere(&b.build(), 465, &services, &pki, 9);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert!(s
        .services
        .iter()
        .all(|x| x.verdict == DomainVerdict::DaneVerified));
    let stored: Vec<(MailService, u16, TlsMode)> =
        s.autoconfig.iter().map(|a| (a.0, a.2, a.3)).collect();
    assert_eq!(
        stored,
        vec![
            (MailService::Submissions, 465, TlsMode::Implicit),
            (MailService::Imaps, 993, TlsMode::Implicit)
        ]
    );
}

/// A DANE failure of one service makes the whole domain `dane-failed`; a client must not
/// store that server.
#[test]
fn a_tlsa_mismatch_fails_the_service() {
    let pki = pki();
    let leaf = self_signed(&["unrelated.example.org"]);
    let other = self_signed(&["other.example.org"]);
    let w = world(S)
        .smtp_port(993)
        .srv("_imaps._tcp.example.com", 0, 1, 993, HOST)
        .tlsa(&format!("_993._tcp.{HOST}"), &tlsa(3, 1, 1, &other))
        .server(IpAddr::V4(IP), implicit(Protocol::Imap, &[leaf]))
        .build();
    let s = run_everywhere(&w, 993, &[MailService::Imaps], &pki, 10);
    assert_eq!(s.verdict, DomainVerdict::DaneFailed, "{s:#?}");
    assert_eq!(
        s.services[0].targets[0].2[0].0,
        ConnectionVerdict::DaneFailed
    );
    assert!(s.autoconfig.is_empty());
}
