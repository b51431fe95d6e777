//! Matching a presented certificate chain against a TLSA RRset (RFC 6698 sec. 2.1, RFC 7671
//! sec. 5, RFC 7672 sec. 3.1 and 3.2), with the semantics of OpenSSL's DANE code as used by
//! Postfix.
//!
//! Decisions (each pinned by a test in `tests/tests/dane_verify.rs`):
//! - Only usable records count, and any one of them suffices (RFC 7672 sec. 3.2, S62).
//!   DANE-EE(3) records are tried first, then DANE-TA(2), each in [`TlsaSet`] order, so the
//!   record reported does not depend on DNS order.
//! - DANE-EE(3) compares the leaf (depth 0) only: no name, no date, no path checks
//!   (RFC 7672 sec. 3.1.1, RFC 7671 sec. 5.1); v1 and self-signed leaves are fine. Selector
//!   Cert(0) hashes the DER exactly as presented; selector SPKI(1) needs the leaf to parse.
//! - DANE-TA(2) records match issuer certificates at depth >= 1 only, never the leaf
//!   (OpenSSL, Postfix `tls_dane_load_trustfile()` comment; S50). The path from the leaf to
//!   the matched certificate is then validated with webpki at `now` (dates of the leaf and
//!   of every intermediate below the TA, signatures, basic constraints, EKU serverAuth when
//!   present), and names are checked with [`super::names`] against the reference identifiers.
//! - **The TA's own validity dates are not checked**, whether it was matched in the chain
//!   (`2 0 x`, `2 1 x`) or supplied by DNS (`2 0 0`, `2 1 0`): a trust anchor is not part of
//!   the certification path (RFC 5280 sec. 6.1.1 (d)), and the binding's lifetime is the
//!   RRSIG's on the TLSA record. This pins what Postfix 3.7 with OpenSSL 3.0 does: in the
//!   interop lab (scenario X02) an intermediate that expired in 2025, matched by `2 0 1`,
//!   gives "Matched DANE TA certificate at depth 1" and a Verified connection. Every
//!   certificate *below* the TA (the leaf, lower intermediates) is date-checked by webpki.
//!   A *self-signed* anchor sent in the chain is date-checked, because OpenSSL 3.0 does so
//!   when the path ends at a self-signed certificate (interop lab TA1: Postfix says
//!   "certificate has expired").
//! - `2 0 x` applies the anchor certificate's basicConstraints (cA:FALSE refuses, and
//!   pathLenConstraint bounds the intermediates below it), as RFC 7671 sec. 5.2.1 says a
//!   client SHOULD and as OpenSSL does (interop lab TA2, "invalid CA certificate").
//! - `2 0 0` (full TA certificate) and `2 1 0` (bare TA key) may supply a TA the server did
//!   not send (RFC 7671 sec. 5.2); digest records (`2 x 1`, `2 x 2`) need the TA in the chain
//!   (RFC 7672 sec. 3.1.2).
//! - Limits: more than [`MAX_CHAIN_LEN`] certificates or more than [`MAX_CHAIN_BYTES`] in
//!   total gives [`DaneFailureKind::Malformed`] before anything is hashed or parsed.

use std::fmt;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, Der, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::*;

use super::names::{self, NameError};
use super::{TlsaRecord, TlsaSet};
use crate::time::{format_unix_secs, Timestamp};

/// Most certificates accepted in a presented chain (OpenSSL's default verify depth is 100;
/// real chains have 2-4, and RFC 8446 sec. 4.4.2 lets servers send extras. 16 is generous).
pub const MAX_CHAIN_LEN: usize = 16;

/// Most total octets accepted in a presented chain (1 MiB; a TLS 1.3 Certificate message is
/// at most 16 MiB, RFC 8446 sec. 4.4.2, but no sane chain is anywhere near 1 MiB).
pub const MAX_CHAIN_BYTES: usize = 1 << 20;

/// Most `2 0 0` / `2 1 0` records whose certificate or key (not in the chain) is tried as a
/// trust anchor: each try is a path validation, and an RRset can hold ~1800 records.
pub const MAX_DNS_TA_ATTEMPTS: usize = 8;

/// Inputs of [`verify`] besides the chain and the records.
#[derive(Clone, Copy, Debug)]
pub struct VerifyParams<'a> {
    /// Reference identifiers for DANE-TA name checks (RFC 7672 sec. 3.2.2): the TLSA base
    /// domain, then the next-hop domain(s) when the MX RRset is secure. Compared in order.
    pub reference_ids: &'a [String],
    /// The time at which certificate validity is judged (DANE-TA only, RFC 7672 sec. 3.1.2).
    pub now: Timestamp,
}

/// Result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneOutcome {
    /// A usable record matched and, for DANE-TA, path and name checks passed
    /// (RFC 7672 sec. 3.2).
    Matched(DaneMatch),
    /// No usable record authenticated the chain: the client must not deliver to this server
    /// (RFC 7672 sec. 3.2, R38).
    Failed(DaneFailure),
}

impl DaneOutcome {
    /// Whether authentication succeeded.
    pub fn is_matched(&self) -> bool {
        matches!(self, DaneOutcome::Matched(_))
    }
}

/// How a successful match was made (RFC 7672 sec. 3.1, Postfix "Matched DANE ... at depth N").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneMatch {
    /// The record that matched.
    pub record: TlsaRecord,
    /// Depth of the matched certificate: 0 for DANE-EE; for DANE-TA the position of the TA
    /// in the chain (for a TA from DNS, the position it takes above the validated path).
    pub depth: usize,
    /// Where the matched certificate or key came from.
    pub via: MatchVia,
    /// For DANE-TA, the reference identifier that matched the leaf (RFC 7672 sec. 3.2.2);
    /// `None` for DANE-EE (no name check, RFC 7672 sec. 3.2.1).
    pub peername: Option<String>,
    /// For DANE-TA, the presented name (SAN dNSName or CN) that matched.
    pub presented_name: Option<String>,
}

/// Where the certificate or key a record matched came from (RFC 7671 sec. 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchVia {
    /// A certificate presented by the server.
    Chain,
    /// A full TA certificate carried in a `2 0 0` record, not presented by the server.
    TlsaCertificate,
    /// A bare TA public key carried in a `2 1 0` record (Postfix/OpenSSL "TA public key
    /// verified certificate").
    TlsaPublicKey,
    /// A trust anchor of the PKIX trust store that the server did not present (PKIX-TA(0),
    /// RFC 6698 sec. 2.1.1; [`super::pkix`]).
    TrustStore,
}

/// Why authentication failed: the overall kind, and for each usable record tried why it did
/// not authenticate the chain. Data only; [`fmt::Display`] words it for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneFailure {
    /// The overall kind, by precedence (see [`DaneFailureKind`]).
    pub kind: DaneFailureKind,
    /// For each usable record tried, why it did not authenticate the chain (set order).
    pub details: Vec<RecordFailure>,
    /// The chain limit exceeded, when the chain was refused before any record was tried
    /// (kind [`DaneFailureKind::Malformed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<ChainLimit>,
}

impl DaneFailure {
    /// A failure decided before any record was tried.
    pub fn before_records(kind: DaneFailureKind) -> Self {
        DaneFailure {
            kind,
            details: Vec::new(),
            limit: None,
        }
    }

    /// The certificate dates behind an `Expired` or `NotYetValid` kind: those of the first
    /// record whose failure was about dates.
    pub fn dates(&self) -> Option<&CertDates> {
        self.details.iter().find_map(|d| d.why.dates())
    }

    /// The name check behind a `NameMismatch` kind: that of the first record whose path
    /// validated (RFC 7672 sec. 3.2.2).
    pub fn names(&self) -> Option<&NameError> {
        self.details.iter().find_map(|d| match &d.why {
            RecordError::NameMismatch { names, .. } => Some(names),
            _ => None,
        })
    }
}

impl fmt::Display for DaneFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.limit) {
            (_, Some(limit)) => write!(f, "{limit}")?,
            (DaneFailureKind::NameMismatch, _) => f.write_str(
                "DANE-TA path valid but no reference identifier matches the server certificate",
            )?,
            (DaneFailureKind::Expired, _) => {
                f.write_str("certificate expired in the DANE-TA path")?
            }
            (DaneFailureKind::NotYetValid, _) => {
                f.write_str("certificate not yet valid in the DANE-TA path")?
            }
            (DaneFailureKind::ChainInvalid, _) => {
                f.write_str("DANE-TA matched but the certificate path is invalid")?
            }
            (DaneFailureKind::Malformed, _) => {
                f.write_str("leaf certificate is not DER X.509 and no record matched")?
            }
            (DaneFailureKind::EmptyChain, _) => f.write_str("server presented no certificate")?,
            (DaneFailureKind::PkixInvalid(_), _) => {
                f.write_str("the Web PKI path that PKIX-TA/PKIX-EE records need did not validate")?
            }
            (DaneFailureKind::NoUsableRecords, _) => f.write_str("no usable TLSA records")?,
            (DaneFailureKind::NoMatch, _) => {
                f.write_str("no usable TLSA record matched the certificate chain")?
            }
        }
        for d in &self.details {
            write!(f, "; {d}")?;
        }
        Ok(())
    }
}

/// A presented chain over one of the limits, refused before anything is hashed or parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "limit")]
pub enum ChainLimit {
    /// More than [`MAX_CHAIN_LEN`] certificates.
    Certificates {
        /// Certificates presented.
        count: usize,
        /// [`MAX_CHAIN_LEN`].
        max: usize,
    },
    /// More than [`MAX_CHAIN_BYTES`] octets in total.
    Octets {
        /// Octets presented.
        count: usize,
        /// [`MAX_CHAIN_BYTES`].
        max: usize,
    },
}

impl fmt::Display for ChainLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainLimit::Certificates { count, max } => write!(
                f,
                "chain has {count} certificates, more than the limit of {max}"
            ),
            ChainLimit::Octets { count, max } => {
                write!(f, "chain has {count} octets, more than the limit of {max}")
            }
        }
    }
}

/// One usable record and why it did not authenticate the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// The record.
    #[serde(flatten)]
    pub record: TlsaRecord,
    /// Why it did not authenticate the chain.
    pub why: RecordError,
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", short_record(&self.record), self.why)
    }
}

/// Where the trust anchor of a DANE-TA(2) attempt came from (RFC 7671 sec. 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum Anchor {
    /// A certificate of the presented chain, at this depth, matched the record.
    Chain {
        /// Its depth (the leaf is 0).
        depth: usize,
    },
    /// The full certificate carried in a `2 0 0` record.
    TlsaCertificate,
    /// The bare public key carried in a `2 1 0` record.
    TlsaPublicKey,
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anchor::Chain { depth } => write!(f, "matched the issuer at depth {depth}"),
            Anchor::TlsaCertificate => f.write_str("TA certificate from the TLSA record"),
            Anchor::TlsaPublicKey => f.write_str("TA public key from the TLSA record"),
        }
    }
}

/// The validity dates of a certificate judged at `now` (RFC 5280 sec. 4.1.2.5; RFC 7672
/// sec. 3.1.2: DANE-TA paths are date-checked), in seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertDates {
    /// The chain depth of the certificate (0 = leaf), when it is one of the presented chain.
    pub depth: Option<usize>,
    /// The time of the check.
    pub now: i64,
    /// notBefore, when known.
    pub not_before: Option<i64>,
    /// notAfter, when known.
    pub not_after: Option<i64>,
}

impl fmt::Display for CertDates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("certificate")?;
        if let Some(d) = self.depth {
            write!(f, " at depth {d}")?;
        }
        match (self.not_before, self.not_after) {
            (Some(b), _) if self.now < b => write!(f, " not valid before {}", format_unix_secs(b))?,
            (_, Some(a)) => write!(f, " expired {}", format_unix_secs(a))?,
            (Some(b), None) => write!(f, " not valid before {}", format_unix_secs(b))?,
            (None, None) => f.write_str(" outside its validity")?,
        }
        write!(f, " (checked at {})", format_unix_secs(self.now))
    }
}

/// Why webpki refused a DANE-TA(2) certification path (RFC 5280 sec. 6; RFC 7672
/// sec. 3.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "path")]
pub enum PathError {
    /// A certificate on the path has expired.
    Expired(CertDates),
    /// A certificate on the path is not yet valid.
    NotYetValid(CertDates),
    /// No path to the trust anchor.
    UnknownIssuer,
    /// The leaf is a CA certificate (cA=TRUE).
    CaUsedAsEndEntity,
    /// A certificate is not X.509 v3.
    UnsupportedCertVersion,
    /// A certificate is not valid DER.
    BadDer,
    /// Another webpki error, by its name.
    Other {
        /// webpki's name for it.
        webpki: String,
    },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Expired(d) | PathError::NotYetValid(d) => write!(f, "{d}"),
            PathError::UnknownIssuer => f.write_str("no path to the trust anchor (unknown issuer)"),
            PathError::CaUsedAsEndEntity => f.write_str("leaf is a CA certificate (cA=TRUE)"),
            PathError::UnsupportedCertVersion => {
                f.write_str("certificate version not supported (v3 required)")
            }
            PathError::BadDer => f.write_str("certificate is not valid DER"),
            PathError::Other { webpki } => f.write_str(webpki),
        }
    }
}

/// Why one usable record did not authenticate the chain (RFC 7672 sec. 3.1, 3.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RecordError {
    /// DANE-EE(3): the record does not match the leaf (RFC 7672 sec. 3.1.1).
    LeafMismatch,
    /// DANE-EE(3) with selector SPKI(1): the leaf does not parse, so its key cannot be
    /// selected (RFC 6698 sec. 2.1.2).
    LeafUnparsable,
    /// DANE-TA(2): the record matches the leaf only; DANE-TA records match issuer
    /// certificates (depth >= 1), never the leaf.
    LeafOnly,
    /// DANE-TA(2) digest: no issuer certificate in the chain matches (a digest record needs
    /// the TA in the chain, RFC 7672 sec. 3.1.2).
    NotInChain,
    /// A `2 0 0` or `2 1 0` record skipped: more than `max` trust anchors supplied by DNS.
    SkippedDnsAnchor {
        /// [`MAX_DNS_TA_ATTEMPTS`].
        max: usize,
    },
    /// The anchor cannot be used as a trust anchor, by webpki's name of the error.
    AnchorUnusable {
        /// The anchor.
        anchor: Anchor,
        /// webpki's name for the error.
        webpki: String,
    },
    /// A `2 1 0` record's data is not a DER SubjectPublicKeyInfo.
    AnchorKeyMalformed,
    /// The anchor certificate's basicConstraints extension is malformed.
    AnchorConstraintsMalformed {
        /// The anchor.
        anchor: Anchor,
    },
    /// The anchor certificate has basicConstraints cA:FALSE: it may not issue certificates
    /// (RFC 7671 sec. 5.2.1).
    AnchorNotCa {
        /// The anchor.
        anchor: Anchor,
    },
    /// The anchor's pathLenConstraint allows fewer intermediates than lie below it (RFC 7671
    /// sec. 5.2.1, RFC 5280 sec. 4.2.1.9).
    PathLenExceeded {
        /// The anchor.
        anchor: Anchor,
        /// The pathLenConstraint.
        max: u32,
        /// Intermediates below the anchor.
        below: usize,
    },
    /// A self-signed anchor sent in the chain is outside its validity dates (checked as
    /// OpenSSL and Postfix do).
    SelfSignedAnchorDates {
        /// The anchor.
        anchor: Anchor,
        /// Its dates.
        dates: CertDates,
    },
    /// The leaf certificate was rejected by webpki before any path was built.
    LeafRejected {
        /// The anchor tried.
        anchor: Anchor,
        /// Why.
        error: PathError,
    },
    /// The path from the leaf to the anchor is invalid (RFC 7672 sec. 3.1.2).
    PathInvalid {
        /// The anchor tried.
        anchor: Anchor,
        /// Why.
        error: PathError,
    },
    /// The path validated but no reference identifier matches the leaf (RFC 7672
    /// sec. 3.2.2).
    NameMismatch {
        /// The anchor.
        anchor: Anchor,
        /// The name check.
        names: NameError,
    },
    /// PKIX-TA(0) or PKIX-EE(1): no Web PKI path from the chain to the trust store (RFC 6698
    /// sec. 2.1.1, RFC 7673 sec. 4.2).
    PkixPathInvalid {
        /// What webpki refused.
        error: super::pkix::PkixError,
    },
    /// PKIX-TA(0): no CA certificate of the validated Web PKI path matches.
    PkixCaNotInPath,
    /// PKIX-TA(0) Cert(0): the path's root comes from a trust store that holds no root
    /// certificates ([`super::pkix::PKIX_TA_ROOT_DER_MISSING`]).
    PkixRootCertificateMissing,
    /// PKIX-TA(0) or PKIX-EE(1): the Web PKI path is valid but no reference identifier
    /// matches the leaf (RFC 7673 sec. 4.2).
    PkixNameMismatch {
        /// The name check.
        names: NameError,
    },
}

impl RecordError {
    /// The dates of an expiry or not-yet-valid failure.
    pub fn dates(&self) -> Option<&CertDates> {
        match self {
            RecordError::SelfSignedAnchorDates { dates, .. }
            | RecordError::PathInvalid {
                error: PathError::Expired(dates) | PathError::NotYetValid(dates),
                ..
            } => Some(dates),
            _ => None,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::LeafMismatch => f.write_str("does not match the leaf certificate"),
            RecordError::PkixPathInvalid { error } => write!(f, "PKIX path invalid: {error}"),
            RecordError::PkixCaNotInPath => {
                f.write_str("no CA certificate of the validated PKIX path matches")
            }
            RecordError::PkixRootCertificateMissing => {
                f.write_str(super::pkix::PKIX_TA_ROOT_DER_MISSING)
            }
            RecordError::PkixNameMismatch { names } => write!(f, "PKIX path valid, but {names}"),
            RecordError::LeafUnparsable => {
                f.write_str("leaf certificate does not parse, its public key cannot be selected")
            }
            RecordError::LeafOnly => f.write_str(
                "matches the leaf certificate only; DANE-TA(2) records match issuer \
                 certificates (depth >= 1), never the leaf",
            ),
            RecordError::NotInChain => f.write_str(
                "no issuer certificate in the chain matches (a digest DANE-TA record needs \
                 the TA in the chain, RFC 7672 sec. 3.1.2)",
            ),
            RecordError::SkippedDnsAnchor { max } => {
                write!(f, "skipped: more than {max} trust anchors supplied by DNS")
            }
            RecordError::AnchorUnusable { anchor, webpki } => {
                write!(f, "{anchor}; not usable as a trust anchor: {webpki}")
            }
            RecordError::AnchorKeyMalformed => {
                f.write_str("TA public key from the TLSA record is not a DER SubjectPublicKeyInfo")
            }
            RecordError::AnchorConstraintsMalformed { anchor } => write!(
                f,
                "{anchor}; the trust anchor's basicConstraints extension is malformed"
            ),
            RecordError::AnchorNotCa { anchor } => write!(
                f,
                "{anchor}; the trust anchor has basicConstraints cA:FALSE: it may not issue \
                 certificates (RFC 7671 sec. 5.2.1)"
            ),
            RecordError::PathLenExceeded { anchor, max, below } => write!(
                f,
                "{anchor}; the trust anchor's pathLenConstraint {max} allows fewer than the \
                 {below} intermediate(s) below it (RFC 7671 sec. 5.2.1, RFC 5280 sec. 4.2.1.9)"
            ),
            RecordError::SelfSignedAnchorDates { anchor, dates } => write!(
                f,
                "{anchor}; the self-signed trust anchor is outside its validity: {dates} \
                 (checked as OpenSSL and Postfix do)"
            ),
            RecordError::LeafRejected { anchor, error } => {
                write!(f, "{anchor}; leaf certificate rejected: {error}")
            }
            RecordError::PathInvalid { anchor, error } => {
                write!(f, "{anchor}; path invalid: {error}")
            }
            RecordError::NameMismatch { anchor, names } => {
                write!(f, "{anchor}; path valid, but {names}")
            }
        }
    }
}

/// Kinds of failure. When several records fail differently, the reported kind is the
/// highest in this precedence: `NameMismatch` (a TA path validated but no name matched) >
/// `Expired` > `NotYetValid` > `ChainInvalid` (a TA matched but the path is invalid for
/// another reason) > `Malformed` (the leaf is not X.509 DER) > `NoMatch`. `EmptyChain`,
/// `NoUsableRecords` and chain-limit `Malformed` are decided before any record is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneFailureKind {
    /// No usable record matches any certificate where it may match.
    NoMatch,
    /// The chain is unusable: leaf not DER X.509, or over the size limits.
    Malformed,
    /// A DANE-TA record matched but the path to it failed validation (signature, basic
    /// constraints, EKU, version...).
    ChainInvalid,
    /// A DANE-TA path has a certificate not yet valid at `now`.
    NotYetValid,
    /// A DANE-TA path has a certificate expired at `now` (including the TA certificate).
    Expired,
    /// A DANE-TA path validated but no reference identifier matches the leaf.
    NameMismatch,
    /// The server sent no certificate.
    EmptyChain,
    /// The set has no usable record (the caller should not require authentication,
    /// RFC 7672 sec. 2.2 (b)).
    NoUsableRecords,
    /// A PKIX-TA(0) or PKIX-EE(1) record could be tried only on a validated Web PKI path,
    /// and the path did not validate (RFC 6698 sec. 2.1.1; [`super::pkix`]).
    PkixInvalid(super::pkix::PkixError),
}

impl DaneFailureKind {
    pub(crate) fn precedence(self) -> u8 {
        match self {
            DaneFailureKind::NoMatch => 0,
            DaneFailureKind::Malformed => 1,
            DaneFailureKind::ChainInvalid | DaneFailureKind::PkixInvalid(_) => 2,
            DaneFailureKind::NotYetValid => 3,
            DaneFailureKind::Expired => 4,
            DaneFailureKind::NameMismatch => 5,
            DaneFailureKind::EmptyChain | DaneFailureKind::NoUsableRecords => 6,
        }
    }
}

fn short_record(r: &TlsaRecord) -> String {
    let hex = crate::hex::encode(&r.data);
    if hex.len() > 24 {
        format!(
            "{} {} {} {}...{}",
            r.usage,
            r.selector,
            r.matching,
            &hex[..8],
            &hex[hex.len() - 8..]
        )
    } else {
        format!("{} {} {} {}", r.usage, r.selector, r.matching, hex)
    }
}

/// The SubjectPublicKeyInfo DER (with its SEQUENCE header) of a certificate, as TLSA
/// selector SPKI(1) selects it (RFC 6698 sec. 2.1.2). `None` if the certificate does not
/// parse or has trailing bytes.
///
/// This is the one place that extracts a key: the handshake verifier
/// (the crate's handshake-only verifier) checks the server's signature against these exact bytes, so the
/// key that signed the handshake is the key that matched the TLSA record.
pub fn spki_of(cert_der: &[u8]) -> Option<&[u8]> {
    match X509Certificate::from_der(cert_der) {
        Ok((&[], cert)) => Some(cert.tbs_certificate.subject_pki.raw),
        _ => None,
    }
}

/// The content a record with `selector` and `matching` type compares, computed from a
/// certificate (RFC 6698 sec. 2.1.2-2.1.3): selector 0 = the DER as given, 1 = its SPKI;
/// matching 0 = that content, 1 = its SHA2-256, 2 = its SHA2-512. `None` for unknown
/// selector/matching values or when selector 1 cannot find the SPKI.
///
/// Used by [`verify`] and by the fuzz oracle: a match implies the matched record's data
/// equals `selected_digest(cert, record.selector, record.matching)`.
pub fn selected_digest(cert_der: &[u8], selector: u8, matching: u8) -> Option<Vec<u8>> {
    let content = match selector {
        0 => cert_der,
        1 => spki_of(cert_der)?,
        _ => return None,
    };
    digest(content, matching)
}

pub(crate) fn digest(content: &[u8], matching: u8) -> Option<Vec<u8>> {
    match matching {
        0 => Some(content.to_vec()),
        1 => Some(Sha256::digest(content).to_vec()),
        2 => Some(Sha512::digest(content).to_vec()),
        _ => None,
    }
}

/// Whether `data` is exactly one DER X.509 certificate (for Full(0) Cert(0) records).
pub(crate) fn is_der_certificate(data: &[u8]) -> bool {
    matches!(X509Certificate::from_der(data), Ok((rest, _)) if rest.is_empty())
}

/// Whether `data` is exactly one DER SubjectPublicKeyInfo (for Full(0) SPKI(1) records).
pub(crate) fn is_der_spki(data: &[u8]) -> bool {
    matches!(SubjectPublicKeyInfo::from_der(data), Ok((rest, _)) if rest.is_empty())
}

/// The contents of a DER TLV (without tag and length), if `der` is exactly one TLV with a
/// definite length (webpki's `TrustAnchor` fields want contents, CRATES-NOTES 1.4).
fn der_contents(der: &[u8]) -> Option<&[u8]> {
    let (&_tag, rest) = der.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() == len).then_some(rest)
}

/// Lazily computed, cached selected digests per (depth, selector, matching): a hostile
/// RRset of ~1800 records costs at most 16 x 2 x 3 hash computations.
/// Not computed yet / computed: the selected content's digest, if any.
type Slot = Option<Option<Vec<u8>>>;

struct Cache<'c> {
    chain: &'c [Vec<u8>],
    spki: Vec<Option<Option<&'c [u8]>>>,
    digests: Vec<[[Slot; 3]; 2]>,
}

impl<'c> Cache<'c> {
    fn new(chain: &'c [Vec<u8>]) -> Self {
        Cache {
            chain,
            spki: vec![None; chain.len()],
            digests: (0..chain.len()).map(|_| Default::default()).collect(),
        }
    }

    fn spki(&mut self, depth: usize) -> Option<&'c [u8]> {
        let chain = self.chain;
        *self.spki[depth].get_or_insert_with(|| spki_of(&chain[depth]))
    }

    fn selected(&mut self, depth: usize, selector: u8, matching: u8) -> Option<&[u8]> {
        if selector > 1 || matching > 2 {
            return None;
        }
        if self.digests[depth][usize::from(selector)][usize::from(matching)].is_none() {
            let content = if selector == 0 {
                Some(self.chain[depth].as_slice())
            } else {
                self.spki(depth)
            };
            let d = content.and_then(|c| digest(c, matching));
            self.digests[depth][usize::from(selector)][usize::from(matching)] = Some(d);
        }
        self.digests[depth][usize::from(selector)][usize::from(matching)]
            .as_ref()
            .and_then(|o| o.as_deref())
    }

    fn matches(&mut self, depth: usize, r: &TlsaRecord) -> bool {
        self.selected(depth, r.selector, r.matching) == Some(r.data.as_slice())
    }
}

/// Authenticates `chain` (leaf first, DER, as presented) with the usable records of `set`
/// (RFC 7672 sec. 3.1-3.2, RFC 7671 sec. 5). See the module documentation for the rules.
pub fn verify(chain: &[Vec<u8>], set: &TlsaSet, params: &VerifyParams<'_>) -> DaneOutcome {
    let refuse = |kind| DaneOutcome::Failed(DaneFailure::before_records(kind));
    let over = |limit| {
        DaneOutcome::Failed(DaneFailure {
            limit: Some(limit),
            ..DaneFailure::before_records(DaneFailureKind::Malformed)
        })
    };
    if !set.has_usable() {
        return refuse(DaneFailureKind::NoUsableRecords);
    }
    if chain.is_empty() {
        return refuse(DaneFailureKind::EmptyChain);
    }
    if chain.len() > MAX_CHAIN_LEN {
        return over(ChainLimit::Certificates {
            count: chain.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    let total = chain.iter().fold(0usize, |a, c| a.saturating_add(c.len()));
    if total > MAX_CHAIN_BYTES {
        return over(ChainLimit::Octets {
            count: total,
            max: MAX_CHAIN_BYTES,
        });
    }

    let mut cache = Cache::new(chain);
    let mut details: Vec<RecordFailure> = Vec::new();
    let mut worst = DaneFailureKind::NoMatch;
    let bump = |worst: &mut DaneFailureKind, k: DaneFailureKind| {
        if k.precedence() > worst.precedence() {
            *worst = k;
        }
    };

    // DANE-EE(3): the leaf only (RFC 7672 sec. 3.1.1).
    for r in set.usable().filter(|r| r.usage == 3) {
        if cache.matches(0, r) {
            return DaneOutcome::Matched(DaneMatch {
                record: r.clone(),
                depth: 0,
                via: MatchVia::Chain,
                peername: None,
                presented_name: None,
            });
        }
        let why = if r.selector == 1 && cache.spki(0).is_none() {
            RecordError::LeafUnparsable
        } else {
            RecordError::LeafMismatch
        };
        details.push(RecordFailure {
            record: r.clone(),
            why,
        });
    }

    // DANE-TA(2): issuers only, then path and names (RFC 7672 sec. 3.1.2, 3.2.2).
    let ta_records: Vec<&TlsaRecord> = set.usable().filter(|r| r.usage == 2).collect();
    if !ta_records.is_empty() {
        let leaf_der = CertificateDer::from(chain[0].as_slice());
        let ee = webpki::EndEntityCert::try_from(&leaf_der);
        let now = UnixTime::since_unix_epoch(Duration::from_secs(params.now.as_unix_secs()));
        let mut dns_ta_attempts = 0usize;
        for r in ta_records {
            // A copy of the leaf sent again higher up is still the leaf (S50).
            let found = (1..chain.len()).find(|&d| chain[d] != chain[0] && cache.matches(d, r));
            let result = match found {
                Some(d) => ta_in_chain(chain, d, &ee, now, params).and_then(|m| {
                    let anchor = Anchor::Chain { depth: d };
                    if r.selector == 0 {
                        ta_constraints(&chain[d], anchor, m.0)?;
                    }
                    self_signed_ta_dates(&chain[d], anchor, params.now)?;
                    Ok(m)
                }),
                None => {
                    let leaf_only = cache.matches(0, r);
                    let dns_ta = r.matching == 0 && !leaf_only;
                    if dns_ta {
                        dns_ta_attempts += 1;
                    }
                    match (r.selector, r.matching) {
                        _ if dns_ta && dns_ta_attempts > MAX_DNS_TA_ATTEMPTS => Err((
                            DaneFailureKind::NoMatch,
                            RecordError::SkippedDnsAnchor {
                                max: MAX_DNS_TA_ATTEMPTS,
                            },
                        )),
                        (0, 0) if dns_ta => ta_from_dns_cert(chain, &r.data, &ee, now, params)
                            .and_then(|m| {
                                ta_constraints(&r.data, Anchor::TlsaCertificate, m.0)?;
                                Ok(m)
                            }),
                        (1, 0) if dns_ta => ta_from_dns_key(chain, &r.data, &ee, now, params),
                        _ if leaf_only => Err((DaneFailureKind::NoMatch, RecordError::LeafOnly)),
                        _ => Err((DaneFailureKind::NoMatch, RecordError::NotInChain)),
                    }
                }
            };
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
                Err((k, why)) => {
                    bump(&mut worst, k);
                    details.push(RecordFailure {
                        record: r.clone(),
                        why,
                    });
                }
            }
        }
    }

    if worst == DaneFailureKind::NoMatch && cache.spki(0).is_none() {
        worst = DaneFailureKind::Malformed;
    }
    DaneOutcome::Failed(DaneFailure {
        details,
        ..DaneFailure::before_records(worst)
    })
}

/// Why one DANE-TA(2) attempt failed: the kind it counts as, and the record's reason.
type TaError = (DaneFailureKind, RecordError);

type TaResult = Result<(usize, MatchVia, names::NameMatch), TaError>;

/// The dates of a certificate, when it parses.
fn cert_dates(der: &[u8], depth: Option<usize>, now: i64) -> Option<CertDates> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let validity = cert.validity();
    Some(CertDates {
        depth,
        now,
        not_before: Some(validity.not_before.timestamp()),
        not_after: Some(validity.not_after.timestamp()),
    })
}

/// The dates webpki named, completed from the presented certificate that has them (its
/// depth and its other bound), when one does.
fn webpki_dates(
    chain: &[Vec<u8>],
    now: i64,
    not_before: Option<i64>,
    not_after: Option<i64>,
) -> CertDates {
    chain
        .iter()
        .enumerate()
        .filter_map(|(d, c)| cert_dates(c, Some(d), now))
        .find(|c| {
            not_before.is_none_or(|b| c.not_before == Some(b))
                && not_after.is_none_or(|a| c.not_after == Some(a))
        })
        .unwrap_or(CertDates {
            depth: None,
            now,
            not_before,
            not_after,
        })
}

/// A *self-signed* trust anchor sent in the chain is date-checked, as OpenSSL 3.0 (and so
/// Postfix) does when it ends the path at a self-signed certificate: the interop lab's TA1
/// (`2 0 1` on an expired self-signed root) is Untrusted there, "certificate has expired",
/// whereas an expired *intermediate* anchor (X02) is Verified. A checker that passed TA1
/// would report success where Postfix senders defer the mail.
fn self_signed_ta_dates(ta_der: &[u8], anchor: Anchor, now: Timestamp) -> Result<(), TaError> {
    let Ok((_, cert)) = X509Certificate::from_der(ta_der) else {
        return Ok(());
    };
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return Ok(());
    }
    let at = i64::try_from(now.as_unix_secs()).unwrap_or(i64::MAX);
    let depth = match anchor {
        Anchor::Chain { depth } => Some(depth),
        _ => None,
    };
    let Some(dates) = cert_dates(ta_der, depth, at) else {
        return Ok(());
    };
    let kind = if dates.not_after.is_some_and(|a| at > a) {
        DaneFailureKind::Expired
    } else if dates.not_before.is_some_and(|b| at < b) {
        DaneFailureKind::NotYetValid
    } else {
        return Ok(());
    };
    Err((kind, RecordError::SelfSignedAnchorDates { anchor, dates }))
}

/// The constraints of a trust anchor given as a whole certificate (`2 0 x`), which RFC 7671
/// sec. 5.2.1 says a client SHOULD apply: an explicit basicConstraints `cA:FALSE` means the
/// certificate may not issue (OpenSSL: "invalid CA certificate"), and a pathLenConstraint
/// bounds the intermediates between it and the leaf (`depth - 1`, RFC 5280 sec. 4.2.1.9). A
/// certificate without basicConstraints (a v1 CA) is not refused. The anchor's own dates
/// are not checked: see the module documentation.
fn ta_constraints(ta_der: &[u8], anchor: Anchor, depth: usize) -> Result<(), TaError> {
    let Ok((_, cert)) = X509Certificate::from_der(ta_der) else {
        return Ok(());
    };
    let invalid = |why| Err((DaneFailureKind::ChainInvalid, why));
    let bc = match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value,
        Ok(None) => return Ok(()),
        Err(_) => return invalid(RecordError::AnchorConstraintsMalformed { anchor }),
    };
    if !bc.ca {
        return invalid(RecordError::AnchorNotCa { anchor });
    }
    if let Some(max) = bc.path_len_constraint {
        let below = depth.saturating_sub(1);
        if below > max as usize {
            return invalid(RecordError::PathLenExceeded { anchor, max, below });
        }
    }
    Ok(())
}

fn ta_in_chain(
    chain: &[Vec<u8>],
    d: usize,
    ee: &Result<webpki::EndEntityCert<'_>, webpki::Error>,
    now: UnixTime,
    params: &VerifyParams<'_>,
) -> TaResult {
    let anchor = Anchor::Chain { depth: d };
    let ta_der = CertificateDer::from(chain[d].as_slice());
    let trust = webpki::anchor_from_trusted_cert(&ta_der).map_err(|e| unusable(anchor, &e))?;
    let inter: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .enumerate()
        .filter(|(i, _)| i + 1 != d)
        .map(|(_, c)| CertificateDer::from(c.as_slice()))
        .collect();
    validate(chain, ee, anchor, &[trust], &inter, now, params)
        .map(|(_, nm)| (d, MatchVia::Chain, nm))
}

fn unusable(anchor: Anchor, e: &webpki::Error) -> TaError {
    (
        DaneFailureKind::ChainInvalid,
        RecordError::AnchorUnusable {
            anchor,
            webpki: format!("{e:?}"),
        },
    )
}

fn ta_from_dns_cert(
    chain: &[Vec<u8>],
    data: &[u8],
    ee: &Result<webpki::EndEntityCert<'_>, webpki::Error>,
    now: UnixTime,
    params: &VerifyParams<'_>,
) -> TaResult {
    let anchor = Anchor::TlsaCertificate;
    let ta_der = CertificateDer::from(data);
    let trust = webpki::anchor_from_trusted_cert(&ta_der).map_err(|e| unusable(anchor, &e))?;
    let inter: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    validate(chain, ee, anchor, &[trust], &inter, now, params)
        .map(|(depth, nm)| (depth, MatchVia::TlsaCertificate, nm))
}

fn ta_from_dns_key(
    chain: &[Vec<u8>],
    spki: &[u8],
    ee: &Result<webpki::EndEntityCert<'_>, webpki::Error>,
    now: UnixTime,
    params: &VerifyParams<'_>,
) -> TaResult {
    let Some(key) = der_contents(spki) else {
        return Err((
            DaneFailureKind::ChainInvalid,
            RecordError::AnchorKeyMalformed,
        ));
    };
    // The key's subject is unknown: offer it under every issuer name found in the chain
    // (deduplicated, chain order), webpki picks the one the path needs.
    let mut subjects: Vec<Vec<u8>> = Vec::new();
    for c in chain {
        if let Ok((_, x)) = X509Certificate::from_der(c) {
            if let Some(s) = der_contents(x.issuer().as_raw()) {
                if !subjects.iter().any(|e| e == s) {
                    subjects.push(s.to_vec());
                }
            }
        }
    }
    let anchors: Vec<TrustAnchor<'_>> = subjects
        .iter()
        .map(|s| TrustAnchor {
            subject: Der::from(s.as_slice()),
            subject_public_key_info: Der::from(key),
            name_constraints: None,
        })
        .collect();
    let inter: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    validate(
        chain,
        ee,
        Anchor::TlsaPublicKey,
        &anchors,
        &inter,
        now,
        params,
    )
    .map(|(depth, nm)| (depth, MatchVia::TlsaPublicKey, nm))
}

/// webpki path validation from the leaf to one of `anchors`, then our name check. Returns
/// the anchor's depth (1 + intermediates on the path).
fn validate(
    chain: &[Vec<u8>],
    ee: &Result<webpki::EndEntityCert<'_>, webpki::Error>,
    anchor: Anchor,
    anchors: &[TrustAnchor<'_>],
    inter: &[CertificateDer<'_>],
    now: UnixTime,
    params: &VerifyParams<'_>,
) -> Result<(usize, names::NameMatch), TaError> {
    let ee = ee.as_ref().map_err(|e| {
        (
            DaneFailureKind::ChainInvalid,
            RecordError::LeafRejected {
                anchor,
                error: path_error(chain, e),
            },
        )
    })?;
    let path = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            inter,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| {
            (
                map_webpki(&e),
                RecordError::PathInvalid {
                    anchor,
                    error: path_error(chain, &e),
                },
            )
        })?;
    let depth = 1 + path.intermediate_certificates().count();
    let nm = names::check_names(&chain[0], params.reference_ids).map_err(|names| {
        (
            DaneFailureKind::NameMismatch,
            RecordError::NameMismatch { anchor, names },
        )
    })?;
    Ok((depth, nm))
}

fn map_webpki(e: &webpki::Error) -> DaneFailureKind {
    match e {
        webpki::Error::CertExpired { .. } => DaneFailureKind::Expired,
        webpki::Error::CertNotValidYet { .. } => DaneFailureKind::NotYetValid,
        _ => DaneFailureKind::ChainInvalid,
    }
}

fn unix(t: &UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

fn path_error(chain: &[Vec<u8>], e: &webpki::Error) -> PathError {
    match e {
        webpki::Error::CertExpired { time, not_after } => {
            PathError::Expired(webpki_dates(chain, unix(time), None, Some(unix(not_after))))
        }
        webpki::Error::CertNotValidYet { time, not_before } => PathError::NotYetValid(
            webpki_dates(chain, unix(time), Some(unix(not_before)), None),
        ),
        webpki::Error::UnknownIssuer => PathError::UnknownIssuer,
        webpki::Error::CaUsedAsEndEntity => PathError::CaUsedAsEndEntity,
        webpki::Error::UnsupportedCertVersion => PathError::UnsupportedCertVersion,
        webpki::Error::BadDer => PathError::BadDer,
        other => PathError::Other {
            webpki: format!("{other:?}"),
        },
    }
}
