//! Mail servers as sans-IO scripts with real TLS: SMTP with STARTTLS (RFC 5321, RFC 3207),
//! and implicit-TLS IMAP, POP3 and SMTP submission (RFC 8314 sec. 3).
//!
//! A [`MailServer`] is data (protocol, banner, EHLO keywords, STARTTLS, certificates, a
//! [`Behaviour`], other services on other ports); a [`ServerSession`] plays one connection:
//! feed it the socket bytes the client sent and write back [`ServerStep::to_client`]. After
//! `220 2.0.0 Ready to start TLS`, or from the first byte for an implicit-TLS server, the
//! session runs a `rustls::ServerConnection`, so `on_bytes` takes and returns TLS records
//! from then on. The simulated driver and the live driver use the same session.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The longest command line accepted (RFC 5321 sec. 4.5.3.1.4: 512 octets; we allow more).
pub const MAX_LINE: usize = 4096;

/// A point of the SMTP dialogue, for [`Behaviour::StallAfter`] and [`Behaviour::CloseAfter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Right after the TCP connection is accepted: no banner.
    Connect,
    /// When the first EHLO/HELO arrives: no reply to it.
    Ehlo,
    /// When STARTTLS arrives: no reply to it.
    StartTls,
    /// After `220 Ready to start TLS`: no handshake reply (ServerHello).
    Handshake,
    /// When EHLO arrives inside TLS: no reply to it.
    TlsEhlo,
}

/// How a server misbehaves.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// A well-behaved server.
    #[default]
    Normal,
    /// Sends these bytes right after `220 Ready to start TLS`, in the same write: the
    /// STARTTLS command injection of RFC 3207 sec. 4.2 / CVE-2011-0411 seen from the client.
    InjectAfterStartTls(Vec<u8>),
    /// Stops answering at this stage (the client must time out).
    StallAfter(Stage),
    /// Closes the connection at this stage.
    CloseAfter(Stage),
    /// Greets with `421 4.3.2 Service not available` and closes (RFC 5321 sec. 3.8).
    Greeting421,
    /// Advertises STARTTLS (if offered) but answers it `454 4.7.0 TLS not available`.
    NoTlsSupport,
    /// Answers STARTTLS with 220, then sends bytes that are not TLS.
    TlsGarbage,
    /// Sends these bytes instead of a greeting, then nothing more (malformed, oversized or
    /// unterminated replies). An implicit-TLS server sends them over TLS, after the
    /// handshake.
    RawGreeting(Vec<u8>),
    /// Appends these bytes to the plaintext EHLO reply, in the same write: a reply to a
    /// command the client has not sent (e.g. a `220` "answering" STARTTLS in advance).
    ExtraAfterEhlo(Vec<u8>),
    /// Answers STARTTLS with a multi-line `220` reply of about [`TRICKLE_REPLY_BYTES`]
    /// bytes, one byte per [`TRICKLE_PACE`] (a server trickling its reply: only the client's
    /// per-stage deadline bounds the wait), and never starts TLS.
    TrickleStartTls,
    /// Answers STARTTLS with one `220` line of this many bytes (say 100 MB, generated when
    /// sent), then nothing more: the client's line limit must bound it.
    HugeStartTlsLine(usize),
    /// Answers STARTTLS with a `220` reply of this many lines, then nothing more: the
    /// client's reply limits must bound it.
    ManyLineStartTlsReply(usize),
    /// Answers STARTTLS with 220, then answers the ClientHello with a fatal TLS alert of
    /// this description (RFC 8446 sec. 6.2; 40 is handshake_failure) and closes.
    TlsAlert(u8),
    /// IMAP: greets `* PREAUTH` (RFC 9051 sec. 7.1.4), which leaves no way to STARTTLS.
    Preauth,
    /// IMAP or POP3: answers the capability query outside TLS with these bytes instead,
    /// then closes (absurd literals, unterminated multi-line responses).
    RawCapability(Vec<u8>),
}

/// The pace of [`Behaviour::TrickleStartTls`]: one byte per second.
pub const TRICKLE_PACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The length of the reply [`Behaviour::TrickleStartTls`] trickles: at [`TRICKLE_PACE`] it
/// would take longer than the RFC 5321 sec. 4.5.3.2 five-minute stage timeout.
pub const TRICKLE_REPLY_BYTES: usize = 1_000;

/// The TLS protocol versions a server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3.
    #[default]
    All,
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
}

/// A server's TLS identity: a default chain and key, optional chains by SNI, versions.
///
/// Chains are served through a custom [`ResolvesServerCert`], so any DER is accepted (v1,
/// expired, self-signed, odd names): rustls never parses the server's own certificates.
#[derive(Clone, Debug)]
pub struct ServerTls {
    default: Option<Arc<CertifiedKey>>,
    by_sni: BTreeMap<String, Arc<CertifiedKey>>,
    versions: TlsVersions,
    custom: Option<Arc<ServerConfig>>,
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> Result<Arc<CertifiedKey>, rustls::Error> {
    let signer = rustls::crypto::ring::sign::any_supported_type(key)?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

impl ServerTls {
    /// Presents `chain` (leaf first) with `key` (PKCS#8, SEC1 or PKCS#1 DER) to every client.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<ServerTls, rustls::Error> {
        Ok(ServerTls {
            default: Some(certified(chain, key)?),
            by_sni: BTreeMap::new(),
            versions: TlsVersions::All,
            custom: None,
        })
    }

    /// Presents only by SNI: a client without SNI (or with another name) gets a handshake
    /// failure unless a default is set (scenario S61).
    pub fn sni_only() -> ServerTls {
        ServerTls {
            default: None,
            by_sni: BTreeMap::new(),
            versions: TlsVersions::All,
            custom: None,
        }
    }

    /// Uses a complete rustls configuration (e.g. from `crate::tls_server`).
    pub fn from_config(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls {
            default: None,
            by_sni: BTreeMap::new(),
            versions: TlsVersions::All,
            custom: Some(config),
        }
    }

    /// Presents `chain` to clients sending SNI `name`.
    pub fn with_sni(
        mut self,
        name: &str,
        chain: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<ServerTls, rustls::Error> {
        self.by_sni
            .insert(name.to_ascii_lowercase(), certified(chain, key)?);
        Ok(self)
    }

    /// Restricts the protocol versions.
    pub fn versions(mut self, versions: TlsVersions) -> ServerTls {
        self.versions = versions;
        self
    }

    /// The rustls configuration for one connection.
    pub fn config(&self) -> Result<Arc<ServerConfig>, rustls::Error> {
        if let Some(c) = &self.custom {
            return Ok(c.clone());
        }
        let versions: &[&'static rustls::SupportedProtocolVersion] = match self.versions {
            TlsVersions::All => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersions::Tls12Only => &[&rustls::version::TLS12],
            TlsVersions::Tls13Only => &[&rustls::version::TLS13],
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver {
                default: self.default.clone(),
                by_sni: self.by_sni.clone(),
            }));
        Ok(Arc::new(cfg))
    }
}

#[derive(Debug)]
struct Resolver {
    default: Option<Arc<CertifiedKey>>,
    by_sni: BTreeMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|n| self.by_sni.get(&n.to_ascii_lowercase()).cloned())
            .or_else(|| self.default.clone())
    }
}

/// A mail transaction the server accepted, as it received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMail {
    /// The MAIL command line, parameters included.
    pub mail: String,
    /// The recipients it accepted.
    pub rcpts: Vec<String>,
    /// The message: dots restored (DATA) or as chunked (BDAT).
    pub data: Vec<u8>,
    /// `DATA` or `BDAT`.
    pub method: &'static str,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// What a server received of mail transactions, shared by every connection to it (and by
/// every clone of its [`MailServer`]), so a test reads it back after the run.
#[derive(Clone, Debug, Default)]
pub struct Mailbox(Arc<Mutex<MailboxInner>>);

#[derive(Debug, Default)]
struct MailboxInner {
    commands: Vec<(String, bool)>,
    stored: Vec<StoredMail>,
}

impl Mailbox {
    /// Every transaction command line received (MAIL, RCPT, DATA, BDAT, RSET), with
    /// whether it came over TLS.
    pub fn commands(&self) -> Vec<(String, bool)> {
        self.0
            .lock()
            .map(|m| m.commands.clone())
            .unwrap_or_default()
    }

    /// The messages accepted.
    pub fn stored(&self) -> Vec<StoredMail> {
        self.0.lock().map(|m| m.stored.clone()).unwrap_or_default()
    }

    fn command(&self, line: &str, tls: bool) {
        if let Ok(mut m) = self.0.lock() {
            m.commands.push((line.to_string(), tls));
        }
    }

    fn store(&self, mail: StoredMail) {
        if let Ok(mut m) = self.0.lock() {
            m.stored.push(mail);
        }
    }
}

/// How a server answers mail transactions (RFC 5321 sec. 3.3): `250` to everything by
/// default, or the reply lines set here.
#[derive(Clone, Debug, Default)]
pub struct TransactionScript {
    /// The reply to MAIL, instead of `250 2.1.0 OK`.
    pub mail: Option<String>,
    /// Per recipient address (lower case), the reply to its RCPT, instead of
    /// `250 2.1.5 OK`.
    pub rcpt: BTreeMap<String, String>,
    /// The reply after the message, instead of `250 2.0.0 Ok: queued`.
    pub data: Option<String>,
}

/// The message being received.
#[derive(Debug)]
enum Incoming {
    /// After `354`: lines up to the lone dot.
    Dot(Vec<u8>),
    /// After `BDAT n`: `n` more bytes, then the reply; `last` for `BDAT n LAST`.
    Bdat { remaining: usize, last: bool },
}

/// The transaction in progress on one connection.
#[derive(Debug, Default)]
struct Txn {
    mail: Option<String>,
    rcpts: Vec<String>,
    chunks: Vec<u8>,
    incoming: Option<Incoming>,
}

/// The protocol a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// SMTP (relay or submission), RFC 5321.
    #[default]
    Smtp,
    /// IMAP, RFC 9051: `* OK` greeting, `a LOGOUT`.
    Imap,
    /// POP3, RFC 1939: `+OK` greeting, `QUIT`.
    Pop3,
}

/// One mail server: what it says and how it behaves.
#[derive(Clone, Debug)]
pub struct MailServer {
    /// The host name in the banner and the EHLO reply.
    pub hostname: String,
    /// The text after `220 ` in the banner.
    pub banner: String,
    /// EHLO keywords other than STARTTLS, in order (RFC 5321 sec. 4.1.1.1).
    pub ehlo_lines: Vec<String>,
    /// Whether `STARTTLS` is advertised (outside TLS).
    pub offers_starttls: bool,
    /// The TLS identity; without it STARTTLS is answered 454.
    pub tls: Option<ServerTls>,
    /// The misbehaviour, if any.
    pub behaviour: Behaviour,
    /// The protocol.
    pub protocol: Protocol,
    /// TLS from the first byte (RFC 8314 sec. 3): the handshake, then the greeting over TLS.
    pub implicit_tls: bool,
    /// Other services of the same address, by port (an IMAP server on 993 beside the SMTP
    /// server on the world's port).
    pub services: BTreeMap<u16, MailServer>,
    /// How it answers mail transactions.
    pub script: TransactionScript,
    /// What it received of mail transactions.
    pub mailbox: Mailbox,
}

impl MailServer {
    /// An implicit-TLS server of `protocol` named `hostname` with this identity (imaps,
    /// pop3s, submissions; RFC 8314 sec. 3).
    pub fn implicit(protocol: Protocol, hostname: &str, tls: ServerTls) -> MailServer {
        MailServer {
            protocol,
            implicit_tls: true,
            ..MailServer::new(hostname).with_tls(tls).without_starttls()
        }
    }

    /// Adds `server` as the service on `port` of the same address.
    pub fn with_service(mut self, port: u16, server: MailServer) -> MailServer {
        self.services.insert(port, server);
        self
    }

    /// The server answering on `port`, where `self` answers on `default_port` (the world's
    /// [`crate::world::World::smtp_port`]).
    pub fn for_port(&self, port: u16, default_port: u16) -> Option<&MailServer> {
        if port == default_port {
            Some(self)
        } else {
            self.services.get(&port)
        }
    }

    /// A plaintext server (no STARTTLS) named `hostname`.
    pub fn new(hostname: &str) -> MailServer {
        MailServer {
            hostname: hostname.to_string(),
            banner: format!("{hostname} ESMTP daneel-world"),
            ehlo_lines: vec![
                "PIPELINING".into(),
                "SIZE 10240000".into(),
                "8BITMIME".into(),
                "ENHANCEDSTATUSCODES".into(),
            ],
            offers_starttls: false,
            tls: None,
            behaviour: Behaviour::Normal,
            protocol: Protocol::Smtp,
            implicit_tls: false,
            services: BTreeMap::new(),
            script: TransactionScript::default(),
            mailbox: Mailbox::default(),
        }
    }

    /// Answers mail transactions per `script`.
    pub fn with_script(mut self, script: TransactionScript) -> MailServer {
        self.script = script;
        self
    }

    /// Adds EHLO keywords (`CHUNKING`, `SMTPUTF8`, ...); `REQUIRETLS` is only ever
    /// advertised over TLS (RFC 8689 sec. 4.2).
    pub fn with_keywords(mut self, keywords: &[&str]) -> MailServer {
        self.ehlo_lines
            .extend(keywords.iter().map(|k| k.to_string()));
        self
    }

    /// Removes the EHLO keywords starting with `prefix` (e.g. `PIPELINING`).
    pub fn without_keyword(mut self, prefix: &str) -> MailServer {
        self.ehlo_lines.retain(|l| !l.starts_with(prefix));
        self
    }

    /// A server offering STARTTLS with this identity.
    pub fn with_tls(mut self, tls: ServerTls) -> MailServer {
        self.tls = Some(tls);
        self.offers_starttls = true;
        self
    }

    /// Sets the behaviour.
    pub fn behaviour(mut self, behaviour: Behaviour) -> MailServer {
        self.behaviour = behaviour;
        self
    }

    /// Stops advertising STARTTLS (the identity stays, for servers that hide it).
    pub fn without_starttls(mut self) -> MailServer {
        self.offers_starttls = false;
        self
    }
}

/// What the server does in answer to one event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStep {
    /// Socket bytes for the client (TLS records once TLS is up).
    pub to_client: Vec<u8>,
    /// True when this step ended with `220 Ready to start TLS`: socket bytes from now on
    /// are TLS.
    pub start_tls: bool,
    /// True when the server closes the connection after writing `to_client`.
    pub close: bool,
    /// When set, the driver writes `to_client` one byte at a time, this long apart.
    pub pace: Option<std::time::Duration>,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Plain,
    Tls,
    /// [`Behaviour::TlsGarbage`]: answers the ClientHello with bytes that are no TLS record.
    GarbageForHello,
    /// [`Behaviour::TlsAlert`]: answers the ClientHello with this fatal alert.
    AlertForHello(u8),
    Stalled,
    Closed,
}

/// One connection to a [`MailServer`].
pub struct ServerSession {
    spec: MailServer,
    phase: Phase,
    tls: Option<ServerConnection>,
    inbuf: Vec<u8>,
    greeted: bool,
    handshake_done: bool,
    sni: Option<String>,
    txn: Txn,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("host", &self.spec.hostname)
            .field("phase", &self.phase)
            .finish()
    }
}

impl ServerSession {
    /// A session for one accepted connection.
    pub fn new(spec: &MailServer) -> ServerSession {
        ServerSession {
            spec: spec.clone(),
            phase: Phase::Plain,
            tls: None,
            inbuf: Vec::new(),
            greeted: false,
            handshake_done: false,
            sni: None,
            txn: Txn::default(),
        }
    }

    /// Whether TLS has started (after `220 Ready to start TLS`).
    pub fn in_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The SNI the client sent, once the handshake has progressed far enough.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// Whether the session has closed.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The connection was accepted: the banner (RFC 5321 sec. 3.1).
    pub fn on_connect(&mut self) -> ServerStep {
        let mut step = ServerStep::default();
        if self.spec.implicit_tls {
            match (
                &self.spec.behaviour,
                self.spec.tls.as_ref().map(|t| t.config()),
            ) {
                (Behaviour::StallAfter(Stage::Handshake), _) => self.phase = Phase::Stalled,
                (Behaviour::CloseAfter(Stage::Handshake), _) | (_, None | Some(Err(_))) => {
                    self.close(&mut step)
                }
                (_, Some(Ok(config))) => match ServerConnection::new(config) {
                    Ok(conn) => {
                        self.tls = Some(conn);
                        self.phase = Phase::Tls;
                    }
                    Err(_) => self.close(&mut step),
                },
            }
            return step;
        }
        match &self.spec.behaviour {
            Behaviour::StallAfter(Stage::Connect) => self.phase = Phase::Stalled,
            Behaviour::CloseAfter(Stage::Connect) => self.close(&mut step),
            Behaviour::RawGreeting(bytes) => {
                step.to_client = bytes.clone();
                self.phase = Phase::Stalled;
            }
            Behaviour::Greeting421 => {
                step.to_client = b"421 4.3.2 Service not available, closing channel\r\n".to_vec();
                self.close(&mut step);
            }
            _ => step.to_client = self.greeting().into_bytes(),
        }
        step
    }

    /// The greeting line of the protocol (RFC 5321 sec. 4.2, RFC 9051 sec. 7.1.1, RFC 1939
    /// sec. 4).
    fn greeting(&self) -> String {
        let host = &self.spec.hostname;
        match (self.spec.protocol, &self.spec.behaviour) {
            (Protocol::Imap, Behaviour::Preauth) => {
                format!("* PREAUTH {host} IMAP daneel-world: logged in\r\n")
            }
            (Protocol::Imap, _) => {
                format!("* OK {host} IMAP daneel-world ready\r\n")
            }
            (Protocol::Pop3, _) => format!("+OK {host} POP3 daneel-world ready\r\n"),
            (Protocol::Smtp, _) => format!("220 {}\r\n", self.spec.banner),
        }
    }

    /// The client closed its side: the server closes too.
    pub fn on_eof(&mut self) -> ServerStep {
        let mut step = ServerStep::default();
        if self.phase != Phase::Closed {
            self.close(&mut step);
        }
        step
    }

    /// Socket bytes from the client.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> ServerStep {
        let mut step = ServerStep::default();
        match self.phase {
            Phase::Stalled | Phase::Closed => step,
            Phase::GarbageForHello => {
                step.to_client
                    .extend_from_slice(b"this is not a TLS record\r\n");
                self.phase = Phase::Stalled;
                step
            }
            Phase::AlertForHello(description) => {
                // An alert record (RFC 8446 sec. 5.1, 6): level fatal (2), the description.
                step.to_client.extend_from_slice(&[
                    0x15,
                    0x03,
                    0x03,
                    0x00,
                    0x02,
                    0x02,
                    description,
                ]);
                self.phase = Phase::Closed;
                step.close = true;
                step
            }
            Phase::Plain => {
                self.inbuf.extend_from_slice(bytes);
                let mut out = Vec::new();
                self.process_lines(&mut out, &mut step);
                step.to_client.splice(0..0, out);
                step
            }
            Phase::Tls => {
                self.on_tls_bytes(bytes, &mut step);
                step
            }
        }
    }

    fn close(&mut self, step: &mut ServerStep) {
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
            let _ = tls.write_tls(&mut step.to_client);
        }
        self.phase = Phase::Closed;
        step.close = true;
    }

    fn on_tls_bytes(&mut self, bytes: &[u8], step: &mut ServerStep) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        let mut rd = bytes;
        let mut plain = Vec::new();
        let mut failed = false;
        let mut eof = false;
        while !rd.is_empty() {
            match tls.read_tls(&mut rd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
            match tls.process_new_packets() {
                Ok(state) => {
                    if state.peer_has_closed() {
                        eof = true;
                    }
                }
                Err(_) => {
                    failed = true;
                    break;
                }
            }
            let mut buf = [0u8; 4096];
            loop {
                match tls.reader().read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => plain.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
        }
        if self.sni.is_none() {
            self.sni = tls.server_name().map(str::to_string);
        }
        if failed {
            let _ = tls.write_tls(&mut step.to_client);
            self.phase = Phase::Closed;
            step.close = true;
            return;
        }
        let mut out = Vec::new();
        if !self.handshake_done && !tls.is_handshaking() {
            self.handshake_done = true;
            self.greeted = false;
            if self.spec.implicit_tls {
                self.greet_over_tls(&mut out, step);
            }
        }
        self.inbuf.extend_from_slice(&plain);
        self.process_lines(&mut out, step);
        if let Some(tls) = self.tls.as_mut() {
            if !out.is_empty() {
                let _ = tls.writer().write_all(&out);
            }
            while tls.wants_write() {
                if tls.write_tls(&mut step.to_client).is_err() {
                    break;
                }
            }
        }
        if eof && self.phase != Phase::Closed {
            self.close(step);
        }
    }

    /// The greeting of an implicit-TLS server, right after its handshake (RFC 8314 sec. 3),
    /// or what its behaviour sends instead.
    fn greet_over_tls(&mut self, out: &mut Vec<u8>, step: &mut ServerStep) {
        let host = &self.spec.hostname;
        match &self.spec.behaviour {
            Behaviour::RawGreeting(bytes) => {
                out.extend_from_slice(bytes);
                self.phase = Phase::Stalled;
            }
            Behaviour::StallAfter(Stage::Connect) => self.phase = Phase::Stalled,
            Behaviour::CloseAfter(Stage::Connect) => self.close_after(out, step),
            _ if self.spec.protocol == Protocol::Imap => out.extend_from_slice(
                format!(
                    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] {host} IMAP daneel-world ready\r\n"
                )
                .as_bytes(),
            ),
            _ => out.extend_from_slice(self.greeting().as_bytes()),
        }
    }

    /// Answers every complete line in `inbuf`, appending replies to `out`.
    fn process_lines(&mut self, out: &mut Vec<u8>, step: &mut ServerStep) {
        while self.phase == Phase::Plain || self.phase == Phase::Tls {
            if self.txn.incoming.is_some() {
                if !self.take_message(out) {
                    return;
                }
                continue;
            }
            let Some(pos) = self.inbuf.iter().position(|&b| b == b'\n') else {
                if self.inbuf.len() > MAX_LINE {
                    out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
                    self.inbuf.clear();
                }
                return;
            };
            let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let mut words = text.split_whitespace();
            match self.spec.protocol {
                Protocol::Smtp => {
                    let verb = words.next().unwrap_or("").to_ascii_uppercase();
                    if matches!(verb.as_str(), "MAIL" | "RCPT" | "DATA" | "BDAT" | "RSET") {
                        let text = text.to_string();
                        self.transaction(&verb, &text, out);
                    } else {
                        self.command(&verb, out, step);
                    }
                }
                Protocol::Imap => {
                    let tag = words.next().unwrap_or("*").to_string();
                    let verb = words.next().unwrap_or("").to_ascii_uppercase();
                    self.imap_command(&tag, &verb, out, step);
                }
                Protocol::Pop3 => {
                    let verb = words.next().unwrap_or("").to_ascii_uppercase();
                    self.pop3_command(&verb, out, step);
                }
            }
        }
    }

    fn command(&mut self, verb: &str, out: &mut Vec<u8>, step: &mut ServerStep) {
        let tls_up = self.tls.is_some();
        let b = self.spec.behaviour.clone();
        match verb {
            "EHLO" | "HELO" => {
                let stage = if tls_up { Stage::TlsEhlo } else { Stage::Ehlo };
                if b == Behaviour::StallAfter(stage) {
                    self.phase = Phase::Stalled;
                    return;
                }
                if b == Behaviour::CloseAfter(stage) {
                    self.close_after(out, step);
                    return;
                }
                self.greeted = true;
                if verb == "HELO" {
                    out.extend_from_slice(format!("250 {}\r\n", self.spec.hostname).as_bytes());
                    return;
                }
                let mut lines = vec![self.spec.hostname.clone()];
                lines.extend(
                    self.spec
                        .ehlo_lines
                        .iter()
                        .filter(|l| tls_up || l.as_str() != "REQUIRETLS")
                        .cloned(),
                );
                if self.spec.offers_starttls && !tls_up {
                    lines.push("STARTTLS".into());
                }
                let n = lines.len();
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i + 1 == n { ' ' } else { '-' };
                    out.extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
                }
                if let (Behaviour::ExtraAfterEhlo(extra), false) = (&b, tls_up) {
                    out.extend_from_slice(extra);
                }
            }
            "STARTTLS" => {
                if b == Behaviour::StallAfter(Stage::StartTls) {
                    self.phase = Phase::Stalled;
                    return;
                }
                if b == Behaviour::CloseAfter(Stage::StartTls) {
                    self.close_after(out, step);
                    return;
                }
                if tls_up {
                    out.extend_from_slice(b"503 5.5.1 TLS already active\r\n");
                    return;
                }
                match &b {
                    Behaviour::TrickleStartTls => {
                        while out.len() < TRICKLE_REPLY_BYTES {
                            out.extend_from_slice(b"220-2.0.0 please wait\r\n");
                        }
                        out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                        step.pace = Some(TRICKLE_PACE);
                        self.phase = Phase::Stalled;
                        return;
                    }
                    Behaviour::HugeStartTlsLine(len) => {
                        out.reserve(len.saturating_add(6));
                        out.extend_from_slice(b"220 ");
                        out.resize(len.saturating_add(4), b'x');
                        out.extend_from_slice(b"\r\n");
                        self.phase = Phase::Stalled;
                        return;
                    }
                    Behaviour::ManyLineStartTlsReply(lines) => {
                        for _ in 1..*lines {
                            out.extend_from_slice(b"220-2.0.0 x\r\n");
                        }
                        out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                        self.phase = Phase::Stalled;
                        return;
                    }
                    _ => {}
                }
                self.begin_tls(
                    b"220 2.0.0 Ready to start TLS\r\n",
                    b"454 4.7.0 TLS not available due to temporary reason\r\n",
                    out,
                    step,
                );
            }
            "QUIT" => {
                out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                self.close_after(out, step);
            }
            "NOOP" => out.extend_from_slice(b"250 2.0.0 OK\r\n"),
            "" => out.extend_from_slice(b"500 5.5.2 Error: bad syntax\r\n"),
            _ => out.extend_from_slice(b"502 5.5.2 Error: command not recognized\r\n"),
        }
    }

    /// A transaction command (RFC 5321 sec. 3.3, RFC 3030 for BDAT), recorded in the
    /// mailbox and answered per the script.
    fn transaction(&mut self, verb: &str, line: &str, out: &mut Vec<u8>) {
        let tls = self.tls.is_some();
        self.spec.mailbox.command(line, tls);
        let reply = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        let arg = |line: &str| {
            let start = line.find('<').map(|i| i + 1).unwrap_or(line.len());
            let end = line[start..].find('>').map(|i| i + start).unwrap_or(start);
            line[start..end].to_string()
        };
        match verb {
            "RSET" => {
                self.txn = Txn::default();
                reply(out, "250 2.0.0 Reset state");
            }
            _ if !self.greeted => reply(out, "503 5.5.1 Send EHLO first"),
            "MAIL" => {
                let text = self.spec.script.mail.clone();
                let text = text.unwrap_or_else(|| "250 2.1.0 OK".into());
                if text.starts_with('2') {
                    self.txn = Txn {
                        mail: Some(line.to_string()),
                        ..Txn::default()
                    };
                }
                reply(out, &text);
            }
            "RCPT" if self.txn.mail.is_none() => reply(out, "503 5.5.1 Need MAIL first"),
            "RCPT" => {
                let rcpt = arg(line);
                let text = self
                    .spec
                    .script
                    .rcpt
                    .get(&rcpt.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_else(|| "250 2.1.5 OK".into());
                if text.starts_with('2') {
                    self.txn.rcpts.push(rcpt);
                }
                reply(out, &text);
            }
            "DATA" if self.txn.rcpts.is_empty() => {
                reply(out, "554 5.5.1 Error: no valid recipients")
            }
            "DATA" => {
                self.txn.incoming = Some(Incoming::Dot(Vec::new()));
                reply(out, "354 End data with <CR><LF>.<CR><LF>");
            }
            _ => {
                // BDAT n [LAST]
                let mut words = line.split_whitespace().skip(1);
                let size = words.next().and_then(|n| n.parse::<usize>().ok());
                let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                match size {
                    Some(remaining) => self.txn.incoming = Some(Incoming::Bdat { remaining, last }),
                    None => reply(out, "501 5.5.4 Syntax: BDAT size [LAST]"),
                }
            }
        }
    }

    /// Takes message bytes from `inbuf` in one pass; returns `true` when the message (or
    /// chunk) is complete and replied to.
    fn take_message(&mut self, out: &mut Vec<u8>) -> bool {
        let done = match self.txn.incoming.as_mut() {
            Some(Incoming::Dot(data)) => {
                let mut pos = 0;
                let mut end = false;
                while let Some(n) = self.inbuf[pos..].iter().position(|&b| b == b'\n') {
                    let line = &self.inbuf[pos..pos + n + 1];
                    pos += n + 1;
                    if line == b".\r\n" {
                        end = true;
                        break;
                    }
                    // RFC 5321 sec. 4.5.2: a leading dot is removed.
                    let line = line.strip_prefix(b".").unwrap_or(line);
                    data.extend_from_slice(line);
                }
                self.inbuf.drain(..pos);
                end.then(|| (std::mem::take(data), "DATA", true))
            }
            Some(Incoming::Bdat { remaining, last }) => {
                let n = (*remaining).min(self.inbuf.len());
                self.txn.chunks.extend(self.inbuf.drain(..n));
                *remaining -= n;
                (*remaining == 0).then(|| (Vec::new(), "BDAT", *last))
            }
            None => None,
        };
        let Some((data, method, last)) = done else {
            return false;
        };
        self.txn.incoming = None;
        if !last {
            out.extend_from_slice(b"250 2.0.0 chunk received\r\n");
            return true;
        }
        let data = if method == "BDAT" {
            std::mem::take(&mut self.txn.chunks)
        } else {
            data
        };
        let text = self
            .spec
            .script
            .data
            .clone()
            .unwrap_or_else(|| "250 2.0.0 Ok: queued".into());
        if text.starts_with('2') && !self.txn.rcpts.is_empty() {
            self.spec.mailbox.store(StoredMail {
                mail: self.txn.mail.clone().unwrap_or_default(),
                rcpts: self.txn.rcpts.clone(),
                data,
                method,
                tls: self.tls.is_some(),
            });
        }
        let text = if self.txn.rcpts.is_empty() {
            "554 5.5.1 Error: no valid recipients".to_string()
        } else {
            text
        };
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.txn = Txn::default();
        true
    }

    /// Answers an upgrade command: `ready` and TLS from the next byte (with the behaviour's
    /// twist), or `refusal` when there is no TLS to offer.
    fn begin_tls(
        &mut self,
        ready: &[u8],
        refusal: &[u8],
        out: &mut Vec<u8>,
        step: &mut ServerStep,
    ) {
        let b = self.spec.behaviour.clone();
        let config = match (&self.spec.tls, self.spec.offers_starttls, &b) {
            (_, _, Behaviour::NoTlsSupport) | (None, _, _) | (_, false, _) => None,
            (Some(t), true, _) => t.config().ok(),
        };
        let Some(config) = config else {
            out.extend_from_slice(refusal);
            return;
        };
        out.extend_from_slice(ready);
        // RFC 3207 sec. 4.2: discard anything the client pipelined after STARTTLS.
        self.inbuf.clear();
        step.start_tls = true;
        match &b {
            Behaviour::InjectAfterStartTls(bytes) => out.extend_from_slice(bytes),
            Behaviour::TlsGarbage => {
                // Wait for the ClientHello: garbage sent with the 220 would be
                // plaintext injection (RFC 3207 sec. 4.2), a different scenario.
                self.phase = Phase::GarbageForHello;
                return;
            }
            Behaviour::TlsAlert(description) => {
                self.phase = Phase::AlertForHello(*description);
                return;
            }
            Behaviour::StallAfter(Stage::Handshake) => {
                self.phase = Phase::Stalled;
                return;
            }
            Behaviour::CloseAfter(Stage::Handshake) => {
                self.phase = Phase::Closed;
                step.close = true;
                return;
            }
            _ => {}
        }
        match ServerConnection::new(config) {
            Ok(conn) => {
                self.tls = Some(conn);
                self.phase = Phase::Tls;
            }
            Err(_) => {
                self.phase = Phase::Closed;
                step.close = true;
            }
        }
    }

    /// An IMAP command (RFC 9051): CAPABILITY (STARTTLS and LOGINDISABLED outside TLS,
    /// AUTH=PLAIN inside, sec. 6.1.1, 6.2.1), STARTTLS, LOGOUT.
    fn imap_command(&mut self, tag: &str, verb: &str, out: &mut Vec<u8>, step: &mut ServerStep) {
        let tls_up = self.tls.is_some();
        match verb {
            "CAPABILITY" => {
                if let (Behaviour::RawCapability(bytes), false) = (&self.spec.behaviour, tls_up) {
                    out.extend_from_slice(bytes);
                    return self.close_after(out, step);
                }
                let caps = if tls_up {
                    "IMAP4rev1 AUTH=PLAIN"
                } else if self.spec.offers_starttls {
                    "IMAP4rev1 STARTTLS LOGINDISABLED"
                } else {
                    "IMAP4rev1 AUTH=PLAIN"
                };
                out.extend_from_slice(
                    format!("* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n").as_bytes(),
                );
            }
            "STARTTLS" if !tls_up && self.spec.offers_starttls => self.begin_tls(
                format!("{tag} OK Begin TLS negotiation now\r\n").as_bytes(),
                format!("{tag} NO TLS not available\r\n").as_bytes(),
                out,
                step,
            ),
            "LOGOUT" => {
                out.extend_from_slice(
                    format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes(),
                );
                self.close_after(out, step);
            }
            _ => out.extend_from_slice(format!("{tag} BAD unknown command\r\n").as_bytes()),
        }
    }

    /// A POP3 command (RFC 1939, RFC 2449, RFC 2595 sec. 4): CAPA (STLS outside TLS), STLS,
    /// QUIT.
    fn pop3_command(&mut self, verb: &str, out: &mut Vec<u8>, step: &mut ServerStep) {
        let tls_up = self.tls.is_some();
        match verb {
            "CAPA" => {
                if let (Behaviour::RawCapability(bytes), false) = (&self.spec.behaviour, tls_up) {
                    out.extend_from_slice(bytes);
                    return self.close_after(out, step);
                }
                out.extend_from_slice(b"+OK Capability list follows\r\nUSER\r\n");
                if tls_up {
                    out.extend_from_slice(b"SASL PLAIN\r\n");
                } else if self.spec.offers_starttls {
                    out.extend_from_slice(b"STLS\r\n");
                }
                out.extend_from_slice(b".\r\n");
            }
            "STLS" if !tls_up => self.begin_tls(
                b"+OK Begin TLS\r\n",
                b"-ERR TLS not available\r\n",
                out,
                step,
            ),
            "QUIT" => {
                out.extend_from_slice(b"+OK bye\r\n");
                self.close_after(out, step);
            }
            _ => out.extend_from_slice(b"-ERR unknown command\r\n"),
        }
    }

    /// Closes after the replies gathered so far are written (inside TLS, through it).
    fn close_after(&mut self, out: &mut Vec<u8>, step: &mut ServerStep) {
        if let Some(tls) = self.tls.as_mut() {
            let _ = tls.writer().write_all(out);
            out.clear();
            tls.send_close_notify();
            while tls.wants_write() {
                if tls.write_tls(&mut step.to_client).is_err() {
                    break;
                }
            }
        }
        self.phase = Phase::Closed;
        step.close = true;
    }
}
