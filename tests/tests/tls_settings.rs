//! Injected TLS settings (issue 8): the crypto provider, the protocol versions and the time
//! source reach the handshake, through [`TlsPump`], [`ConnectionIo`] and both runtimes;
//! daneel's handshake-only verifier and disabled resumption do not depend on them and cannot
//! be replaced.

#[path = "support/tls_exchange.rs"]
mod tls_exchange;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use daneel_core::check::SmtpCheck;
use daneel_core::machine::{ConnId, OwnedInput};
use daneel_core::report::{ConnectionVerdict, Reason};
use daneel_core::tls::danger::{HandshakeOnlyVerifier, VerifyError};
use daneel_core::tls::{
    ConnectionIo, FixedTime, PumpEvent, TlsError, TlsFailureKind, TlsPump, TlsSettings,
    TlsSettingsError, FIXED_UNIX_TIME,
};
use daneel_core::{Report, Seed};
use daneel_tests::live::LiveWorld;
use daneel_tests::tls_server::{
    server_config, server_connection, server_feed, server_outgoing, ServerSpec, Versions,
};
use daneel_tests::world::catalogue;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::{
    ClientConfig, ClientConnection, HandshakeKind, PeerIncompatible, RootCertStore,
    ServerConnection, SupportedProtocolVersion,
};
use tls_exchange::{do_handshake, established, failed, IoClient};

const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;
const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;

fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn settings(versions: &[&'static SupportedProtocolVersion]) -> TlsSettings {
    TlsSettings::new(ring(), versions, Arc::new(FixedTime)).unwrap()
}

/// A self-signed leaf for `mx.example`, valid only in 2000 (expired for any WebPKI verifier,
/// and issued by nobody it would trust): (chain, key PKCS#8 DER).
fn expired_self_signed() -> (Vec<Vec<u8>>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["mx.example".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2000, 12, 31);
    let cert = params.self_signed(&key).unwrap();
    (vec![cert.der().to_vec()], key.serialize_der())
}

/// Handshakes `settings` with `spec`: the client's events, the server's error, the server.
fn handshake(
    settings: &TlsSettings,
    spec: &ServerSpec,
) -> (Vec<PumpEvent>, Option<rustls::Error>, ServerConnection) {
    let mut server = server_connection(spec).unwrap();
    let mut client = TlsPump::with_tls(settings, Some("mx.example")).unwrap();
    let ex = do_handshake(&mut client, &mut server);
    (ex.events, ex.server_error, server)
}

/// Every settings variant this file injects (and aws-lc-rs when the feature is on).
fn variants() -> Vec<(&'static str, TlsSettings)> {
    let ring_variants = [
        ("default", TlsSettings::default()),
        ("ring, TLS 1.3 only", settings(&[TLS13])),
        ("ring, TLS 1.2 only", settings(&[TLS12])),
        (
            "ring, counted time",
            TlsSettings::new(ring(), &[TLS12, TLS13], Arc::new(Counted::default())).unwrap(),
        ),
    ];
    ring_variants
        .into_iter()
        .chain(aws_lc_rs_variant())
        .collect()
}

#[cfg(not(feature = "aws-lc-rs"))]
fn aws_lc_rs_variant() -> Option<(&'static str, TlsSettings)> {
    None
}

#[cfg(feature = "aws-lc-rs")]
fn aws_lc_rs_variant() -> Option<(&'static str, TlsSettings)> {
    Some(("aws-lc-rs", aws_lc_rs_settings()))
}

// ---------------------------------------------------------------------------------------
// Defaults

/// The server's fatal `protocol_version` alert (RFC 8446 sec. 6.2), as rustls names it.
fn protocol_version() -> TlsError {
    TlsError::Alert {
        alert: "ProtocolVersion".into(),
    }
}

#[test]
fn default_settings_are_ring_tls13_and_tls12_and_the_fixed_time() {
    let d = TlsSettings::default();
    assert_eq!(d.versions(), &[TLS13, TLS12]);
    // Also with the aws-lc-rs feature on: ring is the default unless aws-lc-rs is injected.
    assert_eq!(format!("{:?}", d.provider().secure_random), "Ring");
    assert_eq!(format!("{:?}", d.provider().key_provider), "Ring");
    assert_eq!(
        d.time_provider().current_time(),
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            FIXED_UNIX_TIME
        )))
    );
    for sni in [false, true] {
        let cfg = d.client_config(sni);
        assert_eq!(cfg.enable_sni, sni);
        assert!(!cfg.enable_early_data);
    }
    // The default pump negotiates what it did before settings existed.
    let (chain, key) = expired_self_signed();
    let (events, _, _) = handshake(&d, &ServerSpec::new(chain, key));
    assert_eq!(
        established(&events).map(|i| i.version.as_str()),
        Some("TLSv1.3")
    );
}

#[test]
fn settings_without_versions_or_unusable_ones_are_refused_with_a_reason() {
    let err = TlsSettings::new(ring(), &[], Arc::new(FixedTime)).unwrap_err();
    assert_eq!(err, TlsSettingsError::NoVersions);
    // A provider without cipher suites serves no version.
    let empty = CryptoProvider {
        cipher_suites: Vec::new(),
        ..rustls::crypto::ring::default_provider()
    };
    let err = TlsSettings::new(Arc::new(empty), &[TLS13], Arc::new(FixedTime)).unwrap_err();
    assert!(matches!(err, TlsSettingsError::Unusable(_)), "{err:?}");
    assert!(err.to_string().contains("cannot serve"), "{err}");
}

// ---------------------------------------------------------------------------------------
// The verifier and resumption are daneel's, whatever is injected

/// The verifier a caller might want to inject: rustls's WebPKI verifier, trusting one
/// unrelated root, which refuses every certificate the test servers present.
fn webpki_verifier(provider: &Arc<CryptoProvider>) -> Arc<WebPkiServerVerifier> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = params.self_signed(&key).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(root.der().clone()).unwrap();
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .unwrap()
}

/// Whatever the settings, the verifier is `HandshakeOnlyVerifier`: an expired self-signed
/// certificate (which a WebPKI verifier refuses) is accepted, and a server that does not hold
/// its leaf's key is refused with the verifier's own typed error. A configuration taken out
/// of the settings and given another verifier changes nothing: settings take no
/// configuration back.
#[test]
fn every_setting_uses_the_handshake_only_verifier_and_no_other() {
    let (chain, key) = expired_self_signed();
    let (_, other_key) = expired_self_signed();
    for (name, s) in variants() {
        let mut cfg = s.client_config(true);
        Arc::make_mut(&mut cfg)
            .dangerous()
            .set_certificate_verifier(webpki_verifier(s.provider()));
        let genuine = ServerSpec::new(chain.clone(), key.clone());
        // Control: that configuration, used directly, refuses the server.
        let mut server = server_connection(&genuine).unwrap();
        let sni = ServerName::try_from("mx.example").unwrap();
        let mut direct = ClientConnection::new(cfg, sni).unwrap();
        let refused = do_handshake(&mut direct, &mut server).events;
        assert!(
            matches!(&refused[..], [Err(rustls::Error::InvalidCertificate(_))]),
            "{name}: {refused:?}"
        );

        let (events, server_error, _) = handshake(&s, &genuine);
        assert!(server_error.is_none(), "{name}: {server_error:?}");
        let info = established(&events).unwrap_or_else(|| panic!("{name}: {events:?}"));
        assert_eq!(info.chain, chain, "{name}");

        let impostor = ServerSpec::new(chain.clone(), other_key.clone());
        let (events, _, _) = handshake(&s, &impostor);
        let f = failed(&events).unwrap_or_else(|| panic!("{name}: {events:?}"));
        assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{name}: {f:?}");
        assert_eq!(
            f.error,
            TlsError::from(&VerifyError::BadSignature),
            "{name}: the refusal is HandshakeOnlyVerifier's"
        );
    }
}

/// A server that offers resumption (tickets for TLS 1.3, a session cache for TLS 1.2).
fn resuming_server(chain: &[Vec<u8>], key: &[u8]) -> Arc<rustls::ServerConfig> {
    let base = server_config(&ServerSpec::new(chain.to_vec(), key.to_vec())).unwrap();
    let mut cfg = (*base).clone();
    cfg.send_tls13_tickets = 2;
    Arc::new(cfg)
}

/// Two handshakes against a server that offers resumption: the second is a full handshake
/// for every setting. Control: a rustls client with resumption on *does* resume against
/// the same server, so the check can fail.
#[test]
fn no_setting_resumes_a_session() {
    let (chain, key) = expired_self_signed();
    let server_cfg = resuming_server(&chain, &key);
    for (name, s) in variants() {
        for round in 0..2 {
            let mut server = ServerConnection::new(Arc::clone(&server_cfg)).unwrap();
            let mut client = TlsPump::with_tls(&s, Some("mx.example")).unwrap();
            let ex = do_handshake(&mut client, &mut server);
            assert!(established(&ex.events).is_some(), "{name}: {:?}", ex.events);
            assert_eq!(
                server.handshake_kind(),
                Some(HandshakeKind::Full),
                "{name}, handshake {round}"
            );
        }
    }
    let provider = ring();
    for version in [TLS13, TLS12] {
        let control = Arc::new(
            ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[version])
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(HandshakeOnlyVerifier::new(&provider)))
                .with_no_client_auth(),
        );
        let kinds: Vec<_> = (0..2)
            .map(|_| {
                let mut server = ServerConnection::new(Arc::clone(&server_cfg)).unwrap();
                let name = ServerName::try_from("mx.example").unwrap();
                let mut client = ClientConnection::new(Arc::clone(&control), name).unwrap();
                let ex = do_handshake(&mut client, &mut server);
                assert!(ex.events.iter().all(Result::is_ok), "{:?}", ex.events);
                server.handshake_kind()
            })
            .collect();
        assert_eq!(
            kinds,
            [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)],
            "control {version:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Protocol versions

#[test]
fn injected_versions_are_the_ones_negotiated() {
    let (chain, key) = expired_self_signed();
    let both = ServerSpec::new(chain, key);
    for (versions, expected) in [
        (&[TLS13][..], "TLSv1.3"),
        (&[TLS12][..], "TLSv1.2"),
        (&[TLS12, TLS13][..], "TLSv1.3"),
    ] {
        let (events, _, _) = handshake(&settings(versions), &both);
        let info = established(&events).unwrap_or_else(|| panic!("{versions:?}: {events:?}"));
        assert_eq!(info.version, expected);
    }
}

/// Only TLS 1.3 allowed, against the TLS-1.2-only test server.
///
/// - The ClientHello offers TLS 1.3 only: the server refuses it as not offering 1.2
///   (`Tls12NotOfferedOrEnabled`) and sends the `protocol_version` alert. The client reports
///   that alert as `handshake-failed`, as for every alert (an alert is one unauthenticated
///   byte, see `tls::classify`): it cannot prove a limit of this client.
/// - When the TLS 1.2 server's ServerHello does reach the client (here: the one it sends to
///   a client offering 1.2), the client itself refuses TLS 1.2, which rustls names
///   (`ServerTlsVersionIsDisabledByOurConfig`): `client-unsupported`.
/// - Control: the default settings complete TLS 1.2 with that server.
#[test]
fn tls13_only_refuses_a_tls12_only_server() {
    let (chain, key) = expired_self_signed();
    let spec = ServerSpec::new(chain, key).with_versions(Versions::Tls12Only);
    let only13 = settings(&[TLS13]);

    let (events, server_error, _) = handshake(&only13, &spec);
    assert_eq!(
        server_error,
        Some(rustls::Error::PeerIncompatible(
            PeerIncompatible::Tls12NotOfferedOrEnabled
        ))
    );
    let f = failed(&events).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
    assert_eq!(f.error, protocol_version(), "{f:?}");

    let mut server = server_connection(&spec).unwrap();
    let mut offers12 = TlsPump::new(Some("mx.example")).unwrap();
    server_feed(&mut server, &offers12.take_outgoing()).unwrap();
    let tls12_server_hello = server_outgoing(&mut server);
    let mut client = TlsPump::with_tls(&only13, Some("mx.example")).unwrap();
    assert!(!client.take_outgoing().is_empty());
    let events = client.feed(&tls12_server_hello);
    let f = failed(&events).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(f.kind, TlsFailureKind::ClientUnsupported, "{f:?}");
    assert_eq!(
        f.error,
        TlsError::PeerIncompatible {
            rustls: "ServerTlsVersionIsDisabledByOurConfig".into()
        },
        "{f:?}"
    );

    let (events, _, _) = handshake(&TlsSettings::default(), &spec);
    assert_eq!(
        established(&events).map(|i| i.version.as_str()),
        Some("TLSv1.2")
    );
}

/// [`ConnectionIo::with_tls`] (what `Driver` makes per connection) uses its settings.
#[test]
fn connection_io_uses_its_settings() {
    let (chain, key) = expired_self_signed();
    let spec = ServerSpec::new(chain, key).with_versions(Versions::Tls12Only);
    let conn = ConnId(1);
    let run = |io: ConnectionIo| {
        let mut client = IoClient {
            io,
            conn,
            pending: Vec::new(),
        };
        client.pending = client.io.start_tls(Some("mx.example")).unwrap();
        let mut server = server_connection(&spec).unwrap();
        do_handshake(&mut client, &mut server).events
    };
    let inputs = run(ConnectionIo::with_tls(settings(&[TLS13])));
    assert!(
        matches!(&inputs[..], [OwnedInput::TlsFailed { conn: c, error }]
            if *c == conn && error.error == protocol_version()),
        "{inputs:?}"
    );
    let inputs = run(ConnectionIo::new());
    assert!(
        matches!(&inputs[..], [OwnedInput::TlsEstablished { info, .. }] if info.version == "TLSv1.2"),
        "{inputs:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Time source

/// A time source that counts how often rustls asks it.
#[derive(Debug, Default)]
struct Counted(AtomicUsize);

impl TimeProvider for Counted {
    fn current_time(&self) -> Option<UnixTime> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            1_900_000_000,
        )))
    }
}

/// A time source that has no time.
#[derive(Debug)]
struct NoTime;

impl TimeProvider for NoTime {
    fn current_time(&self) -> Option<UnixTime> {
        None
    }
}

/// rustls asks the injected time source, and only it: a source without a time makes the
/// handshake fail (there is no fallback to the system clock).
#[test]
fn rustls_asks_the_injected_time_source() {
    let (chain, key) = expired_self_signed();
    let spec = ServerSpec::new(chain, key);
    for version in [TLS13, TLS12] {
        let counted = Arc::new(Counted::default());
        let s = TlsSettings::new(ring(), &[version], Arc::clone(&counted) as _).unwrap();
        let (events, _, _) = handshake(&s, &spec);
        assert!(established(&events).is_some(), "{events:?}");
        assert!(counted.0.load(Ordering::SeqCst) > 0, "{version:?}");

        let none = TlsSettings::new(ring(), &[version], Arc::new(NoTime)).unwrap();
        let (events, _, _) = handshake(&none, &spec);
        let f = failed(&events).unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
        assert_eq!(
            f.error,
            TlsError::from(&rustls::Error::FailedToGetCurrentTime)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Through both runtimes

fn connection_reasons(report: &Report) -> Vec<(ConnectionVerdict, Option<Reason>)> {
    report
        .hosts
        .iter()
        .flat_map(|h| &h.connections)
        .map(|c| (c.verdict, c.reason.clone()))
        .collect()
}

/// Scenario X09 (a TLS-1.2-only server with DANE-EE) served live: with the default settings
/// both runtimes verify it, with TLS 1.3 only both report the server's refusal. So
/// `run_with` reaches the handshake in either runtime.
#[test]
fn both_runtimes_hand_the_settings_to_their_connections() {
    let s = catalogue::all()
        .into_iter()
        .find(|s| s.id == "X09")
        .unwrap();
    let port = s.world.smtp_port();
    let world = LiveWorld::start(&s.world, Ipv4Addr::new(127, 21, 200, 0), port)
        .unwrap_or_else(|e| panic!("cannot serve X09 on port {port} (root needed): {e}"));
    let config = s.live_config(world.resolver_addr());
    let now = daneel_tokio::system_clock().origin();
    let check = || SmtpCheck::new(config.clone(), Seed(9), now).unwrap();
    let only13 = settings(&[TLS13]);

    let (report, _) = daneel_tokio::run_blocking(check(), daneel_tokio::system_clock()).unwrap();
    assert!(s.expected.mismatches(&report).is_empty(), "{report:?}");
    assert_eq!(report.verdict.as_str(), "dane-verified");

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runs = [
        tokio.block_on(daneel_tokio::run_with(
            check(),
            daneel_tokio::system_clock(),
            only13.clone(),
        )),
        smol::block_on(daneel_smol::run_with(
            check(),
            daneel_smol::system_clock(),
            only13,
        )),
    ];
    for (runtime, (report, _)) in ["tokio", "smol"].into_iter().zip(runs) {
        assert_eq!(report.verdict.as_str(), "dane-failed", "{runtime}");
        let reasons = connection_reasons(&report);
        assert!(!reasons.is_empty(), "{runtime}: {report:?}");
        for (verdict, reason) in reasons {
            assert_eq!(verdict, ConnectionVerdict::DaneFailed, "{runtime}");
            assert!(
                reason
                    == Some(Reason::HandshakeFailed {
                        error: protocol_version()
                    }),
                "{runtime}: {reason:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// aws-lc-rs (cargo feature `aws-lc-rs`)

#[cfg(feature = "aws-lc-rs")]
fn aws_lc_rs_settings() -> TlsSettings {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    TlsSettings::new(provider, &[TLS13, TLS12], Arc::new(FixedTime)).unwrap()
}

/// A full handshake with the aws-lc-rs provider (the test server keeps *ring*), in both
/// versions and through `ConnectionIo`, with the chain back as presented.
#[cfg(feature = "aws-lc-rs")]
#[test]
fn aws_lc_rs_provider_completes_a_handshake() {
    let s = aws_lc_rs_settings();
    assert_eq!(format!("{:?}", s.provider().secure_random), "AwsLcRs");
    let (chain, key) = expired_self_signed();
    for (versions, expected) in [
        (Versions::Tls13Only, "TLSv1.3"),
        (Versions::Tls12Only, "TLSv1.2"),
    ] {
        let spec = ServerSpec::new(chain.clone(), key.clone()).with_versions(versions);
        let (events, server_error, server) = handshake(&s, &spec);
        assert!(server_error.is_none(), "{server_error:?}");
        let info = established(&events).unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(info.version, expected);
        assert_eq!(info.chain, chain);
        assert_eq!(server.server_name(), Some("mx.example"));

        let mut client = IoClient {
            io: ConnectionIo::with_tls(s.clone()),
            conn: ConnId(3),
            pending: Vec::new(),
        };
        client.pending = client.io.start_tls(Some("mx.example")).unwrap();
        let mut server = server_connection(&spec).unwrap();
        let inputs = do_handshake(&mut client, &mut server).events;
        assert!(
            matches!(&inputs[..], [OwnedInput::TlsEstablished { info, .. }] if info.version == expected),
            "{inputs:?}"
        );
    }
}
