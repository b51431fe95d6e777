//! TLS for the machines: the caller's [`TlsSettings`] (crypto provider, protocol versions,
//! time source) and the rustls client configurations built from them, the handshake-only
//! verifier ([`danger`]) that every configuration has, and the sans-IO [`TlsPump`] that both
//! runtimes and the simulated driver use (DESIGN.md section 3).
//!
//! The handshake checks only that the server holds the key of the certificate it presented;
//! the trust decision is [`crate::dane::verify()`], made by the machine on
//! [`crate::machine::Input::TlsEstablished`] before any application byte is sent.

pub mod danger;
mod pump;
mod settings;

pub use danger::leaf_spki;
pub use pump::{ConnectionIo, Decoded, PumpEvent, TlsPump, MAX_READ_CHUNK};
pub use settings::{TlsSettings, TlsSettingsError};

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use rustls::{Error, PeerIncompatible};
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

/// The time rustls is told by default (`1970-01-01T00:00:00Z` plus this many seconds).
///
/// The core never reads the clock; a caller may inject another time source through
/// [`TlsSettings::new`]. rustls asks its [`TimeProvider`] for the time only to pass
/// it to the certificate verifier (which ignores it: dates are for `dane::verify` to judge,
/// RFC 7672 sec. 3.1.1 and 3.1.2) and for session tickets (resumption is disabled). A constant
/// keeps the handshake independent of the wall clock.
pub const FIXED_UNIX_TIME: u64 = 0;

/// A [`TimeProvider`] that always returns [`FIXED_UNIX_TIME`] (see its doc for why).
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedTime;

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            FIXED_UNIX_TIME,
        )))
    }
}

/// Classifies a rustls error raised during the handshake (see [`TlsFailureKind`]).
///
/// [`TlsFailureKind::ClientUnsupported`] only when rustls itself names a local
/// incompatibility, i.e. it saw what the server chose and this client cannot do it:
/// - `PeerIncompatible`: a ServerHello for a version below TLS 1.2 (RFC 8996), no shared
///   cipher suite, group or signature scheme, a missing required extension;
/// - an RSA key below 2048 bits, or a signature scheme without SHA-2 (SHA-1, MD5):
///   [`danger::VerifyError::RsaKeySize`] / [`danger::VerifyError::UnsupportedScheme`].
///
/// A fatal alert *from the server* is [`TlsFailureKind::HandshakeFailed`], whatever its
/// description: it is one unauthenticated byte (RFC 8446 sec. 6.2, RFC 5246 sec. 7.2) that
/// an on-path attacker can send as easily as the server, so it cannot prove a limit of
/// this client; counting it as client-unsupported would let anyone turn a DANE host's
/// failure into "not tested". Under policy `dane` it is therefore a DANE failure
/// (RFC 7672 sec. 2.2 (a)). `handshake_failure` and `protocol_version` are what a server
/// that only speaks TLS 1.0/1.1 or SHA-1 answers our ClientHello with; such a server is
/// reported as `handshake-failed` with the alert named.
///
/// Observed (`tests/tests/tls_pump.rs`, OpenSSL 3.0 `s_server`, rustls 0.23):
///
/// | server | rustls error | kind |
/// |---|---|---|
/// | `-tls1` or `-tls1_1` only | `AlertReceived(ProtocolVersion)` | handshake-failed |
/// | TLS 1.2, `-sigalgs RSA+SHA1` | `AlertReceived(HandshakeFailure)` | handshake-failed |
/// | a TLS 1.0 ServerHello (hand-made) | `PeerIncompatible(..)` | client-unsupported |
/// | RSA-1024 leaf, TLS 1.2 or 1.3 | `VerifyError::RsaKeySize{bits: 1024}` (ours; rustls/webpki alone would say `BadSignature`) | client-unsupported |
/// | signing key is not the leaf's key | `VerifyError::BadSignature` / `SchemeKeyMismatch` | handshake-failed |
/// | leaf is not X.509 | `VerifyError::LeafUnparsable` | handshake-failed |
/// | garbage bytes | `InvalidMessage(InvalidContentType / MessageTooLarge / MissingData(..))` | handshake-failed |
///
/// Everything else (bad signatures, malformed messages, alerts) is
/// [`TlsFailureKind::HandshakeFailed`]. [`TlsFailureKind::Closed`] is never returned here: it
/// comes from EOF, not from a rustls error.
pub fn classify(err: &Error) -> TlsFailureKind {
    use danger::VerifyError;
    if let Some(v) = danger::verify_error(err) {
        return match v {
            VerifyError::RsaKeySize { .. } | VerifyError::UnsupportedScheme(_) => {
                TlsFailureKind::ClientUnsupported
            }
            _ => TlsFailureKind::HandshakeFailed,
        };
    }
    match err {
        Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::NoCipherSuitesInCommon
            | PeerIncompatible::NoKxGroupsInCommon
            | PeerIncompatible::NoSignatureSchemesInCommon
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::ExtendedMasterSecretExtensionRequired,
        ) => TlsFailureKind::ClientUnsupported,
        _ => TlsFailureKind::HandshakeFailed,
    }
}

impl TlsFailure {
    /// A failure from a rustls error, classified with [`classify`].
    pub fn from_rustls(err: &Error) -> Self {
        let detail = match (danger::verify_error(err), err) {
            (Some(v), _) => v.to_string(),
            (None, Error::AlertReceived(alert)) => {
                format!("the server sent the fatal TLS alert {alert:?}")
            }
            (None, _) => err.to_string(),
        };
        TlsFailure {
            kind: classify(err),
            detail,
        }
    }

    /// The connection closed during the handshake (TCP EOF, no alert).
    pub fn closed() -> Self {
        TlsFailure {
            kind: TlsFailureKind::Closed,
            detail: "connection closed during the TLS handshake".into(),
        }
    }
}
