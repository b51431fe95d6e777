//! `imap_response` target: one IMAP STARTTLS session ([`crate::mua::starttls`]) fed an
//! arbitrary server byte stream in arbitrary pieces, with closes and timeouts between them;
//! the runtime's side is played honestly (every upgrade completes, trust is given or not
//! per the first byte). The same harness serves `pop3_response`
//! ([`super::pop3_response`]).
//!
//! Oracles: at most one close and nothing after it; the reader never holds more than
//! [`MAX_RESPONSE_BYTES`] + 1 octets; no upgrade after a `* PREAUTH` greeting (RFC 9051
//! sec. 7.1.4); where TLS is required nothing goes out in clear but the capability query
//! and the upgrade (M8, RFC 7673 sec. 4); nothing is sent between the upgrade and an
//! accepted trust decision; the session ends once the peer goes silent.

use std::net::SocketAddr;
use std::time::Duration;

use crate::machine::{Action, ConnId, Input};
use crate::mua::starttls::{MuaProtocol, StartTlsSession};
use crate::mua::wire::MAX_RESPONSE_BYTES;
use crate::smtp::session::{SessionConfig, SmtpTimeouts, TlsRequirement};
use crate::time::Timestamp;
use crate::tls::TlsInfo;

/// Runs one IMAP case.
pub fn run(data: &[u8]) {
    session(MuaProtocol::Imap, data);
}

/// The script of a server that says `pieces` in turn: the harness's input (mode byte 0:
/// TLS required, trust given).
pub fn script(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0];
    for piece in pieces {
        for chunk in piece.chunks(63) {
            out.push(0);
            out.push(chunk.len() as u8);
            out.extend_from_slice(chunk);
        }
    }
    out
}

/// One case for `protocol`. `data[0]`: bit 0 opportunistic TLS, bit 1 trust refused. Then
/// operations: `op % 4` 0 or 1: the next `arg % 64` bytes from the server; 2: the current
/// deadline passes; 3: the server closes.
pub(super) fn session(protocol: MuaProtocol, data: &[u8]) {
    let mode = data.first().copied().unwrap_or(0);
    let tls = match mode & 1 {
        0 => TlsRequirement::Required,
        _ => TlsRequirement::Opportunistic,
    };
    let trust = mode & 2 == 0;
    let config = SessionConfig {
        ehlo_name: "client.example".into(),
        tls,
        sni: Some("mail.example.net".into()),
        timeouts: SmtpTimeouts::uniform(Duration::from_secs(10)),
    };
    let conn = ConnId(1);
    let addr = SocketAddr::from(([192, 0, 2, 30], 143));
    let mut now = Timestamp::from_millis(1_000);
    let mut s = StartTlsSession::new(conn, addr, protocol, config, now);
    s.handle_input(now, &Input::Connected { conn });
    let mut stream = Vec::new();
    let mut h = Harness {
        closes: 0,
        upgraded: false,
        trusted: false,
        required: tls == TlsRequirement::Required,
        trust,
    };
    h.drain(&mut s, now, &stream);
    let mut ops = data.get(1..).unwrap_or_default().iter();
    while let Some(&op) = ops.next() {
        now = now.saturating_add(Duration::from_millis(1));
        let arg = ops.next().copied().unwrap_or(0);
        match op % 4 {
            0 | 1 => {
                let bytes: Vec<u8> = ops.by_ref().take(usize::from(arg % 64)).copied().collect();
                stream.extend_from_slice(&bytes);
                s.handle_input(
                    now,
                    &Input::Received {
                        conn,
                        bytes: &bytes,
                    },
                );
            }
            2 => {
                now = s.next_deadline().unwrap_or(now).max(now);
                s.handle_timeout(now);
            }
            _ => s.handle_input(now, &Input::Closed { conn }),
        }
        h.drain(&mut s, now, &stream);
    }
    for _ in 0..8 {
        now = s.next_deadline().unwrap_or(now).max(now);
        s.handle_timeout(now);
        h.drain(&mut s, now, &stream);
    }
    assert!(s.outcome().is_some(), "no end once the peer went silent");
}

struct Harness {
    closes: usize,
    upgraded: bool,
    trusted: bool,
    required: bool,
    trust: bool,
}

impl Harness {
    /// Plays the runtime: takes every action, completes every upgrade, decides trust.
    fn drain(&mut self, s: &mut StartTlsSession, now: Timestamp, stream: &[u8]) {
        loop {
            while let Some(a) = s.poll_action() {
                assert_eq!(self.closes, 0, "action after the close: {a:?}");
                match a {
                    Action::StartTls { conn, .. } => {
                        let greeting = stream.split(|&b| b == b'\n').next().unwrap_or_default();
                        assert!(
                            !greeting.to_ascii_uppercase().starts_with(b"* PREAUTH"),
                            "upgrade after a PREAUTH greeting"
                        );
                        self.upgraded = true;
                        let info = TlsInfo {
                            version: "TLSv1.3".into(),
                            cipher: "TLS13_AES_128_GCM_SHA256".into(),
                            sni: Some("mail.example.net".into()),
                            chain: vec![vec![0x30, 0x00]],
                        };
                        s.handle_input(now, &Input::TlsEstablished { conn, info });
                    }
                    Action::Send { bytes, .. } => {
                        assert!(!self.upgraded || self.trusted, "sent before trust");
                        let upper = bytes.to_ascii_uppercase();
                        let query = [&b"A1 CAPABILITY"[..], b"A2 STARTTLS", b"CAPA", b"STLS"]
                            .iter()
                            .any(|c| upper.starts_with(c));
                        assert!(
                            self.upgraded || !self.required || query,
                            "sent in clear where TLS is required: {bytes:?}"
                        );
                    }
                    Action::Close { .. } => self.closes += 1,
                    _ => {}
                }
            }
            assert!(s.buffered() <= MAX_RESPONSE_BYTES + 1, "unbounded buffer");
            if s.awaiting_trust().is_none() {
                return;
            }
            self.trusted = self.trust;
            s.trust_decided(now, self.trust);
        }
    }
}
