//! `HostProbe` with the RFC 7673 parameters (issue 9), driven whole as a machine
//! ([`ProbeRun`]) against a world: real DNS wire answers from the world's validating resolver,
//! real TLS to implicit-TLS IMAP, POP3 and submission servers and to submission with
//! STARTTLS, certificates made for the test (a private CA in the PKIX trust store, another
//! outside it). Each case runs in the simulation and live on loopback through tokio and
//! smol, and must give the same connection verdict, authentication method and name, and
//! the SNI the server received, in all three.
//!
//! The identity rules (draft-ietf-dane-srv-14 = RFC 7673): sec. 4.1 (no usable TLSA: PKIX
//! with the service domain, plus the target when the SRV RRset is secure; SNI the target,
//! or the service domain for an insecure SRV RRset), sec. 4.2 (usable TLSA: RFC 6698
//! processing, DANE-EE without name checks; SNI the TLSA base domain).

#[path = "support/probe_run.rs"]
mod probe_run;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use daneel_core::check::AddressFamily;
use daneel_core::dane::{DigestPrefs, PkixError, TlsaRecord};
use daneel_core::dns::Security;
use daneel_core::implicit::greeting::{GreetingError, GreetingProtocol, MAX_GREETING_LINE};
use daneel_core::probe::{
    LookupOrder, NamedBy, PkixTrustStore, ProbeOptions, ProbeParams, ReferenceIds, Service,
    SessionKind, TlsStart, TrustModel,
};
use daneel_core::report::{
    AuthenticatedBy, ConnectionReport, ConnectionVerdict, HostPolicy, HostReport, Reason,
};
use daneel_core::smtp::route::{parse_domain, InsecureMxPolicy, MxTarget, SniMode};
use daneel_core::smtp::session::SmtpTimeouts;
use daneel_core::{Report, Timestamp};
use daneel_tests::live::LiveWorld;
use daneel_tests::sim::Sim;
use daneel_tests::world::certs::{self_signed, server_tls, tlsa, Ca, Issued, Validity};
use daneel_tests::world::{Behaviour, MailServer, Protocol, Stage, Status, World};
use probe_run::ProbeRun;

/// The service domain (the SRV owner without `_imaps._tcp`).
const DOMAIN: &str = "example.com";
/// The SRV target.
const TARGET: &str = "imap.example.net";
const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

/// 2026-01-01T00:00:00Z, inside every certificate's validity.
fn sim_start() -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000)
}

/// The CAs of a case: `trusted` is the only anchor of the PKIX trust store; `private`
/// issues certificates no Web PKI path reaches.
struct Cas {
    trusted: Ca,
    trusted_issuing: Ca,
    private: Ca,
    private_issuing: Ca,
}

fn cas() -> Cas {
    let trusted = Ca::root("daneel test root");
    let trusted_issuing = trusted.intermediate("daneel test issuing CA");
    let private = Ca::root("private root");
    let private_issuing = private.intermediate("private issuing CA");
    Cas {
        trusted,
        trusted_issuing,
        private,
        private_issuing,
    }
}

impl Cas {
    fn store(&self) -> PkixTrustStore {
        PkixTrustStore::Anchors(vec![self.trusted.cert.der.to_vec()])
    }

    /// A leaf for `names` from the trusted CA, with the chain its server sends.
    fn trusted_leaf(&self, names: &[&str]) -> (Issued, Vec<Issued>) {
        let leaf = self.trusted_issuing.leaf(names, Validity::Current);
        let chain = vec![leaf.clone(), self.trusted_issuing.cert.clone()];
        (leaf, chain)
    }

    fn private_leaf(&self, names: &[&str]) -> (Issued, Vec<Issued>) {
        let leaf = self.private_issuing.leaf(names, Validity::Current);
        let chain = vec![leaf.clone(), self.private_issuing.cert.clone()];
        (leaf, chain)
    }
}

/// What a case's connection must show, in the simulation and live.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    policy: HostPolicy,
    verdict: ConnectionVerdict,
    by: Option<AuthenticatedBy>,
    name: Option<String>,
    reason: Option<Reason>,
    sni: Option<String>,
}

fn expect(
    policy: HostPolicy,
    verdict: ConnectionVerdict,
    by: Option<AuthenticatedBy>,
    name: Option<&str>,
    reason: Option<Reason>,
    sni: &str,
) -> Seen {
    Seen {
        policy,
        verdict,
        by,
        name: name.map(str::to_string),
        reason,
        sni: Some(sni.to_string()),
    }
}

/// One case: the world, the service, the SRV RRset's status, the trust store.
struct Case {
    world: World,
    service: Service,
    srv: Security,
    store: PkixTrustStore,
}

/// A world where `TARGET` (in a secure zone) runs `server` on `service.port`, with these
/// TLSA records at `_<port>._tcp.TARGET`.
fn case(
    service: Service,
    server: MailServer,
    records: &[TlsaRecord],
    srv: Security,
    store: PkixTrustStore,
) -> Case {
    let mut b = World::builder()
        .smtp_port(service.port)
        .zone(DOMAIN, Status::Secure)
        .zone("example.net", Status::Secure)
        .a(TARGET, IP)
        .server(IpAddr::V4(IP), server);
    for r in records {
        b = b.tlsa(&format!("_{}._tcp.{TARGET}", service.port), r);
    }
    Case {
        world: b.build(),
        service,
        srv,
        store,
    }
}

fn imaps() -> Service {
    Service {
        port: 993,
        kind: SessionKind::Imap,
        tls: TlsStart::Implicit,
    }
}

fn imap_server(chain: &[Issued]) -> MailServer {
    let refs: Vec<&Issued> = chain.iter().collect();
    MailServer::implicit(Protocol::Imap, TARGET, server_tls(&refs))
}

fn params(c: &Case) -> ProbeParams {
    ProbeParams {
        named_by: NamedBy {
            security: c.srv,
            if_insecure: InsecureMxPolicy::May,
        },
        reference_ids: ReferenceIds::Srv {
            service_domain: parse_domain(DOMAIN).unwrap(),
        },
        trust: TrustModel::DaneAndPkix {
            trust_store: c.store.clone(),
        },
        service: c.service,
        order: LookupOrder::Parallel,
        require_dane: false,
        options: ProbeOptions {
            family: AddressFamily::V4,
            sni: SniMode::Auto,
            ehlo_name: "client.example".into(),
            timeouts: SmtpTimeouts::uniform(Duration::from_secs(2)),
            digests: DigestPrefs::default(),
            dns_only: false,
        },
    }
}

fn machine(c: &Case, resolver: std::net::SocketAddr, now: Timestamp) -> ProbeRun {
    let target = MxTarget {
        preference: Some(10),
        name: parse_domain(TARGET).unwrap(),
        literal: None,
    };
    ProbeRun::new(target, params(c), resolver, now).expect("a supported combination")
}

fn host(report: &Report) -> (&HostReport, &ConnectionReport) {
    let h = &report.hosts[0];
    assert_eq!(h.connections.len(), 1, "{h:#?}");
    (h, &h.connections[0])
}

fn seen(report: &Report, sni: Option<String>) -> Seen {
    let (h, c) = host(report);
    assert_eq!(
        c.tls.as_ref().and_then(|t| t.sni.clone()),
        sni,
        "the SNI daneel sent is the SNI the server received"
    );
    Seen {
        policy: h.policy,
        verdict: c.verdict,
        by: c.authenticated_by,
        name: c.authenticated_name.clone(),
        reason: c.reason.clone(),
        sni,
    }
}

fn run_sim(c: &Case) -> Seen {
    let resolver = "192.0.2.53:53".parse().unwrap();
    let mut sim = Sim::new(
        c.world.clone(),
        Box::new(machine(c, resolver, sim_start())),
        sim_start(),
    );
    let report = sim.run_bounded(100_000).expect("the simulation ends");
    let snis: Vec<Option<String>> = sim.connections().into_iter().map(|l| l.sni).collect();
    assert_eq!(snis.len(), 1, "{snis:?}");
    seen(&report, snis[0].clone())
}

fn run_live(c: &Case, base: Ipv4Addr) -> [Seen; 2] {
    let runs: [fn(ProbeRun) -> Report; 2] = [
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
    runs.map(|run| {
        let live = LiveWorld::start(&c.world, base, c.service.port)
            .expect("serve the world on loopback (root, in a network namespace)");
        let now = daneel_tokio::system_clock().origin();
        let report = run(machine(c, live.resolver_addr(), now));
        let snis = live.snis();
        assert!(snis.len() <= 1, "{snis:?}");
        seen(&report, snis.first().map(|(_, n)| n.clone()))
    })
}

/// Runs `c` in the simulation and live through both runtimes; all must be `want`.
fn check(c: Case, base: Ipv4Addr, want: Seen) {
    assert_eq!(run_sim(&c), want, "simulation");
    let [tokio, smol] = run_live(&c, base);
    assert_eq!(tokio, want, "live, tokio");
    assert_eq!(smol, want, "live, smol");
}

fn base(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 22, n, 0)
}

use AuthenticatedBy as By;
use ConnectionVerdict as V;
use HostPolicy as P;

/// Authenticated `by`, the certificate naming `name` (none for DANE-EE); SNI `sni`.
fn verified(policy: HostPolicy, by: AuthenticatedBy, name: Option<&str>, sni: &str) -> Seen {
    expect(policy, V::Verified, Some(by), name, None, sni)
}

/// Not authenticated: `verdict` for `reason`; SNI `sni`.
fn refused(policy: HostPolicy, verdict: ConnectionVerdict, reason: Reason, sni: &str) -> Seen {
    expect(policy, verdict, None, None, Some(reason), sni)
}

/// An IMAP case: `chain` served on 993, `records` at `_993._tcp.TARGET`, the trusted CA as
/// the trust store.
fn imap(cas: &Cas, chain: &[Issued], records: &[TlsaRecord], srv: Security) -> Case {
    case(imaps(), imap_server(chain), records, srv, cas.store())
}

fn unknown_issuer() -> Reason {
    Reason::PkixInvalid {
        error: PkixError::UnknownIssuer,
    }
}

const SECURE: Security = Security::Secure;

#[test]
fn dane_ee_needs_no_name_and_no_pkix() {
    let cas = cas();
    let leaf = self_signed(&["unrelated.example.org"]);
    let c = imap(
        &cas,
        std::slice::from_ref(&leaf),
        &[tlsa(3, 1, 1, &leaf)],
        SECURE,
    );
    check(c, base(1), verified(P::Dane, By::DaneEe, None, TARGET));
}

#[test]
fn dane_ta_accepts_the_target_name_without_the_web_pki() {
    let cas = cas();
    let (_, chain) = cas.private_leaf(&[TARGET]);
    let c = imap(
        &cas,
        &chain,
        &[tlsa(2, 0, 1, &cas.private_issuing.cert)],
        SECURE,
    );
    check(
        c,
        base(2),
        verified(P::Dane, By::DaneTa, Some(TARGET), TARGET),
    );
}

#[test]
fn dane_ta_accepts_the_service_domain() {
    let cas = cas();
    let (_, chain) = cas.private_leaf(&[DOMAIN]);
    let c = imap(
        &cas,
        &chain,
        &[tlsa(2, 1, 1, &cas.private_issuing.cert)],
        SECURE,
    );
    check(
        c,
        base(3),
        verified(P::Dane, By::DaneTa, Some(DOMAIN), TARGET),
    );
}

#[test]
fn pkix_ta_needs_a_validated_path_through_the_matching_ca() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let c = imap(
        &cas,
        &chain,
        &[tlsa(0, 0, 1, &cas.trusted_issuing.cert)],
        SECURE,
    );
    check(
        c,
        base(4),
        verified(P::Dane, By::PkixTa, Some(TARGET), TARGET),
    );
    // The same record shape on a CA outside the trust store: the record matches, the path
    // does not validate, and a usable record that fails is a DANE failure.
    let (_, chain) = cas.private_leaf(&[TARGET]);
    let c = imap(
        &cas,
        &chain,
        &[tlsa(0, 0, 1, &cas.private_issuing.cert)],
        SECURE,
    );
    check(
        c,
        base(5),
        refused(P::Dane, V::DaneFailed, unknown_issuer(), TARGET),
    );
}

#[test]
fn pkix_ta_on_the_root_matches_the_anchor_of_the_trust_store() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let c = imap(&cas, &chain, &[tlsa(0, 1, 1, &cas.trusted.cert)], SECURE);
    check(
        c,
        base(6),
        verified(P::Dane, By::PkixTa, Some(TARGET), TARGET),
    );
}

#[test]
fn pkix_ee_needs_the_leaf_and_a_validated_path() {
    let cas = cas();
    let (leaf, chain) = cas.trusted_leaf(&[DOMAIN]);
    let c = imap(&cas, &chain, &[tlsa(1, 1, 1, &leaf)], SECURE);
    check(
        c,
        base(7),
        verified(P::Dane, By::PkixEe, Some(DOMAIN), TARGET),
    );
}

#[test]
fn no_tlsa_under_a_secure_srv_is_pkix_with_the_target_name() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let c = imap(&cas, &chain, &[], SECURE);
    check(
        c,
        base(8),
        verified(P::Opportunistic, By::Pkix, Some(TARGET), TARGET),
    );
}

#[test]
fn an_insecure_srv_never_accepts_the_target_name() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let c = imap(&cas, &chain, &[], Security::Insecure);
    let reason = Reason::PkixNameMismatch {
        reference_ids: vec![DOMAIN.into()],
        presented: vec![TARGET.into()],
    };
    check(
        c,
        base(9),
        refused(P::Opportunistic, V::Untrusted, reason, DOMAIN),
    );
}

#[test]
fn an_insecure_srv_accepts_a_certificate_for_the_service_domain() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[DOMAIN]);
    let c = imap(&cas, &chain, &[], Security::Insecure);
    check(
        c,
        base(10),
        verified(P::Opportunistic, By::Pkix, Some(DOMAIN), DOMAIN),
    );
}

/// RFC 7673 sec. 4: the TLSA response was secure, so TLS is mandatory; with zero usable
/// records sec. 4.1 applies: PKIX with the sec. 4.1 names (SNI the target).
#[test]
fn all_unusable_tlsa_records_mean_mandatory_tls_and_pkix() {
    let cas = cas();
    let (leaf, chain) = cas.trusted_leaf(&[TARGET]);
    let mut unusable = tlsa(3, 1, 1, &leaf);
    unusable.usage = 4;
    let c = imap(&cas, &chain, std::slice::from_ref(&unusable), SECURE);
    check(
        c,
        base(11),
        verified(P::Encrypt, By::Pkix, Some(TARGET), TARGET),
    );
    let (_, chain) = cas.private_leaf(&[TARGET]);
    let c = imap(&cas, &chain, &[unusable], SECURE);
    check(
        c,
        base(12),
        refused(P::Encrypt, V::Untrusted, unknown_issuer(), TARGET),
    );
}

#[test]
fn an_expired_certificate_fails_pkix_at_the_time_given() {
    let cas = cas();
    let leaf = cas.trusted_issuing.leaf(&[TARGET], Validity::Expired);
    let chain = vec![leaf, cas.trusted_issuing.cert.clone()];
    let c = imap(&cas, &chain, &[], SECURE);
    let reason = Reason::PkixInvalid {
        error: PkixError::Expired,
    };
    check(
        c,
        base(13),
        refused(P::Opportunistic, V::Untrusted, reason, TARGET),
    );
}

fn bad_greeting(behaviour: Behaviour, n: u8, error: GreetingError) {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let server = imap_server(&chain).behaviour(behaviour);
    let c = case(imaps(), server, &[], Security::Secure, cas.store());
    let reason = Reason::BadGreeting {
        protocol: GreetingProtocol::Imap,
        error,
    };
    // Authenticated, then the service misbehaves: the verdict stays, the reason says why.
    check(
        c,
        base(n),
        expect(
            P::Opportunistic,
            V::Verified,
            Some(By::Pkix),
            Some(TARGET),
            Some(reason),
            TARGET,
        ),
    );
}

#[test]
fn an_unterminated_greeting_after_tls_is_bounded_by_the_greeting_timeout() {
    bad_greeting(
        Behaviour::RawGreeting(b"* OK no line end".to_vec()),
        14,
        GreetingError::Unterminated { bytes: 16 },
    );
}

#[test]
fn an_oversized_greeting_after_tls_is_cut_at_the_limit() {
    bad_greeting(
        Behaviour::RawGreeting(vec![b'x'; 3 * MAX_GREETING_LINE]),
        15,
        GreetingError::TooLong {
            limit: MAX_GREETING_LINE,
        },
    );
}

#[test]
fn a_garbage_greeting_after_tls_is_not_a_greeting() {
    bad_greeting(
        Behaviour::RawGreeting(b"220 this is SMTP, not IMAP\r\n".to_vec()),
        16,
        GreetingError::NotAGreeting,
    );
}

#[test]
fn a_refusing_greeting_after_tls_is_typed() {
    bad_greeting(
        Behaviour::RawGreeting(b"* BYE too many connections\r\n".to_vec()),
        17,
        GreetingError::Refused,
    );
}

#[test]
fn no_greeting_after_tls_times_out() {
    let cas = cas();
    let (_, chain) = cas.trusted_leaf(&[TARGET]);
    let server = imap_server(&chain).behaviour(Behaviour::StallAfter(Stage::Connect));
    let c = case(imaps(), server, &[], Security::Secure, cas.store());
    let reason = Reason::Timeout {
        stage: daneel_core::smtp::session::Stage::TlsGreeting,
    };
    check(
        c,
        base(18),
        expect(
            P::Opportunistic,
            V::Verified,
            Some(By::Pkix),
            Some(TARGET),
            Some(reason),
            TARGET,
        ),
    );
}

/// One address serving IMAP on 993 and, beside it, POP3 on 995, submission with implicit
/// TLS on 465 and submission with STARTTLS on 587: each probed on its port, with its TLSA
/// RRset at `_<port>._tcp` (DANE-EE for the implicit services, none for 587: PKIX).
#[test]
fn pop3s_submissions_and_submission_on_their_ports() {
    let cas = cas();
    let (leaf, chain) = cas.trusted_leaf(&[TARGET]);
    let refs: Vec<&Issued> = chain.iter().collect();
    let server = imap_server(&chain)
        .with_service(
            995,
            MailServer::implicit(Protocol::Pop3, TARGET, server_tls(&refs)),
        )
        .with_service(
            465,
            MailServer::implicit(Protocol::Smtp, TARGET, server_tls(&refs)),
        )
        .with_service(587, MailServer::new(TARGET).with_tls(server_tls(&refs)));
    let ee = tlsa(3, 1, 1, &leaf);
    let services = [
        (995, SessionKind::Pop3, TlsStart::Implicit, true),
        (465, SessionKind::Submission, TlsStart::Implicit, true),
        (587, SessionKind::Submission, TlsStart::StartTls, false),
    ];
    for (i, (port, kind, tls, dane)) in services.into_iter().enumerate() {
        let mut b = World::builder()
            .smtp_port(993)
            .zone(DOMAIN, Status::Secure)
            .zone("example.net", Status::Secure)
            .a(TARGET, IP)
            .server(IpAddr::V4(IP), server.clone());
        if dane {
            b = b.tlsa(&format!("_{port}._tcp.{TARGET}"), &ee);
        }
        let c = Case {
            world: b.build(),
            service: Service { port, kind, tls },
            srv: Security::Secure,
            store: cas.store(),
        };
        let want = if dane {
            expect(P::Dane, V::Verified, Some(By::DaneEe), None, None, TARGET)
        } else {
            expect(
                P::Opportunistic,
                V::Verified,
                Some(By::Pkix),
                Some(TARGET),
                None,
                TARGET,
            )
        };
        assert_eq!(run_sim(&c), want, "simulation, port {port}");
        // Live, the world's own port is 993; the other services listen beside it.
        let live = LiveWorld::start(&c.world, base(20 + i as u8), 993).unwrap();
        let now = daneel_tokio::system_clock().origin();
        let m = machine(&c, live.resolver_addr(), now);
        let report = *daneel_tokio::run_blocking(m, daneel_tokio::system_clock())
            .unwrap()
            .0;
        let sni = live.snis().first().map(|(addr, n)| {
            assert_eq!(addr.port(), port, "the service on its own port answered");
            n.clone()
        });
        assert_eq!(seen(&report, sni), want, "live, port {port}");
    }
}

/// The PEM bundle reader the CLI uses for `--ca-file` and the system store.
#[test]
fn a_pem_bundle_becomes_a_trust_store() {
    let cas = cas();
    let pem = |der: &[u8]| daneel_tests::pki::pem_encode("CERTIFICATE", der);
    let text = format!(
        "# a comment line\n{}{}",
        pem(&cas.trusted.cert.der),
        pem(&cas.private.cert.der)
    );
    let read = PkixTrustStore::from_pem_bundle(&text).unwrap();
    assert_eq!(
        read.store,
        PkixTrustStore::Anchors(vec![
            cas.trusted.cert.der.to_vec(),
            cas.private.cert.der.to_vec()
        ])
    );
    assert!(read.skipped.is_empty());
    assert!(read.store.holds_root_certificates());
    assert!(!PkixTrustStore::WebPkiRoots.holds_root_certificates());
    // A block that is no certificate is skipped, and said so.
    let with_junk = format!(
        "{}{}",
        pem(b"not a certificate"),
        pem(&cas.trusted.cert.der)
    );
    let read = PkixTrustStore::from_pem_bundle(&with_junk).unwrap();
    assert_eq!(read.skipped, vec![0]);
    assert!(PkixTrustStore::from_pem_bundle("no PEM here").is_err());
    assert!(PkixTrustStore::from_pem_bundle(&pem(b"junk")).is_err());
    // The system bundle, where there is one, reads with every certificate usable.
    if let Ok(system) = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt") {
        let read = PkixTrustStore::from_pem_bundle(&system).unwrap();
        assert!(matches!(&read.store, PkixTrustStore::Anchors(a) if a.len() > 50));
    }
}
