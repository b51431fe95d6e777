//! # daneel-smol
//!
//! Drives any [`daneel_core::Machine`] over real sockets with smol. All protocol logic lives in
//! `daneel-core`: this crate executes the [`IoCommand`]s of a [`Driver`] and reports
//! [`IoEvent`]s, with no timeouts of its own (the core owns every deadline).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daneel_core::driver::{udp_bind_addr, Driver, IoCommand, IoEvent, MAX_DNS_MESSAGE, READ_CHUNK};
use daneel_core::{ConnId, Machine, NetError, QueryId, Report, Timestamp};
use smol::channel::{unbounded, Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpStream, UdpSocket};
use smol::{Task, Timer};

/// What the spawned tasks report to the loop.
enum Happened {
    Dns(QueryId, Result<(SocketAddr, Vec<u8>), NetError>),
    Connected(ConnId, Result<TcpStream, NetError>),
    Read(ConnId, Vec<u8>),
    Eof(ConnId),
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
            return drop(
                out.send(Happened::Dns(query, Err(NetError::from_io(&e))))
                    .await,
            )
        }
    };
    let mut datagram = vec![0u8; MAX_DNS_MESSAGE];
    // The core checks each datagram's source and content (RFC 5452), so keep listening.
    while let Ok((len, from)) = socket.recv_from(&mut datagram).await {
        if out
            .send(Happened::Dns(query, Ok((from, datagram[..len].to_vec()))))
            .await
            .is_err()
        {
            break;
        }
    }
}

async fn dns_over_tcp(query: QueryId, server: SocketAddr, framed: Vec<u8>, out: Sender<Happened>) {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        stream.write_all(&framed).await?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await?;
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut message).await?;
        Ok::<_, std::io::Error>((stream.peer_addr()?, message))
    };
    let result = exchange.await.map_err(|e| NetError::from_io(&e));
    let _ = out.send(Happened::Dns(query, result)).await;
}

async fn open(conn: ConnId, addr: SocketAddr, out: Sender<Happened>) {
    let stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(e) => {
            return drop(
                out.send(Happened::Connected(conn, Err(NetError::from_io(&e))))
                    .await,
            )
        }
    };
    let mut reader = stream.clone();
    if out
        .send(Happened::Connected(conn, Ok(stream)))
        .await
        .is_err()
    {
        return;
    }
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let event = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => Happened::Eof(conn),
            Ok(n) => Happened::Read(conn, chunk[..n].to_vec()),
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

/// Wall-clock time at the epoch of `origin`, plus the monotonic time since.
fn now_from(wall: Timestamp, origin: Instant) -> Timestamp {
    wall.saturating_add(origin.elapsed())
}

/// Runs `machine` to completion on the current thread with smol and returns its report and
/// the machine.
pub fn run<M: Machine>(machine: M) -> (Box<Report>, M) {
    smol::block_on(run_async(machine))
}

/// The async form of [`run`], for callers already inside an executor.
pub async fn run_async<M: Machine>(machine: M) -> (Box<Report>, M) {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Timestamp::EPOCH, |d| {
            Timestamp::from_millis(d.as_millis() as u64)
        });
    let origin = Instant::now();
    let now = || now_from(wall, origin);
    let mut driver = Driver::new(machine);
    let (out, events) = unbounded::<Happened>();
    // The task of each open DNS exchange and of each connection's reader: dropping one
    // cancels it and closes its socket (a connection's writer closes once it has flushed).
    let mut dns: BTreeMap<QueryId, Task<()>> = BTreeMap::new();
    let mut readers: BTreeMap<ConnId, Task<()>> = BTreeMap::new();
    let mut write_queues: BTreeMap<ConnId, Sender<Vec<u8>>> = BTreeMap::new();
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
                } => drop(dns.insert(
                    query,
                    smol::spawn(dns_over_udp(query, server, wire, out.clone())),
                )),
                IoCommand::DnsTcp {
                    query,
                    server,
                    framed,
                } => drop(dns.insert(
                    query,
                    smol::spawn(dns_over_tcp(query, server, framed, out.clone())),
                )),
                IoCommand::DnsEnd { query } => drop(dns.remove(&query)),
                IoCommand::Connect { conn, addr } => {
                    readers.insert(conn, smol::spawn(open(conn, addr, out.clone())));
                }
                IoCommand::Write { conn, bytes } => {
                    if let Some(queue) = write_queues.get(&conn) {
                        let _ = queue.try_send(bytes);
                    }
                }
                IoCommand::Shutdown { conn } => {
                    // Dropping the sender ends the writer after what is queued; a connect
                    // still in progress is cancelled with its reader.
                    readers.remove(&conn);
                    write_queues.remove(&conn);
                }
                IoCommand::Sleep { until } => deadline = until,
                IoCommand::Finished(report) => {
                    drop(write_queues);
                    let flush = async {
                        for task in flushers {
                            task.await;
                        }
                    };
                    flush
                        .or(async {
                            Timer::after(Duration::from_millis(500)).await;
                        })
                        .await;
                    drop((dns, readers));
                    return (report, driver.into_machine());
                }
            }
        }
        let wait = deadline.saturating_since(now());
        let event = async { events.recv().await.unwrap_or(Happened::Wake) }
            .or(async {
                Timer::after(wait).await;
                Happened::Wake
            })
            .await;
        let at = now();
        let fed = match event {
            Happened::Wake => driver.handle(at, IoEvent::Timer),
            Happened::Dns(query, Ok((from, wire))) => driver.handle(
                at,
                IoEvent::DnsReply {
                    query,
                    from,
                    wire: &wire,
                },
            ),
            Happened::Dns(query, Err(error)) => {
                driver.handle(at, IoEvent::DnsError { query, error })
            }
            Happened::Connected(conn, Err(error)) => {
                driver.handle(at, IoEvent::ConnectFailed { conn, error })
            }
            Happened::Connected(conn, Ok(stream)) => {
                if !readers.contains_key(&conn) {
                    continue; // shut down while connecting: dropping `stream` closes it
                }
                let (queue, pending) = unbounded();
                flushers.push(smol::spawn(pipe_writes(stream, pending)));
                write_queues.insert(conn, queue);
                driver.handle(at, IoEvent::Connected { conn })
            }
            Happened::Read(conn, bytes) => driver.handle(
                at,
                IoEvent::Read {
                    conn,
                    bytes: &bytes,
                },
            ),
            Happened::Eof(conn) => driver.handle(at, IoEvent::Eof { conn }),
        };
        debug_assert!(fed.is_ok(), "{fed:?}");
    }
}
