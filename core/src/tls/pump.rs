//! The sans-IO TLS pump (stub: filled in by the TLS work).

use super::{TlsFailure, TlsInfo};

/// Drives a `rustls::ClientConnection` over byte buffers (RFC 3207 sec. 4 upgrade).
pub struct TlsPump {
    _private: (),
}

/// Per-connection byte handling shared by both runtimes: plaintext before STARTTLS,
/// everything through a [`TlsPump`] after it.
#[derive(Default)]
pub struct ConnectionIo {
    _tls: Option<TlsPump>,
}

/// What socket bytes turned into.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Bytes to write back to the socket (handshake messages, alerts).
    pub to_socket: Vec<u8>,
    /// Inputs for the machine, in order.
    pub inputs: Vec<crate::machine::OwnedInput>,
}

impl ConnectionIo {
    /// Starts TLS; returns the ClientHello bytes to write.
    pub fn start_tls(&mut self, _sni: Option<&str>) -> Result<Vec<u8>, TlsFailure> {
        unimplemented!()
    }
    /// Encodes application bytes for the socket.
    pub fn encode(&mut self, _plaintext: &[u8]) -> Vec<u8> {
        unimplemented!()
    }
    /// Decodes socket bytes for connection `conn`.
    pub fn decode(&mut self, _conn: crate::machine::ConnId, _bytes: &[u8]) -> Decoded {
        unimplemented!()
    }
    /// The socket reached end of stream.
    pub fn eof(&mut self, _conn: crate::machine::ConnId) -> Decoded {
        unimplemented!()
    }
    /// Bytes to write before closing (TLS close_notify), possibly empty.
    pub fn close(&mut self) -> Vec<u8> {
        unimplemented!()
    }
}

#[allow(dead_code)]
fn _unused(_: TlsInfo) {}
