//! What both runtimes share, without doing any I/O itself (DESIGN.md section 3: "one piece of
//! code per idea"): a [`Driver`] owns a [`Machine`] and, per connection, a
//! `ConnectionIo` (plaintext before STARTTLS, the TLS pump after). It turns the machine's
//! actions into socket-level [`IoCommand`]s and socket-level [`IoEvent`]s back into machine
//! inputs, so a runtime is only "execute this command, report that event".
//!
//! Ordering guarantee (RFC 3207 sec. 4.2): events of a connection must be fed in the order
//! the socket produced them. [`Driver::handle`] decodes each read with the connection's state
//! *after* every earlier input has been processed and the machine drained, so bytes read after
//! a `220` to STARTTLS can only reach the TLS pump, never the SMTP session.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::dns::{tcp_frame, TcpFrameReader};
use crate::machine::{
    Action, ConnId, Input, Machine, NetError, Output, OwnedInput, QueryId, Transport, UsageError,
};
use crate::report::{Report, Warning};
use crate::time::Timestamp;
use crate::tls::{ConnectionIo, TlsSettings};

/// A TCP socket the runtime holds for the driver: a connection the machine opened, or the
/// stream of one DNS exchange over TCP (RFC 7766), which the driver frames and de-frames
/// itself so that a runtime only ever moves bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Socket {
    /// A machine's connection.
    Conn(ConnId),
    /// The TCP stream of DNS exchange `QueryId`.
    DnsTcp(QueryId),
}

/// How long the runtime may keep writing what is queued (QUIT, TLS close_notify) after the
/// machine finished, before it cancels everything.
pub const FINISH_FLUSH: Duration = Duration::from_millis(500);

/// Most outputs one input (or [`Driver::start`]) may make the machine produce before the
/// driver gives up on it. The largest legitimate burst is far below: the SMTP check opens at
/// most its parallel limit of connections and lookups at once, and even a 1,000-host MX
/// RRset (issue 7) asks a few thousand lookups over the whole check. A machine that keeps
/// producing actions without ever waiting is broken, or is being driven by hostile input
/// into a loop; the driver then aborts it (see [`Driver`]) instead of spinning forever.
pub const MAX_OUTPUTS_PER_INPUT: usize = 100_000;

/// Something the runtime must do with real sockets and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoCommand {
    /// Send `wire` in one UDP datagram to `server` from a fresh socket `connect()`ed to
    /// `server` (so the kernel drops datagrams from elsewhere, RFC 5452 sec. 9.1), and report
    /// every datagram that arrives on it, with its source, as [`IoEvent::DnsReply`] until
    /// [`IoCommand::DnsEnd`] or [`IoCommand::Finished`].
    DnsUdp {
        /// The exchange.
        query: QueryId,
        /// The resolver.
        server: SocketAddr,
        /// The message.
        wire: Vec<u8>,
    },
    /// The UDP exchange `query` is over: close its socket and stop reporting for it. Every
    /// [`IoCommand::DnsUdp`] is followed by one `DnsEnd` or by [`IoCommand::Finished`], so a
    /// runtime holds a socket only while the core waits on it (issue 7: a 1,000-host MX
    /// RRset must not hold thousands of files). A DNS exchange over TCP ends with
    /// [`IoCommand::Shutdown`] of its [`Socket::DnsTcp`].
    DnsEnd {
        /// The exchange.
        query: QueryId,
    },
    /// Open a TCP connection; report [`IoEvent::Connected`] or [`IoEvent::ConnectFailed`], then
    /// every read as [`IoEvent::Read`] and end of stream as [`IoEvent::Eof`].
    Connect {
        /// The socket.
        socket: Socket,
        /// Where to.
        addr: SocketAddr,
    },
    /// Write these bytes to the socket, in order.
    Write {
        /// The socket.
        socket: Socket,
        /// The bytes (already encrypted when TLS is up, already framed for DNS).
        bytes: Vec<u8>,
    },
    /// Close the socket (after writing everything queued before) and stop reporting for it;
    /// a connect still in progress is abandoned.
    Shutdown {
        /// The socket.
        socket: Socket,
    },
    /// Nothing to do until this deadline (or until an event arrives).
    Sleep {
        /// The deadline, on the runtime's clock.
        until: Timestamp,
    },
    /// The machine finished. Let queued writes go on until `flush_until` at the latest (see
    /// [`FINISH_FLUSH`]), then cancel everything still running.
    Finished {
        /// The machine's report.
        report: Box<Report>,
        /// When to stop flushing, on the runtime's clock.
        flush_until: Timestamp,
    },
}

/// Something that happened on a real socket or timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoEvent<'a> {
    /// A UDP datagram arrived for a DNS exchange.
    DnsReply {
        /// The exchange.
        query: QueryId,
        /// The datagram's source.
        from: SocketAddr,
        /// The message.
        wire: &'a [u8],
    },
    /// The UDP exchange failed at the transport level (no socket, send refused...).
    DnsError {
        /// The exchange.
        query: QueryId,
        /// Why.
        error: NetError,
    },
    /// The TCP connection is up.
    Connected {
        /// The socket.
        socket: Socket,
    },
    /// The TCP connection could not be made.
    ConnectFailed {
        /// The socket.
        socket: Socket,
        /// Why.
        error: NetError,
    },
    /// Bytes read from the socket.
    Read {
        /// The socket.
        socket: Socket,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// End of stream or a read error.
    Eof {
        /// The socket.
        socket: Socket,
    },
    /// The deadline of the last [`IoCommand::Sleep`] passed.
    Timer,
}

/// One DNS exchange over TCP: the resolver, the framed query until the stream is up, and
/// the answer's frames as they arrive (RFC 1035 sec. 4.2.2).
struct DnsStream {
    server: SocketAddr,
    query: Option<Vec<u8>>,
    frames: TcpFrameReader,
}

/// Drives a machine for a runtime. See the module documentation.
pub struct Driver<M: Machine> {
    machine: M,
    conns: BTreeMap<ConnId, ConnectionIo>,
    dns_streams: BTreeMap<QueryId, DnsStream>,
    /// The UDP exchanges between their `DnsUdp` and `DnsEnd`.
    dns_udp: BTreeSet<QueryId>,
    commands: VecDeque<IoCommand>,
    pending_inputs: VecDeque<OwnedInput>,
    finished: bool,
    tls: TlsSettings,
}

impl<M: Machine> Driver<M> {
    /// A driver for `machine`, with daneel's default TLS settings ([`TlsSettings::default`]).
    pub fn new(machine: M) -> Self {
        Self::with_tls(machine, TlsSettings::default())
    }

    /// A driver for `machine` whose connections use `tls` (crypto provider, protocol
    /// versions, time source) once the machine starts TLS.
    pub fn with_tls(machine: M, tls: TlsSettings) -> Self {
        Driver {
            machine,
            conns: BTreeMap::new(),
            dns_streams: BTreeMap::new(),
            dns_udp: BTreeSet::new(),
            commands: VecDeque::new(),
            pending_inputs: VecDeque::new(),
            finished: false,
            tls,
        }
    }

    /// The machine (for instance a [`crate::transcript::Recorder`] to save its transcript).
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// Consumes the driver, returning the machine.
    pub fn into_machine(self) -> M {
        self.machine
    }

    fn feed(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.finished {
            // Late socket events after the end are expected; they carry no meaning.
            return Ok(());
        }
        self.machine.handle_input(now, input)?;
        self.drain(now);
        Ok(())
    }

    fn feed_owned(&mut self, now: Timestamp, inputs: Vec<OwnedInput>) -> Result<(), UsageError> {
        for input in inputs {
            self.feed(now, input.as_input())?;
        }
        Ok(())
    }

    /// Feeds one socket or timer event at time `now`. Events of a socket the machine already
    /// closed or of an exchange it already ended (they may be on their way while the runtime
    /// executes the close) never reach the machine; a connect that completes after its
    /// socket's close is shut down again.
    pub fn handle(&mut self, now: Timestamp, event: IoEvent<'_>) -> Result<(), UsageError> {
        match event {
            IoEvent::DnsReply { query, .. } | IoEvent::DnsError { query, .. }
                if !self.dns_udp.contains(&query) =>
            {
                Ok(())
            }
            IoEvent::Connected { socket } if !self.is_open(socket) => {
                self.commands.push_back(IoCommand::Shutdown { socket });
                Ok(())
            }
            IoEvent::ConnectFailed { socket, .. } if !self.is_open(socket) => Ok(()),
            IoEvent::DnsReply { query, from, wire } => self.feed(
                now,
                Input::DnsAnswer {
                    query,
                    from: Some(from),
                    wire,
                },
            ),
            IoEvent::DnsError { query, error } => self.feed(now, Input::DnsFailed { query, error }),
            IoEvent::Connected { socket } => match socket {
                Socket::Conn(conn) => self.feed(now, Input::Connected { conn }),
                Socket::DnsTcp(query) => {
                    let framed = self
                        .dns_streams
                        .get_mut(&query)
                        .and_then(|s| s.query.take());
                    if let Some(bytes) = framed {
                        self.commands.push_back(IoCommand::Write { socket, bytes });
                    }
                    Ok(())
                }
            },
            IoEvent::ConnectFailed { socket, error } => match socket {
                Socket::Conn(conn) => {
                    self.conns.remove(&conn);
                    self.feed(now, Input::ConnectFailed { conn, error })
                }
                Socket::DnsTcp(query) => self.dns_stream_failed(now, query, error),
            },
            IoEvent::Read {
                socket: Socket::DnsTcp(query),
                bytes,
            } => self.dns_stream_read(now, query, bytes),
            IoEvent::Read {
                socket: Socket::Conn(conn),
                bytes,
            } => {
                let Some(io) = self.conns.get_mut(&conn) else {
                    return Ok(());
                };
                let decoded = io.decode(conn, bytes);
                if !decoded.to_socket.is_empty() {
                    self.commands.push_back(IoCommand::Write {
                        socket: Socket::Conn(conn),
                        bytes: decoded.to_socket,
                    });
                }
                self.feed_owned(now, decoded.inputs)
            }
            IoEvent::Eof {
                socket: Socket::DnsTcp(query),
            } => {
                let error = NetError::DnsStreamClosed;
                self.dns_stream_failed(now, query, error)
            }
            IoEvent::Eof {
                socket: Socket::Conn(conn),
            } => {
                let Some(mut io) = self.conns.remove(&conn) else {
                    return Ok(());
                };
                // The peer is done and so is the connection: the runtime frees the socket.
                self.commands.push_back(IoCommand::Shutdown {
                    socket: Socket::Conn(conn),
                });
                let decoded = io.eof(conn);
                self.feed_owned(now, decoded.inputs)
            }
            IoEvent::Timer => self.feed(now, Input::Timeout),
        }
    }

    /// Whether the socket is one the machine (or a DNS exchange over TCP) still holds.
    fn is_open(&self, socket: Socket) -> bool {
        match socket {
            Socket::Conn(conn) => self.conns.contains_key(&conn),
            Socket::DnsTcp(query) => self.dns_streams.contains_key(&query),
        }
    }

    /// Bytes of a DNS answer over TCP: every complete message goes to the machine, as from
    /// the resolver the stream was opened to (RFC 7766 sec. 6.2.1 allows no other source).
    fn dns_stream_read(
        &mut self,
        now: Timestamp,
        query: QueryId,
        bytes: &[u8],
    ) -> Result<(), UsageError> {
        let Some(stream) = self.dns_streams.get_mut(&query) else {
            return Ok(());
        };
        if stream.frames.push(bytes).is_err() {
            let error = NetError::DnsStreamOverflow;
            return self.dns_stream_failed(now, query, error);
        }
        let server = stream.server;
        let mut messages = Vec::new();
        while let Some(wire) = stream.frames.pop() {
            messages.push(wire);
        }
        for wire in messages {
            let input = Input::DnsAnswer {
                query,
                from: Some(server),
                wire: &wire,
            };
            self.feed(now, input)?;
        }
        Ok(())
    }

    /// A DNS stream that could not connect, or closed before an answer: the machine hears a
    /// transport failure, and the socket goes.
    fn dns_stream_failed(
        &mut self,
        now: Timestamp,
        query: QueryId,
        error: NetError,
    ) -> Result<(), UsageError> {
        if self.dns_streams.remove(&query).is_none() {
            return Ok(());
        }
        self.commands.push_back(IoCommand::Shutdown {
            socket: Socket::DnsTcp(query),
        });
        self.feed(now, Input::DnsFailed { query, error })
    }

    /// Drains the machine's outputs into commands (the drain rule of DESIGN.md section 3),
    /// at most [`MAX_OUTPUTS_PER_INPUT`] of them; past that the machine is aborted.
    fn drain(&mut self, now: Timestamp) {
        for _ in 0..MAX_OUTPUTS_PER_INPUT {
            match self.machine.poll_output(now) {
                Output::Action(action) => self.perform(action),
                Output::Timeout(until) => {
                    self.commands.push_back(IoCommand::Sleep { until });
                    return;
                }
                Output::Done(report) => return self.finish(now, report),
            }
        }
        self.runaway(now);
    }

    /// The machine produced [`MAX_OUTPUTS_PER_INPUT`] outputs without waiting: it is told
    /// to abort ([`Input::Abort`]) and given as many outputs again to finish, none of them
    /// performed any more. Its report, or a stand-in `inconclusive` one if it will not
    /// finish either, carries [`Warning::Runaway`]. The run ends as after any report.
    fn runaway(&mut self, now: Timestamp) {
        // A machine that refuses the abort ends with the stand-in report below.
        let _ = self.machine.handle_input(now, Input::Abort);
        let done = (0..MAX_OUTPUTS_PER_INPUT).find_map(|_| match self.machine.poll_output(now) {
            Output::Done(report) => Some(report),
            _ => None,
        });
        let mut report = done.unwrap_or_else(|| Box::new(Report::abandoned(now)));
        report.warnings.push(Warning::Runaway {
            max_outputs: MAX_OUTPUTS_PER_INPUT,
        });
        self.finish(now, report);
    }

    /// The machine finished: every socket is closed, and the runtime told to stop.
    fn finish(&mut self, now: Timestamp, report: Box<Report>) {
        self.finished = true;
        for conn in self.conns.keys().copied().collect::<Vec<_>>() {
            self.close(conn);
        }
        for query in std::mem::take(&mut self.dns_streams).into_keys() {
            let socket = Socket::DnsTcp(query);
            self.commands.push_back(IoCommand::Shutdown { socket });
        }
        self.commands.push_back(IoCommand::Finished {
            report,
            flush_until: now.saturating_add(FINISH_FLUSH),
        });
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::SendDns {
                query,
                server,
                transport: Transport::Udp,
                wire,
            } => {
                self.dns_udp.insert(query);
                let command = IoCommand::DnsUdp {
                    query,
                    server,
                    wire,
                };
                self.commands.push_back(command);
            }
            Action::SendDns {
                query,
                server,
                transport: Transport::Tcp,
                wire,
            } => {
                let stream = DnsStream {
                    server,
                    query: Some(tcp_frame(&wire)),
                    frames: TcpFrameReader::new(),
                };
                self.dns_streams.insert(query, stream);
                let socket = Socket::DnsTcp(query);
                self.commands.push_back(IoCommand::Connect {
                    socket,
                    addr: server,
                });
            }
            Action::EndDns { query } => {
                self.dns_udp.remove(&query);
                let command = match self.dns_streams.remove(&query) {
                    Some(_) => IoCommand::Shutdown {
                        socket: Socket::DnsTcp(query),
                    },
                    None => IoCommand::DnsEnd { query },
                };
                self.commands.push_back(command);
            }
            Action::Connect { conn, addr } => {
                self.conns
                    .insert(conn, ConnectionIo::with_tls(self.tls.clone()));
                let socket = Socket::Conn(conn);
                self.commands.push_back(IoCommand::Connect { socket, addr });
            }
            Action::Send { conn, bytes } => {
                if let Some(io) = self.conns.get_mut(&conn) {
                    let bytes = io.encode(&bytes);
                    let socket = Socket::Conn(conn);
                    self.commands.push_back(IoCommand::Write { socket, bytes });
                }
            }
            Action::StartTls { conn, sni } => {
                let Some(io) = self.conns.get_mut(&conn) else {
                    return;
                };
                match io.start_tls(sni.as_deref()) {
                    Ok(hello) => self.commands.push_back(IoCommand::Write {
                        socket: Socket::Conn(conn),
                        bytes: hello,
                    }),
                    Err(error) => {
                        // Reported like any handshake failure; the machine decides.
                        let input = OwnedInput::TlsFailed { conn, error };
                        self.pending_inputs.push_back(input);
                    }
                }
            }
            Action::Close { conn } => self.close(conn),
        }
    }

    /// Closes a machine's connection: the TLS close_notify if TLS is up, then the socket.
    fn close(&mut self, conn: ConnId) {
        if let Some(mut io) = self.conns.remove(&conn) {
            let bytes = io.close();
            let socket = Socket::Conn(conn);
            if !bytes.is_empty() {
                self.commands.push_back(IoCommand::Write { socket, bytes });
            }
            self.commands.push_back(IoCommand::Shutdown { socket });
        }
    }

    /// Starts the machine: drains its first outputs. Call once before the first event.
    pub fn start(&mut self, now: Timestamp) {
        self.drain(now);
    }

    /// The next command to execute, or `None` when the runtime should wait for an event
    /// (a [`IoCommand::Sleep`] was already returned) or everything has finished.
    pub fn poll_command(&mut self, now: Timestamp) -> Option<IoCommand> {
        while let Some(input) = self.pending_inputs.pop_front() {
            // A synthesized TlsFailed for a connection the machine opened: it cannot be
            // misuse, and if the machine already finished it is moot.
            let _ = self.feed(now, input.as_input());
        }
        self.commands.pop_front()
    }
}

/// The local address a runtime binds its UDP socket to for a query to `server`: the
/// unspecified address of the same family, port 0.
pub fn udp_bind_addr(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

/// The buffer a runtime reads one UDP answer into. The core advertises an EDNS0 payload of
/// 1,232 bytes (RFC 9715) and a
/// resolver must not send more (RFC 6891 sec. 6.2.5); 4,096 bytes leave room for one that
/// exceeds it a little, and a longer datagram arrives cut and is judged malformed. There is
/// one buffer per query in flight: at 10,000 concurrent checks, 64 KiB buffers alone took
/// 1.1 GB (issue 14). Answers over TCP are read in [`READ_CHUNK`]s and framed by the driver.
pub const MAX_UDP_ANSWER: usize = 4096;

/// How much a runtime reads from a TCP socket at once.
pub const READ_CHUNK: usize = 16 * 1024;

/// A seed from OS entropy bytes (the runtime reads them; the core never does).
pub fn seed_from_bytes(bytes: [u8; 8]) -> crate::seed::Seed {
    crate::seed::Seed(u64::from_le_bytes(bytes))
}
