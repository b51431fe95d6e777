//! `MuaCheck` end to end (issue 9; SPEC-NOTES S64-S72; draft-ietf-dane-srv-14 = RFC 7673):
//! SRV discovery through the world's validating resolver, one probe per target, implicit-TLS
//! IMAP, POP3 and submission servers and submission with STARTTLS, per-service and overall
//! verdicts and the auto-configuration. Each case runs in the simulation and live on
//! loopback through tokio and smol, and all three must give the same summary.
//!
//! `cargo test -p daneel --test mua_check s64` runs one scenario.

use std::net::Ipv4Addr;

use daneel_core::mua::{ClassReport, ClassVerdict, MailService, MuaCheck, TlsMode};
use daneel_core::report::{AuthenticatedBy, ConnectionVerdict, Reason};
use daneel_core::{DomainVerdict, Report, Seed};
use daneel_tests::live::LiveWorld;
use daneel_tests::sim::Sim;
use daneel_tests::world::mua::{self, MuaScenario, DOMAIN, HOST, SIM_RESOLVER, SIM_START};

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
    /// The compatibility matrix: legacy, RFC 6186, DANE.
    matrix: Option<[Class; 3]>,
}

/// A class of the compatibility matrix: its verdict and its cells.
type Class = (ClassVerdict, Vec<Cell>);

/// A cell: (target, SNI, accepted, reason code, certificate names). No address: the
/// simulation's differ from loopback's.
type Cell = (
    String,
    Option<String>,
    Option<bool>,
    Option<&'static str>,
    Vec<String>,
);

fn class(c: &ClassReport) -> Class {
    (
        c.verdict,
        c.cells
            .iter()
            .map(|c| {
                (
                    c.target.clone(),
                    c.sni.clone(),
                    c.accepted,
                    c.reason.as_ref().map(Reason::code),
                    c.certificate_names.clone(),
                )
            })
            .collect(),
    )
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
                matrix: s
                    .compatibility
                    .as_ref()
                    .map(|m| [class(&m.legacy), class(&m.rfc6186), class(&m.dane)]),
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

/// Runs scenario `id` in the simulation and live on both runtimes (addresses
/// 127.23.`base`.0/24); all three must give the same summary, which is returned.
fn run_everywhere(id: &str, base: u8) -> Summary {
    let s: MuaScenario = mua::by_id(id).expect("a catalogue scenario");
    let mut sim = Sim::new(
        s.world.clone(),
        Box::new(MuaCheck::new(s.config(SIM_RESOLVER), Seed(7), SIM_START).unwrap()),
        SIM_START,
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
        let live = LiveWorld::start(&s.world, Ipv4Addr::new(127, 23, base, 0), s.port)
            .expect("serve the world on loopback (root, in a network namespace)");
        let now = daneel_tokio::system_clock().origin();
        let check = MuaCheck::new(s.config(live.resolver_addr()), Seed(7), now).unwrap();
        let got = summary(&run(check));
        assert_eq!(got, want, "{id}: live run {i} differs from the simulation");
    }
    want
}

#[test]
fn every_mua_scenario_has_its_own_test() {
    let this = include_str!("mua_check.rs");
    for s in mua::all() {
        let name = s.id.to_ascii_lowercase().replace('-', "_");
        assert!(
            this.contains(&format!("fn {name}_")),
            "{} ({}) has no test named {name}_...",
            s.id,
            s.what
        );
    }
}

/// S64: secure SRV for submissions (465), DANE-EE: authenticated without any name check;
/// SNI the target; the client stores the target with implicit TLS.
#[test]
fn s64_dane_ee_on_implicit_tls_submission() {
    let s = run_everywhere("S64", 1);
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
    let s = run_everywhere("S65", 2);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert_eq!(s.autoconfig.len(), 1);
    assert_eq!(s.autoconfig[0].4, Some(AuthenticatedBy::DaneTa));
    assert_eq!(s.autoconfig[0].5.as_deref(), Some(DOMAIN));
}

/// S66: insecure SRV RRset: no DANE even though the target has secure TLSA records; PKIX
/// against the mail domain only (RFC 7673 sec. 4.1), SNI the mail domain. A certificate for
/// the target name alone is not good enough.
#[test]
fn s66_target_insecure_srv_refuses_a_certificate_for_the_target_only() {
    let s = run_everywhere("S66-target", 3);
    assert_eq!(s.verdict, DomainVerdict::NoDane, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.3.as_deref(), Some(DOMAIN), "SNI is the mail domain");
    assert_eq!(conn.0, ConnectionVerdict::Untrusted, "{conn:?}");
    assert_eq!(conn.2, Some("pkix-name-mismatch"), "{conn:?}");
    assert!(s.autoconfig.is_empty(), "nothing authenticated to store");
}

/// S66, the other half: the certificate names the mail domain: PKIX authenticates it, but
/// the service is still `no-dane`.
#[test]
fn s66_domain_insecure_srv_accepts_a_certificate_for_the_mail_domain() {
    let s = run_everywhere("S66-domain", 4);
    assert_eq!(s.verdict, DomainVerdict::NoDane, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.3.as_deref(), Some(DOMAIN), "SNI is the mail domain");
    assert_eq!(conn.0, ConnectionVerdict::Verified);
    assert_eq!(conn.1, Some(AuthenticatedBy::Pkix));
    assert_eq!(s.autoconfig[0].5.as_deref(), Some(DOMAIN));
}

/// S67: a bogus SRV RRset: do not connect, do not guess (RFC 7673 sec. 3.1).
#[test]
fn s67_bogus_srv_connects_nowhere() {
    let s = run_everywhere("S67", 5);
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
    let s = run_everywhere("S68", 6);
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
    let s = run_everywhere("S71", 7);
    let names: Vec<&str> = s.services[0].targets.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names[2], HOST, "priority 10 last: {names:?}");
    assert_eq!(s.autoconfig[0].1, HOST);
    assert_eq!(s.autoconfig[0].4, Some(AuthenticatedBy::DaneEe));
    // The matrix: the two targets that never answered are not tried again (untested cells
    // with the connect failure), the one that answers is: its DANE-EE certificate names no
    // one a PKIX client trusts.
    let [legacy, _, dane] = s.services[0].matrix.clone().expect("a matrix");
    let log = sim_log("S71");
    assert!(
        !log.iter()
            .any(|l| l.contains("(observation") && !l.starts_with(HOST)),
        "an observation of a target that never answered: {log:#?}"
    );
    let untried: Vec<(Option<bool>, Option<&str>)> =
        legacy.1[..4].iter().map(|c| (c.2, c.3)).collect();
    assert_eq!(
        untried,
        vec![(None, Some("connect-failed")); 4],
        "{legacy:?}"
    );
    assert!(
        legacy.1[4..]
            .iter()
            .all(|c| c.2 == Some(false) && c.3 == Some("pkix-invalid")),
        "{legacy:?}"
    );
    assert_eq!(legacy.0, ClassVerdict::Broken);
    assert_eq!(dane.0, ClassVerdict::Works, "{dane:?}");
}

/// S72: the SRV target is a secure CNAME: the TLSA base domain, and so the SNI, is the
/// expanded name (RFC 7671 sec. 7, RFC 7673 sec. 3.2).
#[test]
fn s72_cname_target_uses_the_expanded_name() {
    let s = run_everywhere("S72", 8);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert_eq!(s.services[0].targets[0].2[0].3.as_deref(), Some(HOST));
}

/// A whole domain: submissions, submission (587, STARTTLS), imaps and pop3s on one host, each
/// with its own TLSA RRset; the auto-configuration prefers implicit TLS and IMAP.
#[test]
fn m_four_a_domain_with_four_services() {
    let s = run_everywhere("M-FOUR", 9);
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
fn m_mismatch_a_tlsa_mismatch_fails_the_service() {
    let s = run_everywhere("M-MISMATCH", 10);
    assert_eq!(s.verdict, DomainVerdict::DaneFailed, "{s:#?}");
    assert_eq!(
        s.services[0].targets[0].2[0].0,
        ConnectionVerdict::DaneFailed
    );
    assert!(s.autoconfig.is_empty());
}

/// A server that speaks plaintext SMTP on the imaps port, with no TLSA records (policy
/// opportunistic): an implicit-TLS client has no cleartext to go on in (RFC 8314 sec. 3), so
/// the connection is `unreachable` with its typed reason, never `plaintext`. Found by the
/// `mua_check` fuzz target's oracle (there with plaintext before the handshake).
#[test]
fn m_plaintext_on_an_implicit_tls_port_is_never_plaintext() {
    let s = run_everywhere("M-PLAINTEXT", 11);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Unreachable, "{s:#?}");
    // The banner reaches the TLS pump (the handshake starts as soon as the connection is
    // up), so the handshake fails; a banner seen before the handshake would be
    // `bad-greeting` (plaintext before TLS).
    assert_eq!(conn.2, Some("handshake-failed"));
    assert_eq!(s.verdict, DomainVerdict::Inconclusive);
    assert!(s.autoconfig.is_empty());
}

/// RFC 7673 sec. 3.1: under an insecure SRV RRset DANE does not apply, so the target's TLSA
/// RRset is never asked for (S66); under a secure one it is asked for with the address
/// lookups (sec. 7, S64).
#[test]
fn s66_and_s64_tlsa_is_asked_only_under_a_secure_srv_rrset() {
    for (id, asked) in [("S66-domain", false), ("S64", true)] {
        let s = mua::by_id(id).unwrap();
        let mut sim = Sim::new(
            s.world.clone(),
            Box::new(MuaCheck::new(s.config(SIM_RESOLVER), Seed(7), SIM_START).unwrap()),
            SIM_START,
        );
        sim.run_bounded(200_000).expect("the simulation ends");
        let tlsa: Vec<String> = sim
            .queries()
            .into_iter()
            .filter(|q| q.rtype == "TLSA")
            .map(|q| q.name)
            .collect();
        assert_eq!(!tlsa.is_empty(), asked, "{id}: TLSA queries {tlsa:?}");
    }
}

/// Secure SRV, secure TLSA RRset, every record unusable: TLS is mandatory and the server is
/// checked with PKIX (draft-ietf-dane-srv-14 sec. 4 and 4.1; Postfix: "we MUST use TLS, and
/// SHALL use full PKIX certificate checks"); authenticated by PKIX, so not a DANE service.
#[test]
fn m_unusable_all_unusable_tlsa_means_tls_and_pkix() {
    let s = run_everywhere("M-UNUSABLE", 12);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Verified, "{s:#?}");
    assert_eq!(conn.1, Some(AuthenticatedBy::Pkix));
    assert_eq!(conn.3.as_deref(), Some(HOST), "SNI the target");
    assert_eq!(s.verdict, DomainVerdict::NoDane);
}

/// Secure SRV and no TLSA RRset: PKIX with the target name accepted, SNI the target.
#[test]
fn m_notlsa_secure_srv_without_tlsa_is_pkix_with_the_target_name() {
    let s = run_everywhere("M-NOTLSA", 13);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Verified, "{s:#?}");
    assert_eq!(conn.1, Some(AuthenticatedBy::Pkix));
    assert_eq!(conn.3.as_deref(), Some(HOST));
    assert_eq!(s.autoconfig[0].5.as_deref(), Some(HOST));
    assert_eq!(s.verdict, DomainVerdict::NoDane);
}

/// A bogus TLSA RRset: the target is not connected to (RFC 7673 sec. 3.3), and since TLSA
/// records were there to be found, that is a DANE failure of the service, as for an MX host.
#[test]
fn m_tlsa_bogus_a_bogus_tlsa_rrset_skips_the_target() {
    let s = run_everywhere("M-TLSA-BOGUS", 14);
    let target = &s.services[0].targets[0];
    assert!(target.2.is_empty(), "no connection: {s:#?}");
    assert_eq!(s.verdict, DomainVerdict::DaneFailed);
    assert!(s.autoconfig.is_empty());
}

/// Secure A, bogus AAAA: RFC 7673 sec. 3.2 says not to connect to that target at all (the
/// MX rule, which goes on with the secure family, does not apply to SRV targets).
#[test]
fn m_aaaa_bogus_a_failed_address_lookup_skips_the_srv_target() {
    let s = run_everywhere("M-AAAA-BOGUS", 15);
    let target = &s.services[0].targets[0];
    assert!(target.2.is_empty(), "no connection: {s:#?}");
    assert!(s.autoconfig.is_empty());
    assert_ne!(s.verdict, DomainVerdict::DaneVerified);
}

/// DANE-EE matches, then the server greets with SMTP on 993: the connection stays
/// `verified` (the chain was authenticated) with its `bad-greeting` reason, and a client is
/// never told to store that server.
#[test]
fn m_bad_greeting_an_authenticated_server_that_is_not_imap_is_not_stored() {
    let s = run_everywhere("M-BAD-GREETING", 16);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.2, Some("bad-greeting"), "{s:#?}");
    assert!(s.autoconfig.is_empty(), "{:?}", s.autoconfig);
}

/// pop3s at priority 0, imaps at priority 10: the client stores pop3s, as the domain asks.
#[test]
fn m_pop_first_the_domains_srv_priority_decides_between_imap_and_pop3() {
    let s = run_everywhere("M-POP-FIRST", 17);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    assert_eq!(s.autoconfig.len(), 1);
    assert_eq!(s.autoconfig[0].0, MailService::Pop3s);
}

/// The report's log of scenario `id` run in the simulation.
fn sim_log(id: &str) -> Vec<String> {
    let s = mua::by_id(id).expect("a catalogue scenario");
    let mut sim = Sim::new(
        s.world.clone(),
        Box::new(MuaCheck::new(s.config(SIM_RESOLVER), Seed(7), SIM_START).unwrap()),
        SIM_START,
    );
    let report = sim.run_bounded(200_000).expect("the simulation ends");
    report.log.into_iter().map(|l| l.text).collect()
}

/// The commands the client sent on the check's own connections (log lines `> ...`), not on
/// the observation handshakes of the compatibility matrix.
fn sent(log: &[String]) -> Vec<&str> {
    log.iter()
        .filter(|l| !l.contains("(observation, SNI"))
        .filter_map(|l| l.split_once(": > ").map(|(_, c)| c))
        .collect()
}

/// The capability list the session logged `when` ("before" or "after") TLS.
fn capabilities(log: &[String], when: &str) -> Option<String> {
    log.iter()
        .find_map(|l| l.split_once(&format!("capabilities {when} TLS: ")))
        .map(|(_, c)| c.to_string())
}

/// S69: a secure `_imap._tcp` SRV RRset and usable TLSA records make TLS mandatory; the
/// server lists no STARTTLS capability, so the client aborts after the capability query
/// and sends nothing else in clear (M8; RFC 7673 sec. 4): `dane-failed`, never a login.
#[test]
fn s69_imap_without_starttls_aborts_under_dane() {
    let s = run_everywhere("S69", 20);
    assert_eq!(s.verdict, DomainVerdict::DaneFailed, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::DaneFailed);
    assert_eq!(conn.2, Some("starttls-not-offered"));
    assert!(s.autoconfig.is_empty());
    let log = sim_log("S69");
    assert_eq!(sent(&log), ["a1 CAPABILITY"], "{log:#?}");
    // No class gets TLS: each matrix row has its own connection, which stops at the same
    // missing capability and sends nothing more either.
    let [legacy, rfc6186, dane] = s.services[0].matrix.clone().expect("a matrix");
    let refused = |sni: Option<&str>| cell(sni, false, Some("starttls-not-offered"), &[]);
    for (class, sni) in [(legacy, HOST), (rfc6186, DOMAIN)] {
        assert_eq!(
            class,
            (
                ClassVerdict::Broken,
                vec![refused(Some(sni)), refused(None)]
            )
        );
    }
    assert_eq!(dane, (ClassVerdict::Broken, vec![refused(None)]));
    let observed: Vec<&String> = log.iter().filter(|l| l.contains("> ")).collect();
    assert_eq!(observed.len(), 4, "one CAPABILITY per connection: {log:#?}");
}

/// S70: a secure `_pop3._tcp` SRV RRset and a secure TLSA RRset whose only record is
/// unusable (unknown matching type): as if no TLSA record existed, TLS with PKIX against the
/// target and the mail domain (RFC 7673 sec. 4.1), SNI the target. POP3 STLS works.
#[test]
fn s70_pop3_stls_with_unusable_tlsa_falls_back_to_pkix() {
    let s = run_everywhere("S70", 21);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Verified, "{s:#?}");
    assert_eq!(conn.1, Some(AuthenticatedBy::Pkix));
    assert_eq!(conn.3.as_deref(), Some(HOST));
    assert_eq!(s.verdict, DomainVerdict::NoDane);
    assert_eq!(
        s.autoconfig,
        vec![(
            MailService::Pop3,
            HOST.to_string(),
            110,
            TlsMode::Starttls,
            Some(AuthenticatedBy::Pkix),
            Some(HOST.to_string())
        )]
    );
}

/// Without DANE (insecure SRV RRset) a server without STARTTLS is `plaintext` with
/// `starttls-not-offered`: the server offers nothing better than cleartext. The client still
/// treats TLS as mandatory (RFC 7673 sec. 4.1 makes every SRV connection PKIX-authenticated;
/// RFC 8314 sec. 4.1), so it sends nothing after the capability query, and nothing is
/// stored.
#[test]
fn m_stripped_no_dane_is_plaintext_without_a_login() {
    let s = run_everywhere("M-STRIPPED-NO-DANE", 28);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Plaintext, "{s:#?}");
    assert_eq!(conn.2, Some("starttls-not-offered"));
    assert!(s.autoconfig.is_empty());
    let log = sim_log("M-STRIPPED-NO-DANE");
    assert_eq!(sent(&log), ["a1 CAPABILITY"], "{log:#?}");
}

/// IMAP STARTTLS on 143 under DANE-EE: verified, stored with STARTTLS; the capabilities
/// are asked again over TLS and only that list counts (RFC 9051 sec. 6.2.1).
#[test]
fn m_imap_starttls_is_verified() {
    let s = run_everywhere("M-IMAP-STARTTLS", 22);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Verified);
    assert_eq!(conn.1, Some(AuthenticatedBy::DaneEe));
    assert_eq!(conn.3.as_deref(), Some(HOST));
    assert_eq!(s.autoconfig[0].3, TlsMode::Starttls);
    let log = sim_log("M-IMAP-STARTTLS");
    assert_eq!(
        sent(&log),
        ["a1 CAPABILITY", "a2 STARTTLS", "a3 CAPABILITY", "a LOGOUT"],
        "{log:#?}"
    );
    assert_observations_send_nothing_after_tls(&log);
    assert_eq!(
        capabilities(&log, "before").as_deref(),
        Some("IMAP4REV1 STARTTLS LOGINDISABLED"),
        "{log:#?}"
    );
    assert_eq!(
        capabilities(&log, "after").as_deref(),
        Some("IMAP4REV1 AUTH=PLAIN"),
        "{log:#?}"
    );
}

/// POP3 STLS whose CAPA lists STLS before TLS and SASL PLAIN, without STLS, after: the
/// client asks again over TLS and reports the second list, nothing from before (RFC 2595
/// sec. 4).
#[test]
fn m_caps_across_tls_are_asked_again() {
    let s = run_everywhere("M-CAPS-ACROSS-TLS", 23);
    assert_eq!(s.verdict, DomainVerdict::DaneVerified, "{s:#?}");
    let log = sim_log("M-CAPS-ACROSS-TLS");
    assert_eq!(sent(&log), ["CAPA", "STLS", "CAPA", "QUIT"], "{log:#?}");
    assert_eq!(
        capabilities(&log, "before").as_deref(),
        Some("USER STLS"),
        "{log:#?}"
    );
    assert_eq!(
        capabilities(&log, "after").as_deref(),
        Some("USER SASL"),
        "{log:#?}"
    );
}

/// `* PREAUTH` leaves no way to start TLS (RFC 9051 sec. 7.1.4, 6.2.1): where TLS is
/// mandatory the client closes without sending a thing.
#[test]
fn m_preauth_fails_under_dane_and_sends_nothing() {
    let s = run_everywhere("M-PREAUTH", 24);
    assert_eq!(s.verdict, DomainVerdict::DaneFailed, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::DaneFailed);
    assert_eq!(conn.2, Some("preauth"));
    let log = sim_log("M-PREAUTH");
    assert!(sent(&log).is_empty(), "{log:#?}");
}

/// STLS listed but refused with -ERR under DANE: `dane-failed` with `starttls-rejected`,
/// nothing sent after the refusal.
#[test]
fn m_stls_refused_fails_under_dane() {
    let s = run_everywhere("M-STLS-REFUSED", 25);
    assert_eq!(s.verdict, DomainVerdict::DaneFailed, "{s:#?}");
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::DaneFailed);
    assert_eq!(conn.2, Some("starttls-rejected"));
    let log = sim_log("M-STLS-REFUSED");
    assert_eq!(sent(&log), ["CAPA", "STLS"], "{log:#?}");
}

/// A literal announcing 2^64-1 octets is refused as soon as it is announced (RFC 9051
/// sec. 4.3): a protocol error before TLS, so the connection is `unreachable` and nothing is
/// stored.
#[test]
fn m_imap_literal_absurd_size_is_refused() {
    let s = run_everywhere("M-IMAP-LITERAL", 26);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Unreachable, "{s:#?}");
    assert_eq!(conn.2, Some("protocol-error"));
    assert!(s.autoconfig.is_empty());
    let log = sim_log("M-IMAP-LITERAL");
    assert!(
        log.iter()
            .any(|l| l.contains("a literal of 18446744073709551615 octets")),
        "{log:#?}"
    );
}

/// A CAPA response without its final "." line, then a close: the typed `unterminated`
/// error, not a hang and not a capability list.
#[test]
fn m_pop3_unterminated_multi_line_is_refused() {
    let s = run_everywhere("M-POP3-UNTERMINATED", 27);
    let conn = &s.services[0].targets[0].2[0];
    assert_eq!(conn.0, ConnectionVerdict::Unreachable, "{s:#?}");
    assert_eq!(conn.2, Some("protocol-error"));
    let log = sim_log("M-POP3-UNTERMINATED");
    assert!(
        log.iter().any(|l| l.contains("unfinished response")),
        "{log:#?}"
    );
    assert_eq!(sent(&log), ["CAPA"], "{log:#?}");
}

/// A cell of the matrix for [`HOST`]: its SNI row, whether accepted, the reason code and the
/// names the certificate of that row carries.
fn cell(sni: Option<&str>, accepted: bool, reason: Option<&'static str>, names: &[&str]) -> Cell {
    (
        HOST.to_string(),
        sni.map(str::to_string),
        Some(accepted),
        reason,
        names.iter().map(|n| n.to_string()).collect(),
    )
}

/// The matrix of the only service of a matrix scenario, whose verdict must be `verdict`;
/// every observation handshake of the simulation sends nothing after its handshake.
fn matrix(id: &str, base: u8, verdict: DomainVerdict) -> [Class; 3] {
    let s = run_everywhere(id, base);
    assert_eq!(s.verdict, verdict, "{s:#?}");
    assert_observations_send_nothing_after_tls(&sim_log(id));
    s.services[0]
        .matrix
        .clone()
        .expect("a compatibility matrix")
}

/// No observation connection of the compatibility matrix sends a command after its
/// handshake: nothing logged as sent (`> `) follows its "observed a chain ...; closing".
fn assert_observations_send_nothing_after_tls(log: &[String]) {
    for (i, line) in log.iter().enumerate() {
        if line.contains("(observation, SNI") && line.contains(": observed a chain") {
            let label = line.split(": observed").next().unwrap_or_default();
            let later_sent = log[i..]
                .iter()
                .any(|l| l.starts_with(&format!("{label}: > ")));
            assert!(!later_sent, "{label} sent after its handshake: {log:#?}");
        }
    }
}

/// A PKIX class's two rows for [`HOST`]: with SNI `sni` and without, each accepted or
/// refused for a name mismatch, with the names the certificate of that row carries.
fn pkix_rows(sni: &str, rows: [(bool, &[&str]); 2]) -> Class {
    let [(with_ok, with), (without_ok, without)] = rows;
    let refused = |ok: bool| (!ok).then_some("pkix-name-mismatch");
    let verdict = match (with_ok, without_ok) {
        (true, true) => ClassVerdict::Works,
        (false, false) => ClassVerdict::Broken,
        _ => ClassVerdict::Partial,
    };
    (
        verdict,
        vec![
            cell(Some(sni), with_ok, refused(with_ok), with),
            cell(None, without_ok, refused(without_ok), without),
        ],
    )
}

/// The DANE class of a matrix scenario: served on its one row, with SNI `sni`.
fn dane_served(sni: &str, names: &[&str]) -> Class {
    (
        ClassVerdict::Works,
        vec![cell(Some(sni), true, None, names)],
    )
}

/// A certificate for the host name alone (DANE-TA under a secure SRV RRset): legacy clients
/// (host name, with or without SNI) and DANE clients are served; RFC 6186 clients, which
/// expect the mail domain, are refused on both rows (draft-fanf-dane-mua "compatibility").
#[test]
fn m_matrix_host_serves_legacy_and_dane_clients() {
    let h: &[&str] = &[HOST];
    let got = matrix("M-MATRIX-HOST", 29, DomainVerdict::DaneVerified);
    let want = [
        pkix_rows(HOST, [(true, h), (true, h)]),
        pkix_rows(DOMAIN, [(false, h), (false, h)]),
        dane_served(HOST, h),
    ];
    assert_eq!(got, want);
}

/// A certificate for the mail domain alone: RFC 6186 clients and DANE clients (RFC 7673
/// sec. 4.1 accepts the service domain) are served; legacy clients are refused.
#[test]
fn m_matrix_domain_serves_rfc6186_and_dane_clients() {
    let d: &[&str] = &[DOMAIN];
    let got = matrix("M-MATRIX-DOMAIN", 30, DomainVerdict::DaneVerified);
    let want = [
        pkix_rows(HOST, [(false, d), (false, d)]),
        pkix_rows(DOMAIN, [(true, d), (true, d)]),
        dane_served(HOST, d),
    ];
    assert_eq!(got, want);
}

/// A certificate naming both: every class is served, on both rows.
#[test]
fn m_matrix_both_serves_every_class() {
    let b: &[&str] = &[HOST, DOMAIN];
    let got = matrix("M-MATRIX-BOTH", 31, DomainVerdict::DaneVerified);
    let want = [
        pkix_rows(HOST, [(true, b), (true, b)]),
        pkix_rows(DOMAIN, [(true, b), (true, b)]),
        dane_served(HOST, b),
    ];
    assert_eq!(got, want);
}

/// The host's certificate for SNI = the host name, the mail domain's otherwise (the slides'
/// "can use TLS SNI to separate 2 from 3"; RFC 7673 sec. 6: RFC 6186 clients ask for the
/// service domain, DANE clients for the target): RFC 6186 and DANE clients are served,
/// legacy clients only when they send SNI, and the rows show the certificate changing.
#[test]
fn m_matrix_nosni_shows_the_certificate_differing_without_sni() {
    let (h, d): (&[&str], &[&str]) = (&[HOST], &[DOMAIN]);
    let got = matrix("M-MATRIX-NOSNI", 32, DomainVerdict::DaneVerified);
    let want = [
        pkix_rows(HOST, [(true, h), (false, d)]),
        pkix_rows(DOMAIN, [(true, d), (true, d)]),
        dane_served(HOST, h),
    ];
    assert_eq!(got, want);
}

/// The same server behind an insecure SRV RRset: no DANE (RFC 7673 sec. 4.1), the check's
/// own connection sends SNI = the mail domain, is authenticated by PKIX for it, and serves as
/// the RFC 6186 row with SNI; the legacy row with SNI = the host name is a new handshake that
/// completes with the other certificate.
#[test]
fn m_matrix_insecure_reuses_the_checks_own_connection_for_the_mail_domain_row() {
    let (h, d): (&[&str], &[&str]) = (&[HOST], &[DOMAIN]);
    let got = matrix("M-MATRIX-INSECURE", 33, DomainVerdict::NoDane);
    let want = [
        pkix_rows(HOST, [(true, h), (false, d)]),
        pkix_rows(DOMAIN, [(true, d), (true, d)]),
        dane_served(DOMAIN, d),
    ];
    assert_eq!(got, want);
    let log = sim_log("M-MATRIX-INSECURE");
    let observations: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("(observation, SNI") && l.contains(": connecting ("))
        .collect();
    assert_eq!(observations.len(), 2, "SNI host and no SNI: {log:#?}");
}
