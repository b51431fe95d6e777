//! [`Delivery`]: delivers one message to the recipients of one next-hop domain under DANE
//! (RFC 7672), with per-message requirements (`--require-dane`; REQUIRETLS and
//! `TLS-Required: No`, RFC 8689), and reports what became of every recipient.
//!
//! It is the SMTP check's machine ([`crate::check::SmtpCheck`]) in delivery mode, in the
//! same one loop: the same MX planning, the same per-host RFC 7672 policy and the same
//! trust decision, host by host, except that
//!
//! - one connection is open at a time, in MX preference order (RFC 5321 sec. 5.1), and a
//!   host is tried only after every more preferred one is done; each host runs under its
//!   own policy;
//! - each SMTP session, instead of QUIT, pauses once its dialogue is ready for mail: after
//!   the EHLO over TLS, which comes after the trust decision accepted the server (on policy
//!   `dane`, after `dane::verify` matched), or after the plaintext EHLO on an opportunistic
//!   host without STARTTLS. **Nothing of the transaction (MAIL, RCPT or the message) can be
//!   sent before that pause**, and the pause never comes on a connection whose trust
//!   decision was refused (unless `TLS-Required: No` waived a failed authentication, which
//!   is recorded);
//! - at the pause, the delivery checks its requirements and starts the transaction
//!   (`transaction`) for the recipients still pending, or lets the session
//!   QUIT;
//! - after a temporary failure (a 4xx, a lost connection, a DANE failure, an unreachable
//!   host) the recipients still pending go to the next address, then the next MX host;
//!   when every recipient has its end state, the remaining hosts are dropped.
//!
//! Each recipient ends `delivered`, `deferred` (with the reason and a retry hint) or
//! `bounced` ([`RecipientState`]); none is ever lost.
//!
//! ## Requirements
//!
//! - `--require-dane` (`CheckConfig::require_dane`): hosts that would not be authenticated
//!   by DANE with a secure MX RRset are never connected to (policy `skip`,
//!   `dane-required`); their recipients are deferred.
//! - REQUIRETLS (RFC 8689 sec. 4.2.1), in full: the MX RRset must be DNSSEC-secure (step
//!   2; daneel implements no MTA-STS), else every recipient bounces at once; the connection
//!   must be DANE-authenticated with that secure MX RRset (step 4: verdict `verified`;
//!   `encrypt`, insecure-MX `trusted` and opportunistic TLS do not qualify); REQUIRETLS must
//!   be in the EHLO reply after STARTTLS (step 5), and is then sent as a MAIL FROM
//!   parameter. A host that fails a step gets QUIT and the next MX host is tried; when no
//!   host is left and one failed a step, the pending recipients bounce with 5.7.30 (sec. 5);
//!   if the hosts were only unreachable, they are deferred.
//! - `TLS-Required: No` (RFC 8689 sec. 4.1): ignored when REQUIRETLS is in force, and
//!   overridden by `--require-dane`; otherwise a DANE authentication failure falls back to
//!   delivery over the unauthenticated TLS connection. Every such fallback is recorded in
//!   the report ([`Attempt::waived`], [`Requirements::waiver_used`]) and, with `--trace`, the
//!   `Transmitted:` field carries no TLSA marker.
//!
//! ## Recipients with different requirements at one server
//!
//! The seed draft left open what to do with a message whose recipients at one server need
//! different security. Here the answer is **separate transactions**: one `Delivery`
//! carries one set of requirements, and a caller with recipients under different
//! requirements runs one `Delivery` per set (`daneel send` takes one set per run). The
//! reasons: a connection is authenticated or not for all recipients on it, REQUIRETLS is a
//! parameter of MAIL FROM and so covers every RCPT of that transaction, and the trace
//! (`Received:`, `Transmitted:`) describes one copy. Mixing them in one transaction would
//! either send the strict recipients' copy under the weaker terms, or bounce the lax
//! recipients for a requirement they never had.

mod address;
mod attempts;
mod dsn;
mod message;
mod report;
pub mod trace;

pub use address::{validate_address, AddressError};
pub use dsn::{dsn_message, DsnParams};
pub use message::{Message, MessageError, MAX_LINE};
pub use report::{Attempt, DeliveryReport, RecipientReport, RecipientState, Requirements, Waiver};

use std::collections::{BTreeMap, BTreeSet};

use crate::check::engine::{self, CheckSteps, Engine};
use crate::check::{CheckConfig, Purpose, SmtpCheck};
use crate::dns::LookupResult;
use crate::machine::{ConnId, Input, Machine, Output, UsageError};
use crate::probe::{HostLookup, ReadyConnection};
use crate::report::{ConnectionReport, ConnectionVerdict, DomainVerdict, Report, TlsReport};
use crate::seed::Seed;
use crate::smtp::reply::Reply;
use crate::smtp::transaction::{RcptFate, Transaction, TransactionOutcome, TransactionSpec, Unfit};
use crate::time::Timestamp;

/// Retry hint after a DNS failure, seconds (Postfix's `minimal_backoff_time`).
pub const RETRY_DNS_SECS: u64 = 300;
/// Retry hint after a 4xx reply or an unreachable host, seconds (RFC 5321 sec. 4.5.4.1:
/// at least 30 minutes).
pub const RETRY_SMTP_SECS: u64 = 1800;
/// Retry hint after a DANE or TLS failure, seconds: a key rollover or a fixed TLSA RRset
/// takes hours, not minutes.
pub const RETRY_DANE_SECS: u64 = 3600;

/// What a delivery needs besides the message, the seed and the start time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// The check settings; `destination` is the next-hop domain (or `[host]`),
    /// `require_dane` is `--require-dane`.
    pub check: CheckConfig,
    /// The reverse path (RFC 5321 sec. 4.1.1.2), without angle brackets; empty for `<>`.
    pub from: String,
    /// The recipients (forward paths), all for this next hop.
    pub recipients: Vec<String>,
    /// REQUIRETLS (RFC 8689 sec. 4.2.1).
    pub requiretls: bool,
    /// Add the `Transmitted:` field ([`trace`]).
    pub trace: bool,
}

/// Where a pending recipient stands after an attempt.
#[derive(Clone, Debug)]
struct Deferral {
    status: String,
    diagnostic: String,
    from_server: bool,
    host: Option<String>,
    retry_after: u64,
    dane: Option<String>,
}

/// A recipient's state while the delivery runs.
#[derive(Clone, Debug)]
enum Fate {
    Pending(Option<Deferral>),
    Final(RecipientState, Deferral),
}

/// The delivery machine (see the module documentation). Create it with [`Delivery::new`]
/// and drive it through [`Machine`]; its [`Report`] carries a [`DeliveryReport`].
pub struct Delivery {
    check: SmtpCheck,
    config: DeliveryConfig,
    message: Message,
    waiver: Waiver,
    fates: Vec<Fate>,
    attempts: Vec<Attempt>,
    /// Attempt index of each connection that reached its pause.
    live: BTreeMap<ConnId, usize>,
    /// Connections whose end is recorded.
    seen: BTreeSet<ConnId>,
    /// A host failed a REQUIRETLS step (RFC 8689 sec. 4.2.1), with why.
    requiretls_unmet: Option<String>,
    mx_checked: bool,
    stopped: bool,
}

/// The DANE detail of a connection for the DSN's extension field.
fn dane_detail(verdict: ConnectionVerdict, reason: Option<&crate::report::Reason>) -> String {
    let verdict = serde_json::to_value(verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match reason {
        Some(r) => format!("{verdict}; {r}"),
        None => verdict,
    }
}

/// The RFC 3463 code of a reply: its enhanced code, or `class.0.0`.
fn reply_status(reply: &Reply) -> String {
    reply
        .enhanced
        .map(|e| e.to_string())
        .unwrap_or_else(|| format!("{}.0.0", reply.code / 100))
}

impl Delivery {
    /// A delivery of `message` per `config`, starting at `now`, all randomness drawn from
    /// `seed`. Fails only for an invalid configuration.
    pub fn new(
        config: DeliveryConfig,
        message: Message,
        seed: Seed,
        now: Timestamp,
    ) -> Result<Self, UsageError> {
        let invalid = UsageError::InvalidConfig;
        if config.recipients.is_empty() {
            return Err(invalid("no recipient".into()));
        }
        validate_address(&config.from).map_err(|e| invalid(e.to_string()))?;
        for r in &config.recipients {
            if r.is_empty() {
                return Err(invalid("an empty recipient address".into()));
            }
            validate_address(r).map_err(|e| invalid(e.to_string()))?;
        }
        let waiver = match (
            message.tls_required_no(),
            config.requiretls,
            config.check.require_dane,
        ) {
            (false, _, _) => Waiver::Absent,
            (true, true, _) => Waiver::IgnoredForRequireTls,
            (true, false, true) => Waiver::OverriddenByRequireDane,
            (true, false, false) => Waiver::InForce,
        };
        let check =
            SmtpCheck::for_delivery(config.check.clone(), seed, now, waiver == Waiver::InForce)?;
        let mut delivery = Delivery {
            check,
            fates: vec![Fate::Pending(None); config.recipients.len()],
            config,
            message,
            waiver,
            attempts: Vec::new(),
            live: BTreeMap::new(),
            seen: BTreeSet::new(),
            requiretls_unmet: None,
            mx_checked: false,
            stopped: false,
        };
        let line = match waiver {
            Waiver::Absent => None,
            Waiver::InForce => Some("TLS-Required: No in force: a DANE authentication failure falls back to unauthenticated TLS (RFC 8689 sec. 4.1)"),
            Waiver::IgnoredForRequireTls => Some("TLS-Required: No ignored: REQUIRETLS is in force (RFC 8689 sec. 4.1)"),
            Waiver::OverriddenByRequireDane => Some("TLS-Required: No overridden by --require-dane"),
        };
        if let Some(line) = line {
            delivery.check.engine().note(line.into());
        }
        engine::progress(&mut delivery);
        Ok(delivery)
    }

    fn pending(&self) -> Vec<usize> {
        (0..self.fates.len())
            .filter(|i| matches!(self.fates[*i], Fate::Pending(_)))
            .collect()
    }

    fn set_final(&mut self, index: usize, state: RecipientState, d: Deferral) {
        let line = format!(
            "<{}>: {} ({}{})",
            self.config.recipients[index],
            state.as_str(),
            d.status,
            if d.diagnostic.is_empty() {
                String::new()
            } else {
                format!(", {}", d.diagnostic)
            }
        );
        self.fates[index] = Fate::Final(state, d);
        self.check.engine().note(line);
    }

    fn defer(&mut self, index: usize, d: Deferral) {
        if let Fate::Pending(last) = &mut self.fates[index] {
            *last = Some(d);
        }
    }

    /// RFC 8689 sec. 4.2.1 step 2: REQUIRETLS needs a DNSSEC-secure MX RRset.
    fn check_mx(&mut self) {
        if self.mx_checked || !self.config.requiretls {
            return;
        }
        let Some(secure) = self.check.mx_known() else {
            return;
        };
        self.mx_checked = true;
        if !secure {
            for i in self.pending() {
                self.set_final(
                    i,
                    RecipientState::Bounced,
                    Deferral {
                        status: "5.7.30".into(),
                        diagnostic:
                            "REQUIRETLS: the MX RRset is not DNSSEC-secure (RFC 8689 sec. 4.2.1)"
                                .into(),
                        from_server: false,
                        host: None,
                        retry_after: 0,
                        dane: None,
                    },
                );
            }
        }
    }

    fn delivery_report(&self, report: &Report) -> DeliveryReport {
        let recipients = self
            .fates
            .iter()
            .enumerate()
            .map(|(i, fate)| {
                let (state, d) = match fate {
                    Fate::Final(state, d) => (*state, d.clone()),
                    Fate::Pending(last) => self.settle(last.as_ref(), report),
                };
                RecipientReport {
                    address: self.config.recipients[i].clone(),
                    state,
                    status: d.status,
                    diagnostic: d.diagnostic,
                    from_server: d.from_server,
                    remote_mta: d.host,
                    retry_after_secs: (state == RecipientState::Deferred).then_some(d.retry_after),
                    dane: d.dane,
                }
            })
            .collect();
        DeliveryReport {
            from: self.config.from.clone(),
            size: self.message.len() as u64,
            recipients,
            attempts: self.attempts.clone(),
            requirements: Requirements {
                require_dane: self.config.check.require_dane,
                requiretls: self.config.requiretls,
                waiver: self.waiver,
                waiver_used: self.attempts.iter().any(|a| a.waived),
            },
        }
    }
}

impl CheckSteps for Delivery {
    type Purpose = Purpose;

    fn engine(&mut self) -> &mut Engine<Purpose> {
        CheckSteps::engine(&mut self.check)
    }

    fn engine_ref(&self) -> &Engine<Purpose> {
        self.check.engine_ref()
    }

    fn probe_purpose(probe: usize, lookup: HostLookup) -> Purpose {
        <SmtpCheck as CheckSteps>::probe_purpose(probe, lookup)
    }

    fn dispatch(&mut self, purpose: Purpose, result: LookupResult) {
        self.check.dispatch(purpose, result);
        self.check_mx();
    }

    fn may_connect(&self) -> bool {
        self.check.may_connect() && !self.stopped
    }

    fn after_connections(&mut self) -> bool {
        let now = self.check.engine_ref().now;
        let mut moved = false;
        let count = self.check.engine_ref().probes.probes().len();
        for index in 0..count {
            let probe = &self.check.engine_ref().probes.probes()[index];
            let host = probe.label();
            let ended: Vec<(ConnId, ConnectionReport, Option<TransactionOutcome>)> = probe
                .ended_connections()
                .into_iter()
                .filter(|(c, _, _)| !self.seen.contains(c))
                .map(|(c, r, t)| (c, r.clone(), t.cloned()))
                .collect();
            let ready = probe.ready_connections();
            for (conn, report, tx) in ended {
                self.seen.insert(conn);
                self.ended(host.clone(), conn, &report, tx.as_ref());
            }
            for r in ready {
                let tx = self.decide(host.clone(), &r);
                let probes = &mut self.check.engine().probes;
                probes.probes_mut()[index].go(now, r.conn, tx);
                probes.refresh(index);
                moved = true;
            }
        }
        if !self.stopped && self.pending().is_empty() {
            // Every recipient has its end state: the other hosts are not needed.
            self.stopped = true;
            self.check.engine().abort_probes();
            moved = true;
        }
        moved
    }

    fn settled(&self) -> bool {
        self.check.settled()
    }

    fn build_report(&mut self) -> Report {
        let mut report = self.check.build_report();
        let delivery = self.delivery_report(&report);
        for (r, fate) in delivery.recipients.iter().zip(&self.fates) {
            if matches!(fate, Fate::Pending(_)) {
                self.check.engine().note(format!(
                    "<{}>: {} ({}, {})",
                    r.address,
                    r.state.as_str(),
                    r.status,
                    r.diagnostic
                ));
            }
        }
        report.delivery = Some(Box::new(delivery));
        report
    }
}

impl Machine for Delivery {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        engine::handle_input(self, now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        engine::poll_output(self, now)
    }
}
