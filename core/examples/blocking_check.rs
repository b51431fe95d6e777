//! The RFC 7672 check of one domain driven from a plain blocking loop: `std::net` sockets,
//! one thread per socket reader, no async runtime. The core decides everything (lookups,
//! policy, SMTP, TLS, every deadline); this loop only moves bytes and time, as the tokio and
//! smol runtimes do through the same [`Driver`].
//!
//! `cargo run -p daneel-core --example blocking_check -- DOMAIN RESOLVER[:PORT]`
//!
//! Prints the verdict and the JSON report; exits with the verdict's exit status.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::driver::{
    seed_from_bytes, udp_bind_addr, Driver, IoCommand, IoEvent, Socket, MAX_UDP_ANSWER, READ_CHUNK,
};
use daneel_core::time::Clock;
use daneel_core::{NetError, QueryId};

/// What the socket threads tell the loop.
enum Event {
    Dns(QueryId, std::io::Result<(SocketAddr, Vec<u8>)>),
    Connected(Socket, std::io::Result<TcpStream>),
    Read(Socket, Vec<u8>),
    Eof(Socket),
}

/// One DNS exchange over UDP: a socket `connect()`ed to the resolver (the kernel drops other
/// sources, RFC 5452 sec. 9.1); every datagram goes to the core, which checks source and id.
fn udp_exchange(
    query: QueryId,
    server: SocketAddr,
    wire: Vec<u8>,
    stop: Arc<AtomicBool>,
    tx: Sender<Event>,
) {
    let socket = UdpSocket::bind(udp_bind_addr(server))
        .and_then(|s| s.connect(server).map(|_| s))
        .and_then(|s| s.send(&wire).map(|_| s))
        .and_then(|s| {
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .map(|_| s)
        });
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return drop(tx.send(Event::Dns(query, Err(e)))),
    };
    let mut buf = vec![0u8; MAX_UDP_ANSWER];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if tx
                    .send(Event::Dns(query, Ok((from, buf[..n].to_vec()))))
                    .is_err()
                {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return drop(tx.send(Event::Dns(query, Err(e)))),
        }
    }
}

/// One TCP connection: connect, hand a clone to the loop for writing, read until EOF.
fn connect(socket: Socket, addr: SocketAddr, tx: Sender<Event>) {
    let stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return drop(tx.send(Event::Connected(socket, Err(e)))),
    };
    let writer = stream.try_clone();
    let failed = writer.is_err();
    if tx.send(Event::Connected(socket, writer)).is_err() || failed {
        return;
    }
    let mut stream = stream;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return drop(tx.send(Event::Eof(socket))),
            Ok(n) => {
                if tx.send(Event::Read(socket, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Eight bytes from the operating system for the check's seed (DNS ids, ports, SRV order).
fn os_seed() -> daneel_core::Seed {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness from the operating system");
    seed_from_bytes(bytes)
}

// This program is an I/O edge like the runtimes, not the core: it owns the clock (and the
// sockets), and gives the core `now` with every event.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Clock {
    Clock::new(SystemTime::now(), Instant::now())
}

#[allow(clippy::disallowed_methods)]
fn monotonic_now() -> Instant {
    Instant::now()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [domain, resolver] = &args[..] else {
        eprintln!("usage: blocking_check DOMAIN RESOLVER[:PORT]");
        std::process::exit(64);
    };
    let resolver: SocketAddr = resolver
        .parse()
        .or_else(|_| format!("{resolver}:53").parse())
        .unwrap_or_else(|_| {
            eprintln!("not an address: {resolver}");
            std::process::exit(64)
        });
    let clock = wall_clock();
    let now = || clock.at(monotonic_now());
    let check = SmtpCheck::new(
        CheckConfig::new(domain.clone(), vec![resolver]),
        os_seed(),
        now(),
    )
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(64)
    });
    let mut driver = Driver::new(check);
    let (tx, rx) = channel();
    let mut dns: BTreeMap<QueryId, Arc<AtomicBool>> = BTreeMap::new();
    let mut streams: BTreeMap<Socket, TcpStream> = BTreeMap::new();
    let mut wake = now();
    driver.start(now());
    loop {
        while let Some(command) = driver.poll_command(now()) {
            match command {
                IoCommand::DnsUdp {
                    query,
                    server,
                    wire,
                } => {
                    let stop = Arc::new(AtomicBool::new(false));
                    dns.insert(query, stop.clone());
                    let tx = tx.clone();
                    std::thread::spawn(move || udp_exchange(query, server, wire, stop, tx));
                }
                IoCommand::DnsEnd { query } => {
                    if let Some(stop) = dns.remove(&query) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                IoCommand::Connect { socket, addr } => {
                    let tx = tx.clone();
                    std::thread::spawn(move || connect(socket, addr, tx));
                }
                IoCommand::Write { socket, bytes } => {
                    if let Some(stream) = streams.get_mut(&socket) {
                        let _ = stream.write_all(&bytes);
                    }
                }
                IoCommand::Shutdown { socket } => {
                    if let Some(stream) = streams.remove(&socket) {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
                IoCommand::Sleep { until } => wake = until,
                IoCommand::Finished { report, .. } => {
                    dns.values()
                        .for_each(|stop| stop.store(true, Ordering::Relaxed));
                    streams
                        .values()
                        .for_each(|s| drop(s.shutdown(Shutdown::Both)));
                    // A closed standard output (`| head -1`) is not an error of the check.
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}: {}", report.domain, report.verdict.as_str());
                    let json = serde_json::to_string_pretty(&report).expect("JSON");
                    let _ = writeln!(out, "{json}");
                    std::process::exit(report.verdict.exit_code());
                }
            }
        }
        let wait = clock
            .instant(wake)
            .saturating_duration_since(monotonic_now());
        let event = match rx.recv_timeout(wait) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        };
        let at = now();
        let fed = match event {
            None => driver.handle(at, IoEvent::Timer),
            Some(Event::Dns(query, Ok((from, wire)))) => driver.handle(
                at,
                IoEvent::DnsReply {
                    query,
                    from,
                    wire: &wire,
                },
            ),
            Some(Event::Dns(query, Err(e))) => {
                let error = NetError::from_io(&e);
                driver.handle(at, IoEvent::DnsError { query, error })
            }
            Some(Event::Connected(socket, Err(e))) => {
                let error = NetError::from_io(&e);
                driver.handle(at, IoEvent::ConnectFailed { socket, error })
            }
            Some(Event::Connected(socket, Ok(stream))) => {
                streams.insert(socket, stream);
                driver.handle(at, IoEvent::Connected { socket })
            }
            Some(Event::Read(socket, bytes)) => driver.handle(
                at,
                IoEvent::Read {
                    socket,
                    bytes: &bytes,
                },
            ),
            Some(Event::Eof(socket)) => driver.handle(at, IoEvent::Eof { socket }),
        };
        if let Err(e) = fed {
            eprintln!("the core refused an event (a bug): {e}");
        }
    }
}
