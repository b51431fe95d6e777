//! # daneel-smol
//!
//! Drives any [`daneel_core::Machine`] over real sockets with smol. All protocol logic lives in
//! `daneel-core`: this crate executes the [`IoCommand`]s of a [`Driver`] (DNS datagrams, TCP
//! streams, writes, timers) and reports [`IoEvent`]s, with no timeouts of its own (the core
//! owns every deadline). Its API is daneel-tokio's: [`run`], [`run_with`] (taking
//! [`TlsSettings`]), [`run_blocking`], [`Clock`].

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use daneel_core::driver::{
    udp_bind_addr, Driver, IoCommand, IoEvent, Socket, MAX_UDP_ANSWER, READ_CHUNK,
};
pub use daneel_core::time::Clock;
pub use daneel_core::tls::TlsSettings;
use daneel_core::{Machine, NetError, QueryId, Report};
use smol::channel::{unbounded, Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpStream, UdpSocket};
use smol::{Task, Timer};

/// The wall time of now, on the monotonic clock smol's timers use.
pub fn system_clock() -> Clock {
    Clock::new(SystemTime::now(), Instant::now())
}

/// What the spawned tasks report to the loop.
enum Happened {
    Dns(QueryId, Result<(SocketAddr, Vec<u8>), NetError>),
    Connected(Socket, Result<TcpStream, NetError>),
    Read(Socket, Vec<u8>),
    Eof(Socket),
    Wake,
}

async fn dns_over_udp(query: QueryId, server: SocketAddr, wire: Vec<u8>, out: Sender<Happened>) {
    // connect(): the kernel drops datagrams from any other source (RFC 5452 sec. 9.1).
    let sent = async {
        let socket = UdpSocket::bind(udp_bind_addr(server)).await?;
        socket.connect(server).await?;
        socket.send(&wire).await.map(|_| socket)
    };
    let socket = match sent.await {
        Ok(socket) => socket,
        Err(e) => {
            let failed = Happened::Dns(query, Err(NetError::from_io(&e)));
            return drop(out.send(failed).await);
        }
    };
    let mut datagram = vec![0u8; MAX_UDP_ANSWER];
    // The core checks each datagram's source and content (RFC 5452), so keep listening.
    while let Ok((len, from)) = socket.recv_from(&mut datagram).await {
        let reply = Happened::Dns(query, Ok((from, datagram[..len].to_vec())));
        if out.send(reply).await.is_err() {
            break;
        }
    }
}

async fn open(socket: Socket, addr: SocketAddr, out: Sender<Happened>) {
    let stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(e) => {
            let failed = Happened::Connected(socket, Err(NetError::from_io(&e)));
            return drop(out.send(failed).await);
        }
    };
    let mut reader = stream.clone();
    if out
        .send(Happened::Connected(socket, Ok(stream)))
        .await
        .is_err()
    {
        return;
    }
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let event = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => Happened::Eof(socket),
            Ok(n) => Happened::Read(socket, chunk[..n].to_vec()),
        };
        let eof = matches!(event, Happened::Eof(_));
        if out.send(event).await.is_err() || eof {
            return;
        }
    }
}

async fn pipe_writes(mut stream: TcpStream, queue: Receiver<Vec<u8>>) {
    while let Ok(bytes) = queue.recv().await {
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = stream.close().await;
}

/// Runs `machine` to completion on the current thread with smol and returns its report and
/// the machine (the same signature as daneel-tokio's; smol itself cannot fail to start).
pub fn run_blocking<M: Machine>(machine: M, clock: Clock) -> io::Result<(Box<Report>, M)> {
    Ok(smol::block_on(run(machine, clock)))
}

/// Runs `machine` to completion over real sockets and returns its report and the machine
/// (for instance a recorder holding the transcript), with daneel's default TLS settings.
pub async fn run<M: Machine>(machine: M, clock: Clock) -> (Box<Report>, M) {
    run_with(machine, clock, TlsSettings::default()).await
}

/// [`run`] with the TLS settings `tls` (crypto provider, protocol versions, time source).
pub async fn run_with<M: Machine>(machine: M, clock: Clock, tls: TlsSettings) -> (Box<Report>, M) {
    let now = || clock.at(Instant::now());
    let mut driver = Driver::with_tls(machine, tls);
    let (out, events) = unbounded::<Happened>();
    // The task of each UDP exchange and of each socket's reader: dropping one cancels it
    // and closes its socket (a TCP socket's writer closes once it has flushed).
    let mut dns: BTreeMap<QueryId, Task<()>> = BTreeMap::new();
    let mut readers: BTreeMap<Socket, Task<()>> = BTreeMap::new();
    let mut write_queues: BTreeMap<Socket, Sender<Vec<u8>>> = BTreeMap::new();
    let mut flushers: Vec<Task<()>> = Vec::new();
    let mut deadline = now();
    driver.start(now());
    loop {
        while let Some(command) = driver.poll_command(now()) {
            match command {
                IoCommand::DnsUdp {
                    query,
                    server,
                    wire,
                } => {
                    let task = smol::spawn(dns_over_udp(query, server, wire, out.clone()));
                    dns.insert(query, task);
                }
                IoCommand::DnsEnd { query } => drop(dns.remove(&query)),
                IoCommand::Connect { socket, addr } => {
                    readers.insert(socket, smol::spawn(open(socket, addr, out.clone())));
                }
                IoCommand::Write { socket, bytes } => {
                    if let Some(queue) = write_queues.get(&socket) {
                        let _ = queue.try_send(bytes);
                    }
                }
                IoCommand::Shutdown { socket } => {
                    // Dropping the sender ends the writer after what is queued; a connect
                    // still in progress is cancelled with its reader.
                    readers.remove(&socket);
                    write_queues.remove(&socket);
                }
                IoCommand::Sleep { until } => deadline = until,
                IoCommand::Finished {
                    report,
                    flush_until,
                } => {
                    drop(write_queues);
                    let flush = async {
                        for task in &mut flushers {
                            task.await;
                        }
                    };
                    let stop = Timer::at(clock.instant(flush_until));
                    flush
                        .or(async {
                            stop.await;
                        })
                        .await;
                    // Cancel the rest and wait until it is dropped: no socket outlives `run`.
                    let tasks = dns.into_values().chain(readers.into_values());
                    for task in tasks.chain(flushers) {
                        task.cancel().await;
                    }
                    return (report, driver.into_machine());
                }
            }
        }
        let wake = Timer::at(clock.instant(deadline));
        let event = async { events.recv().await.unwrap_or(Happened::Wake) }
            .or(async {
                wake.await;
                Happened::Wake
            })
            .await;
        let at = now();
        let fed = match event {
            Happened::Wake => driver.handle(at, IoEvent::Timer),
            Happened::Dns(query, Ok((from, wire))) => {
                let wire = &wire;
                driver.handle(at, IoEvent::DnsReply { query, from, wire })
            }
            Happened::Dns(query, Err(error)) => {
                driver.handle(at, IoEvent::DnsError { query, error })
            }
            Happened::Connected(socket, Err(error)) => {
                readers.remove(&socket);
                driver.handle(at, IoEvent::ConnectFailed { socket, error })
            }
            Happened::Connected(socket, Ok(stream)) => {
                // If the socket was shut down while connecting, the driver shuts it again.
                let (queue, pending) = unbounded();
                // Free finished writers as they end: a scan of millions runs in one loop.
                flushers.retain(|task| !task.is_finished());
                flushers.push(smol::spawn(pipe_writes(stream, pending)));
                write_queues.insert(socket, queue);
                driver.handle(at, IoEvent::Connected { socket })
            }
            Happened::Read(socket, bytes) => {
                let bytes = &bytes;
                driver.handle(at, IoEvent::Read { socket, bytes })
            }
            Happened::Eof(socket) => driver.handle(at, IoEvent::Eof { socket }),
        };
        debug_assert!(fed.is_ok(), "{fed:?}");
    }
}

/// The README's example, compiled (and run, where it needs no network) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
