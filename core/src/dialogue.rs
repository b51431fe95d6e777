//! What every client dialogue shares, whatever it speaks: SMTP with STARTTLS
//! ([`crate::smtp::session`]), implicit TLS ([`crate::implicit`]) and IMAP/POP3 with STARTTLS
//! ([`crate::mua::starttls`]). One connection, its configuration, the session's clock and
//! current deadline, the queued actions, the log and the outcome; starting (the config check
//! and the connect), ending (exactly one close), the TLS upgrade and its trust pause.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::machine::{Action, ConnId};
use crate::smtp::session::{SessionConfig, SessionEnd, SessionFailure, SessionOutcome};
use crate::time::Timestamp;
use crate::tls::TlsInfo;

/// How long a connection may wait for a place (a scan's per-destination limit or connection
/// rate) before it fails as a connect timeout: far longer than any queue a scan builds.
pub const CONNECT_QUEUE_LIMIT: Duration = Duration::from_secs(600);

/// The state of one client dialogue that does not depend on its protocol.
#[derive(Debug)]
pub(crate) struct Dialogue {
    /// The connection it owns.
    pub conn: ConnId,
    /// What it was told.
    pub config: SessionConfig,
    /// The current stage's deadline.
    pub deadline: Option<Timestamp>,
    /// The latest time seen (never runs backwards).
    pub now: Timestamp,
    /// Actions for the runtime, in order.
    pub actions: VecDeque<Action>,
    /// The log so far.
    pub log: Vec<(Timestamp, String)>,
    /// What it learned; `end` is meaningful once it has finished.
    pub result: SessionOutcome,
    /// Connect was emitted and not refused: ending must close.
    pub must_close: bool,
    /// It has finished.
    pub done: bool,
}

impl Dialogue {
    /// A dialogue to `addr`: queues [`Action::Connect`] and notes `connect to ADDR` and
    /// `suffix`, or, for an invalid config ([`SessionConfig::validate`]), finishes at once
    /// with [`SessionFailure::InvalidConfig`] and never connects.
    pub(crate) fn start(
        conn: ConnId,
        addr: SocketAddr,
        config: SessionConfig,
        now: Timestamp,
        implicit_tls: bool,
        suffix: &str,
    ) -> Self {
        let mut d = Dialogue {
            conn,
            config,
            deadline: None,
            now,
            actions: VecDeque::new(),
            log: Vec::new(),
            result: SessionOutcome::new(implicit_tls),
            must_close: false,
            done: false,
        };
        if let Err(reason) = d.config.validate() {
            d.finish(SessionEnd::Failed(SessionFailure::InvalidConfig(reason)));
            return d;
        }
        d.note(format!("connect to {addr}{suffix}"));
        d.actions.push_back(Action::Connect { conn, addr });
        d.must_close = true;
        d
    }

    /// Moves the clock forward to `now` (never back).
    pub(crate) fn tick(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    /// Whether the current deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| self.now >= d)
    }

    /// Sets the deadline `timeout` from now, or none.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) {
        self.deadline = timeout.map(|d| self.now.saturating_add(d));
    }

    /// The runtime holds the connection back ([`crate::Input::ConnectQueued`]): the connect
    /// deadline waits for [`crate::Input::Connecting`], bounded by
    /// [`CONNECT_QUEUE_LIMIT`] so that a connection never waits forever.
    pub(crate) fn queued(&mut self) {
        self.note("waiting for a place to connect".into());
        self.wait(Some(CONNECT_QUEUE_LIMIT));
    }

    /// Adds a log line.
    pub(crate) fn note(&mut self, line: String) {
        self.log.push((self.now, line));
    }

    /// Queues bytes for the peer, logging `shown` as `> shown`.
    pub(crate) fn send(&mut self, bytes: Vec<u8>, shown: &str) {
        self.note(format!("> {shown}"));
        self.actions.push_back(Action::Send {
            conn: self.conn,
            bytes,
        });
    }

    /// Queues the TLS handshake with the configured SNI, noting `what` and the SNI.
    pub(crate) fn start_tls(&mut self, what: &str) {
        let sni = self.config.sni.clone();
        self.note(match &sni {
            Some(name) => format!("{what} (SNI {name})"),
            None => format!("{what} (no SNI)"),
        });
        self.actions.push_back(Action::StartTls {
            conn: self.conn,
            sni,
        });
    }

    /// The handshake completed: keeps its result and notes the pause for the trust
    /// decision.
    pub(crate) fn tls_established(&mut self, info: &TlsInfo) {
        self.note(format!(
            "TLS established: {} {}, {} certificate(s); awaiting trust decision",
            info.version,
            info.cipher,
            info.chain.len()
        ));
        self.result.tls = Some(info.clone());
    }

    /// The handshake's result while the dialogue waits for the trust decision.
    pub(crate) fn awaiting_trust(&self, waiting: bool) -> Option<&TlsInfo> {
        waiting.then_some(self.result.tls.as_ref()).flatten()
    }

    /// Ends the dialogue with `end`, closing the connection if it was opened.
    pub(crate) fn finish(&mut self, end: SessionEnd) {
        if self.must_close {
            self.actions.push_back(Action::Close { conn: self.conn });
            self.must_close = false;
        }
        self.note(format!("close: {end}"));
        self.result.end = end;
        self.deadline = None;
        self.done = true;
    }

    /// The outcome, once finished.
    pub(crate) fn outcome(&self) -> Option<&SessionOutcome> {
        self.done.then_some(&self.result)
    }

    /// Takes the log so far.
    pub(crate) fn take_log(&mut self) -> Vec<(Timestamp, String)> {
        std::mem::take(&mut self.log)
    }
}
