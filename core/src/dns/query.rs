//! Query building (RFC 1035 sec. 4.1, RFC 6891 EDNS0, RFC 6840 sec. 5.7) and DNS-over-TCP
//! framing (RFC 1035 sec. 4.2.2, RFC 7766 sec. 8).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// The EDNS0 UDP payload size advertised by default: 1232 bytes, the DNS Flag Day 2020
/// value that avoids IP fragmentation (RFC 9715 sec. 3.2 recommends no more than 1400).
pub const DEFAULT_PAYLOAD: u16 = 1232;

/// The largest DNS message a TCP frame can carry: the length prefix is 16 bits
/// (RFC 1035 sec. 4.2.2).
pub const MAX_TCP_MESSAGE: usize = 65_535;

/// The most bytes a [`TcpFrameReader`] holds before it refuses more: one whole frame
/// (65535 + 2 bytes) plus one more read of the same size.
pub const MAX_TCP_BUFFERED: usize = 2 * (MAX_TCP_MESSAGE + 2);

/// Builds a standard query for `name`/`rtype`/IN with message id `id`, for a validating
/// resolver: [`build_query_cd`] with CD=0 (the resolver must validate, RFC 4035 sec. 3.2.2).
pub fn build_query(id: u16, name: &Name, rtype: RecordType, payload: u16) -> Vec<u8> {
    build_query_cd(id, name, rtype, payload, false)
}

/// Builds a standard query for `name`/`rtype`/IN with message id `id`.
///
/// Flags: RD=1 (recursion desired, RFC 1035 sec. 4.1.1), AD=1 (RFC 6840 sec. 5.7: ask a
/// validating resolver to report the AD bit), and CD=`checking_disabled`: CD=0 asks the
/// resolver to validate; CD=1 asks it for the data as the zones serve it, bogus or not,
/// for the core to validate itself (RFC 4035 sec. 3.2.2, RFC 6840 sec. 5.9). An OPT record
/// (RFC 6891 sec. 6.1) advertises `payload` bytes and sets DO=1 (RFC 3225 sec. 3) so that
/// RRSIGs and denial records are returned. The name is sent fully qualified (the client
/// never applies search domains, SPEC-NOTES S76).
///
/// Returns an empty vector if hickory cannot encode the message (it cannot happen for a
/// valid [`Name`]; the client treats an empty query as a malformed lookup instead of
/// panicking).
pub fn build_query_cd(
    id: u16,
    name: &Name,
    rtype: RecordType,
    payload: u16,
    checking_disabled: bool,
) -> Vec<u8> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.metadata.authentic_data = true;
    msg.metadata.checking_disabled = checking_disabled;
    let mut fqdn = name.clone();
    fqdn.set_fqdn(true);
    let mut query = Query::query(fqdn, rtype);
    query.set_query_class(DNSClass::IN);
    msg.add_query(query);
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(payload.max(512));
    msg.set_edns(edns);
    msg.to_vec().unwrap_or_default()
}

/// Prefixes a message with its two-byte big-endian length (RFC 1035 sec. 4.2.2,
/// RFC 7766 sec. 8). A message longer than [`MAX_TCP_MESSAGE`] cannot be framed: the result
/// is then empty.
pub fn tcp_frame(wire: &[u8]) -> Vec<u8> {
    let Ok(len) = u16::try_from(wire.len()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(wire.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(wire);
    out
}

/// The stream handed to [`TcpFrameReader::push`] would exceed [`MAX_TCP_BUFFERED`] bytes
/// without a complete frame being popped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameOverflow;

impl std::fmt::Display for FrameOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many buffered DNS-over-TCP bytes")
    }
}

impl std::error::Error for FrameOverflow {}

/// Reassembles length-prefixed messages from a TCP byte stream (RFC 1035 sec. 4.2.2,
/// RFC 7766 sec. 8): push bytes as they are read, pop each complete message (without its
/// prefix). Memory is bounded by [`MAX_TCP_BUFFERED`].
#[derive(Default)]
pub struct TcpFrameReader {
    buf: Vec<u8>,
}

impl TcpFrameReader {
    /// An empty reader.
    pub fn new() -> Self {
        TcpFrameReader::default()
    }

    /// Appends bytes read from the stream. Refuses them (and keeps what it had) if the
    /// buffer would exceed [`MAX_TCP_BUFFERED`]; pop complete messages after every push.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameOverflow> {
        if self.buf.len().saturating_add(bytes.len()) > MAX_TCP_BUFFERED {
            return Err(FrameOverflow);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete message, without its length prefix, if one has fully arrived.
    /// A zero-length frame yields an empty message (which will not parse as DNS).
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        let (prefix, rest) = self.buf.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*prefix));
        let msg = rest.get(..len)?.to_vec();
        self.buf.drain(..len + 2);
        Some(msg)
    }

    /// The number of bytes buffered (a partial frame, or frames not yet popped).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn query_flags_and_edns() {
        let wire = build_query(
            0x1234,
            &name("_25._tcp.mx.example.com."),
            RecordType::TLSA,
            1232,
        );
        // Header: id, flags RD=1 AD=1 (0x0120), QD=1, AN=0, NS=0, AR=1.
        assert_eq!(
            &wire[..12],
            &[0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1]
        );
        let msg = Message::from_vec(&wire).unwrap();
        assert!(msg.metadata.recursion_desired);
        assert!(msg.metadata.authentic_data);
        assert!(!msg.metadata.checking_disabled);
        assert_eq!(msg.metadata.message_type, MessageType::Query);
        let edns = msg.edns.unwrap();
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), 1232);
        assert_eq!(msg.queries.len(), 1);
        assert_eq!(msg.queries[0].query_type(), RecordType::TLSA);
        assert_eq!(msg.queries[0].query_class(), DNSClass::IN);
    }

    #[test]
    fn relative_name_is_sent_fully_qualified() {
        let wire = build_query(1, &name("example.com"), RecordType::MX, DEFAULT_PAYLOAD);
        let msg = Message::from_vec(&wire).unwrap();
        assert!(msg.queries[0].name().is_fqdn());
        assert_eq!(msg.queries[0].name(), &name("example.com."));
    }

    #[test]
    fn frame_prefix() {
        assert_eq!(tcp_frame(&[1, 2, 3]), vec![0, 3, 1, 2, 3]);
        assert_eq!(tcp_frame(&[]), vec![0, 0]);
        assert_eq!(tcp_frame(&vec![7; 300])[..2], [1, 44]);
        assert!(tcp_frame(&vec![0; MAX_TCP_MESSAGE + 1]).is_empty());
        assert_eq!(
            tcp_frame(&vec![0; MAX_TCP_MESSAGE]).len(),
            MAX_TCP_MESSAGE + 2
        );
    }

    #[test]
    fn reader_split_and_merged() {
        let mut r = TcpFrameReader::new();
        let mut stream = tcp_frame(b"hello");
        stream.extend(tcp_frame(b""));
        stream.extend(tcp_frame(b"world!"));
        // Byte by byte.
        let mut out = Vec::new();
        for b in &stream {
            r.push(&[*b]).unwrap();
            while let Some(m) = r.pop() {
                out.push(m);
            }
        }
        assert_eq!(out, vec![b"hello".to_vec(), vec![], b"world!".to_vec()]);
        assert_eq!(r.buffered(), 0);
        // All at once.
        r.push(&stream).unwrap();
        assert_eq!(r.pop().unwrap(), b"hello");
        assert_eq!(r.pop().unwrap(), b"");
        assert_eq!(r.pop().unwrap(), b"world!");
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn reader_is_bounded() {
        let mut r = TcpFrameReader::new();
        r.push(&[0xff, 0xff]).unwrap();
        r.push(&vec![0; MAX_TCP_MESSAGE - 1]).unwrap();
        assert_eq!(r.pop(), None);
        r.push(&[9]).unwrap();
        assert_eq!(r.pop().unwrap().len(), MAX_TCP_MESSAGE);
        assert_eq!(r.push(&vec![0; MAX_TCP_BUFFERED + 1]), Err(FrameOverflow));
        r.push(&vec![0; MAX_TCP_BUFFERED]).unwrap();
        assert_eq!(r.push(&[0]), Err(FrameOverflow));
    }
}
