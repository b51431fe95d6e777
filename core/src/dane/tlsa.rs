//! TLSA records (stub: filled in by the DANE work).
use serde::{Deserialize, Serialize};

/// A TLSA record (RFC 6698 sec. 2.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TlsaRecord {
    /// Certificate usage.
    pub usage: u8,
    /// Selector.
    pub selector: u8,
    /// Matching type.
    pub matching: u8,
    /// Certificate association data.
    #[serde(with = "crate::hex::serde_bytes")]
    pub data: Vec<u8>,
}
/// Certificate usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertUsage {
    /// 0
    PkixTa,
}
/// Selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// 0
    Cert,
}
/// Matching type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchingType {
    /// 0
    Full,
}
/// Parse error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaParseError;
/// Why unusable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unusable {
    /// x
    UnknownUsage(u8),
}
/// Digest preferences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestPrefs;
/// Usages allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsagePolicy;
/// A record with its usability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaEntry {
    /// The record.
    pub record: TlsaRecord,
    /// Why unusable, if so.
    pub unusable: Option<Unusable>,
}
/// A TLSA RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaSet {
    /// The entries.
    pub entries: Vec<TlsaEntry>,
}
impl TlsaSet {
    /// x
    pub fn new(_r: Vec<TlsaRecord>, _u: &UsagePolicy, _d: &DigestPrefs) -> Self {
        unimplemented!()
    }
    /// x
    pub fn has_usable(&self) -> bool {
        false
    }
}
impl UsagePolicy {
    /// x
    pub fn smtp() -> Self {
        UsagePolicy
    }
}
impl DigestPrefs {
    /// x
    pub fn parse(_s: &str) -> Result<Self, String> {
        Ok(DigestPrefs)
    }
}
impl TlsaRecord {
    /// x
    pub fn to_text(&self) -> String {
        String::new()
    }
}
impl std::fmt::Display for Unusable {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
