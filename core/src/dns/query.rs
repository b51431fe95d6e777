//! Query building and TCP framing (stub: filled in by the DNS work).
use hickory_proto::rr::{Name, RecordType};

/// Builds a query message (RD=1, AD=1, EDNS0 DO=1, payload as given).
pub fn build_query(_id: u16, _name: &Name, _rtype: RecordType, _payload: u16) -> Vec<u8> {
    unimplemented!()
}

/// Prefixes a message with its two-byte length (RFC 1035 sec. 4.2.2).
pub fn tcp_frame(_wire: &[u8]) -> Vec<u8> {
    unimplemented!()
}

/// Reassembles length-prefixed messages from a TCP byte stream.
#[derive(Default)]
pub struct TcpFrameReader {
    _buf: Vec<u8>,
}
