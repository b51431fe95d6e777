//! Chain verification (stub: filled in by the DANE work).
use super::{TlsaRecord, TlsaSet};

/// Parameters.
pub struct VerifyParams<'a> {
    /// Reference identifiers.
    pub reference_ids: &'a [String],
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
}
/// How the TA was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchVia {
    /// In chain.
    Chain,
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
}
/// Verifies.
pub fn verify(_chain: &[Vec<u8>], _set: &TlsaSet, _params: &VerifyParams<'_>) -> DaneOutcome {
    unimplemented!()
}
