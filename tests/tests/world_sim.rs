//! The simulated driver with a tiny hand-written machine: DNS rounds, the drain rule, the
//! step bound, transcripts and replay.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use daneel_core::transcript::Event;
use daneel_core::{
    Action, ConnId, DomainVerdict, Input, Machine, Output, QueryId, Report, Timestamp, Transport,
    UsageError,
};
use daneel_tests::sim::{replay, Sim, SimError};
use daneel_tests::world::{Fault, MailServer, Status, World};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const MX_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 25);
const START: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

fn world() -> World {
    World::builder()
        .zone("example.com", Status::Secure)
        .mx("example.com", 10, "mx.example.com")
        .a("example.com", Ipv4Addr::new(192, 0, 2, 1))
        .a("mx.example.com", MX_IP)
        .server(IpAddr::V4(MX_IP), MailServer::new("mx.example.com"))
        .build()
}

fn qwire(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut e = Edns::new();
    e.set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn report(verdict: DomainVerdict, now: Timestamp) -> Report {
    daneel_tests::reports::blank("example.com", verdict, now)
}

/// Sends MX and A queries in parallel, then a TLSA query once both are answered (round 2),
/// then connects to the MX address, reads the banner, says EHLO and QUIT.
#[derive(Default)]
struct Toy {
    out: Vec<Action>,
    answered: Vec<u32>,
    asked_tlsa: bool,
    connected: bool,
    said_ehlo: bool,
    said_quit: bool,
    done: Option<Box<Report>>,
    started: bool,
    deadline: Option<Timestamp>,
    received: Vec<u8>,
    /// Upgrade with STARTTLS before QUIT.
    starttls: bool,
    sent_starttls: bool,
    tls: Option<daneel_core::tls::TlsInfo>,
}

const RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)), 53);

impl Machine for Toy {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.done.is_some() {
            return Err(UsageError::AfterDone);
        }
        match input {
            Input::DnsAnswer { query, wire, .. } => {
                let m = Message::from_vec(wire).expect("world answers parse");
                assert!(m.metadata.authentic_data, "secure world answers have AD=1");
                self.answered.push(query.0);
                if query.0 == 3 {
                    let ip = m
                        .answers
                        .iter()
                        .find_map(|r| match &r.data {
                            RData::A(a) => Some(a.0),
                            _ => None,
                        })
                        .unwrap_or(MX_IP);
                    let _ = ip;
                }
                if self.answered.contains(&1) && self.answered.contains(&2) && !self.asked_tlsa {
                    self.asked_tlsa = true;
                    self.out.push(Action::SendDns {
                        query: QueryId(3),
                        server: RESOLVER,
                        transport: Transport::Udp,
                        wire: qwire(3, "_25._tcp.mx.example.com.", RecordType::TLSA),
                    });
                }
                if query.0 == 3 {
                    self.out.push(Action::Connect {
                        conn: ConnId(1),
                        addr: SocketAddr::new(IpAddr::V4(MX_IP), 25),
                    });
                }
            }
            Input::Connected { .. } => self.connected = true,
            Input::TlsEstablished { conn, info } => {
                self.tls = Some(info);
                self.out.push(Action::Send {
                    conn,
                    bytes: b"EHLO client.example\r\n".to_vec(),
                });
            }
            Input::Received { conn, bytes } => {
                self.received.extend_from_slice(bytes);
                let text = String::from_utf8_lossy(&self.received).to_string();
                if text.starts_with("220 ") && !self.said_ehlo {
                    self.said_ehlo = true;
                    self.received.clear();
                    self.out.push(Action::Send {
                        conn,
                        bytes: b"EHLO client.example\r\n".to_vec(),
                    });
                } else if self.starttls
                    && !self.sent_starttls
                    && text.contains("STARTTLS")
                    && text.contains("250 ")
                {
                    self.sent_starttls = true;
                    self.received.clear();
                    self.out.push(Action::Send {
                        conn,
                        bytes: b"STARTTLS\r\n".to_vec(),
                    });
                } else if self.sent_starttls && self.tls.is_none() && text.starts_with("220 ") {
                    self.received.clear();
                    self.out.push(Action::StartTls {
                        conn,
                        sni: Some("mx.example.com".into()),
                    });
                } else if text.contains("250 ") && !self.said_quit {
                    self.said_quit = true;
                    self.received.clear();
                    self.out.push(Action::Send {
                        conn,
                        bytes: b"QUIT\r\n".to_vec(),
                    });
                }
            }
            Input::Closed { .. } => self.done = Some(Box::new(report(DomainVerdict::NoDane, now))),
            Input::Timeout => {
                self.done = Some(Box::new(report(DomainVerdict::Inconclusive, now)));
            }
            _ => {}
        }
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        if !self.started {
            self.started = true;
            self.deadline = Some(now.saturating_add(Duration::from_secs(30)));
            self.out.push(Action::SendDns {
                query: QueryId(1),
                server: RESOLVER,
                transport: Transport::Udp,
                wire: qwire(1, "example.com.", RecordType::MX),
            });
            self.out.push(Action::SendDns {
                query: QueryId(2),
                server: RESOLVER,
                transport: Transport::Udp,
                wire: qwire(2, "mx.example.com.", RecordType::A),
            });
        }
        if let Some(r) = &self.done {
            return Output::Done(r.clone());
        }
        if !self.out.is_empty() {
            return Output::Action(self.out.remove(0));
        }
        Output::Timeout(self.deadline.unwrap_or(now))
    }
}

#[test]
fn counts_rounds_and_runs_to_done() {
    let mut sim = Sim::new(world(), Box::<Toy>::default(), START);
    let report = sim.run_bounded(100).expect("done");
    assert_eq!(report.verdict, DomainVerdict::NoDane);
    let log = sim.rounds_log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].1, "example.com");
    assert_eq!((log[0].3, log[1].3, log[2].3), (1, 1, 2));
    assert_eq!(log[2].2, "TLSA");
    assert_eq!(sim.dns_rounds(), 2);
    let q = sim.queries();
    assert_eq!(
        q[0].answered,
        Some(START.saturating_add(Duration::from_millis(10)))
    );
    assert_eq!(q[2].sent, START.saturating_add(Duration::from_millis(10)));
    // 2 DNS latencies, TCP connect (10 ms), banner (10 ms), EHLO (10), QUIT (10).
    assert_eq!(sim.elapsed(), Duration::from_millis(60));
    assert_eq!(sim.connections().len(), 1);
}

#[test]
fn transcript_replays_identically() {
    let mut sim = Sim::new(world(), Box::<Toy>::default(), START);
    sim.run_bounded(100).expect("done");
    let t = sim.transcript();
    // The first event is the start's drain: an output, before any input.
    assert!(matches!(t[0], Event::Output { .. }));
    assert!(t.len() > 5);
    replay(t, &mut Toy::default()).expect("same outputs");
    // A machine that behaves differently is caught.
    let mut other = Toy {
        said_quit: true,
        ..Toy::default()
    };
    assert!(replay(t, &mut other).is_err());
}

#[test]
fn timeout_fault_means_no_answer_and_the_deadline_fires() {
    let w = World::builder()
        .zone("example.com", Status::Secure)
        .fault("example.com", RecordType::MX, Fault::Timeout)
        .a("mx.example.com", MX_IP)
        .build();
    let mut sim = Sim::new(w, Box::<Toy>::default(), START);
    let report = sim.run_bounded(100).expect("done");
    assert_eq!(report.verdict, DomainVerdict::Inconclusive);
    assert_eq!(sim.elapsed(), Duration::from_secs(30));
    assert_eq!(sim.queries()[0].answered, None);
}

/// Emits actions forever within one drain.
struct Chatty;
impl Machine for Chatty {
    fn handle_input(&mut self, _: Timestamp, _: Input<'_>) -> Result<(), UsageError> {
        Ok(())
    }
    fn poll_output(&mut self, _: Timestamp) -> Output {
        Output::Action(Action::SendDns {
            query: QueryId(1),
            server: RESOLVER,
            transport: Transport::Udp,
            wire: vec![],
        })
    }
}

/// Closes a connection it never opened.
struct Confused;
impl Machine for Confused {
    fn handle_input(&mut self, _: Timestamp, _: Input<'_>) -> Result<(), UsageError> {
        Ok(())
    }
    fn poll_output(&mut self, _: Timestamp) -> Output {
        Output::Action(Action::Close { conn: ConnId(9) })
    }
}

/// Finishes, then forgets it did.
struct Forgetful(u32);
impl Machine for Forgetful {
    fn handle_input(&mut self, _: Timestamp, _: Input<'_>) -> Result<(), UsageError> {
        Ok(())
    }
    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.0 += 1;
        if self.0 == 1 {
            Output::Done(Box::new(report(DomainVerdict::NoDane, now)))
        } else {
            Output::Timeout(now)
        }
    }
}

/// Never finishes: a deadline 1 s ahead, forever.
struct Sleeper;
impl Machine for Sleeper {
    fn handle_input(&mut self, _: Timestamp, _: Input<'_>) -> Result<(), UsageError> {
        Ok(())
    }
    fn poll_output(&mut self, now: Timestamp) -> Output {
        Output::Timeout(now.saturating_add(Duration::from_secs(1)))
    }
}

/// Rejects every input.
struct Grumpy;
impl Machine for Grumpy {
    fn handle_input(&mut self, _: Timestamp, _: Input<'_>) -> Result<(), UsageError> {
        Err(UsageError::AfterDone)
    }
    fn poll_output(&mut self, now: Timestamp) -> Output {
        Output::Timeout(now)
    }
}

#[test]
fn drain_rule_step_bound_and_usage_errors_fail_the_run() {
    let err = Sim::new(world(), Box::new(Chatty), START).run_bounded(10);
    assert_eq!(err, Err(SimError::DrainUnbounded));
    // The driver ignores a close of a connection it never opened, as a runtime must (late
    // events are normal there); closing it again and again in one drain is caught.
    let err = Sim::new(world(), Box::new(Confused), START).run_bounded(10);
    assert_eq!(err, Err(SimError::DrainUnbounded));
    let err = Sim::new(world(), Box::new(Forgetful(0)), START).run_bounded(10);
    assert!(matches!(err, Err(SimError::DrainRule(_))), "{err:?}");
    let mut sim = Sim::new(world(), Box::new(Sleeper), START);
    assert_eq!(sim.run_bounded(50), Err(SimError::StepBound(50)));
    assert_eq!(sim.elapsed(), Duration::from_secs(49));
    let err = Sim::new(world(), Box::new(Grumpy), START).run_bounded(10);
    assert!(matches!(err, Err(SimError::Usage { .. })), "{err:?}");
}

#[test]
fn starttls_runs_through_connection_io_in_memory() {
    let leaf = daneel_tests::world::certs::self_signed(&["mx.example.com"]);
    let w = World::builder()
        .zone("example.com", Status::Secure)
        .mx("example.com", 10, "mx.example.com")
        .a("mx.example.com", MX_IP)
        .server(
            IpAddr::V4(MX_IP),
            MailServer::new("mx.example.com")
                .with_tls(daneel_tests::world::certs::server_tls(&[&leaf])),
        )
        .build();
    let toy = Toy {
        starttls: true,
        ..Toy::default()
    };
    let mut sim = Sim::new(w.clone(), Box::new(toy), START);
    let report = sim.run_bounded(200).expect("done");
    assert_eq!(report.verdict, DomainVerdict::NoDane);
    let c = &sim.connections()[0];
    assert!(c.tls);
    assert_eq!(c.sni.as_deref(), Some("mx.example.com"));
    let established = sim.transcript().iter().find_map(|e| match e {
        Event::Input {
            input: daneel_core::OwnedInput::TlsEstablished { info, .. },
            ..
        } => Some(info.clone()),
        _ => None,
    });
    assert_eq!(established.expect("tls").chain[0], leaf.der.to_vec());
    // Replay: transcripts hold plaintext and chains, never ciphertext.
    let fresh = Toy {
        starttls: true,
        ..Toy::default()
    };
    let mut fresh = fresh;
    replay(sim.transcript(), &mut fresh).expect("same outputs");
}
