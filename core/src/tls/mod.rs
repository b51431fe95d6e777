//! TLS for the machines: the rustls client configuration, the handshake-only verifier
//! ([`danger`]), and the sans-IO [`TlsPump`] that both runtimes and the simulated driver use
//! (DESIGN.md section 3).
//!
//! The handshake checks only that the server holds the key of the certificate it presented;
//! the trust decision is [`crate::dane::verify`], made by the machine on
//! [`crate::machine::Input::TlsEstablished`] before any application byte is sent.

pub mod danger;
mod pump;

pub use pump::{ConnectionIo, Decoded, TlsPump};

use serde::{Deserialize, Serialize};

/// What a completed handshake tells the machine (RFC 7672 sec. 8.1: SNI; RFC 8446/5246).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// The protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The SNI name the client sent, if any.
    pub sni: Option<String>,
    /// The certificate chain as presented, leaf first, DER.
    #[serde(with = "crate::hex::serde_chain")]
    pub chain: Vec<Vec<u8>>,
}

/// Why a handshake did not complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFailure {
    /// The class of failure.
    pub kind: TlsFailureKind,
    /// Details (the rustls error or alert), for the report.
    pub detail: String,
}

/// Classes of handshake failure. `ClientUnsupported` is kept apart because it is a limit of
/// this client (rustls refuses TLS 1.0/1.1, RSA keys below 2048 bits, SHA-1 signatures),
/// not a DANE failure of the server (DESIGN.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFailureKind {
    /// The server only offers what rustls does not implement.
    ClientUnsupported,
    /// The handshake failed for another reason (alert, bad message, bad signature).
    HandshakeFailed,
    /// The connection closed during the handshake.
    Closed,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.detail)
    }
}
