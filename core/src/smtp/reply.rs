//! SMTP replies: the incremental [`ReplyParser`] (RFC 5321 sec. 4.2 and 4.2.1) and the
//! [`Reply`] it produces, with its enhanced status code (RFC 2034, RFC 3463).
//!
//! The parser is sans-IO: [`ReplyParser::push`] takes bytes exactly as read from the peer,
//! [`ReplyParser::next_reply`] returns complete replies one at a time. Bytes that follow the
//! last returned reply stay visible through [`ReplyParser::buffered_len`], which is how the
//! session detects plaintext injected after the `220` to STARTTLS (RFC 3207 sec. 4.2).
//!
//! Peer bytes never panic and never grow memory without bound: every limit is a named
//! constant below, and exceeding one is a [`ReplyError`] after which the parser stores no
//! more bytes (it only counts them).

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest reply line accepted, in bytes, without the line terminator.
///
/// RFC 5321 sec. 4.5.3.1.5 limits a reply line to 512 octets including CRLF; real servers
/// exceed it (long banners, long `250-` capability lines), so the parser is lenient but
/// bounded.
pub const MAX_LINE_LEN: usize = 2048;

/// Most lines accepted in one multi-line reply (RFC 5321 sec. 4.2.1 sets no limit).
pub const MAX_REPLY_LINES: usize = 256;

/// Most bytes (terminators included) accepted in one reply (RFC 5321 sec. 4.2.1).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Most unconsumed bytes the parser holds across all complete and partial replies. A peer
/// that sends many replies nobody asked for hits [`ReplyError::BufferFull`].
pub const MAX_BUFFERED_BYTES: usize = 2 * MAX_REPLY_BYTES;

/// Longest excerpt of an offending line kept in [`ReplyError::Syntax`].
const MAX_EXCERPT: usize = 80;

/// An enhanced mail system status code `class.subject.detail` (RFC 3463 sec. 2), carried at
/// the start of reply text when the server supports ENHANCEDSTATUSCODES (RFC 2034 sec. 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject (RFC 3463 sec. 3), 0 to 999.
    pub subject: u16,
    /// The detail (RFC 3463 sec. 3), 0 to 999.
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl EnhancedCode {
    /// Parses an enhanced code at the start of `text` (RFC 3463 sec. 2: `class "." subject
    /// "." detail`, subject and detail 1 to 3 digits), followed by a space or the end. The
    /// class must equal the first digit of the basic `code` (RFC 2034 sec. 4).
    fn parse_prefix(text: &str, code: u16) -> Option<EnhancedCode> {
        let word = text.split(' ').next().unwrap_or("");
        let mut parts = word.split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let digits = |s: &str, max: usize| {
            (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let class = u8::try_from(digits(class, 1)?).ok()?;
        if !matches!(class, 2 | 4 | 5) || u16::from(class) != code / 100 {
            return None;
        }
        Some(EnhancedCode {
            class,
            subject: digits(subject, 3)?,
            detail: digits(detail, 3)?,
        })
    }
}

/// One complete SMTP reply (RFC 5321 sec. 4.2): a three-digit code and one or more lines of
/// text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The reply code (RFC 5321 sec. 4.2.1), 200 to 599.
    pub code: u16,
    /// The enhanced status code at the start of the first line, if present and consistent
    /// with `code` (RFC 3463, RFC 2034).
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line after the code and separator, as sent (enhanced code
    /// included), decoded as UTF-8 with invalid sequences replaced. A bare `250` line has
    /// empty text.
    pub lines: Vec<String>,
}

impl Reply {
    /// `2yz`: positive completion (RFC 5321 sec. 4.2.1).
    pub fn is_positive_completion(&self) -> bool {
        self.code / 100 == 2
    }

    /// `4yz`: transient negative completion (RFC 5321 sec. 4.2.1).
    pub fn is_transient(&self) -> bool {
        self.code / 100 == 4
    }

    /// `5yz`: permanent negative completion (RFC 5321 sec. 4.2.1).
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }

    /// A one-line summary: the code and the first line, e.g. `250 mx.example.com` or
    /// `421 4.3.2 busy`; just `250` when the first line has no text.
    pub fn text(&self) -> String {
        match self.lines.first().map(String::as_str) {
            Some(first) if !first.is_empty() => format!("{} {}", self.code, first),
            _ => self.code.to_string(),
        }
    }
}

/// Writes the reply as on the wire (RFC 5321 sec. 4.2.1: `250-first`, ..., `250 last`),
/// lines separated by `\n`, without a final newline.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lines.len();
        if n == 0 {
            return write!(f, "{}", self.code);
        }
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            if i > 0 {
                f.write_str("\n")?;
            }
            if line.is_empty() && i + 1 == n {
                write!(f, "{}", self.code)?;
            } else {
                write!(f, "{}{}{}", self.code, sep, line)?;
            }
        }
        Ok(())
    }
}

/// Why bytes from the server are not a valid reply (RFC 5321 sec. 4.2, 4.5.3.1.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ReplyError {
    /// A line is not `code [ "-" / SP text ]` (RFC 5321 sec. 4.2); an excerpt of it.
    Syntax {
        /// The start of the offending line, lossily decoded.
        line: String,
    },
    /// A continuation line carries another code than the first line (RFC 5321 sec. 4.2.1).
    CodeMismatch {
        /// The first line's code.
        expected: u16,
        /// The offending line's code.
        found: u16,
    },
    /// A line exceeds [`MAX_LINE_LEN`] (RFC 5321 sec. 4.5.3.1.5).
    LineTooLong,
    /// A reply has more than [`MAX_REPLY_LINES`] lines.
    TooManyLines,
    /// A reply exceeds [`MAX_REPLY_BYTES`].
    ReplyTooLong,
    /// More than [`MAX_BUFFERED_BYTES`] unconsumed bytes (replies nobody asked for).
    BufferFull,
    /// The server sent bytes before the client sent the command they would answer: bytes
    /// beyond the complete reply to the last command sent (this client never pipelines,
    /// RFC 2920 sec. 3.1), e.g. after the EHLO reply before STARTTLS, or inside TLS before
    /// the EHLO that must follow STARTTLS (RFC 3207 sec. 4.2). Reported by the session.
    Unsolicited {
        /// How many bytes were waiting.
        bytes: usize,
    },
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Syntax { line } => write!(f, "malformed reply line {line:?}"),
            ReplyError::CodeMismatch { expected, found } => {
                write!(f, "reply line with code {found} inside a {expected} reply")
            }
            ReplyError::LineTooLong => write!(f, "reply line longer than {MAX_LINE_LEN} bytes"),
            ReplyError::TooManyLines => write!(f, "reply with more than {MAX_REPLY_LINES} lines"),
            ReplyError::ReplyTooLong => write!(f, "reply longer than {MAX_REPLY_BYTES} bytes"),
            ReplyError::BufferFull => {
                write!(
                    f,
                    "more than {MAX_BUFFERED_BYTES} bytes of unrequested replies"
                )
            }
            ReplyError::Unsolicited { bytes } => write!(
                f,
                "{bytes} bytes arrived before the command they would answer was sent"
            ),
        }
    }
}

impl std::error::Error for ReplyError {}

/// A reply under construction.
#[derive(Debug, Default)]
struct Pending {
    code: u16,
    lines: Vec<String>,
    bytes: usize,
}

/// An incremental SMTP reply parser (smtp-proto's `ResponseReceiver`, sans-IO).
///
/// Lines end with CRLF (RFC 5321 sec. 2.3.8); like Postfix, a bare LF is also accepted as a
/// line end (a CR before it is dropped, any other CR is text). Each line is `code SP text`,
/// `code "-" text` (more lines follow, RFC 5321 sec. 4.2.1) or a bare `code`. The code is
/// three digits, the first 2 to 5 (RFC 5321 sec. 4.2). After the first error the parser
/// stores no more bytes; it counts them for [`ReplyParser::buffered_len`].
#[derive(Debug, Default)]
pub struct ReplyParser {
    /// Bytes pushed and not yet consumed by `next_reply`: the ready replies, then the
    /// pending reply's lines, then the partial line at `line_start`.
    raw: Vec<u8>,
    /// Where the current partial line starts in `raw`.
    line_start: usize,
    /// The reply whose lines have arrived so far.
    pending: Option<Pending>,
    /// Complete results, each with the number of `raw` bytes it covers.
    ready: VecDeque<(Result<Reply, ReplyError>, usize)>,
    /// Bytes pushed after an error, counted and dropped.
    dropped: usize,
    /// An error has been queued: no more parsing.
    failed: bool,
}

impl ReplyParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes exactly as received, in order. Complete replies become available through
    /// [`ReplyParser::next_reply`]. Never stores more than about [`MAX_BUFFERED_BYTES`] plus
    /// one line.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.failed {
                self.dropped = self.dropped.saturating_add(bytes.len());
                return;
            }
            let lf = bytes.iter().position(|&b| b == b'\n');
            let content = lf.unwrap_or(bytes.len());
            let partial = self.raw.len() - self.line_start;
            if partial + content > MAX_LINE_LEN + 1 {
                // Too long whether or not a terminator follows: keep at most one byte more
                // than a maximal line plus its CR, then fail.
                let room = (MAX_LINE_LEN + 2).saturating_sub(partial).min(bytes.len());
                self.raw.extend_from_slice(&bytes[..room]);
                bytes = &bytes[room..];
                self.fail(ReplyError::LineTooLong);
                continue;
            }
            match lf {
                Some(i) => {
                    self.raw.extend_from_slice(&bytes[..=i]);
                    bytes = &bytes[i + 1..];
                    self.complete_line();
                }
                None => {
                    self.raw.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
            if !self.failed && self.raw.len() > MAX_BUFFERED_BYTES {
                self.fail(ReplyError::BufferFull);
            }
        }
    }

    /// The next complete reply or error, in order, or `None` if more bytes are needed.
    /// After an error has been returned, always `None`.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        let (item, len) = self.ready.pop_front()?;
        let len = len.min(self.raw.len());
        self.raw.drain(..len);
        self.line_start = self.line_start.saturating_sub(len);
        Some(item)
    }

    /// How many bytes have been pushed but not consumed by returned replies: bytes of
    /// complete replies not yet returned, of a partial reply, and any counted after an
    /// error. Non-zero right after the `220` to STARTTLS means injection (RFC 3207 sec. 4.2).
    pub fn buffered_len(&self) -> usize {
        self.raw.len().saturating_add(self.dropped)
    }

    /// How many of those bytes are held in memory: [`ReplyParser::buffered_len`] without the
    /// bytes only counted after an error. Never more than [`MAX_BUFFERED_BYTES`] plus one
    /// line and its terminator.
    pub fn stored_len(&self) -> usize {
        self.raw.len()
    }

    /// Removes and returns the stored unconsumed bytes (bytes counted after an error are
    /// not stored) and resets the parser to empty.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(self).raw
    }

    /// Queues `error` covering every stored byte and stops parsing.
    fn fail(&mut self, error: ReplyError) {
        let covered: usize = self.ready.iter().map(|(_, n)| n).sum();
        let rest = self.raw.len().saturating_sub(covered);
        self.ready.push_back((Err(error), rest));
        self.pending = None;
        self.line_start = self.raw.len();
        self.failed = true;
    }

    /// Processes the line `raw[line_start..]`, which ends with LF.
    fn complete_line(&mut self) {
        let mut content = &self.raw[self.line_start..self.raw.len() - 1];
        if let [head @ .., b'\r'] = content {
            content = head;
        }
        if content.len() > MAX_LINE_LEN {
            return self.fail(ReplyError::LineTooLong);
        }
        let (code, last, text) = match parse_line(content) {
            Ok(parsed) => parsed,
            Err(error) => return self.fail(error),
        };
        let line_len = self.raw.len() - self.line_start;
        let pending = self.pending.get_or_insert_with(|| Pending {
            code,
            ..Pending::default()
        });
        if pending.code != code {
            let expected = pending.code;
            return self.fail(ReplyError::CodeMismatch {
                expected,
                found: code,
            });
        }
        pending.bytes += line_len;
        if pending.lines.len() >= MAX_REPLY_LINES {
            return self.fail(ReplyError::TooManyLines);
        }
        if pending.bytes > MAX_REPLY_BYTES {
            return self.fail(ReplyError::ReplyTooLong);
        }
        pending.lines.push(text);
        self.line_start = self.raw.len();
        if last {
            if let Some(p) = self.pending.take() {
                let enhanced = p
                    .lines
                    .first()
                    .and_then(|l| EnhancedCode::parse_prefix(l, p.code));
                let reply = Reply {
                    code: p.code,
                    enhanced,
                    lines: p.lines,
                };
                self.ready.push_back((Ok(reply), p.bytes));
            }
        }
    }
}

/// Splits one reply line (terminator removed) into code, "is last line", and text
/// (RFC 5321 sec. 4.2: `Reply-code [ SP textstring ]` or `Reply-code "-" [ textstring ]`).
fn parse_line(content: &[u8]) -> Result<(u16, bool, String), ReplyError> {
    let syntax = || ReplyError::Syntax {
        line: excerpt(content),
    };
    let code = match content {
        [a @ b'2'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(syntax()),
    };
    let (last, text) = match content.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &content[4..]),
        Some(b'-') => (false, &content[4..]),
        Some(_) => return Err(syntax()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// A short, lossily decoded excerpt of a line for error messages.
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(MAX_EXCERPT)];
    String::from_utf8_lossy(cut).into_owned()
}

/// What an EHLO reply says about the server (RFC 5321 sec. 4.1.1.1: `250-domain greeting`,
/// then one `ehlo-keyword *(SP ehlo-param)` per line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EhloInfo {
    /// The first word of the first line: the server's name for itself.
    pub domain: String,
    /// STARTTLS is offered (RFC 3207 sec. 4).
    pub starttls: bool,
    /// PIPELINING is offered (RFC 2920).
    pub pipelining: bool,
    /// The SIZE limit in bytes (RFC 1870), if a number was given.
    pub size: Option<u64>,
    /// Every extension keyword, upper-cased (keywords are case-insensitive, RFC 5321
    /// sec. 4.1.1.1), in the order sent; lines that are not valid keywords are skipped.
    pub keywords: Vec<String>,
}

/// Reads the capabilities out of a positive EHLO reply (RFC 5321 sec. 4.1.1.1). A HELO
/// reply, or an EHLO reply of one line, gives a domain and no extensions.
pub fn parse_ehlo(reply: &Reply) -> EhloInfo {
    let mut info = EhloInfo {
        domain: reply
            .lines
            .first()
            .and_then(|l| l.split_ascii_whitespace().next())
            .unwrap_or("")
            .to_owned(),
        ..EhloInfo::default()
    };
    for line in reply.lines.iter().skip(1) {
        let mut words = line.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        // ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        let valid = keyword
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            continue;
        }
        let keyword = keyword.to_ascii_uppercase();
        match keyword.as_str() {
            "STARTTLS" => info.starttls = true,
            "PIPELINING" => info.pipelining = true,
            "SIZE" => info.size = words.next().and_then(|n| n.parse().ok()),
            _ => {}
        }
        info.keywords.push(keyword);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::new();
        p.push(bytes);
        std::iter::from_fn(|| p.next_reply()).collect()
    }

    fn one(bytes: &[u8]) -> Reply {
        let mut all = parse_all(bytes);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0).unwrap()
    }

    #[test]
    fn single_line() {
        let r = one(b"220 mx.example.com ESMTP\r\n");
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, vec!["mx.example.com ESMTP"]);
        assert_eq!(r.text(), "220 mx.example.com ESMTP");
        assert!(r.is_positive_completion() && !r.is_transient() && !r.is_permanent());
        assert_eq!(r.enhanced, None);
    }

    #[test]
    fn bare_code_is_valid() {
        let r = one(b"250\r\n");
        assert_eq!((r.code, r.lines.clone()), (250, vec![String::new()]));
        assert_eq!(r.text(), "250");
        assert_eq!(r.to_string(), "250");
    }

    #[test]
    fn multi_line_and_display() {
        let r = one(b"250-mx.example.com hi\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
        assert_eq!(r.lines, vec!["mx.example.com hi", "PIPELINING", "STARTTLS"]);
        assert_eq!(
            r.to_string(),
            "250-mx.example.com hi\n250-PIPELINING\n250 STARTTLS"
        );
        assert_eq!(r.text(), "250 mx.example.com hi");
    }

    #[test]
    fn enhanced_codes() {
        let r = one(b"421 4.3.2 busy\r\n");
        assert_eq!(
            r.enhanced,
            Some(EnhancedCode {
                class: 4,
                subject: 3,
                detail: 2
            })
        );
        assert_eq!(r.text(), "421 4.3.2 busy");
        assert!(r.is_transient());
        // Class must match the code's first digit.
        assert_eq!(one(b"550 4.3.2 no\r\n").enhanced, None);
        assert_eq!(one(b"550 5.1000.1 no\r\n").enhanced, None);
        assert_eq!(one(b"550 5.1.1.1 no\r\n").enhanced, None);
        assert_eq!(
            one(b"550 5.7.1\r\n").enhanced.map(|e| e.to_string()),
            Some("5.7.1".into())
        );
        assert!(one(b"554 5.7.1 x\r\n").is_permanent());
    }

    #[test]
    fn bare_lf_and_byte_by_byte() {
        let wire = b"250-a\n250-b\r\n250 c\n";
        let mut p = ReplyParser::new();
        for (i, b) in wire.iter().enumerate() {
            assert!(p.next_reply().is_none(), "early reply at {i}");
            p.push(std::slice::from_ref(b));
        }
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.lines, vec!["a", "b", "c"]);
        assert_eq!(p.buffered_len(), 0);
        assert!(p.next_reply().is_none());
    }

    #[test]
    fn non_utf8_is_lossy() {
        let r = one(b"220 caf\xe9\r\n");
        assert_eq!(r.lines[0], "caf\u{fffd}");
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            &b"22 short\r\n"[..],
            b"abc def\r\n",
            b"220x\r\n",
            b"120 one\r\n",
            b"620 six\r\n",
            b"\r\n",
        ] {
            let all = parse_all(bad);
            assert!(
                matches!(all.as_slice(), [Err(ReplyError::Syntax { .. })]),
                "{bad:?}: {all:?}"
            );
        }
    }

    #[test]
    fn code_mismatch() {
        let all = parse_all(b"250-a\r\n251 b\r\n");
        assert_eq!(
            all,
            vec![Err(ReplyError::CodeMismatch {
                expected: 250,
                found: 251
            })]
        );
    }

    #[test]
    fn buffered_bytes_after_reply() {
        let mut p = ReplyParser::new();
        p.push(b"220 ready\r\n250 injected\r\n");
        assert_eq!(p.next_reply().unwrap().unwrap().code, 220);
        assert_eq!(p.buffered_len(), 14);
        assert_eq!(p.take_buffered(), b"250 injected\r\n");
        assert_eq!(p.buffered_len(), 0);
        assert!(p.next_reply().is_none());
        // A partial line also counts.
        let mut p = ReplyParser::new();
        p.push(b"220 ready\r\n2");
        assert_eq!(p.next_reply().unwrap().unwrap().code, 220);
        assert_eq!(p.buffered_len(), 1);
    }

    #[test]
    fn too_many_lines_without_storing_everything() {
        let mut wire = Vec::new();
        for i in 0..10_000 {
            wire.extend_from_slice(format!("250-line {i}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"250 end\r\n");
        let mut p = ReplyParser::new();
        p.push(&wire);
        assert!(p.raw.len() < 16 * 1024, "stored {}", p.raw.len());
        assert_eq!(p.next_reply(), Some(Err(ReplyError::TooManyLines)));
        assert!(p.next_reply().is_none());
        assert!(p.buffered_len() > 0);
        // Exactly MAX_REPLY_LINES lines is fine.
        let mut ok = Vec::new();
        for _ in 1..MAX_REPLY_LINES {
            ok.extend_from_slice(b"250-x\r\n");
        }
        ok.extend_from_slice(b"250 y\r\n");
        assert_eq!(one(&ok).lines.len(), MAX_REPLY_LINES);
    }

    #[test]
    fn line_too_long_without_terminator() {
        let mut p = ReplyParser::new();
        p.push(b"220 ");
        for _ in 0..100_000 {
            p.push(b"a");
            if p.raw.len() > MAX_LINE_LEN + 2 {
                panic!("buffer grew to {}", p.raw.len());
            }
        }
        assert_eq!(p.next_reply(), Some(Err(ReplyError::LineTooLong)));
        // The limit itself is accepted.
        let mut line = b"220 ".to_vec();
        line.resize(MAX_LINE_LEN, b'a');
        line.extend_from_slice(b"\r\n");
        assert_eq!(one(&line).lines[0].len(), MAX_LINE_LEN - 4);
        line.insert(5, b'a');
        assert_eq!(parse_all(&line), vec![Err(ReplyError::LineTooLong)]);
    }

    #[test]
    fn reply_too_long_and_buffer_full() {
        let mut wire = Vec::new();
        let long = format!("250-{}\r\n", "x".repeat(1000));
        for _ in 0..100 {
            wire.extend_from_slice(long.as_bytes());
        }
        assert_eq!(parse_all(&wire), vec![Err(ReplyError::ReplyTooLong)]);
        let mut p = ReplyParser::new();
        let reply = format!("250 {}\r\n", "y".repeat(1000));
        for _ in 0..200 {
            p.push(reply.as_bytes());
        }
        assert!(p.raw.len() <= MAX_BUFFERED_BYTES + MAX_LINE_LEN + 2);
        let all: Vec<_> = std::iter::from_fn(|| p.next_reply()).collect();
        assert_eq!(all.last(), Some(&Err(ReplyError::BufferFull)));
        assert!(all[..all.len() - 1].iter().all(|r| r.is_ok()));
    }

    #[test]
    fn ehlo_keywords() {
        let r = one(
            b"250-mx.example.com greets you\r\n250-pipelining\r\n250-Size 10240000\r\n\
              250-8BITMIME\r\n250-=bad\r\n250-sTaRtTlS\r\n250 ENHANCEDSTATUSCODES\r\n",
        );
        let info = parse_ehlo(&r);
        assert_eq!(info.domain, "mx.example.com");
        assert!(info.starttls && info.pipelining);
        assert_eq!(info.size, Some(10_240_000));
        assert_eq!(
            info.keywords,
            vec![
                "PIPELINING",
                "SIZE",
                "8BITMIME",
                "STARTTLS",
                "ENHANCEDSTATUSCODES"
            ]
        );
        let helo = parse_ehlo(&one(b"250 mx.example.com\r\n"));
        assert_eq!(helo.domain, "mx.example.com");
        assert!(!helo.starttls && helo.keywords.is_empty());
        assert_eq!(parse_ehlo(&one(b"250-x\r\n250 SIZE\r\n")).size, None);
    }

    /// The smtp-proto alphabet trick (STYLE-ANCHORS sec. 1.6): map pseudo-random bytes into
    /// an RFC 5321 reply alphabet so the grammar-valid shapes are reached; never panics,
    /// never stores more than the bound.
    #[test]
    fn alphabet_mapped_noise() {
        const ALPHABET: &[u8] = b"2345 -\r\n0\r\n.5a\n";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..300 {
            let mut p = ReplyParser::new();
            for _ in 0..40 {
                let mut chunk = Vec::new();
                for _ in 0..(state % 64) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    chunk.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
                }
                p.push(&chunk);
                while let Some(r) = p.next_reply() {
                    if let Ok(r) = r {
                        assert!((200..600).contains(&r.code));
                        let _ = (r.text(), r.to_string(), parse_ehlo(&r));
                    }
                }
                assert!(p.raw.len() <= MAX_BUFFERED_BYTES + MAX_LINE_LEN + 2);
            }
        }
    }
}
