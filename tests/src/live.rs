//! The live driver: serves a [`World`] on loopback sockets (DESIGN.md section 7) so the
//! runtimes can run against real UDP, TCP and TLS.
//!
//! Addressing, the simplest robust choice: the world keeps its own addresses
//! (192.0.2.x) and [`LiveWorld::start`] maps each IPv4 host address to its own loopback
//! address `base + 10 + i` (i in address order) and rewrites the A records of the served
//! world accordingly ([`World::map_addresses`]); the resolver listens on `base + 1`, UDP and
//! TCP on one port. IPv6 addresses are left as they are (live worlds are IPv4), and
//! `Unreachable`/`Blackhole` hosts get no listener (connection refused). Mail servers listen
//! on `port`; TLSA owner names follow [`World::smtp_port`], so pass `world.smtp_port()` or
//! build the world with `.smtp_port(port)` for high ports. A server's other services
//! ([`MailServer::with_service`]) listen on their own ports of the same address. Use
//! `127.20.x.0` bases (127.10/16 is the interop lab's). Every SNI name a server receives is
//! recorded ([`LiveWorld::snis`]).
//!
//! Threads and blocking sockets only (no async runtime): every read has a timeout, every
//! thread checks a stop flag at least every 100 ms, and dropping the [`LiveWorld`] stops and
//! joins the listeners.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use daneel_core::Transport;
use socket2::{Domain, Protocol, Socket, Type};

use crate::world::resolver::answer;
use crate::world::{Host, MailServer, ResolverKind, ServerSession, World};

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// How long a connection may stay idle before the server drops it.
const IDLE: Duration = Duration::from_secs(30);
/// The largest DNS message over TCP (RFC 1035 sec. 4.2.2).
const MAX_TCP_DNS: usize = 65_535;
/// The listen backlog of every listener (the kernel caps it at `net.core.somaxconn`, 4096
/// by default): a scan opening thousands of connections at once must not overflow it, where
/// std's 128 makes the kernel drop SYNs and clients retry a second later.
const BACKLOG: i32 = 4096;
/// The receive buffer asked for the resolver's UDP socket (the kernel caps it at
/// `net.core.rmem_max`): a burst of thousands of queries must queue, not be dropped, where
/// the default 208 KiB holds about 200 datagrams.
const UDP_RCVBUF: usize = 8 << 20;

/// An off-path attacker who guessed the id and port of every query for `qname`/`qtype`:
/// before the resolver answers, it sends the answer of its own `world` (AD=1 and all) to
/// the client from another loopback address with the resolver's port, and from the
/// resolver's address with another port (RFC 5452 sec. 9.1).
#[derive(Clone, Debug)]
pub struct LiveForger {
    /// The name forged (world form).
    pub qname: String,
    /// The type forged.
    pub qtype: hickory_proto::rr::RecordType,
    /// The attacker's world.
    pub world: World,
}

/// The forger's sockets and script.
struct Forging {
    forger: LiveForger,
    sockets: Vec<UdpSocket>,
}

impl Forging {
    /// Sends the forged answers to `client` if `query` is one the forger targets.
    fn forge(&self, query: &[u8], client: SocketAddr) {
        let Ok(msg) = hickory_proto::op::Message::from_vec(query) else {
            return;
        };
        let Some(q) = msg.queries.first() else {
            return;
        };
        if crate::world::norm_name(&q.name().to_ascii()) != self.forger.qname
            || q.query_type() != self.forger.qtype
        {
            return;
        }
        if let Some(forged) = answer(&self.forger.world, query, Transport::Udp) {
            for socket in &self.sockets {
                let _ = socket.send_to(&forged, client);
            }
        }
    }
}

/// A world served on loopback sockets; stopped when dropped.
#[derive(Debug)]
pub struct LiveWorld {
    base: Ipv4Addr,
    resolver: SocketAddr,
    hosts: BTreeMap<IpAddr, SocketAddr>,
    world: Arc<World>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    snis: Snis,
}

/// The SNI names servers received: (the server's listening address, the name).
type Snis = Arc<Mutex<Vec<(SocketAddr, String)>>>;

fn offset(base: Ipv4Addr, n: u32) -> io::Result<Ipv4Addr> {
    let b = u32::from(base);
    let ip = Ipv4Addr::from(b.checked_add(n).ok_or(ErrorKind::InvalidInput)?);
    if ip.octets()[0] != 127 {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "addresses must stay in 127/8",
        ));
    }
    Ok(ip)
}

impl LiveWorld {
    /// Serves `world`: the resolver on `base + 1` (an ephemeral port, UDP and TCP), each
    /// IPv4 mail server on `base + 10 + i` port `port`.
    pub fn start(world: &World, base: Ipv4Addr, port: u16) -> io::Result<LiveWorld> {
        Self::start_forged(world, base, port, None)
    }

    /// [`LiveWorld::start`] with an off-path forger ([`LiveForger`]) whose datagrams leave
    /// from `base + 3` and from the resolver's address on another port.
    pub fn start_forged(
        world: &World,
        base: Ipv4Addr,
        port: u16,
        forger: Option<LiveForger>,
    ) -> io::Result<LiveWorld> {
        if base.octets()[0] != 127 {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "live worlds listen on 127/8 only",
            ));
        }
        let mut map = BTreeMap::new();
        let mut i = 0u32;
        for ip in world.hosts().keys() {
            if ip.is_ipv4() {
                map.insert(*ip, IpAddr::V4(offset(base, 10 + i)?));
                i += 1;
            }
        }
        // Every other address (unreachable hosts, IPv6) goes to a loopback address where
        // nothing listens, so no test ever sends a packet off 127/8.
        let nowhere = offset(base, 254)?;
        let served = Arc::new(world.map_addresses(|ip| match map.get(&ip) {
            Some(mapped) => *mapped,
            None if ip.is_ipv4() => IpAddr::V4(nowhere),
            None => IpAddr::V6(nowhere.to_ipv6_mapped()),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let resolver_ip = offset(base, 1)?;
        let (udp, tcp) = bind_dns(resolver_ip)?;
        let resolver = udp.local_addr()?;
        let forging = match forger {
            Some(forger) => Some(Forging {
                sockets: vec![
                    UdpSocket::bind((offset(base, 3)?, resolver.port()))?,
                    UdpSocket::bind((resolver_ip, 0))?,
                ],
                forger: LiveForger {
                    world: forger.world.map_addresses(|ip| match map.get(&ip) {
                        Some(mapped) => *mapped,
                        None => IpAddr::V4(nowhere),
                    }),
                    ..forger
                },
            }),
            None => None,
        };
        threads.push(spawn_udp(udp, served.clone(), forging, stop.clone())?);
        threads.push(spawn_tcp_dns(tcp, served.clone(), stop.clone())?);
        let mut hosts = BTreeMap::new();
        let snis = Snis::default();
        for (orig, mapped) in &map {
            if let Some(Host::Server(spec)) = world.hosts().get(orig) {
                let listener = listen(SocketAddr::new(*mapped, port))?;
                hosts.insert(*orig, listener.local_addr()?);
                let main = (**spec).clone();
                threads.push(spawn_smtp(listener, main, stop.clone(), snis.clone())?);
                for (other, service) in &spec.services {
                    let listener = listen(SocketAddr::new(*mapped, *other))?;
                    let service = service.clone();
                    threads.push(spawn_smtp(listener, service, stop.clone(), snis.clone())?);
                }
            }
        }
        Ok(LiveWorld {
            base,
            resolver,
            hosts,
            world: served,
            stop,
            threads,
            snis,
        })
    }

    /// The SNI names the world's servers received so far, in order: (the server's listening
    /// address, the name).
    pub fn snis(&self) -> Vec<(SocketAddr, String)> {
        self.snis.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The resolver's address (UDP and TCP).
    pub fn resolver_addr(&self) -> SocketAddr {
        self.resolver
    }

    /// Starts a second resolver on `base + 2` that does not validate (AD=0 always, bogus data
    /// served as it is, DNSSEC records passed through with DO=1, like unbound with
    /// `module-config: "iterator"`), and returns its address (UDP and TCP).
    pub fn serve_plain_resolver(&mut self) -> io::Result<SocketAddr> {
        self.serve_resolver(ResolverKind::NonValidating, 2)
    }

    /// Starts a third resolver on `base + 4` (`base + 3` sends forgeries), a broken forwarder that removes RRSIG, NSEC,
    /// NSEC3 and DS records from every answer, and returns its address (UDP and TCP).
    pub fn serve_stripping_resolver(&mut self) -> io::Result<SocketAddr> {
        self.serve_resolver(ResolverKind::Stripping, 4)
    }

    fn serve_resolver(&mut self, kind: ResolverKind, n: u32) -> io::Result<SocketAddr> {
        let view = Arc::new(self.world.served_by(kind));
        let (udp, tcp) = bind_dns(offset(self.base, n)?)?;
        let addr = udp.local_addr()?;
        self.threads
            .push(spawn_udp(udp, view.clone(), None, self.stop.clone())?);
        self.threads
            .push(spawn_tcp_dns(tcp, view, self.stop.clone())?);
        Ok(addr)
    }

    /// The loopback address serving the world's host `world_ip`, if it has a server.
    pub fn host_addr(&self, world_ip: IpAddr) -> Option<SocketAddr> {
        self.hosts.get(&world_ip).copied()
    }

    /// The world as served (A records rewritten to loopback addresses).
    pub fn world(&self) -> &World {
        &self.world
    }
}

impl Drop for LiveWorld {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A TCP listener on `addr` as std's (`SO_REUSEADDR`), with a backlog of [`BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A UDP socket bound to `addr` with a receive buffer of up to [`UDP_RCVBUF`].
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer only makes drops under load likelier.
    let _ = socket.set_recv_buffer_size(UDP_RCVBUF);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn bind_dns(ip: Ipv4Addr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = io::Error::other("no port");
    for _ in 0..20 {
        let udp = bind_udp(SocketAddr::new(IpAddr::V4(ip), 0))?;
        let port = udp.local_addr()?.port();
        match listen(SocketAddr::new(IpAddr::V4(ip), port)) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn spawn_udp(
    sock: UdpSocket,
    world: Arc<World>,
    forging: Option<Forging>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    sock.set_read_timeout(Some(POLL))?;
    thread::Builder::new()
        .name("live-dns-udp".into())
        .spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        if let Some(f) = &forging {
                            f.forge(&buf[..n], from);
                        }
                        if let Some(resp) = answer(&world, &buf[..n], Transport::Udp) {
                            let _ = sock.send_to(&resp, from);
                        }
                    }
                    Err(_) => continue,
                }
            }
        })
}

/// Accepts until stopped. On Linux, accept(2) honours `SO_RCVTIMEO` (socket(7)), so a
/// blocking accept with a [`POLL`] timeout takes each connection at once and looks at the
/// stop flag in between; elsewhere a non-blocking listener is polled every 5 ms (which costs
/// a wake-up each time: with 50 listeners, a fifth of a loaded world's CPU).
fn accept_loop(listener: TcpListener, stop: Arc<AtomicBool>, mut on: impl FnMut(TcpStream)) {
    let blocking = cfg!(target_os = "linux")
        && socket2::SockRef::from(&listener)
            .set_read_timeout(Some(POLL))
            .is_ok();
    if !blocking && listener.set_nonblocking(true).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_ok() {
                    on(stream);
                }
            }
            Err(e) if blocking && retry(&e) => {}
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn spawn_tcp_dns(
    listener: TcpListener,
    world: Arc<World>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("live-dns-tcp".into())
        .spawn(move || {
            let stop2 = stop.clone();
            accept_loop(listener, stop, move |stream| {
                let world = world.clone();
                let stop = stop2.clone();
                let _ = thread::Builder::new()
                    .name("live-dns-conn".into())
                    .spawn(move || {
                        serve_dns_tcp(stream, &world, &stop);
                    });
            });
        })
}

/// A read error that means "nothing yet": the poll timeout, or EINTR, which a read with a
/// timeout (SO_RCVTIMEO) returns on Linux when the process was stopped and continued
/// (SIGSTOP/SIGCONT, a debugger, a cgroup freezer) even with no signal handler (signal(7)).
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Reads exactly `buf.len()` bytes, giving up on stop, EOF or idleness.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> bool {
    let started = Instant::now();
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::SeqCst) || started.elapsed() > IDLE {
            return false;
        }
        match stream.read(&mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if retry(&e) => {}
            Err(_) => return false,
        }
    }
    true
}

fn serve_dns_tcp(mut stream: TcpStream, world: &World, stop: &AtomicBool) {
    if stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    loop {
        let mut len = [0u8; 2];
        if !read_full(&mut stream, &mut len, stop) {
            return;
        }
        let n = usize::from(u16::from_be_bytes(len)).min(MAX_TCP_DNS);
        let mut msg = vec![0u8; n];
        if !read_full(&mut stream, &mut msg, stop) {
            return;
        }
        // A timeout fault: keep the connection open and silent until the client gives up.
        let Some(resp) = answer(world, &msg, Transport::Tcp) else {
            continue;
        };
        let Ok(rlen) = u16::try_from(resp.len()) else {
            return;
        };
        let mut out = rlen.to_be_bytes().to_vec();
        out.extend_from_slice(&resp);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

fn spawn_smtp(
    listener: TcpListener,
    spec: MailServer,
    stop: Arc<AtomicBool>,
    snis: Snis,
) -> io::Result<JoinHandle<()>> {
    let local = listener.local_addr()?;
    thread::Builder::new()
        .name("live-smtp".into())
        .spawn(move || {
            let stop2 = stop.clone();
            accept_loop(listener, stop, move |stream| {
                let spec = spec.clone();
                let stop = stop2.clone();
                let snis = snis.clone();
                let _ = thread::Builder::new()
                    .name("live-smtp-conn".into())
                    .spawn(move || {
                        serve_smtp(stream, &spec, &stop, (local, &snis));
                    });
            });
        })
}

/// Writes `bytes` one at a time, `pace` apart, watching the stop flag every [`POLL`];
/// false when the client went away or the world is stopping.
fn trickle(stream: &mut TcpStream, bytes: &[u8], pace: Duration, stop: &AtomicBool) -> bool {
    for b in bytes {
        if stream.write_all(&[*b]).is_err() {
            return false;
        }
        let until = Instant::now() + pace;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }
    true
}

fn serve_smtp(
    mut stream: TcpStream,
    spec: &MailServer,
    stop: &AtomicBool,
    (local, snis): (SocketAddr, &Snis),
) {
    if stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut session = ServerSession::new(spec);
    let step = session.on_connect();
    if stream.write_all(&step.to_client).is_err() || step.close {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut last = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) && last.elapsed() < IDLE {
        let step = match stream.read(&mut buf) {
            Ok(0) => {
                let step = session.on_eof();
                let _ = stream.write_all(&step.to_client);
                break;
            }
            Ok(n) => {
                last = Instant::now();
                let had_sni = session.sni().is_some();
                let step = session.on_bytes(&buf[..n]);
                if let (false, Some(name), Ok(mut seen)) = (had_sni, session.sni(), snis.lock()) {
                    seen.push((local, name.to_string()));
                }
                step
            }
            Err(e) if retry(&e) => continue,
            Err(_) => break,
        };
        if let Some(pace) = step.pace {
            if !trickle(&mut stream, &step.to_client, pace, stop) {
                break;
            }
        } else if !step.to_client.is_empty() && stream.write_all(&step.to_client).is_err() {
            break;
        }
        if step.close {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}
