//! Runtime conformance (issue 8): one suite, written once and instantiated for daneel-tokio and
//! daneel-smol by [`conformance!`]. A [`Scripted`] machine emits the actions of a script and
//! records every input with its time; real loopback peers on 127.22.0.0/16 (run the suite in
//! `unshare -n`) play resolvers and servers. Each case asserts the exact inputs per socket
//! (never an order across independent sockets) and what the peer saw on the wire.
//!
//! The tokio suite drives `daneel_tokio::run` on a runtime that outlives every run, so "no
//! socket left open" is a property of `run` itself, not of dropping a runtime.

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use daneel_core::driver::{Driver, IoCommand, IoEvent, Socket};
use daneel_core::{
    Action, ConnId, DomainVerdict, Input, Machine, NetError, Output, OwnedInput, QueryId, Report,
    Timestamp, Transport, UsageError,
};

/// A generous bound for anything a peer or a run waits on; only reached when a runtime hangs.
const BOUND: Duration = Duration::from_secs(15);

/// What a script step waits for.
#[derive(Clone, Copy, Debug)]
enum On {
    /// The machine's first poll.
    Start,
    /// `Connected` on this connection.
    Connected(u32),
    /// Everything received on this connection so far contains these bytes.
    Received(u32, &'static [u8]),
    /// `Closed` on this connection.
    Closed(u32),
    /// The n-th `DnsAnswer` of this query.
    Answers(u32, usize),
    /// `DnsFailed` for this query.
    DnsFailed(u32),
    /// The deadline of the last `Wait` passed.
    Timeout,
}

/// What a script step does.
enum Do {
    Act(Action),
    /// Sets the machine's deadline this long from now.
    Wait(Duration),
    /// Tells a peer thread that the step was reached.
    Signal(mpsc::Sender<()>),
    /// Holds the runtime's thread until a peer thread says so (at most [`BOUND`]).
    Block(mpsc::Receiver<()>),
    /// Holds the runtime's thread this long, so that its other threads can catch up.
    Pause(Duration),
    /// Finishes the machine.
    Finish,
}

/// A machine that plays a script and records every input it receives, with its time.
struct Scripted {
    steps: Vec<(On, Vec<Do>)>,
    started: bool,
    out: VecDeque<Action>,
    deadline: Option<Timestamp>,
    give_up: Timestamp,
    gave_up: bool,
    done: Option<Box<Report>>,
    inputs: Vec<(Timestamp, OwnedInput)>,
    deadlines: Vec<Timestamp>,
    received: BTreeMap<u32, Vec<u8>>,
    answers: BTreeMap<u32, usize>,
}

impl Scripted {
    fn new(steps: Vec<(On, Vec<Do>)>) -> Self {
        Scripted {
            steps,
            started: false,
            out: VecDeque::new(),
            deadline: None,
            give_up: Timestamp::EPOCH,
            gave_up: false,
            done: None,
            inputs: Vec::new(),
            deadlines: Vec::new(),
            received: BTreeMap::new(),
            answers: BTreeMap::new(),
        }
    }

    fn matches(&self, on: On, input: Option<&Input<'_>>) -> bool {
        match (on, input) {
            (On::Start, None) => true,
            (On::Connected(c), Some(Input::Connected { conn })) => conn.0 == c,
            (On::Received(c, pat), Some(Input::Received { conn, .. })) if conn.0 == c => {
                self.received[&c].windows(pat.len()).any(|w| w == pat)
            }
            (On::Closed(c), Some(Input::Closed { conn })) => conn.0 == c,
            (On::Answers(q, n), Some(Input::DnsAnswer { query, .. })) if query.0 == q => {
                self.answers[&q] == n
            }
            (On::DnsFailed(q), Some(Input::DnsFailed { query, .. })) => query.0 == q,
            (On::Timeout, Some(Input::Timeout)) => true,
            _ => false,
        }
    }

    /// Runs every step not yet run that `input` (`None`: the start) triggers.
    fn fire(&mut self, now: Timestamp, input: Option<&Input<'_>>) {
        for i in 0..self.steps.len() {
            if self.steps[i].1.is_empty() || !self.matches(self.steps[i].0, input) {
                continue;
            }
            for step in std::mem::take(&mut self.steps[i].1) {
                match step {
                    Do::Act(action) => self.out.push_back(action),
                    Do::Wait(d) => {
                        self.deadline = Some(now.saturating_add(d));
                        self.deadlines.push(now.saturating_add(d));
                    }
                    Do::Signal(tx) => drop(tx.send(())),
                    Do::Block(rx) => drop(rx.recv_timeout(BOUND)),
                    Do::Pause(d) => thread::sleep(d),
                    Do::Finish => self.finish(now),
                }
            }
        }
    }

    fn finish(&mut self, now: Timestamp) {
        let report = daneel_tests::reports::blank("conformance.test", DomainVerdict::NoDane, now);
        self.done = Some(Box::new(report));
    }

    /// The inputs of one connection, consecutive reads joined (a stream has no boundaries).
    fn conn(&self, c: u32) -> Vec<OwnedInput> {
        let mut inputs: Vec<OwnedInput> = Vec::new();
        for (_, input) in &self.inputs {
            match (input, inputs.last_mut()) {
                (
                    OwnedInput::Received { conn, bytes },
                    Some(OwnedInput::Received { bytes: all, .. }),
                ) if conn.0 == c => all.extend_from_slice(bytes),
                (
                    OwnedInput::Connected { conn }
                    | OwnedInput::ConnectFailed { conn, .. }
                    | OwnedInput::Received { conn, .. }
                    | OwnedInput::TlsEstablished { conn, .. }
                    | OwnedInput::TlsFailed { conn, .. }
                    | OwnedInput::Closed { conn },
                    _,
                ) if conn.0 == c => inputs.push(input.clone()),
                _ => {}
            }
        }
        inputs
    }

    /// The inputs of one DNS exchange.
    fn query(&self, q: u32) -> Vec<OwnedInput> {
        let of_q = |input: &&OwnedInput| match input {
            OwnedInput::DnsAnswer { query, .. } | OwnedInput::DnsFailed { query, .. } => {
                query.0 == q
            }
            _ => false,
        };
        self.inputs
            .iter()
            .map(|(_, i)| i)
            .filter(of_q)
            .cloned()
            .collect()
    }

    fn assert_finished_by_script(&self) {
        assert!(
            !self.gave_up,
            "the script stalled; inputs: {:?}",
            self.inputs
        );
    }
}

impl Machine for Scripted {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.done.is_some() {
            return Err(UsageError::AfterDone);
        }
        self.inputs.push((now, input.to_owned_input()));
        match &input {
            Input::Received { conn, bytes } => {
                self.received.entry(conn.0).or_default().extend(*bytes)
            }
            Input::DnsAnswer { query, .. } => *self.answers.entry(query.0).or_default() += 1,
            Input::Timeout if now >= self.give_up => {
                self.gave_up = true;
                self.finish(now);
                return Ok(());
            }
            Input::Timeout if self.deadline.is_none_or(|d| now < d) => return Ok(()),
            Input::Timeout => self.deadline = None,
            _ => {}
        }
        self.fire(now, Some(&input));
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        if !self.started {
            self.started = true;
            self.give_up = now.saturating_add(BOUND);
            self.fire(now, None);
        }
        if let Some(action) = self.out.pop_front() {
            return Output::Action(action);
        }
        match &self.done {
            Some(report) => Output::Done(report.clone()),
            None => Output::Timeout(self.deadline.unwrap_or(self.give_up).min(self.give_up)),
        }
    }
}

fn connect(c: u32, addr: SocketAddr) -> Do {
    Do::Act(Action::Connect {
        conn: ConnId(c),
        addr,
    })
}

fn send(c: u32, bytes: &[u8]) -> Do {
    Do::Act(Action::Send {
        conn: ConnId(c),
        bytes: bytes.to_vec(),
    })
}

fn close(c: u32) -> Do {
    Do::Act(Action::Close { conn: ConnId(c) })
}

fn dns(q: u32, server: SocketAddr, transport: Transport, wire: &[u8]) -> Do {
    Do::Act(Action::SendDns {
        query: QueryId(q),
        server,
        transport,
        wire: wire.to_vec(),
    })
}

fn end_dns(q: u32) -> Do {
    Do::Act(Action::EndDns { query: QueryId(q) })
}

fn connected(c: u32) -> OwnedInput {
    OwnedInput::Connected { conn: ConnId(c) }
}

fn received(c: u32, bytes: &[u8]) -> OwnedInput {
    OwnedInput::Received {
        conn: ConnId(c),
        bytes: bytes.to_vec(),
    }
}

fn closed(c: u32) -> OwnedInput {
    OwnedInput::Closed { conn: ConnId(c) }
}

/// One runtime under test: how to run a machine to its end, and its own /16 slice.
struct Runtime {
    net: u8,
    run: fn(Scripted) -> (Box<Report>, Scripted),
}

fn run_tokio(machine: Scripted) -> (Box<Report>, Scripted) {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    });
    runtime.block_on(daneel_tokio::run(machine, daneel_tokio::system_clock()))
}

fn run_smol(machine: Scripted) -> (Box<Report>, Scripted) {
    daneel_smol::run_blocking(machine, daneel_smol::system_clock()).expect("smol runs")
}

const TOKIO: Runtime = Runtime {
    net: 1,
    run: run_tokio,
};
const SMOL: Runtime = Runtime {
    net: 2,
    run: run_smol,
};

impl Runtime {
    /// The loopback address of one case's peers: 127.22.<runtime>.<case>.
    fn ip(&self, case: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 22, self.net, case))
    }

    /// Runs `machine` on another thread, so that a hung runtime fails the test.
    fn drive(&self, machine: Scripted) -> Scripted {
        let (tx, rx) = mpsc::channel();
        let run = self.run;
        thread::spawn(move || drop(tx.send(run(machine))));
        let (_, machine) = rx.recv_timeout(BOUND * 2).expect("the run returns");
        machine.assert_finished_by_script();
        machine
    }
}

fn listen(ip: IpAddr) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((ip, 0)).expect("bind a loopback listener");
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts one connection, or `None` after `within`.
fn accept_within(listener: &TcpListener, within: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let until = Instant::now() + within;
    while Instant::now() < until {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(BOUND)).unwrap();
                return Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

fn accept(listener: &TcpListener) -> TcpStream {
    accept_within(listener, BOUND).expect("the runtime connects")
}

/// Reads until the peer closes; a timeout (a socket left open) fails.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    match stream.read_to_end(&mut all) {
        Ok(_) => all,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => all,
        Err(e) => panic!("no end of stream after {} bytes: {e}", all.len()),
    }
}

fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    stream.read_exact(&mut bytes).expect("the expected bytes");
    bytes
}

/// Whether a datagram sent on `socket` (connected to a runtime's DNS socket) comes back as
/// ICMP port unreachable, i.e. that socket is closed: `once`, or by retrying for a third of
/// [`BOUND`] (a datagram that reaches the open socket gets no answer, so each try waits a
/// little), which leaves the machine time to hear the verdict before it gives up.
fn refused(socket: &UdpSocket, once: bool) -> bool {
    let wait = if once { 2000 } else { 200 };
    socket
        .set_read_timeout(Some(Duration::from_millis(wait)))
        .unwrap();
    let until = Instant::now() + BOUND / 3;
    let mut buf = [0u8; 64];
    loop {
        let sent = socket.send(b"late");
        let answer = sent.and_then(|_| socket.recv(&mut buf));
        if matches!(&answer, Err(e) if e.kind() == ErrorKind::ConnectionRefused) {
            return true;
        }
        if once || Instant::now() > until {
            return false;
        }
    }
}

fn peer<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    thread::spawn(f)
}

/// A UDP answer comes from the queried server with its source; datagrams from another port
/// or address never reach the machine; `EndDns` closes the socket (a later datagram to its
/// port is refused by the kernel).
fn udp_dns(rt: &Runtime) {
    let ip = rt.ip(1);
    let server = UdpSocket::bind((ip, 0)).unwrap();
    let server_addr = server.local_addr().unwrap();
    let (control, control_addr) = listen(ip);
    let stranger_ip = rt.ip(101);
    let peer = peer(move || {
        let mut c = accept(&control);
        server.set_read_timeout(Some(BOUND)).unwrap();
        let mut buf = [0u8; 512];
        let (n, client) = server.recv_from(&mut buf).expect("the query");
        let query = buf[..n].to_vec();
        server.connect(client).unwrap();
        let other_port = UdpSocket::bind((ip, 0)).unwrap();
        let other_ip = UdpSocket::bind((stranger_ip, server_addr.port())).unwrap();
        other_port.send_to(b"from another port", client).unwrap();
        other_ip.send_to(b"from another address", client).unwrap();
        server.send(b"answer-1").unwrap();
        other_port
            .send_to(b"from another port again", client)
            .unwrap();
        server.send(b"answer-2").unwrap();
        assert_eq!(read_exactly(&mut c, 6), b"ended\n");
        let verdict: &[u8] = if refused(&server, false) {
            b"refused\n"
        } else {
            b"still open\n"
        };
        c.write_all(verdict).unwrap();
        query
    });
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, control_addr)]),
        (
            On::Connected(1),
            vec![dns(1, server_addr, Transport::Udp, b"udp-query")],
        ),
        (On::Answers(1, 2), vec![end_dns(1), send(1, b"ended\n")]),
        (On::Closed(1), vec![Do::Finish]),
    ]));
    assert_eq!(peer.join().unwrap(), b"udp-query");
    let answer = |wire: &[u8]| OwnedInput::DnsAnswer {
        query: QueryId(1),
        from: Some(server_addr),
        wire: wire.to_vec(),
    };
    assert_eq!(machine.query(1), [answer(b"answer-1"), answer(b"answer-2")]);
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"refused\n"), closed(1)]
    );
}

/// DNS over TCP: the server receives exactly one length-prefixed query (RFC 1035 sec.
/// 4.2.2); an answer written in two pieces reaches the machine as one `DnsAnswer`.
fn dns_over_tcp(rt: &Runtime) {
    let (listener, server) = listen(rt.ip(2));
    let peer = peer(move || {
        let mut s = accept(&listener);
        let len = read_exactly(&mut s, 2);
        let query = read_exactly(&mut s, usize::from(u16::from_be_bytes([len[0], len[1]])));
        let answer = b"\x00\x0atcp-answer";
        s.write_all(&answer[..4]).unwrap();
        thread::sleep(Duration::from_millis(100));
        s.write_all(&answer[4..]).unwrap();
        (query, read_to_eof(&mut s))
    });
    let machine = rt.drive(Scripted::new(vec![
        (
            On::Start,
            vec![dns(1, server, Transport::Tcp, b"tcp-query")],
        ),
        (On::Answers(1, 1), vec![end_dns(1), Do::Finish]),
    ]));
    let (query, rest) = peer.join().unwrap();
    assert_eq!(query, b"tcp-query");
    assert_eq!(rest, b"", "one query, then the stream closes");
    let answer = OwnedInput::DnsAnswer {
        query: QueryId(1),
        from: Some(server),
        wire: b"tcp-answer".to_vec(),
    };
    assert_eq!(machine.query(1), [answer]);
}

/// A DNS server over TCP that closes before answering gives `DnsFailed`.
fn dns_over_tcp_closed_early(rt: &Runtime) {
    let (listener, server) = listen(rt.ip(3));
    let peer = peer(move || {
        let mut s = accept(&listener);
        read_exactly(&mut s, 2 + b"tcp-query".len())
    });
    let machine = rt.drive(Scripted::new(vec![
        (
            On::Start,
            vec![dns(1, server, Transport::Tcp, b"tcp-query")],
        ),
        (On::DnsFailed(1), vec![Do::Finish]),
    ]));
    assert_eq!(peer.join().unwrap(), b"\x00\x09tcp-query");
    let inputs = machine.query(1);
    assert!(
        matches!(
            &inputs[..],
            [OwnedInput::DnsFailed {
                query: QueryId(1),
                ..
            }]
        ),
        "{inputs:?}"
    );
}

/// Connects the machine closes in the same step (before the runtime could start them) never
/// report `Connected` or reads; whatever reaches the listener, which accepts late, ends with
/// no bytes. (Both runtimes abandon these connects before a SYN leaves: nothing arrives.)
fn close_before_connect(rt: &Runtime) {
    let (listener, addr) = listen(rt.ip(4));
    let (control, control_addr) = listen(rt.ip(4));
    let peer = peer(move || {
        let mut c = accept(&control);
        assert_eq!(read_exactly(&mut c, 7), b"closed\n");
        let mut ends = Vec::new();
        while let Some(mut late) = accept_within(&listener, Duration::from_secs(1)) {
            ends.push(read_to_eof(&mut late));
        }
        c.write_all(b"checked\n").unwrap();
        ends
    });
    let mut burst: Vec<Do> = (2..=11)
        .flat_map(|c| [connect(c, addr), close(c)])
        .collect();
    burst.push(send(1, b"closed\n"));
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, control_addr)]),
        (On::Connected(1), burst),
        (On::Closed(1), vec![Do::Finish]),
    ]));
    for bytes in peer.join().unwrap() {
        assert_eq!(bytes, b"", "a late connect carries nothing");
    }
    for c in 2..=11 {
        assert_eq!(machine.conn(c), [], "c{c}");
    }
}

/// A connect that completes after the machine closed it: the listener's accept queue is full
/// (backlog 0, one connection waiting), so the connect of c2 cannot complete until the peer
/// makes room, which it does only when told by the machine, which then holds its thread
/// until the peer accepted c2 and only then closes c2. The runtime's connect task (on
/// another thread in both runtimes) sees the connection up after or while the close is
/// executed: the machine never hears of c2, and the peer sees c2 end with no bytes.
fn connect_completing_after_close(rt: &Runtime) {
    use socket2::{Domain, Type};
    let ip = rt.ip(9);
    let full = socket2::Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    full.listen(0).unwrap();
    let listener = TcpListener::from(full);
    let addr = listener.local_addr().unwrap();
    let filler = TcpStream::connect(addr).expect("the one connection the queue holds");
    let (control, control_addr) = listen(ip);
    let (room, make_room) = mpsc::channel();
    let (accepted, late_accepted) = mpsc::channel();
    let peer = peer(move || {
        let mut c = accept(&control);
        make_room
            .recv_timeout(BOUND)
            .expect("the machine connects c2");
        drop(accept(&listener));
        let mut late = accept(&listener);
        let _ = accepted.send(());
        let bytes = read_to_eof(&mut late);
        c.write_all(b"checked\n").unwrap();
        bytes
    });
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, control_addr), connect(2, addr)]),
        (
            On::Connected(1),
            vec![
                Do::Signal(room),
                Do::Block(late_accepted),
                Do::Pause(Duration::from_millis(100)),
                close(2),
            ],
        ),
        (On::Closed(1), vec![Do::Finish]),
    ]));
    drop(filler);
    assert_eq!(peer.join().unwrap(), b"", "the late connection ends, empty");
    assert_eq!(machine.conn(2), [], "the machine never hears of c2");
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"checked\n"), closed(1)]
    );
}

/// A reset by the peer (SO_LINGER 0) mid-session reaches the machine as `Closed`.
fn reset_by_peer(rt: &Runtime) {
    let (listener, addr) = listen(rt.ip(5));
    let peer = peer(move || {
        let mut s = accept(&listener);
        s.write_all(b"hello\n").unwrap();
        let ping = read_exactly(&mut s, 5);
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        ping
    });
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, addr)]),
        (On::Received(1, b"hello\n"), vec![send(1, b"ping\n")]),
        (On::Closed(1), vec![Do::Finish]),
    ]));
    assert_eq!(peer.join().unwrap(), b"ping\n");
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"hello\n"), closed(1)]
    );
}

/// The peer shuts down its write side and keeps reading. The driver treats end of stream as
/// the end of the connection (`IoEvent::Eof`: the runtime frees the socket), so the machine
/// sees `Closed`, what it sent before arrives, and a `Send` after `Closed` never does.
fn half_closed_by_peer(rt: &Runtime) {
    let (listener, addr) = listen(rt.ip(6));
    let peer = peer(move || {
        let mut s = accept(&listener);
        s.write_all(b"bye\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_to_eof(&mut s)
    });
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, addr)]),
        (On::Connected(1), vec![send(1, b"before\n")]),
        (On::Closed(1), vec![send(1, b"after\n"), Do::Finish]),
    ]));
    assert_eq!(peer.join().unwrap(), b"before\n");
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"bye\n"), closed(1)]
    );
}

/// A peer that reads nothing until the machine's timer fired, then reads slowly: the timer
/// fires at its deadline while 1 MB waits to be written, and every byte arrives in order.
fn slow_reader(rt: &Runtime) {
    const SIZE: usize = 1 << 20;
    let big: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let (listener, addr) = listen(rt.ip(7));
    let (fired, timer_fired) = mpsc::channel();
    let peer = peer(move || {
        let mut s = accept(&listener);
        timer_fired
            .recv_timeout(BOUND)
            .expect("the machine's timer fires");
        let mut all = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while all.len() < SIZE + 4 {
            let n = s.read(&mut chunk).expect("the stream goes on");
            assert!(n > 0, "end of stream after {} bytes", all.len());
            all.extend_from_slice(&chunk[..n]);
            thread::sleep(Duration::from_millis(1));
        }
        s.write_all(b"ok\n").unwrap();
        all
    });
    let machine = rt.drive(Scripted::new(vec![
        (On::Start, vec![connect(1, addr)]),
        (
            On::Connected(1),
            vec![send(1, &big), Do::Wait(Duration::from_millis(100))],
        ),
        (On::Timeout, vec![Do::Signal(fired), send(1, b"END\n")]),
        (On::Received(1, b"ok\n"), vec![Do::Finish]),
    ]));
    let all = peer.join().unwrap();
    assert!(all[..SIZE] == big[..], "the megabyte arrives in order");
    assert_eq!(&all[SIZE..], b"END\n");
    let timeouts: Vec<Timestamp> = machine
        .inputs
        .iter()
        .filter(|(_, i)| *i == OwnedInput::Timeout)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(timeouts.len(), 1, "{timeouts:?}");
    assert!(
        timeouts[0] >= machine.deadlines[0],
        "not before its deadline"
    );
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"ok\n")],
        "nothing else on the connection"
    );
}

/// `Finished` flushes what is queued (a QUIT) and cancels what cannot finish (8 MB to a
/// peer that never reads); when `run` returns, no socket of the run is open: an idle
/// connection and the peer of the stalled write see their end, and a datagram to the open
/// DNS exchange's port is refused.
fn finish_flushes_then_closes(rt: &Runtime) {
    const STALLED: usize = 8 << 20;
    let ip = rt.ip(8);
    let (smtp, smtp_addr) = listen(ip);
    let (sink, sink_addr) = listen(ip);
    let (idle, idle_addr) = listen(ip);
    let resolver = UdpSocket::bind((ip, 0)).unwrap();
    let resolver_addr = resolver.local_addr().unwrap();
    let (ready, all_ready) = mpsc::channel::<()>();
    let (returned, run_returned) = mpsc::channel::<()>();
    let smtp_peer = peer(move || {
        let mut s = accept(&smtp);
        for _ in 0..3 {
            all_ready.recv_timeout(BOUND).expect("the other peers");
        }
        s.write_all(b"220 ready\r\n").unwrap();
        read_to_eof(&mut s)
    });
    let ready2 = ready.clone();
    let ready3 = ready.clone();
    let sink_peer = peer(move || {
        let mut s = accept(&sink);
        let mut first = [0u8; 1];
        s.read_exact(&mut first).expect("the write starts");
        let _ = ready2.send(());
        run_returned.recv_timeout(BOUND * 2).expect("run returns");
        1 + read_to_eof(&mut s).len()
    });
    let idle_peer = peer(move || {
        let mut s = accept(&idle);
        let _ = ready3.send(());
        read_to_eof(&mut s)
    });
    resolver.set_read_timeout(Some(BOUND)).unwrap();
    let machine = {
        let script = Scripted::new(vec![
            (
                On::Start,
                vec![
                    connect(1, smtp_addr),
                    connect(2, sink_addr),
                    connect(3, idle_addr),
                    dns(1, resolver_addr, Transport::Udp, b"never answered"),
                ],
            ),
            (On::Connected(2), vec![send(2, &vec![7u8; STALLED])]),
            (
                On::Received(1, b"220 ready\r\n"),
                vec![send(1, b"QUIT\r\n"), Do::Finish],
            ),
        ]);
        let resolver_peer = peer({
            let resolver = resolver.try_clone().unwrap();
            move || {
                let (_, client) = resolver.recv_from(&mut [0u8; 64]).expect("the query");
                let _ = ready.send(());
                client
            }
        });
        let machine = rt.drive(script);
        let client = resolver_peer.join().unwrap();
        resolver.connect(client).unwrap();
        machine
    };
    let _ = returned.send(());
    assert!(
        refused(&resolver, true),
        "the DNS socket is closed when run returns"
    );
    assert_eq!(smtp_peer.join().unwrap(), b"QUIT\r\n");
    let stalled = sink_peer.join().unwrap();
    assert!(stalled < STALLED, "the stalled write was cancelled");
    assert_eq!(idle_peer.join().unwrap(), b"", "the idle connection ends");
    assert_eq!(
        machine.conn(1),
        [connected(1), received(1, b"220 ready\r\n")]
    );
}

/// Instantiates every case for both runtimes: `cargo test --test runtime_conformance smol`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod tokio_runtime {
            $(#[test] fn $case() { super::$case(&super::TOKIO) })*
        }
        mod smol_runtime {
            $(#[test] fn $case() { super::$case(&super::SMOL) })*
        }
    };
}

conformance!(
    udp_dns,
    dns_over_tcp,
    dns_over_tcp_closed_early,
    close_before_connect,
    connect_completing_after_close,
    reset_by_peer,
    half_closed_by_peer,
    slow_reader,
    finish_flushes_then_closes,
);

/// The driver guards both runtimes rely on: a connect that completes (or fails) after the
/// machine closed it, and a datagram of an exchange the machine ended, never reach the
/// machine, and the late connect is shut down again so that its socket is freed.
#[test]
fn driver_drops_events_of_closed_sockets_and_ended_exchanges() {
    let addr = SocketAddr::from(([127, 22, 0, 1], 25));
    let server = SocketAddr::from(([127, 22, 0, 1], 53));
    let mut driver = Driver::new(Scripted::new(vec![(
        On::Start,
        vec![
            connect(1, addr),
            close(1),
            connect(2, addr),
            close(2),
            dns(1, server, Transport::Udp, b"query"),
            end_dns(1),
            dns(2, server, Transport::Tcp, b"query"),
            end_dns(2),
        ],
    )]));
    let now = Timestamp::from_unix_secs(1_000_000);
    driver.start(now);
    while driver.poll_command(now).is_some() {}
    let late = [
        IoEvent::Connected {
            socket: Socket::Conn(ConnId(1)),
        },
        IoEvent::ConnectFailed {
            socket: Socket::Conn(ConnId(2)),
            error: NetError::Refused,
        },
        IoEvent::DnsReply {
            query: QueryId(1),
            from: server,
            wire: b"late",
        },
        IoEvent::DnsError {
            query: QueryId(1),
            error: NetError::Refused,
        },
        IoEvent::Connected {
            socket: Socket::DnsTcp(QueryId(2)),
        },
    ];
    for event in late {
        driver.handle(now, event).unwrap();
    }
    assert_eq!(driver.machine().inputs, []);
    let mut commands = Vec::new();
    while let Some(command) = driver.poll_command(now) {
        commands.push(command);
    }
    let shutdown = |socket| IoCommand::Shutdown { socket };
    assert_eq!(
        commands,
        [
            shutdown(Socket::Conn(ConnId(1))),
            shutdown(Socket::DnsTcp(QueryId(2)))
        ]
    );
}

/// `core::time::Clock`, the runtimes' shared clock arithmetic, maps monotonic readings to
/// timestamps and back (here, not in core: core never reads a clock, even in its tests).
#[test]
fn core_clock_maps_monotonic_readings_to_timestamps_and_back() {
    use std::time::{Duration, Instant, UNIX_EPOCH};
    let origin = Instant::now();
    let clock = daneel_core::time::Clock::new(UNIX_EPOCH + Duration::from_secs(1_000), origin);
    assert_eq!(clock.at(origin), Timestamp::from_unix_secs(1_000));
    let later = origin + Duration::from_millis(1_500);
    assert_eq!(clock.at(later), Timestamp::from_millis(1_001_500));
    assert_eq!(clock.instant(clock.at(later)), later);
    // A deadline already past maps to the origin at the latest, never panics.
    assert_eq!(clock.instant(Timestamp::EPOCH), origin);
}
