//! A whole in-memory TLS 1.3 handshake through daneel's [`TlsPump`] (handshake-only verifier on
//! the leaf's SPKI), next to a bare rustls client with rustls's WebPKI verifier trusting the
//! test root (the lower bound), both against the same in-memory rustls server with an ECDSA
//! P-256 leaf. The server's work (its key exchange and signature) is included in both.
//!
//! The WebPKI client also verifies the root's signature on the leaf and the name, so it does
//! one ECDSA verification more than the pump (which checks only the handshake signature and
//! leaves the chain to `dane::verify`): "lower bound" is the rustls floor for a *validating*
//! client, and the pump came out below it. Measured 2026-11-29 on the shared 2-core box
//! (release, ring): pump ~582 µs, bare rustls+WebPKI ~782 µs per full handshake (both sides).
//!
//! Run: `cargo bench -p daneel --bench handshake`.

#[path = "../tests/support/tls_exchange.rs"]
mod tls_exchange;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use daneel_core::tls::{PumpEvent, TlsPump};
use daneel_tests::pki::{KeyKind, LeafSpec, Pki};
use daneel_tests::tls_server::{server_config, ServerSpec, Versions};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};
use tls_exchange::do_handshake;

fn handshakes(c: &mut Criterion) {
    let pki = Pki::new("bench");
    let leaf = pki.issue_leaf(
        pki.root(),
        LeafSpec::new(["mx.example"]).key(KeyKind::EcdsaP256),
    );
    let chain = leaf.chain_with(&[]);
    let spec = ServerSpec::new(chain, leaf.key_der.clone()).with_versions(Versions::Tls13Only);
    let server_cfg = server_config(&spec).unwrap();

    let mut group = c.benchmark_group("tls13_handshake_ecdsa_p256");

    group.bench_function("daneel_pump", |b| {
        b.iter(|| {
            let mut server = ServerConnection::new(Arc::clone(&server_cfg)).unwrap();
            let mut client = TlsPump::new(Some("mx.example")).unwrap();
            let ex = do_handshake(&mut client, &mut server);
            assert!(matches!(ex.events.first(), Some(PumpEvent::Established(_))));
            black_box(ex)
        })
    });

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.root().cert.der.clone()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut webpki_cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    webpki_cfg.resumption = rustls::client::Resumption::disabled();
    let webpki_cfg = Arc::new(webpki_cfg);
    let name = ServerName::try_from("mx.example").unwrap();

    group.bench_function("bare_rustls_webpki", |b| {
        b.iter(|| {
            let mut server = ServerConnection::new(Arc::clone(&server_cfg)).unwrap();
            let mut client = ClientConnection::new(Arc::clone(&webpki_cfg), name.clone()).unwrap();
            let ex = do_handshake(&mut client, &mut server);
            assert!(ex.events.is_empty() && !client.is_handshaking());
            black_box(ex)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = handshakes
}
criterion_main!(benches);
