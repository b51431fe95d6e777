//! TLSA records (RFC 6698 sec. 2), their RFC 7218 mnemonics, and which of them are *usable*
//! (RFC 6698 sec. 4.1, RFC 7672 sec. 3, RFC 7671 sec. 9 digest agility).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hex;

/// The largest RDATA a DNS resource record can carry (RFC 1035 sec. 3.2.1, RDLENGTH is 16 bits).
pub const MAX_RDATA_LEN: usize = 65_535;

/// A TLSA record (RFC 6698 sec. 2.1): certificate usage, selector, matching type and
/// certificate association data. The three fields are kept as raw octets so that unknown
/// values survive parsing and can be reported (RFC 6698 sec. 4.1: such records are unusable).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TlsaRecord {
    /// Certificate usage (RFC 6698 sec. 2.1.1).
    pub usage: u8,
    /// Selector (RFC 6698 sec. 2.1.2).
    pub selector: u8,
    /// Matching type (RFC 6698 sec. 2.1.3).
    pub matching: u8,
    /// Certificate association data (RFC 6698 sec. 2.1.4), hex in serde form.
    #[serde(with = "crate::hex::serde_bytes")]
    pub data: Vec<u8>,
}

/// Why a TLSA record could not be parsed (RFC 6698 sec. 2.1 wire form, sec. 2.2 presentation
/// form, RFC 7218 mnemonics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsaParseError {
    /// Wire RDATA shorter than the 3 fixed octets (RFC 6698 sec. 2.1).
    TooShort {
        /// Octets received.
        len: usize,
    },
    /// Wire RDATA longer than [`MAX_RDATA_LEN`].
    TooLong {
        /// Octets received.
        len: usize,
    },
    /// A presentation field is missing (`usage`, `selector`, `matching type` or `data`).
    MissingField(&'static str),
    /// A usage/selector/matching type field is neither a number 0-255 nor a known mnemonic.
    BadField {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
    },
    /// The association data is not hexadecimal (RFC 6698 sec. 2.2).
    BadHex,
}

impl fmt::Display for TlsaParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsaParseError::TooShort { len } => {
                write!(f, "TLSA RDATA too short: {len} octets, need at least 3")
            }
            TlsaParseError::TooLong { len } => {
                write!(
                    f,
                    "TLSA RDATA too long: {len} octets, at most {MAX_RDATA_LEN}"
                )
            }
            TlsaParseError::MissingField(w) => write!(f, "TLSA record: missing {w}"),
            TlsaParseError::BadField { field, text } => {
                write!(f, "TLSA record: bad {field} {text:?}")
            }
            TlsaParseError::BadHex => {
                write!(f, "TLSA record: certificate association data is not hex")
            }
        }
    }
}

impl std::error::Error for TlsaParseError {}

impl TlsaRecord {
    /// A record from its four fields (RFC 6698 sec. 2.1).
    pub fn new(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Self {
        TlsaRecord {
            usage,
            selector,
            matching,
            data,
        }
    }

    /// Parses wire-form RDATA (RFC 6698 sec. 2.1): three octets then the data. Empty data is
    /// accepted here (the record is then unusable, RFC 6698 sec. 4.1).
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, TlsaParseError> {
        if rdata.len() < 3 {
            return Err(TlsaParseError::TooShort { len: rdata.len() });
        }
        if rdata.len() > MAX_RDATA_LEN {
            return Err(TlsaParseError::TooLong { len: rdata.len() });
        }
        Ok(TlsaRecord::new(
            rdata[0],
            rdata[1],
            rdata[2],
            rdata[3..].to_vec(),
        ))
    }

    /// Wire-form RDATA (RFC 6698 sec. 2.1).
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(3 + self.data.len());
        v.extend_from_slice(&[self.usage, self.selector, self.matching]);
        v.extend_from_slice(&self.data);
        v
    }

    /// Presentation form with numbers and lower-case hex (RFC 6698 sec. 2.2): `3 1 1 ab12...`.
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex::encode(&self.data)
        )
    }

    /// Presentation form with RFC 7218 mnemonics: `DANE-EE SPKI SHA2-256 ab12...`. Values
    /// without a mnemonic are written as numbers.
    pub fn to_mnemonic(&self) -> String {
        format!(
            "{} {} {} {}",
            self.cert_usage().mnemonic(),
            self.selector_kind().mnemonic(),
            self.matching_type().mnemonic(),
            hex::encode(&self.data)
        )
    }

    /// The usage field, decoded (RFC 6698 sec. 2.1.1, RFC 7218 sec. 2.1).
    pub fn cert_usage(&self) -> CertUsage {
        CertUsage::from_u8(self.usage)
    }

    /// The selector field, decoded (RFC 6698 sec. 2.1.2, RFC 7218 sec. 2.2).
    pub fn selector_kind(&self) -> Selector {
        Selector::from_u8(self.selector)
    }

    /// The matching type field, decoded (RFC 6698 sec. 2.1.3, RFC 7218 sec. 2.3).
    pub fn matching_type(&self) -> MatchingType {
        MatchingType::from_u8(self.matching)
    }
}

impl fmt::Display for TlsaRecord {
    /// Same as [`TlsaRecord::to_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for TlsaRecord {
    type Err = TlsaParseError;

    /// Parses the presentation form (RFC 6698 sec. 2.2): `u s m hex`, where each of `u s m` is
    /// a decimal number or an RFC 7218 mnemonic (case-insensitive), and the hex may be split
    /// by white space or wrapped in zone-file parentheses. A zone-file prefix ending in the
    /// `TLSA` type (`_25._tcp.mx.example.com. 3600 IN TLSA 3 1 1 ...`) is skipped. The data must
    /// not be empty (zone-file parsers reject that too). Text after a `;` is a comment.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.split(';').next().unwrap_or("");
        let cleaned: String = s
            .chars()
            .map(|c| if c == '(' || c == ')' { ' ' } else { c })
            .collect();
        let tokens: Vec<&str> = cleaned.split_whitespace().collect();
        let start = tokens
            .iter()
            .position(|t| t.eq_ignore_ascii_case("TLSA"))
            .map_or(0, |i| i + 1);
        let mut it = tokens[start..].iter();
        let u = it.next().ok_or(TlsaParseError::MissingField("usage"))?;
        let sel = it.next().ok_or(TlsaParseError::MissingField("selector"))?;
        let m = it
            .next()
            .ok_or(TlsaParseError::MissingField("matching type"))?;
        let usage = parse_field(u, "usage", CertUsage::from_mnemonic)?;
        let selector = parse_field(sel, "selector", Selector::from_mnemonic)?;
        let matching = parse_field(m, "matching type", MatchingType::from_mnemonic)?;
        let hex_text: String = it.copied().collect();
        if hex_text.is_empty() {
            return Err(TlsaParseError::MissingField("data"));
        }
        if hex_text.len() > 2 * MAX_RDATA_LEN {
            return Err(TlsaParseError::TooLong {
                len: hex_text.len() / 2,
            });
        }
        let data = hex::decode(&hex_text).ok_or(TlsaParseError::BadHex)?;
        Ok(TlsaRecord::new(usage, selector, matching, data))
    }
}

fn parse_field(
    t: &str,
    field: &'static str,
    mnemonic: fn(&str) -> Option<u8>,
) -> Result<u8, TlsaParseError> {
    if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = t.parse::<u8>() {
            return Ok(v);
        }
    }
    mnemonic(t).ok_or_else(|| TlsaParseError::BadField {
        field,
        text: t.chars().take(40).collect(),
    })
}

/// Certificate usage (RFC 6698 sec. 2.1.1; mnemonics RFC 7218 sec. 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertUsage {
    /// 0, `PKIX-TA`: CA constraint.
    PkixTa,
    /// 1, `PKIX-EE`: service certificate constraint.
    PkixEe,
    /// 2, `DANE-TA`: trust anchor assertion.
    DaneTa,
    /// 3, `DANE-EE`: domain-issued certificate.
    DaneEe,
    /// 255, `PrivCert`: private use.
    PrivateUse,
    /// Any other value (unassigned).
    Unassigned(u8),
}

impl CertUsage {
    /// Decodes the octet.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => CertUsage::PkixTa,
            1 => CertUsage::PkixEe,
            2 => CertUsage::DaneTa,
            3 => CertUsage::DaneEe,
            255 => CertUsage::PrivateUse,
            n => CertUsage::Unassigned(n),
        }
    }

    /// The octet.
    pub fn to_u8(self) -> u8 {
        match self {
            CertUsage::PkixTa => 0,
            CertUsage::PkixEe => 1,
            CertUsage::DaneTa => 2,
            CertUsage::DaneEe => 3,
            CertUsage::PrivateUse => 255,
            CertUsage::Unassigned(n) => n,
        }
    }

    /// RFC 7218 mnemonic, or the number for unassigned values.
    pub fn mnemonic(self) -> String {
        match self {
            CertUsage::PkixTa => "PKIX-TA".into(),
            CertUsage::PkixEe => "PKIX-EE".into(),
            CertUsage::DaneTa => "DANE-TA".into(),
            CertUsage::DaneEe => "DANE-EE".into(),
            CertUsage::PrivateUse => "PrivCert".into(),
            CertUsage::Unassigned(n) => n.to_string(),
        }
    }

    /// Parses an RFC 7218 mnemonic (case-insensitive) to its octet.
    pub fn from_mnemonic(s: &str) -> Option<u8> {
        ["PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"]
            .iter()
            .position(|m| m.eq_ignore_ascii_case(s))
            .map(|i| i as u8)
            .or_else(|| s.eq_ignore_ascii_case("PrivCert").then_some(255))
    }
}

/// Selector (RFC 6698 sec. 2.1.2; mnemonics RFC 7218 sec. 2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// 0, `Cert`: the full certificate DER.
    Cert,
    /// 1, `SPKI`: the DER SubjectPublicKeyInfo.
    Spki,
    /// 255, `PrivSel`: private use.
    PrivateUse,
    /// Any other value (unassigned).
    Unassigned(u8),
}

impl Selector {
    /// Decodes the octet.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Selector::Cert,
            1 => Selector::Spki,
            255 => Selector::PrivateUse,
            n => Selector::Unassigned(n),
        }
    }

    /// The octet.
    pub fn to_u8(self) -> u8 {
        match self {
            Selector::Cert => 0,
            Selector::Spki => 1,
            Selector::PrivateUse => 255,
            Selector::Unassigned(n) => n,
        }
    }

    /// RFC 7218 mnemonic, or the number for unassigned values.
    pub fn mnemonic(self) -> String {
        match self {
            Selector::Cert => "Cert".into(),
            Selector::Spki => "SPKI".into(),
            Selector::PrivateUse => "PrivSel".into(),
            Selector::Unassigned(n) => n.to_string(),
        }
    }

    /// Parses an RFC 7218 mnemonic (case-insensitive) to its octet.
    pub fn from_mnemonic(s: &str) -> Option<u8> {
        if s.eq_ignore_ascii_case("Cert") {
            Some(0)
        } else if s.eq_ignore_ascii_case("SPKI") {
            Some(1)
        } else if s.eq_ignore_ascii_case("PrivSel") {
            Some(255)
        } else {
            None
        }
    }
}

/// Matching type (RFC 6698 sec. 2.1.3; mnemonics RFC 7218 sec. 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchingType {
    /// 0, `Full`: exact match of the selected content.
    Full,
    /// 1, `SHA2-256`.
    Sha256,
    /// 2, `SHA2-512`.
    Sha512,
    /// 255, `PrivMatch`: private use.
    PrivateUse,
    /// Any other value (unassigned).
    Unassigned(u8),
}

impl MatchingType {
    /// Decodes the octet.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => MatchingType::Full,
            1 => MatchingType::Sha256,
            2 => MatchingType::Sha512,
            255 => MatchingType::PrivateUse,
            n => MatchingType::Unassigned(n),
        }
    }

    /// The octet.
    pub fn to_u8(self) -> u8 {
        match self {
            MatchingType::Full => 0,
            MatchingType::Sha256 => 1,
            MatchingType::Sha512 => 2,
            MatchingType::PrivateUse => 255,
            MatchingType::Unassigned(n) => n,
        }
    }

    /// RFC 7218 mnemonic, or the number for unassigned values.
    pub fn mnemonic(self) -> String {
        match self {
            MatchingType::Full => "Full".into(),
            MatchingType::Sha256 => "SHA2-256".into(),
            MatchingType::Sha512 => "SHA2-512".into(),
            MatchingType::PrivateUse => "PrivMatch".into(),
            MatchingType::Unassigned(n) => n.to_string(),
        }
    }

    /// Parses an RFC 7218 mnemonic (case-insensitive) to its octet.
    pub fn from_mnemonic(s: &str) -> Option<u8> {
        ["Full", "SHA2-256", "SHA2-512"]
            .iter()
            .position(|m| m.eq_ignore_ascii_case(s))
            .map(|i| i as u8)
            .or_else(|| s.eq_ignore_ascii_case("PrivMatch").then_some(255))
    }

    /// Digest length in octets for the digest types (RFC 6234): 32 or 64.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            MatchingType::Sha256 => Some(32),
            MatchingType::Sha512 => Some(64),
            _ => None,
        }
    }
}

/// Why a TLSA record is unusable (RFC 6698 sec. 4.1, RFC 7672 sec. 3, RFC 7671 sec. 9).
/// The `Display` wording follows Postfix's "unusable TLSA RR" warnings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unusable {
    /// Usage is unassigned or private (RFC 6698 sec. 4.1).
    UnknownUsage(u8),
    /// Usage known but not used by this protocol: PKIX-TA(0)/PKIX-EE(1) for SMTP
    /// (RFC 7672 sec. 3.1.3).
    UsageNotForProtocol(u8),
    /// Selector is unassigned or private (RFC 6698 sec. 4.1).
    UnknownSelector(u8),
    /// Matching type is unassigned (RFC 6698 sec. 4.1).
    UnknownMatchingType(u8),
    /// Matching type 255 (private use): reserved, as Postfix does.
    PrivateMatchingType,
    /// The digest is not enabled in [`DigestPrefs`] (Postfix `tls_dane_digests`).
    DigestNotEnabled,
    /// The data length does not fit the digest (RFC 6698 sec. 2.1.4).
    WrongDigestLength {
        /// Octets the digest has.
        expected: usize,
        /// Octets in the record.
        actual: usize,
    },
    /// A Full(0) record with selector Cert(0) whose data is not a DER certificate.
    BadFullCertificate,
    /// A Full(0) record with selector SPKI(1) whose data is not a DER SubjectPublicKeyInfo.
    BadFullPublicKey,
    /// A stronger enabled digest is published for the same (usage, selector), so this weaker
    /// one is ignored (RFC 7671 sec. 9). `preferred` is that stronger matching type.
    IgnoredByDigestAgility {
        /// The matching type that wins for this (usage, selector).
        preferred: u8,
    },
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::UnknownUsage(u) => write!(f, "unsupported TLSA certificate usage {u}"),
            Unusable::UsageNotForProtocol(u) => write!(
                f,
                "TLSA certificate usage {u} ({}) not supported for this protocol",
                CertUsage::from_u8(*u).mnemonic()
            ),
            Unusable::UnknownSelector(s) => write!(f, "unsupported TLSA selector {s}"),
            Unusable::UnknownMatchingType(m) => write!(f, "unsupported TLSA matching type {m}"),
            Unusable::PrivateMatchingType => f.write_str("reserved private-use matching type"),
            Unusable::DigestNotEnabled => {
                f.write_str("TLSA digest algorithm not enabled (tls_dane_digests)")
            }
            Unusable::WrongDigestLength { expected, actual } => write!(
                f,
                "malformed TLSA RR: digest length {actual}, expected {expected}"
            ),
            Unusable::BadFullCertificate => {
                f.write_str("malformed TLSA RR: data is not a DER certificate")
            }
            Unusable::BadFullPublicKey => {
                f.write_str("malformed TLSA RR: data is not a DER SubjectPublicKeyInfo")
            }
            Unusable::IgnoredByDigestAgility { preferred } => write!(
                f,
                "ignored: stronger digest {} published for the same usage and selector \
                 (RFC 7671 sec. 9)",
                MatchingType::from_u8(*preferred).mnemonic()
            ),
        }
    }
}

/// Which certificate usages a protocol uses (RFC 7672 sec. 3.1 for SMTP: DANE-TA and DANE-EE;
/// RFC 7673 / RFC 6698 allow all four for other services).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsagePolicy {
    /// `allowed[u]` for u in 0..=3.
    allowed: [bool; 4],
}

impl UsagePolicy {
    /// SMTP (RFC 7672 sec. 3.1.3): DANE-TA(2) and DANE-EE(3) only; PKIX-TA(0) and PKIX-EE(1)
    /// are unusable, as in Postfix, mox, Stalwart and danecheck.
    pub fn smtp() -> Self {
        UsagePolicy {
            allowed: [false, false, true, true],
        }
    }

    /// All four RFC 6698 usages (PKIX usages need WebPKI validation as well, RFC 7671 sec. 5.3,
    /// 5.4; the caller provides that).
    pub fn all() -> Self {
        UsagePolicy { allowed: [true; 4] }
    }

    /// Whether `usage` is usable under this policy.
    pub fn allows(&self, usage: CertUsage) -> bool {
        match usage {
            CertUsage::PkixTa => self.allowed[0],
            CertUsage::PkixEe => self.allowed[1],
            CertUsage::DaneTa => self.allowed[2],
            CertUsage::DaneEe => self.allowed[3],
            _ => false,
        }
    }
}

impl Default for UsagePolicy {
    /// [`UsagePolicy::smtp`].
    fn default() -> Self {
        UsagePolicy::smtp()
    }
}

/// A digest algorithm a TLSA matching type may name (RFC 6698 sec. 2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlg {
    /// SHA2-256, matching type 1.
    Sha256,
    /// SHA2-512, matching type 2.
    Sha512,
}

impl DigestAlg {
    /// The matching type carrying this digest.
    pub fn matching_type(self) -> u8 {
        match self {
            DigestAlg::Sha256 => 1,
            DigestAlg::Sha512 => 2,
        }
    }

    /// Postfix name (`sha256`, `sha512`).
    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha512 => "sha512",
        }
    }
}

/// Enabled digests, strongest first (RFC 7671 sec. 9; Postfix `tls_dane_digests`, default
/// `sha512 sha256`). A matching type whose digest is absent makes its records unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestPrefs {
    order: Vec<DigestAlg>,
}

/// A bad [`DigestPrefs`] string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestPrefsError(pub String);

impl fmt::Display for DigestPrefsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad TLSA digest list: {}", self.0)
    }
}

impl std::error::Error for DigestPrefsError {}

impl DigestPrefs {
    /// The enabled digests, strongest first.
    pub fn order(&self) -> &[DigestAlg] {
        &self.order
    }

    /// A list from digests, strongest first.
    pub fn new(order: Vec<DigestAlg>) -> Self {
        let mut seen = Vec::new();
        for d in order {
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
        DigestPrefs { order: seen }
    }

    /// Rank of `matching` (0 = strongest), `None` if not a digest or not enabled.
    pub fn rank(&self, matching: u8) -> Option<usize> {
        self.order
            .iter()
            .position(|d| d.matching_type() == matching)
    }
}

impl Default for DigestPrefs {
    /// `sha512 sha256`, Postfix's default.
    fn default() -> Self {
        DigestPrefs {
            order: vec![DigestAlg::Sha512, DigestAlg::Sha256],
        }
    }
}

impl FromStr for DigestPrefs {
    type Err = DigestPrefsError;

    /// Parses a Postfix-style list: names separated by white space or commas, strongest
    /// first; `name=number` is accepted when the number is the name's matching type (Postfix
    /// pins sha256=1 and sha512=2). Unknown names, codepoints 0/255 and duplicates are
    /// errors. An empty list enables no digest (only Full(0) records stay usable).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut order = Vec::new();
        for tok in s.split(|c: char| c.is_whitespace() || c == ',') {
            if tok.is_empty() {
                continue;
            }
            let (name, num) = match tok.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (tok, None),
            };
            let alg = if name.eq_ignore_ascii_case("sha256") {
                DigestAlg::Sha256
            } else if name.eq_ignore_ascii_case("sha512") {
                DigestAlg::Sha512
            } else {
                return Err(DigestPrefsError(format!("unknown digest {name:?}")));
            };
            if let Some(v) = num {
                if v.parse::<u8>().ok() != Some(alg.matching_type()) {
                    return Err(DigestPrefsError(format!(
                        "{name} must be matching type {}",
                        alg.matching_type()
                    )));
                }
            }
            if order.contains(&alg) {
                return Err(DigestPrefsError(format!("duplicate digest {name}")));
            }
            order.push(alg);
        }
        Ok(DigestPrefs { order })
    }
}

impl fmt::Display for DigestPrefs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.order.iter().map(|d| d.name()).collect();
        f.write_str(&names.join(" "))
    }
}

/// A TLSA record with its usability (RFC 6698 sec. 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaEntry {
    /// The record.
    pub record: TlsaRecord,
    /// Why it is unusable; `None` when usable.
    pub unusable: Option<Unusable>,
}

/// A TLSA RRset with per-record usability (RFC 6698 sec. 4.1, RFC 7672 sec. 2.2 and 3,
/// RFC 7671 sec. 9).
///
/// Entries are sorted (usage, selector, matching type, data) and exact duplicates removed:
/// an RRset is a set, and DNS order must not change which record a report names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaSet {
    /// The entries, sorted, without duplicates.
    pub entries: Vec<TlsaEntry>,
}

impl TlsaSet {
    /// Computes usability of each record under `policy` and `digests`.
    ///
    /// Order of checks (the first failing one is the reason kept): usage known, usage allowed
    /// by the protocol, selector known, matching type known and not private, digest enabled,
    /// digest length, Full(0) data parses. Then RFC 7671 sec. 9 agility: for each (usage,
    /// selector), the strongest enabled digest among the records *still usable* wins and
    /// usable records with weaker digests get [`Unusable::IgnoredByDigestAgility`]; Full(0)
    /// records are never ignored, and a malformed stronger record (for instance a `3 1 2`
    /// with 31 octets) never disables a good weaker one.
    pub fn new(records: Vec<TlsaRecord>, policy: &UsagePolicy, digests: &DigestPrefs) -> Self {
        let mut records = records;
        records.sort();
        records.dedup();
        let mut entries: Vec<TlsaEntry> = records
            .into_iter()
            .map(|r| {
                let unusable = check_record(&r, policy, digests);
                TlsaEntry {
                    record: r,
                    unusable,
                }
            })
            .collect();
        // Digest agility (RFC 7671 sec. 9).
        let mut best: std::collections::BTreeMap<(u8, u8), usize> = Default::default();
        for e in entries.iter().filter(|e| e.unusable.is_none()) {
            if let Some(rank) = digests.rank(e.record.matching) {
                let k = (e.record.usage, e.record.selector);
                let b = best.entry(k).or_insert(rank);
                *b = (*b).min(rank);
            }
        }
        for e in entries.iter_mut().filter(|e| e.unusable.is_none()) {
            if let (Some(rank), Some(&b)) = (
                digests.rank(e.record.matching),
                best.get(&(e.record.usage, e.record.selector)),
            ) {
                if rank > b {
                    e.unusable = Some(Unusable::IgnoredByDigestAgility {
                        preferred: digests.order()[b].matching_type(),
                    });
                }
            }
        }
        TlsaSet { entries }
    }

    /// The usable records, in set order.
    pub fn usable(&self) -> impl Iterator<Item = &TlsaRecord> + '_ {
        self.entries
            .iter()
            .filter(|e| e.unusable.is_none())
            .map(|e| &e.record)
    }

    /// The unusable records with their reasons, in set order.
    pub fn unusable(&self) -> impl Iterator<Item = (&TlsaRecord, &Unusable)> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.unusable.as_ref().map(|u| (&e.record, u)))
    }

    /// At least one usable record: authentication is mandatory (RFC 7672 sec. 2.2 (a)).
    pub fn has_usable(&self) -> bool {
        self.entries.iter().any(|e| e.unusable.is_none())
    }

    /// No records at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

fn check_record(r: &TlsaRecord, policy: &UsagePolicy, digests: &DigestPrefs) -> Option<Unusable> {
    let usage = r.cert_usage();
    match usage {
        CertUsage::PrivateUse | CertUsage::Unassigned(_) => {
            return Some(Unusable::UnknownUsage(r.usage))
        }
        _ if !policy.allows(usage) => return Some(Unusable::UsageNotForProtocol(r.usage)),
        _ => {}
    }
    let selector = r.selector_kind();
    if !matches!(selector, Selector::Cert | Selector::Spki) {
        return Some(Unusable::UnknownSelector(r.selector));
    }
    let mt = r.matching_type();
    match mt {
        MatchingType::PrivateUse => return Some(Unusable::PrivateMatchingType),
        MatchingType::Unassigned(m) => return Some(Unusable::UnknownMatchingType(m)),
        MatchingType::Sha256 | MatchingType::Sha512 => {
            if digests.rank(r.matching).is_none() {
                return Some(Unusable::DigestNotEnabled);
            }
            let expected = mt.digest_len().unwrap_or(0);
            if r.data.len() != expected {
                return Some(Unusable::WrongDigestLength {
                    expected,
                    actual: r.data.len(),
                });
            }
        }
        MatchingType::Full => {
            if selector == Selector::Cert {
                if !super::verify::is_der_certificate(&r.data) {
                    return Some(Unusable::BadFullCertificate);
                }
            } else if !super::verify::is_der_spki(&r.data) {
                return Some(Unusable::BadFullPublicKey);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let r: TlsaRecord = "3 1 1 AB12 cd".parse().unwrap();
        assert_eq!(r, TlsaRecord::new(3, 1, 1, vec![0xab, 0x12, 0xcd]));
        assert_eq!(r.to_text(), "3 1 1 ab12cd");
        assert_eq!(r.to_mnemonic(), "DANE-EE SPKI SHA2-256 ab12cd");
        let m: TlsaRecord = "dane-ta cert sha2-512 00".parse().unwrap();
        assert_eq!((m.usage, m.selector, m.matching), (2, 0, 2));
        let z: TlsaRecord = "_25._tcp.mx.example.com. 3600 IN TLSA 3 1 1 ( ab\n 12 ) ; c"
            .parse()
            .unwrap();
        assert_eq!(z.data, vec![0xab, 0x12]);
        let p: TlsaRecord = "PrivCert PrivSel PrivMatch 00".parse().unwrap();
        assert_eq!((p.usage, p.selector, p.matching), (255, 255, 255));
        assert_eq!(
            "3 1".parse::<TlsaRecord>(),
            Err(TlsaParseError::MissingField("matching type"))
        );
        assert_eq!(
            "3 1 1".parse::<TlsaRecord>(),
            Err(TlsaParseError::MissingField("data"))
        );
        assert_eq!(
            "3 1 1 abc".parse::<TlsaRecord>(),
            Err(TlsaParseError::BadHex)
        );
        assert!(matches!(
            "256 1 1 ab".parse::<TlsaRecord>(),
            Err(TlsaParseError::BadField { .. })
        ));
        assert_eq!(
            TlsaRecord::from_rdata(&[3, 1]),
            Err(TlsaParseError::TooShort { len: 2 })
        );
        let w = TlsaRecord::from_rdata(&[3, 1, 1, 9]).unwrap();
        assert_eq!(w.to_rdata(), vec![3, 1, 1, 9]);
    }

    #[test]
    fn digest_prefs() {
        assert_eq!(
            "sha512 sha256".parse::<DigestPrefs>().unwrap(),
            DigestPrefs::default()
        );
        let p: DigestPrefs = "sha256=1".parse().unwrap();
        assert_eq!(p.rank(1), Some(0));
        assert_eq!(p.rank(2), None);
        assert!("sha1".parse::<DigestPrefs>().is_err());
        assert!("sha256=2".parse::<DigestPrefs>().is_err());
        assert!("sha256 sha256".parse::<DigestPrefs>().is_err());
        assert_eq!(DigestPrefs::default().to_string(), "sha512 sha256");
    }

    #[test]
    fn usability_and_agility() {
        let d = DigestPrefs::default();
        let s = TlsaSet::new(
            vec![
                TlsaRecord::new(3, 1, 1, vec![1; 32]),
                TlsaRecord::new(3, 1, 2, vec![2; 64]),
                TlsaRecord::new(3, 0, 1, vec![3; 32]),
                TlsaRecord::new(0, 1, 1, vec![4; 32]),
                TlsaRecord::new(3, 1, 7, vec![5; 32]),
                TlsaRecord::new(3, 1, 255, vec![5; 32]),
                TlsaRecord::new(9, 1, 1, vec![5; 32]),
                TlsaRecord::new(3, 9, 1, vec![5; 32]),
                TlsaRecord::new(3, 1, 1, vec![5; 31]),
                TlsaRecord::new(2, 0, 0, vec![0x30, 0]),
                TlsaRecord::new(2, 1, 0, vec![0x30, 0]),
            ],
            &UsagePolicy::smtp(),
            &d,
        );
        let why = |u, s_, m, first: u8| {
            s.entries
                .iter()
                .find(|e| {
                    (e.record.usage, e.record.selector, e.record.matching) == (u, s_, m)
                        && e.record.data.first() == Some(&first)
                })
                .unwrap()
                .unusable
                .clone()
        };
        assert_eq!(
            why(3, 1, 1, 1),
            Some(Unusable::IgnoredByDigestAgility { preferred: 2 })
        );
        assert_eq!(why(3, 1, 2, 2), None);
        assert_eq!(why(3, 0, 1, 3), None);
        assert_eq!(why(0, 1, 1, 4), Some(Unusable::UsageNotForProtocol(0)));
        assert_eq!(why(3, 1, 7, 5), Some(Unusable::UnknownMatchingType(7)));
        assert_eq!(why(3, 1, 255, 5), Some(Unusable::PrivateMatchingType));
        assert_eq!(why(9, 1, 1, 5), Some(Unusable::UnknownUsage(9)));
        assert_eq!(why(3, 9, 1, 5), Some(Unusable::UnknownSelector(9)));
        assert_eq!(why(2, 0, 0, 0x30), Some(Unusable::BadFullCertificate));
        assert_eq!(why(2, 1, 0, 0x30), Some(Unusable::BadFullPublicKey));
        // A malformed 3 1 2 does not disable a good 3 1 1.
        let s2 = TlsaSet::new(
            vec![
                TlsaRecord::new(3, 1, 1, vec![1; 32]),
                TlsaRecord::new(3, 1, 2, vec![2; 63]),
            ],
            &UsagePolicy::smtp(),
            &d,
        );
        assert_eq!(s2.usable().count(), 1);
        assert_eq!(s2.usable().next().unwrap().matching, 1);
        // Digest not enabled.
        let s3 = TlsaSet::new(
            vec![TlsaRecord::new(3, 1, 2, vec![2; 64])],
            &UsagePolicy::smtp(),
            &"sha256".parse().unwrap(),
        );
        assert_eq!(s3.entries[0].unusable, Some(Unusable::DigestNotEnabled));
        assert!(!s3.has_usable());
    }
}
