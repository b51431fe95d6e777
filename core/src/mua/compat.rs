//! The client compatibility matrix of draft-fanf-dane-mua (slide "compatibility: tricky coping
//! with installed base"): which of the three classes of mail client a deployment serves.
//!
//! | class | finds the server by | expects the certificate to name | SNI |
//! |---|---|---|---|
//! | legacy | manual configuration | the server host name (the SRV target) | probably none |
//! | RFC 6186 | SRV (RFC 6186 sec. 3) | the mail domain (RFC 6186 sec. 6, RFC 7673 sec. 4.1 without DNSSEC) | might lack it |
//! | DANE | SRV with DNSSEC (RFC 7673) | the host name, the mail domain also OK (RFC 7673 sec. 4.1); DANE-EE no name (sec. 4.2) | always |
//!
//! For each target the check has two rows, as the server sees the client: a handshake with
//! SNI = the target host name (RFC 6066 sec. 3: the name of the server connected to) and one
//! without SNI. Legacy and RFC 6186 clients may send either, so each of their cells is a PKIX
//! check (RFC 5280 path, RFC 6125 name) of the chain of that row against the name the class
//! expects, and the class is served only when both rows accept. A DANE client always sends
//! SNI, so its one cell per target is the verdict of the check's own connections, under the
//! rules of RFC 7673. A server that presents another certificate without SNI shows up as a
//! difference between the rows (the leaf's names are in each cell).
//!
//! The observation handshakes send nothing after the handshake (see
//! [`crate::probe::Observe`]): no row authenticates a session.

use serde::{Deserialize, Serialize};

use crate::probe::{Observation, Observed};
use crate::report::{ConnectionVerdict, HostReport, HostVerdict, Reason};

/// The SNI rows of each target, in order: the target host name, then none. The index of each
/// is that of its observation.
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

/// The SNI of each row for `target`, in [`ROWS`] order.
pub fn row_snis(target: &str) -> Vec<Option<String>> {
    vec![Some(target.to_string()), None]
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

/// The cell of the PKIX class whose expected name is number `check` of the observed names.
fn pkix_cell(t: &TargetRows<'_>, row: usize, check: usize) -> CompatCell {
    let sni = row_snis(&t.host.name).swap_remove(row);
    let mut cell = CompatCell {
        target: t.host.name.clone(),
        port: t.port,
        address: None,
        sni,
        accepted: None,
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
        Observed::Chain { leaf_names, checks } => {
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
    let first = host.connections.first();
    // A bogus or failed lookup is a refusal too: a DANE client does not connect (RFC 7673
    // sec. 3.2); a host never reached, or only with TLS this client lacks, is untried.
    let accepted = match host.verdict {
        HostVerdict::Verified | HostVerdict::Trusted => Some(true),
        HostVerdict::Untested | HostVerdict::ClientUnsupported => None,
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

/// The matrix of a service over its targets, in RFC 2782 order.
pub fn compatibility(targets: &[TargetRows<'_>]) -> Compatibility {
    let pkix = |check: usize| {
        ClassReport::new(
            targets
                .iter()
                .flat_map(|t| (0..ROWS).map(move |row| pkix_cell(t, row, check)))
                .collect(),
        )
    };
    Compatibility {
        legacy: pkix(0),
        rfc6186: pkix(1),
        dane: ClassReport::new(targets.iter().map(dane_cell).collect()),
    }
}
