//! # daneel-tokio
//!
//! Drives any [`daneel_core::Machine`] over real sockets with tokio. All protocol logic lives in
//! `daneel-core`; this crate only executes the [`IoCommand`]s of a [`Driver`] (UDP and TCP DNS
//! exchanges, TCP connections, writes, timers) and reports what happened as [`IoEvent`]s. It
//! has no timeouts of its own: the core owns every deadline (DESIGN.md section 4).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daneel_core::driver::{udp_bind_addr, Driver, IoCommand, IoEvent, MAX_DNS_MESSAGE, READ_CHUNK};
use daneel_core::{ConnId, Machine, NetError, QueryId, Report, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{tcp::OwnedWriteHalf, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// The runtime's clock: wall time at creation plus monotonic time since, so it never runs
/// backwards.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: Timestamp,
    mono: Instant,
}

impl Clock {
    /// Reads the system clock once.
    pub fn system() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            wall: Timestamp::from_millis(ms),
            mono: Instant::now(),
        }
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.wall.saturating_add(self.mono.elapsed())
    }

    fn instant(&self, at: Timestamp) -> Instant {
        self.mono + at.saturating_since(self.wall)
    }
}

/// What the spawned tasks report to the loop.
enum Event {
    Dns(QueryId, io::Result<(SocketAddr, Vec<u8>)>),
    Connected(ConnId, io::Result<OwnedWriteHalf>),
    Read(ConnId, Vec<u8>),
    Eof(ConnId),
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
    let mut buf = vec![0u8; MAX_DNS_MESSAGE];
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

async fn tcp_exchange(query: QueryId, server: SocketAddr, framed: Vec<u8>, tx: Events) {
    let reply = async {
        let mut stream = TcpStream::connect(server).await?;
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await?;
        let mut msg = vec![0u8; usize::from(len)];
        stream.read_exact(&mut msg).await?;
        Ok((stream.peer_addr()?, msg))
    };
    let _ = tx.send(Event::Dns(query, reply.await));
}

async fn connect(conn: ConnId, addr: SocketAddr, tx: Events) {
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return drop(tx.send(Event::Connected(conn, Err(e)))),
    };
    let (mut read, write) = stream.into_split();
    if tx.send(Event::Connected(conn, Ok(write))).is_err() {
        return;
    }
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return drop(tx.send(Event::Eof(conn))),
            Ok(n) => {
                if tx.send(Event::Read(conn, buf[..n].to_vec())).is_err() {
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
/// (for instance a recorder holding the transcript).
pub async fn run<M: Machine>(machine: M, clock: Clock) -> (Box<Report>, M) {
    let mut driver = Driver::new(machine);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut writer_tasks = JoinSet::new();
    let mut writers: BTreeMap<ConnId, Writer> = BTreeMap::new();
    // The task of each open DNS exchange and of each connection's reader: aborting one
    // closes its socket (a connection's writer closes the rest once it has flushed).
    let mut dns: BTreeMap<QueryId, AbortHandle> = BTreeMap::new();
    let mut readers: BTreeMap<ConnId, AbortHandle> = BTreeMap::new();
    let mut wake = clock.now();
    driver.start(clock.now());
    loop {
        while let Some(command) = driver.poll_command(clock.now()) {
            match command {
                IoCommand::DnsUdp {
                    query,
                    server,
                    wire,
                } => drop(dns.insert(
                    query,
                    tasks.spawn(udp_exchange(query, server, wire, tx.clone())),
                )),
                IoCommand::DnsTcp {
                    query,
                    server,
                    framed,
                } => drop(dns.insert(
                    query,
                    tasks.spawn(tcp_exchange(query, server, framed, tx.clone())),
                )),
                IoCommand::DnsEnd { query } => {
                    dns.remove(&query).iter().for_each(AbortHandle::abort)
                }
                IoCommand::Connect { conn, addr } => {
                    readers.insert(conn, tasks.spawn(connect(conn, addr, tx.clone())));
                }
                IoCommand::Write { conn, bytes } => {
                    if let Some(w) = writers.get(&conn) {
                        let _ = w.send(Some(bytes));
                    }
                }
                IoCommand::Shutdown { conn } => {
                    readers.remove(&conn).iter().for_each(AbortHandle::abort);
                    writers.remove(&conn).map(|w| w.send(None));
                }
                IoCommand::Sleep { until } => wake = until,
                IoCommand::Finished(report) => {
                    // Let queued writes (QUIT, close_notify) finish briefly, then cancel the rest.
                    drop(writers);
                    let flush = async { while writer_tasks.join_next().await.is_some() {} };
                    let _ = tokio::time::timeout(Duration::from_millis(500), flush).await;
                    tasks.abort_all();
                    writer_tasks.abort_all();
                    return (report, driver.into_machine());
                }
            }
        }
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = tokio::time::sleep_until(clock.instant(wake)) => None,
        };
        let now = clock.now();
        let fed = match event {
            None => driver.handle(now, IoEvent::Timer),
            Some(Event::Dns(query, Ok((from, wire)))) => driver.handle(
                now,
                IoEvent::DnsReply {
                    query,
                    from,
                    wire: &wire,
                },
            ),
            Some(Event::Dns(query, Err(e))) => {
                let error = NetError::from_io(&e);
                driver.handle(now, IoEvent::DnsError { query, error })
            }
            Some(Event::Connected(conn, Err(e))) => {
                let error = NetError::from_io(&e);
                driver.handle(now, IoEvent::ConnectFailed { conn, error })
            }
            Some(Event::Connected(conn, Ok(write))) => {
                if !readers.contains_key(&conn) {
                    continue; // shut down while connecting: dropping `write` closes it
                }
                let (wtx, wrx) = mpsc::unbounded_channel();
                writer_tasks.spawn(write_loop(write, wrx));
                writers.insert(conn, wtx);
                driver.handle(now, IoEvent::Connected { conn })
            }
            Some(Event::Read(conn, bytes)) => driver.handle(
                now,
                IoEvent::Read {
                    conn,
                    bytes: &bytes,
                },
            ),
            Some(Event::Eof(conn)) => driver.handle(now, IoEvent::Eof { conn }),
        };
        // A UsageError here is a bug in the core; the machine keeps its state, so go on.
        debug_assert!(fed.is_ok(), "{fed:?}");
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
