//! DANE in your own rustls connection (RFC 7672 sec. 3): a `rustls::ClientConnection` built by
//! `DaneVerifier` talks to a `rustls::ServerConnection` in the same process, whose
//! certificate rcgen just made. Once with a TLSA set that matches the server's key (the
//! handshake completes) and once with one that does not (it fails, with the DANE reason).
//!
//! `cargo run -p daneel-core --example rustls_dane`
//!
//! In real use the TLSA records and their DNSSEC status come from your own DNS lookup of
//! `_25._tcp.<mx host>`, and the bytes go over your socket instead of the in-memory pump.

use std::sync::Arc;

use daneel_core::dane::{
    dane_rejection, record_for, DaneOutcome, DaneVerifier, DigestPrefs, TlsaSet, UsagePolicy,
};
use daneel_core::dns::Security;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConnection, ServerConfig, ServerConnection};

/// A server certificate and key, as a mail server would have.
fn server_identity(name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

/// Moves TLS records between the two ends until neither has more to say.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..10 {
        let mut wire = Vec::new();
        client.write_tls(&mut wire).expect("client write");
        server.read_tls(&mut &wire[..]).expect("server read");
        if server.process_new_packets().is_err() {
            // The server saw our alert; the client's error says why.
        }
        let mut wire = Vec::new();
        server.write_tls(&mut wire).expect("server write");
        client.read_tls(&mut &wire[..]).expect("client read");
        client.process_new_packets()?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    Ok(())
}

fn connect(
    records: Vec<daneel_core::dane::TlsaRecord>,
    server_config: Arc<ServerConfig>,
) -> Result<(), Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The set as your DNS gave it, secure (AD=1 from a validating resolver you trust).
    let set = TlsaSet::new(records, &UsagePolicy::smtp(), &DigestPrefs::default());
    let verifier = Arc::new(DaneVerifier::smtp(
        set,
        Security::Secure,
        vec!["mx.example.net".into()],
        &provider,
    )?);
    // Your clock: certificate dates count under DANE-TA (RFC 7672 sec. 3.1.2). This program
    // is the embedder, not daneel's core, so it may read the system clock.
    #[allow(clippy::disallowed_types)]
    let clock = Arc::new(rustls::time_provider::DefaultTimeProvider);
    let mut client = verifier.client_connection(provider, clock)?;
    let mut server = ServerConnection::new(server_config)?;
    match pump(&mut client, &mut server) {
        Ok(()) => {
            if let Some(DaneOutcome::Matched(m)) = verifier.outcome() {
                println!(
                    "  authenticated: {} matched at depth {}",
                    m.record.to_text(),
                    m.depth
                );
            }
            Ok(())
        }
        Err(e) => {
            match dane_rejection(&e) {
                Some(rejected) => println!("  refused: {rejected}"),
                None => println!("  handshake failed: {e}"),
            }
            Err(e.into())
        }
    }
}

fn main() {
    let (cert, key) = server_identity("mx.example.net");
    let server_config = Arc::new(
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config"),
    );
    let matching = record_for(&cert, 3, 1, 1).expect("a TLSA record");
    println!("TLSA {} (the server's key):", matching.to_text());
    assert!(connect(vec![matching], server_config.clone()).is_ok());

    let (other, _) = server_identity("mx.example.net");
    let stale = record_for(&other, 3, 1, 1).expect("a TLSA record");
    println!("TLSA {} (another key):", stale.to_text());
    assert!(connect(vec![stale], server_config).is_err());
}
