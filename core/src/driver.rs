//! What both runtimes share, without doing any I/O itself (DESIGN.md section 3: "one piece of
//! code per idea"): a [`Driver`] owns a [`Machine`] and, per connection, a
//! [`ConnectionIo`] (plaintext before STARTTLS, the TLS pump after). It turns the machine's
//! actions into socket-level [`IoCommand`]s and socket-level [`IoEvent`]s back into machine
//! inputs, so a runtime is only "execute this command, report that event".
//!
//! Ordering guarantee (RFC 3207 sec. 4.2): events of a connection must be fed in the order
//! the socket produced them. [`Driver::handle`] decodes each read with the connection's state
//! *after* every earlier input has been processed and the machine drained, so bytes read after
//! a `220` to STARTTLS can only reach the TLS pump, never the SMTP session.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use crate::dns::tcp_frame;
use crate::machine::{
    Action, ConnId, Input, Machine, NetError, Output, OwnedInput, QueryId, Transport, UsageError,
};
use crate::report::Report;
use crate::time::Timestamp;
use crate::tls::ConnectionIo;

/// Something the runtime must do with real sockets and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoCommand {
    /// Send `wire` in one UDP datagram to `server` from a fresh socket `connect()`ed to
    /// `server` (so the kernel drops datagrams from elsewhere, RFC 5452 sec. 9.1), and report
    /// every datagram that arrives on it, with its source, as [`IoEvent::DnsReply`] until
    /// [`IoCommand::Finished`].
    DnsUdp {
        /// The exchange.
        query: QueryId,
        /// The resolver.
        server: SocketAddr,
        /// The message.
        wire: Vec<u8>,
    },
    /// Connect to `server` over TCP, write `framed` (already length-prefixed, RFC 1035
    /// sec. 4.2.2), read one length-prefixed message and report it without the prefix.
    DnsTcp {
        /// The exchange.
        query: QueryId,
        /// The resolver.
        server: SocketAddr,
        /// The framed message.
        framed: Vec<u8>,
    },

    /// The DNS exchange `query` is over: close its socket (UDP or TCP) and stop reporting
    /// for it. Every [`IoCommand::DnsUdp`] and [`IoCommand::DnsTcp`] is followed by one
    /// `DnsEnd` or by [`IoCommand::Finished`], so a runtime holds a socket only while the
    /// core waits on it (issue 7: a 1,000-host MX RRset must not hold thousands of files).
    DnsEnd {
        /// The exchange.
        query: QueryId,
    },

    /// Open a TCP connection; report [`IoEvent::Connected`] or [`IoEvent::ConnectFailed`], then
    /// every read as [`IoEvent::Read`] and end of stream as [`IoEvent::Eof`].
    Connect {
        /// The connection.
        conn: ConnId,
        /// Where to.
        addr: SocketAddr,
    },
    /// Write these bytes to the connection's socket, in order.
    Write {
        /// The connection.
        conn: ConnId,
        /// The bytes (already encrypted when TLS is up).
        bytes: Vec<u8>,
    },
    /// Close the connection's socket (after writing everything queued before).
    Shutdown {
        /// The connection.
        conn: ConnId,
    },
    /// Nothing to do until this deadline (or until an event arrives).
    Sleep {
        /// The deadline, on the runtime's clock.
        until: Timestamp,
    },
    /// The machine finished. Cancel everything still running.
    Finished(Box<Report>),
}

/// Something that happened on a real socket or timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoEvent<'a> {
    /// A DNS message arrived (UDP datagram, or TCP message without its prefix).
    DnsReply {
        /// The exchange.
        query: QueryId,
        /// Where it came from (the peer of the TCP connection, or the datagram's source).
        from: SocketAddr,
        /// The message.
        wire: &'a [u8],
    },
    /// The DNS exchange failed at the transport level.
    DnsError {
        /// The exchange.
        query: QueryId,
        /// Why.
        error: NetError,
    },
    /// The TCP connection is up.
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// The TCP connection could not be made.
    ConnectFailed {
        /// The connection.
        conn: ConnId,
        /// Why.
        error: NetError,
    },
    /// Bytes read from the socket.
    Read {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// End of stream or a read error.
    Eof {
        /// The connection.
        conn: ConnId,
    },
    /// The deadline of the last [`IoCommand::Sleep`] passed.
    Timer,
}

/// Drives a machine for a runtime. See the module documentation.
pub struct Driver<M: Machine> {
    machine: M,
    conns: BTreeMap<ConnId, ConnectionIo>,
    commands: VecDeque<IoCommand>,
    pending_inputs: VecDeque<OwnedInput>,
    finished: bool,
}

impl<M: Machine> Driver<M> {
    /// A driver for `machine`.
    pub fn new(machine: M) -> Self {
        Driver {
            machine,
            conns: BTreeMap::new(),
            commands: VecDeque::new(),
            pending_inputs: VecDeque::new(),
            finished: false,
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

    /// Feeds one socket or timer event at time `now`.
    pub fn handle(&mut self, now: Timestamp, event: IoEvent<'_>) -> Result<(), UsageError> {
        match event {
            IoEvent::DnsReply { query, from, wire } => self.feed(
                now,
                Input::DnsAnswer {
                    query,
                    from: Some(from),
                    wire,
                },
            ),
            IoEvent::DnsError { query, error } => self.feed(now, Input::DnsFailed { query, error }),
            IoEvent::Connected { conn } => self.feed(now, Input::Connected { conn }),
            IoEvent::ConnectFailed { conn, error } => {
                self.conns.remove(&conn);
                self.feed(now, Input::ConnectFailed { conn, error })
            }
            IoEvent::Read { conn, bytes } => {
                let Some(io) = self.conns.get_mut(&conn) else {
                    return Ok(());
                };
                let decoded = io.decode(conn, bytes);
                if !decoded.to_socket.is_empty() {
                    self.commands.push_back(IoCommand::Write {
                        conn,
                        bytes: decoded.to_socket,
                    });
                }
                self.feed_owned(now, decoded.inputs)
            }
            IoEvent::Eof { conn } => {
                let Some(mut io) = self.conns.remove(&conn) else {
                    return Ok(());
                };
                // The peer is done and so is the connection: the runtime frees the socket.
                self.commands.push_back(IoCommand::Shutdown { conn });
                let decoded = io.eof(conn);
                self.feed_owned(now, decoded.inputs)
            }
            IoEvent::Timer => self.feed(now, Input::Timeout),
        }
    }

    /// Drains the machine's outputs into commands (the drain rule of DESIGN.md section 3).
    fn drain(&mut self, now: Timestamp) {
        loop {
            match self.machine.poll_output(now) {
                Output::Action(action) => self.perform(action),
                Output::Timeout(until) => {
                    self.commands.push_back(IoCommand::Sleep { until });
                    return;
                }
                Output::Done(report) => {
                    self.finished = true;
                    for (conn, mut io) in std::mem::take(&mut self.conns) {
                        let bytes = io.close();
                        if !bytes.is_empty() {
                            self.commands.push_back(IoCommand::Write { conn, bytes });
                        }
                        self.commands.push_back(IoCommand::Shutdown { conn });
                    }
                    self.commands.push_back(IoCommand::Finished(report));
                    return;
                }
            }
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::SendDns {
                query,
                server,
                transport: Transport::Udp,
                wire,
            } => self.commands.push_back(IoCommand::DnsUdp {
                query,
                server,
                wire,
            }),
            Action::SendDns {
                query,
                server,
                transport: Transport::Tcp,
                wire,
            } => self.commands.push_back(IoCommand::DnsTcp {
                query,
                server,
                framed: tcp_frame(&wire),
            }),
            Action::EndDns { query } => self.commands.push_back(IoCommand::DnsEnd { query }),
            Action::Connect { conn, addr } => {
                self.conns.insert(conn, ConnectionIo::default());
                self.commands.push_back(IoCommand::Connect { conn, addr });
            }
            Action::Send { conn, bytes } => {
                if let Some(io) = self.conns.get_mut(&conn) {
                    let bytes = io.encode(&bytes);
                    self.commands.push_back(IoCommand::Write { conn, bytes });
                }
            }
            Action::StartTls { conn, sni } => {
                let Some(io) = self.conns.get_mut(&conn) else {
                    return;
                };
                match io.start_tls(sni.as_deref()) {
                    Ok(hello) => self
                        .commands
                        .push_back(IoCommand::Write { conn, bytes: hello }),
                    Err(error) => {
                        // Reported like any handshake failure; the machine decides.
                        let input = OwnedInput::TlsFailed { conn, error };
                        self.pending_inputs.push_back(input);
                    }
                }
            }
            Action::Close { conn } => {
                if let Some(mut io) = self.conns.remove(&conn) {
                    let bytes = io.close();
                    if !bytes.is_empty() {
                        self.commands.push_back(IoCommand::Write { conn, bytes });
                    }
                    self.commands.push_back(IoCommand::Shutdown { conn });
                }
            }
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

/// The largest DNS message a runtime needs to read (RFC 1035 sec. 4.2.2: TCP length is 16 bits).
pub const MAX_DNS_MESSAGE: usize = 65_535;

/// How much a runtime reads from a TCP socket at once.
pub const READ_CHUNK: usize = 16 * 1024;

/// A seed from OS entropy bytes (the runtime reads them; the core never does).
pub fn seed_from_bytes(bytes: [u8; 8]) -> crate::seed::Seed {
    crate::seed::Seed(u64::from_le_bytes(bytes))
}
