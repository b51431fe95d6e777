//! The sans-IO TLS pump: a `rustls::ClientConnection` driven over byte buffers, and the
//! per-connection [`ConnectionIo`] that both runtimes and the simulated driver use (DESIGN.md
//! section 3; RFC 3207 sec. 4 for the STARTTLS upgrade, RFC 8446 and RFC 5246 for TLS).
//!
//! # Limits
//!
//! Nothing here grows without bound. rustls buffers at most one handshake message being
//! joined (64 KiB, `MAX_HANDSHAKE_SIZE`) or one TLS record (about 16 KiB) of ciphertext, and
//! [`TlsPump::feed`] hands it at most [`MAX_READ_CHUNK`] bytes at a time, draining the
//! decrypted plaintext after each step, so the plaintext returned by one `feed` is never larger
//! than the ciphertext it was given. [`TlsPump::write_plaintext`] encrypts in rustls's 64 KiB
//! send buffer and drains it as it goes.
//!
//! # Randomness
//!
//! The core draws no randomness itself. The crypto provider of the [`TlsSettings`] (*ring* by
//! default) draws the ClientHello random and the ephemeral key share from the OS (RFC 8446 sec. 4.1.2, 4.2.8): that is what makes the
//! session keys secret, and it never reaches the machine, which sees only plaintext, the chain
//! and the negotiated parameters, all determined by the server. Transcripts therefore stay
//! deterministic.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ProtocolVersion};

use super::{TlsError, TlsFailure, TlsInfo, TlsSettings};
use crate::machine::{ConnId, OwnedInput};

/// The most ciphertext handed to rustls per `read_tls` call in [`TlsPump::feed`]; the
/// plaintext it yields is drained before the next chunk.
pub const MAX_READ_CHUNK: usize = 16 * 1024;

/// Where a [`TlsPump`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PumpState {
    Handshaking,
    Established,
    /// Terminal: close_notify received or sent, or a fatal error.
    Finished,
}

/// Something that happened while feeding ciphertext to a [`TlsPump`], in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PumpEvent {
    /// The handshake completed (RFC 8446 sec. 4.4.4, RFC 5246 sec. 7.4.9). No trust decision
    /// has been made.
    Established(TlsInfo),
    /// Decrypted application data.
    Plaintext(Vec<u8>),
    /// The server sent close_notify (RFC 8446 sec. 6.1). Terminal.
    PeerClosed,
    /// A fatal TLS error (ours or the server's alert). Terminal; the alert we send, if any, is
    /// in [`TlsPump::take_outgoing`].
    Failed(TlsFailure),
}

/// Drives a `rustls::ClientConnection` over byte buffers (RFC 3207 sec. 4 upgrade).
///
/// Feed socket bytes with [`TlsPump::feed`], write what [`TlsPump::take_outgoing`] returns to
/// the socket. Plaintext is accepted by [`TlsPump::write_plaintext`] only once the handshake
/// has completed, so nothing can be sent before the machine's DANE verdict.
pub struct TlsPump {
    conn: ClientConnection,
    sni: Option<String>,
    state: PumpState,
}

impl std::fmt::Debug for TlsPump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPump")
            .field("sni", &self.sni)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// An SNI name that is not a DNS name (RFC 6066 sec. 3): nothing is sent.
fn invalid_sni(raw: &str) -> TlsFailure {
    TlsFailure::handshake(TlsError::InvalidSni {
        name: raw.to_owned(),
    })
}

impl TlsPump {
    /// Starts a client handshake with daneel's default settings ([`TlsSettings::default`]);
    /// see [`TlsPump::with_tls`].
    pub fn new(sni: Option<&str>) -> Result<Self, TlsFailure> {
        Self::with_tls(&TlsSettings::default(), sni)
    }

    /// Starts a client handshake with the configuration [`TlsSettings::client_config`] of
    /// `settings`. `sni`: the name to send in the
    /// server_name extension (RFC 6066 sec. 3; RFC 7672 sec. 8.1), or `None` to send none.
    /// A trailing dot is removed (RFC 6066 forbids it); [`TlsInfo::sni`] holds the name as
    /// sent. A name that is not a valid DNS name
    /// is a [`super::TlsFailureKind::HandshakeFailed`] failure (nothing is sent).
    pub fn with_tls(settings: &TlsSettings, sni: Option<&str>) -> Result<Self, TlsFailure> {
        let (config, name, sni) = match sni {
            Some(raw) => {
                let name = raw.strip_suffix('.').unwrap_or(raw);
                let server_name =
                    ServerName::try_from(name.to_owned()).map_err(|_| invalid_sni(raw))?;
                // As sent (case preserved; RFC 6066 sec. 3 servers compare it
                // case-insensitively, rustls servers lower-case it).
                let sent = match &server_name {
                    ServerName::DnsName(d) => d.as_ref().to_owned(),
                    _ => return Err(invalid_sni(raw)),
                };
                (settings.client_config(true), server_name, Some(sent))
            }
            // An IP address never produces a server_name extension, and the verifier
            // ignores the name.
            None => (
                settings.client_config(false),
                ServerName::IpAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED).into()),
                None,
            ),
        };
        let conn = ClientConnection::new(config, name).map_err(|e| TlsFailure::from_rustls(&e))?;
        Ok(TlsPump {
            conn,
            sni,
            state: PumpState::Handshaking,
        })
    }

    /// True until the handshake completes or fails.
    pub fn is_handshaking(&self) -> bool {
        self.state == PumpState::Handshaking
    }

    /// True once the handshake completed and until the connection finished.
    pub fn is_established(&self) -> bool {
        self.state == PumpState::Established
    }

    /// Feeds ciphertext read from the socket (all of it: there is no partial consumption) and
    /// returns what happened, in order. After a terminal event further bytes are ignored.
    /// Always follow with [`TlsPump::take_outgoing`].
    pub fn feed(&mut self, ciphertext: &[u8]) -> Vec<PumpEvent> {
        let mut events = Vec::new();
        let mut rest = ciphertext;
        while self.state != PumpState::Finished {
            let chunk_len = rest.len().min(MAX_READ_CHUNK);
            let mut chunk = &rest[..chunk_len];
            if !chunk.is_empty() {
                match self.conn.read_tls(&mut chunk) {
                    // Only after close_notify: rustls reads nothing more.
                    Ok(0) => break,
                    Ok(n) => rest = &rest[n.min(rest.len())..],
                    Err(e) => {
                        self.fail(
                            TlsFailure::handshake(TlsError::Read {
                                message: e.to_string(),
                            }),
                            &mut events,
                        );
                        break;
                    }
                }
            }
            match self.conn.process_new_packets() {
                Ok(io) => {
                    if self.state == PumpState::Handshaking && !self.conn.is_handshaking() {
                        self.state = PumpState::Established;
                        events.push(PumpEvent::Established(self.info()));
                    }
                    let pending = io.plaintext_bytes_to_read();
                    if pending > 0 {
                        let mut buf = vec![0u8; pending];
                        match self.conn.reader().read_exact(&mut buf) {
                            Ok(()) => push_plaintext(&mut events, buf),
                            Err(e) => {
                                self.fail(
                                    TlsFailure::handshake(TlsError::Read {
                                        message: e.to_string(),
                                    }),
                                    &mut events,
                                );
                                break;
                            }
                        }
                    }
                    if io.peer_has_closed() {
                        if self.state == PumpState::Handshaking {
                            self.fail(TlsFailure::closed(), &mut events);
                        } else {
                            self.state = PumpState::Finished;
                            events.push(PumpEvent::PeerClosed);
                        }
                        break;
                    }
                }
                Err(e) => {
                    self.fail(TlsFailure::from_rustls(&e), &mut events);
                    break;
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        events
    }

    fn fail(&mut self, failure: TlsFailure, events: &mut Vec<PumpEvent>) {
        self.state = PumpState::Finished;
        events.push(PumpEvent::Failed(failure));
    }

    fn info(&self) -> TlsInfo {
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .map(|s| {
                let id = s.suite();
                id.as_str().map_or_else(|| format!("{id:?}"), str::to_owned)
            })
            .unwrap_or_default();
        let chain = self
            .conn
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default();
        TlsInfo {
            version,
            cipher,
            sni: self.sni.clone(),
            chain,
        }
    }

    /// Takes the bytes to write to the socket (handshake messages, records, alerts).
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out
    }

    /// Encrypts application data and returns the records to write (including anything else
    /// pending, see [`TlsPump::take_outgoing`]). Returns nothing, and sends nothing, unless
    /// the handshake has completed: plaintext can never be queued ahead of the machine's
    /// verdict.
    pub fn write_plaintext(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = self.take_outgoing();
        if self.state != PumpState::Established {
            return out;
        }
        let mut rest = plaintext;
        while !rest.is_empty() {
            let n = std::io::Write::write(&mut self.conn.writer(), rest).unwrap_or_default();
            rest = &rest[n.min(rest.len())..];
            let flushed = self.take_outgoing();
            if n == 0 && flushed.is_empty() {
                // rustls accepts nothing and has nothing to flush: give up rather than spin.
                break;
            }
            out.extend_from_slice(&flushed);
        }
        out
    }

    /// Sends close_notify (RFC 8446 sec. 6.1) and returns the bytes to write. Terminal.
    pub fn close(&mut self) -> Vec<u8> {
        if self.state != PumpState::Finished {
            self.conn.send_close_notify();
        }
        self.state = PumpState::Finished;
        self.take_outgoing()
    }
}

fn push_plaintext(events: &mut Vec<PumpEvent>, bytes: Vec<u8>) {
    if let Some(PumpEvent::Plaintext(prev)) = events.last_mut() {
        prev.extend_from_slice(&bytes);
    } else {
        events.push(PumpEvent::Plaintext(bytes));
    }
}

/// Where a [`ConnectionIo`] stands.
#[derive(Debug, Default)]
enum Phase {
    /// Before STARTTLS: bytes pass through unchanged.
    #[default]
    Plain,
    /// After STARTTLS: every byte goes through the pump.
    Tls(Box<TlsPump>),
    /// A terminal input (`TlsFailed` or `Closed`) was produced or `close` was called:
    /// nothing more comes out.
    Done,
}

/// Per-connection byte handling shared by both runtimes and the simulated driver, so no
/// logic is copied between them: plaintext before STARTTLS, everything through a
/// [`TlsPump`] after it (RFC 3207 sec. 4).
///
/// The runtime:
/// - on [`crate::Action::Send`] writes [`ConnectionIo::encode`];
/// - on [`crate::Action::StartTls`] writes [`ConnectionIo::start_tls`]'s ClientHello (or
///   feeds `TlsFailed` on error); from then on every byte read goes through `decode` only;
/// - on every socket read writes [`Decoded::to_socket`] and feeds [`Decoded::inputs`] to the
///   machine, in order; on EOF does the same with [`ConnectionIo::eof`];
/// - on [`crate::Action::Close`] writes [`ConnectionIo::close`], then closes the socket.
///
/// Each connection produces at most one terminal input (`TlsFailed` or `Closed`); after it,
/// or after `close`, everything is ignored.
#[derive(Debug, Default)]
pub struct ConnectionIo {
    phase: Phase,
    tls: TlsSettings,
}

/// What socket bytes turned into.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes to write back to the socket (handshake messages, alerts).
    pub to_socket: Vec<u8>,
    /// Inputs for the machine, in order.
    pub inputs: Vec<OwnedInput>,
}

impl ConnectionIo {
    /// A connection in plaintext (before STARTTLS), with daneel's default TLS settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A connection in plaintext (before STARTTLS) whose TLS, once started, uses `tls`.
    pub fn with_tls(tls: TlsSettings) -> Self {
        ConnectionIo {
            phase: Phase::Plain,
            tls,
        }
    }

    /// True once STARTTLS was started (and until the connection is done).
    pub fn is_tls(&self) -> bool {
        matches!(self.phase, Phase::Tls(_))
    }

    /// Starts TLS (RFC 3207 sec. 4) with SNI `sni` (RFC 6066 sec. 3); returns the
    /// ClientHello to write. Errors (an invalid SNI name, STARTTLS twice, after close) are
    /// to be fed to the machine as `TlsFailed`; the connection is then done.
    pub fn start_tls(&mut self, sni: Option<&str>) -> Result<Vec<u8>, TlsFailure> {
        if !matches!(self.phase, Phase::Plain) {
            self.phase = Phase::Done;
            return Err(TlsFailure::handshake(TlsError::NotPlaintext));
        }
        match TlsPump::with_tls(&self.tls, sni) {
            Ok(mut pump) => {
                let hello = pump.take_outgoing();
                self.phase = Phase::Tls(Box::new(pump));
                Ok(hello)
            }
            Err(e) => {
                self.phase = Phase::Done;
                Err(e)
            }
        }
    }

    /// Encodes application bytes for the socket: unchanged before STARTTLS, encrypted after
    /// the handshake. **During the handshake, and after the connection is done, the bytes
    /// are dropped** (a machine sends nothing before its DANE verdict, RFC 7672 sec. 2.2).
    pub fn encode(&mut self, plaintext: &[u8]) -> Vec<u8> {
        match &mut self.phase {
            Phase::Plain => plaintext.to_vec(),
            Phase::Tls(pump) => pump.write_plaintext(plaintext),
            Phase::Done => Vec::new(),
        }
    }

    /// Decodes bytes read from the socket of connection `conn`: `Received` before STARTTLS;
    /// `TlsEstablished` or `TlsFailed` during the handshake; `Received` (decrypted) after it;
    /// `Closed` on close_notify or a TLS error after the handshake.
    pub fn decode(&mut self, conn: ConnId, bytes: &[u8]) -> Decoded {
        let mut out = Decoded::default();
        match &mut self.phase {
            Phase::Plain => {
                if !bytes.is_empty() {
                    out.inputs.push(OwnedInput::Received {
                        conn,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            Phase::Tls(pump) => {
                let was_established = pump.is_established();
                let events = pump.feed(bytes);
                out.to_socket = pump.take_outgoing();
                let mut established = was_established;
                let mut done = false;
                for event in events {
                    match event {
                        PumpEvent::Established(info) => {
                            established = true;
                            out.inputs.push(OwnedInput::TlsEstablished { conn, info });
                        }
                        PumpEvent::Plaintext(bytes) => {
                            out.inputs.push(OwnedInput::Received { conn, bytes });
                        }
                        PumpEvent::PeerClosed => {
                            done = true;
                            out.inputs.push(OwnedInput::Closed { conn });
                        }
                        PumpEvent::Failed(error) => {
                            done = true;
                            out.inputs.push(if established {
                                OwnedInput::Closed { conn }
                            } else {
                                OwnedInput::TlsFailed { conn, error }
                            });
                        }
                    }
                }
                if done {
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
        out
    }

    /// The socket reached EOF (or broke): `TlsFailed` with [`super::TlsFailureKind::Closed`] during
    /// the handshake, `Closed` otherwise, nothing if the connection is already done.
    pub fn eof(&mut self, conn: ConnId) -> Decoded {
        let mut out = Decoded::default();
        match std::mem::take(&mut self.phase) {
            Phase::Tls(pump) if pump.is_handshaking() => out.inputs.push(OwnedInput::TlsFailed {
                conn,
                error: TlsFailure::closed(),
            }),
            Phase::Plain | Phase::Tls(_) => out.inputs.push(OwnedInput::Closed { conn }),
            Phase::Done => {}
        }
        self.phase = Phase::Done;
        out
    }

    /// Bytes to write before closing (TLS close_notify, RFC 8446 sec. 6.1), possibly empty.
    /// The connection is done afterwards.
    pub fn close(&mut self) -> Vec<u8> {
        let out = match &mut self.phase {
            Phase::Tls(pump) => pump.close(),
            Phase::Plain | Phase::Done => Vec::new(),
        };
        self.phase = Phase::Done;
        out
    }
}
