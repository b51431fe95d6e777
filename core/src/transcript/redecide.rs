//! Deciding a recorded check again with this version's machine (issue 8): the transcript is
//! used as a recording of the network, not of the machine. Each DNS query the new machine
//! sends is answered with what the recording's exchange of the same question, resolver and
//! transport received (the n-th such query gets the n-th recorded exchange); each connection
//! it opens is fed what the recording's connection to the same address received (again in
//! order), each input once the new machine has sent as many actions on it as the recorded
//! machine had before that input. Recorded timeouts are not replayed: the new machine's own
//! deadlines fire, as long as the recording shows silence until then on everything the new
//! machine still listens on.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::replay::{Replay, ReplayError};
use super::{Event, Transcript};
use crate::machine::{Action, ConnId, Machine, Output, OwnedInput, QueryId, Transport};
use crate::report::{DomainVerdict, ReDecided};
use crate::time::Timestamp;

/// The most waits a re-decided check may go through (each ends with an input or a timeout).
pub const MAX_REDECIDE_STEPS: usize = 100_000;

/// The question of a DNS query (RFC 1035 sec. 4.1.2), as matched between versions. Names
/// compare without regard to case (RFC 4343).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsQuestion {
    /// The name, lower case, fully qualified.
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

impl fmt::Display for DnsQuestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, RecordType::from(self.qtype))?;
        if self.qclass != 1 {
            write!(f, " CLASS{}", self.qclass)?;
        }
        Ok(())
    }
}

/// The message id and the question of a query message.
fn parse_query(wire: &[u8]) -> Option<(u16, DnsQuestion)> {
    let msg = Message::from_vec(wire).ok()?;
    let q = msg.queries.first()?;
    let mut name = q.name().to_ascii().to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    Some((
        msg.metadata.id,
        DnsQuestion {
            name,
            qtype: u16::from(q.query_type()),
            qclass: u16::from(q.query_class()),
        },
    ))
}

/// A recorded input, with its time and its place in the recording (which breaks ties).
struct Recorded {
    at: Timestamp,
    order: usize,
    input: OwnedInput,
}

/// What the recording's resolver sent for one exchange.
struct Exchange {
    server: SocketAddr,
    question: DnsQuestion,
    msg_id: u16,
    inputs: VecDeque<Recorded>,
    /// When the recorded machine ended it ([`Action::EndDns`]), if it did: until then the
    /// resolver's silence after its last input was observed.
    ended_at: Option<Timestamp>,
}

/// What the recording's peer did on one connection: each input with the number of actions the
/// recorded machine had taken on it before.
struct Connection {
    addr: SocketAddr,
    steps: VecDeque<(usize, Recorded)>,
    /// When the recorded machine closed it, if it did: until then the peer's silence after
    /// its last input was observed; after, nothing is known.
    closed_at: Option<Timestamp>,
    /// The peer ended it (connection refused, or closed): nothing more would have come.
    ended_by_peer: bool,
}

/// Where a match key's recorded exchanges or connections are waiting to be claimed.
type Queue = VecDeque<usize>;

/// The recording, indexed for matching.
#[derive(Default)]
struct Network {
    exchanges: Vec<Exchange>,
    by_question: BTreeMap<(SocketAddr, bool, DnsQuestion), Queue>,
    connections: Vec<Connection>,
    by_addr: BTreeMap<SocketAddr, Queue>,
    /// Abort commands, at their recorded times.
    commands: VecDeque<Recorded>,
    ends: Timestamp,
}

impl Network {
    fn index(transcript: &Transcript) -> Network {
        let mut net = Network {
            ends: transcript.header.start,
            ..Network::default()
        };
        let mut exchange_of: BTreeMap<QueryId, usize> = BTreeMap::new();
        let mut connection_of: BTreeMap<ConnId, (usize, usize)> = BTreeMap::new();
        for (order, event) in transcript.events.iter().enumerate() {
            net.ends = net.ends.max(event.at());
            match event {
                Event::Output {
                    output: Output::Action(action),
                    ..
                } => match action {
                    Action::SendDns {
                        query,
                        server,
                        transport,
                        wire,
                    } => {
                        // A query that does not parse cannot be matched by question.
                        if let Some((msg_id, question)) = parse_query(wire) {
                            exchange_of.insert(*query, net.exchanges.len());
                            net.by_question
                                .entry((*server, *transport == Transport::Tcp, question.clone()))
                                .or_default()
                                .push_back(net.exchanges.len());
                            net.exchanges.push(Exchange {
                                server: *server,
                                question,
                                msg_id,
                                inputs: VecDeque::new(),
                                ended_at: None,
                            });
                        }
                    }
                    Action::Connect { conn, addr } => {
                        connection_of.insert(*conn, (net.connections.len(), 0));
                        net.by_addr
                            .entry(*addr)
                            .or_default()
                            .push_back(net.connections.len());
                        net.connections.push(Connection {
                            addr: *addr,
                            steps: VecDeque::new(),
                            closed_at: None,
                            ended_by_peer: false,
                        });
                    }
                    Action::EndDns { query } => {
                        if let Some(&i) = exchange_of.get(query) {
                            net.exchanges[i].ended_at = Some(event.at());
                        }
                    }
                    Action::Send { conn, .. }
                    | Action::StartTls { conn, .. }
                    | Action::Close { conn } => {
                        if let Some((i, actions)) = connection_of.get_mut(conn) {
                            *actions += 1;
                            if matches!(action, Action::Close { .. }) {
                                net.connections[*i].closed_at = Some(event.at());
                            }
                        }
                    }
                },
                Event::Output { .. } => {}
                Event::Input { at, input } => {
                    let recorded = Recorded {
                        at: *at,
                        order,
                        input: input.clone(),
                    };
                    if let Some(query) = query_of(input) {
                        if let Some(&i) = exchange_of.get(&query) {
                            net.exchanges[i].inputs.push_back(recorded);
                        }
                    } else if let Some(conn) = conn_of(input) {
                        if let Some(&(i, actions)) = connection_of.get(&conn) {
                            let c = &mut net.connections[i];
                            c.ended_by_peer |= matches!(
                                input,
                                OwnedInput::Closed { .. } | OwnedInput::ConnectFailed { .. }
                            );
                            c.steps.push_back((actions, recorded));
                        }
                    } else if matches!(input, OwnedInput::Abort) {
                        net.commands.push_back(recorded);
                    }
                    // Recorded timeouts are the old machine's: the new one keeps its own.
                }
            }
        }
        net
    }
}

fn query_of(input: &OwnedInput) -> Option<QueryId> {
    match input {
        OwnedInput::DnsAnswer { query, .. } | OwnedInput::DnsFailed { query, .. } => Some(*query),
        _ => None,
    }
}

fn conn_of(input: &OwnedInput) -> Option<ConnId> {
    input.as_input().conn()
}

/// A new query and the recorded exchange that answers it.
struct LiveQuery {
    exchange: usize,
    /// XOR of the recorded and the new message id: applied to every recorded answer, it keeps
    /// a matching id matching and a wrong one wrong.
    id_xor: u16,
    /// The new machine ended the exchange: its socket is gone, nothing more is fed.
    ended: bool,
}

/// A new connection and the recorded one that feeds it.
struct LiveConn {
    connection: usize,
    actions: usize,
    closed: bool,
}

/// Where the next input comes from.
#[derive(Clone, Copy)]
enum Source {
    Dns(QueryId),
    Conn(ConnId),
    Command,
}

/// The re-deciding loop's state.
struct Redecider {
    net: Network,
    queries: BTreeMap<QueryId, LiveQuery>,
    conns: BTreeMap<ConnId, LiveConn>,
    dns_exchanges: usize,
    connections: usize,
}

impl Redecider {
    /// Claims the recorded exchange or connection for an action of the new machine.
    fn on_action(&mut self, action: &Action) -> Result<(), ReplayError> {
        match action {
            Action::SendDns {
                query,
                server,
                transport,
                wire,
            } => {
                let (msg_id, question) =
                    parse_query(wire).ok_or(ReplayError::UnparsableQuery { query: *query })?;
                let key = (*server, *transport == Transport::Tcp, question);
                let exchange = self
                    .net
                    .by_question
                    .get_mut(&key)
                    .and_then(VecDeque::pop_front)
                    .ok_or_else(|| ReplayError::MissingDnsExchange {
                        server: *server,
                        transport: *transport,
                        question: key.2.clone(),
                    })?;
                let id_xor = self.net.exchanges[exchange].msg_id ^ msg_id;
                self.queries.insert(
                    *query,
                    LiveQuery {
                        exchange,
                        id_xor,
                        ended: false,
                    },
                );
                self.dns_exchanges += 1;
            }
            Action::Connect { conn, addr } => {
                let connection = self
                    .net
                    .by_addr
                    .get_mut(addr)
                    .and_then(VecDeque::pop_front)
                    .ok_or_else(|| ReplayError::MissingConnection {
                        addr: *addr,
                        recorded: self
                            .net
                            .connections
                            .iter()
                            .filter(|c| c.addr == *addr)
                            .count(),
                    })?;
                self.conns.insert(
                    *conn,
                    LiveConn {
                        connection,
                        actions: 0,
                        closed: false,
                    },
                );
                self.connections += 1;
            }
            Action::EndDns { query } => {
                if let Some(q) = self.queries.get_mut(query) {
                    q.ended = true;
                }
            }
            Action::Send { conn, .. } | Action::StartTls { conn, .. } => {
                if let Some(c) = self.conns.get_mut(conn) {
                    c.actions += 1;
                }
            }
            Action::Close { conn } => {
                if let Some(c) = self.conns.get_mut(conn) {
                    c.actions += 1;
                    c.closed = true;
                }
            }
        }
        Ok(())
    }

    /// Whether a timeout at `deadline` is what the recording shows: every DNS exchange and
    /// connection the new machine still listens on, with nothing recorded left to feed, must
    /// have been listened to by the recorded machine until then (until the end of the
    /// recording when the recorded machine never ended it).
    fn silent_until(&self, deadline: Timestamp) -> Result<(), ReplayError> {
        for live in self.queries.values().filter(|q| !q.ended) {
            let x = &self.net.exchanges[live.exchange];
            let listened_until = x.ended_at.unwrap_or(self.net.ends);
            if x.inputs.is_empty() && deadline > listened_until {
                return Err(ReplayError::DnsExchangeEnds {
                    server: x.server,
                    question: x.question.clone(),
                    listened_until,
                    waits_until: deadline,
                });
            }
        }
        for live in self.conns.values().filter(|c| !c.closed) {
            let c = &self.net.connections[live.connection];
            let listened_until = c.closed_at.unwrap_or(self.net.ends);
            if c.steps.is_empty() && !c.ended_by_peer && deadline > listened_until {
                return Err(ReplayError::ConnectionEnds {
                    addr: c.addr,
                    listened_until,
                    waits_until: deadline,
                });
            }
        }
        // With nothing open, nothing could arrive: the timer fires, whatever the recording.
        Ok(())
    }

    /// The recorded input due first: (time, order, source).
    fn next(&self) -> Option<(Timestamp, usize, Source)> {
        let dns = self.queries.iter().filter_map(|(q, live)| {
            let r = self.net.exchanges[live.exchange].inputs.front()?;
            (!live.ended).then_some((r.at, r.order, Source::Dns(*q)))
        });
        let conns = self.conns.iter().filter_map(|(c, live)| {
            let (gate, r) = self.net.connections[live.connection].steps.front()?;
            (!live.closed && *gate <= live.actions).then_some((r.at, r.order, Source::Conn(*c)))
        });
        let commands = self
            .net
            .commands
            .front()
            .map(|r| (r.at, r.order, Source::Command));
        dns.chain(conns)
            .chain(commands)
            .min_by_key(|(at, order, _)| (*at, *order))
    }

    /// Takes the recorded input from `source`, rewritten for the new machine's ids.
    fn take(&mut self, source: Source) -> Option<OwnedInput> {
        match source {
            Source::Dns(query) => {
                let live = self.queries.get(&query)?;
                let recorded = self.net.exchanges[live.exchange].inputs.pop_front()?;
                Some(match recorded.input {
                    OwnedInput::DnsAnswer { from, mut wire, .. } => {
                        if let [hi, lo, ..] = wire.as_mut_slice() {
                            let id = u16::from_be_bytes([*hi, *lo]) ^ live.id_xor;
                            [*hi, *lo] = id.to_be_bytes();
                        }
                        OwnedInput::DnsAnswer { query, from, wire }
                    }
                    OwnedInput::DnsFailed { error, .. } => OwnedInput::DnsFailed { query, error },
                    other => other,
                })
            }
            Source::Conn(conn) => {
                let live = self.conns.get(&conn)?;
                let (_, recorded) = self.net.connections[live.connection].steps.pop_front()?;
                let mut input = recorded.input;
                if let Some(recorded_conn) = input.conn_mut() {
                    *recorded_conn = conn;
                }
                Some(input)
            }
            Source::Command => self.net.commands.pop_front().map(|r| r.input),
        }
    }
}

/// Decides `transcript` again with this version's machine (see the module documentation),
/// and compares the verdict with `recorded_verdict` when there is one. The report carries a
/// [`ReDecided`] note.
pub fn redecide(
    transcript: &Transcript,
    recorded_verdict: Option<DomainVerdict>,
) -> Result<Replay, ReplayError> {
    let h = &transcript.header;
    let mut machine = h.config.start(h.seed, h.start)?;
    let mut state = Redecider {
        net: Network::index(transcript),
        queries: BTreeMap::new(),
        conns: BTreeMap::new(),
        dns_exchanges: 0,
        connections: 0,
    };
    let mut now = h.start;
    let mut inputs = 0;
    for _ in 0..MAX_REDECIDE_STEPS {
        let deadline = loop {
            match machine.poll_output(now) {
                Output::Action(action) => state.on_action(&action)?,
                Output::Timeout(deadline) => break deadline,
                Output::Done(mut report) => {
                    let divergence =
                        recorded_verdict
                            .filter(|v| *v != report.verdict)
                            .map(|recorded| super::Divergence::Verdict {
                                recorded,
                                replayed: report.verdict,
                            });
                    report.redecided = Some(ReDecided {
                        format: h.daneel_transcript,
                        recorded_by: h.recorded_by.clone(),
                        recorded_verdict,
                        dns_exchanges: state.dns_exchanges,
                        connections: state.connections,
                    });
                    return Ok(Replay {
                        report: Some(report),
                        divergence,
                        inputs,
                    });
                }
            }
        };
        let input = match state.next() {
            Some((at, _, source)) if at <= deadline => {
                now = now.max(at);
                state.take(source)
            }
            _ => {
                state.silent_until(deadline)?;
                now = now.max(deadline);
                Some(OwnedInput::Timeout)
            }
        };
        if let Some(input) = input {
            inputs += 1;
            machine.handle_input(now, input.as_input())?;
        }
    }
    Err(ReplayError::TooManySteps)
}
