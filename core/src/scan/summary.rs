//! What a scan found, counted as it goes: the table `daneel scan` prints at the end.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{CacheStats, ScanOutcome, ScanResult};

/// How many of the slowest domains a [`ScanSummary`] keeps.
pub const SLOWEST_KEPT: usize = 10;

/// Counts per verdict and per failure reason, the slowest domains, and what the shared DNS
/// cache saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScanSummary {
    /// Domains finished, invalid lines included.
    pub domains: u64,
    /// Lines that were not a destination.
    pub invalid: u64,
    /// Domains per verdict (`dane-verified`, `no-dane`, ...).
    pub verdicts: BTreeMap<String, u64>,
    /// Domains per failure reason code (`tlsa-mismatch`, `dns-bogus`, ...): a domain counts
    /// once for each distinct reason in its report, of the domain, a host or a connection.
    pub reasons: BTreeMap<String, u64>,
    /// The slowest domains and their check's duration in milliseconds, slowest first.
    pub slowest: Vec<(String, u64)>,
    /// What the shared DNS cache did.
    pub cache: CacheStats,
    /// The most checks that ran at once (at most [`super::ScanConfig::concurrency`]; fewer when
    /// the limits held new domains back).
    pub peak_running: usize,
}

impl ScanSummary {
    /// Counts one finished domain.
    pub fn add(&mut self, result: &ScanResult) {
        self.domains += 1;
        let report = match &result.outcome {
            ScanOutcome::Report(report) => report,
            ScanOutcome::Invalid(_) => {
                self.invalid += 1;
                return;
            }
        };
        *self
            .verdicts
            .entry(report.verdict.as_str().to_string())
            .or_default() += 1;
        let mut reasons = BTreeSet::new();
        reasons.extend(report.reason.as_ref().map(|r| r.code()));
        for host in &report.hosts {
            reasons.extend(host.reason.as_ref().map(|r| r.code()));
            for conn in &host.connections {
                reasons.extend(conn.reason.as_ref().map(|r| r.code()));
            }
        }
        for code in reasons {
            *self.reasons.entry(code.to_string()).or_default() += 1;
        }
        let took = result.finished.saturating_since(result.started).as_millis() as u64;
        if self.slowest.len() < SLOWEST_KEPT || self.slowest.last().is_some_and(|s| s.1 < took) {
            let at = self.slowest.partition_point(|s| s.1 >= took);
            self.slowest.insert(at, (result.domain.clone(), took));
            self.slowest.truncate(SLOWEST_KEPT);
        }
    }
}
