//! The sans-IO TLS pump against in-memory rustls servers and, for what rustls cannot serve
//! (TLS 1.0/1.1, RSA-1024, SHA-1 signatures), against `openssl s_server` on loopback.

#[path = "support/tls_exchange.rs"]
mod tls_exchange;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daneel_core::machine::{ConnId, OwnedInput};
use daneel_core::tls::{
    classify, leaf_spki, ConnectionIo, PumpEvent, TlsError, TlsFailure, TlsFailureKind, TlsInfo,
    TlsPump,
};
use daneel_tests::pki::{self, fixtures, KeyKind, LeafSpec, Pki};
use daneel_tests::tls_server::{
    seen_sni, server_connection, server_feed, server_outgoing, server_read, server_write,
    ServerSpec, Versions,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SignatureAlgorithm};
use tls_exchange::{do_handshake, established, failed, IoClient};

// ---------------------------------------------------------------------------------------
// Certificates

/// A leaf (self-signed) for `mx.example` with a fresh key of `alg`: (chain, key PKCS#8 DER).
fn self_signed(alg: &'static SignatureAlgorithm) -> (Vec<Vec<u8>>, Vec<u8>) {
    let key = KeyPair::generate_for(alg).unwrap();
    let cert = CertificateParams::new(vec!["mx.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (vec![cert.der().to_vec()], key.serialize_der())
}

/// root → leaf, both `alg`; returns (leaf+root chain, leaf key DER).
fn rooted(alg: &'static SignatureAlgorithm) -> (Vec<Vec<u8>>, Vec<u8>) {
    let root_key = KeyPair::generate_for(alg).unwrap();
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();
    let issuer = rcgen::Issuer::new(root_params, root_key);
    let leaf_key = KeyPair::generate_for(alg).unwrap();
    let leaf = CertificateParams::new(vec!["mx.example".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (
        vec![leaf.der().to_vec(), root.der().to_vec()],
        leaf_key.serialize_der(),
    )
}

/// Whether `openssl` is there for `test`; under `CI=true` its absence fails the test.
fn openssl_available(test: &str) -> bool {
    daneel_tests::tool::available("openssl", test)
}

/// A fresh directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daneel-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `der` as PEM with `label` into `dir/name`; returns the path.
fn write_pem(dir: &Path, name: &str, label: &str, der: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pki::pem_encode(label, der)).unwrap();
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------
// In-memory handshakes

/// Handshakes with `spec`; returns the client's TlsInfo and the server.
fn handshake(spec: &ServerSpec, sni: Option<&str>) -> (TlsInfo, rustls::ServerConnection, TlsPump) {
    let mut server = server_connection(spec).unwrap();
    let mut client = TlsPump::new(sni).unwrap();
    let ex = do_handshake(&mut client, &mut server);
    assert!(
        ex.server_error.is_none(),
        "server error {:?}",
        ex.server_error
    );
    let info = established(&ex.events)
        .unwrap_or_else(|| panic!("no handshake: {:?}", ex.events))
        .clone();
    assert!(client.is_established());
    assert!(!server.is_handshaking());
    (info, server, client)
}

fn check_versions(chain: Vec<Vec<u8>>, key: Vec<u8>) {
    for (versions, name) in [
        (Versions::Tls13Only, "TLSv1.3"),
        (Versions::Tls12Only, "TLSv1.2"),
    ] {
        let spec = ServerSpec::new(chain.clone(), key.clone()).with_versions(versions);
        let (info, _, _) = handshake(&spec, Some("mx.example"));
        assert_eq!(info.version, name);
        assert_eq!(info.chain, chain, "chain returned exactly as presented");
        assert_eq!(info.sni.as_deref(), Some("mx.example"));
        if name == "TLSv1.3" {
            assert!(info.cipher.starts_with("TLS13_"), "{}", info.cipher);
        } else {
            assert!(info.cipher.starts_with("TLS_ECDHE_"), "{}", info.cipher);
        }
    }
}

#[test]
fn ecdsa_p256_tls13_and_tls12() {
    let (chain, key) = rooted(&rcgen::PKCS_ECDSA_P256_SHA256);
    check_versions(chain, key);
}

#[test]
fn ecdsa_p384_tls13_and_tls12() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P384_SHA384);
    check_versions(chain, key);
}

#[test]
fn ed25519_tls13_and_tls12() {
    let (chain, key) = rooted(&rcgen::PKCS_ED25519);
    check_versions(chain, key);
}

#[test]
fn rsa2048_tls13_and_tls12() {
    let pki = Pki::new("tls-rsa");
    let leaf = pki.issue_leaf(
        pki.root(),
        LeafSpec::new(["mx.example"]).key(KeyKind::Rsa2048),
    );
    check_versions(leaf.chain_with(&[pki.root()]), leaf.key_der);
}

#[test]
fn default_cipher_is_aes256_gcm_on_tls13() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (info, _, _) = handshake(&ServerSpec::new(chain, key), None);
    assert_eq!(info.version, "TLSv1.3");
    assert_eq!(info.cipher, "TLS13_AES_256_GCM_SHA384");
}

#[test]
fn x509_v1_leaf_completes_through_the_raw_key_path() {
    let (der, key) = fixtures::v1_self_signed();
    // It is a v1 certificate (no [0] version field) that webpki refuses.
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(parsed.version(), x509_parser::x509::X509Version::V1);
    assert!(webpki_refuses(&der));
    check_versions(vec![der], key);
}

#[test]
fn leaf_spki_is_what_dane_hashes_for_selector_1() {
    let pki = Pki::new("tls-spki");
    let mut certs = vec![
        fixtures::v1_self_signed().0,
        fixtures::rsa1024_self_signed().0,
    ];
    for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519, KeyKind::Rsa2048] {
        let leaf = pki.issue_leaf(pki.root(), LeafSpec::new(["mx.example"]).key(kind));
        assert_eq!(leaf_spki(leaf.der()), Some(leaf.spki_der()));
        certs.push(leaf.der);
    }
    for der in &certs {
        assert!(leaf_spki(der).is_some());
        assert_eq!(leaf_spki(der), daneel_core::dane::verify::spki_of(der));
    }
}

fn webpki_refuses(der: &[u8]) -> bool {
    let cert = rustls::pki_types::CertificateDer::from(der.to_vec());
    rustls::server::ParsedCertificate::try_from(&cert).is_err()
}

#[test]
fn sni_sent_or_not_as_seen_by_the_server() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    for versions in [Versions::Tls13Only, Versions::Tls12Only] {
        let spec = ServerSpec::new(chain.clone(), key.clone()).with_versions(versions);
        let (info, server, _) = handshake(&spec, Some("MX.Example."));
        assert_eq!(seen_sni(&server).as_deref(), Some("mx.example"));
        assert_eq!(info.sni.as_deref(), Some("MX.Example"), "as sent");
        let (info, server, _) = handshake(&spec, None);
        assert_eq!(seen_sni(&server), None);
        assert_eq!(info.sni, None);
    }
}

#[test]
fn server_picks_chain_by_sni() {
    let (default_chain, default_key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (other_chain, other_key) = rooted(&rcgen::PKCS_ED25519);
    let spec = ServerSpec::new(default_chain.clone(), default_key).with_sni_chain(
        "mx2.example",
        other_chain.clone(),
        other_key,
    );
    assert_eq!(handshake(&spec, Some("mx2.example")).0.chain, other_chain);
    assert_eq!(handshake(&spec, Some("mx1.example")).0.chain, default_chain);
    assert_eq!(handshake(&spec, None).0.chain, default_chain);
}

#[test]
fn odd_chain_is_returned_as_presented() {
    // Root first, leaf twice, garbage-free but nonsensical order: the pump does not care.
    let (chain, key) = rooted(&rcgen::PKCS_ECDSA_P256_SHA256);
    let odd = vec![
        chain[0].clone(),
        chain[1].clone(),
        chain[0].clone(),
        chain[1].clone(),
    ];
    let (info, _, _) = handshake(&ServerSpec::new(odd.clone(), key), None);
    assert_eq!(info.chain, odd);
}

#[test]
fn key_not_matching_the_leaf_fails_the_handshake() {
    let (chain, _) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    for (other, versions) in [
        (&rcgen::PKCS_ECDSA_P256_SHA256, Versions::Tls13Only),
        (&rcgen::PKCS_ECDSA_P256_SHA256, Versions::Tls12Only),
        (&rcgen::PKCS_ED25519, Versions::Tls13Only),
        (&rcgen::PKCS_ED25519, Versions::Tls12Only),
    ] {
        let wrong_key = KeyPair::generate_for(other).unwrap().serialize_der();
        let spec = ServerSpec::new(chain.clone(), wrong_key).with_versions(versions);
        let mut server = server_connection(&spec).unwrap();
        let mut client = TlsPump::new(Some("mx.example")).unwrap();
        let ex = do_handshake(&mut client, &mut server);
        assert!(established(&ex.events).is_none());
        let f = failed(&ex.events).expect("failure");
        assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
        eprintln!("{other:?} {versions:?}: {}", f.error);
        // The client sent an alert; the server saw it.
        assert!(
            matches!(ex.server_error, Some(rustls::Error::AlertReceived(_))),
            "{:?}",
            ex.server_error
        );
    }
}

#[test]
fn unparsable_leaf_fails_the_handshake() {
    let (_, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    for versions in [Versions::Tls13Only, Versions::Tls12Only] {
        let spec = ServerSpec::new(vec![b"not a certificate".to_vec()], key.clone())
            .with_versions(versions);
        let mut server = server_connection(&spec).unwrap();
        let mut client = TlsPump::new(None).unwrap();
        let ex = do_handshake(&mut client, &mut server);
        let f = failed(&ex.events).expect("failure");
        assert_eq!(f.kind, TlsFailureKind::HandshakeFailed);
        assert_eq!(f.error, TlsError::LeafUnparsable, "{f:?}");
    }
}

#[test]
fn garbage_is_a_handshake_failure_not_a_panic() {
    let inputs: Vec<Vec<u8>> = vec![
        b"220 mx.example ESMTP ready\r\n".to_vec(),
        vec![0u8; 10],
        vec![0x16, 0x03, 0x03, 0xff, 0xff],
        vec![0x16, 0x03, 0x01, 0x00, 0x04, 2, 0, 0, 0],
        vec![0x15, 0x03, 0x03, 0x00, 0x02, 2, 40],
        (0..=255u8).cycle().take(70_000).collect(),
    ];
    for bytes in inputs {
        let mut client = TlsPump::new(Some("mx.example")).unwrap();
        let _ = client.take_outgoing();
        // Byte by byte too, to exercise partial records.
        let mut one = TlsPump::new(Some("mx.example")).unwrap();
        let mut events = Vec::new();
        for b in &bytes {
            events.extend(one.feed(std::slice::from_ref(b)));
        }
        for events in [client.feed(&bytes), events] {
            if let Some(f) = failed(&events) {
                eprintln!("garbage {:?}..: {}", &bytes[..bytes.len().min(5)], f.error);
                assert_ne!(f.kind, TlsFailureKind::Closed, "{f:?}");
            } else {
                // A prefix of a valid record: still handshaking, nothing decided.
                assert!(events.is_empty(), "{events:?}");
                assert!(bytes.len() < 10, "{bytes:?}");
            }
        }
    }
}

#[test]
fn eof_mid_handshake_is_closed() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut server = server_connection(&ServerSpec::new(chain, key)).unwrap();
    let mut io = ConnectionIo::new();
    let hello = io.start_tls(Some("mx.example")).unwrap();
    server_feed(&mut server, &hello).unwrap();
    let flight = server_outgoing(&mut server);
    // Half of the server's flight, then EOF.
    let d = io.decode(ConnId(7), &flight[..flight.len() / 2]);
    assert!(d.inputs.is_empty());
    let d = io.eof(ConnId(7));
    assert_eq!(
        d.inputs,
        vec![OwnedInput::TlsFailed {
            conn: ConnId(7),
            error: TlsFailure::closed()
        }]
    );
    assert_eq!(TlsFailure::closed().kind, TlsFailureKind::Closed);
    // Nothing more after the terminal input.
    assert_eq!(io.eof(ConnId(7)).inputs, vec![]);
}

#[test]
fn plaintext_both_ways_and_close_notify() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    for versions in [Versions::Tls13Only, Versions::Tls12Only] {
        let spec = ServerSpec::new(chain.clone(), key.clone()).with_versions(versions);
        let (_, mut server, mut client) = handshake(&spec, Some("mx.example"));
        // client → server
        let records = client.write_plaintext(b"EHLO client.example\r\n");
        assert_eq!(
            server_feed(&mut server, &records).unwrap(),
            b"EHLO client.example\r\n"
        );
        // server → client, large enough to span several records
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let records = server_write(&mut server, &big);
        let events = client.feed(&records);
        let got: Vec<u8> = events
            .iter()
            .flat_map(|e| match e {
                PumpEvent::Plaintext(p) => p.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(got == big, "{} bytes instead of {}", got.len(), big.len());
        // client → server, large
        let records = client.write_plaintext(&big);
        let got = server_feed(&mut server, &records).unwrap();
        assert!(got == big, "{} bytes instead of {}", got.len(), big.len());
        // server close_notify
        server.send_close_notify();
        let events = client.feed(&server_outgoing(&mut server));
        assert_eq!(events, vec![PumpEvent::PeerClosed]);
        assert!(!client.is_established());
        // our close_notify
        let (_, mut server, mut client) = handshake(&spec, None);
        let bye = client.close();
        server_feed(&mut server, &bye).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(
            server.reader().read(&mut buf).unwrap(),
            0,
            "clean EOF at the server"
        );
    }
}

#[test]
fn no_plaintext_leaves_before_the_handshake_completes() {
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut server = server_connection(&ServerSpec::new(chain, key)).unwrap();
    let mut io = ConnectionIo::new();
    let hello = io.start_tls(None).unwrap();
    assert!(
        io.encode(b"MAIL FROM:<a@b>\r\n").is_empty(),
        "dropped during handshake"
    );
    let mut client = IoClient {
        io,
        conn: ConnId(1),
        pending: hello,
    };
    let ex = do_handshake(&mut client, &mut server);
    assert!(matches!(ex.events[0], OwnedInput::TlsEstablished { .. }));
    assert!(ex.server_received.is_empty(), "nothing queued was flushed");
    assert!(server_read(&mut server).is_empty());
}

#[test]
fn connection_io_before_and_after_starttls() {
    let (chain, key) = self_signed(&rcgen::PKCS_ED25519);
    let mut server = server_connection(&ServerSpec::new(chain.clone(), key)).unwrap();
    let conn = ConnId(3);
    let mut io = ConnectionIo::new();
    assert!(!io.is_tls());
    // Before STARTTLS: bytes pass through both ways.
    assert_eq!(io.encode(b"STARTTLS\r\n"), b"STARTTLS\r\n");
    let d = io.decode(conn, b"220 go ahead\r\n");
    assert_eq!(
        d.inputs,
        vec![OwnedInput::Received {
            conn,
            bytes: b"220 go ahead\r\n".to_vec()
        }]
    );
    assert!(d.to_socket.is_empty());
    assert!(io.decode(conn, b"").inputs.is_empty());
    // STARTTLS.
    let hello = io.start_tls(Some("mx.example")).unwrap();
    assert_eq!(hello[0], 0x16, "a handshake record");
    assert!(io.is_tls());
    let mut client = IoClient {
        io,
        conn,
        pending: hello,
    };
    let ex = do_handshake(&mut client, &mut server);
    let info = match &ex.events[..] {
        [OwnedInput::TlsEstablished { conn: c, info }] if *c == conn => info.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(info.chain, chain);
    assert_eq!(info.sni.as_deref(), Some("mx.example"));
    let mut io = client.io;
    // After: encrypted both ways.
    let wire = io.encode(b"EHLO me\r\n");
    assert!(!wire.windows(4).any(|w| w == b"EHLO"));
    assert_eq!(server_feed(&mut server, &wire).unwrap(), b"EHLO me\r\n");
    let d = io.decode(conn, &server_write(&mut server, b"250 ok\r\n"));
    assert_eq!(
        d.inputs,
        vec![OwnedInput::Received {
            conn,
            bytes: b"250 ok\r\n".to_vec()
        }]
    );
    // STARTTLS twice is refused.
    let mut again = ConnectionIo::new();
    again.start_tls(None).unwrap();
    assert_eq!(
        again.start_tls(None).unwrap_err().kind,
        TlsFailureKind::HandshakeFailed
    );
    // close_notify from the server → Closed once; then nothing.
    server.send_close_notify();
    let d = io.decode(conn, &server_outgoing(&mut server));
    assert_eq!(d.inputs, vec![OwnedInput::Closed { conn }]);
    assert!(io.eof(conn).inputs.is_empty());
    assert!(io.decode(conn, b"more").inputs.is_empty());
}

#[test]
fn connection_io_eof_and_close() {
    let conn = ConnId(9);
    let mut plain = ConnectionIo::new();
    assert_eq!(plain.eof(conn).inputs, vec![OwnedInput::Closed { conn }]);
    assert!(plain.eof(conn).inputs.is_empty());
    let mut plain = ConnectionIo::new();
    assert!(plain.close().is_empty());
    assert!(plain.encode(b"x").is_empty(), "nothing after close");

    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut server = server_connection(&ServerSpec::new(chain, key)).unwrap();
    let mut io = ConnectionIo::new();
    let hello = io.start_tls(None).unwrap();
    let mut client = IoClient {
        io,
        conn,
        pending: hello,
    };
    do_handshake(&mut client, &mut server);
    let mut io = client.io;
    let bye = io.close();
    assert!(!bye.is_empty());
    server_feed(&mut server, &bye).unwrap();
    assert!(io.decode(conn, b"x").inputs.is_empty());
    // EOF after an established session: Closed.
    let (chain, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut server = server_connection(&ServerSpec::new(chain, key)).unwrap();
    let mut io = ConnectionIo::new();
    let hello = io.start_tls(None).unwrap();
    let mut client = IoClient {
        io,
        conn,
        pending: hello,
    };
    do_handshake(&mut client, &mut server);
    assert_eq!(
        client.io.eof(conn).inputs,
        vec![OwnedInput::Closed { conn }]
    );
}

#[test]
fn connection_io_failure_is_tls_failed_then_nothing() {
    let mut io = ConnectionIo::new();
    let _ = io.start_tls(None).unwrap();
    let d = io.decode(ConnId(2), b"garbage that is not TLS at all");
    assert!(matches!(
        &d.inputs[..],
        [OwnedInput::TlsFailed { error, .. }] if error.kind == TlsFailureKind::HandshakeFailed
    ));
    assert!(!d.to_socket.is_empty(), "an alert is sent");
    assert!(io.eof(ConnId(2)).inputs.is_empty());
}

#[test]
fn invalid_sni_is_a_failure() {
    for bad in ["", "not a name", "192.0.2.1", "a..b"] {
        let err = TlsPump::new(Some(bad)).unwrap_err();
        assert_eq!(err.kind, TlsFailureKind::HandshakeFailed, "{bad:?}");
        let mut io = ConnectionIo::new();
        assert!(io.start_tls(Some(bad)).is_err());
    }
}

#[test]
fn classify_mapping() {
    use rustls::{AlertDescription, Error, PeerIncompatible};
    let cu = TlsFailureKind::ClientUnsupported;
    let hf = TlsFailureKind::HandshakeFailed;
    // A bare alert from the server names no local incompatibility: handshake-failed.
    for alert in [
        AlertDescription::ProtocolVersion,
        AlertDescription::HandshakeFailure,
        AlertDescription::InsufficientSecurity,
    ] {
        assert_eq!(classify(&Error::AlertReceived(alert)), hf, "{alert:?}");
        let f = TlsFailure::from_rustls(&Error::AlertReceived(alert));
        assert_eq!(
            f.error,
            TlsError::Alert {
                alert: format!("{alert:?}")
            },
            "{f:?}"
        );
    }
    assert_eq!(
        classify(&Error::PeerIncompatible(
            PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
        )),
        cu
    );
    assert_eq!(
        classify(&Error::PeerIncompatible(
            PeerIncompatible::NoCipherSuitesInCommon
        )),
        cu
    );
    assert_eq!(
        classify(&Error::AlertReceived(AlertDescription::BadCertificate)),
        hf
    );
    assert_eq!(classify(&Error::DecryptError), hf);
    assert_eq!(
        classify(&Error::InvalidCertificate(
            rustls::CertificateError::BadSignature
        )),
        hf
    );
    use daneel_core::tls::danger::VerifyError;
    assert_eq!(classify(&VerifyError::RsaKeySize { bits: 1024 }.into()), cu);
    assert_eq!(
        classify(&VerifyError::UnsupportedScheme(rustls::SignatureScheme::RSA_PKCS1_SHA1).into()),
        cu
    );
    assert_eq!(classify(&VerifyError::BadSignature.into()), hf);
    assert_eq!(classify(&VerifyError::LeafUnparsable.into()), hf);
}

// ---------------------------------------------------------------------------------------
// openssl s_server: what rustls cannot serve

struct OpensslServer {
    child: Child,
    port: u16,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn s_server(cert: &str, key: &str, args: &[&str]) -> OpensslServer {
    let port = free_port();
    let accept = format!("127.0.0.1:{port}");
    let child = Command::new("openssl")
        .args([
            "s_server", "-accept", &accept, "-naccept", "1", "-cert", cert, "-key", key,
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = OpensslServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    // Wait until it listens (probing would consume -naccept 1, so check /proc instead).
    while Instant::now() < deadline && !listening(port) {
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

fn listening(port: u16) -> bool {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle))
}

/// Runs the pump over a real socket until a terminal event; returns the events.
fn drive(port: u16, sni: Option<&str>) -> Vec<PumpEvent> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut pump = TlsPump::new(sni).unwrap();
    sock.write_all(&pump.take_outgoing()).unwrap();
    let mut events = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) => panic!("socket: {e}"),
        };
        if n == 0 {
            if pump.is_handshaking() {
                events.push(PumpEvent::Failed(TlsFailure::closed()));
            }
            return events;
        }
        let new = pump.feed(&buf[..n]);
        let _ = sock.write_all(&pump.take_outgoing());
        let done = new
            .iter()
            .any(|e| matches!(e, PumpEvent::Established(_) | PumpEvent::Failed(_)));
        events.extend(new);
        if done {
            return events;
        }
    }
}

/// PEM files for openssl: the RSA-1024 fixture, or an RSA-2048 leaf from the test PKI.
fn rsa_files(dir: &Path, bits: u32) -> (String, String) {
    let (cert, key) = if bits == 1024 {
        fixtures::rsa1024_self_signed()
    } else {
        let pki = Pki::new("tls-openssl");
        let leaf = pki.issue_leaf(
            pki.root(),
            LeafSpec::new(["mx.example"]).key(KeyKind::Rsa2048),
        );
        (leaf.der, leaf.key_der)
    };
    (
        write_pem(dir, "c.pem", "CERTIFICATE", &cert),
        write_pem(dir, "k.pem", "PRIVATE KEY", &key),
    )
}

/// The failure of a fatal alert from the server, by rustls's name for it.
fn alert(name: &str) -> TlsError {
    TlsError::Alert { alert: name.into() }
}

fn expect_failure(name: &str, bits: u32, args: &[&str]) -> TlsFailure {
    let dir = scratch(name);
    let (cert, key) = rsa_files(&dir, bits);
    let server = s_server(&cert, &key, args);
    let events = drive(server.port, Some("mx.example"));
    let f = failed(&events)
        .unwrap_or_else(|| panic!("{name}: expected a failure, got {events:?}"))
        .clone();
    eprintln!("{name}: {:?} {}", f.kind, f.error);
    f
}

/// OpenSSL refuses our ClientHello with a `protocol_version` alert: an unauthenticated
/// alert, so handshake-failed with the alert named (see `classify`).
#[test]
fn openssl_tls10_only_is_an_alert() {
    if !openssl_available("openssl_tls10_only_is_an_alert") {
        return;
    }
    let f = expect_failure("tls1", 2048, &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
    assert_eq!(f.error, alert("ProtocolVersion"), "{f:?}");
}

#[test]
fn openssl_tls11_only_is_an_alert() {
    if !openssl_available("openssl_tls11_only_is_an_alert") {
        return;
    }
    let f = expect_failure(
        "tls1_1",
        2048,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
    assert_eq!(f.error, alert("ProtocolVersion"), "{f:?}");
}

#[test]
fn openssl_rsa1024_is_client_unsupported() {
    if !openssl_available("openssl_rsa1024_is_client_unsupported") {
        return;
    }
    for v in ["-tls1_3", "-tls1_2"] {
        let f = expect_failure(
            &format!("rsa1024{v}"),
            1024,
            &[v, "-cipher", "DEFAULT@SECLEVEL=0"],
        );
        assert_eq!(f.kind, TlsFailureKind::ClientUnsupported, "{v}: {f:?}");
    }
}

/// OpenSSL finds no signature scheme in common and sends `handshake_failure`: an alert,
/// so handshake-failed. (A SHA-1 signature rustls actually sees is client-unsupported:
/// `VerifyError::UnsupportedScheme` in `classify_mapping`.)
#[test]
fn openssl_sha1_only_signatures_are_an_alert() {
    if !openssl_available("openssl_sha1_only_signatures_are_an_alert") {
        return;
    }
    let f = expect_failure(
        "sha1",
        2048,
        &[
            "-tls1_2",
            "-sigalgs",
            "RSA+SHA1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ],
    );
    assert_eq!(f.kind, TlsFailureKind::HandshakeFailed, "{f:?}");
    assert_eq!(f.error, alert("HandshakeFailure"), "{f:?}");
}

/// A ServerHello that picks TLS 1.0 (RFC 2246 sec. 7.4.1.3) is a limit rustls names
/// itself (`PeerIncompatible`): client-unsupported.
#[test]
fn tls10_server_hello_is_client_unsupported() {
    let mut pump = TlsPump::new(Some("mx.example")).unwrap();
    assert!(!pump.take_outgoing().is_empty());
    // ServerHello body: version 3.1, random, empty session id,
    // TLS_RSA_WITH_AES_128_CBC_SHA, no compression, no extensions.
    let mut body = vec![0x03, 0x01];
    body.extend_from_slice(&[0x42; 32]);
    body.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    let mut hs = vec![0x02, 0x00, 0x00, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, hs.len() as u8];
    record.extend_from_slice(&hs);
    let events = pump.feed(&record);
    let f = failed(&events).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(f.kind, TlsFailureKind::ClientUnsupported, "{f:?}");
}

#[test]
fn openssl_tls12_rsa2048_works() {
    if !openssl_available("openssl_tls12_rsa2048_works") {
        return;
    }
    let dir = scratch("ok12");
    let (cert, key) = rsa_files(&dir, 2048);
    for v in ["-tls1_2", "-tls1_3"] {
        let server = s_server(&cert, &key, &[v]);
        let events = drive(server.port, None);
        let info = established(&events).unwrap_or_else(|| panic!("{v}: {events:?}"));
        eprintln!("openssl {v}: {} {}", info.version, info.cipher);
        drop(server);
    }
}
