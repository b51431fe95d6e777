//! The client compatibility matrix of draft-fanf-dane-mua (slide "compatibility: tricky coping
//! with installed base"): which of the three classes of mail client a deployment serves.
//!
//! | class | finds the server by | expects the certificate to name | SNI |
//! |---|---|---|---|
//! | legacy | manual configuration | the server host name (the SRV target) | probably none |
//! | RFC 6186 | SRV (RFC 6186 sec. 3) | the mail domain (RFC 6186 sec. 6, RFC 7673 sec. 4.1 without DNSSEC) | might lack it |
//! | DANE | SRV with DNSSEC (RFC 7673) | the host name, the mail domain also OK (RFC 7673 sec. 4.1); DANE-EE no name (sec. 4.2) | always |
//!
//! Each class is looked at as the server sees its clients: by the SNI they send (RFC 6066
//! sec. 3). RFC 7673 sec. 6: "Clients that do not support this specification will indicate a
//! preference for the service domain name, while clients that support this specification
//! will indicate the target server host name." So for each target the legacy class has a row
//! with SNI = the target host name and one without SNI, the RFC 6186 class a row with SNI =
//! the mail domain and one without, and each of their cells is a PKIX check (RFC 5280 path,
//! RFC 6125 name) of the chain the server presented on that row against the name the class
//! expects; such a client may send either, so the class is served only when both rows accept.
//! A DANE client always sends SNI, so its one cell per target is the verdict of the check's
//! own connections, under the rules of RFC 7673. A server that picks its certificate by SNI
//! (the slide's "can use TLS SNI to separate 2 from 3") shows up as rows with different
//! certificates (each cell carries the leaf's SHA-256 and names).
//!
//! The observation handshakes send nothing after the handshake (see
//! `Observe`): no row authenticates a session.

use serde::{Deserialize, Serialize};

pub use crate::probe::{Observation, Observed};
use crate::report::{ConnectionVerdict, FailedLookup, HostReport, HostVerdict, Reason};

/// The observations of each target, by index: SNI = the target host name, SNI = the mail
/// domain, no SNI ([`row_snis`]).
const SNI_TARGET: usize = 0;
const SNI_DOMAIN: usize = 1;
const NO_SNI: usize = 2;

/// The rows of each PKIX class per target, in cell order: with its SNI, then without.
pub const ROWS: usize = 2;

/// One client class's view of one row of one target (draft-fanf-dane-mua).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatCell {
    /// The SRV target.
    pub target: String,
    /// Its port (from the SRV record).
    pub port: u16,
    /// The address the handshake went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The SNI of the row (RFC 6066 sec. 3); `null`: the handshake sent none.
    pub sni: Option<String>,
    /// Whether a client of the class would accept what the server presented; `null` when
    /// it could not be tried (`reason` says why when known).
    pub accepted: Option<bool>,
    /// The SHA-256 digest (hex) of the leaf certificate presented on that row (PKIX classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
    /// The DNS names of the leaf certificate the server presented on that row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_names: Vec<String>,
    /// Why not accepted (or not tried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// How well a class is served over all its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ClassVerdict {
    /// Every cell tried accepts.
    Works,
    /// Some cells accept, some refuse: such clients fail on some targets or without SNI.
    Partial,
    /// No cell tried accepts.
    Broken,
    /// No cell could be tried.
    Untested,
}

/// One class: its verdict and its cells (per target, the rows in [`ROWS`] order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassReport {
    /// Over the cells tried.
    pub verdict: ClassVerdict,
    /// The cells.
    pub cells: Vec<CompatCell>,
}

impl ClassReport {
    fn new(cells: Vec<CompatCell>) -> Self {
        let tried: Vec<bool> = cells.iter().filter_map(|c| c.accepted).collect();
        let verdict = if tried.is_empty() {
            ClassVerdict::Untested
        } else if tried.iter().all(|a| *a) {
            ClassVerdict::Works
        } else if tried.iter().any(|a| *a) {
            ClassVerdict::Partial
        } else {
            ClassVerdict::Broken
        };
        ClassReport { verdict, cells }
    }
}

/// The matrix of one service (`services[].compatibility`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compatibility {
    /// Clients configured with the host name, expecting it in the certificate.
    pub legacy: ClassReport,
    /// RFC 6186 clients, expecting the mail domain.
    pub rfc6186: ClassReport,
    /// DANE clients (RFC 7673), always sending SNI.
    pub dane: ClassReport,
}

/// The names the observations of a target check, in [`Observed::Chain`] `checks` order: the
/// host name (legacy), then the mail domain (RFC 6186).
pub fn observed_names(target: &str, mail_domain: &str) -> Vec<String> {
    vec![target.to_string(), mail_domain.to_string()]
}

/// The SNI of each observation of `target`: the target host name (legacy clients that send
/// SNI, RFC 7673 sec. 6), the mail domain (RFC 6186 clients that send SNI), none.
pub fn row_snis(target: &str, mail_domain: &str) -> Vec<Option<String>> {
    vec![
        Some(target.to_string()),
        Some(mail_domain.to_string()),
        None,
    ]
}

/// One target's part of the matrix.
pub struct TargetRows<'a> {
    /// The host report of the check's own connections.
    pub host: &'a HostReport,
    /// The port.
    pub port: u16,
    /// The probe's observations (`None`: never planned, the probe connected nowhere).
    pub observations: Option<Vec<Option<Observation>>>,
}

/// The cell of observation `row` for the PKIX class whose expected name is number `check`
/// of the observed names.
fn pkix_cell(t: &TargetRows<'_>, mail_domain: &str, row: usize, check: usize) -> CompatCell {
    let sni = row_snis(&t.host.name, mail_domain).swap_remove(row);
    let mut cell = CompatCell {
        target: t.host.name.clone(),
        port: t.port,
        address: None,
        sni,
        accepted: None,
        certificate_sha256: None,
        certificate_names: Vec::new(),
        reason: None,
    };
    let observation = match &t.observations {
        None => {
            cell.reason = t.host.reason.clone();
            return cell;
        }
        Some(found) => found.get(row).cloned().flatten(),
    };
    let Some(observation) = observation else {
        cell.reason = Some(Reason::Aborted);
        return cell;
    };
    cell.address = observation.address.map(|a| a.to_string());
    match observation.observed {
        Observed::Chain {
            leaf_sha256,
            leaf_names,
            checks,
        } => {
            cell.certificate_sha256 = Some(leaf_sha256);
            cell.certificate_names = leaf_names;
            let result = checks.get(check).cloned().unwrap_or(Err(Reason::Aborted));
            cell.accepted = Some(result.is_ok());
            cell.reason = result.err();
        }
        Observed::Failed(reason) => {
            cell.accepted = Some(false);
            cell.reason = Some(reason);
        }
        Observed::NotAttempted(reason) => cell.reason = reason,
    }
    cell
}

/// The DANE client's cell of a target: the check's own connections (RFC 7673).
fn dane_cell(t: &TargetRows<'_>) -> CompatCell {
    let host = t.host;
    let first = host
        .connections
        .iter()
        .find(|c| c.tls.is_some())
        .or(host.connections.first());
    // A bogus or failed TLSA lookup is a refusal: a DANE client does not connect (RFC 7673
    // sec. 3.3). A failed address lookup leaves no client anywhere to connect to, and a host
    // never reached, or only with TLS this client lacks, is untried.
    let accepted = match host.verdict {
        HostVerdict::Verified | HostVerdict::Trusted => Some(true),
        HostVerdict::Untested | HostVerdict::ClientUnsupported => None,
        HostVerdict::DnsFailed if host.failed_lookup == Some(FailedLookup::Address) => None,
        _ => Some(false),
    };
    let refused = host.connections.iter().find(|c| {
        !matches!(
            c.verdict,
            ConnectionVerdict::Verified | ConnectionVerdict::Trusted
        )
    });
    CompatCell {
        target: host.name.clone(),
        port: t.port,
        address: first.map(|c| c.address.clone()),
        sni: first
            .and_then(|c| c.tls.as_ref())
            .and_then(|t| t.sni.clone()),
        accepted,
        certificate_sha256: None,
        certificate_names: first
            .and_then(|c| c.certificate.as_ref())
            .map(|c| c.dns_names.clone())
            .unwrap_or_default(),
        reason: if accepted == Some(true) {
            None
        } else {
            host.reason
                .clone()
                .or_else(|| refused.and_then(|c| c.reason.clone()))
        },
    }
}

/// The matrix of a service of `mail_domain` over its targets, in RFC 2782 order.
pub fn compatibility(mail_domain: &str, targets: &[TargetRows<'_>]) -> Compatibility {
    // Each PKIX class: its SNI row and the no-SNI row, checked for name number `check`.
    let pkix = |with_sni: usize, check: usize| {
        ClassReport::new(
            targets
                .iter()
                .flat_map(|t| [with_sni, NO_SNI].map(|row| pkix_cell(t, mail_domain, row, check)))
                .collect(),
        )
    };
    Compatibility {
        legacy: pkix(SNI_TARGET, 0),
        rfc6186: pkix(SNI_DOMAIN, 1),
        dane: ClassReport::new(targets.iter().map(dane_cell).collect()),
    }
}
