//! TLS for the machines: the caller's [`TlsSettings`] (crypto provider, protocol versions,
//! time source) and the rustls client configurations built from them, the handshake-only
//! verifier (internal; its refusals are [`VerifyError`]) that every configuration has, and the sans-IO `TlsPump` that both
//! runtimes and the simulated driver use (DESIGN.md section 3).
//!
//! The handshake checks only that the server holds the key of the certificate it presented;
//! the trust decision is [`crate::dane::verify()`], made by the machine on
//! [`crate::machine::Input::TlsEstablished`] before any application byte is sent.

internal! {
    mod danger;
    mod pump;
}
mod settings;

pub use danger::{leaf_spki, verify_error, VerifyError, MAX_RSA_BITS, MIN_RSA_BITS};
internal!(
    use pump::{ConnectionIo, Decoded, PumpEvent, TlsPump, MAX_READ_CHUNK};
);
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

/// Why a handshake did not complete. Reads the `detail` string that transcripts of formats
/// 1 and 2 held in place of `error`, as [`TlsError::Recorded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TlsFailureWire")]
pub struct TlsFailure {
    /// The class of failure.
    pub kind: TlsFailureKind,
    /// What failed, as rustls, daneel's verifier or the connection named it.
    pub error: TlsError,
}

/// The forms a [`TlsFailure`] is read from.
#[derive(Deserialize)]
struct TlsFailureWire {
    kind: TlsFailureKind,
    error: Option<TlsError>,
    detail: Option<String>,
}

impl From<TlsFailureWire> for TlsFailure {
    fn from(wire: TlsFailureWire) -> Self {
        TlsFailure {
            kind: wire.kind,
            error: wire.error.unwrap_or(TlsError::Recorded {
                detail: wire.detail.unwrap_or_default(),
            }),
        }
    }
}

/// What made a handshake fail: the name rustls gives it, the error of daneel's handshake
/// verifier ([`VerifyError`]), or what the connection did. Data only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "tls")]
pub enum TlsError {
    /// The server sent a fatal alert (RFC 8446 sec. 6.2), by rustls's name for it, e.g.
    /// `ProtocolVersion`, `HandshakeFailure`.
    Alert {
        /// rustls's `AlertDescription`.
        alert: String,
    },
    /// rustls named a local incompatibility (`PeerIncompatible`), e.g.
    /// `ServerTlsVersionIsDisabledByOurConfig`.
    PeerIncompatible {
        /// rustls's name.
        rustls: String,
    },
    /// rustls found the server in breach of the protocol (`PeerMisbehaved`).
    PeerMisbehaved {
        /// rustls's name.
        rustls: String,
    },
    /// rustls could not decode a message (`InvalidMessage`).
    InvalidMessage {
        /// rustls's name.
        rustls: String,
    },
    /// Another rustls error, by its name.
    Rustls {
        /// rustls's name (its `Debug` form).
        rustls: String,
    },
    /// The leaf certificate does not parse as X.509 DER (RFC 5280 sec. 4.1).
    LeafUnparsable,
    /// The leaf's SubjectPublicKeyInfo is malformed (RFC 5280 sec. 4.1.2.7).
    SpkiMalformed,
    /// The leaf's RSA key has a size this client cannot verify with.
    RsaKeySize {
        /// The modulus length in bits.
        bits: usize,
    },
    /// The server signed with a scheme this client does not implement (RFC 8446 sec. 4.2.3).
    UnsupportedScheme {
        /// rustls's name of the scheme, e.g. `RSA_PKCS1_SHA1`.
        scheme: String,
    },
    /// No algorithm for the signature scheme fits the leaf's key type.
    SchemeKeyMismatch {
        /// rustls's name of the scheme.
        scheme: String,
    },
    /// The handshake signature does not verify with the leaf's key.
    BadSignature,
    /// The connection closed during the handshake (TCP EOF, no alert).
    Closed,
    /// The SNI name is not a DNS name (RFC 6066 sec. 3); nothing was sent.
    InvalidSni {
        /// The name.
        name: String,
    },
    /// STARTTLS was asked on a connection that is not in plaintext.
    NotPlaintext,
    /// Reading TLS records or plaintext failed.
    Read {
        /// The description of the I/O error.
        message: String,
    },
    /// Recorded by a version that described failures in prose (transcript formats 1 and 2).
    Recorded {
        /// The recorded description.
        detail: String,
    },
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use danger::{MAX_RSA_BITS, MIN_RSA_BITS};
        match self {
            TlsError::Alert { alert } => write!(f, "the server sent the fatal TLS alert {alert}"),
            TlsError::PeerIncompatible { rustls } => write!(f, "peer is incompatible: {rustls}"),
            TlsError::PeerMisbehaved { rustls } => write!(f, "peer misbehaved: {rustls}"),
            TlsError::InvalidMessage { rustls } => {
                write!(f, "received corrupt message of type {rustls}")
            }
            TlsError::Rustls { rustls } => write!(f, "rustls: {rustls}"),
            TlsError::LeafUnparsable => f.write_str("leaf certificate does not parse"),
            TlsError::SpkiMalformed => f.write_str("leaf SubjectPublicKeyInfo is malformed"),
            TlsError::RsaKeySize { bits } => write!(
                f,
                "RSA key of {bits} bits is unsupported (needs {MIN_RSA_BITS}..={MAX_RSA_BITS})"
            ),
            TlsError::UnsupportedScheme { scheme } => {
                write!(f, "unsupported signature scheme {scheme}")
            }
            TlsError::SchemeKeyMismatch { scheme } => {
                write!(f, "signature scheme {scheme} does not fit the leaf's key")
            }
            TlsError::BadSignature => {
                f.write_str("handshake signature does not verify with the leaf's key")
            }
            TlsError::Closed => f.write_str("connection closed during the TLS handshake"),
            TlsError::InvalidSni { name } => write!(f, "invalid SNI name {name:?}"),
            TlsError::NotPlaintext => {
                f.write_str("STARTTLS on a connection that is not in plaintext")
            }
            TlsError::Read { message } => write!(f, "TLS read: {message}"),
            TlsError::Recorded { detail } => f.write_str(detail),
        }
    }
}

impl From<&danger::VerifyError> for TlsError {
    fn from(e: &danger::VerifyError) -> Self {
        use danger::VerifyError;
        match e {
            VerifyError::LeafUnparsable => TlsError::LeafUnparsable,
            VerifyError::SpkiMalformed => TlsError::SpkiMalformed,
            VerifyError::RsaKeySize { bits } => TlsError::RsaKeySize { bits: *bits },
            VerifyError::UnsupportedScheme(s) => TlsError::UnsupportedScheme {
                scheme: format!("{s:?}"),
            },
            VerifyError::SchemeKeyMismatch(s) => TlsError::SchemeKeyMismatch {
                scheme: format!("{s:?}"),
            },
            VerifyError::BadSignature => TlsError::BadSignature,
        }
    }
}

impl From<&Error> for TlsError {
    fn from(err: &Error) -> Self {
        if let Some(v) = danger::verify_error(err) {
            return v.into();
        }
        match err {
            Error::AlertReceived(alert) => TlsError::Alert {
                alert: format!("{alert:?}"),
            },
            Error::PeerIncompatible(p) => TlsError::PeerIncompatible {
                rustls: format!("{p:?}"),
            },
            Error::PeerMisbehaved(p) => TlsError::PeerMisbehaved {
                rustls: format!("{p:?}"),
            },
            Error::InvalidMessage(m) => TlsError::InvalidMessage {
                rustls: format!("{m:?}"),
            },
            other => TlsError::Rustls {
                rustls: format!("{other:?}"),
            },
        }
    }
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
        write!(f, "{}", self.error)
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
///   [`VerifyError::RsaKeySize`] / [`VerifyError::UnsupportedScheme`].
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
        TlsFailure {
            kind: classify(err),
            error: err.into(),
        }
    }

    /// The connection closed during the handshake (TCP EOF, no alert).
    pub fn closed() -> Self {
        TlsFailure {
            kind: TlsFailureKind::Closed,
            error: TlsError::Closed,
        }
    }

    /// A failure of this client's own making, before or outside the handshake proper.
    pub fn handshake(error: TlsError) -> Self {
        TlsFailure {
            kind: TlsFailureKind::HandshakeFailed,
            error,
        }
    }
}
