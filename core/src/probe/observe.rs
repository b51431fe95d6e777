//! Observation handshakes: after its own connections have ended, a probe can connect again to
//! the first address that completed a handshake, once per SNI choice (a name, or none), to see
//! which chain the server presents to clients that send another SNI or none at all, and check
//! each chain by PKIX against names other clients expect. This is what the client
//! compatibility matrix of draft-fanf-dane-mua (slide "compatibility": legacy clients probably
//! send no SNI, RFC 6186 clients might lack it, DANE clients must send it) rests on.
//!
//! An observation connection never sends a byte after its handshake: the trust decision is
//! always "rejected", so the session closes at once (the chain was all it was for). A chain
//! the probe's own connection already obtained with the same SNI is reused, not fetched twice.

use super::*;

use crate::check::{pkix_failure_reason, session_failure_reason};
use crate::dane::pkix::verify_pkix;
use crate::dane::PkixTrustStore;
use crate::smtp::session::{SessionEnd, SessionOutcome, Stage};
use crate::time::Timestamp;
use sha2::{Digest, Sha256};

/// What to observe (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observe {
    /// One observation per entry: the SNI to send (RFC 6066 sec. 3), or `None` for none.
    pub snis: Vec<Option<String>>,
    /// The names each observed chain is checked for, in order (RFC 6125 sec. 6 reference
    /// identifiers, one at a time).
    pub names: Vec<String>,
    /// The PKIX trust anchors of those checks (RFC 5280 sec. 6.1.1 (d)).
    pub trust_store: PkixTrustStore,
}

/// What one observation found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The handshake completed.
    Chain {
        /// The SHA-256 digest of the leaf certificate (hex), so that two rows with different
        /// certificates are told apart even when the names are the same.
        leaf_sha256: String,
        /// The DNS names of the leaf certificate (SAN dNSNames), for people comparing rows.
        leaf_names: Vec<String>,
        /// Per name of `names`, in order: `Ok` when a client expecting that name
        /// would accept the chain by PKIX (RFC 7673 sec. 4.1, RFC 6125 sec. 6), else why not
        /// ([`Reason::PkixInvalid`] or [`Reason::PkixNameMismatch`]).
        checks: Vec<Result<(), Reason>>,
    },
    /// The connection ended before a completed handshake: why.
    Failed(Reason),
    /// Not tried: the probe connected nowhere, its server never answered, or the observation
    /// itself could not reach the server (connect failure or connect timeout, local
    /// resources) or needs TLS this client lacks; the reason of the host or of the
    /// connection, when there is one.
    NotAttempted(Option<Reason>),
}

/// One observation handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The SNI sent, `None` for none.
    pub sni: Option<String>,
    /// Where it connected (`None` when not attempted).
    pub address: Option<SocketAddr>,
    /// What it found.
    pub observed: Observed,
}

/// Where the observations of a probe are.
#[derive(Clone, Debug, Default)]
pub(super) enum Observations {
    /// None asked for.
    #[default]
    Off,
    /// Asked for; planned once the probe's own connections have ended.
    Wanted(Observe),
    /// Planned: one entry per SNI choice, `None` while its connection runs.
    Planned {
        observe: Observe,
        found: Vec<Option<Observation>>,
    },
}

/// What a chain proves for each name.
fn check_chain(observe: &Observe, chain: &[Vec<u8>], now: Timestamp) -> Observed {
    let checks = observe
        .names
        .iter()
        .map(|name| {
            verify_pkix(chain, &observe.trust_store, std::slice::from_ref(name), now)
                .map(|_| ())
                .map_err(|f| pkix_failure_reason(&f))
        })
        .collect();
    Observed::Chain {
        leaf_sha256: chain
            .first()
            .map(|leaf| crate::hex::encode(&Sha256::digest(leaf)))
            .unwrap_or_default(),
        leaf_names: certificate::summarize(chain)
            .map(|c| c.dns_names)
            .unwrap_or_default(),
        checks,
    }
}

/// Whether a connection that failed this way says nothing about what the server presents:
/// it never reached a server that answers (trying again would only wait for the same
/// timeout), or the server needs TLS this client lacks. A server that accepted the
/// connection and then stalled or failed the handshake did answer: that is a refusal.
fn never_answered(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::ConnectFailed { .. }
            | Reason::Timeout {
                stage: Stage::Connect
            }
            | Reason::LocalResources { .. }
            | Reason::ClientUnsupported { .. }
    )
}

/// Why a session that did not complete its handshake ended.
fn failure_of(outcome: &SessionOutcome) -> Option<Reason> {
    match &outcome.end {
        SessionEnd::Failed(f) => Some(session_failure_reason(f)),
        SessionEnd::Completed => None,
    }
}

impl HostProbe {
    /// Asks for observation handshakes once the probe's own connections have ended (see the
    /// module documentation). Ignored for a probe that opens no connection (`dns_only`).
    pub fn with_observations(mut self, observe: Observe) -> Self {
        if !self.params.options.dns_only {
            self.observations = Observations::Wanted(observe);
        }
        self
    }

    /// The observations, once planned: one per [`Observe::snis`] entry, in order, each
    /// `None` while its connection runs (or when the probe was aborted before it ended).
    /// `None` when none were asked for, or the probe ended before planning them: it
    /// connected nowhere, or was aborted during its own connections.
    pub fn observations(&self) -> Option<Vec<Option<Observation>>> {
        match &self.observations {
            Observations::Planned { found, .. } => Some(found.clone()),
            _ => None,
        }
    }

    /// The SNI of observation `index`.
    pub(super) fn observation_sni(&self, index: usize) -> Option<String> {
        match &self.observations {
            Observations::Planned { observe, .. } => observe.snis.get(index).cloned().flatten(),
            _ => None,
        }
    }

    /// Once the probe's own connections have ended: reuses or queues the observations. The
    /// address is that of the first connection (in connection order) whose handshake
    /// completed; without one, that of the first connection whose server answered (a server
    /// that failed the handshake with one SNI may complete it with another, RFC 7672
    /// sec. 8.1), each row then on its own connection. A server that never answered is not
    /// tried again.
    pub(super) fn plan_observations(&mut self, now: Timestamp) {
        if !matches!(self.observations, Observations::Wanted(_)) {
            return;
        }
        let Observations::Wanted(observe) = std::mem::take(&mut self.observations) else {
            return;
        };
        let with_tls = self.conns.values().find_map(|c| {
            let tls = c.session.outcome()?.tls.as_ref()?;
            Some((c.addr, c.sni.clone(), tls.chain.clone()))
        });
        let failures: Vec<(SocketAddr, Option<Reason>)> = self
            .conns
            .values()
            .filter_map(|c| Some((c.addr, failure_of(c.session.outcome()?))))
            .collect();
        let answered = failures
            .iter()
            .find(|(_, reason)| !reason.as_ref().is_some_and(never_answered));
        let reached = match (&with_tls, answered) {
            (Some((addr, sent, chain)), _) => Ok((*addr, Some((sent.clone(), chain.clone())))),
            (None, Some((addr, _))) => Ok((*addr, None)),
            (None, None) => Err(failures
                .into_iter()
                .find_map(|(_, r)| r)
                .or_else(|| self.decision.as_ref().and_then(|d| d.reason.clone()))),
        };
        let mut found = Vec::new();
        for (index, sni) in observe.snis.iter().enumerate() {
            let entry = match &reached {
                Err(reason) => Some(Observation {
                    sni: sni.clone(),
                    address: None,
                    observed: Observed::NotAttempted(reason.clone()),
                }),
                Ok((addr, Some((sent, chain)))) if sent == sni => Some(Observation {
                    sni: sni.clone(),
                    address: Some(*addr),
                    observed: check_chain(&observe, chain, now),
                }),
                Ok((addr, _)) => {
                    self.to_observe.push_back((*addr, index));
                    None
                }
            };
            found.push(entry);
        }
        self.observations = Observations::Planned { observe, found };
    }

    /// An observation connection has ended: records what it found.
    pub(super) fn end_observation(&mut self, now: Timestamp, id: ConnId) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let (Some(index), Some(outcome)) = (conn.observation, conn.session.outcome()) else {
            return;
        };
        let Observations::Planned { observe, found } = &mut self.observations else {
            return;
        };
        let observed = match &outcome.tls {
            Some(tls) => check_chain(observe, &tls.chain, now),
            None => match failure_of(outcome).unwrap_or(Reason::Aborted) {
                reason if never_answered(&reason) => Observed::NotAttempted(Some(reason)),
                reason => Observed::Failed(reason),
            },
        };
        if let Some(slot) = found.get_mut(index) {
            *slot = Some(Observation {
                sni: conn.sni.clone(),
                address: Some(conn.addr),
                observed,
            });
        }
    }
}
