//! The one loop every protocol machine follows (DESIGN.md section 3).
//!
//! A [`Machine`] takes [`Input`]s through [`Machine::handle_input`] and tells the caller what
//! to do through [`Machine::poll_output`]. **After every `handle_input`, drain `poll_output`
//! until it returns [`Output::Timeout`] or [`Output::Done`]** before the next input. When the
//! deadline of the last `Timeout` passes, feed [`Input::Timeout`]. `Done` repeats once
//! reached.
//!
//! Everything the peer or the network does (malformed DNS answers, odd SMTP replies, failed
//! handshakes) becomes state and ends up in the report; only local misuse of the API is an
//! `Err(UsageError)`.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::check::{CheckConfig, SmtpCheck};
use crate::report::{CheckKind, Report};
use crate::seed::Seed;
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsInfo};

/// Identifies one DNS exchange (one UDP or TCP query to one server) issued by a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryId(pub u32);

/// Identifies one TCP connection (to one address of one mail server) issued by a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(pub u32);

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// How a DNS query travels (RFC 1035 sec. 4.2; TCP after TC=1, RFC 7766 sec. 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One datagram each way. The runtime forwards every datagram that arrives on the
    /// query's socket; the core discards those that do not match the query.
    Udp,
    /// A TCP connection carrying one query with the two-byte length prefix.
    Tcp,
}

/// A network failure as reported by a runtime.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum NetError {
    /// The peer refused the connection (RST, ICMP port unreachable).
    Refused,
    /// No route to the address, or the address family is unavailable.
    Unreachable,
    /// The connection was reset after it was established.
    Reset,
    /// The operating system gave up connecting (`ETIMEDOUT`), before the core's own
    /// deadline.
    TimedOut,
    /// This process or host ran out of a local resource (file descriptors, socket buffers,
    /// memory): our failure, never the peer's.
    LocalResources(LocalFailure),
    /// Another I/O error, by the name of its [`std::io::ErrorKind`] and with the operating
    /// system's description.
    Io {
        /// The `std::io::ErrorKind`, e.g. `PermissionDenied`.
        error_kind: String,
        /// The operating system's description.
        message: String,
    },
    /// Anything else, with the runtime's description (transcripts of formats 1 and 2 held
    /// every other I/O error so).
    Other(String),
    /// A TCP stream to a resolver closed before it carried a whole answer (RFC 7766 sec. 8).
    DnsStreamClosed,
    /// A TCP stream to a resolver sent more than one answer can hold (RFC 1035 sec. 4.2.2:
    /// a two-octet length prefix, then one message).
    DnsStreamOverflow,
}

impl NetError {
    /// Classifies an I/O error from a runtime's socket call (the runtimes share this mapping).
    pub fn from_io(error: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        let local = |resource| {
            NetError::LocalResources(LocalFailure {
                resource,
                message: error.to_string(),
            })
        };
        match error.kind() {
            ErrorKind::ConnectionRefused => NetError::Refused,
            ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::AddrNotAvailable => NetError::Unreachable,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                NetError::Reset
            }
            ErrorKind::TimedOut => NetError::TimedOut,
            ErrorKind::OutOfMemory => local(LocalResource::Memory),
            // EMFILE (24) and ENFILE (23) have these numbers on Linux and the BSDs; std has no
            // stable ErrorKind for them.
            _ if cfg!(unix) && matches!(error.raw_os_error(), Some(23 | 24)) => {
                local(LocalResource::FileDescriptors)
            }
            kind => NetError::Io {
                error_kind: format!("{kind:?}"),
                message: error.to_string(),
            },
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Refused => f.write_str("connection refused"),
            NetError::Unreachable => f.write_str("network unreachable"),
            NetError::Reset => f.write_str("connection reset"),
            NetError::TimedOut => f.write_str("connection timed out"),
            NetError::LocalResources(e) => write!(f, "local resources exhausted: {e}"),
            NetError::Io {
                error_kind,
                message,
            } => write!(f, "{message} ({error_kind})"),
            NetError::Other(s) => f.write_str(s),
            NetError::DnsStreamClosed => {
                f.write_str("the resolver closed the TCP stream before answering")
            }
            NetError::DnsStreamOverflow => {
                f.write_str("TCP DNS stream sent more than one answer can hold")
            }
        }
    }
}

/// The local resource that ran out (issue 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalResource {
    /// File descriptors (`EMFILE`, `ENFILE`).
    FileDescriptors,
    /// Memory or socket buffers (`ENOMEM`, `ENOBUFS`).
    Memory,
    /// Not said (transcripts of formats 1 and 2 kept only the description).
    Unspecified,
}

impl fmt::Display for LocalResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocalResource::FileDescriptors => "file descriptors",
            LocalResource::Memory => "memory",
            LocalResource::Unspecified => "local resources",
        })
    }
}

/// A local resource ran out: which one, and the operating system's description. Reads the
/// bare description that transcripts of formats 1 and 2 held, as [`LocalResource::Unspecified`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "LocalFailureWire")]
pub struct LocalFailure {
    /// The resource.
    pub resource: LocalResource,
    /// The operating system's description.
    pub message: String,
}

impl fmt::Display for LocalFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.resource, self.message)
    }
}

/// The forms a [`LocalFailure`] is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum LocalFailureWire {
    Typed {
        resource: LocalResource,
        message: String,
    },
    Described(String),
}

impl From<LocalFailureWire> for LocalFailure {
    fn from(wire: LocalFailureWire) -> Self {
        match wire {
            LocalFailureWire::Typed { resource, message } => LocalFailure { resource, message },
            LocalFailureWire::Described(message) => LocalFailure {
                resource: LocalResource::Unspecified,
                message,
            },
        }
    }
}

/// What happened, as seen by the runtime or the application. Borrows its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A DNS message arrived for `query` (without the TCP length prefix).
    DnsAnswer {
        /// The exchange this answers.
        query: QueryId,
        /// The datagram's source address and port, as the socket reported it (`None` when
        /// unknown, as in old transcripts: then taken as the queried server). Anything not
        /// from the queried server is dropped (RFC 5452 sec. 9.1).
        from: Option<SocketAddr>,
        /// The message as received.
        wire: &'a [u8],
    },
    /// The exchange failed at the transport level (not a DNS error code).
    DnsFailed {
        /// The failed exchange.
        query: QueryId,
        /// Why.
        error: NetError,
    },
    /// The runtime holds the connection of [`Action::Connect`] back (a scan's
    /// per-destination limit or connection rate): its connect deadline waits for
    /// [`Input::Connecting`]. A runtime that connects at once never sends it.
    ConnectQueued {
        /// The connection.
        conn: ConnId,
    },
    /// The runtime starts connecting only now, after [`Input::ConnectQueued`]: the connect
    /// deadline runs from here.
    Connecting {
        /// The connection.
        conn: ConnId,
    },
    /// The TCP connection is established.
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// The TCP connection could not be established.
    ConnectFailed {
        /// The connection.
        conn: ConnId,
        /// Why.
        error: NetError,
    },
    /// Bytes from the peer: plaintext before STARTTLS, decrypted application data after.
    Received {
        /// The connection.
        conn: ConnId,
        /// The bytes, in order, exactly as read.
        bytes: &'a [u8],
    },
    /// The TLS handshake requested by [`Action::StartTls`] completed. No trust decision has
    /// been made: the machine decides with [`crate::dane::verify()`] before sending anything.
    TlsEstablished {
        /// The connection.
        conn: ConnId,
        /// The negotiated parameters and the presented chain.
        info: TlsInfo,
    },
    /// The TLS handshake failed.
    TlsFailed {
        /// The connection.
        conn: ConnId,
        /// Why, classified (RFC 7672 sec. 2.2: a failed handshake is not a cleartext licence).
        error: TlsFailure,
    },
    /// The peer closed the connection (EOF) or it broke.
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// The deadline of the last [`Output::Timeout`] passed.
    Timeout,
    /// The application asks the machine to stop now and report what it has.
    Abort,
}

/// An owned [`Input`], for transcripts, fuzzing and queues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "input")]
#[non_exhaustive]
pub enum OwnedInput {
    /// See [`Input::DnsAnswer`]; `wire` is hex in JSON.
    DnsAnswer {
        /// The exchange.
        query: QueryId,
        /// The source address; absent in transcripts recorded before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<SocketAddr>,
        /// The message.
        #[serde(with = "crate::hex::serde_bytes")]
        wire: Vec<u8>,
    },
    /// See [`Input::DnsFailed`].
    DnsFailed {
        /// The exchange.
        query: QueryId,
        /// Why.
        error: NetError,
    },
    /// See [`Input::ConnectQueued`].
    ConnectQueued {
        /// The connection.
        conn: ConnId,
    },
    /// See [`Input::Connecting`].
    Connecting {
        /// The connection.
        conn: ConnId,
    },
    /// See [`Input::Connected`].
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// See [`Input::ConnectFailed`].
    ConnectFailed {
        /// The connection.
        conn: ConnId,
        /// Why.
        error: NetError,
    },
    /// See [`Input::Received`]; `bytes` is hex in JSON.
    Received {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        #[serde(with = "crate::hex::serde_bytes")]
        bytes: Vec<u8>,
    },
    /// See [`Input::TlsEstablished`].
    TlsEstablished {
        /// The connection.
        conn: ConnId,
        /// The handshake's outcome.
        info: TlsInfo,
    },
    /// See [`Input::TlsFailed`].
    TlsFailed {
        /// The connection.
        conn: ConnId,
        /// Why.
        error: TlsFailure,
    },
    /// See [`Input::Closed`].
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// See [`Input::Timeout`].
    Timeout,
    /// See [`Input::Abort`].
    Abort,
}

impl OwnedInput {
    /// The connection this input is about, to rename it (a scan, a re-decided transcript);
    /// `None` for DNS, timer and abort inputs.
    pub fn conn_mut(&mut self) -> Option<&mut ConnId> {
        match self {
            OwnedInput::ConnectQueued { conn }
            | OwnedInput::Connecting { conn }
            | OwnedInput::Connected { conn }
            | OwnedInput::ConnectFailed { conn, .. }
            | OwnedInput::Received { conn, .. }
            | OwnedInput::TlsEstablished { conn, .. }
            | OwnedInput::TlsFailed { conn, .. }
            | OwnedInput::Closed { conn } => Some(conn),
            OwnedInput::DnsAnswer { .. }
            | OwnedInput::DnsFailed { .. }
            | OwnedInput::Timeout
            | OwnedInput::Abort => None,
        }
    }

    /// Borrows this input for [`Machine::handle_input`].
    pub fn as_input(&self) -> Input<'_> {
        match self {
            OwnedInput::DnsAnswer { query, from, wire } => Input::DnsAnswer {
                query: *query,
                from: *from,
                wire,
            },
            OwnedInput::DnsFailed { query, error } => Input::DnsFailed {
                query: *query,
                error: error.clone(),
            },
            OwnedInput::ConnectQueued { conn } => Input::ConnectQueued { conn: *conn },
            OwnedInput::Connecting { conn } => Input::Connecting { conn: *conn },
            OwnedInput::Connected { conn } => Input::Connected { conn: *conn },
            OwnedInput::ConnectFailed { conn, error } => Input::ConnectFailed {
                conn: *conn,
                error: error.clone(),
            },
            OwnedInput::Received { conn, bytes } => Input::Received { conn: *conn, bytes },
            OwnedInput::TlsEstablished { conn, info } => Input::TlsEstablished {
                conn: *conn,
                info: info.clone(),
            },
            OwnedInput::TlsFailed { conn, error } => Input::TlsFailed {
                conn: *conn,
                error: error.clone(),
            },
            OwnedInput::Closed { conn } => Input::Closed { conn: *conn },
            OwnedInput::Timeout => Input::Timeout,
            OwnedInput::Abort => Input::Abort,
        }
    }
}

impl Input<'_> {
    /// The connection this input is about; `None` for DNS, timer and abort inputs.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Input::ConnectQueued { conn }
            | Input::Connecting { conn }
            | Input::Connected { conn }
            | Input::ConnectFailed { conn, .. }
            | Input::Received { conn, .. }
            | Input::TlsEstablished { conn, .. }
            | Input::TlsFailed { conn, .. }
            | Input::Closed { conn } => Some(*conn),
            Input::DnsAnswer { .. } | Input::DnsFailed { .. } | Input::Timeout | Input::Abort => {
                None
            }
        }
    }

    /// Copies this input into an [`OwnedInput`].
    pub fn to_owned_input(&self) -> OwnedInput {
        match self {
            Input::DnsAnswer { query, from, wire } => OwnedInput::DnsAnswer {
                query: *query,
                from: *from,
                wire: wire.to_vec(),
            },
            Input::DnsFailed { query, error } => OwnedInput::DnsFailed {
                query: *query,
                error: error.clone(),
            },
            Input::ConnectQueued { conn } => OwnedInput::ConnectQueued { conn: *conn },
            Input::Connecting { conn } => OwnedInput::Connecting { conn: *conn },
            Input::Connected { conn } => OwnedInput::Connected { conn: *conn },
            Input::ConnectFailed { conn, error } => OwnedInput::ConnectFailed {
                conn: *conn,
                error: error.clone(),
            },
            Input::Received { conn, bytes } => OwnedInput::Received {
                conn: *conn,
                bytes: bytes.to_vec(),
            },
            Input::TlsEstablished { conn, info } => OwnedInput::TlsEstablished {
                conn: *conn,
                info: info.clone(),
            },
            Input::TlsFailed { conn, error } => OwnedInput::TlsFailed {
                conn: *conn,
                error: error.clone(),
            },
            Input::Closed { conn } => OwnedInput::Closed { conn: *conn },
            Input::Timeout => OwnedInput::Timeout,
            Input::Abort => OwnedInput::Abort,
        }
    }
}

/// Something the runtime must do. Owns its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Send a DNS query (RFC 1035 sec. 4.2) and report answers as [`Input::DnsAnswer`].
    SendDns {
        /// The exchange's id (not the DNS message id).
        query: QueryId,
        /// The resolver.
        server: SocketAddr,
        /// UDP, or TCP with the two-byte length prefix.
        transport: Transport,
        /// The query message.
        #[serde(with = "crate::hex::serde_bytes")]
        wire: Vec<u8>,
    },
    /// Open a TCP connection and report [`Input::Connected`] or [`Input::ConnectFailed`].
    Connect {
        /// The connection's id.
        conn: ConnId,
        /// Where to.
        addr: SocketAddr,
    },
    /// Write bytes: plaintext on the socket before STARTTLS, through the TLS pump after.
    Send {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        #[serde(with = "crate::hex::serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Start TLS on the connection with `TlsPump` (RFC 3207 sec. 4; RFC 7672
    /// sec. 8.1 for SNI). From now on every socket byte goes through the pump only.
    StartTls {
        /// The connection.
        conn: ConnId,
        /// The SNI name to send, if any.
        sni: Option<String>,
    },
    /// Close the connection (after a TLS close_notify if TLS is up).
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// The DNS exchange `query` is over (answered, timed out, failed or abandoned): release
    /// its socket. Every [`Action::SendDns`] is followed by exactly one `EndDns`, unless the
    /// machine finishes first; later answers to it are ignored (RFC 5452 sec. 9.1).
    EndDns {
        /// The exchange.
        query: QueryId,
    },
}

/// What [`Machine::poll_output`] returns.
///
/// In JSON (a transcript line) each variant is an object tagged `output` with one field:
/// `{"output": "action", "action": {..}}`, `{"output": "timeout", "deadline": ..}`,
/// `{"output": "done", "report": {..}}`, the shapes of transcript format 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "output")]
pub enum Output {
    /// Perform this action, then poll again.
    #[serde(with = "output_field::action")]
    Action(Action),
    /// Nothing more to do now: wait for an input, or feed [`Input::Timeout`] at this deadline.
    #[serde(with = "output_field::deadline")]
    Timeout(Timestamp),
    /// The machine has finished; this repeats on every later poll.
    #[serde(with = "output_field::report")]
    Done(Box<Report>),
}

/// The one named field of each [`Output`] variant in JSON.
mod output_field {
    /// Defines a module that (de)serializes a value as `{ $name: value }`.
    macro_rules! named_field {
        ($module:ident, $ty:ty) => {
            pub(crate) mod $module {
                use serde::{Deserialize, Deserializer, Serialize, Serializer};

                #[derive(Serialize)]
                struct Out<'a> {
                    $module: &'a $ty,
                }

                #[derive(Deserialize)]
                struct In {
                    $module: $ty,
                }

                pub(crate) fn serialize<S: Serializer>(
                    value: &$ty,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    Out { $module: value }.serialize(s)
                }

                pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<$ty, D::Error> {
                    In::deserialize(d).map(|v| v.$module)
                }
            }
        };
    }
    named_field!(action, crate::machine::Action);
    named_field!(deadline, crate::time::Timestamp);
    named_field!(report, Box<crate::report::Report>);
}

/// A local misuse of the machine API (h11's `LocalProtocolError`). Never caused by a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// An input named a query id the machine never issued.
    UnknownQuery(QueryId),
    /// An input named a connection id the machine never issued.
    UnknownConn(ConnId),
    /// An input arrived after the machine reported [`Output::Done`].
    AfterDone,
    /// The machine's configuration is invalid, with the reason.
    InvalidConfig(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownQuery(q) => write!(f, "input for unknown DNS query {q}"),
            UsageError::UnknownConn(c) => write!(f, "input for unknown connection {c}"),
            UsageError::AfterDone => f.write_str("input after the machine finished"),
            UsageError::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// A sans-IO protocol machine (`SmtpCheck`, later `MuaCheck`). Object-safe, so one runtime
/// loop drives any of them.
pub trait Machine {
    /// Feeds one input at time `now` (clamped so it never runs backwards). Drain
    /// [`Machine::poll_output`] afterwards.
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError>;

    /// The next thing to do. Call repeatedly until `Timeout` or `Done`.
    fn poll_output(&mut self, now: Timestamp) -> Output;
}

impl<M: Machine + ?Sized> Machine for Box<M> {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        (**self).handle_input(now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        (**self).poll_output(now)
    }
}

/// The configuration of any check, tagged with its [`CheckKind`]: what a transcript's header
/// holds (`"config": {"kind": "smtp", ..}`), so that one `daneel replay` recreates any
/// machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MachineConfig {
    /// An SMTP check ([`SmtpCheck`], RFC 7672).
    Smtp(CheckConfig),
    /// A MUA check ([`crate::mua::MuaCheck`], RFC 6186, RFC 7673).
    Mua(crate::mua::MuaConfig),
}

impl MachineConfig {
    /// Which check this configures.
    pub fn kind(&self) -> CheckKind {
        match self {
            MachineConfig::Smtp(_) => CheckKind::Smtp,
            MachineConfig::Mua(_) => CheckKind::Mua,
        }
    }

    /// Creates the machine this configures, with `seed`, started at `now`.
    pub fn start(&self, seed: Seed, now: Timestamp) -> Result<Box<dyn Machine + Send>, UsageError> {
        match self {
            MachineConfig::Smtp(c) => Ok(Box::new(SmtpCheck::new(c.clone(), seed, now)?)),
            MachineConfig::Mua(c) => Ok(Box::new(crate::mua::MuaCheck::new(c.clone(), seed, now)?)),
        }
    }
}

impl From<crate::mua::MuaConfig> for MachineConfig {
    fn from(config: crate::mua::MuaConfig) -> Self {
        MachineConfig::Mua(config)
    }
}

impl From<CheckConfig> for MachineConfig {
    fn from(config: CheckConfig) -> Self {
        MachineConfig::Smtp(config)
    }
}
