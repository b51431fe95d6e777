//! IMAP responses as a client reads them before authenticating (RFC 9051 sec. 7): untagged
//! (`* ...`), continuation (`+ ...`) and tagged (`a1 OK ...`) responses, with literals
//! (sec. 4.3) skipped within [`super::wire`]'s bounds, and the capability lists of
//! `* CAPABILITY` and the `[CAPABILITY ...]` response code (sec. 7.2.2, 7.1).

use super::wire::{text, Buffer, ResponseError, MAX_LITERAL, MAX_RESPONSE_BYTES};

/// The status of a tagged response (RFC 9051 sec. 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapStatus {
    /// `OK`: the command succeeded.
    Ok,
    /// `NO`: the command failed.
    No,
    /// `BAD`: the command was not understood.
    Bad,
}

impl std::fmt::Display for ImapStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImapStatus::Ok => "OK",
            ImapStatus::No => "NO",
            ImapStatus::Bad => "BAD",
        })
    }
}

/// One complete response, literals left out of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImapResponse {
    /// `* ...`: the text after `* `.
    Untagged(String),
    /// `+ ...`: a command continuation request (never expected by this client).
    Continuation(String),
    /// `<tag> OK|NO|BAD ...`.
    Tagged {
        /// The tag.
        tag: String,
        /// The status.
        status: ImapStatus,
        /// The text after the status.
        text: String,
    },
}

/// The next complete response in `buf`, consumed; `None` while it is incomplete and still
/// within bounds. A literal announcing more than [`MAX_LITERAL`] octets fails as soon as its
/// announcement is read.
pub fn next_response(buf: &mut Buffer) -> Option<Result<ImapResponse, ResponseError>> {
    let mut from = 0;
    let mut line = String::new();
    loop {
        let end = match buf.line_end(from)? {
            Ok(end) => end,
            Err(e) => return Some(Err(e)),
        };
        let segment = match text(buf.bytes(), from, end) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        line.push_str(&segment);
        let Some(size) = literal_size(&segment) else {
            buf.consume(end + 1);
            return Some(parse(&line));
        };
        if size > MAX_LITERAL {
            return Some(Err(ResponseError::LiteralTooLarge {
                size,
                limit: MAX_LITERAL,
            }));
        }
        // Bounded by MAX_LITERAL, so the cast cannot truncate.
        let next = end + 1 + size as usize;
        if next >= MAX_RESPONSE_BYTES {
            return Some(Err(ResponseError::ResponseTooLong {
                limit: MAX_RESPONSE_BYTES,
            }));
        }
        if buf.len() < next {
            return None;
        }
        from = next;
    }
}

/// The size of the literal a line segment announces (`{n}` or `{n+}` at its end, RFC 9051
/// sec. 4.3, RFC 7888), saturated at `u64::MAX`.
fn literal_size(segment: &str) -> Option<u64> {
    let inner = segment.strip_suffix('}')?;
    let digits = &inner[inner.rfind('{')? + 1..];
    let digits = digits.strip_suffix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

fn parse(line: &str) -> Result<ImapResponse, ResponseError> {
    if let Some(rest) = line.strip_prefix("* ") {
        return Ok(ImapResponse::Untagged(rest.to_string()));
    }
    if let Some(rest) = line.strip_prefix('+') {
        return Ok(ImapResponse::Continuation(rest.trim_start().to_string()));
    }
    let mut words = line.splitn(3, ' ');
    let tag = words.next().unwrap_or_default();
    let status = match words.next().map(str::to_ascii_uppercase).as_deref() {
        Some("OK") => ImapStatus::Ok,
        Some("NO") => ImapStatus::No,
        Some("BAD") => ImapStatus::Bad,
        _ => return Err(ResponseError::Malformed),
    };
    if tag.is_empty() || tag.contains(['*', '+', '{', '(', '"', '%']) {
        return Err(ResponseError::Malformed);
    }
    Ok(ImapResponse::Tagged {
        tag: tag.to_string(),
        status,
        text: words.next().unwrap_or_default().to_string(),
    })
}

/// The capabilities of a `[CAPABILITY ...]` response code at the start of a status
/// response's text (RFC 9051 sec. 7.1), upper-cased; `None` when it carries none.
pub fn code_capabilities(text: &str) -> Option<Vec<String>> {
    capabilities(text.strip_prefix('[')?)
}

/// The capabilities in the text of an untagged `CAPABILITY ...` response (RFC 9051
/// sec. 7.2.2), upper-cased; `None` when `text` is another response.
pub fn capabilities(text: &str) -> Option<Vec<String>> {
    let word = text.get(..10)?;
    if !word.eq_ignore_ascii_case("CAPABILITY") {
        return None;
    }
    let rest = &text[10..];
    let rest = rest.split(']').next().unwrap_or_default();
    Some(
        rest.split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect(),
    )
}

/// A command line: `<tag> <verb>` and CRLF.
pub fn command(tag: &str, verb: &str) -> Vec<u8> {
    format!("{tag} {verb}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (Option<Result<ImapResponse, ResponseError>>, usize) {
        let mut buf = Buffer::default();
        buf.push(bytes);
        let r = next_response(&mut buf);
        (r, buf.len())
    }

    #[test]
    fn responses_and_literals() {
        assert_eq!(
            read(b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\n"),
            (
                Some(Ok(ImapResponse::Untagged(
                    "CAPABILITY IMAP4rev1 STARTTLS".into()
                ))),
                7
            )
        );
        assert_eq!(
            read(b"a2 ok Begin TLS\r\n").0,
            Some(Ok(ImapResponse::Tagged {
                tag: "a2".into(),
                status: ImapStatus::Ok,
                text: "Begin TLS".into()
            }))
        );
        assert_eq!(
            read(b"* ID {5}\r\nab\r\nc rest\r\n"),
            (Some(Ok(ImapResponse::Untagged("ID {5} rest".into()))), 0)
        );
        assert_eq!(read(b"* ID {5}\r\nab").0, None);
        assert_eq!(
            read(b"* CAPABILITY {99999999999999999999999}\r\n").0,
            Some(Err(ResponseError::LiteralTooLarge {
                size: u64::MAX,
                limit: MAX_LITERAL
            }))
        );
        assert_eq!(read(b"a1 MAYBE\r\n").0, Some(Err(ResponseError::Malformed)));
        assert_eq!(
            read(b"* OK a\x01b\r\n").0,
            Some(Err(ResponseError::Malformed))
        );
    }

    #[test]
    fn many_literals_are_bounded_by_the_response_limit() {
        let mut wire = Vec::new();
        for _ in 0..10 {
            wire.extend_from_slice(b"* X {16000}\r\n");
            wire.resize(wire.len() + 16000, b'y');
        }
        assert_eq!(
            read(&wire).0,
            Some(Err(ResponseError::ResponseTooLong {
                limit: MAX_RESPONSE_BYTES
            }))
        );
    }

    #[test]
    fn capability_lists() {
        assert_eq!(
            capabilities("CAPABILITY IMAP4rev1 starttls"),
            Some(vec!["IMAP4REV1".into(), "STARTTLS".into()])
        );
        assert_eq!(
            code_capabilities("[CAPABILITY IMAP4rev1 AUTH=PLAIN] done"),
            Some(vec!["IMAP4REV1".into(), "AUTH=PLAIN".into()])
        );
        assert_eq!(capabilities("OK ready"), None);
        assert_eq!(code_capabilities("CAPABILITY completed"), None);
        assert_eq!(capabilities("[ALERT] x"), None);
    }
}
