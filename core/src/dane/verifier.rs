//! [`DaneVerifier`]: DANE for a TLS connection the embedder owns. Mail software that already
//! has its sockets, its DNS and rustls plugs DANE into its own `rustls::ClientConnection`
//! without running any daneel machine:
//!
//! 1. look up the TLSA RRset at `_<port>._tcp.<base domain>` with the embedder's own DNS, and
//!    its DNSSEC status (RFC 7672 sec. 2.2: only a secure RRset counts);
//! 2. build the verifier with [`DaneVerifier::smtp`] (RFC 7672: DANE-TA(2) and DANE-EE(3)
//!    only) or [`DaneVerifier::srv`] (RFC 7673: all four usages, PKIX-TA(0) and PKIX-EE(1)
//!    with a Web PKI trust store);
//! 3. connect with [`DaneVerifier::client_connection`]: SNI = the TLSA base domain (RFC 7672
//!    sec. 8.1), no session resumption, no early data, this verifier.
//!
//! The decision is [`super::verify()`] (or [`super::verify_with_pkix`]) on the chain as
//! presented; the handshake signature is checked against the leaf's key exactly as daneel's
//! own connections do (the crate's handshake-only verifier), so a DANE-EE(3) match proves key
//! possession. There is no fallback: a set with no usable record is refused when the
//! verifier is built, never turned into Web PKI validation, and a chain that matches no
//! record fails the handshake with [`DaneRejected`].
//!
//! One verifier per connection (CRATES-NOTES 1): it remembers the outcome of its connection
//! ([`DaneVerifier::outcome`]), and rustls resumes sessions only across configurations with
//! the identical verifier `Arc`, which [`DaneVerifier::client_config`] rules out anyway by
//! disabling resumption (a resumed session would skip the certificate check).

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, Error, SignatureScheme};

use super::pkix::{verify_with_pkix, PkixTrustStore};
use super::tlsa::{TlsaEntry, TlsaSet};
use super::verify::{verify, DaneFailure, DaneOutcome, VerifyParams};
use crate::dns::Security;
use crate::time::Timestamp;
use crate::tls::danger::{certificate_error, certificate_error_of, HandshakeOnlyVerifier};

/// Why a [`DaneVerifier`] could not be built: DANE does not apply, and the caller must not
/// pretend it does (RFC 7672 sec. 2.2; RFC 7673 sec. 4.1 says what applies instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifierError {
    /// The TLSA RRset is not secure (RFC 7672 sec. 2.2: an insecure RRset is as if absent; a
    /// bogus or indeterminate one means the host must not be used, sec. 2.2 (a)).
    NotSecure(Security),
    /// No record of the set is usable for this protocol (RFC 7672 sec. 3.1.3: PKIX-TA(0) and
    /// PKIX-EE(1) are unusable for SMTP; RFC 6698 sec. 4.1).
    NoUsableRecords,
    /// No reference identifier: the first one is the TLSA base domain, sent as SNI.
    NoReferenceIds,
    /// The TLSA base domain is not a valid SNI name (RFC 6066 sec. 3).
    InvalidServerName(String),
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifierError::NotSecure(s) => write!(f, "the TLSA RRset is {s}, not secure"),
            VerifierError::NoUsableRecords => f.write_str("no usable TLSA record"),
            VerifierError::NoReferenceIds => f.write_str("no reference identifier"),
            VerifierError::InvalidServerName(n) => write!(f, "{n:?} is not a valid SNI name"),
        }
    }
}

impl std::error::Error for VerifierError {}

/// The chain matched no usable TLSA record (RFC 7672 sec. 3.2): the reason the handshake
/// failed, inside `rustls::CertificateError::Other` (find it with [`dane_rejection`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneRejected(pub DaneFailure);

impl fmt::Display for DaneRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DANE authentication failed: {}", self.0)
    }
}

impl std::error::Error for DaneRejected {}

/// The [`DaneRejected`] inside a rustls error, if a [`DaneVerifier`] refused the chain.
pub fn dane_rejection(err: &Error) -> Option<&DaneRejected> {
    certificate_error_of(err)
}

/// A rustls [`ServerCertVerifier`] that authenticates the server by DANE (see the module
/// documentation).
#[derive(Debug)]
pub struct DaneVerifier {
    set: TlsaSet,
    reference_ids: Vec<String>,
    pkix: Option<PkixTrustStore>,
    handshake: HandshakeOnlyVerifier,
    outcome: Mutex<Option<DaneOutcome>>,
}

impl DaneVerifier {
    /// For SMTP (RFC 7672): `set` is the TLSA RRset with its DNSSEC status `security`;
    /// `reference_ids` are the names a DANE-TA(2) certificate may carry, the TLSA base domain
    /// first (it is also the SNI, sec. 8.1), then the next-hop domain when the MX RRset is
    /// secure (sec. 3.2.2). Only DANE-TA(2) and DANE-EE(3) records count (sec. 3.1.3).
    pub fn smtp(
        set: TlsaSet,
        security: Security,
        reference_ids: Vec<String>,
        provider: &CryptoProvider,
    ) -> Result<Self, VerifierError> {
        // RFC 7672 sec. 3.1.3: PKIX usages are unusable for SMTP, whatever the set says.
        let entries = set
            .entries
            .into_iter()
            .filter(|e| e.record.usage >= 2)
            .collect();
        Self::build(TlsaSet { entries }, security, reference_ids, None, provider)
    }

    /// For a service found through SRV records (RFC 7673 sec. 4.1-4.2): all four usages;
    /// PKIX-TA(0) and PKIX-EE(1) also need a Web PKI path to `trust_store`. The reference
    /// identifiers are the TLSA base domain (first, the SNI) and the service domain.
    pub fn srv(
        set: TlsaSet,
        security: Security,
        reference_ids: Vec<String>,
        trust_store: PkixTrustStore,
        provider: &CryptoProvider,
    ) -> Result<Self, VerifierError> {
        Self::build(set, security, reference_ids, Some(trust_store), provider)
    }

    fn build(
        set: TlsaSet,
        security: Security,
        reference_ids: Vec<String>,
        pkix: Option<PkixTrustStore>,
        provider: &CryptoProvider,
    ) -> Result<Self, VerifierError> {
        if security != Security::Secure {
            return Err(VerifierError::NotSecure(security));
        }
        if !set.entries.iter().any(|e: &TlsaEntry| e.unusable.is_none()) {
            return Err(VerifierError::NoUsableRecords);
        }
        let Some(base) = reference_ids.first() else {
            return Err(VerifierError::NoReferenceIds);
        };
        server_name(base)?;
        Ok(DaneVerifier {
            set,
            reference_ids,
            pkix,
            handshake: HandshakeOnlyVerifier::new(provider),
            outcome: Mutex::new(None),
        })
    }

    /// The outcome of the last certificate check: which record matched at which depth, or
    /// why none did. `None` before the handshake reached the certificate.
    pub fn outcome(&self) -> Option<DaneOutcome> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }

    /// The TLSA base domain, sent as SNI (RFC 7672 sec. 8.1).
    pub fn base_domain(&self) -> &str {
        &self.reference_ids[0]
    }

    /// A client configuration for one connection: this verifier, no session resumption, no
    /// early data (nothing may be sent before the chain is authenticated, and a resumed
    /// session would skip the check), SNI on. `time` is the clock certificate dates are
    /// judged by (DANE-TA and PKIX paths; DANE-EE ignores dates, RFC 7672 sec. 3.1.1): the
    /// embedder's, e.g. `rustls::time_provider::DefaultTimeProvider`; daneel's core never
    /// reads the clock itself.
    pub fn client_config(
        self: &Arc<Self>,
        provider: Arc<CryptoProvider>,
        time: Arc<dyn TimeProvider>,
    ) -> Result<ClientConfig, Error> {
        let mut config = ClientConfig::builder_with_details(provider, time)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config.enable_early_data = false;
        config.enable_sni = true;
        Ok(config)
    }

    /// A client connection with [`DaneVerifier::client_config`] and SNI = the TLSA base
    /// domain; drive it over the embedder's own socket.
    pub fn client_connection(
        self: &Arc<Self>,
        provider: Arc<CryptoProvider>,
        time: Arc<dyn TimeProvider>,
    ) -> Result<ClientConnection, Error> {
        let name = server_name(self.base_domain()).map_err(|e| Error::General(e.to_string()))?;
        ClientConnection::new(Arc::new(self.client_config(provider, time)?), name)
    }
}

/// The SNI form of a domain name: no trailing dot (RFC 6066 sec. 3).
fn server_name(name: &str) -> Result<ServerName<'static>, VerifierError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    ServerName::try_from(trimmed.to_string())
        .map_err(|_| VerifierError::InvalidServerName(name.to_string()))
}

impl ServerCertVerifier for DaneVerifier {
    /// RFC 7672 sec. 3 (or RFC 7673 sec. 4 for [`DaneVerifier::srv`]) on the chain as
    /// presented, judged at `now`. `server_name` is not used: the reference identifiers were
    /// given when the verifier was built.
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let chain: Vec<Vec<u8>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        let params = VerifyParams {
            reference_ids: &self.reference_ids,
            now: Timestamp::from_unix_secs(now.as_secs()),
        };
        let outcome = match &self.pkix {
            None => verify(&chain, &self.set, &params),
            Some(store) => verify_with_pkix(&chain, &self.set, &params, store),
        };
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(outcome.clone());
        }
        match outcome {
            DaneOutcome::Matched(_) => Ok(ServerCertVerified::assertion()),
            DaneOutcome::Failed(failure) => Err(certificate_error(DaneRejected(failure))),
        }
    }

    /// The `ServerKeyExchange` signature against the leaf's key (RFC 5246 sec. 7.4.3).
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.handshake.verify_tls12_signature(message, cert, dss)
    }

    /// The `CertificateVerify` signature against the leaf's key (RFC 8446 sec. 4.4.3).
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.handshake.verify_tls13_signature(message, cert, dss)
    }

    /// The provider's schemes (RFC 8446 sec. 4.2.3).
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.handshake.supported_verify_schemes()
    }
}
