//! The connections of a probe: one session per address (SMTP or submission with RFC 3207
//! STARTTLS, IMAP STARTTLS or POP3 STLS per RFC 2595, or an RFC 8314 implicit-TLS session), the trust decision on each completed
//! handshake (DANE, RFC 7672 sec. 3.2; PKIX, RFC 7673 sec. 4), and the connection reports.

use super::*;

use crate::dane::MatchVia;
use crate::dane::VerifyParams;
use crate::implicit::greeting::GreetingProtocol;
use crate::implicit::ImplicitSession;
use crate::machine::{Action, Input};
use crate::mua::starttls::{MuaProtocol, StartTlsSession};
use crate::report::tlsrpt::{self, Outcome};
use crate::report::{ConnectionVerdict, MatchedReport, TlsReport};
use crate::smtp::route::{sni_name, SniMode};
use crate::smtp::session::{SessionConfig, SessionOutcome, TlsRequirement};
use crate::smtp::transaction::{Transaction, TransactionOutcome};
use crate::time::Timestamp;
use crate::tls::TlsInfo;

use super::describe::abbreviate;
use crate::check::{connection_verdict, trust_decision, Authentication};

/// The dialogue of one connection.
#[derive(Debug)]
pub(super) enum Session {
    /// SMTP or submission with STARTTLS (RFC 3207).
    Smtp(SmtpSession),
    /// TLS first, then the greeting (RFC 8314 sec. 3).
    Implicit(ImplicitSession),
    /// IMAP with STARTTLS or POP3 with STLS (RFC 2595).
    Mua(StartTlsSession),
}

/// Calls the same method on whichever session it is.
macro_rules! each {
    ($session:expr, $s:ident => $call:expr) => {
        match $session {
            Session::Smtp($s) => $call,
            Session::Implicit($s) => $call,
            Session::Mua($s) => $call,
        }
    };
}

impl Session {
    fn handle_input(&mut self, now: Timestamp, input: &Input<'_>) {
        each!(self, s => s.handle_input(now, input))
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        each!(self, s => s.handle_timeout(now))
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        each!(self, s => s.next_deadline())
    }

    fn abort(&mut self, now: Timestamp) {
        each!(self, s => s.abort(now))
    }

    fn poll_action(&mut self) -> Option<Action> {
        each!(self, s => s.poll_action())
    }

    fn awaiting_trust(&self) -> Option<&TlsInfo> {
        each!(self, s => s.awaiting_trust())
    }

    fn trust_decided(&mut self, now: Timestamp, accepted: bool) {
        each!(self, s => s.trust_decided(now, accepted))
    }

    fn take_log(&mut self) -> Vec<(Timestamp, String)> {
        each!(self, s => s.take_log())
    }

    pub(super) fn outcome(&self) -> Option<&SessionOutcome> {
        each!(self, s => s.outcome())
    }

    /// What an SMTP session held for delivery learned, while it waits for its transaction.
    fn awaiting_go(&self) -> Option<&SessionOutcome> {
        match self {
            Session::Smtp(s) => s.awaiting_go(),
            _ => None,
        }
    }
}

/// A connection held for delivery ([`HostProbe::hold_for_delivery`]) that is ready for a
/// mail transaction: the trust decision is made and the last EHLO answered.
#[derive(Clone, Debug)]
pub struct ReadyConnection {
    /// The connection.
    pub conn: ConnId,
    /// The server's address.
    pub addr: SocketAddr,
    /// What the connection is worth so far (DESIGN.md section 5): `verified`, `trusted`,
    /// `untrusted`, `plaintext`, or `dane-failed` when a failed authentication was waived.
    pub verdict: ConnectionVerdict,
    /// Why, for `dane-failed` (the waived failure) or `plaintext`.
    pub reason: Option<Reason>,
    /// A DANE authentication failure was waived ([`HostProbe::waive_authentication`]).
    pub waived: bool,
    /// The handshake, when TLS is up.
    pub tls: Option<TlsInfo>,
    /// The capabilities the transaction may use: from the EHLO over TLS when TLS is up
    /// (RFC 3207 sec. 4.2), else from the plaintext EHLO.
    pub ehlo: crate::smtp::reply::EhloInfo,
}

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

/// The log label of an observation connection: the connection's, marked as an observation
/// with its SNI, so that its lines never pass for those of the check's own connection.
fn observation_label(label: &str, sni: Option<&str>) -> String {
    format!("{label} (observation, SNI {})", sni.unwrap_or("none"))
}

/// The log line of a trust decision.
fn decision_line(label: &str, decision: Option<&Authentication>) -> String {
    match decision {
        Some(Authentication::Pkix(Ok(m))) => format!(
            "{label}: PKIX path valid, peername {} (RFC 7673 sec. 4.1)",
            m.reference_id
        ),
        Some(Authentication::Pkix(Err(f))) => format!("{label}: PKIX authentication failed: {f}"),
        Some(Authentication::Dane(DaneOutcome::Matched(m))) => format!(
            "{label}: matched {} at depth {}: {}{}",
            match m.record.usage {
                0 => "PKIX-TA certificate",
                1 => "PKIX-EE certificate",
                2 => "DANE TA certificate",
                _ => "DANE EE certificate",
            },
            m.depth,
            abbreviate(&m.record.to_text()),
            m.peername
                .as_ref()
                .map(|p| format!(", peername {p}"))
                .unwrap_or_default()
        ),
        Some(Authentication::Dane(DaneOutcome::Failed(f))) => {
            format!("{label}: DANE authentication failed: {f}")
        }
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
        !self.to_connect.is_empty() || !self.to_observe.is_empty()
    }

    /// Opens a session to the next queued address under `conn`, an id the owner allocates
    /// and routes inputs by. Returns the address, or `None` (and `conn` is not used) when
    /// nothing is queued. Drain [`HostProbe::poll_action`] for `conn` next.
    pub fn connect(&mut self, now: Timestamp, conn: ConnId) -> Option<SocketAddr> {
        let (addr, observation) = match self.to_connect.pop_front() {
            Some(addr) => (addr, None),
            None => {
                let (addr, index) = self.to_observe.pop_front()?;
                (addr, Some(index))
            }
        };
        let policy = self.conn_policy();
        let decision = self.decision.as_ref();
        let sni = match (
            observation,
            self.pkix_names(policy),
            self.params.options.sni,
        ) {
            (Some(index), _, _) => self.observation_sni(index),
            (None, Some((sni, _)), SniMode::Auto) => Some(sni),
            _ => sni_name(
                policy,
                decision.and_then(|d| d.base.as_ref()),
                &self.target.name,
                self.target.literal.is_some(),
                self.params.options.sni,
            ),
        };
        // With PKIX every connection must be authenticated, so TLS is mandatory; an
        // observation is for the chain alone.
        let tls = match (policy, &self.params.trust) {
            _ if observation.is_some() => TlsRequirement::Required,
            (HostPolicy::Dane | HostPolicy::Encrypt, _) | (_, TrustModel::DaneAndPkix { .. }) => {
                TlsRequirement::Required
            }
            _ => TlsRequirement::Opportunistic,
        };
        let label = match observation {
            Some(_) => observation_label(&self.conn_label(addr), sni.as_deref()),
            None => self.conn_label(addr),
        };
        self.note(format!(
            "{label}: connecting (policy {}, SNI {})",
            serde_json::to_value(policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            sni.as_deref().unwrap_or("none")
        ));
        let config = SessionConfig {
            ehlo_name: self.params.options.ehlo_name.clone(),
            tls,
            sni: sni.clone(),
            timeouts: self.params.options.timeouts,
        };
        let session = match (self.params.service.tls, self.params.service.kind) {
            (TlsStart::StartTls, SessionKind::Smtp) if self.delivery.hold => {
                Session::Smtp(SmtpSession::for_delivery(conn, addr, config, now))
            }
            (TlsStart::StartTls, SessionKind::Imap) => Session::Mua(StartTlsSession::new(
                conn,
                addr,
                MuaProtocol::Imap,
                config,
                now,
            )),
            (TlsStart::StartTls, SessionKind::Pop3) => Session::Mua(StartTlsSession::new(
                conn,
                addr,
                MuaProtocol::Pop3,
                config,
                now,
            )),
            (TlsStart::StartTls, _) => Session::Smtp(SmtpSession::new(conn, addr, config, now)),
            (TlsStart::Implicit, kind) => {
                let protocol = match kind {
                    SessionKind::Imap => GreetingProtocol::Imap,
                    SessionKind::Pop3 => GreetingProtocol::Pop3,
                    SessionKind::Smtp | SessionKind::Submission => GreetingProtocol::Smtp,
                };
                Session::Implicit(ImplicitSession::new(conn, addr, protocol, config, now))
            }
        };
        self.conns.insert(
            conn,
            Conn {
                addr,
                sni,
                observation,
                session,
                auth: None,
                waived: false,
                end: ConnEnd::Open,
            },
        );
        Some(addr)
    }

    /// Whether `conn` is one of this probe's connections.
    #[cfg(feature = "_internal_test_exports")] // for tests only
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
        let Some(conn) = input.conn() else {
            return false;
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
        self.to_observe.clear();
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

    /// Holds every SMTP session for a mail transaction instead of QUIT (see
    /// [`SmtpSession::for_delivery`]); [`HostProbe::ready_connections`] lists those ready.
    pub fn hold_for_delivery(&mut self) {
        self.delivery.hold = true;
    }

    /// Lets a failed DANE authentication through as unauthenticated TLS (RFC 8689 sec. 4.1,
    /// `TLS-Required: No`); each such connection is marked [`ReadyConnection::waived`].
    pub fn waive_authentication(&mut self) {
        self.delivery.waive = true;
    }

    /// The held connections ready for a transaction, in connection order.
    pub fn ready_connections(&self) -> Vec<ReadyConnection> {
        let policy = self.conn_policy();
        let trusted_only = self.decision.as_ref().is_some_and(|d| d.trusted_only);
        self.conns
            .iter()
            .filter_map(|(id, c)| {
                let so_far = c.session.awaiting_go()?;
                let (verdict, reason) =
                    connection_verdict(policy, trusted_only, so_far, c.auth.as_ref());
                Some(ReadyConnection {
                    conn: *id,
                    addr: c.addr,
                    verdict,
                    reason,
                    waived: c.waived,
                    tls: so_far.tls.clone(),
                    ehlo: so_far
                        .tls_ehlo
                        .clone()
                        .or_else(|| so_far.ehlo.clone())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Starts `transaction` on ready connection `conn`, or with `None` lets it QUIT. Drain
    /// [`HostProbe::poll_action`] for it next.
    pub fn go(&mut self, now: Timestamp, conn: ConnId, transaction: Option<Transaction>) {
        if let Some(Conn {
            session: Session::Smtp(s),
            ..
        }) = self.conns.get_mut(&conn)
        {
            s.go(now, transaction);
        }
    }

    /// The connections that have ended, with their report and, for a held session, its
    /// transaction; in connection order.
    pub fn ended_connections(
        &self,
    ) -> Vec<(ConnId, &ConnectionReport, Option<&TransactionOutcome>)> {
        self.conns
            .iter()
            .filter_map(|(id, c)| match &c.end {
                ConnEnd::Reported(r) => Some((
                    *id,
                    &**r,
                    c.session.outcome().and_then(|o| o.transaction.as_ref()),
                )),
                _ => None,
            })
            .collect()
    }

    /// The trust decision, the session's log, and the report once it has ended.
    fn service(&mut self, now: Timestamp, id: ConnId) {
        let policy = self.conn_policy();
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        if conn.observation.is_some() {
            let label = observation_label(&self.conn_label(conn.addr), conn.sni.as_deref());
            return self.service_observation(now, id, &label);
        }
        let label = self.conn_label(conn.addr);
        if let Some(info) = conn.session.awaiting_trust() {
            let decision = self.decision.as_ref();
            let no_ids = Vec::new();
            let pkix = match &self.params.trust {
                TrustModel::DaneAndPkix { trust_store } => Some(trust_store),
                TrustModel::DaneOnly => None,
            };
            let (accepted, outcome) = trust_decision(
                policy,
                decision.and_then(|d| d.outcome.as_ref()),
                &info.chain,
                &VerifyParams {
                    reference_ids: decision.map_or(&no_ids, |d| &d.reference_ids),
                    now,
                },
                pkix,
            );
            let line = decision_line(&label, outcome.as_ref());
            // RFC 8689 sec. 4.1: `TLS-Required: No` lets a failed DANE authentication fall
            // back to unauthenticated TLS; the owner records the waiver.
            let waived = !accepted
                && self.delivery.waive
                && policy == HostPolicy::Dane
                && matches!(outcome, Some(Authentication::Dane(DaneOutcome::Failed(_))));
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            conn.auth = outcome;
            conn.waived = waived;
            conn.session.trust_decided(now, accepted || waived);
            self.note(line);
            if waived {
                self.note(format!(
                    "{label}: authentication failure waived by TLS-Required: No (RFC 8689 sec. 4.1)"
                ));
            }
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
        let auth = conn.auth.as_ref();
        let (verdict, reason) = connection_verdict(policy, trusted_only, outcome, auth);
        let matched = match auth.and_then(Authentication::dane) {
            Some(DaneOutcome::Matched(m)) => Some(MatchedReport {
                record: m.record.to_text(),
                depth: m.depth,
                via: match m.via {
                    MatchVia::Chain => "chain",
                    MatchVia::TlsaCertificate => "tlsa-certificate",
                    MatchVia::TlsaPublicKey => "tlsa-public-key",
                    MatchVia::TrustStore => "trust-store",
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
            tlsrpt: tlsrpt::result_type(Outcome::Session {
                verdict,
                reason: reason.as_ref(),
            }),
            reason,
            matched,
            authenticated_by: auth.and_then(Authentication::method),
            authenticated_name: auth.and_then(Authentication::name).map(str::to_string),
        };
        let line = summary_line(&label, &report);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.end = ConnEnd::Reported(Box::new(report));
        }
        self.note(line);
        self.finish_if_idle(now);
    }

    /// An observation connection: its handshake is never trusted (nothing is sent after
    /// it), and its end records the chain ([`super::observe`]).
    fn service_observation(&mut self, now: Timestamp, id: ConnId, label: &str) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(info) = conn.session.awaiting_trust() {
            let line = format!(
                "{label}: observed a chain of {} certificates; closing",
                info.chain.len()
            );
            conn.session.trust_decided(now, false);
            self.note(line);
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        for (_, line) in conn.session.take_log() {
            self.note(format!("{label}: {line}"));
        }
        if self
            .conns
            .get(&id)
            .and_then(|c| c.session.outcome())
            .is_none()
        {
            return;
        }
        self.end_observation(now, id);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.end = ConnEnd::Observed;
        }
        self.finish_if_idle(now);
    }

    /// Once no connection is open or queued: plans the observations (which may queue more),
    /// else the probe is done.
    fn finish_if_idle(&mut self, now: Timestamp) {
        if !self.to_connect.is_empty() || self.open_connections() > 0 {
            return;
        }
        self.plan_observations(now);
        if self.to_observe.is_empty() && self.open_connections() == 0 {
            self.stage = Stage::Done;
        }
    }
}
