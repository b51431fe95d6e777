//! The client side of the in-memory TLS exchanges with `daneel_tests::tls_server` (RFC 8446,
//! RFC 5246), in the manner of rustls-test's `transfer`/`do_handshake`: a client
//! ([`TlsPump`], [`ConnectionIo`] or a bare `rustls::ClientConnection`) and a server trade
//! flights without sockets.
//!
//! Shared by the TLS tests and the handshake benchmark with `#[path]`. It drives the core's
//! TLS pump, which is public only with daneel-core's `_internal_test_exports` feature (on for
//! the workspace's tests and benchmarks), so it lives here and not in the published test kit.

#![allow(dead_code)]

use daneel_core::machine::{ConnId, OwnedInput};
use daneel_core::tls::{ConnectionIo, PumpEvent, TlsFailure, TlsInfo, TlsPump};
use daneel_tests::tls_server::{server_feed, server_outgoing};
use rustls::{ClientConnection, ServerConnection};

/// The completed handshake among a pump's events, if any.
pub fn established(events: &[PumpEvent]) -> Option<&TlsInfo> {
    events.iter().find_map(|e| match e {
        PumpEvent::Established(info) => Some(info),
        _ => None,
    })
}

/// The failure among a pump's events, if any.
pub fn failed(events: &[PumpEvent]) -> Option<&TlsFailure> {
    events.iter().find_map(|e| match e {
        PumpEvent::Failed(f) => Some(f),
        _ => None,
    })
}

/// The client side of an in-memory exchange.
pub trait ClientEnd {
    /// What the client reports when bytes arrive.
    type Event;
    /// Bytes the client wants to send.
    fn outgoing(&mut self) -> Vec<u8>;
    /// Delivers server bytes to the client.
    fn incoming(&mut self, bytes: &[u8]) -> Vec<Self::Event>;
}

impl ClientEnd for TlsPump {
    type Event = PumpEvent;
    fn outgoing(&mut self) -> Vec<u8> {
        self.take_outgoing()
    }
    fn incoming(&mut self, bytes: &[u8]) -> Vec<PumpEvent> {
        self.feed(bytes)
    }
}

/// A [`ConnectionIo`] as a client end: holds `decode`'s `to_socket` bytes until the next
/// round. Construct it after `start_tls`, with the ClientHello as `pending`.
#[derive(Debug)]
pub struct IoClient {
    /// The connection's byte handling.
    pub io: ConnectionIo,
    /// The connection id used in the inputs.
    pub conn: ConnId,
    /// Bytes waiting to go to the server.
    pub pending: Vec<u8>,
}

impl ClientEnd for IoClient {
    type Event = OwnedInput;
    fn outgoing(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
    fn incoming(&mut self, bytes: &[u8]) -> Vec<OwnedInput> {
        let decoded = self.io.decode(self.conn, bytes);
        self.pending.extend_from_slice(&decoded.to_socket);
        decoded.inputs
    }
}

/// A bare rustls client (the benchmarks' lower bound). Events are `Err` on failure.
impl ClientEnd for ClientConnection {
    type Event = Result<(), rustls::Error>;
    fn outgoing(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.wants_write() {
            match self.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out
    }
    fn incoming(&mut self, mut bytes: &[u8]) -> Vec<Self::Event> {
        while !bytes.is_empty() {
            match self.read_tls(&mut bytes) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return vec![Err(rustls::Error::General(e.to_string()))],
            }
            if let Err(e) = self.process_new_packets() {
                return vec![Err(e)];
            }
        }
        Vec::new()
    }
}

/// The outcome of [`transfer`] / [`do_handshake`].
#[derive(Debug)]
pub struct Exchange<E> {
    /// Client events, in order.
    pub events: Vec<E>,
    /// The first error the server hit, if any (its alert was delivered to the client).
    pub server_error: Option<rustls::Error>,
    /// Flights moved (client→server and server→client count one each).
    pub flights: usize,
    /// Application data the server received.
    pub server_received: Vec<u8>,
}

/// At most this many rounds in [`do_handshake`] (a TLS handshake needs 2 or 3).
pub const MAX_ROUNDS: usize = 16;

/// One round: client bytes to the server, then server bytes to the client.
pub fn transfer<C: ClientEnd>(client: &mut C, server: &mut ServerConnection) -> Exchange<C::Event> {
    let mut ex = Exchange {
        events: Vec::new(),
        server_error: None,
        flights: 0,
        server_received: Vec::new(),
    };
    let c2s = client.outgoing();
    if !c2s.is_empty() {
        ex.flights += 1;
        match server_feed(server, &c2s) {
            Ok(plaintext) => ex.server_received = plaintext,
            Err(e) => ex.server_error = Some(e),
        }
    }
    let s2c = server_outgoing(server);
    if !s2c.is_empty() {
        ex.flights += 1;
        ex.events = client.incoming(&s2c);
    }
    ex
}

/// Runs rounds of [`transfer`] until neither side has anything to send, the server failed,
/// or [`MAX_ROUNDS`] passed.
pub fn do_handshake<C: ClientEnd>(
    client: &mut C,
    server: &mut ServerConnection,
) -> Exchange<C::Event> {
    let mut total = Exchange {
        events: Vec::new(),
        server_error: None,
        flights: 0,
        server_received: Vec::new(),
    };
    for _ in 0..MAX_ROUNDS {
        let round = transfer(client, server);
        total.events.extend(round.events);
        total.flights += round.flights;
        total
            .server_received
            .extend_from_slice(&round.server_received);
        if round.server_error.is_some() {
            total.server_error = round.server_error;
            break;
        }
        if round.flights == 0 {
            break;
        }
    }
    total
}
