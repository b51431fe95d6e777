//! POP3 responses (RFC 1939 sec. 3): a status line `+OK` or `-ERR`, and for `CAPA`
//! (RFC 2449 sec. 5) a multi-line response ended by a line holding only ".", dot-stuffing
//! undone, within [`super::wire`]'s bounds.

use super::wire::{text, Buffer, ResponseError, MAX_RESPONSE_LINES};

/// One complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pop3Response {
    /// `+OK ...`, with the lines of a multi-line response (without the final ".").
    Ok {
        /// The text after `+OK`.
        text: String,
        /// The lines that followed, for a multi-line response.
        lines: Vec<String>,
    },
    /// `-ERR ...`: the text after `-ERR` (never multi-line, RFC 1939 sec. 3).
    Err(String),
}

/// The next complete response in `buf`, consumed; `multi` when a positive answer is a
/// multi-line one (`CAPA`). `None` while it is incomplete and still within bounds.
pub fn next_response(buf: &mut Buffer, multi: bool) -> Option<Result<Pop3Response, ResponseError>> {
    let end = match buf.line_end(0)? {
        Ok(end) => end,
        Err(e) => return Some(Err(e)),
    };
    let first = match text(buf.bytes(), 0, end) {
        Ok(line) => line,
        Err(e) => return Some(Err(e)),
    };
    let status = |word: &str| {
        let head = first.get(..word.len())?;
        let rest = &first[word.len()..];
        (head.eq_ignore_ascii_case(word) && (rest.is_empty() || rest.starts_with(' ')))
            .then(|| rest.trim_start().to_string())
    };
    let text_after = if let Some(t) = status("+OK") {
        t
    } else if let Some(t) = status("-ERR") {
        buf.consume(end + 1);
        return Some(Ok(Pop3Response::Err(t)));
    } else {
        return Some(Err(ResponseError::Malformed));
    };
    let mut lines = Vec::new();
    let mut from = end + 1;
    if multi {
        loop {
            let end = match buf.line_end(from)? {
                Ok(end) => end,
                Err(e) => return Some(Err(e)),
            };
            let line = match text(buf.bytes(), from, end) {
                Ok(line) => line,
                Err(e) => return Some(Err(e)),
            };
            from = end + 1;
            if line == "." {
                break;
            }
            if lines.len() == MAX_RESPONSE_LINES {
                return Some(Err(ResponseError::TooManyLines {
                    limit: MAX_RESPONSE_LINES,
                }));
            }
            lines.push(line.strip_prefix('.').map(str::to_string).unwrap_or(line));
        }
    }
    buf.consume(from);
    Some(Ok(Pop3Response::Ok {
        text: text_after,
        lines,
    }))
}

/// The capabilities a `CAPA` response lists (RFC 2449 sec. 5): each line's first word,
/// upper-cased.
pub fn capabilities(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// A command line: the verb and CRLF.
pub fn command(verb: &str) -> Vec<u8> {
    format!("{verb}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], multi: bool) -> (Option<Result<Pop3Response, ResponseError>>, usize) {
        let mut buf = Buffer::default();
        buf.push(bytes);
        let r = next_response(&mut buf, multi);
        (r, buf.len())
    }

    #[test]
    fn single_and_multi_line() {
        assert_eq!(
            read(b"+OK ready\r\n", false),
            (
                Some(Ok(Pop3Response::Ok {
                    text: "ready".into(),
                    lines: vec![]
                })),
                0
            )
        );
        assert_eq!(
            read(b"-ERR no\r\n+OK", true),
            (Some(Ok(Pop3Response::Err("no".into()))), 3)
        );
        let (r, left) = read(b"+OK\r\nUSER\r\nSTLS\r\n..odd\r\n.\r\n", true);
        let Some(Ok(Pop3Response::Ok { lines, .. })) = r else {
            panic!("{r:?}")
        };
        assert_eq!(left, 0);
        assert_eq!(capabilities(&lines), vec!["USER", "STLS", ".ODD"]);
        assert_eq!(read(b"+OK\r\nUSER\r\nSTLS\r\n", true).0, None);
        assert_eq!(
            read(b"+OKAY\r\n", false).0,
            Some(Err(ResponseError::Malformed))
        );
    }

    #[test]
    fn multi_line_is_bounded() {
        let mut wire = b"+OK\r\n".to_vec();
        for _ in 0..=MAX_RESPONSE_LINES {
            wire.extend_from_slice(b"X\r\n");
        }
        assert_eq!(
            read(&wire, true).0,
            Some(Err(ResponseError::TooManyLines {
                limit: MAX_RESPONSE_LINES
            }))
        );
    }
}
