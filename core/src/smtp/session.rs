//! The client dialogue of one SMTP connection (RFC 5321, RFC 3207): connect, greeting,
//! EHLO (HELO fallback, RFC 5321 sec. 4.1.4), STARTTLS, a pause for the trust decision,
//! EHLO again over TLS with all pre-TLS knowledge discarded (RFC 3207 sec. 4.2), QUIT.
//!
//! [`SmtpSession`] is sans-IO and is not itself a [`crate::Machine`]: a composite check
//! drives one per connection, feeding it the [`Input`]s for its [`ConnId`] and forwarding
//! its [`Action`]s. Whatever the server does ends in a [`SessionOutcome`]; nothing the peer
//! sends panics, errors out of the API, grows memory without bound, or waits forever
//! (every state that waits for the peer has a deadline from [`SmtpTimeouts`]).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialogue::Dialogue;
use crate::implicit::greeting::{GreetingError, GreetingProtocol};
use crate::machine::{Action, ConnId, Input, NetError};
use crate::mua::wire::ResponseError;
use crate::smtp::command::{validate_client_name, Command};
use crate::smtp::reply::{parse_ehlo, EhloInfo, Reply, ReplyError, ReplyParser};
use crate::smtp::transaction::{Outgoing, Transaction, TransactionOutcome};
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsInfo};

/// Most reply lines written to the log for one reply; longer replies are abbreviated.
pub const MAX_LOGGED_REPLY_LINES: usize = 8;

/// Longest reply line written to the log, in characters; longer lines are cut.
pub const MAX_LOGGED_LINE_CHARS: usize = 200;

/// Most injected bytes shown in the log (RFC 3207 sec. 4.2 evidence).
const MAX_LOGGED_INJECTION: usize = 80;

/// Whether the session must get TLS (RFC 7672 sec. 2.2: DANE, like MTA-STS "enforce", does
/// not deliver in cleartext) or may continue without it (RFC 3207 opportunistic use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsRequirement {
    /// DANE or an encrypt policy: no STARTTLS, or STARTTLS refused, is a failure.
    Required,
    /// STARTTLS if offered; otherwise QUIT in plaintext and report completion.
    Opportunistic,
}

/// Per-stage timeouts. Each stage's deadline runs from the moment the session starts
/// waiting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SmtpTimeouts {
    /// TCP connect.
    pub connect: Duration,
    /// The 220 greeting (RFC 5321 sec. 4.5.3.2.1: 5 minutes).
    pub greeting: Duration,
    /// The reply to EHLO or HELO, before and after TLS.
    pub ehlo: Duration,
    /// The reply to STARTTLS (RFC 3207 sec. 4).
    pub starttls: Duration,
    /// The TLS handshake after the 220 to STARTTLS.
    pub tls_handshake: Duration,
    /// The 221 to QUIT (RFC 5321 sec. 4.1.1.10); on expiry the session just closes.
    pub quit: Duration,
    /// The replies to MAIL, RCPT and DATA of a delivery (RFC 5321 sec. 4.5.3.2.2-4.5.3.2.4).
    #[serde(default = "default_transaction_timeout")]
    pub transaction: Duration,
    /// The reply after the message's final dot or to `BDAT ... LAST` (RFC 5321
    /// sec. 4.5.3.2.6: 10 minutes).
    #[serde(default = "default_data_end_timeout")]
    pub data_end: Duration,
}

fn default_transaction_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_data_end_timeout() -> Duration {
    Duration::from_secs(600)
}

impl SmtpTimeouts {
    /// The RFC 5321 sec. 4.5.3.2 values: 5 minutes for the greeting (sec. 4.5.3.2.1) and,
    /// like Postfix's `smtp_helo_timeout`, `smtp_starttls_timeout` and `smtp_quit_timeout`,
    /// for EHLO, STARTTLS and QUIT replies; 30 seconds to connect and 60 seconds for the
    /// TLS handshake (local choices, the RFCs set none).
    pub fn rfc5321() -> Self {
        let five_min = Duration::from_secs(300);
        SmtpTimeouts {
            connect: Duration::from_secs(30),
            greeting: five_min,
            ehlo: five_min,
            starttls: five_min,
            tls_handshake: Duration::from_secs(60),
            quit: five_min,
            transaction: default_transaction_timeout(),
            data_end: default_data_end_timeout(),
        }
    }

    /// The same timeout for every stage (tests, impatient checks).
    pub fn uniform(d: Duration) -> Self {
        SmtpTimeouts {
            connect: d,
            greeting: d,
            ehlo: d,
            starttls: d,
            tls_handshake: d,
            quit: d,
            transaction: d,
            data_end: d,
        }
    }
}

impl SmtpTimeouts {
    /// `d` for every stage up to the transaction, and at least RFC 5321 sec. 4.5.3.2's
    /// values for the transaction itself (5 minutes per command, 10 for the end of data):
    /// a short `--timeout` must not cut a large message short, since a server that took it
    /// but answered late would then receive it again on the next attempt.
    pub fn dialogue(d: Duration) -> Self {
        let rfc = SmtpTimeouts::rfc5321();
        SmtpTimeouts {
            transaction: d.max(rfc.transaction),
            data_end: d.max(rfc.data_end),
            ..SmtpTimeouts::uniform(d)
        }
    }
}

impl Default for SmtpTimeouts {
    /// [`SmtpTimeouts::rfc5321`].
    fn default() -> Self {
        Self::rfc5321()
    }
}

/// What one session needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// The client name sent in EHLO/HELO (RFC 5321 sec. 4.1.1.1): a domain or an address
    /// literal. Checked by [`SessionConfig::validate`].
    pub ehlo_name: String,
    /// Whether TLS is required.
    pub tls: TlsRequirement,
    /// The SNI name for the TLS handshake (RFC 7672 sec. 8.1: the TLSA base domain).
    pub sni: Option<String>,
    /// Per-stage timeouts.
    pub timeouts: SmtpTimeouts,
}

impl SessionConfig {
    /// Checks that the EHLO name cannot break the command line (no CR, LF, space or
    /// control character; RFC 5321 sec. 4.1.1.1, 2.3.8) and that the SNI name is printable
    /// ASCII. The caller turns `Err` into `UsageError::InvalidConfig`; a session built from
    /// an invalid config finishes at once with [`SessionFailure::InvalidConfig`] and never
    /// connects.
    pub fn validate(&self) -> Result<(), String> {
        validate_client_name(&self.ehlo_name)?;
        if let Some(sni) = &self.sni {
            if sni.is_empty() || !sni.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "the SNI name {sni:?} is not a printable ASCII name"
                ));
            }
        }
        Ok(())
    }
}

/// The step of the dialogue a failure or timeout belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The TCP connect.
    Connect,
    /// Waiting for the 220 greeting (RFC 5321 sec. 4.2, 3.1).
    Greeting,
    /// Waiting for the reply to EHLO (RFC 5321 sec. 4.1.1.1).
    Ehlo,
    /// Waiting for the reply to HELO (RFC 5321 sec. 4.1.4).
    Helo,
    /// Waiting for the reply to STARTTLS (RFC 3207 sec. 4).
    StartTls,
    /// The TLS handshake, and the pause for the trust decision after it.
    TlsHandshake,
    /// Waiting for the reply to EHLO over TLS (RFC 3207 sec. 4.2).
    EhloAfterTls,
    /// Waiting for the 221 to QUIT (RFC 5321 sec. 4.1.1.10), or for the answer to the
    /// logout that ends an implicit-TLS session.
    Quit,
    /// Waiting for the service's greeting after an implicit-TLS handshake (RFC 8314
    /// sec. 3; `implicit`).
    TlsGreeting,
    /// Waiting for the answer to IMAP `CAPABILITY` or POP3 `CAPA` before TLS (RFC 9051
    /// sec. 6.1.1, RFC 2449 sec. 5; `starttls`).
    Capability,
    /// Waiting for the answer to the capability query over TLS (RFC 9051 sec. 6.2.1,
    /// RFC 2595 sec. 4).
    CapabilityAfterTls,
    /// Inside a mail transaction (MAIL, RCPT, DATA or BDAT; RFC 5321 sec. 3.3;
    /// `transaction`).
    Transaction,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::Helo => "helo",
            Stage::StartTls => "start-tls",
            Stage::TlsHandshake => "tls-handshake",
            Stage::EhloAfterTls => "ehlo-after-tls",
            Stage::Quit => "quit",
            Stage::TlsGreeting => "greeting-after-tls",
            Stage::Capability => "capability",
            Stage::CapabilityAfterTls => "capability-after-tls",
            Stage::Transaction => "transaction",
        })
    }
}

/// Why a session did not complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum SessionFailure {
    /// The TCP connection could not be established.
    ConnectFailed(NetError),
    /// No answer within the stage's timeout (RFC 5321 sec. 4.5.3.2).
    Timeout(Stage),
    /// A negative reply: 4xx/5xx greeting, EHLO and HELO both refused, 421 at any point
    /// (RFC 5321 sec. 3.8, 4.2.1), or a refused EHLO after TLS.
    Rejected {
        /// Where.
        stage: Stage,
        /// The reply.
        reply: Reply,
    },
    /// TLS is required but the EHLO reply does not list STARTTLS (RFC 3207 sec. 4, RFC 7672
    /// sec. 2.2).
    StarttlsNotOffered,
    /// TLS is required and STARTTLS was answered with something other than 220 (RFC 3207
    /// sec. 4: 454, 501, ...).
    StarttlsRejected(Reply),
    /// Bytes followed the 220 to STARTTLS before the handshake (RFC 3207 sec. 4.2; the
    /// CVE-2011-0411 class of attack).
    PlaintextInjection,
    /// The TLS handshake failed.
    Tls(TlsFailure),
    /// The trust decision (DANE verification) rejected the server's chain; nothing was
    /// sent over TLS.
    TrustRejected,
    /// The server closed the connection in the middle of a stage.
    ClosedByPeer(Stage),
    /// The server's bytes are not valid SMTP replies (RFC 5321 sec. 4.2).
    Protocol {
        /// Where.
        stage: Stage,
        /// What was wrong.
        error: ReplyError,
    },
    /// The greeting after an implicit-TLS handshake is missing its end, too long, not a
    /// greeting, a refusal, or came in clear before the handshake (`implicit`).
    BadGreeting {
        /// The protocol whose greeting was read.
        protocol: GreetingProtocol,
        /// What was wrong.
        error: GreetingError,
    },
    /// TLS is required and the IMAP server greeted `* PREAUTH` (RFC 9051 sec. 7.1.4): the
    /// session is already authenticated, so STARTTLS can no longer be given (sec. 6.2.1), a
    /// STARTTLS-stripping vector.
    Preauth,
    /// TLS is required and IMAP `STARTTLS` or POP3 `STLS` was answered with `NO`, `BAD` or
    /// `-ERR` (RFC 2595 sec. 3.1, 4).
    StarttlsRefused {
        /// The protocol.
        protocol: GreetingProtocol,
        /// The text of the answer.
        response: String,
    },
    /// The IMAP or POP3 server's bytes are not a usable response ([`crate::mua::starttls`]).
    BadResponse {
        /// The protocol.
        protocol: GreetingProtocol,
        /// Where.
        stage: Stage,
        /// What was wrong.
        error: ResponseError,
    },
    /// [`SmtpSession::abort`] was called.
    Aborted,
    /// The configuration failed [`SessionConfig::validate`]; the session never connected.
    InvalidConfig(String),
}

impl fmt::Display for SessionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionFailure::ConnectFailed(error) => write!(f, "connect failed: {error}"),
            SessionFailure::Timeout(stage) => write!(f, "timeout at {stage}"),
            SessionFailure::Rejected { stage, reply } => {
                write!(f, "rejected at {stage}: {}", reply.text())
            }
            SessionFailure::StarttlsNotOffered => f.write_str("STARTTLS not offered"),
            SessionFailure::StarttlsRejected(reply) => {
                write!(f, "STARTTLS rejected: {}", reply.text())
            }
            SessionFailure::PlaintextInjection => {
                f.write_str("plaintext injected after the 220 to STARTTLS")
            }
            SessionFailure::Tls(error) => write!(f, "TLS handshake failed: {error}"),
            SessionFailure::TrustRejected => f.write_str("server certificate not trusted"),
            SessionFailure::ClosedByPeer(stage) => {
                write!(f, "connection closed by the server at {stage}")
            }
            SessionFailure::Protocol { stage, error } => {
                write!(f, "protocol error at {stage}: {error}")
            }
            SessionFailure::BadGreeting { protocol, error } => {
                write!(f, "bad {protocol:?} greeting: {error}")
            }
            SessionFailure::Preauth => f.write_str("PREAUTH greeting: no STARTTLS possible"),
            SessionFailure::StarttlsRefused { protocol, response } => {
                write!(f, "{protocol:?} upgrade to TLS refused: {response}")
            }
            SessionFailure::BadResponse {
                protocol,
                stage,
                error,
            } => write!(f, "bad {protocol:?} response at {stage}: {error}"),
            SessionFailure::Aborted => f.write_str("aborted"),
            SessionFailure::InvalidConfig(reason) => write!(f, "invalid config: {reason}"),
        }
    }
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "end", content = "failure")]
pub enum SessionEnd {
    /// The dialogue went as far as it should and QUIT was sent (a missing 221 does not
    /// matter). With [`TlsRequirement::Opportunistic`] this includes "no TLS".
    Completed,
    /// It did not.
    Failed(SessionFailure),
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Completed => f.write_str("completed"),
            SessionEnd::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

/// Everything one session learned. Pre-TLS (`ehlo`) and post-TLS (`tls_ehlo`) knowledge
/// are kept apart: only the latter is trustworthy (RFC 3207 sec. 4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOutcome {
    /// The greeting (RFC 5321 sec. 4.2), if one arrived.
    pub greeting: Option<Reply>,
    /// The capabilities from the plaintext EHLO, or from HELO (domain only) when
    /// `used_helo`.
    pub ehlo: Option<EhloInfo>,
    /// EHLO was refused and HELO accepted (RFC 5321 sec. 4.1.4): no extensions, no
    /// STARTTLS.
    pub used_helo: bool,
    /// The plaintext EHLO listed STARTTLS.
    pub starttls_offered: bool,
    /// The reply to STARTTLS when it was not 220 (with opportunistic TLS the session then
    /// continues in plaintext).
    pub starttls_reply: Option<Reply>,
    /// The handshake's result, when it completed.
    pub tls: Option<TlsInfo>,
    /// The capabilities from the EHLO over TLS.
    pub tls_ehlo: Option<EhloInfo>,
    /// How it ended.
    pub end: SessionEnd,
    /// TLS was to start with the first byte (RFC 8314 sec. 3): there is no cleartext to fall
    /// back to, so a session that never reached TLS is never `plaintext`.
    #[serde(default)]
    pub implicit_tls: bool,
    /// The mail transaction, when the owner started one ([`SmtpSession::go`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<TransactionOutcome>,
}

impl SessionOutcome {
    /// Nothing learned yet; `end` stays [`SessionEnd::Completed`] until the session sets it.
    pub fn new(implicit_tls: bool) -> Self {
        SessionOutcome {
            greeting: None,
            ehlo: None,
            used_helo: false,
            starttls_offered: false,
            starttls_reply: None,
            tls: None,
            tls_ehlo: None,
            end: SessionEnd::Completed,
            implicit_tls,
            transaction: None,
        }
    }
}

/// Where the dialogue is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    TlsHandshake,
    AwaitingTrust,
    EhloAfterTls,
    /// The dialogue is ready for a mail transaction and waits for its owner's
    /// [`SmtpSession::go`] (only for a session made with [`SmtpSession::for_delivery`]).
    AwaitingGo,
    /// The mail transaction is running.
    Transaction,
    /// QUIT sent; the session ends with this once the 221, a close, or the timeout comes.
    Quit(SessionEnd),
    Done,
}

impl State {
    fn stage(&self) -> Stage {
        match self {
            State::Connecting => Stage::Connect,
            State::Greeting => Stage::Greeting,
            State::Ehlo => Stage::Ehlo,
            State::Helo => Stage::Helo,
            State::StartTls => Stage::StartTls,
            State::TlsHandshake | State::AwaitingTrust => Stage::TlsHandshake,
            State::EhloAfterTls => Stage::EhloAfterTls,
            State::AwaitingGo | State::Transaction => Stage::Transaction,
            State::Quit(_) | State::Done => Stage::Quit,
        }
    }

    /// States that read SMTP replies.
    fn reads_replies(&self) -> bool {
        matches!(
            self,
            State::Greeting
                | State::Ehlo
                | State::Helo
                | State::StartTls
                | State::EhloAfterTls
                | State::Transaction
                | State::Quit(_)
        )
    }
}

/// EHLO replies after which HELO is tried: "command not recognized / not implemented /
/// parameter not implemented" (RFC 5321 sec. 4.1.4, 3.2) and 550, which some old servers
/// use for unknown commands.
const HELO_FALLBACK_CODES: [u16; 4] = [500, 502, 504, 550];

/// The client side of one SMTP connection, up to and including the EHLO over TLS.
///
/// Drive it like a [`crate::Machine`]: after [`SmtpSession::new`],
/// [`SmtpSession::handle_input`], [`SmtpSession::handle_timeout`] or
/// [`SmtpSession::trust_decided`], drain [`SmtpSession::poll_action`]; call
/// `handle_timeout` when [`SmtpSession::next_deadline`] passes. After `TlsEstablished`
/// the session pauses, sending nothing, until [`SmtpSession::trust_decided`].
///
/// Every ending emits exactly one [`Action::Close`] (except when the connect failed or the
/// config was invalid), then nothing more; a connect timeout also emits `Close`, to cancel
/// the attempt.
#[derive(Debug)]
pub struct SmtpSession {
    d: Dialogue,
    state: State,
    parser: ReplyParser,
    /// Pause for [`SmtpSession::go`] instead of QUIT once the dialogue is ready.
    hold: bool,
    /// The mail transaction, once started (boxed: most sessions never have one).
    tx: Option<Box<Transaction>>,
    /// Replies owed when the reply being handled arrived (pipelining, RFC 2920).
    owed: usize,
}

impl SmtpSession {
    /// Starts a session: queues [`Action::Connect`] to `addr` with the connect deadline.
    /// An invalid `config` (see [`SessionConfig::validate`]) ends the session at once.
    pub fn new(conn: ConnId, addr: SocketAddr, config: SessionConfig, now: Timestamp) -> Self {
        let mut s = SmtpSession {
            d: Dialogue::start(conn, addr, config, now, false, ""),
            state: State::Connecting,
            parser: ReplyParser::new(),
            hold: false,
            tx: None,
            owed: 0,
        };
        match s.d.done {
            true => s.state = State::Done,
            false => s.enter(State::Connecting),
        }
        s
    }

    /// A session that, instead of sending QUIT once the dialogue is ready for mail (after
    /// the EHLO over TLS, or after the plaintext EHLO where TLS is not required and not
    /// obtained), pauses until [`SmtpSession::go`]. The pause comes after the trust
    /// decision, so nothing of a transaction can precede it.
    pub fn for_delivery(
        conn: ConnId,
        addr: SocketAddr,
        config: SessionConfig,
        now: Timestamp,
    ) -> Self {
        let mut s = Self::new(conn, addr, config, now);
        s.hold = true;
        s
    }

    /// What the dialogue learned, while it waits for [`SmtpSession::go`].
    pub fn awaiting_go(&self) -> Option<&SessionOutcome> {
        (self.state == State::AwaitingGo).then_some(&self.d.result)
    }

    /// The owner's answer to [`SmtpSession::awaiting_go`]: run `transaction` (its commands
    /// go out now, RFC 5321 sec. 3.3), or with `None` send QUIT and complete. Ignored
    /// unless awaiting.
    pub fn go(&mut self, now: Timestamp, transaction: Option<Transaction>) {
        self.tick(now);
        if self.state != State::AwaitingGo {
            return;
        }
        let Some(mut tx) = transaction else {
            self.note("no transaction on this connection".into());
            return self.quit(SessionEnd::Completed);
        };
        let out = tx.start();
        self.tx = Some(Box::new(tx));
        self.state = State::Transaction;
        self.send_all(out);
    }

    /// Queues what the transaction wants sent and waits for its next reply, or QUITs once
    /// it is over.
    fn send_all(&mut self, out: Vec<Outgoing>) {
        let mut body = 0usize;
        for o in out {
            match o.shown {
                Some(shown) => self.d.send(o.bytes, &shown),
                None => {
                    body += o.bytes.len();
                    self.d.actions.push_back(Action::Send {
                        conn: self.d.conn,
                        bytes: o.bytes,
                    });
                }
            }
        }
        if body > 0 {
            self.note(format!("> (message, {body} bytes)"));
        }
        let Some(tx) = &self.tx else {
            return;
        };
        if tx.is_done() {
            self.d.result.transaction = Some(tx.outcome().clone());
            self.quit(SessionEnd::Completed);
        } else {
            let timeout = tx.timeout(&self.d.config.timeouts);
            self.d.wait(Some(timeout));
        }
    }

    /// The connection this session owns.
    pub fn conn(&self) -> ConnId {
        self.d.conn
    }

    /// Feeds one input. Only `Connected`, `ConnectFailed`, `Received`, `TlsEstablished`,
    /// `TlsFailed` and `Closed` for this session's connection matter; other inputs, inputs
    /// for other connections, inputs that do not fit the state, and anything after the end
    /// are ignored (for `Input::Abort`, call [`SmtpSession::abort`]). `now` is clamped so
    /// it never runs backwards.
    pub fn handle_input(&mut self, now: Timestamp, input: &Input<'_>) {
        self.tick(now);
        if self.state == State::Done {
            return;
        }
        let connecting = self.state == State::Connecting;
        let handshaking = self.state == State::TlsHandshake;
        match input {
            Input::ConnectQueued { conn } if *conn == self.d.conn && connecting => self.d.queued(),
            Input::Connecting { conn } if *conn == self.d.conn && connecting => {
                self.note("connecting".into());
                self.enter(State::Connecting);
            }
            Input::Connected { conn } if *conn == self.d.conn && connecting => {
                self.note("connected".into());
                self.enter(State::Greeting);
            }
            Input::ConnectFailed { conn, error } if *conn == self.d.conn && connecting => {
                self.d.must_close = false;
                self.fail(SessionFailure::ConnectFailed(error.clone()));
            }
            Input::Received { conn, bytes } if *conn == self.d.conn => self.on_received(bytes),
            Input::TlsEstablished { conn, info } if *conn == self.d.conn && handshaking => {
                self.d.tls_established(info);
                // RFC 3207 sec. 4.2: nothing from before TLS carries over.
                self.parser = ReplyParser::new();
                self.enter(State::AwaitingTrust);
            }
            Input::TlsFailed { conn, error } if *conn == self.d.conn && handshaking => {
                self.note(format!("TLS handshake failed: {error}"));
                self.fail(SessionFailure::Tls(error.clone()));
            }
            Input::Closed { conn } if *conn == self.d.conn => {
                self.note("connection closed by the server".into());
                match self.state.clone() {
                    State::Quit(end) => self.finish(end),
                    other => self.fail(SessionFailure::ClosedByPeer(other.stage())),
                }
            }
            _ => {}
        }
    }

    /// Feeds the passage of time: if the deadline of the current stage has passed, the
    /// session fails with [`SessionFailure::Timeout`] and closes (RFC 5321 sec. 4.5.3.2);
    /// in the QUIT stage it just closes. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.tick(now);
        if !self.d.expired() {
            return;
        }
        match self.state.clone() {
            State::Quit(end) => {
                self.note("no reply to QUIT".into());
                self.finish(end);
            }
            other => {
                let stage = other.stage();
                self.note(format!("timeout at {stage}"));
                self.fail(SessionFailure::Timeout(stage));
            }
        }
    }

    /// The next action for the runtime, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.d.actions.pop_front()
    }

    /// When [`SmtpSession::handle_timeout`] must be called; `None` once finished and while
    /// awaiting the trust decision (the wait is on the caller, not the peer).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.d.deadline
    }

    /// The handshake's result while the session waits for [`SmtpSession::trust_decided`].
    pub fn awaiting_trust(&self) -> Option<&TlsInfo> {
        self.d.awaiting_trust(self.state == State::AwaitingTrust)
    }

    /// The trust decision on the chain in [`SmtpSession::awaiting_trust`] (RFC 7672
    /// sec. 3). Accepted: send EHLO over TLS with fresh state (RFC 3207 sec. 4.2), then
    /// QUIT. Rejected: close without sending anything over TLS. Ignored unless awaiting.
    pub fn trust_decided(&mut self, now: Timestamp, accepted: bool) {
        self.tick(now);
        if self.state != State::AwaitingTrust {
            return;
        }
        if !accepted {
            self.note("trust rejected".into());
            return self.fail(SessionFailure::TrustRejected);
        }
        self.note("trust accepted".into());
        let early = self.parser.buffered_len();
        if early > 0 {
            // The server spoke inside TLS before our EHLO.
            let shown = self.parser.take_buffered();
            self.note(format!(
                "server sent {early} bytes before EHLO: {}",
                escape_bytes(&shown)
            ));
            return self.fail(SessionFailure::Protocol {
                stage: Stage::EhloAfterTls,
                error: ReplyError::Unsolicited { bytes: early },
            });
        }
        self.send(Command::Ehlo(self.d.config.ehlo_name.clone()));
        self.enter(State::EhloAfterTls);
    }

    /// Stops the session now: closes the connection and ends with
    /// [`SessionFailure::Aborted`] (for `Input::Abort` in the composite check).
    pub fn abort(&mut self, now: Timestamp) {
        self.tick(now);
        if self.state != State::Done {
            self.note("aborted".into());
            self.fail(SessionFailure::Aborted);
        }
    }

    /// The result, once finished (after the `Close` action was queued).
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        self.d.outcome()
    }

    /// Whether the session has finished.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the dialogue log so far: `< ` reply lines (long replies abbreviated), `> `
    /// commands, and events (connect, TLS, trust, timeouts, close).
    pub fn take_log(&mut self) -> Vec<(Timestamp, String)> {
        self.d.take_log()
    }

    fn tick(&mut self, now: Timestamp) {
        self.d.tick(now);
    }

    fn note(&mut self, line: String) {
        self.d.note(line);
    }

    /// Enters `state` and sets its deadline.
    fn enter(&mut self, state: State) {
        let t = &self.d.config.timeouts;
        let timeout = match state {
            State::Connecting => Some(t.connect),
            State::Greeting => Some(t.greeting),
            State::Ehlo | State::Helo | State::EhloAfterTls => Some(t.ehlo),
            State::StartTls => Some(t.starttls),
            State::TlsHandshake => Some(t.tls_handshake),
            State::Quit(_) => Some(t.quit),
            State::AwaitingTrust | State::AwaitingGo | State::Done => None,
            State::Transaction => Some(t.transaction),
        };
        self.d.wait(timeout);
        self.state = state;
    }

    fn send(&mut self, command: Command) {
        self.d.send(command.to_bytes(), &command.to_string());
    }

    /// Ends the session, closing the connection if it was opened.
    fn finish(&mut self, end: SessionEnd) {
        if let Some(tx) = &self.tx {
            self.d.result.transaction = Some(tx.outcome().clone());
        }
        self.d.finish(end);
        self.state = State::Done;
    }

    fn fail(&mut self, failure: SessionFailure) {
        self.finish(SessionEnd::Failed(failure));
    }

    /// Sends QUIT and waits for the 221 before ending with `end`.
    fn quit(&mut self, end: SessionEnd) {
        self.send(Command::Quit);
        self.enter(State::Quit(end));
    }

    fn reject(&mut self, stage: Stage, reply: Reply) {
        self.quit(SessionEnd::Failed(SessionFailure::Rejected {
            stage,
            reply,
        }));
    }

    fn on_received(&mut self, bytes: &[u8]) {
        match self.state {
            State::TlsHandshake => {
                // The runtime feeds the socket through the TLS pump after StartTls, so this
                // is plaintext that slipped past the 220 (RFC 3207 sec. 4.2).
                self.note(format!(
                    "{} bytes received before the TLS handshake finished: {}",
                    bytes.len(),
                    escape_bytes(bytes)
                ));
                self.fail(SessionFailure::PlaintextInjection);
            }
            // Inside TLS, before our EHLO: kept (bounded) and refused in `trust_decided`.
            State::AwaitingTrust => self.parser.push(bytes),
            ref s if s.reads_replies() => {
                self.parser.push(bytes);
                self.process_replies();
            }
            _ => {}
        }
    }

    fn process_replies(&mut self) {
        while self.state.reads_replies() {
            match self.parser.next_reply() {
                None => break,
                Some(Ok(reply)) => {
                    self.owed = self.tx.as_ref().map_or(0, |tx| tx.outstanding());
                    let queued = self.d.actions.len();
                    self.on_reply(reply);
                    self.refuse_bytes_beyond_the_reply(queued);
                }
                Some(Err(error)) => {
                    self.note(format!("protocol error: {error}"));
                    match self.state.clone() {
                        State::Quit(end) => self.finish(end),
                        other => self.fail(SessionFailure::Protocol {
                            stage: other.stage(),
                            error,
                        }),
                    }
                }
            }
        }
    }

    /// Bytes beyond the complete reply to the last command sent fail the session. This
    /// client sends one command and waits for its reply (it never pipelines, RFC 2920
    /// sec. 3.1; RFC 5321 sec. 4.3.1), and the runtimes hand over every byte they read at
    /// once, so bytes still buffered once a reply is consumed and the next command queued
    /// were sent before that command: a reply to a command never sent (RFC 5321 sec. 4.2:
    /// a reply answers a command). After the EHLO reply they would be taken as the answer to
    /// STARTTLS, so a pre-sent "220" could steer the upgrade. The reason is a protocol
    /// error ([`ReplyError::Unsolicited`]) at the stage of the command they pretend to
    /// answer, not `plaintext-injection`: that name is kept for RFC 3207 sec. 4.2 proper,
    /// bytes after the 220 to STARTTLS that would reach the TLS layer. The command queued
    /// for the reply is withdrawn, so nothing more is sent. Once QUIT is sent the outcome is
    /// decided and later bytes change nothing.
    ///
    /// In a pipelined transaction (RFC 2920), replies to commands sent together may arrive
    /// together: bytes beyond a reply are refused only when no other command was owed a
    /// reply when it arrived, and then everything queued in answer to it (`queued`: the
    /// queue's length before) is withdrawn.
    ///
    /// A session held for delivery that has just become ready ([`SmtpSession::awaiting_go`])
    /// refuses them too: they would be taken as the reply to MAIL FROM.
    fn refuse_bytes_beyond_the_reply(&mut self, queued: usize) {
        let ready = self.state == State::AwaitingGo;
        let waiting =
            (self.state.reads_replies() || ready) && !matches!(self.state, State::Quit(_));
        let extra = self.parser.buffered_len();
        if !waiting || extra == 0 || self.owed > 1 {
            return;
        }
        let shown = self.parser.take_buffered();
        let stage = self.state.stage();
        // What was queued in answer is withdrawn: the runtime has not seen it yet.
        if self.tx.is_some() || ready {
            self.d.actions.truncate(queued);
        } else if matches!(self.d.actions.back(), Some(Action::Send { .. })) {
            self.d.actions.pop_back();
        }
        self.note(format!(
            "{extra} bytes followed the complete reply before the next command was sent ({stage}; command withdrawn): {}",
            escape_bytes(&shown)
        ));
        self.fail(SessionFailure::Protocol {
            stage,
            error: ReplyError::Unsolicited { bytes: extra },
        });
    }

    fn log_reply(&mut self, reply: &Reply) {
        let n = reply.lines.len();
        let line = |i: usize, text: &str| {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let text = escape_text(text);
            if text.is_empty() && i + 1 == n {
                format!("< {}", reply.code)
            } else {
                format!("< {}{}{}", reply.code, sep, text)
            }
        };
        if n <= MAX_LOGGED_REPLY_LINES {
            for (i, text) in reply.lines.iter().enumerate() {
                self.note(line(i, text));
            }
        } else {
            let head = MAX_LOGGED_REPLY_LINES - 2;
            for (i, text) in reply.lines.iter().enumerate().take(head) {
                self.note(line(i, text));
            }
            self.note(format!("< ... ({} more lines)", n - head - 1));
            self.note(line(n - 1, &reply.lines[n - 1]));
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        self.log_reply(&reply);
        let stage = self.state.stage();
        if reply.code == 421 && !matches!(self.state, State::Quit(_)) {
            // RFC 5321 sec. 3.8: the server is shutting the channel down.
            if self.state == State::Greeting {
                self.d.result.greeting = Some(reply.clone());
            }
            // During a transaction the 421 is the answer to the command in flight: the
            // transaction records it (the server's code and text reach the recipients), and
            // whatever it would send next is dropped, the channel being closed.
            if self.state == State::Transaction {
                if let Some(tx) = self.tx.as_mut() {
                    drop(tx.on_reply(reply.clone()));
                }
            }
            return self.reject(stage, reply);
        }
        match self.state.clone() {
            State::Greeting => {
                self.d.result.greeting = Some(reply.clone());
                if reply.is_positive_completion() {
                    self.send(Command::Ehlo(self.d.config.ehlo_name.clone()));
                    self.enter(State::Ehlo);
                } else {
                    self.reject(stage, reply);
                }
            }
            State::Ehlo => {
                if reply.is_positive_completion() {
                    self.d.result.ehlo = Some(parse_ehlo(&reply));
                    self.after_hello();
                } else if HELO_FALLBACK_CODES.contains(&reply.code) {
                    self.send(Command::Helo(self.d.config.ehlo_name.clone()));
                    self.enter(State::Helo);
                } else {
                    self.reject(stage, reply);
                }
            }
            State::Helo => {
                if reply.is_positive_completion() {
                    self.d.result.used_helo = true;
                    self.d.result.ehlo = Some(EhloInfo {
                        keywords: Vec::new(),
                        starttls: false,
                        pipelining: false,
                        size: None,
                        ..parse_ehlo(&reply)
                    });
                    self.after_hello();
                } else {
                    self.reject(stage, reply);
                }
            }
            State::StartTls => {
                if reply.code == 220 {
                    let extra = self.parser.buffered_len();
                    if extra > 0 {
                        let shown = self.parser.take_buffered();
                        self.note(format!(
                            "{extra} bytes followed the 220 to STARTTLS: {}",
                            escape_bytes(&shown)
                        ));
                        return self.fail(SessionFailure::PlaintextInjection);
                    }
                    self.d.start_tls("TLS handshake");
                    self.enter(State::TlsHandshake);
                } else {
                    self.d.result.starttls_reply = Some(reply.clone());
                    match self.d.config.tls {
                        TlsRequirement::Required => {
                            self.quit(SessionEnd::Failed(SessionFailure::StarttlsRejected(reply)))
                        }
                        TlsRequirement::Opportunistic => {
                            self.note("continuing without TLS".into());
                            self.ready();
                        }
                    }
                }
            }
            State::EhloAfterTls => {
                if reply.is_positive_completion() {
                    self.d.result.tls_ehlo = Some(parse_ehlo(&reply));
                    self.ready();
                } else {
                    self.reject(stage, reply);
                }
            }
            State::Transaction => {
                let out = match self.tx.as_mut() {
                    Some(tx) => tx.on_reply(reply),
                    None => Vec::new(),
                };
                self.send_all(out);
            }
            State::Quit(end) => self.finish(end),
            State::Connecting
            | State::TlsHandshake
            | State::AwaitingTrust
            | State::AwaitingGo
            | State::Done => {}
        }
    }

    /// The dialogue is as far as a check goes: QUIT, or for a delivery the pause for
    /// [`SmtpSession::go`].
    fn ready(&mut self) {
        if self.hold {
            self.note("ready for a mail transaction".into());
            self.d.wait(None);
            self.state = State::AwaitingGo;
        } else {
            self.quit(SessionEnd::Completed);
        }
    }

    /// After a positive EHLO or HELO: STARTTLS if offered (RFC 3207 sec. 4), otherwise QUIT.
    fn after_hello(&mut self) {
        let offered = self.d.result.ehlo.as_ref().is_some_and(|e| e.starttls);
        self.d.result.starttls_offered = offered;
        if offered {
            self.send(Command::StartTls);
            self.enter(State::StartTls);
        } else {
            match self.d.config.tls {
                TlsRequirement::Required => {
                    self.quit(SessionEnd::Failed(SessionFailure::StarttlsNotOffered))
                }
                TlsRequirement::Opportunistic => {
                    self.note("STARTTLS not offered; continuing without TLS".into());
                    self.ready();
                }
            }
        }
    }
}

/// Reply text for the log: control characters escaped, cut at [`MAX_LOGGED_LINE_CHARS`].
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_LOGGED_LINE_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Raw bytes for the log, escaped, at most [`MAX_LOGGED_INJECTION`] of them.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_LOGGED_INJECTION)];
    let mut out: String = cut.escape_ascii().to_string();
    if cut.len() < bytes.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tls: TlsRequirement) -> SessionConfig {
        SessionConfig {
            ehlo_name: "client.example".into(),
            tls,
            sni: Some("mx.example.com".into()),
            timeouts: SmtpTimeouts::uniform(Duration::from_secs(10)),
        }
    }

    fn session(tls: TlsRequirement) -> SmtpSession {
        let addr: SocketAddr = "192.0.2.25:25".parse().unwrap();
        SmtpSession::new(ConnId(1), addr, config(tls), Timestamp::from_millis(1000))
    }

    fn drain(s: &mut SmtpSession) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn recv(s: &mut SmtpSession, bytes: &[u8]) -> Vec<Action> {
        s.handle_input(
            Timestamp::from_millis(2000),
            &Input::Received {
                conn: ConnId(1),
                bytes,
            },
        );
        drain(s)
    }

    #[test]
    fn invalid_config_never_connects() {
        let mut c = config(TlsRequirement::Required);
        c.ehlo_name = "a\r\nRSET".into();
        assert!(c.validate().is_err());
        let addr: SocketAddr = "192.0.2.25:25".parse().unwrap();
        let mut s = SmtpSession::new(ConnId(1), addr, c, Timestamp::EPOCH);
        assert!(drain(&mut s).is_empty());
        assert!(matches!(
            s.outcome().unwrap().end,
            SessionEnd::Failed(SessionFailure::InvalidConfig(_))
        ));
    }

    #[test]
    fn timeouts_and_stage_names() {
        let t = SmtpTimeouts::rfc5321();
        assert_eq!(t.greeting, Duration::from_secs(300));
        assert_eq!(t.connect, Duration::from_secs(30));
        assert_eq!(t.tls_handshake, Duration::from_secs(60));
        assert_eq!(Stage::EhloAfterTls.to_string(), "ehlo-after-tls");
        assert_eq!(
            serde_json::to_string(&Stage::StartTls).unwrap(),
            format!("\"{}\"", Stage::StartTls)
        );
    }

    #[test]
    fn inputs_for_other_connections_are_ignored() {
        let mut s = session(TlsRequirement::Required);
        drain(&mut s);
        s.handle_input(
            Timestamp::from_millis(1500),
            &Input::Connected { conn: ConnId(2) },
        );
        s.handle_input(
            Timestamp::from_millis(1500),
            &Input::Closed { conn: ConnId(2) },
        );
        assert!(drain(&mut s).is_empty());
        assert!(s.outcome().is_none());
        s.handle_input(
            Timestamp::from_millis(1500),
            &Input::Connected { conn: ConnId(1) },
        );
        assert!(recv(&mut s, b"220 hi\r\n").contains(&Action::Send {
            conn: ConnId(1),
            bytes: b"EHLO client.example\r\n".to_vec()
        }));
    }

    #[test]
    fn a_held_session_pauses_and_refuses_a_reply_sent_ahead_of_mail() {
        let addr: SocketAddr = "192.0.2.25:25".parse().unwrap();
        let start = |extra: &[u8]| {
            let mut s = SmtpSession::for_delivery(
                ConnId(1),
                addr,
                config(TlsRequirement::Opportunistic),
                Timestamp::from_millis(1000),
            );
            s.handle_input(
                Timestamp::from_millis(1500),
                &Input::Connected { conn: ConnId(1) },
            );
            recv(&mut s, b"220 hi\r\n");
            let mut ehlo = b"250-mx\r\n250 PIPELINING\r\n".to_vec();
            ehlo.extend_from_slice(extra);
            (recv(&mut s, &ehlo), s)
        };
        // No STARTTLS offered, opportunistic: ready for a transaction, nothing sent.
        let (actions, s) = start(b"");
        assert!(actions.is_empty(), "{actions:?}");
        assert!(s.awaiting_go().is_some());
        assert!(s.outcome().is_none());
        // A "250" sent before MAIL FROM would answer it: the session fails, sends nothing.
        let (actions, mut s) = start(b"250 2.1.0 ok\r\n");
        assert!(s.awaiting_go().is_none());
        assert!(
            !actions.iter().any(|a| matches!(a, Action::Send { .. })),
            "{actions:?}"
        );
        assert!(matches!(
            s.outcome().unwrap().end,
            SessionEnd::Failed(SessionFailure::Protocol {
                error: ReplyError::Unsolicited { .. },
                ..
            })
        ));
        s.go(Timestamp::from_millis(3000), None);
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn long_reply_is_abbreviated_in_the_log() {
        let mut s = session(TlsRequirement::Opportunistic);
        s.handle_input(
            Timestamp::from_millis(1500),
            &Input::Connected { conn: ConnId(1) },
        );
        let mut wire = b"220-first\r\n".to_vec();
        for i in 0..50 {
            wire.extend_from_slice(format!("220-line {i}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"220 last\r\n");
        recv(&mut s, &wire);
        let log: Vec<String> = s.take_log().into_iter().map(|(_, l)| l).collect();
        assert!(log.contains(&"< 220-first".to_string()), "{log:?}");
        assert!(
            log.contains(&"< ... (45 more lines)".to_string()),
            "{log:?}"
        );
        assert!(log.contains(&"< 220 last".to_string()), "{log:?}");
        assert!(log.len() < 16, "{log:?}");
    }
}
