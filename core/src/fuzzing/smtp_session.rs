//! `smtp_session` target: one SMTP client session (RFC 5321, STARTTLS per RFC 3207) fed a
//! sequence of inputs: canned replies, raw or alphabet-mapped bytes, TLS events, trust
//! decisions, closes, timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use crate::machine::{Action, ConnId, Input};
use crate::smtp::session::{
    SessionConfig, SessionEnd, SessionFailure, SessionOutcome, SmtpSession, SmtpTimeouts,
    TlsRequirement,
};
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsFailureKind, TlsInfo};

/// Runs one case and checks the session's invariants: at most one `Close` and nothing after
/// it, nothing sent between `StartTls` and an accepted trust decision, and an end within a
/// bounded number of deadlines once the peer goes silent.
pub fn run(data: &[u8]) {
    run_case(data);
}

/// [`run`], returning the session's outcome.
fn run_case(data: &[u8]) -> SessionOutcome {
    const CANNED: [&[u8]; 9] = [
        b"220 mx.example.com ESMTP\r\n",
        b"250-mx.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
        b"220 2.0.0 ready\r\n",
        b"250-mx.example.com\r\n250 AUTH PLAIN\r\n",
        b"221 bye\r\n",
        b"421 4.3.2 busy\r\n",
        b"502 5.5.2 what\r\n",
        b"250 mx.example.com\r\n",
        b"454 4.7.0 no TLS\r\n",
    ];
    const ALPHABET: &[u8] = b"0123455 -\r\n\r\n.STARTLS";
    let conn = ConnId(1);
    let tls = if data.first().is_some_and(|b| b & 1 == 1) {
        TlsRequirement::Opportunistic
    } else {
        TlsRequirement::Required
    };
    let config = SessionConfig {
        ehlo_name: "client.example".into(),
        tls,
        sni: Some("mx.example.com".into()),
        timeouts: SmtpTimeouts::uniform(Duration::from_secs(10)),
    };
    let addr = SocketAddr::from(([192, 0, 2, 25], 25));
    let mut now = Timestamp::from_millis(1_000);
    let mut s = SmtpSession::new(conn, addr, config, now);
    let info = TlsInfo {
        version: "TLSv1.3".into(),
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        sni: Some("mx.example.com".into()),
        chain: vec![vec![0x30, 0x00]],
    };
    let mut closes = 0;
    let mut tls_started = false;
    let mut trusted = false;
    let mut ended = false;
    let mut drain = |s: &mut SmtpSession, trusted: bool| {
        while let Some(a) = s.poll_action() {
            assert!(!ended, "action after the end: {a:?}");
            match a {
                Action::StartTls { .. } => tls_started = true,
                Action::Send { .. } => assert!(!tls_started || trusted, "sent before trust"),
                Action::Close { .. } => closes += 1,
                Action::Connect { .. } | Action::SendDns { .. } | Action::EndDns { .. } => {}
            }
        }
        assert!(closes <= 1);
        ended = s.is_finished();
    };
    drain(&mut s, trusted);
    let mut ops = data.get(1..).unwrap_or_default().iter();
    while let Some(&op) = ops.next() {
        now = now.saturating_add(Duration::from_millis(1));
        let arg = ops.next().copied().unwrap_or(0);
        match op % 9 {
            0 => s.handle_input(now, &Input::Connected { conn }),
            1 => {
                let bytes: Vec<u8> = ops.by_ref().take(usize::from(arg % 64)).copied().collect();
                s.handle_input(
                    now,
                    &Input::Received {
                        conn,
                        bytes: &bytes,
                    },
                );
            }
            2 => {
                let bytes: Vec<u8> = ops
                    .by_ref()
                    .take(usize::from(arg % 64))
                    .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()])
                    .collect();
                s.handle_input(
                    now,
                    &Input::Received {
                        conn,
                        bytes: &bytes,
                    },
                );
            }
            3 => s.handle_input(
                now,
                &Input::TlsEstablished {
                    conn,
                    info: info.clone(),
                },
            ),
            4 => s.handle_input(
                now,
                &Input::TlsFailed {
                    conn,
                    error: TlsFailure {
                        kind: TlsFailureKind::HandshakeFailed,
                        error: crate::tls::TlsError::Closed,
                    },
                },
            ),
            5 => {
                let accept = arg & 1 == 1;
                trusted |= accept && s.awaiting_trust().is_some();
                s.trust_decided(now, accept);
            }
            6 => s.handle_input(now, &Input::Closed { conn }),
            7 => {
                if let Some(d) = s.next_deadline() {
                    now = now.max(d);
                    s.handle_timeout(now);
                }
            }
            _ => {
                let bytes = CANNED[usize::from(arg) % CANNED.len()];
                s.handle_input(now, &Input::Received { conn, bytes });
            }
        }
        drain(&mut s, trusted);
    }
    // The peer goes silent: every waiting state has a deadline; the trust pause waits on us.
    for _ in 0..8 {
        if s.is_finished() {
            break;
        }
        if s.awaiting_trust().is_some() {
            trusted = true;
            s.trust_decided(now, true);
        } else {
            let d = s.next_deadline().expect("a waiting state has a deadline");
            now = now.max(d);
            s.handle_timeout(now);
        }
        drain(&mut s, trusted);
    }
    assert!(s.is_finished() && s.next_deadline().is_none());
    let outcome = s.outcome().cloned().expect("finished");
    let expect_close = !matches!(
        outcome.end,
        SessionEnd::Failed(SessionFailure::ConnectFailed(_))
    );
    assert_eq!(closes, usize::from(expect_close));
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_on_pseudo_random_inputs() {
        // A script that walks the whole happy path through the canned replies.
        let happy = [0, 0, 0, 8, 0, 8, 1, 8, 2, 3, 0, 5, 1, 8, 3, 8, 4];
        let o = run_case(&happy);
        assert_eq!(o.end, SessionEnd::Completed);
        assert!(o.tls_ehlo.is_some());
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut completed_tls, mut failed) = (0, 0);
        for round in 0..3000 {
            let mut data: Vec<u8> = if round % 3 == 0 {
                (0..rand() % 200).map(|_| rand() as u8).collect()
            } else {
                happy.to_vec()
            };
            for _ in 0..rand() % 3 {
                let i = (rand() as usize) % (data.len() + 1);
                if rand() % 2 == 0 && i < data.len() {
                    data[i] = rand() as u8;
                } else {
                    data.insert(i, rand() as u8);
                }
            }
            let o = run_case(&data);
            match o.end {
                SessionEnd::Completed if o.tls_ehlo.is_some() => completed_tls += 1,
                SessionEnd::Failed(_) => failed += 1,
                _ => {}
            }
        }
        assert!(
            completed_tls > 100 && failed > 100,
            "{completed_tls} {failed}"
        );
    }
}
