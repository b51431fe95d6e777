//! `DaneVerifier` (issue 15): DANE inside an embedder's own rustls connection. Each case runs
//! a real TLS 1.3 or 1.2 handshake between a `rustls::ClientConnection` built by
//! `DaneVerifier::client_connection` and an in-process `rustls::ServerConnection` presenting
//! generated certificates (RFC 7672 sec. 3 for SMTP, RFC 7673 sec. 4 for SRV services).

use std::sync::Arc;

use daneel_core::dane::{
    dane_rejection, CertUsage, DaneFailureKind, DaneOutcome, DaneVerifier, DigestPrefs,
    PkixTrustStore, TlsaRecord, TlsaSet, UsagePolicy, VerifierError,
};
use daneel_core::dns::Security;
use daneel_tests::world::certs::{self_signed, server_tls, tlsa, Ca, Issued, Validity};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConnection, ServerConnection};

const BASE: &str = "mx.example.net";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The test's clock: the system's (the certificates are valid now).
fn clock() -> Arc<dyn rustls::time_provider::TimeProvider> {
    Arc::new(rustls::time_provider::DefaultTimeProvider)
}

fn set(records: Vec<TlsaRecord>) -> TlsaSet {
    TlsaSet::new(records, &UsagePolicy::all(), &DigestPrefs::default())
}

/// What a handshake ended with: the client's error, if any, and the SNI the server saw.
struct Handshake {
    client_error: Option<rustls::Error>,
    server_sni: Option<String>,
    resumed: bool,
}

/// Runs a handshake between `client` and a server presenting `chain`, in memory, until both
/// sides stop or one fails; then sends one application record each way when it succeeded.
fn handshake(client: ClientConnection, chain: &[&Issued]) -> Handshake {
    handshake_with(client, server_tls(chain).config().expect("server config"))
}

/// [`handshake`] with a server configuration shared across connections (for resumption).
fn handshake_with(mut client: ClientConnection, config: Arc<rustls::ServerConfig>) -> Handshake {
    let mut server = ServerConnection::new(config).expect("server connection");
    let mut client_error = None;
    for _ in 0..20 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        if !buf.is_empty() {
            server.read_tls(&mut &buf[..]).unwrap();
            if server.process_new_packets().is_err() {
                break;
            }
        }
        let mut buf = Vec::new();
        server.write_tls(&mut buf).unwrap();
        if !buf.is_empty() {
            client.read_tls(&mut &buf[..]).unwrap();
            if let Err(e) = client.process_new_packets() {
                client_error = Some(e);
                break;
            }
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    if client_error.is_none() {
        assert!(!client.is_handshaking(), "the handshake did not finish");
        // What the server sends after its handshake (TLS 1.3 session tickets).
        let mut buf = Vec::new();
        server.write_tls(&mut buf).unwrap();
        client.read_tls(&mut &buf[..]).unwrap();
        client.process_new_packets().unwrap();
        use std::io::Write;
        client
            .writer()
            .write_all(b"EHLO daneel.invalid\r\n")
            .unwrap();
    }
    Handshake {
        client_error,
        server_sni: server.server_name().map(str::to_string),
        resumed: client.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    }
}

fn smtp(records: Vec<TlsaRecord>) -> Arc<DaneVerifier> {
    Arc::new(
        DaneVerifier::smtp(
            set(records),
            Security::Secure,
            vec![BASE.into()],
            &provider(),
        )
        .expect("a usable secure set"),
    )
}

/// DANE-EE(3) SPKI SHA-256 matching the server's key: the handshake completes, SNI is the
/// TLSA base domain (RFC 7672 sec. 8.1), and the outcome names the record.
#[test]
fn dane_ee_match_completes_the_handshake() {
    let leaf = self_signed(&["unrelated.example.org"]);
    let verifier = smtp(vec![tlsa(3, 1, 1, &leaf)]);
    let result = handshake(
        verifier.client_connection(provider(), clock()).unwrap(),
        &[&leaf],
    );
    assert!(result.client_error.is_none(), "{:?}", result.client_error);
    assert_eq!(result.server_sni.as_deref(), Some(BASE));
    match verifier.outcome() {
        Some(DaneOutcome::Matched(m)) => {
            assert_eq!(m.record.cert_usage(), CertUsage::DaneEe);
            assert_eq!(m.depth, 0);
        }
        other => panic!("{other:?}"),
    }
}

/// A DANE-EE record for another key: the handshake fails with the typed DANE failure, never
/// a Web PKI fallback (RFC 7672 sec. 3.2).
#[test]
fn dane_ee_mismatch_fails_the_handshake() {
    let leaf = self_signed(&[BASE]);
    let other = self_signed(&[BASE]);
    let verifier = smtp(vec![tlsa(3, 1, 1, &other)]);
    let result = handshake(
        verifier.client_connection(provider(), clock()).unwrap(),
        &[&leaf],
    );
    let err = result.client_error.expect("the handshake must fail");
    let rejected = dane_rejection(&err).expect("a DANE rejection");
    assert_eq!(rejected.0.kind, DaneFailureKind::NoMatch);
    assert!(matches!(verifier.outcome(), Some(DaneOutcome::Failed(_))));
}

/// DANE-TA(2): the issuing CA matches; the leaf must name a reference identifier (RFC 7672
/// sec. 3.2.2). Naming the base domain passes, naming something else fails.
#[test]
fn dane_ta_checks_the_reference_identifiers() {
    let root = Ca::root("verifier test root");
    let good = root.leaf(&[BASE], Validity::Current);
    let wrong = root.leaf(&["elsewhere.example.org"], Validity::Current);
    let records = vec![tlsa(2, 0, 1, &root.cert)];
    let ok = smtp(records.clone());
    let result = handshake(
        ok.client_connection(provider(), clock()).unwrap(),
        &[&good, &root.cert],
    );
    assert!(result.client_error.is_none(), "{:?}", result.client_error);
    let bad = smtp(records);
    let result = handshake(
        bad.client_connection(provider(), clock()).unwrap(),
        &[&wrong, &root.cert],
    );
    let err = result.client_error.expect("a name mismatch fails");
    assert_eq!(
        dane_rejection(&err).map(|r| r.0.kind),
        Some(DaneFailureKind::NameMismatch)
    );
}

/// No DANE without a usable secure set: an insecure or bogus RRset, a set of PKIX usages
/// only for SMTP (RFC 7672 sec. 3.1.3), and no reference identifier are refused when the
/// verifier is built.
#[test]
fn a_set_that_is_not_usable_is_refused_when_building() {
    let leaf = self_signed(&[BASE]);
    for security in [Security::Insecure, Security::Bogus, Security::Indeterminate] {
        let built = DaneVerifier::smtp(
            set(vec![tlsa(3, 1, 1, &leaf)]),
            security,
            vec![BASE.into()],
            &provider(),
        );
        assert_eq!(built.err(), Some(VerifierError::NotSecure(security)));
    }
    let pkix_only = DaneVerifier::smtp(
        set(vec![tlsa(1, 1, 1, &leaf), tlsa(0, 1, 1, &leaf)]),
        Security::Secure,
        vec![BASE.into()],
        &provider(),
    );
    assert_eq!(pkix_only.err(), Some(VerifierError::NoUsableRecords));
    let unknown_matching = TlsaRecord::new(3, 1, 9, vec![0; 32]);
    let unusable = DaneVerifier::smtp(
        set(vec![unknown_matching]),
        Security::Secure,
        vec![BASE.into()],
        &provider(),
    );
    assert_eq!(unusable.err(), Some(VerifierError::NoUsableRecords));
    let nameless = DaneVerifier::smtp(
        set(vec![tlsa(3, 1, 1, &leaf)]),
        Security::Secure,
        Vec::new(),
        &provider(),
    );
    assert_eq!(nameless.err(), Some(VerifierError::NoReferenceIds));
}

/// SRV services (RFC 7673 sec. 4.2): a PKIX-EE(1) record counts, with a Web PKI path to the
/// trust store and the service domain among the reference identifiers; without a path to
/// the store it fails.
#[test]
fn pkix_ee_for_an_srv_service_needs_the_trust_store() {
    let root = Ca::root("verifier pkix root");
    let leaf = root.leaf(&["example.com"], Validity::Current);
    let ids = vec!["imap.example.net".to_string(), "example.com".to_string()];
    let anchors = PkixTrustStore::Anchors(vec![root.cert.der.to_vec()]);
    let trusted = Arc::new(
        DaneVerifier::srv(
            set(vec![tlsa(1, 1, 1, &leaf)]),
            Security::Secure,
            ids.clone(),
            anchors,
            &provider(),
        )
        .unwrap(),
    );
    let result = handshake(
        trusted.client_connection(provider(), clock()).unwrap(),
        &[&leaf, &root.cert],
    );
    assert!(result.client_error.is_none(), "{:?}", result.client_error);
    assert_eq!(result.server_sni.as_deref(), Some("imap.example.net"));
    let untrusted = Arc::new(
        DaneVerifier::srv(
            set(vec![tlsa(1, 1, 1, &leaf)]),
            Security::Secure,
            ids,
            PkixTrustStore::WebPkiRoots,
            &provider(),
        )
        .unwrap(),
    );
    let result = handshake(
        untrusted.client_connection(provider(), clock()).unwrap(),
        &[&leaf, &root.cert],
    );
    let err = result.client_error.expect("no path to the embedded roots");
    assert!(dane_rejection(&err).is_some(), "{err:?}");
}

/// The configuration never resumes: a second connection with the same verifier does a full
/// handshake, so the certificate is checked every time. The same configuration with
/// resumption switched back on does resume here, so the harness can see a resumption.
#[test]
fn connections_never_resume() {
    let leaf = self_signed(&[BASE]);
    let verifier = smtp(vec![tlsa(3, 1, 1, &leaf)]);
    let config = verifier.client_config(provider(), clock()).unwrap();
    let mut control = config.clone();
    control.resumption = rustls::client::Resumption::in_memory_sessions(8);
    let server = server_tls(&[&leaf]).config().unwrap();
    for (config, resumes) in [(config, false), (control, true)] {
        let config = Arc::new(config);
        let kinds: Vec<bool> = (0..2)
            .map(|_| {
                let client =
                    ClientConnection::new(config.clone(), BASE.try_into().unwrap()).unwrap();
                let result = handshake_with(client, server.clone());
                assert!(result.client_error.is_none());
                result.resumed
            })
            .collect();
        assert_eq!(kinds, [false, resumes], "resumption {resumes}");
    }
}

/// The embedder's clock decides certificate dates under DANE-TA (RFC 7672 sec. 3.1.2): the
/// same chain that passes today fails at a time after the leaf's expiry, and DANE-EE, which
/// ignores dates (sec. 3.1.1), passes at that time too.
#[test]
fn the_embedders_clock_judges_dane_ta_dates() {
    #[derive(Debug)]
    struct In2040;
    impl rustls::time_provider::TimeProvider for In2040 {
        fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
            Some(rustls::pki_types::UnixTime::since_unix_epoch(
                std::time::Duration::from_secs(2_208_988_800),
            ))
        }
    }
    let root = Ca::root("verifier dates root");
    let leaf = root.leaf(&[BASE], Validity::Current);
    let later: Arc<dyn rustls::time_provider::TimeProvider> = Arc::new(In2040);
    let ta = smtp(vec![tlsa(2, 0, 1, &root.cert)]);
    let result = handshake(
        ta.client_connection(provider(), later.clone()).unwrap(),
        &[&leaf, &root.cert],
    );
    let err = result.client_error.expect("expired in 2040");
    assert_eq!(
        dane_rejection(&err).map(|r| r.0.kind),
        Some(DaneFailureKind::Expired)
    );
    let ee = smtp(vec![tlsa(3, 1, 1, &leaf)]);
    let result = handshake(
        ee.client_connection(provider(), later).unwrap(),
        &[&leaf, &root.cert],
    );
    assert!(result.client_error.is_none(), "{:?}", result.client_error);
}
