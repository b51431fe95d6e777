//! The first thing a mail server says after an implicit-TLS handshake (RFC 8314 sec. 3):
//! IMAP `* OK` (RFC 9051 sec. 7.1.1; `* PREAUTH` sec. 7.1.4 and `* BYE` sec. 7.1.5), POP3
//! `+OK` (RFC 1939 sec. 4; `-ERR`), SMTP `220` for submission on 465 (RFC 5321 sec. 4.2,
//! read with the SMTP reply parser). Bounded: a greeting longer than its limit, cut off by a
//! close or a timeout, or not a greeting of its protocol gets a typed [`GreetingError`].

use serde::{Deserialize, Serialize};

use crate::smtp::reply::{Reply, ReplyError, ReplyParser};

/// The longest IMAP or POP3 greeting line accepted, CRLF included. RFC 1939 sec. 3 bounds a
/// POP3 response at 512 octets; IMAP greetings carry a capability list (RFC 9051 sec. 7.1.1),
/// which real servers keep under 1 KiB. 8 KiB is generous.
pub const MAX_GREETING_LINE: usize = 8 * 1024;

/// The protocol whose greeting is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GreetingProtocol {
    /// IMAP (RFC 9051), imaps on 993.
    Imap,
    /// POP3 (RFC 1939), pop3s on 995.
    Pop3,
    /// SMTP submission (RFC 6409), submissions on 465.
    Smtp,
}

impl GreetingProtocol {
    /// The command that ends the session politely: IMAP `a LOGOUT` (RFC 9051 sec. 6.1.3),
    /// POP3 `QUIT` (RFC 1939 sec. 5), SMTP `QUIT` (RFC 5321 sec. 4.1.1.10).
    pub fn logout(self) -> &'static [u8] {
        match self {
            GreetingProtocol::Imap => b"a LOGOUT\r\n",
            GreetingProtocol::Pop3 | GreetingProtocol::Smtp => b"QUIT\r\n",
        }
    }

    /// Whether `line` (without CRLF) ends the exchange opened by [`GreetingProtocol::logout`]:
    /// IMAP's tagged `a ...` completion, the first line otherwise.
    pub fn ends_logout(self, line: &[u8]) -> bool {
        match self {
            GreetingProtocol::Imap => line.starts_with(b"a "),
            GreetingProtocol::Pop3 | GreetingProtocol::Smtp => true,
        }
    }
}

/// Why the bytes after the handshake are not a usable greeting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GreetingError {
    /// No line end within `MAX_GREETING_LINE` octets.
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// The connection closed, or the greeting timed out, after this many octets and no line
    /// end.
    Unterminated {
        /// Octets received.
        bytes: usize,
    },
    /// The line is not a greeting of the protocol (IMAP `* OK` / `* PREAUTH`, POP3 `+OK`).
    NotAGreeting,
    /// The server refused the session: IMAP `* BYE`, POP3 `-ERR`, an SMTP reply other than
    /// 2xx.
    Refused,
    /// The SMTP greeting is not a valid reply (RFC 5321 sec. 4.2). A struct variant: the
    /// reply error is tagged by `kind` too, and a newtype variant would write that key twice
    /// (found by the `transcript` fuzz target: such a report's transcript did not read back).
    SmtpReply {
        /// Why the reply is invalid.
        error: ReplyError,
    },
    /// The server spoke in clear before the handshake: plaintext on a port where TLS comes
    /// first (RFC 8314 sec. 3), e.g. a STARTTLS service on an implicit-TLS port.
    PlaintextBeforeTls {
        /// Octets received.
        bytes: usize,
    },
}

impl std::fmt::Display for GreetingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GreetingError::TooLong { limit } => write!(f, "no line end within {limit} octets"),
            GreetingError::Unterminated { bytes } => {
                write!(f, "{bytes} octets without a line end")
            }
            GreetingError::NotAGreeting => f.write_str("not a greeting"),
            GreetingError::Refused => f.write_str("the server refused the session"),
            GreetingError::SmtpReply { error } => write!(f, "{error}"),
            GreetingError::PlaintextBeforeTls { bytes } => {
                write!(f, "{bytes} octets in clear before the TLS handshake")
            }
        }
    }
}

/// A greeting read in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Greeting {
    /// The IMAP or POP3 line, without CRLF.
    Line(String),
    /// The SMTP reply.
    Reply(Reply),
}

/// Reads one greeting from decrypted bytes, within its bounds.
#[derive(Debug)]
pub struct GreetingReader {
    protocol: GreetingProtocol,
    line: Vec<u8>,
    smtp: ReplyParser,
}

impl GreetingReader {
    /// A reader for `protocol`.
    pub fn new(protocol: GreetingProtocol) -> Self {
        GreetingReader {
            protocol,
            line: Vec::new(),
            smtp: ReplyParser::new(),
        }
    }

    /// Octets received and not yet part of a complete greeting.
    pub fn pending(&self) -> usize {
        match self.protocol {
            GreetingProtocol::Smtp => self.smtp.stored_len(),
            _ => self.line.len(),
        }
    }

    /// Adds bytes; `None` while the greeting is incomplete, then the greeting or why it is
    /// not one. Bytes after the first line are ignored.
    pub fn push(&mut self, bytes: &[u8]) -> Option<Result<Greeting, GreetingError>> {
        if self.protocol == GreetingProtocol::Smtp {
            self.smtp.push(bytes);
            return self.smtp.next_reply().map(|r| match r {
                Ok(reply) if reply.is_positive_completion() => Ok(Greeting::Reply(reply)),
                Ok(_) => Err(GreetingError::Refused),
                Err(error) => Err(GreetingError::SmtpReply { error }),
            });
        }
        let room = MAX_GREETING_LINE.saturating_sub(self.line.len());
        let take = bytes.len().min(room);
        self.line.extend_from_slice(&bytes[..take]);
        let Some(end) = self.line.iter().position(|&b| b == b'\n') else {
            return (self.line.len() >= MAX_GREETING_LINE).then_some(Err(GreetingError::TooLong {
                limit: MAX_GREETING_LINE,
            }));
        };
        let mut line = &self.line[..end];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        Some(classify(self.protocol, line))
    }

    /// The greeting ended unfinished (close or timeout): [`GreetingError::Unterminated`]
    /// when some octets came, `None` when none did.
    pub fn cut_off(&self) -> Option<GreetingError> {
        let bytes = self.pending();
        (bytes > 0).then_some(GreetingError::Unterminated { bytes })
    }
}

/// An IMAP or POP3 greeting line (without CRLF): `* OK`/`* PREAUTH` (RFC 9051 sec. 7.1.1,
/// 7.1.4) or `+OK` (RFC 1939 sec. 4), a refusal, or not a greeting.
pub fn classify(protocol: GreetingProtocol, line: &[u8]) -> Result<Greeting, GreetingError> {
    let upper = line.to_ascii_uppercase();
    let word = |w: &[u8]| upper.starts_with(w) && matches!(upper.get(w.len()), None | Some(b' '));
    let ok = match protocol {
        GreetingProtocol::Imap if word(b"* OK") || word(b"* PREAUTH") => true,
        GreetingProtocol::Imap if word(b"* BYE") => false,
        GreetingProtocol::Pop3 if word(b"+OK") => true,
        GreetingProtocol::Pop3 if word(b"-ERR") => false,
        _ => return Err(GreetingError::NotAGreeting),
    };
    if !ok {
        return Err(GreetingError::Refused);
    }
    if line.iter().any(|&b| b == 0 || (b < 0x20 && b != b'\t')) {
        return Err(GreetingError::NotAGreeting);
    }
    Ok(Greeting::Line(String::from_utf8_lossy(line).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(protocol: GreetingProtocol, bytes: &[u8]) -> Option<Result<Greeting, GreetingError>> {
        GreetingReader::new(protocol).push(bytes)
    }

    #[test]
    fn greetings_of_each_protocol() {
        use GreetingProtocol::*;
        assert_eq!(
            read(Imap, b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            Some(Ok(Greeting::Line(
                "* OK [CAPABILITY IMAP4rev1] ready".into()
            )))
        );
        assert!(matches!(read(Imap, b"* PREAUTH hi\r\n"), Some(Ok(_))));
        assert_eq!(
            read(Imap, b"* BYE busy\r\n"),
            Some(Err(GreetingError::Refused))
        );
        assert_eq!(
            read(Imap, b"+OK pop\r\n"),
            Some(Err(GreetingError::NotAGreeting))
        );
        assert_eq!(
            read(Imap, b"* OKAY\r\n"),
            Some(Err(GreetingError::NotAGreeting))
        );
        assert!(matches!(read(Pop3, b"+OK\r\n"), Some(Ok(_))));
        assert_eq!(
            read(Pop3, b"-ERR no\r\n"),
            Some(Err(GreetingError::Refused))
        );
        assert!(matches!(
            read(Smtp, b"220-a\r\n220 b\r\n"),
            Some(Ok(Greeting::Reply(_)))
        ));
        assert_eq!(
            read(Smtp, b"554 go away\r\n"),
            Some(Err(GreetingError::Refused))
        );
        assert!(matches!(
            read(Smtp, b"hello\r\n"),
            Some(Err(GreetingError::SmtpReply { .. }))
        ));
        assert_eq!(read(Imap, b"* OK partial"), None);
        assert_eq!(
            read(Imap, b"* OK a\0b\r\n"),
            Some(Err(GreetingError::NotAGreeting))
        );
    }

    #[test]
    fn bounds() {
        let mut r = GreetingReader::new(GreetingProtocol::Imap);
        assert_eq!(r.push(b"* OK "), None);
        assert_eq!(r.cut_off(), Some(GreetingError::Unterminated { bytes: 5 }));
        assert_eq!(
            r.push(&vec![b'x'; 3 * MAX_GREETING_LINE]),
            Some(Err(GreetingError::TooLong {
                limit: MAX_GREETING_LINE
            }))
        );
        assert!(r.pending() <= MAX_GREETING_LINE);
        assert_eq!(GreetingReader::new(GreetingProtocol::Pop3).cut_off(), None);
    }
}
