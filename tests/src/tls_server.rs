//! In-memory TLS servers that present any chain (RFC 8446, RFC 5246), driven without sockets
//! in the manner of rustls-test's `server_feed`/`server_outgoing`: a client's bytes go in with
//! [`server_feed`], the server's come out with [`server_outgoing`].
//!
//! The server is a real `rustls::ServerConnection` with the *ring* provider. Its certificate
//! comes from a custom [`ResolvesServerCert`], so it presents chains that
//! `with_single_cert` would refuse: X.509 v1 leaves, chains in odd orders, a leaf whose key is
//! not the signing key. It picks a chain by the SNI it received (RFC 6066 sec. 3), falling
//! back to the default chain.
//!
//! ```no_run
//! use daneel_tests::tls_server::{server_connection, server_feed, server_outgoing, ServerSpec};
//! # let (chain, key_der): (Vec<Vec<u8>>, Vec<u8>) = (vec![], vec![]);
//! # let client_hello: Vec<u8> = vec![];
//! let mut server = server_connection(&ServerSpec::new(chain, key_der)).unwrap();
//! let _plaintext = server_feed(&mut server, &client_hello);
//! let _server_flight = server_outgoing(&mut server);
//! ```

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};

/// Protocol versions a test server accepts (both when `None` in [`ServerSpec::versions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// TLS 1.2 only (RFC 5246).
    Tls12Only,
    /// TLS 1.3 only (RFC 8446).
    Tls13Only,
}

/// A chain (leaf first, DER) and the key that signs the handshake (DER: PKCS#8, PKCS#1 or
/// SEC1). The key need not match the leaf: that is how a server that does not hold its
/// certificate's key is simulated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainAndKey {
    /// Certificates as presented, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The signing key.
    pub key_der: Vec<u8>,
}

/// What an in-memory TLS server presents and accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// The default chain, leaf first (DER), presented exactly as given.
    pub chain: Vec<Vec<u8>>,
    /// The key that signs the handshake for the default chain.
    pub key_der: Vec<u8>,
    /// Protocol versions; `None` means TLS 1.2 and 1.3.
    pub versions: Option<Versions>,
    /// Per-SNI chains: when the client's SNI equals the name (ASCII case-insensitively),
    /// this chain and key are used instead of the default.
    pub sni_chains: Vec<(String, ChainAndKey)>,
}

impl ServerSpec {
    /// A server presenting `chain` signed with `key_der`, TLS 1.2 and 1.3, no SNI chains.
    pub fn new(chain: Vec<Vec<u8>>, key_der: Vec<u8>) -> Self {
        ServerSpec {
            chain,
            key_der,
            versions: None,
            sni_chains: Vec::new(),
        }
    }

    /// The same server restricted to `versions`.
    pub fn with_versions(mut self, versions: Versions) -> Self {
        self.versions = Some(versions);
        self
    }

    /// The same server with an extra chain for SNI `name`.
    pub fn with_sni_chain(mut self, name: &str, chain: Vec<Vec<u8>>, key_der: Vec<u8>) -> Self {
        self.sni_chains
            .push((name.to_owned(), ChainAndKey { chain, key_der }));
        self
    }
}

/// Picks the certified key by SNI.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_name: Vec<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello.server_name().and_then(|sni| {
            self.by_name
                .iter()
                .find(|(name, _)| name.trim_end_matches('.').eq_ignore_ascii_case(sni))
                .map(|(_, ck)| Arc::clone(ck))
        });
        Some(chosen.unwrap_or_else(|| Arc::clone(&self.default)))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certified_key(
    provider: &CryptoProvider,
    chain: &[Vec<u8>],
    key_der: &[u8],
) -> Result<Arc<CertifiedKey>, rustls::Error> {
    let key = PrivateKeyDer::try_from(key_der.to_vec())
        .map_err(|e| rustls::Error::General(format!("test server key: {e}")))?;
    let signer = provider.key_provider.load_private_key(key)?;
    let certs = chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    Ok(Arc::new(CertifiedKey::new(certs, signer)))
}

/// Builds the server configuration for `spec` (shareable between connections, as in the
/// benchmarks). Errors only for an unusable key.
pub fn server_config(spec: &ServerSpec) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = provider();
    let default = certified_key(&provider, &spec.chain, &spec.key_der)?;
    let by_name = spec
        .sni_chains
        .iter()
        .map(|(name, ck)| {
            Ok((
                name.clone(),
                certified_key(&provider, &ck.chain, &ck.key_der)?,
            ))
        })
        .collect::<Result<Vec<_>, rustls::Error>>()?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match spec.versions {
        None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some(Versions::Tls12Only) => &[&rustls::version::TLS12],
        Some(Versions::Tls13Only) => &[&rustls::version::TLS13],
    };
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { default, by_name }));
    // No tickets: the client never resumes anyway, and this keeps the flights minimal.
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

/// A fresh server connection for `spec`.
pub fn server_connection(spec: &ServerSpec) -> Result<ServerConnection, rustls::Error> {
    ServerConnection::new(server_config(spec)?)
}

/// The SNI the server received, if any (RFC 6066 sec. 3).
pub fn seen_sni(server: &ServerConnection) -> Option<String> {
    server.server_name().map(str::to_owned)
}

/// Feeds client bytes to the server, processes them and returns the application data they
/// carried (drained as it goes, so any amount fits rustls's 16 KiB plaintext buffer). On
/// error the server has queued its alert (take it with [`server_outgoing`]).
pub fn server_feed(
    server: &mut ServerConnection,
    mut bytes: &[u8],
) -> Result<Vec<u8>, rustls::Error> {
    let mut plaintext = Vec::new();
    while !bytes.is_empty() {
        match server.read_tls(&mut bytes) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(rustls::Error::General(e.to_string())),
        }
        server.process_new_packets()?;
        plaintext.extend_from_slice(&server_read(server));
    }
    Ok(plaintext)
}

/// The bytes the server wants to send.
pub fn server_outgoing(server: &mut ServerConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while server.wants_write() {
        match server.write_tls(&mut out) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

/// Queues application data on the server; returns the records to deliver to the client.
pub fn server_write(server: &mut ServerConnection, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = plaintext;
    while !rest.is_empty() {
        // rustls accepts at most its send-buffer limit (64 KiB) before the records are taken.
        let n = server.writer().write(rest).unwrap_or(0);
        rest = &rest[n..];
        let flushed = server_outgoing(server);
        if n == 0 && flushed.is_empty() {
            break;
        }
        out.extend_from_slice(&flushed);
    }
    out
}

/// Reads the plaintext the server has received and not yet returned.
pub fn server_read(server: &mut ServerConnection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match server.reader().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}
