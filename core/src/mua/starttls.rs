//! The client dialogue of IMAP with STARTTLS (RFC 9051 sec. 6.2.1, RFC 2595 sec. 3.1) and
//! POP3 with STLS (RFC 2595 sec. 4, RFC 2449 sec. 5), for `_imap._tcp` (143) and
//! `_pop3._tcp` (110) under RFC 7673: connect, greeting, capability query, STARTTLS/STLS, a
//! pause for the trust decision, the capability query again over TLS with everything learned
//! before discarded (RFC 9051 sec. 6.2.1; RFC 2595 sec. 3.1, 4), then LOGOUT/QUIT.
//!
//! [`StartTlsSession`] is sans-IO and is driven like [`crate::smtp::session::SmtpSession`],
//! whose [`SessionConfig`], [`SessionOutcome`] and failures it shares. Where TLS is
//! required ([`TlsRequirement::Required`]: every MUA connection, RFC 7673 sec. 4; M8 of
//! draft-fanf-dane-mua), nothing is sent in clear beyond the capability query and the
//! upgrade: a missing capability, a refused upgrade or an IMAP `* PREAUTH` greeting (which
//! leaves no way to start TLS, RFC 9051 sec. 7.1.4) closes the connection at once.

use std::net::SocketAddr;

use super::imap::{self, ImapResponse, ImapStatus};
use super::pop3::{self, Pop3Response};
use super::wire::{Buffer, ResponseError, MAX_LINE};
use crate::dialogue::Dialogue;
use crate::implicit::greeting::{classify, GreetingError, GreetingProtocol};
use crate::implicit::LogoutAnswer;
use crate::machine::{Action, ConnId, Input};
use crate::smtp::session::{
    escape_bytes, escape_text, SessionConfig, SessionEnd, SessionFailure, SessionOutcome, Stage,
    TlsRequirement,
};
use crate::time::Timestamp;
use crate::tls::TlsInfo;

/// The protocol of a [`StartTlsSession`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MuaProtocol {
    /// IMAP (RFC 9051), `STARTTLS` on 143.
    Imap,
    /// POP3 (RFC 1939), `STLS` on 110 (RFC 2595 sec. 4).
    Pop3,
}

impl MuaProtocol {
    /// The same protocol as the greeting reader and the failures name it.
    pub fn greeting(self) -> GreetingProtocol {
        match self {
            MuaProtocol::Imap => GreetingProtocol::Imap,
            MuaProtocol::Pop3 => GreetingProtocol::Pop3,
        }
    }

    /// The capability that announces the upgrade: IMAP `STARTTLS` (RFC 9051 sec. 6.2.1),
    /// POP3 `STLS` (RFC 2595 sec. 4).
    fn upgrade_capability(self) -> &'static str {
        match self {
            MuaProtocol::Imap => "STARTTLS",
            MuaProtocol::Pop3 => "STLS",
        }
    }
}

/// Where the dialogue is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Greeting,
    Capability,
    StartTls,
    Handshake,
    AwaitingTrust,
    CapabilityAfterTls,
    /// The logout was sent; ends with this once answered, closed or timed out.
    Closing(SessionEnd),
    Done,
}

impl State {
    fn stage(&self) -> Stage {
        match self {
            State::Connecting => Stage::Connect,
            State::Greeting => Stage::Greeting,
            State::Capability => Stage::Capability,
            State::StartTls => Stage::StartTls,
            State::Handshake | State::AwaitingTrust => Stage::TlsHandshake,
            State::CapabilityAfterTls => Stage::CapabilityAfterTls,
            State::Closing(_) | State::Done => Stage::Quit,
        }
    }

    /// The IMAP tag of the command this state waits on (RFC 9051 sec. 2.2.1).
    fn tag(&self) -> &'static str {
        match self {
            State::Capability => "a1",
            State::StartTls => "a2",
            _ => "a3",
        }
    }

    /// States that read responses to commands (the greeting has its own reader).
    fn awaits_answer(&self) -> bool {
        matches!(
            self,
            State::Capability | State::StartTls | State::CapabilityAfterTls
        )
    }
}

/// The complete answer to the command the session waits on.
#[derive(Debug)]
struct Answer {
    /// IMAP tagged `OK`, POP3 `+OK`.
    ok: bool,
    /// The status line's text.
    text: String,
    /// The capabilities it listed.
    capabilities: Vec<String>,
}

/// The client side of one IMAP STARTTLS or POP3 STLS connection, up to the capability query
/// over TLS and the logout.
///
/// After [`StartTlsSession::new`], [`StartTlsSession::handle_input`],
/// [`StartTlsSession::handle_timeout`] or [`StartTlsSession::trust_decided`], drain
/// [`StartTlsSession::poll_action`]. Every ending emits exactly one [`Action::Close`]
/// (except when the connect failed or the config was invalid).
#[derive(Debug)]
pub struct StartTlsSession {
    d: Dialogue,
    protocol: MuaProtocol,
    state: State,
    buf: Buffer,
    /// IMAP capabilities from untagged responses to the pending command.
    capabilities: Vec<String>,
    answer: LogoutAnswer,
}

impl StartTlsSession {
    /// Starts a session speaking `protocol`: queues [`Action::Connect`] to `addr`. An
    /// invalid `config` ends the session at once.
    pub fn new(
        conn: ConnId,
        addr: SocketAddr,
        protocol: MuaProtocol,
        config: SessionConfig,
        now: Timestamp,
    ) -> Self {
        let mut s = StartTlsSession {
            d: Dialogue::start(conn, addr, config, now, false, ""),
            protocol,
            state: State::Connecting,
            buf: Buffer::default(),
            capabilities: Vec::new(),
            answer: LogoutAnswer::default(),
        };
        match s.d.done {
            true => s.state = State::Done,
            false => s.enter(State::Connecting),
        }
        s
    }

    /// Feeds one input for this session's connection; others, and anything after the end,
    /// are ignored.
    pub fn handle_input(&mut self, now: Timestamp, input: &Input<'_>) {
        self.d.tick(now);
        let mine = |conn: &ConnId| *conn == self.d.conn;
        match input {
            Input::ConnectQueued { conn } if mine(conn) && self.state == State::Connecting => {
                self.d.queued()
            }
            Input::Connecting { conn } if mine(conn) && self.state == State::Connecting => {
                self.note("connecting".into());
                self.enter(State::Connecting);
            }
            Input::Connected { conn } if mine(conn) && self.state == State::Connecting => {
                self.note("connected".into());
                self.enter(State::Greeting);
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
                // RFC 2595 sec. 3.1, 4; RFC 9051 sec. 6.2.1: nothing from before TLS counts.
                self.buf.take();
                self.capabilities.clear();
                self.enter(State::AwaitingTrust);
            }
            Input::TlsFailed { conn, error } if mine(conn) && self.state == State::Handshake => {
                self.note(format!("TLS handshake failed: {error}"));
                self.fail(SessionFailure::Tls(error.clone()));
            }
            Input::Closed { conn } if mine(conn) && self.state != State::Done => {
                self.note("connection closed by the server".into());
                self.cut_off(SessionFailure::ClosedByPeer(self.state.stage()));
            }
            _ => {}
        }
    }

    /// The deadline of the current stage passed: a timeout, or the typed error of a
    /// response left unfinished; in the closing stage the session just ends. Early calls
    /// do nothing.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.d.tick(now);
        if !self.d.expired() {
            return;
        }
        let stage = self.state.stage();
        self.note(format!("timeout at {stage}"));
        self.cut_off(SessionFailure::Timeout(stage));
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.d.actions.pop_front()
    }

    /// When [`StartTlsSession::handle_timeout`] must be called.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.d.deadline
    }

    /// The handshake's result while the session waits for the trust decision.
    pub fn awaiting_trust(&self) -> Option<&TlsInfo> {
        self.d.awaiting_trust(self.state == State::AwaitingTrust)
    }

    /// The trust decision. Accepted: ask for the capabilities again over TLS. Rejected:
    /// close without sending anything over TLS. Bytes the server sent over TLS before the
    /// query are an answer to nothing and fail the session.
    pub fn trust_decided(&mut self, now: Timestamp, accepted: bool) {
        self.d.tick(now);
        if self.state != State::AwaitingTrust {
            return;
        }
        if !accepted {
            self.note("trust rejected".into());
            return self.fail(SessionFailure::TrustRejected);
        }
        self.note("trust accepted".into());
        if !self.buf.is_empty() {
            return self.unsolicited(Stage::CapabilityAfterTls);
        }
        self.ask(State::CapabilityAfterTls);
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

    /// Octets received and not yet read as a response (never more than
    /// [`super::wire::MAX_RESPONSE_BYTES`] + 1).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the log so far: `> ` commands, `< ` responses, events.
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
            State::Greeting => Some(t.greeting),
            State::Capability | State::CapabilityAfterTls => Some(t.ehlo),
            State::StartTls => Some(t.starttls),
            State::Handshake => Some(t.tls_handshake),
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

    /// The stage ended early (close or timeout) with `failure`, unless a response was left
    /// half-read, which is the more precise reason; the closing stage just ends.
    fn cut_off(&mut self, failure: SessionFailure) {
        let protocol = self.protocol.greeting();
        match (self.state.clone(), self.buf.cut_off()) {
            (State::Closing(end), _) => self.finish(end),
            (State::Greeting, Some(ResponseError::Unterminated { bytes })) => {
                self.fail(SessionFailure::BadGreeting {
                    protocol,
                    error: GreetingError::Unterminated { bytes },
                })
            }
            (s, Some(error)) if s.awaits_answer() => self.fail(SessionFailure::BadResponse {
                protocol,
                stage: s.stage(),
                error,
            }),
            _ => self.fail(failure),
        }
    }

    fn bad_response(&mut self, error: ResponseError) {
        let stage = self.state.stage();
        self.note(format!("bad response at {stage}: {error}"));
        self.fail(SessionFailure::BadResponse {
            protocol: self.protocol.greeting(),
            stage,
            error,
        });
    }

    /// Bytes the server sent before the command they would answer: fail, withdrawing that
    /// command if it is still queued (as the SMTP session does, RFC 5321 sec. 4.2).
    fn unsolicited(&mut self, stage: Stage) {
        if matches!(self.d.actions.back(), Some(Action::Send { .. })) {
            self.d.actions.pop_back();
        }
        let bytes = self.buf.take();
        self.note(format!(
            "{} bytes came before the command they would answer ({stage}): {}",
            bytes.len(),
            escape_bytes(&bytes)
        ));
        self.fail(SessionFailure::BadResponse {
            protocol: self.protocol.greeting(),
            stage,
            error: ResponseError::Unsolicited { bytes: bytes.len() },
        });
    }

    fn send(&mut self, bytes: Vec<u8>) {
        let shown = String::from_utf8_lossy(&bytes).trim_end().to_string();
        self.d.send(bytes, &shown);
    }

    /// Sends the command of `state` (capability query or upgrade) and waits for its answer.
    fn ask(&mut self, state: State) {
        let command = match (self.protocol, &state) {
            (MuaProtocol::Imap, State::StartTls) => imap::command(state.tag(), "STARTTLS"),
            (MuaProtocol::Imap, _) => imap::command(state.tag(), "CAPABILITY"),
            (MuaProtocol::Pop3, State::StartTls) => pop3::command("STLS"),
            (MuaProtocol::Pop3, _) => pop3::command("CAPA"),
        };
        self.capabilities.clear();
        self.send(command);
        self.enter(state);
    }

    /// Ends without TLS: where TLS is required, closes at once with `failure`, sending
    /// nothing more in clear; otherwise logs out politely and completes.
    fn without_tls(&mut self, failure: SessionFailure) {
        match self.d.config.tls {
            TlsRequirement::Required => {
                self.note(format!("{failure}; TLS is required, closing"));
                self.fail(failure);
            }
            TlsRequirement::Opportunistic => {
                self.note(format!("{failure}; continuing without TLS"));
                self.logout(SessionEnd::Completed);
            }
        }
    }

    /// Sends the logout command and waits for its answer before ending with `end`.
    fn logout(&mut self, end: SessionEnd) {
        self.send(self.protocol.greeting().logout().to_vec());
        self.answer = LogoutAnswer::default();
        self.enter(State::Closing(end));
    }

    fn on_received(&mut self, bytes: &[u8]) {
        match self.state.clone() {
            // The runtime feeds the socket through the TLS pump after StartTls, so these
            // came in clear after the upgrade's answer (RFC 2595 sec. 3.1; RFC 3207
            // sec. 4.2 for SMTP).
            State::Handshake => {
                self.note(format!(
                    "{} bytes received before the TLS handshake finished: {}",
                    bytes.len(),
                    escape_bytes(bytes)
                ));
                self.fail(SessionFailure::PlaintextInjection);
            }
            State::AwaitingTrust => self.buf.push(bytes),
            State::Greeting => {
                self.buf.push(bytes);
                self.on_greeting();
            }
            s if s.awaits_answer() => {
                self.buf.push(bytes);
                while self.state.awaits_answer() {
                    match self.next_answer() {
                        None => break,
                        Some(Ok(answer)) => self.on_answer(answer),
                        Some(Err(error)) => self.bad_response(error),
                    }
                }
            }
            State::Closing(end) if self.answer.push(self.protocol.greeting(), bytes) => {
                self.finish(end)
            }
            _ => {}
        }
    }

    fn on_greeting(&mut self) {
        let protocol = self.protocol.greeting();
        let line = match self.buf.line_end(0) {
            None => return,
            Some(Err(_)) => Err(GreetingError::TooLong { limit: MAX_LINE }),
            Some(Ok(end)) => {
                let bytes = self.buf.bytes()[..end].to_vec();
                self.buf.consume(end + 1);
                Ok(bytes)
            }
        };
        let greeting = line.and_then(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            classify(protocol, line).map(|_| String::from_utf8_lossy(line).into_owned())
        });
        let line = match greeting {
            Ok(line) => line,
            Err(error) => {
                self.note(format!("bad greeting: {error}"));
                return self.fail(SessionFailure::BadGreeting { protocol, error });
            }
        };
        self.note(format!("< {}", escape_text(&line)));
        let preauth = line
            .get(..9)
            .is_some_and(|w| w.eq_ignore_ascii_case("* PREAUTH"));
        if preauth {
            // RFC 9051 sec. 7.1.4: already authenticated, so STARTTLS (allowed only in the
            // not-authenticated state, sec. 6.2.1) can no longer be given.
            return self.without_tls(SessionFailure::Preauth);
        }
        self.ask(State::Capability);
        if !self.buf.is_empty() {
            self.unsolicited(Stage::Capability);
        }
    }

    /// The next complete answer to the pending command, or why there is none.
    fn next_answer(&mut self) -> Option<Result<Answer, ResponseError>> {
        match self.protocol {
            MuaProtocol::Imap => loop {
                match imap::next_response(&mut self.buf)? {
                    Err(e) => return Some(Err(e)),
                    Ok(ImapResponse::Untagged(text)) => {
                        self.note(format!("< * {}", escape_text(&text)));
                        if let Some(caps) = imap::capabilities(&text) {
                            self.capabilities.extend(caps);
                        } else if text.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("BYE")) {
                            return Some(Err(ResponseError::Bye));
                        }
                    }
                    Ok(ImapResponse::Tagged { tag, status, text }) if tag == self.state.tag() => {
                        self.note(format!("< {tag} {status} {}", escape_text(&text)));
                        let mut capabilities = std::mem::take(&mut self.capabilities);
                        capabilities.extend(imap::code_capabilities(&text).unwrap_or_default());
                        return Some(Ok(Answer {
                            ok: status == ImapStatus::Ok,
                            text,
                            capabilities,
                        }));
                    }
                    Ok(_) => return Some(Err(ResponseError::Malformed)),
                }
            },
            MuaProtocol::Pop3 => {
                let multi = self.state != State::StartTls;
                Some(pop3::next_response(&mut self.buf, multi)?.map(|r| match r {
                    Pop3Response::Ok { text, lines } => Answer {
                        ok: true,
                        text,
                        capabilities: pop3::capabilities(&lines),
                    },
                    Pop3Response::Err(text) => Answer {
                        ok: false,
                        text,
                        capabilities: Vec::new(),
                    },
                }))
            }
        }
    }

    fn on_answer(&mut self, answer: Answer) {
        if self.protocol == MuaProtocol::Pop3 {
            let sign = if answer.ok { "+OK" } else { "-ERR" };
            self.note(format!("< {sign} {}", escape_text(&answer.text)));
        }
        let upgrade = self.protocol.upgrade_capability();
        match self.state.clone() {
            State::Capability => {
                self.note(format!(
                    "capabilities before TLS: {}",
                    answer.capabilities.join(" ")
                ));
                let offered = answer.ok && answer.capabilities.iter().any(|c| c == upgrade);
                self.d.result.starttls_offered = offered;
                if !offered {
                    return self.without_tls(SessionFailure::StarttlsNotOffered);
                }
                self.ask(State::StartTls);
                if !self.buf.is_empty() {
                    self.unsolicited(Stage::StartTls);
                }
            }
            State::StartTls if answer.ok => {
                if !self.buf.is_empty() {
                    let extra = self.buf.take();
                    self.note(format!(
                        "{} bytes followed the answer to {upgrade}: {}",
                        extra.len(),
                        escape_bytes(&extra)
                    ));
                    return self.fail(SessionFailure::PlaintextInjection);
                }
                self.d.start_tls("TLS handshake");
                self.enter(State::Handshake);
            }
            State::StartTls => self.without_tls(SessionFailure::StarttlsRefused {
                protocol: self.protocol.greeting(),
                response: answer.text,
            }),
            State::CapabilityAfterTls => {
                self.note(format!(
                    "capabilities after TLS: {}",
                    answer.capabilities.join(" ")
                ));
                self.logout(SessionEnd::Completed);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::session::SmtpTimeouts;
    use std::time::Duration;

    fn session(protocol: MuaProtocol) -> StartTlsSession {
        let config = SessionConfig {
            ehlo_name: "client.example".into(),
            tls: TlsRequirement::Required,
            sni: Some("mail.example.net".into()),
            timeouts: SmtpTimeouts::uniform(Duration::from_secs(10)),
        };
        let addr: SocketAddr = "192.0.2.30:143".parse().unwrap();
        let mut s = StartTlsSession::new(ConnId(1), addr, protocol, config, Timestamp::EPOCH);
        s.handle_input(Timestamp::EPOCH, &Input::Connected { conn: ConnId(1) });
        s
    }

    fn recv(s: &mut StartTlsSession, bytes: &[u8]) -> Vec<Action> {
        s.handle_input(
            Timestamp::EPOCH,
            &Input::Received {
                conn: ConnId(1),
                bytes,
            },
        );
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn sent(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn failure(s: &StartTlsSession) -> Option<&SessionFailure> {
        match &s.outcome()?.end {
            SessionEnd::Failed(f) => Some(f),
            SessionEnd::Completed => None,
        }
    }

    #[test]
    fn imap_upgrade_asks_capabilities_and_starttls() {
        let mut s = session(MuaProtocol::Imap);
        assert_eq!(
            sent(&recv(
                &mut s,
                b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"
            )),
            ["a1 CAPABILITY\r\n"]
        );
        let a = recv(&mut s, b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n");
        assert_eq!(sent(&a), ["a2 STARTTLS\r\n"]);
        let a = recv(&mut s, b"a2 OK Begin TLS\r\n");
        assert!(matches!(a[..], [Action::StartTls { .. }]), "{a:?}");
        assert!(s.d.result.starttls_offered);
    }

    #[test]
    fn imap_without_starttls_sends_nothing_more() {
        let mut s = session(MuaProtocol::Imap);
        recv(&mut s, b"* OK hi\r\n");
        let a = recv(&mut s, b"* CAPABILITY IMAP4rev1 LOGIN\r\na1 OK\r\n");
        assert!(sent(&a).is_empty(), "{a:?}");
        assert_eq!(failure(&s), Some(&SessionFailure::StarttlsNotOffered));
    }

    #[test]
    fn preauth_and_injection_and_pipelined_answers_fail() {
        let mut s = session(MuaProtocol::Imap);
        assert!(sent(&recv(&mut s, b"* PREAUTH welcome\r\n")).is_empty());
        assert_eq!(failure(&s), Some(&SessionFailure::Preauth));

        let mut s = session(MuaProtocol::Imap);
        recv(&mut s, b"* OK hi\r\n");
        recv(&mut s, b"* CAPABILITY STARTTLS\r\na1 OK\r\n");
        recv(&mut s, b"a2 OK go\r\n* OK injected\r\n");
        assert_eq!(failure(&s), Some(&SessionFailure::PlaintextInjection));

        let mut s = session(MuaProtocol::Imap);
        recv(&mut s, b"* OK hi\r\n");
        let a = recv(&mut s, b"* CAPABILITY STARTTLS\r\na1 OK\r\na2 OK go\r\n");
        assert!(sent(&a).is_empty(), "the STARTTLS is withdrawn: {a:?}");
        assert!(matches!(
            failure(&s),
            Some(SessionFailure::BadResponse {
                stage: Stage::StartTls,
                error: ResponseError::Unsolicited { .. },
                ..
            })
        ));
    }

    #[test]
    fn pop3_stls_refused_and_unterminated_capa() {
        let mut s = session(MuaProtocol::Pop3);
        assert_eq!(sent(&recv(&mut s, b"+OK POP3 ready\r\n")), ["CAPA\r\n"]);
        assert_eq!(
            sent(&recv(&mut s, b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")),
            ["STLS\r\n"]
        );
        recv(&mut s, b"-ERR not now\r\n");
        assert_eq!(
            failure(&s),
            Some(&SessionFailure::StarttlsRefused {
                protocol: GreetingProtocol::Pop3,
                response: "not now".into()
            })
        );

        let mut s = session(MuaProtocol::Pop3);
        recv(&mut s, b"+OK POP3 ready\r\n");
        recv(&mut s, b"+OK\r\nUSER\r\nSTLS\r\n");
        assert!(s.outcome().is_none());
        s.handle_timeout(Timestamp::from_millis(60_000));
        assert_eq!(
            failure(&s),
            Some(&SessionFailure::BadResponse {
                protocol: GreetingProtocol::Pop3,
                stage: Stage::Capability,
                error: ResponseError::Unterminated { bytes: 17 }
            })
        );
    }

    /// Arbitrary server bytes, closes, timeouts and TLS events, from a fixed xorshift
    /// sequence: at most one close and nothing after it, no upgrade after `* PREAUTH`,
    /// nothing sent between the upgrade and an accepted trust decision, and an end once
    /// the deadlines pass.
    #[test]
    fn arbitrary_servers_keep_the_invariants() {
        const PIECES: [&[u8]; 12] = [
            b"* OK hi\r\n",
            b"* PREAUTH hi\r\n",
            b"+OK hi\r\n",
            b"* CAPABILITY STARTTLS\r\n",
            b"a1 OK\r\n",
            b"a2 OK go\r\n",
            b"a3 OK\r\n",
            b"+OK\r\nSTLS\r\n.\r\n",
            b"* X {99}\r\n",
            b"-ERR\r\n",
            b"* BYE\r\n",
            b"xx",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let info = TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            sni: None,
            chain: vec![vec![0x30, 0x00]],
        };
        let mut reached_tls = 0;
        for case in 0..4000 {
            let protocol = [MuaProtocol::Imap, MuaProtocol::Pop3][case % 2];
            let mut s = session(protocol);
            let (mut closes, mut upgraded, mut trusted, mut preauth) = (0, false, false, false);
            let mut now = Timestamp::EPOCH;
            for _ in 0..(next() % 24) {
                now = now.saturating_add(Duration::from_millis(1));
                let conn = ConnId(1);
                let op = match (next() % 8, &s.state) {
                    // A cooperative peer and client: the handshake completes, trust is given.
                    (0..=3, State::Handshake) => 4,
                    (0..=3, State::AwaitingTrust) => 5,
                    (op, _) => op,
                };
                match op {
                    0..=3 => {
                        // Half the time what a cooperative server would say next.
                        let expected: &[u8] = match (protocol, &s.state, next() % 2) {
                            (MuaProtocol::Imap, State::Greeting, 0) => b"* PREAUTH hi\r\n",
                            (MuaProtocol::Imap, State::Greeting, _) => b"* OK hi\r\n",
                            (MuaProtocol::Imap, State::Capability, _) => {
                                b"* CAPABILITY STARTTLS\r\na1 OK\r\n"
                            }
                            (MuaProtocol::Imap, State::StartTls, _) => b"a2 OK go\r\n",
                            (MuaProtocol::Pop3, State::Greeting, _) => b"+OK hi\r\n",
                            (MuaProtocol::Pop3, State::StartTls, _) => b"+OK go\r\n",
                            (MuaProtocol::Pop3, _, _) => b"+OK\r\nSTLS\r\n.\r\n",
                            _ => b"* CAPABILITY X\r\na3 OK\r\n",
                        };
                        let piece = match next() % 2 {
                            0 => expected,
                            _ => PIECES[(next() % PIECES.len() as u64) as usize],
                        };
                        preauth |= piece.starts_with(b"* PREAUTH") && s.state == State::Greeting;
                        s.handle_input(now, &Input::Received { conn, bytes: piece });
                    }
                    4 => s.handle_input(
                        now,
                        &Input::TlsEstablished {
                            conn,
                            info: info.clone(),
                        },
                    ),
                    5 => {
                        let accept = next() % 4 != 0;
                        trusted |= accept && s.awaiting_trust().is_some();
                        s.trust_decided(now, accept);
                    }
                    6 => s.handle_input(now, &Input::Closed { conn }),
                    _ => {
                        now = s.next_deadline().unwrap_or(now).max(now);
                        s.handle_timeout(now);
                    }
                }
                while let Some(a) = s.poll_action() {
                    assert_eq!(closes, 0, "action after the close: {a:?}");
                    match a {
                        Action::StartTls { .. } => {
                            assert!(!preauth, "upgrade after PREAUTH");
                            upgraded = true;
                        }
                        Action::Send { .. } => assert!(!upgraded || trusted, "sent before trust"),
                        Action::Close { .. } => closes += 1,
                        _ => {}
                    }
                }
                assert!(s.buf.len() <= super::super::wire::MAX_RESPONSE_BYTES + 1);
            }
            for _ in 0..8 {
                if s.awaiting_trust().is_some() {
                    s.trust_decided(now, false);
                }
                now = s.next_deadline().unwrap_or(now).max(now);
                s.handle_timeout(now);
            }
            assert!(s.outcome().is_some(), "case {case}: no end: {:?}", s.state);
            reached_tls += usize::from(trusted);
        }
        assert!(reached_tls >= 50, "the cases reach TLS: {reached_tls}");
    }
}
