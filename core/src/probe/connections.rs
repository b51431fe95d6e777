//! The connections of a probe: one SMTP session per address (RFC 3207 STARTTLS), the DANE
//! trust decision on each completed handshake (RFC 7672 sec. 3.2), and the connection
//! reports.

use super::*;

use crate::dane::MatchVia;
use crate::dane::VerifyParams;
use crate::machine::{Action, Input};
use crate::report::{ConnectionVerdict, MatchedReport, TlsReport};
use crate::smtp::route::sni_name;
use crate::smtp::session::{SessionConfig, TlsRequirement};
use crate::time::Timestamp;

use super::describe::abbreviate;
use crate::check::{connection_verdict, trust_decision};

/// Postfix-style summary of a connection (`Verified TLS connection established to ...`).
fn summary_line(label: &str, c: &ConnectionReport) -> String {
    let class = match c.verdict {
        ConnectionVerdict::Verified => "Verified TLS connection",
        ConnectionVerdict::Trusted => "Trusted TLS connection",
        ConnectionVerdict::Untrusted => "Untrusted TLS connection",
        ConnectionVerdict::Plaintext => "Plaintext connection",
        ConnectionVerdict::DaneFailed => "DANE FAILED",
        ConnectionVerdict::ClientUnsupported => "Not tested (client-unsupported)",
        ConnectionVerdict::Unreachable => "Not tested (unreachable)",
    };
    let tls = c
        .tls
        .as_ref()
        .map(|t| format!(": {} with cipher {}", t.version, t.cipher))
        .unwrap_or_default();
    let reason = c
        .reason
        .as_ref()
        .map(|r| format!(" [{r}]"))
        .unwrap_or_default();
    format!("{label}: {class}{tls}{reason}")
}

/// The log line of a trust decision.
fn decision_line(label: &str, decision: Option<&DaneOutcome>) -> String {
    match decision {
        Some(DaneOutcome::Matched(m)) => format!(
            "{label}: matched DANE {} at depth {}: {}{}",
            if m.record.usage == 3 {
                "EE certificate"
            } else {
                "TA certificate"
            },
            m.depth,
            abbreviate(&m.record.to_text()),
            m.peername
                .as_ref()
                .map(|p| format!(", peername {p}"))
                .unwrap_or_default()
        ),
        Some(DaneOutcome::Failed(f)) => format!("{label}: DANE authentication failed: {f}"),
        None => format!("{label}: TLS established, no authentication required"),
    }
}

impl HostProbe {
    /// The policy connections run under (opportunistic before any decision, which cannot
    /// happen for a connected probe).
    fn conn_policy(&self) -> HostPolicy {
        self.policy().unwrap_or(HostPolicy::Opportunistic)
    }

    fn conn_label(&self, addr: SocketAddr) -> String {
        format!("{}[{}]:{}", self.label(), addr.ip(), addr.port())
    }

    /// Whether the probe has an address it wants to connect to: call
    /// [`HostProbe::connect`] when the owner's parallelism bound allows.
    pub fn wants_connection(&self) -> bool {
        !self.to_connect.is_empty()
    }

    /// Opens a session to the next queued address under `conn`, an id the owner allocates
    /// and routes inputs by. Returns the address, or `None` (and `conn` is not used) when
    /// nothing is queued. Drain [`HostProbe::poll_action`] for `conn` next.
    pub fn connect(&mut self, now: Timestamp, conn: ConnId) -> Option<SocketAddr> {
        let addr = self.to_connect.pop_front()?;
        let policy = self.conn_policy();
        let decision = self.decision.as_ref();
        let sni = sni_name(
            policy,
            decision.and_then(|d| d.base.as_ref()),
            &self.target.name,
            self.target.literal.is_some(),
            self.params.options.sni,
        );
        let tls = match policy {
            HostPolicy::Dane | HostPolicy::Encrypt => TlsRequirement::Required,
            _ => TlsRequirement::Opportunistic,
        };
        let label = self.conn_label(addr);
        self.note(format!(
            "{label}: connecting (policy {}, SNI {})",
            serde_json::to_value(policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            sni.as_deref().unwrap_or("none")
        ));
        let session = SmtpSession::new(
            conn,
            addr,
            SessionConfig {
                ehlo_name: self.params.options.ehlo_name.clone(),
                tls,
                sni,
                timeouts: self.params.options.timeouts,
            },
            now,
        );
        self.conns.insert(
            conn,
            Conn {
                addr,
                session,
                dane: None,
                end: ConnEnd::Open,
            },
        );
        Some(addr)
    }

    /// Whether `conn` is one of this probe's connections.
    pub fn owns(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// Connections opened and not ended yet.
    pub fn open_connections(&self) -> usize {
        self.conns
            .values()
            .filter(|c| matches!(c.end, ConnEnd::Open))
            .count()
    }

    /// Feeds an input for one of this probe's connections (`Connected`, `ConnectFailed`,
    /// `Received`, `TlsEstablished`, `TlsFailed`, `Closed`). Returns `false` if the
    /// connection is not this probe's. Drain [`HostProbe::poll_action`] for it next.
    pub fn handle_conn_input(&mut self, now: Timestamp, input: &Input<'_>) -> bool {
        let conn = match input {
            Input::Connected { conn }
            | Input::ConnectFailed { conn, .. }
            | Input::Received { conn, .. }
            | Input::TlsEstablished { conn, .. }
            | Input::TlsFailed { conn, .. }
            | Input::Closed { conn } => *conn,
            _ => return false,
        };
        match self.conns.get_mut(&conn) {
            Some(c) => {
                c.session.handle_input(now, input);
                true
            }
            None => false,
        }
    }

    /// A deadline passed: every open session checks its own.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for c in self.conns.values_mut() {
            if matches!(c.end, ConnEnd::Open) {
                c.session.handle_timeout(now);
            }
        }
    }

    /// The earliest deadline of the open sessions.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.conns
            .values()
            .filter(|c| matches!(c.end, ConnEnd::Open))
            .filter_map(|c| c.session.next_deadline())
            .min()
    }

    /// Stops now: every open session is aborted (its closing actions stay to be drained with
    /// [`HostProbe::poll_action`]) and is never reported; the probe is done.
    pub fn abort(&mut self, now: Timestamp) {
        for c in self.conns.values_mut() {
            if matches!(c.end, ConnEnd::Open) {
                c.session.abort(now);
                c.end = ConnEnd::Aborted;
            }
        }
        self.to_connect.clear();
        self.stage = Stage::Done;
    }

    /// The next action of connection `conn`. First makes the decision the session waits for:
    /// the DANE trust decision on a completed handshake (RFC 7672 sec. 3.2), then, once the
    /// session has ended, its report. Call after every input for `conn` (and after
    /// [`HostProbe::handle_timeout`] for each connection) until it returns `None`.
    pub fn poll_action(&mut self, now: Timestamp, conn: ConnId) -> Option<Action> {
        if matches!(self.conns.get(&conn)?.end, ConnEnd::Open) {
            self.service(now, conn);
        }
        self.conns.get_mut(&conn)?.session.poll_action()
    }

    /// The trust decision, the session's log, and the report once it has ended.
    fn service(&mut self, now: Timestamp, id: ConnId) {
        let policy = self.conn_policy();
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let label = self.conn_label(conn.addr);
        if let Some(info) = conn.session.awaiting_trust() {
            let decision = self.decision.as_ref();
            let no_ids = Vec::new();
            let (accepted, outcome) = trust_decision(
                policy,
                decision.and_then(|d| d.outcome.as_ref()),
                &info.chain,
                &VerifyParams {
                    reference_ids: decision.map_or(&no_ids, |d| &d.reference_ids),
                    now,
                },
            );
            let line = decision_line(&label, outcome.as_ref());
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            conn.dane = outcome;
            conn.session.trust_decided(now, accepted);
            self.note(line);
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let dialogue = conn.session.take_log();
        for (_, line) in dialogue {
            self.note(format!("{label}: {line}"));
        }
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let Some(outcome) = conn.session.outcome() else {
            return;
        };
        let trusted_only = self.decision.as_ref().is_some_and(|d| d.trusted_only);
        let (verdict, reason) =
            connection_verdict(policy, trusted_only, outcome, conn.dane.as_ref());
        let matched = match &conn.dane {
            Some(DaneOutcome::Matched(m)) => Some(MatchedReport {
                record: m.record.to_text(),
                depth: m.depth,
                via: match m.via {
                    MatchVia::Chain => "chain",
                    MatchVia::TlsaCertificate => "tlsa-certificate",
                    MatchVia::TlsaPublicKey => "tlsa-public-key",
                }
                .into(),
                peername: m.peername.clone(),
            }),
            _ => None,
        };
        let report = ConnectionReport {
            address: conn.addr.to_string(),
            starttls: outcome.starttls_offered,
            tls: outcome.tls.as_ref().map(|t| TlsReport {
                version: t.version.clone(),
                cipher: t.cipher.clone(),
                sni: t.sni.clone(),
            }),
            certificate: outcome
                .tls
                .as_ref()
                .and_then(|t| certificate::summarize(&t.chain)),
            verdict,
            tlsrpt: reason
                .as_ref()
                .and_then(|r| r.tlsrpt_result_type())
                .map(str::to_string),
            reason,
            matched,
        };
        let line = summary_line(&label, &report);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.end = ConnEnd::Reported(Box::new(report));
        }
        self.note(line);
        if self.to_connect.is_empty() && self.open_connections() == 0 {
            self.stage = Stage::Done;
        }
    }
}
