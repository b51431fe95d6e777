//! The handshake-only certificate verifier: it proves key possession and decides nothing
//! about trust (RFC 8446 sec. 4.4.3, RFC 5246 sec. 7.4.3; RFC 7672 sec. 3.1).
//!
//! # Why this is safe
//!
//! [`HandshakeOnlyVerifier::verify_server_cert`] accepts every certificate chain that
//! parses: it returns [`ServerCertVerified::assertion`] without looking at names, dates,
//! issuers or trust anchors. That is sound **only** because of what happens next:
//!
//! 1. the chain goes back to the machine, exactly as presented, in
//!    [`crate::tls::TlsInfo::chain`] with [`crate::machine::Input::TlsEstablished`];
//! 2. the machine decides with [`crate::dane::verify()`] (RFC 7672 sec. 3) and, when that fails,
//!    closes the connection;
//! 3. **no application byte is sent before that decision**: the machine emits no
//!    [`crate::machine::Action::Send`] between `StartTls` and its verdict, and
//!    `encode` refuses (drops) plaintext while the handshake is in
//!    progress, so rustls can never flush early data queued before the verdict. The pump
//!    offers no early data (0-RTT) and no resumption ([`crate::tls::TlsSettings`], which always installs this verifier).
//!
//! What this verifier *does* check is that the server holds the private key of the leaf it
//! presented: the `ServerKeyExchange` signature (TLS 1.2, RFC 5246 sec. 7.4.3) or the
//! `CertificateVerify` signature (TLS 1.3, RFC 8446 sec. 4.4.3) is verified against the
//! leaf's SubjectPublicKeyInfo. Without this, DANE-EE(3) SPKI matching would be worthless:
//! anyone could replay the server's certificate.
//!
//! # The raw-key path
//!
//! rustls's own helpers (`verify_tls12_signature`, `verify_tls13_signature`) parse the leaf
//! with webpki, which rejects X.509 v1 certificates and unknown critical extensions. DANE-EE
//! (RFC 7672 sec. 3.1.1) does not care about the certificate around the key, so the leaf is
//! parsed with x509-parser, its SubjectPublicKeyInfo is taken with [`leaf_spki`] (the very
//! bytes that [`crate::dane::verify()`] hashes for selector 1, RFC 6698 sec. 2.1.2), and the
//! signature is checked against that key:
//!
//! - TLS 1.3: [`rustls::crypto::verify_tls13_signature_with_raw_key`];
//! - TLS 1.2: every webpki algorithm the provider maps to `dss.scheme` whose
//!   `public_key_alg_id()` equals the SPKI's AlgorithmIdentifier is tried with
//!   [`SignatureVerificationAlgorithm::verify_signature`] (webpki's own TLS 1.2 logic, without
//!   the certificate parser).
//!
//! Failures are typed ([`VerifyError`], carried in a rustls
//! `CertificateError::Other`) so that [`crate::tls::classify`] can tell a key rustls cannot
//! use (RSA below 2048 bits: a limit of this client) from a signature that is wrong.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature_with_raw_key, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};
use rustls_pki_types::SignatureVerificationAlgorithm;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// The smallest RSA modulus the ring provider verifies with (its `RSA_*_2048_8192_*`
/// algorithms); smaller keys are a limit of this client, not a wrong signature.
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus the ring provider verifies with.
pub const MAX_RSA_BITS: usize = 8192;

/// The leaf's SubjectPublicKeyInfo: the same function [`crate::dane::verify()`] hashes for
/// TLSA selector SPKI(1) (RFC 6698 sec. 2.1.2), so the key that signed the handshake is the
/// key that matched the TLSA record.
pub use crate::dane::verify::spki_of as leaf_spki;

/// Why the verifier refused a handshake signature (carried in
/// `rustls::CertificateError::Other`; see [`crate::tls::classify`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The leaf certificate does not parse as X.509 DER (RFC 5280 sec. 4.1).
    LeafUnparsable,
    /// The leaf's SubjectPublicKeyInfo is not a well-formed `SEQUENCE { AlgorithmIdentifier,
    /// BIT STRING }` (RFC 5280 sec. 4.1.2.7).
    SpkiMalformed,
    /// The leaf has an RSA key this client cannot verify with (fewer than [`MIN_RSA_BITS`]
    /// or more than [`MAX_RSA_BITS`] bits).
    RsaKeySize {
        /// The modulus length in bits.
        bits: usize,
    },
    /// The server signed with a scheme this client does not implement (RFC 8446 sec.
    /// 4.2.3), e.g. `rsa_pkcs1_sha1`.
    UnsupportedScheme(SignatureScheme),
    /// No algorithm for the signature scheme fits the leaf's key type (e.g. an ECDSA
    /// signature with an RSA key).
    SchemeKeyMismatch(SignatureScheme),
    /// The signature does not verify with the leaf's key: the server does not hold it.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", super::TlsError::from(self))
    }
}

impl std::error::Error for VerifyError {}

impl From<VerifyError> for Error {
    fn from(e: VerifyError) -> Self {
        certificate_error(e)
    }
}

/// Finds our [`VerifyError`] inside a rustls error, if it came from this verifier.
pub fn verify_error(err: &Error) -> Option<&VerifyError> {
    certificate_error_of(err)
}

/// A verifier's own typed error as the rustls error a verifier returns
/// (`CertificateError::Other`).
pub(crate) fn certificate_error(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

/// The verifier's typed error of type `E` inside a rustls error, if that is where it came
/// from.
pub(crate) fn certificate_error_of<E: std::error::Error + 'static>(err: &Error) -> Option<&E> {
    match err {
        Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<E>()
        }
        _ => None,
    }
}

/// A [`ServerCertVerifier`] that checks handshake signatures only (see the module doc for
/// why that is safe in daneel).
#[derive(Debug)]
pub struct HandshakeOnlyVerifier {
    algs: WebPkiSupportedAlgorithms,
}

impl HandshakeOnlyVerifier {
    /// A verifier using the signature algorithms of `provider` (RFC 8446 sec. 4.2.3).
    pub fn new(provider: &rustls::crypto::CryptoProvider) -> Self {
        HandshakeOnlyVerifier {
            algs: provider.signature_verification_algorithms,
        }
    }

    /// Checks that the leaf's key is one this client can use and returns its SPKI.
    fn usable_spki<'a>(&self, leaf: &'a [u8]) -> Result<&'a [u8], VerifyError> {
        let (rest, cert) =
            X509Certificate::from_der(leaf).map_err(|_| VerifyError::LeafUnparsable)?;
        if !rest.is_empty() {
            return Err(VerifyError::LeafUnparsable);
        }
        let spki = &cert.tbs_certificate.subject_pki;
        if let Ok(PublicKey::RSA(rsa)) = spki.parsed() {
            let bits = rsa.key_size();
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(VerifyError::RsaKeySize { bits });
            }
        }
        Ok(spki.raw)
    }

    fn mapped(
        &self,
        scheme: SignatureScheme,
    ) -> Result<&'static [&'static dyn SignatureVerificationAlgorithm], VerifyError> {
        self.algs
            .mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, algs)| *algs)
            .ok_or(VerifyError::UnsupportedScheme(scheme))
    }
}

/// Splits a DER SubjectPublicKeyInfo into the *contents* of its AlgorithmIdentifier and the
/// key bits (BIT STRING contents with no unused bits), as webpki's `public_key_alg_id()` and
/// `verify_signature(public_key, ..)` expect them (RFC 5280 sec. 4.1.2.7; X.690 sec. 8.6).
fn split_spki(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (inner, rest) = der_tlv(spki, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (alg, rest) = der_tlv(inner, 0x30)?;
    let (bits, rest) = der_tlv(rest, 0x03)?;
    if !rest.is_empty() {
        return None;
    }
    match bits.split_first() {
        Some((0, key)) => Some((alg, key)),
        _ => None,
    }
}

/// Reads one DER TLV with the expected single-byte `tag`; returns (contents, rest).
fn der_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, input) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, input) = input.split_first()?;
    let (len, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || input.len() < n {
            return None;
        }
        let (len_bytes, input) = input.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, input)
    };
    if input.len() < len {
        return None;
    }
    Some(input.split_at(len))
}

impl ServerCertVerifier for HandshakeOnlyVerifier {
    /// Accepts any chain whose leaf parses; trust is decided later by
    /// [`crate::dane::verify()`] (RFC 7672 sec. 3), see the module doc.
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if leaf_spki(end_entity).is_none() {
            return Err(VerifyError::LeafUnparsable.into());
        }
        Ok(ServerCertVerified::assertion())
    }

    /// Verifies the `ServerKeyExchange` signature (RFC 5246 sec. 7.4.3) against the leaf's
    /// SPKI, trying each algorithm mapped to `dss.scheme` that fits the key type.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let spki = self.usable_spki(cert)?;
        let algs = self.mapped(dss.scheme)?;
        let (alg_id, key) = split_spki(spki).ok_or(VerifyError::SpkiMalformed)?;
        let mut fitted = false;
        for alg in algs {
            if alg.public_key_alg_id().as_ref() != alg_id {
                continue;
            }
            fitted = true;
            if alg.verify_signature(key, message, dss.signature()).is_ok() {
                return Ok(HandshakeSignatureValid::assertion());
            }
        }
        Err(if fitted {
            VerifyError::BadSignature
        } else {
            VerifyError::SchemeKeyMismatch(dss.scheme)
        }
        .into())
    }

    /// Verifies the `CertificateVerify` signature (RFC 8446 sec. 4.4.3) against the leaf's
    /// SPKI with [`verify_tls13_signature_with_raw_key`].
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let spki = self.usable_spki(cert)?;
        let algs = self.mapped(dss.scheme)?;
        let (alg_id, _) = split_spki(spki).ok_or(VerifyError::SpkiMalformed)?;
        if algs
            .first()
            .is_none_or(|a| a.public_key_alg_id().as_ref() != alg_id)
        {
            return Err(VerifyError::SchemeKeyMismatch(dss.scheme).into());
        }
        verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki),
            dss,
            &self.algs,
        )
        .map_err(|e| match e {
            // A scheme not allowed in TLS 1.3 (SHA-1, PKCS#1 v1.5: RFC 8446 sec. 4.2.3).
            Error::PeerMisbehaved(_) => VerifyError::UnsupportedScheme(dss.scheme).into(),
            _ => VerifyError::BadSignature.into(),
        })
    }

    /// The provider's schemes, in its order of preference (RFC 8446 sec. 4.2.3).
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_tlv_rejects_truncation_and_long_lengths() {
        assert_eq!(
            der_tlv(&[0x30, 0x02, 1, 2, 9], 0x30),
            Some((&[1u8, 2][..], &[9u8][..]))
        );
        assert_eq!(der_tlv(&[0x30, 0x03, 1, 2], 0x30), None);
        assert_eq!(
            der_tlv(&[0x30, 0x81, 0x01, 7], 0x30),
            Some((&[7u8][..], &[][..]))
        );
        assert_eq!(der_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1], 0x30), None);
        assert_eq!(der_tlv(&[0x30, 0x80], 0x30), None);
        assert_eq!(der_tlv(&[0x31, 0x00], 0x30), None);
        assert_eq!(der_tlv(&[], 0x30), None);
    }

    #[test]
    fn leaf_spki_of_garbage_is_none() {
        assert_eq!(leaf_spki(b"not a certificate"), None);
        assert_eq!(leaf_spki(&[]), None);
    }

    #[test]
    fn leaf_spki_is_the_rcgen_public_key() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let spki = leaf_spki(cert.der()).unwrap();
        assert_eq!(spki, rcgen::PublicKeyData::subject_public_key_info(&key));
        let (alg, bits) = split_spki(spki).unwrap();
        assert_eq!(bits, key.public_key_raw());
        assert!(!alg.is_empty());
    }

    #[test]
    fn trailing_bytes_after_leaf_are_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut der = cert.der().to_vec();
        der.push(0);
        assert_eq!(leaf_spki(&der), None);
    }
}
