//! Chain verification (stub: filled in by the DANE work).
use super::{TlsaRecord, TlsaSet};

/// Parameters.
pub struct VerifyParams<'a> {
    /// Reference identifiers.
    pub reference_ids: &'a [String],
    /// Now.
    pub now: crate::time::Timestamp,
}
/// Outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneOutcome {
    /// Matched.
    Matched(DaneMatch),
    /// Failed.
    Failed(DaneFailure),
}
/// Match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneMatch {
    /// Record.
    pub record: TlsaRecord,
    /// Depth.
    pub depth: usize,
    /// How.
    pub via: MatchVia,
    /// Peer name.
    pub peername: Option<String>,
}
/// How the TA was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchVia {
    /// In chain.
    Chain,
    /// x
    TlsaCertificate,
    /// x
    TlsaPublicKey,
}
/// Failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneFailure {
    /// Kind.
    pub kind: DaneFailureKind,
}
/// Failure kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaneFailureKind {
    /// No record matched.
    NoMatch,
    /// x
    NameMismatch,
    /// x
    Expired,
    /// x
    NotYetValid,
}
impl std::fmt::Display for DaneFailure {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
/// Verifies.
pub fn verify(_chain: &[Vec<u8>], _set: &TlsaSet, _params: &VerifyParams<'_>) -> DaneOutcome {
    unimplemented!()
}
