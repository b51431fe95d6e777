//! `SmtpSession` driven with real byte streams (RFC 5321, RFC 3207): exact bytes sent,
//! action sequences, failures, timeouts, and a deterministic mutation loop.

/// Named `smtp` so that `cargo test -p daneel-core smtp` selects these tests too.
mod smtp {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use daneel_core::smtp::reply::ReplyError;
    use daneel_core::smtp::session::{
        SessionConfig, SessionEnd, SessionFailure, SessionOutcome, SmtpSession, SmtpTimeouts,
        Stage, TlsRequirement,
    };
    use daneel_core::tls::{TlsError, TlsFailure, TlsFailureKind, TlsInfo};
    use daneel_core::{Action, ConnId, Input, NetError, Timestamp};

    const C: ConnId = ConnId(7);
    const T0: u64 = 1_000_000;
    const STEP: Duration = Duration::from_secs(10);

    fn addr() -> SocketAddr {
        "192.0.2.25:25".parse().unwrap()
    }

    fn config(tls: TlsRequirement) -> SessionConfig {
        SessionConfig {
            ehlo_name: "client.example".into(),
            tls,
            sni: Some("mx.example.com".into()),
            timeouts: SmtpTimeouts::uniform(STEP),
        }
    }

    fn tls_info() -> TlsInfo {
        TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            sni: Some("mx.example.com".into()),
            chain: vec![vec![0x30, 0x00]],
        }
    }

    const GREETING: &[u8] = b"220 mx.example.com ESMTP\r\n";
    const EHLO_TLS: &[u8] =
        b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n";
    const EHLO_NO_TLS: &[u8] = b"250-mx.example.com\r\n250 PIPELINING\r\n";
    const READY: &[u8] = b"220 2.0.0 ready\r\n";
    const EHLO_AFTER: &[u8] = b"250-mx.example.com secure\r\n250 AUTH PLAIN\r\n";
    const BYE: &[u8] = b"221 2.0.0 bye\r\n";

    /// A session, a clock, and everything it emitted.
    struct Harness {
        s: SmtpSession,
        now: Timestamp,
        actions: Vec<Action>,
    }

    impl Harness {
        fn new(tls: TlsRequirement) -> Self {
            let now = Timestamp::from_millis(T0);
            let mut h = Harness {
                s: SmtpSession::new(C, addr(), config(tls), now),
                now,
                actions: Vec::new(),
            };
            assert_eq!(
                h.drain(),
                vec![Action::Connect {
                    conn: C,
                    addr: addr()
                }]
            );
            h
        }

        /// Connected and greeted.
        fn greeted(tls: TlsRequirement) -> Self {
            let mut h = Self::new(tls);
            h.input(Input::Connected { conn: C });
            assert_eq!(h.recv(GREETING), vec![send(b"EHLO client.example\r\n")]);
            h
        }

        fn drain(&mut self) -> Vec<Action> {
            let new: Vec<Action> = std::iter::from_fn(|| self.s.poll_action()).collect();
            self.actions.extend(new.iter().cloned());
            new
        }

        fn input(&mut self, input: Input<'_>) -> Vec<Action> {
            self.now = self.now.saturating_add(Duration::from_millis(1));
            self.s.handle_input(self.now, &input);
            self.drain()
        }

        fn recv(&mut self, bytes: &[u8]) -> Vec<Action> {
            self.input(Input::Received { conn: C, bytes })
        }

        fn at(&mut self, ms: u64) -> Vec<Action> {
            self.now = Timestamp::from_millis(ms);
            self.s.handle_timeout(self.now);
            self.drain()
        }

        fn trust(&mut self, accepted: bool) -> Vec<Action> {
            self.now = self.now.saturating_add(Duration::from_millis(1));
            self.s.trust_decided(self.now, accepted);
            self.drain()
        }

        /// All bytes sent, concatenated.
        fn sent(&self) -> Vec<u8> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    Action::Send { bytes, .. } => Some(bytes.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        }

        fn closes(&self) -> usize {
            self.actions
                .iter()
                .filter(|a| matches!(a, Action::Close { .. }))
                .count()
        }

        fn outcome(&self) -> &SessionOutcome {
            self.s.outcome().expect("session finished")
        }

        fn failure(&self) -> &SessionFailure {
            match &self.outcome().end {
                SessionEnd::Failed(f) => f,
                SessionEnd::Completed => panic!("completed, expected a failure"),
            }
        }
    }

    fn send(bytes: &[u8]) -> Action {
        Action::Send {
            conn: C,
            bytes: bytes.to_vec(),
        }
    }

    fn close() -> Action {
        Action::Close { conn: C }
    }

    #[test]
    fn happy_path_with_tls() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(EHLO_TLS), vec![send(b"STARTTLS\r\n")]);
        assert_eq!(
            h.recv(READY),
            vec![Action::StartTls {
                conn: C,
                sni: Some("mx.example.com".into())
            }]
        );
        assert!(h.s.awaiting_trust().is_none());
        assert_eq!(
            h.input(Input::TlsEstablished {
                conn: C,
                info: tls_info()
            }),
            vec![]
        );
        assert_eq!(h.s.awaiting_trust(), Some(&tls_info()));
        assert_eq!(h.s.next_deadline(), None);
        assert!(h.s.outcome().is_none());
        assert_eq!(h.trust(true), vec![send(b"EHLO client.example\r\n")]);
        assert!(h.s.awaiting_trust().is_none());
        assert_eq!(h.recv(EHLO_AFTER), vec![send(b"QUIT\r\n")]);
        assert!(h.s.outcome().is_none());
        assert_eq!(h.recv(BYE), vec![close()]);

        assert_eq!(
            h.sent(),
            b"EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nQUIT\r\n"
        );
        let o = h.outcome();
        assert_eq!(o.end, SessionEnd::Completed);
        assert_eq!(
            o.greeting.as_ref().unwrap().text(),
            "220 mx.example.com ESMTP"
        );
        let pre = o.ehlo.as_ref().unwrap();
        assert!(pre.starttls && pre.pipelining);
        assert_eq!(pre.size, Some(1000));
        assert!(o.starttls_offered && !o.used_helo);
        assert_eq!(o.tls, Some(tls_info()));
        // RFC 3207 sec. 4.2: post-TLS capabilities come only from the post-TLS EHLO.
        let post = o.tls_ehlo.as_ref().unwrap();
        assert_eq!(post.keywords, vec!["AUTH"]);
        assert!(!post.starttls && !post.pipelining && post.size.is_none());

        // Nothing after the end.
        assert!(h.recv(b"250 more\r\n").is_empty());
        assert!(h.input(Input::Closed { conn: C }).is_empty());
        assert!(h.at(T0 * 10).is_empty());
        assert_eq!(h.s.next_deadline(), None);

        let log: Vec<String> = h.s.take_log().into_iter().map(|(_, l)| l).collect();
        for expected in [
            "< 220 mx.example.com ESMTP",
            "> EHLO client.example",
            "< 250-mx.example.com",
            "< 250 STARTTLS",
            "> STARTTLS",
            "< 220 2.0.0 ready",
            "TLS handshake (SNI mx.example.com)",
            "> QUIT",
            "< 221 2.0.0 bye",
        ] {
            assert!(
                log.iter().any(|l| l == expected),
                "{expected:?} not in {log:#?}"
            );
        }
    }

    #[test]
    fn replies_split_byte_by_byte() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        let feed = |h: &mut Harness, wire: &[u8]| -> Vec<Action> {
            let mut out = Vec::new();
            for (i, b) in wire.iter().enumerate() {
                let got = h.recv(std::slice::from_ref(b));
                if i + 1 < wire.len() {
                    assert!(
                        got.is_empty(),
                        "action before the reply was complete: {got:?}"
                    );
                }
                out.extend(got);
            }
            out
        };
        assert_eq!(
            feed(&mut h, GREETING),
            vec![send(b"EHLO client.example\r\n")]
        );
        assert_eq!(feed(&mut h, EHLO_TLS), vec![send(b"STARTTLS\r\n")]);
        assert!(matches!(
            feed(&mut h, READY).as_slice(),
            [Action::StartTls { .. }]
        ));
        h.input(Input::TlsEstablished {
            conn: C,
            info: tls_info(),
        });
        h.trust(true);
        assert_eq!(feed(&mut h, EHLO_AFTER), vec![send(b"QUIT\r\n")]);
        assert_eq!(feed(&mut h, BYE), vec![close()]);
        assert_eq!(h.outcome().end, SessionEnd::Completed);
    }

    #[test]
    fn bare_lf_line_ends() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        assert_eq!(h.recv(b"220 mx\n"), vec![send(b"EHLO client.example\r\n")]);
        assert_eq!(
            h.recv(b"250-mx\n250 STARTTLS\n"),
            vec![send(b"STARTTLS\r\n")]
        );
        assert!(matches!(
            h.recv(b"220 go\n").as_slice(),
            [Action::StartTls { .. }]
        ));
    }

    #[test]
    fn multi_line_ehlo_mixed_case_keywords() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(
            h.recv(
                b"250-mx.example.com Hello\r\n250-pipeLining\r\n250-8bitmime\r\n250 StartTls\r\n"
            ),
            vec![send(b"STARTTLS\r\n")]
        );
        assert_eq!(
            h.recv(b"454 4.7.0 TLS not available\r\n"),
            vec![send(b"QUIT\r\n")]
        );
        h.recv(BYE);
        let e = h.outcome().ehlo.clone().unwrap();
        assert_eq!(e.keywords, vec!["PIPELINING", "8BITMIME", "STARTTLS"]);
        assert!(e.pipelining && e.starttls);
    }

    #[test]
    fn helo_fallback() {
        for (tls, completed) in [
            (TlsRequirement::Opportunistic, true),
            (TlsRequirement::Required, false),
        ] {
            let mut h = Harness::greeted(tls);
            assert_eq!(
                h.recv(b"502 5.5.2 command not recognized\r\n"),
                vec![send(b"HELO client.example\r\n")]
            );
            assert_eq!(h.recv(b"250 mx.example.com\r\n"), vec![send(b"QUIT\r\n")]);
            assert_eq!(h.recv(BYE), vec![close()]);
            let o = h.outcome();
            assert!(o.used_helo && !o.starttls_offered);
            assert_eq!(o.ehlo.as_ref().unwrap().domain, "mx.example.com");
            if completed {
                assert_eq!(o.end, SessionEnd::Completed);
            } else {
                assert_eq!(h.failure(), &SessionFailure::StarttlsNotOffered);
            }
        }
    }

    #[test]
    fn ehlo_and_helo_both_rejected() {
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(b"500 what\r\n");
        assert_eq!(h.recv(b"550 go away\r\n"), vec![send(b"QUIT\r\n")]);
        h.input(Input::Closed { conn: C });
        match h.failure() {
            SessionFailure::Rejected {
                stage: Stage::Helo,
                reply,
            } => assert_eq!(reply.code, 550),
            other => panic!("{other:?}"),
        }
        assert_eq!(h.closes(), 1);
        // A 554 to EHLO is not "unrecognized": no HELO.
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        assert_eq!(h.recv(b"554 no\r\n"), vec![send(b"QUIT\r\n")]);
    }

    #[test]
    fn no_starttls_required_vs_opportunistic() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(EHLO_NO_TLS), vec![send(b"QUIT\r\n")]);
        assert_eq!(h.recv(BYE), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::StarttlsNotOffered);
        assert!(!h.outcome().starttls_offered);

        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        assert_eq!(h.recv(EHLO_NO_TLS), vec![send(b"QUIT\r\n")]);
        assert_eq!(h.recv(BYE), vec![close()]);
        assert_eq!(h.outcome().end, SessionEnd::Completed);
        assert_eq!(h.outcome().tls, None);
        assert_eq!(h.sent(), b"EHLO client.example\r\nQUIT\r\n");
    }

    #[test]
    fn starttls_454() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        assert_eq!(
            h.recv(b"454 4.7.0 TLS not available\r\n"),
            vec![send(b"QUIT\r\n")]
        );
        assert_eq!(h.recv(BYE), vec![close()]);
        match h.failure() {
            SessionFailure::StarttlsRejected(r) => {
                assert_eq!(r.text(), "454 4.7.0 TLS not available")
            }
            other => panic!("{other:?}"),
        }

        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_TLS);
        assert_eq!(
            h.recv(b"454 4.7.0 TLS not available\r\n"),
            vec![send(b"QUIT\r\n")]
        );
        assert_eq!(h.recv(BYE), vec![close()]);
        let o = h.outcome();
        assert_eq!(o.end, SessionEnd::Completed);
        assert_eq!(o.tls, None);
        assert_eq!(o.starttls_reply.as_ref().map(|r| r.code), Some(454));
        assert!(!h
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartTls { .. })));
    }

    #[test]
    fn injection_in_the_same_read() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        assert_eq!(h.recv(b"220 ready\r\n250 injected\r\n"), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::PlaintextInjection);
        assert!(!h
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartTls { .. })));
        assert_eq!(h.sent(), b"EHLO client.example\r\nSTARTTLS\r\n");
        // Even a single byte, even a partial line.
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_TLS);
        assert_eq!(h.recv(b"220 ready\r\n2"), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::PlaintextInjection);
        let log: Vec<String> = h.s.take_log().into_iter().map(|(_, l)| l).collect();
        assert!(
            log.iter().any(|l| l.contains("1 bytes followed the 220")),
            "{log:#?}"
        );
    }

    /// Bytes after the final EHLO line, before STARTTLS is sent: a reply to a command never
    /// sent. The session fails at the stage those bytes pretend to answer, sends nothing
    /// more (STARTTLS is withdrawn), and closes once.
    #[test]
    fn bytes_after_the_ehlo_reply_before_starttls() {
        for tls in [TlsRequirement::Required, TlsRequirement::Opportunistic] {
            let mut wire = EHLO_TLS.to_vec();
            wire.extend_from_slice(READY);
            let mut h = Harness::greeted(tls);
            assert_eq!(h.recv(&wire), vec![close()], "{tls:?}");
            assert_eq!(
                h.failure(),
                &SessionFailure::Protocol {
                    stage: Stage::StartTls,
                    error: ReplyError::Unsolicited { bytes: READY.len() }
                }
            );
            assert_eq!(h.sent(), b"EHLO client.example\r\n");
            assert!(!h
                .actions
                .iter()
                .any(|a| matches!(a, Action::StartTls { .. })));
            assert_eq!(h.closes(), 1);
            // Late bytes and a late close change nothing.
            assert!(h.recv(READY).is_empty());
            assert!(h.input(Input::Closed { conn: C }).is_empty());
        }
        // Even one byte, even a partial line.
        let mut wire = EHLO_TLS.to_vec();
        wire.push(b'2');
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(&wire), vec![close()]);
        assert_eq!(
            h.failure(),
            &SessionFailure::Protocol {
                stage: Stage::StartTls,
                error: ReplyError::Unsolicited { bytes: 1 }
            }
        );
    }

    /// A reply that arrives with the greeting answers an EHLO never sent.
    #[test]
    fn reply_to_a_command_never_sent() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        let mut wire = GREETING.to_vec();
        wire.extend_from_slice(EHLO_TLS);
        assert_eq!(h.recv(&wire), vec![close()]);
        assert_eq!(
            h.failure(),
            &SessionFailure::Protocol {
                stage: Stage::Ehlo,
                error: ReplyError::Unsolicited {
                    bytes: EHLO_TLS.len()
                }
            }
        );
        assert!(h.sent().is_empty());
        // The same bytes one reply per read are an ordinary dialogue.
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(EHLO_TLS), vec![send(b"STARTTLS\r\n")]);
    }

    #[test]
    fn injection_in_a_later_read() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        assert!(matches!(
            h.recv(READY).as_slice(),
            [Action::StartTls { .. }]
        ));
        assert_eq!(h.recv(b"250 injected\r\n"), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::PlaintextInjection);
        // A late TlsEstablished changes nothing.
        assert!(h
            .input(Input::TlsEstablished {
                conn: C,
                info: tls_info()
            })
            .is_empty());
        assert!(h.s.awaiting_trust().is_none());
        assert_eq!(h.sent(), b"EHLO client.example\r\nSTARTTLS\r\n");
        assert_eq!(h.closes(), 1);
    }

    #[test]
    // A test may read the clock (core/clippy.toml forbids it for the core's own code).
    #[allow(clippy::disallowed_methods)]
    fn ten_thousand_line_reply() {
        let mut wire = Vec::new();
        for i in 0..10_000 {
            wire.extend_from_slice(format!("250-EXTENSION{i}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"250 STARTTLS\r\n");
        let started = Instant::now();
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(&wire), vec![close()]);
        assert_eq!(
            h.failure(),
            &SessionFailure::Protocol {
                stage: Stage::Ehlo,
                error: ReplyError::TooManyLines
            }
        );
        // The same, 100 bytes per read.
        let mut h = Harness::greeted(TlsRequirement::Required);
        for chunk in wire.chunks(100) {
            h.recv(chunk);
        }
        assert!(matches!(
            h.failure(),
            SessionFailure::Protocol {
                error: ReplyError::TooManyLines,
                ..
            }
        ));
        assert_eq!(h.closes(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn endless_line_is_too_long() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        h.recv(b"220 ");
        let chunk = [b'x'; 100];
        let mut reads = 0;
        while h.s.outcome().is_none() {
            h.recv(&chunk);
            reads += 1;
            assert!(reads < 100, "no error after {} bytes", reads * 100);
        }
        assert_eq!(
            h.failure(),
            &SessionFailure::Protocol {
                stage: Stage::Greeting,
                error: ReplyError::LineTooLong
            }
        );
        assert_eq!(h.actions.last(), Some(&close()));
    }

    #[test]
    fn stalled_server_times_out_at_the_exact_deadline() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        let connected = h.now.as_millis();
        let deadline = connected + STEP.as_millis() as u64;
        assert_eq!(h.s.next_deadline(), Some(Timestamp::from_millis(deadline)));
        assert!(h.at(connected + 1).is_empty());
        assert!(h.at(deadline - 1).is_empty());
        assert!(h.s.outcome().is_none());
        assert_eq!(h.at(deadline), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::Timeout(Stage::Greeting));
        assert!(h.sent().is_empty());

        // Each stage has its own deadline, from the moment it starts.
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        h.recv(READY);
        let d = h.s.next_deadline().unwrap();
        assert_eq!(d, h.now.saturating_add(STEP));
        assert_eq!(h.at(d.as_millis()), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::Timeout(Stage::TlsHandshake));

        let mut h = Harness::new(TlsRequirement::Required);
        assert_eq!(h.at(T0 + STEP.as_millis() as u64), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::Timeout(Stage::Connect));
    }

    #[test]
    fn greeting_421() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        assert_eq!(
            h.recv(b"421 4.3.2 busy, try later\r\n"),
            vec![send(b"QUIT\r\n")]
        );
        assert_eq!(h.input(Input::Closed { conn: C }), vec![close()]);
        match h.failure() {
            SessionFailure::Rejected { stage, reply } => {
                assert_eq!(*stage, Stage::Greeting);
                assert_eq!(reply.text(), "421 4.3.2 busy, try later");
                assert_eq!(reply.enhanced.unwrap().to_string(), "4.3.2");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.outcome().greeting.as_ref().unwrap().code, 421);
        // 554 greeting: same shape.
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        assert_eq!(h.recv(b"554 no service\r\n"), vec![send(b"QUIT\r\n")]);
    }

    #[test]
    fn code_421_mid_dialogue() {
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_TLS);
        assert_eq!(h.recv(b"421 shutting down\r\n"), vec![send(b"QUIT\r\n")]);
        h.recv(BYE);
        assert!(matches!(
            h.failure(),
            SessionFailure::Rejected {
                stage: Stage::StartTls,
                ..
            }
        ));
    }

    #[test]
    fn close_mid_dialogue() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        assert_eq!(h.recv(b"250-mx.example.com\r\n250-PIPE"), vec![]);
        assert_eq!(h.input(Input::Closed { conn: C }), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::ClosedByPeer(Stage::Ehlo));
        assert_eq!(h.closes(), 1);
    }

    #[test]
    fn trust_rejected_sends_nothing_more() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        h.recv(READY);
        h.input(Input::TlsEstablished {
            conn: C,
            info: tls_info(),
        });
        let before = h.sent();
        assert_eq!(h.trust(false), vec![close()]);
        assert_eq!(h.sent(), before);
        assert_eq!(h.failure(), &SessionFailure::TrustRejected);
        assert_eq!(h.outcome().tls, Some(tls_info()));
        assert!(h.trust(true).is_empty());
    }

    #[test]
    fn server_speaking_first_inside_tls() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        h.recv(READY);
        h.input(Input::TlsEstablished {
            conn: C,
            info: tls_info(),
        });
        assert!(h.recv(b"250 early\r\n").is_empty());
        assert_eq!(h.trust(true), vec![close()]);
        assert_eq!(
            h.failure(),
            &SessionFailure::Protocol {
                stage: Stage::EhloAfterTls,
                error: ReplyError::Unsolicited { bytes: 11 }
            }
        );
    }

    #[test]
    fn quit_without_221() {
        // The server never answers QUIT: the quit timeout closes, the session is complete.
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_NO_TLS);
        let d = h.s.next_deadline().unwrap();
        assert!(h.at(d.as_millis() - 1).is_empty());
        assert_eq!(h.at(d.as_millis()), vec![close()]);
        assert_eq!(h.outcome().end, SessionEnd::Completed);
        // The server just closes: complete too.
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_NO_TLS);
        assert_eq!(h.input(Input::Closed { conn: C }), vec![close()]);
        assert_eq!(h.outcome().end, SessionEnd::Completed);
        // Garbage instead of 221: complete, closed.
        let mut h = Harness::greeted(TlsRequirement::Opportunistic);
        h.recv(EHLO_NO_TLS);
        assert_eq!(h.recv(b"\x00\x01garbage\r\n"), vec![close()]);
        assert_eq!(h.outcome().end, SessionEnd::Completed);
    }

    #[test]
    fn tls_and_connect_failures() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(EHLO_TLS);
        h.recv(READY);
        let error = TlsFailure {
            kind: TlsFailureKind::HandshakeFailed,
            error: TlsError::Alert {
                alert: "HandshakeFailure".into(),
            },
        };
        assert_eq!(
            h.input(Input::TlsFailed {
                conn: C,
                error: error.clone()
            }),
            vec![close()]
        );
        assert_eq!(h.failure(), &SessionFailure::Tls(error));

        let mut h = Harness::new(TlsRequirement::Required);
        assert!(h
            .input(Input::ConnectFailed {
                conn: C,
                error: NetError::Refused
            })
            .is_empty());
        assert_eq!(
            h.failure(),
            &SessionFailure::ConnectFailed(NetError::Refused)
        );
        assert_eq!(h.closes(), 0);
    }

    #[test]
    fn protocol_error_closes_without_quit() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        assert_eq!(h.recv(b"HTTP/1.1 400 Bad Request\r\n"), vec![close()]);
        assert!(matches!(
            h.failure(),
            SessionFailure::Protocol {
                stage: Stage::Greeting,
                error: ReplyError::Syntax { .. }
            }
        ));
        assert!(h.sent().is_empty());
    }

    #[test]
    fn outcome_serializes() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.recv(b"250 mx\r\n");
        h.recv(BYE);
        let json = serde_json::to_string(h.outcome()).unwrap();
        assert!(json.contains("starttls-not-offered"), "{json}");
        let back: SessionOutcome = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, h.outcome());
    }

    #[test]
    fn time_never_runs_backwards() {
        let mut h = Harness::new(TlsRequirement::Required);
        h.input(Input::Connected { conn: C });
        let d = h.s.next_deadline().unwrap();
        // A later call with an earlier clock does not move the deadline or undo time.
        assert!(h.at(d.as_millis() - 5).is_empty());
        h.s.handle_input(
            Timestamp::from_millis(0),
            &Input::Received {
                conn: C,
                bytes: GREETING,
            },
        );
        h.drain();
        let ehlo_deadline = h.s.next_deadline().unwrap();
        assert_eq!(
            ehlo_deadline,
            Timestamp::from_millis(d.as_millis() - 5).saturating_add(STEP)
        );
        let log = h.s.take_log();
        assert!(log.windows(2).all(|w| w[0].0 <= w[1].0), "{log:?}");
        assert!(h.s.take_log().is_empty());
    }

    #[test]
    fn abort_closes_once() {
        let mut h = Harness::greeted(TlsRequirement::Required);
        h.s.abort(h.now);
        assert_eq!(h.drain(), vec![close()]);
        assert_eq!(h.failure(), &SessionFailure::Aborted);
        h.s.abort(h.now);
        assert!(h.drain().is_empty());
        assert_eq!(h.closes(), 1);
    }

    // ---------------------------------------------------------------------------------------
    // Deterministic mutation loop.

    #[derive(Clone, Debug)]
    enum Ev {
        Connected,
        Recv(Vec<u8>),
        TlsOk,
        TlsFail,
        Trust(bool),
        Closed,
        Timeout,
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// RFC 5321 reply alphabet (the smtp-proto trick: reach grammar-valid shapes quickly).
    const ALPHABET: &[u8] = b"012345 -\r\n\nSTARTLS.";

    fn mutate(script: &mut Vec<Ev>, rng: &mut Rng) {
        let i = rng.below(script.len());
        match rng.below(9) {
            0 => {
                if let Some(Ev::Recv(b)) = script.get_mut(i) {
                    if !b.is_empty() {
                        let j = rng.below(b.len());
                        b[j] = ALPHABET[rng.below(ALPHABET.len())];
                    }
                }
            }
            1 => {
                if let Some(Ev::Recv(b)) = script.get_mut(i) {
                    let n = rng.below(b.len() + 1);
                    b.truncate(n);
                }
            }
            2 => {
                if let Some(Ev::Recv(b)) = script.get(i).cloned() {
                    let n = rng.below(b.len() + 1);
                    script[i] = Ev::Recv(b[..n].to_vec());
                    script.insert(i + 1, Ev::Recv(b[n..].to_vec()));
                }
            }
            3 if !script.is_empty() => {
                let e = script[i].clone();
                script.insert(i, e);
            }
            4 if !script.is_empty() => {
                script.remove(i);
            }
            5 => {
                let junk: Vec<u8> = (0..rng.below(40))
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect();
                script.insert(i, Ev::Recv(junk));
            }
            6 if i + 1 < script.len() => script.swap(i, i + 1),
            7 => script.insert(
                i,
                [Ev::Timeout, Ev::Closed, Ev::TlsFail, Ev::Trust(false)][rng.below(4)].clone(),
            ),
            _ => {
                if let Some(Ev::Recv(b)) = script.get_mut(i) {
                    let j = rng.below(b.len() + 1);
                    b.insert(j, rng.next() as u8);
                }
            }
        }
    }

    #[test]
    fn mutated_dialogues_always_finish_safely() {
        let base = vec![
            Ev::Connected,
            Ev::Recv(GREETING.to_vec()),
            Ev::Recv(EHLO_TLS.to_vec()),
            Ev::Recv(READY.to_vec()),
            Ev::TlsOk,
            Ev::Trust(true),
            Ev::Recv(EHLO_AFTER.to_vec()),
            Ev::Recv(BYE.to_vec()),
            Ev::Closed,
        ];
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let mut completed = 0;
        for round in 0..3000 {
            let tls = if round % 2 == 0 {
                TlsRequirement::Required
            } else {
                TlsRequirement::Opportunistic
            };
            let mut script = base.clone();
            if round > 0 {
                for _ in 0..=rng.below(4) {
                    mutate(&mut script, &mut rng);
                }
            }
            let mut h = Harness::new(tls);
            let mut trusted = false;
            let mut tls_started = false;
            let mut finished_at: Option<usize> = None;
            let check = |h: &Harness, new: &[Action], trusted: bool, tls_started: &mut bool| {
                for a in new {
                    match a {
                        Action::StartTls { .. } => *tls_started = true,
                        // Security oracle: after StartTls, nothing is sent before trust.
                        Action::Send { .. } if *tls_started => {
                            assert!(trusted, "sent before trust: {script:?}")
                        }
                        _ => {}
                    }
                }
                assert!(h.closes() <= 1, "{script:?}");
            };
            for ev in script.iter() {
                let new = match ev {
                    Ev::Connected => h.input(Input::Connected { conn: C }),
                    Ev::Recv(b) => h.recv(b),
                    Ev::TlsOk => h.input(Input::TlsEstablished {
                        conn: C,
                        info: tls_info(),
                    }),
                    Ev::TlsFail => h.input(Input::TlsFailed {
                        conn: C,
                        error: TlsFailure {
                            kind: TlsFailureKind::Closed,
                            error: TlsError::Closed,
                        },
                    }),
                    Ev::Trust(ok) => {
                        trusted |= *ok && h.s.awaiting_trust().is_some();
                        h.trust(*ok)
                    }
                    Ev::Closed => h.input(Input::Closed { conn: C }),
                    Ev::Timeout => match h.s.next_deadline() {
                        Some(d) => h.at(d.as_millis()),
                        None => vec![],
                    },
                };
                if finished_at.is_some() {
                    assert!(
                        new.is_empty(),
                        "action after the end: {new:?} in {script:?}"
                    );
                }
                check(&h, &new, trusted, &mut tls_started);
                if finished_at.is_none() && h.s.outcome().is_some() {
                    finished_at = Some(h.actions.len());
                }
            }
            // A silent server: the session must end within a bounded number of deadlines.
            let mut waits = 0;
            while h.s.outcome().is_none() {
                waits += 1;
                assert!(waits <= 8, "no end after {waits} deadlines: {script:?}");
                let new = if h.s.awaiting_trust().is_some() {
                    trusted = true;
                    h.trust(true)
                } else {
                    let d = h.s.next_deadline().expect("a waiting state has a deadline");
                    h.at(d.as_millis())
                };
                check(&h, &new, trusted, &mut tls_started);
            }
            assert_eq!(h.closes(), 1, "{script:?}");
            assert_eq!(h.actions.last(), Some(&close()), "{script:?}");
            assert_eq!(h.s.next_deadline(), None);
            if h.outcome().end == SessionEnd::Completed {
                completed += 1;
            }
        }
        // The loop must reach both outcomes, or it tests little.
        assert!(completed > 100 && completed < 2900, "completed {completed}");
    }
}
