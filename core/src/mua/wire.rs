//! The bounded input buffer of the IMAP and POP3 readers ([`super::imap`], [`super::pop3`])
//! and the typed reasons their responses are refused with. Every limit is checked before
//! waiting for more bytes, so a peer cannot make the client hold more than
//! [`MAX_RESPONSE_BYTES`] or wait for a response it has already made unreadable.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::implicit::greeting::MAX_GREETING_LINE;

/// The longest response line accepted, CRLF included (the greeting's limit; RFC 1939 sec. 3
/// bounds a POP3 line at 512 octets, RFC 9051 sec. 4 sets none, so this is generous).
pub const MAX_LINE: usize = MAX_GREETING_LINE;

/// The largest IMAP literal accepted (RFC 9051 sec. 4.3). The client only reads greetings
/// and capability lists, which real servers never send as literals, so 16 KiB is generous;
/// a literal announcing more fails at once, before its octets arrive.
pub const MAX_LITERAL: u64 = 16 * 1024;

/// The most octets one response may take: an IMAP response with its literals, a POP3
/// multi-line response with its terminating line (RFC 1939 sec. 3).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The most lines of a POP3 multi-line response (RFC 2449 sec. 5: one capability a line).
pub const MAX_RESPONSE_LINES: usize = 256;

/// Why bytes from an IMAP or POP3 server are not a usable response.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ResponseError {
    /// No line end within `MAX_LINE` octets.
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// An IMAP literal announced more than `MAX_LITERAL` octets (RFC 9051 sec. 4.3).
    LiteralTooLarge {
        /// The announced size (saturated at `u64::MAX`).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The response did not end within `MAX_RESPONSE_BYTES` octets.
    ResponseTooLong {
        /// The limit.
        limit: usize,
    },
    /// A POP3 multi-line response had more than `MAX_RESPONSE_LINES` lines.
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// The connection closed, or the stage timed out, in the middle of a response (a
    /// line without its end, a literal without its octets, a multi-line response without
    /// its "." line).
    Unterminated {
        /// Octets received of the unfinished response.
        bytes: usize,
    },
    /// Not a response of the protocol: an IMAP line that is neither untagged, a
    /// continuation nor tagged with the command's tag, a POP3 line not `+OK`/`-ERR`, or a
    /// control character in a line.
    Malformed,
    /// The IMAP server said `* BYE` (RFC 9051 sec. 7.1.5): it is closing the connection.
    Bye,
    /// Bytes followed the complete response before the next command was sent: an answer to
    /// a command never sent (as [`crate::smtp::reply::ReplyError::Unsolicited`] for SMTP).
    Unsolicited {
        /// Octets that followed.
        bytes: usize,
    },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::LineTooLong { limit } => write!(f, "no line end within {limit} octets"),
            ResponseError::LiteralTooLarge { size, limit } => {
                write!(f, "a literal of {size} octets (limit {limit})")
            }
            ResponseError::ResponseTooLong { limit } => {
                write!(f, "no response end within {limit} octets")
            }
            ResponseError::TooManyLines { limit } => write!(f, "more than {limit} lines"),
            ResponseError::Unterminated { bytes } => {
                write!(f, "{bytes} octets of an unfinished response")
            }
            ResponseError::Malformed => f.write_str("not a response of the protocol"),
            ResponseError::Bye => f.write_str("the server said BYE"),
            ResponseError::Unsolicited { bytes } => {
                write!(f, "{bytes} octets followed the response unasked")
            }
        }
    }
}

/// Received octets not yet consumed as a response, never more than
/// [`MAX_RESPONSE_BYTES`] + 1 of them (one more than a response may take, so an overlong
/// one is seen as such).
#[derive(Debug, Default)]
pub struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    /// Adds received octets, dropping what goes beyond the bound.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = (MAX_RESPONSE_BYTES + 1).saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The octets held.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many octets are held.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Consumes the first `n` octets (a complete response).
    pub fn consume(&mut self, n: usize) {
        self.bytes.drain(..n.min(self.bytes.len()));
    }

    /// Empties the buffer, returning what it held (RFC 2595 sec. 4: nothing from before TLS
    /// carries over; or the evidence of an unsolicited answer).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// The line starting at `from`: `Some(Ok(end))` with `end` the index of its LF,
    /// `None` while it is incomplete and may still end in bounds, or the bound it broke.
    pub fn line_end(&self, from: usize) -> Option<Result<usize, ResponseError>> {
        let rest = self.bytes.get(from..).unwrap_or_default();
        let window = &rest[..rest.len().min(MAX_LINE)];
        match window.iter().position(|&b| b == b'\n') {
            Some(i) if from + i < MAX_RESPONSE_BYTES => Some(Ok(from + i)),
            Some(_) => Some(Err(ResponseError::ResponseTooLong {
                limit: MAX_RESPONSE_BYTES,
            })),
            None if window.len() >= MAX_LINE => {
                Some(Err(ResponseError::LineTooLong { limit: MAX_LINE }))
            }
            None if self.bytes.len() > MAX_RESPONSE_BYTES => {
                Some(Err(ResponseError::ResponseTooLong {
                    limit: MAX_RESPONSE_BYTES,
                }))
            }
            None => None,
        }
    }

    /// The response was cut off (close or timeout): [`ResponseError::Unterminated`] when
    /// some octets came, `None` when none did.
    pub fn cut_off(&self) -> Option<ResponseError> {
        (!self.bytes.is_empty()).then_some(ResponseError::Unterminated {
            bytes: self.bytes.len(),
        })
    }
}

/// A line from `from` to its LF at `end`, without CRLF, checked for control characters
/// other than tab (no response line carries them; RFC 9051 sec. 9 `TEXT-CHAR`).
pub fn text(bytes: &[u8], from: usize, end: usize) -> Result<String, ResponseError> {
    let mut line = &bytes[from..end];
    if let [head @ .., b'\r'] = line {
        line = head;
    }
    if line.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(ResponseError::Malformed);
    }
    Ok(String::from_utf8_lossy(line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded() {
        let mut b = Buffer::default();
        b.push(b"+OK a\r\n+OK");
        assert_eq!(b.line_end(0), Some(Ok(6)));
        assert_eq!(b.line_end(7), None);
        assert_eq!(text(b.bytes(), 0, 6), Ok("+OK a".into()));
        b.consume(7);
        assert_eq!(b.cut_off(), Some(ResponseError::Unterminated { bytes: 3 }));
        b.push(&vec![b'x'; 3 * MAX_RESPONSE_BYTES]);
        assert!(b.len() <= MAX_RESPONSE_BYTES + 1);
        assert_eq!(
            b.line_end(0),
            Some(Err(ResponseError::LineTooLong { limit: MAX_LINE }))
        );
        assert_eq!(text(b"a\0b\r\n", 0, 4), Err(ResponseError::Malformed));
        assert!(Buffer::default().cut_off().is_none());
    }
}
