//! The message to deliver, read once: its header fields (RFC 5322 sec. 2.2), what it needs
//! from a server (8-bit data, RFC 6152; internationalised headers, RFC 6532/6531), the
//! `TLS-Required` header field (RFC 8689 sec. 4.1), and its wire form with CRLF line ends
//! (RFC 5321 sec. 2.3.8), built in one linear pass.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::smtp::transaction::WireMessage;

/// Longest line accepted, without its line end (RFC 5322 sec. 2.1.1: 998 characters;
/// RFC 5321 sec. 4.5.3.1.6: 1000 octets with CRLF).
pub const MAX_LINE: usize = 998;

/// Why a message cannot be sent as it is (`daneel send` exits 65, EX_DATAERR).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MessageError {
    /// Nothing to send.
    Empty,
    /// Line `line` (1-based) of the header is neither a field (`name: value`) nor a
    /// continuation (RFC 5322 sec. 2.2, 2.2.3).
    BadHeaderLine {
        /// The line number.
        line: usize,
    },
    /// Line `line` is longer than [`MAX_LINE`].
    LineTooLong {
        /// The line number.
        line: usize,
        /// Its length.
        len: usize,
    },
    /// A NUL byte (RFC 5322 sec. 3.5 and RFC 6152 sec. 3 exclude it).
    Nul {
        /// The line number.
        line: usize,
    },
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Empty => f.write_str("the message is empty"),
            MessageError::BadHeaderLine { line } => write!(
                f,
                "line {line} of the header is not a header field (RFC 5322 sec. 2.2)"
            ),
            MessageError::LineTooLong { line, len } => write!(
                f,
                "line {line} has {len} characters, more than {MAX_LINE} (RFC 5322 sec. 2.1.1)"
            ),
            MessageError::Nul { line } => write!(f, "line {line} contains a NUL byte"),
        }
    }
}

impl std::error::Error for MessageError {}

/// A message ready to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    wire: WireMessage,
    header_len: usize,
    tls_required_no: bool,
}

impl Message {
    /// Reads `raw` (LF, CR or CRLF line ends): checks the header and the line lengths, and
    /// builds the CRLF form. A message without a body gets the empty line that ends its
    /// header.
    pub fn parse(raw: &[u8]) -> Result<Message, MessageError> {
        if raw.is_empty() {
            return Err(MessageError::Empty);
        }
        let mut bytes = Vec::with_capacity(raw.len() + raw.len() / 32 + 4);
        let mut header_len = None;
        let mut line_no = 0usize;
        let mut tls_required_no = false;
        let mut smtputf8 = false;
        let mut eight_bit = false;
        let mut rest = raw;
        while !rest.is_empty() {
            line_no += 1;
            let end = rest
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .unwrap_or(rest.len());
            let line = &rest[..end];
            let skip = match rest.get(end..end + 2) {
                Some(b"\r\n") => 2,
                _ if end < rest.len() => 1,
                _ => 0,
            };
            rest = &rest[end + skip..];
            if line.len() > MAX_LINE {
                return Err(MessageError::LineTooLong {
                    line: line_no,
                    len: line.len(),
                });
            }
            if line.contains(&0) {
                return Err(MessageError::Nul { line: line_no });
            }
            let non_ascii = line.iter().any(|b| *b > 127);
            eight_bit |= non_ascii;
            if header_len.is_none() {
                if line.is_empty() {
                    if line_no == 1 {
                        return Err(MessageError::BadHeaderLine { line: 1 });
                    }
                    header_len = Some(bytes.len());
                } else if line[0] == b' ' || line[0] == b'\t' {
                    if line_no == 1 {
                        return Err(MessageError::BadHeaderLine { line: 1 });
                    }
                } else {
                    let Some(colon) = line.iter().position(|&b| b == b':') else {
                        return Err(MessageError::BadHeaderLine { line: line_no });
                    };
                    let name = &line[..colon];
                    if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
                        return Err(MessageError::BadHeaderLine { line: line_no });
                    }
                    // RFC 8689 sec. 4.1: `TLS-Required: No`, case-insensitively.
                    if name.eq_ignore_ascii_case(b"TLS-Required")
                        && line[colon + 1..].trim_ascii().eq_ignore_ascii_case(b"no")
                    {
                        tls_required_no = true;
                    }
                }
                smtputf8 |= non_ascii;
            }
            bytes.extend_from_slice(line);
            bytes.extend_from_slice(b"\r\n");
        }
        let header_len = match header_len {
            Some(len) => len,
            None => {
                let len = bytes.len();
                bytes.extend_from_slice(b"\r\n");
                len
            }
        };
        Ok(Message {
            wire: WireMessage {
                bytes: Arc::new(bytes),
                eight_bit,
                smtputf8,
            },
            header_len,
            tls_required_no,
        })
    }

    /// The wire form: CRLF line ends, not dot-stuffed.
    pub fn wire(&self) -> &WireMessage {
        &self.wire
    }

    /// The header section with its CRLF line ends, without the empty line after it.
    pub fn header(&self) -> &[u8] {
        &self.wire.bytes[..self.header_len]
    }

    /// The message carries `TLS-Required: No` (RFC 8689 sec. 4.1).
    pub fn tls_required_no(&self) -> bool {
        self.tls_required_no
    }

    /// The size in bytes of the wire form.
    pub fn len(&self) -> usize {
        self.wire.bytes.len()
    }

    /// Whether the wire form is empty (never, for a parsed message).
    pub fn is_empty(&self) -> bool {
        self.wire.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_line_ends_and_finds_the_header() {
        let m = Message::parse(b"Subject: x\nTLS-Required:  NO \r\n\r\nbody\rline\n.dot").unwrap();
        assert_eq!(
            &m.wire().bytes[..],
            b"Subject: x\r\nTLS-Required:  NO \r\n\r\nbody\r\nline\r\n.dot\r\n"
        );
        assert_eq!(m.header(), b"Subject: x\r\nTLS-Required:  NO \r\n");
        assert!(m.tls_required_no());
        assert!(!m.wire().eight_bit && !m.wire().smtputf8);
    }

    #[test]
    fn eight_bit_and_utf8_headers() {
        let body8 = Message::parse("Subject: x\n\ncaf\u{e9}\n".as_bytes()).unwrap();
        assert!(body8.wire().eight_bit && !body8.wire().smtputf8);
        let head8 = Message::parse("Subject: caf\u{e9}\n\nx\n".as_bytes()).unwrap();
        assert!(head8.wire().smtputf8);
    }

    #[test]
    fn malformed() {
        assert_eq!(Message::parse(b""), Err(MessageError::Empty));
        assert_eq!(
            Message::parse(b"not a header\n\nx"),
            Err(MessageError::BadHeaderLine { line: 1 })
        );
        assert_eq!(
            Message::parse(b"\nbody"),
            Err(MessageError::BadHeaderLine { line: 1 })
        );
        let long = format!("Subject: {}\n", "x".repeat(MAX_LINE));
        assert!(matches!(
            Message::parse(long.as_bytes()),
            Err(MessageError::LineTooLong { line: 1, .. })
        ));
        assert_eq!(
            Message::parse(b"A: b\n\nx\0"),
            Err(MessageError::Nul { line: 3 })
        );
        // A header without a body gets its empty line.
        let m = Message::parse(b"Subject: x").unwrap();
        assert_eq!(&m.wire().bytes[..], b"Subject: x\r\n\r\n");
    }
}
