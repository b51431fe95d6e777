//! # daneel-tokio
//!
//! Drives any [`daneel_core::Machine`] over real sockets with tokio. All protocol logic lives in
//! `daneel-core`; this crate only executes the [`IoCommand`]s of a [`Driver`] (DNS
//! datagrams, TCP streams, writes, timers) and reports what happened as [`IoEvent`]s. It
//! has no timeouts of its own: the core owns every deadline (DESIGN.md section 4).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use daneel_core::driver::{
    udp_bind_addr, Driver, IoCommand, IoEvent, Socket, MAX_UDP_ANSWER, READ_CHUNK,
};
pub use daneel_core::time::Clock;
pub use daneel_core::tls::TlsSettings;
use daneel_core::{Machine, NetError, QueryId, Report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{tcp::OwnedWriteHalf, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

fn clock_now(clock: &Clock) -> daneel_core::Timestamp {
    clock.at(Instant::now().into_std())
}

fn due(clock: &Clock, at: daneel_core::Timestamp) -> Instant {
    Instant::from_std(clock.instant(at))
}

/// The wall time of now, on tokio's monotonic clock.
pub fn system_clock() -> Clock {
    Clock::new(SystemTime::now(), Instant::now().into_std())
}

/// What the spawned tasks report to the loop.
enum Event {
    Dns(QueryId, io::Result<(SocketAddr, Vec<u8>)>),
    Connected(Socket, io::Result<OwnedWriteHalf>),
    Read(Socket, Vec<u8>),
    Eof(Socket),
}

type Writer = mpsc::UnboundedSender<Option<Vec<u8>>>;
type Events = mpsc::UnboundedSender<Event>;

async fn udp_exchange(query: QueryId, server: SocketAddr, wire: Vec<u8>, tx: Events) {
    // connect(): the kernel drops datagrams from any other source (RFC 5452 sec. 9.1).
    let sent = async {
        let socket = UdpSocket::bind(udp_bind_addr(server)).await?;
        socket.connect(server).await?;
        socket.send(&wire).await.map(|_| socket)
    };
    let socket = match sent.await {
        Ok(s) => s,
        Err(e) => return drop(tx.send(Event::Dns(query, Err(e)))),
    };
    let mut buf = vec![0u8; MAX_UDP_ANSWER];
    // Every datagram goes to the core with its source; the core checks both (RFC 5452).
    loop {
        let reply = socket
            .recv_from(&mut buf)
            .await
            .map(|(n, from)| (from, buf[..n].to_vec()));
        let failed = reply.is_err();
        if tx.send(Event::Dns(query, reply)).is_err() || failed {
            return;
        }
    }
}

async fn connect(socket: Socket, addr: SocketAddr, tx: Events) {
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return drop(tx.send(Event::Connected(socket, Err(e)))),
    };
    let (mut read, write) = stream.into_split();
    if tx.send(Event::Connected(socket, Ok(write))).is_err() {
        return;
    }
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return drop(tx.send(Event::Eof(socket))),
            Ok(n) => {
                if tx.send(Event::Read(socket, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_loop(mut write: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Option<Vec<u8>>>) {
    while let Some(Some(bytes)) = rx.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// Runs `machine` to completion over real sockets and returns its report and the machine
/// (for instance a recorder holding the transcript), with daneel's default TLS settings.
pub async fn run<M: Machine>(machine: M, clock: Clock) -> (Box<Report>, M) {
    run_with(machine, clock, TlsSettings::default()).await
}

/// [`run`] with the TLS settings `tls` (crypto provider, protocol versions, time source).
pub async fn run_with<M: Machine>(machine: M, clock: Clock, tls: TlsSettings) -> (Box<Report>, M) {
    let mut driver = Driver::with_tls(machine, tls);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut writer_tasks = JoinSet::new();
    let mut writers: BTreeMap<Socket, Writer> = BTreeMap::new();
    // The task of each UDP exchange and of each socket's reader: aborting one closes its
    // socket (a TCP socket's writer closes the rest once it has flushed).
    let mut dns: BTreeMap<QueryId, AbortHandle> = BTreeMap::new();
    let mut readers: BTreeMap<Socket, AbortHandle> = BTreeMap::new();
    let mut wake = clock_now(&clock);
    driver.start(clock_now(&clock));
    loop {
        while let Some(command) = driver.poll_command(clock_now(&clock)) {
            match command {
                IoCommand::DnsUdp {
                    query,
                    server,
                    wire,
                } => drop(dns.insert(
                    query,
                    tasks.spawn(udp_exchange(query, server, wire, tx.clone())),
                )),
                IoCommand::DnsEnd { query } => {
                    dns.remove(&query).iter().for_each(AbortHandle::abort)
                }
                IoCommand::Connect { socket, addr } => {
                    readers.insert(socket, tasks.spawn(connect(socket, addr, tx.clone())));
                }
                IoCommand::Write { socket, bytes } => {
                    if let Some(w) = writers.get(&socket) {
                        let _ = w.send(Some(bytes));
                    }
                }
                IoCommand::Shutdown { socket } => {
                    readers.remove(&socket).iter().for_each(AbortHandle::abort);
                    writers.remove(&socket).map(|w| w.send(None));
                }
                IoCommand::Sleep { until } => wake = until,
                IoCommand::Finished {
                    report,
                    flush_until,
                } => {
                    // Let queued writes (QUIT, close_notify) finish, then cancel the rest.
                    drop(writers);
                    let flush = async { while writer_tasks.join_next().await.is_some() {} };
                    let _ = tokio::time::timeout_at(due(&clock, flush_until), flush).await;
                    tasks.abort_all();
                    writer_tasks.abort_all();
                    // Wait for the cancelled tasks to drop their sockets: none outlives `run`.
                    while tasks.join_next().await.is_some() {}
                    while writer_tasks.join_next().await.is_some() {}
                    return (report, driver.into_machine());
                }
            }
        }
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = tokio::time::sleep_until(due(&clock, wake)) => None,
        };
        let now = clock_now(&clock);
        let fed = match event {
            None => driver.handle(now, IoEvent::Timer),
            Some(Event::Dns(query, Ok((from, wire)))) => {
                let wire = &wire;
                driver.handle(now, IoEvent::DnsReply { query, from, wire })
            }
            Some(Event::Dns(query, Err(e))) => {
                let error = NetError::from_io(&e);
                driver.handle(now, IoEvent::DnsError { query, error })
            }
            Some(Event::Connected(socket, Err(e))) => {
                readers.remove(&socket);
                let error = NetError::from_io(&e);
                driver.handle(now, IoEvent::ConnectFailed { socket, error })
            }
            Some(Event::Connected(socket, Ok(write))) => {
                // If the socket was shut down while connecting, the driver shuts it again.
                let (wtx, wrx) = mpsc::unbounded_channel();
                writer_tasks.spawn(write_loop(write, wrx));
                writers.insert(socket, wtx);
                driver.handle(now, IoEvent::Connected { socket })
            }
            Some(Event::Read(socket, bytes)) => {
                let bytes = &bytes;
                driver.handle(now, IoEvent::Read { socket, bytes })
            }
            Some(Event::Eof(socket)) => driver.handle(now, IoEvent::Eof { socket }),
        };
        // A UsageError here is a bug in the core; the machine keeps its state, so go on.
        debug_assert!(fed.is_ok(), "{fed:?}");
        // Free finished tasks as they end: a scan of millions runs in one loop.
        while tasks
            .try_join_next()
            .or_else(|| writer_tasks.try_join_next())
            .is_some()
        {}
    }
}

/// Runs `machine` to completion on a new current-thread tokio runtime (for callers outside
/// any runtime, like the `daneel` command).
pub fn run_blocking<M: Machine>(machine: M, clock: Clock) -> io::Result<(Box<Report>, M)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(run(machine, clock)))
}

/// The README's example, compiled (and run, where it needs no network) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
