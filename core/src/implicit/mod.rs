//! Sessions with implicit TLS (RFC 8314 sec. 3): imaps (993), pop3s (995) and submissions
//! (465). The client connects, starts TLS at once (nothing is ever sent in clear), pauses for
//! the trust decision, reads the service's greeting over TLS, then ends politely.
//!
//! [`ImplicitSession`] is sans-IO and is driven like [`crate::smtp::session::SmtpSession`],
//! whose [`SessionConfig`], [`SessionOutcome`] and failures it shares, so a probe runs and
//! judges either the same way. Every state that waits for the peer has a deadline from
//! [`crate::smtp::session::SmtpTimeouts`]: `connect`, `tls_handshake`, `greeting` (for the
//! greeting after TLS) and `quit` (for the answer to the logout).

pub mod greeting;

use std::net::SocketAddr;

use crate::dialogue::Dialogue;
use crate::machine::{Action, ConnId, Input};
use crate::smtp::reply::MAX_BUFFERED_BYTES;
use crate::smtp::session::{
    SessionConfig, SessionEnd, SessionFailure, SessionOutcome, Stage, MAX_LOGGED_LINE_CHARS,
};
use crate::time::Timestamp;
use greeting::{Greeting, GreetingError, GreetingProtocol, GreetingReader};

/// The answer to a logout command ([`GreetingProtocol::logout`]), kept until its end
/// ([`GreetingProtocol::ends_logout`]) and never beyond [`MAX_BUFFERED_BYTES`].
#[derive(Debug, Default)]
pub struct LogoutAnswer {
    bytes: Vec<u8>,
}

impl LogoutAnswer {
    /// Adds received bytes; `true` once the answer is complete or the bound is reached.
    pub fn push(&mut self, protocol: GreetingProtocol, bytes: &[u8]) -> bool {
        let room = MAX_BUFFERED_BYTES.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        let answered = self
            .bytes
            .split(|&b| b == b'\n')
            .rev()
            .skip(1)
            .any(|line| protocol.ends_logout(line));
        answered || self.bytes.len() >= MAX_BUFFERED_BYTES
    }
}

/// Where the session is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Handshake,
    AwaitingTrust,
    Greeting,
    /// The logout command was sent; ends with this once answered, closed or timed out.
    Closing(SessionEnd),
    Done,
}

impl State {
    fn stage(&self) -> Stage {
        match self {
            State::Connecting => Stage::Connect,
            State::Handshake | State::AwaitingTrust => Stage::TlsHandshake,
            State::Greeting => Stage::TlsGreeting,
            State::Closing(_) | State::Done => Stage::Quit,
        }
    }
}

/// The client side of one implicit-TLS connection, up to the greeting and the logout.
///
/// After [`ImplicitSession::new`], [`ImplicitSession::handle_input`],
/// [`ImplicitSession::handle_timeout`] or [`ImplicitSession::trust_decided`], drain
/// [`ImplicitSession::poll_action`]. Every ending emits exactly one [`Action::Close`] (except
/// when the connect failed or the config was invalid).
#[derive(Debug)]
pub struct ImplicitSession {
    d: Dialogue,
    protocol: GreetingProtocol,
    state: State,
    greeting: GreetingReader,
    /// Greeting bytes that arrived before the trust decision (bounded).
    early: Vec<u8>,
    /// The answer to the logout.
    answer: LogoutAnswer,
}

impl ImplicitSession {
    /// Starts a session speaking `protocol`: queues [`Action::Connect`] to `addr`. An invalid
    /// `config` ends the session at once. `config.tls` is not consulted: TLS is the transport.
    pub fn new(
        conn: ConnId,
        addr: SocketAddr,
        protocol: GreetingProtocol,
        config: SessionConfig,
        now: Timestamp,
    ) -> Self {
        let mut s = ImplicitSession {
            d: Dialogue::start(conn, addr, config, now, true, " (implicit TLS)"),
            protocol,
            state: State::Connecting,
            greeting: GreetingReader::new(protocol),
            early: Vec::new(),
            answer: LogoutAnswer::default(),
        };
        match s.d.done {
            true => s.state = State::Done,
            false => s.enter(State::Connecting),
        }
        s
    }

    /// Feeds one input for this session's connection; others are ignored.
    pub fn handle_input(&mut self, now: Timestamp, input: &Input<'_>) {
        self.d.tick(now);
        let mine = |conn: &ConnId| *conn == self.d.conn;
        match input {
            Input::ConnectQueued { conn } if mine(conn) && self.state == State::Connecting => {
                self.d.queued()
            }
            Input::Connecting { conn } if mine(conn) && self.state == State::Connecting => {
                self.d.note("connecting".into());
                self.enter(State::Connecting);
            }
            Input::Connected { conn } if mine(conn) && self.state == State::Connecting => {
                self.d.start_tls("connected; TLS handshake");
                self.enter(State::Handshake);
            }
            Input::ConnectFailed { conn, error }
                if mine(conn) && self.state == State::Connecting =>
            {
                self.d.must_close = false;
                self.fail(SessionFailure::ConnectFailed(error.clone()));
            }
            Input::Received { conn, bytes } if mine(conn) => self.on_received(bytes),
            Input::TlsEstablished { conn, info }
                if mine(conn) && self.state == State::Handshake =>
            {
                self.d.tls_established(info);
                self.enter(State::AwaitingTrust);
            }
            Input::TlsFailed { conn, error } if mine(conn) && self.state == State::Handshake => {
                self.note(format!("TLS handshake failed: {error}"));
                self.fail(SessionFailure::Tls(error.clone()));
            }
            Input::Closed { conn } if mine(conn) && self.state != State::Done => {
                self.note("connection closed by the server".into());
                match self.state.clone() {
                    State::Closing(end) => self.finish(end),
                    State::Greeting => self.greeting_cut_off(),
                    other => self.fail(SessionFailure::ClosedByPeer(other.stage())),
                }
            }
            _ => {}
        }
    }

    /// The deadline of the current stage passed: a timeout (or, for an unfinished
    /// greeting, [`GreetingError::Unterminated`]); in the closing stage the session just
    /// ends. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.d.tick(now);
        if !self.d.expired() {
            return;
        }
        match self.state.clone() {
            State::Closing(end) => {
                self.note("no answer to the logout".into());
                self.finish(end);
            }
            State::Greeting if self.greeting.cut_off().is_some() => self.greeting_cut_off(),
            other => {
                self.note(format!("timeout at {}", other.stage()));
                self.fail(SessionFailure::Timeout(other.stage()));
            }
        }
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.d.actions.pop_front()
    }

    /// When [`ImplicitSession::handle_timeout`] must be called.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.d.deadline
    }

    /// The handshake's result while the session waits for the trust decision.
    pub fn awaiting_trust(&self) -> Option<&crate::tls::TlsInfo> {
        self.d.awaiting_trust(self.state == State::AwaitingTrust)
    }

    /// The trust decision. Accepted: read the greeting (including what already came).
    /// Rejected: close without reading or sending anything.
    pub fn trust_decided(&mut self, now: Timestamp, accepted: bool) {
        self.d.tick(now);
        if self.state != State::AwaitingTrust {
            return;
        }
        if !accepted {
            self.note("trust rejected".into());
            return self.fail(SessionFailure::TrustRejected);
        }
        self.note("trust accepted; reading the greeting".into());
        self.enter(State::Greeting);
        let early = std::mem::take(&mut self.early);
        if !early.is_empty() {
            self.on_received(&early);
        }
    }

    /// Stops now: closes and ends with [`SessionFailure::Aborted`].
    pub fn abort(&mut self, now: Timestamp) {
        self.d.tick(now);
        if self.state != State::Done {
            self.note("aborted".into());
            self.fail(SessionFailure::Aborted);
        }
    }

    /// The result, once finished.
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        self.d.outcome()
    }

    /// Takes the log so far.
    pub fn take_log(&mut self) -> Vec<(Timestamp, String)> {
        self.d.take_log()
    }

    fn note(&mut self, line: String) {
        self.d.note(line);
    }

    fn enter(&mut self, state: State) {
        let t = &self.d.config.timeouts;
        let timeout = match state {
            State::Connecting => Some(t.connect),
            State::Handshake => Some(t.tls_handshake),
            State::Greeting => Some(t.greeting),
            State::Closing(_) => Some(t.quit),
            State::AwaitingTrust | State::Done => None,
        };
        self.d.wait(timeout);
        self.state = state;
    }

    fn finish(&mut self, end: SessionEnd) {
        self.d.finish(end);
        self.state = State::Done;
    }

    fn fail(&mut self, failure: SessionFailure) {
        self.finish(SessionEnd::Failed(failure));
    }

    fn bad_greeting(&mut self, error: GreetingError) {
        self.note(format!("bad greeting: {error}"));
        self.fail(SessionFailure::BadGreeting {
            protocol: self.protocol,
            error,
        });
    }

    fn greeting_cut_off(&mut self) {
        match self.greeting.cut_off() {
            Some(error) => self.bad_greeting(error),
            None => self.fail(SessionFailure::ClosedByPeer(Stage::TlsGreeting)),
        }
    }

    /// Sends the logout command and waits for its answer before ending with `end`.
    fn logout(&mut self, end: SessionEnd) {
        let command = self.protocol.logout();
        let shown = String::from_utf8_lossy(command).trim_end().to_string();
        self.d.send(command.to_vec(), &shown);
        self.enter(State::Closing(end));
    }

    fn on_received(&mut self, bytes: &[u8]) {
        match self.state.clone() {
            State::Connecting | State::Handshake => {
                // Before the handshake completed the runtime hands over socket bytes only
                // if they came before the upgrade: the server spoke in clear.
                self.fail(SessionFailure::BadGreeting {
                    protocol: self.protocol,
                    error: GreetingError::PlaintextBeforeTls { bytes: bytes.len() },
                });
            }
            State::AwaitingTrust => {
                let room = MAX_BUFFERED_BYTES.saturating_sub(self.early.len());
                self.early
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            State::Greeting => match self.greeting.push(bytes) {
                None => {}
                Some(Ok(greeting)) => {
                    let text = match &greeting {
                        Greeting::Line(line) => line.clone(),
                        Greeting::Reply(reply) => {
                            self.d.result.greeting = Some(reply.clone());
                            reply.text()
                        }
                    };
                    let shown: String = text.chars().take(MAX_LOGGED_LINE_CHARS).collect();
                    self.note(format!("< {}", shown.escape_debug()));
                    self.logout(SessionEnd::Completed);
                }
                Some(Err(GreetingError::Refused)) if self.protocol == GreetingProtocol::Smtp => {
                    self.note("greeting refused the session".into());
                    self.logout(SessionEnd::Failed(SessionFailure::BadGreeting {
                        protocol: self.protocol,
                        error: GreetingError::Refused,
                    }));
                }
                Some(Err(error)) => self.bad_greeting(error),
            },
            State::Closing(end) => {
                if self.answer.push(self.protocol, bytes) {
                    self.finish(end);
                }
            }
            State::Done => {}
        }
    }
}
