//! PKIX validation for services found through SRV records (RFC 7673 sec. 4.1 and 4.2,
//! RFC 6698 sec. 2.1.1).
//!
//! - The path check is RFC 5280 as webpki implements it (`verify_for_usage`, server
//!   authentication EKU when the leaf has an EKU extension), judged at the time the caller
//!   gives: the core never reads the clock.
//! - The name check is RFC 6125 sec. 6 as [`super::names`] implements it for DANE-TA (SAN
//!   dNSName over CN, one left-most wildcard label), against the reference identifiers of
//!   RFC 7673 sec. 4.1.
//! - PKIX-TA(0) and PKIX-EE(1) TLSA records need both a validated path to an anchor of the
//!   trust store and a record matching a CA certificate of that path (usage 0, the anchor
//!   included) or the leaf (usage 1), plus the name check (RFC 7673 sec. 6.2). webpki returns
//!   one valid path; a usage 0 record is compared with the certificates of that path.
//! - The embedded store ([`PkixTrustStore::WebPkiRoots`]) holds each root's name and public
//!   key, not its certificate: a `0 1 x` record can match a root there, a `0 0 x` record
//!   cannot (the failure says so, [`PKIX_TA_ROOT_DER_MISSING`]); give the roots as DER
//!   ([`PkixTrustStore::Anchors`], e.g. from [`PkixTrustStore::from_pem_bundle`]) for those.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};

use super::names::{check_names, NameError, NameMatch};
use super::verify::{
    selected_digest, DaneFailure, DaneFailureKind, DaneMatch, DaneOutcome, MatchVia, RecordError,
    RecordFailure, VerifyParams, MAX_CHAIN_BYTES, MAX_CHAIN_LEN,
};
use super::{parse_pem_certificates, GenerateError, TlsaRecord, TlsaSet};
use crate::time::Timestamp;

/// The detail given for a `0 0 x` record when the path's anchor came from the embedded
/// roots, which hold no certificate to compare.
pub const PKIX_TA_ROOT_DER_MISSING: &str = "the trust anchor of the path comes from the \
     embedded webpki-roots, which hold no root certificate in DER: a PKIX-TA(0) \
     Cert(0) record on a root needs the root given as a certificate (a CA file or the \
     system store)";

/// Where PKIX trust anchors come from (RFC 5280 sec. 6.1.1 (d); RFC 7673 sec. 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PkixTrustStore {
    /// The webpki-roots set (Mozilla's CA list), embedded: names and keys, no certificates.
    WebPkiRoots,
    /// DER certificates given by the caller (a CA file, the system store).
    Anchors(Vec<Vec<u8>>),
}

/// Why a PEM bundle gave no trust store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustStoreError {
    /// The text is not a PEM bundle (see [`GenerateError`]).
    Pem(GenerateError),
    /// Certificates were found, but webpki accepts none of them as a trust anchor.
    NoUsableAnchor {
        /// How many certificates the bundle held.
        certificates: usize,
    },
}

impl std::fmt::Display for TrustStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustStoreError::Pem(e) => write!(f, "not a PEM certificate bundle: {e}"),
            TrustStoreError::NoUsableAnchor { certificates } => write!(
                f,
                "none of the {certificates} certificates is usable as a trust anchor"
            ),
        }
    }
}

impl std::error::Error for TrustStoreError {}

/// A trust store read from a PEM bundle, with the certificates it had to leave out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemTrustStore {
    /// [`PkixTrustStore::Anchors`] with every usable certificate, in bundle order.
    pub store: PkixTrustStore,
    /// Positions (0-based, bundle order) of certificates webpki refuses as anchors.
    pub skipped: Vec<usize>,
}

impl PkixTrustStore {
    /// Reads a PEM bundle (`--ca-file`, `/etc/ssl/certs/ca-certificates.crt`): every
    /// `CERTIFICATE` block (RFC 7468 sec. 5) that webpki accepts as a trust anchor. The
    /// caller reads the file; the core only takes its text.
    pub fn from_pem_bundle(text: &str) -> Result<PemTrustStore, TrustStoreError> {
        let ders = parse_pem_certificates(text).map_err(TrustStoreError::Pem)?;
        let certificates = ders.len();
        let mut kept = Vec::new();
        let mut skipped = Vec::new();
        for (i, der) in ders.into_iter().enumerate() {
            if webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).is_ok() {
                kept.push(der);
            } else {
                skipped.push(i);
            }
        }
        if kept.is_empty() {
            return Err(TrustStoreError::NoUsableAnchor { certificates });
        }
        Ok(PemTrustStore {
            store: PkixTrustStore::Anchors(kept),
            skipped,
        })
    }

    /// Whether the store holds its roots as certificates, so that `0 0 x` records can match
    /// them (false for the embedded roots).
    pub fn holds_root_certificates(&self) -> bool {
        matches!(self, PkixTrustStore::Anchors(_))
    }

    /// The anchors, each with its certificate when the store has it.
    fn anchors(&self) -> Vec<(TrustAnchor<'_>, Option<&[u8]>)> {
        match self {
            PkixTrustStore::WebPkiRoots => webpki_roots::TLS_SERVER_ROOTS
                .iter()
                .map(|a| (a.clone(), None))
                .collect(),
            PkixTrustStore::Anchors(ders) => ders
                .iter()
                .filter_map(|der| {
                    webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                        .ok()
                        .map(|a| (a.to_owned(), Some(der.as_slice())))
                })
                .collect(),
        }
    }
}

/// Why a PKIX path did not validate, as webpki says (RFC 5280 sec. 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PkixError {
    /// The server presented no certificate.
    EmptyChain,
    /// More certificates or octets than [`MAX_CHAIN_LEN`] / [`MAX_CHAIN_BYTES`].
    ChainTooLarge,
    /// No path to an anchor of the trust store.
    UnknownIssuer,
    /// A certificate of the path has expired.
    Expired,
    /// A certificate of the path is not valid yet.
    NotValidYet,
    /// The leaf is a CA certificate.
    CaUsedAsEndEntity,
    /// An issuer is not a CA certificate.
    EndEntityUsedAsCa,
    /// The leaf's extended key usage does not allow TLS server authentication.
    NotForServerAuth,
    /// A signature of the path does not verify, or uses an unsupported algorithm.
    BadSignature,
    /// A name or path length constraint is violated.
    ConstraintViolated,
    /// A certificate is not valid DER, is not v3, or has an unsupported critical extension.
    Malformed,
    /// Another webpki error.
    Other,
}

impl PkixError {
    // The unit variants are deprecated for their `..Context` forms, which webpki 0.103
    // returns; both are mapped so that neither form is ever `Other`.
    #[allow(deprecated)]
    fn from_webpki(e: &webpki::Error) -> PkixError {
        use webpki::Error as E;
        match e {
            E::UnknownIssuer => PkixError::UnknownIssuer,
            E::CertExpired { .. } => PkixError::Expired,
            E::CertNotValidYet { .. } => PkixError::NotValidYet,
            E::CaUsedAsEndEntity => PkixError::CaUsedAsEndEntity,
            E::EndEntityUsedAsCa => PkixError::EndEntityUsedAsCa,
            E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
                PkixError::NotForServerAuth
            }
            E::InvalidSignatureForPublicKey
            | E::UnsupportedSignatureAlgorithm
            | E::UnsupportedSignatureAlgorithmContext(_)
            | E::UnsupportedSignatureAlgorithmForPublicKey
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            | E::SignatureAlgorithmMismatch => PkixError::BadSignature,
            E::NameConstraintViolation
            | E::PathLenConstraintViolated
            | E::MaximumPathDepthExceeded => PkixError::ConstraintViolated,
            E::BadDer
            | E::BadDerTime
            | E::TrailingData(_)
            | E::UnsupportedCertVersion
            | E::UnsupportedCriticalExtension
            | E::MalformedExtensions
            | E::ExtensionValueInvalid
            | E::InvalidCertValidity => PkixError::Malformed,
            _ => PkixError::Other,
        }
    }

    /// A short kebab-case name, for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            PkixError::EmptyChain => "empty-chain",
            PkixError::ChainTooLarge => "chain-too-large",
            PkixError::UnknownIssuer => "unknown-issuer",
            PkixError::Expired => "expired",
            PkixError::NotValidYet => "not-valid-yet",
            PkixError::CaUsedAsEndEntity => "ca-used-as-end-entity",
            PkixError::EndEntityUsedAsCa => "end-entity-used-as-ca",
            PkixError::NotForServerAuth => "not-for-server-auth",
            PkixError::BadSignature => "bad-signature",
            PkixError::ConstraintViolated => "constraint-violated",
            PkixError::Malformed => "malformed",
            PkixError::Other => "other",
        }
    }
}

impl std::fmt::Display for PkixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why PKIX authentication failed (RFC 7673 sec. 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PkixFailure {
    /// The path did not validate.
    Invalid(PkixError),
    /// The path validated but the leaf names none of the reference identifiers.
    NameMismatch {
        /// The reference identifiers tried, in order.
        reference_ids: Vec<String>,
        /// The names the certificate presents (SAN dNSNames, or CNs without any).
        presented: Vec<String>,
    },
}

impl std::fmt::Display for PkixFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkixFailure::Invalid(e) => write!(f, "PKIX path invalid: {e}"),
            PkixFailure::NameMismatch {
                reference_ids,
                presented,
            } => write!(
                f,
                "PKIX path valid, but no name matches: reference identifiers {}; \
                 certificate names {}",
                reference_ids.join(", "),
                presented.join(", ")
            ),
        }
    }
}

/// One certificate above the leaf on a validated path.
struct PathCert {
    /// Its DER, when known (not for an anchor of the embedded roots).
    der: Option<Vec<u8>>,
    /// Its SubjectPublicKeyInfo DER, with the SEQUENCE header (RFC 6698 sec. 2.1.2).
    spki: Vec<u8>,
    /// Whether the server presented it.
    presented: bool,
}

/// Validates `chain` (leaf first, DER) to one of `anchors` at `now`, for TLS server
/// authentication. Returns the certificates above the leaf, issuer first, anchor last.
fn validate_path(
    chain: &[Vec<u8>],
    anchors: &[(TrustAnchor<'_>, Option<&[u8]>)],
    now: Timestamp,
) -> Result<Vec<PathCert>, PkixError> {
    let Some(leaf) = chain.first() else {
        return Err(PkixError::EmptyChain);
    };
    let total = chain.iter().fold(0usize, |a, c| a.saturating_add(c.len()));
    if chain.len() > MAX_CHAIN_LEN || total > MAX_CHAIN_BYTES {
        return Err(PkixError::ChainTooLarge);
    }
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| PkixError::from_webpki(&e))?;
    let inter: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let trust: Vec<TrustAnchor<'_>> = anchors.iter().map(|(a, _)| a.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now.as_unix_secs()));
    let path = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &trust,
            &inter,
            time,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| PkixError::from_webpki(&e))?;
    let presented = |der: &[u8]| chain[1..].iter().any(|c| c.as_slice() == der);
    let mut above: Vec<PathCert> = path
        .intermediate_certificates()
        .map(|cert| PathCert {
            der: Some(cert.der().to_vec()),
            spki: cert.subject_public_key_info().as_ref().to_vec(),
            presented: true,
        })
        .collect();
    let anchor = path.anchor();
    let der = anchors
        .iter()
        .find(|(a, _)| {
            a.subject.as_ref() == anchor.subject.as_ref()
                && a.subject_public_key_info.as_ref() == anchor.subject_public_key_info.as_ref()
        })
        .and_then(|(_, der)| *der);
    above.push(PathCert {
        der: der.map(<[u8]>::to_vec),
        spki: webpki::spki_for_anchor(anchor).as_ref().to_vec(),
        presented: der.is_some_and(presented),
    });
    Ok(above)
}

fn name_failure(e: NameError, reference_ids: &[String]) -> PkixFailure {
    match e {
        NameError::Mismatch { presented, .. } => PkixFailure::NameMismatch {
            reference_ids: reference_ids.to_vec(),
            presented,
        },
        NameError::NoPresentedNames | NameError::NoReferenceIds => PkixFailure::NameMismatch {
            reference_ids: reference_ids.to_vec(),
            presented: Vec::new(),
        },
        NameError::BadCertificate => PkixFailure::Invalid(PkixError::Malformed),
    }
}

/// PKIX authentication of a host without usable TLSA records (RFC 7673 sec. 4.1): a path
/// from `chain` to an anchor of `store` at `now`, and a leaf naming one of
/// `reference_ids`. Returns the name that matched.
pub fn verify_pkix(
    chain: &[Vec<u8>],
    store: &PkixTrustStore,
    reference_ids: &[String],
    now: Timestamp,
) -> Result<NameMatch, PkixFailure> {
    let anchors = store.anchors();
    validate_path(chain, &anchors, now).map_err(PkixFailure::Invalid)?;
    check_names(&chain[0], reference_ids).map_err(|e| name_failure(e, reference_ids))
}

/// [`super::verify()`] for an RRset that may hold PKIX-TA(0) and PKIX-EE(1) records besides
/// DANE-TA(2) and DANE-EE(3) (RFC 7673 sec. 4.2, RFC 6698 sec. 2.1.1): any one usable record
/// that authenticates the chain suffices. DANE records are tried first, as
/// [`super::verify()`] does; then PKIX-EE, then PKIX-TA, each needing a path to `store` and a
/// reference identifier on the leaf.
pub fn verify_with_pkix(
    chain: &[Vec<u8>],
    set: &TlsaSet,
    params: &VerifyParams<'_>,
    store: &PkixTrustStore,
) -> DaneOutcome {
    let mut failure = DaneFailure::before_records(DaneFailureKind::NoMatch);
    if set.usable().any(|r| r.usage >= 2) {
        match super::verify(chain, set, params) {
            matched @ DaneOutcome::Matched(_) => return matched,
            DaneOutcome::Failed(f) => failure = f,
        }
    }
    let mut pkix: Vec<&TlsaRecord> = set.usable().filter(|r| r.usage <= 1).collect();
    if pkix.is_empty() {
        return DaneOutcome::Failed(failure);
    }
    if chain.is_empty() {
        return DaneOutcome::Failed(DaneFailure::before_records(DaneFailureKind::EmptyChain));
    }
    // PKIX-EE before PKIX-TA, each in set order.
    pkix.sort_by_key(|r| std::cmp::Reverse(r.usage));
    let anchors = store.anchors();
    let path = validate_path(chain, &anchors, params.now);
    let mut worst = failure.kind;
    for r in pkix {
        let found = match (r.usage, &path) {
            (1, _)
                if selected_digest(&chain[0], r.selector, r.matching).as_ref() != Some(&r.data) =>
            {
                Err((DaneFailureKind::NoMatch, RecordError::LeafMismatch))
            }
            (_, Err(e)) => Err((
                DaneFailureKind::PkixInvalid(*e),
                RecordError::PkixPathInvalid { error: *e },
            )),
            (1, Ok(_)) => Ok((0, MatchVia::Chain)),
            (_, Ok(above)) => match above.iter().position(|c| cert_matches(c, r)) {
                Some(i) => Ok((
                    i + 1,
                    if above[i].presented {
                        MatchVia::Chain
                    } else {
                        MatchVia::TrustStore
                    },
                )),
                None if r.selector == 0 && above.last().is_some_and(|a| a.der.is_none()) => Err((
                    DaneFailureKind::NoMatch,
                    RecordError::PkixRootCertificateMissing,
                )),
                None => Err((DaneFailureKind::NoMatch, RecordError::PkixCaNotInPath)),
            },
        };
        let result = found.and_then(|(depth, via)| {
            check_names(&chain[0], params.reference_ids)
                .map(|nm| (depth, via, nm))
                .map_err(|names| {
                    (
                        DaneFailureKind::NameMismatch,
                        RecordError::PkixNameMismatch { names },
                    )
                })
        });
        match result {
            Ok((depth, via, nm)) => {
                return DaneOutcome::Matched(DaneMatch {
                    record: r.clone(),
                    depth,
                    via,
                    peername: Some(nm.reference_id),
                    presented_name: Some(nm.presented),
                })
            }
            Err((kind, why)) => {
                if kind.precedence() > worst.precedence() {
                    worst = kind;
                }
                failure.details.push(RecordFailure {
                    record: r.clone(),
                    why,
                });
            }
        }
    }
    failure.kind = worst;
    DaneOutcome::Failed(failure)
}

/// Whether record `r` (selector, matching type) selects certificate `c` of the path.
fn cert_matches(c: &PathCert, r: &TlsaRecord) -> bool {
    let content: &[u8] = match (r.selector, &c.der) {
        (0, Some(der)) => der,
        (1, _) => &c.spki,
        _ => return false,
    };
    super::verify::digest(content, r.matching).as_ref() == Some(&r.data)
}
