//! One SMTP mail transaction (RFC 5321 sec. 3.3): `MAIL FROM` with its parameters (SIZE,
//! RFC 1870; BODY=8BITMIME, RFC 6152; SMTPUTF8, RFC 6531; REQUIRETLS, RFC 8689 sec. 4.2),
//! `RCPT TO` per recipient (pipelined when the server offers PIPELINING, RFC 2920), then the
//! message with `DATA` (dot-stuffed, RFC 5321 sec. 4.5.2) or, when CHUNKING is offered, one
//! `BDAT ... LAST` (RFC 3030).
//!
//! [`Transaction`] is a sans-IO sub-machine of [`crate::smtp::session::SmtpSession`]: the
//! session hands it the replies it reads and sends what it returns. It is only ever started
//! after the session's trust decision accepted the connection (see
//! [`crate::smtp::session::SmtpSession::go`]). The message is sent in pieces of at most
//! [`CHUNK`] bytes, built once, in one pass: a 10 MB body costs 10 MB of output, never a
//! quadratic buffer.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::smtp::reply::{EhloInfo, Reply};
use crate::smtp::session::SmtpTimeouts;

/// The largest piece of message the transaction hands to the session at once.
pub const CHUNK: usize = 64 * 1024;

/// A message ready for the wire: lines end in CRLF (RFC 5321 sec. 2.3.8), the last one
/// too, and what it needs from the server is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireMessage {
    /// The message, CRLF-normalised, not dot-stuffed.
    pub bytes: Arc<Vec<u8>>,
    /// Some byte is above 127: `BODY=8BITMIME` (RFC 6152).
    pub eight_bit: bool,
    /// A header field or an envelope address is not ASCII: `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
}

/// What one transaction carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionSpec {
    /// The reverse path (RFC 5321 sec. 4.1.1.2), without angle brackets; empty for `<>`.
    pub from: String,
    /// The recipients, each with the index its owner knows it by.
    pub recipients: Vec<(usize, String)>,
    /// The message.
    pub message: WireMessage,
    /// Send the `REQUIRETLS` MAIL FROM parameter (RFC 8689 sec. 4.2).
    pub requiretls: bool,
}

/// Why a server cannot take the message at all, found from its EHLO reply before anything
/// of the transaction is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Unfit {
    /// The message exceeds the server's SIZE (RFC 1870 sec. 6): 5.3.4.
    TooBig {
        /// The message size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// 8-bit data and no 8BITMIME (RFC 6152 sec. 3): 5.6.3, daneel does not downgrade.
    No8BitMime,
    /// Non-ASCII headers or addresses and no SMTPUTF8 (RFC 6531 sec. 3.2): 5.6.7.
    NoSmtpUtf8,
    /// REQUIRETLS asked and not in the EHLO reply after STARTTLS (RFC 8689 sec. 4.2.1
    /// step 5): 5.7.30.
    NoRequireTls,
}

impl Unfit {
    /// The enhanced status code a bounce for this carries (RFC 3463, RFC 8689 sec. 5).
    pub fn status(&self) -> &'static str {
        match self {
            Unfit::TooBig { .. } => "5.3.4",
            Unfit::No8BitMime => "5.6.3",
            Unfit::NoSmtpUtf8 => "5.6.7",
            Unfit::NoRequireTls => "5.7.30",
        }
    }
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::TooBig { size, limit } => write!(
                f,
                "message of {size} bytes exceeds the server's SIZE {limit} (RFC 1870)"
            ),
            Unfit::No8BitMime => {
                f.write_str("8-bit message and the server does not offer 8BITMIME (RFC 6152)")
            }
            Unfit::NoSmtpUtf8 => f.write_str(
                "internationalised message and the server does not offer SMTPUTF8 (RFC 6531)",
            ),
            Unfit::NoRequireTls => {
                f.write_str("REQUIRETLS not offered after STARTTLS (RFC 8689 sec. 4.2.1)")
            }
        }
    }
}

/// How the message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataMethod {
    /// `DATA`, dot-stuffed (RFC 5321 sec. 4.1.1.4).
    Data,
    /// `BDAT n LAST` (RFC 3030).
    Bdat,
}

/// What the transaction got: every reply, by the command it answers. A reply that never
/// came (the connection ended first) is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionOutcome {
    /// The MAIL FROM line as sent (for the report).
    pub mail_command: String,
    /// The reply to MAIL FROM.
    pub mail: Option<Reply>,
    /// Per recipient index, the reply to its RCPT TO.
    pub rcpts: Vec<(usize, Option<Reply>)>,
    /// The reply ending the message (after the final dot or to BDAT LAST), or the reply to
    /// DATA when it was a 4xx or 5xx.
    pub data: Option<Reply>,
    /// The reply to DATA when it was neither 354 nor a failure (a 2xx or another 3xx is no
    /// answer RFC 5321 sec. 4.3.2 allows): the message was not sent and its fate is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_start: Option<Reply>,
    /// DATA or BDAT.
    pub method: DataMethod,
    /// RCPT TO went pipelined (RFC 2920).
    pub pipelined: bool,
    /// Bytes of the message sent (after dot-stuffing).
    pub message_bytes: u64,
}

/// What became of one recipient in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptFate {
    /// The server took responsibility (RFC 5321 sec. 6.1).
    Delivered(Reply),
    /// A 4xx reply.
    Transient(Reply),
    /// A 5xx reply.
    Permanent(Reply),
    /// No verdict: the dialogue ended before one (deferred; RFC 5321 sec. 6.1 allows a
    /// duplicate if the message had in fact been taken).
    Unknown,
}

impl TransactionOutcome {
    /// The fate of recipient `index`: MAIL decides first, then its RCPT, then the message.
    pub fn fate(&self, index: usize) -> RcptFate {
        let by_reply = |r: &Reply| {
            if r.is_permanent() {
                RcptFate::Permanent(r.clone())
            } else {
                RcptFate::Transient(r.clone())
            }
        };
        match &self.mail {
            None => return RcptFate::Unknown,
            Some(r) if !r.is_positive_completion() => return by_reply(r),
            _ => {}
        }
        match self.rcpts.iter().find(|(i, _)| *i == index) {
            Some((_, Some(r))) if !r.is_positive_completion() => return by_reply(r),
            Some((_, Some(_))) => {}
            _ => return RcptFate::Unknown,
        }
        match &self.data {
            Some(r) if r.is_positive_completion() => RcptFate::Delivered(r.clone()),
            Some(r) => by_reply(r),
            None => RcptFate::Unknown,
        }
    }
}

/// The reply the transaction waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Mail,
    Rcpt(usize),
    DataStart,
    DataEnd,
    Bdat,
}

/// Something for the session to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// What to log for them, or `None` for message pieces (logged once, by the first).
    pub shown: Option<String>,
}

/// The transaction sub-machine (see the module documentation).
#[derive(Debug)]
pub struct Transaction {
    spec: TransactionSpec,
    pipelining: bool,
    chunking: bool,
    expect: VecDeque<Expect>,
    outcome: TransactionOutcome,
    done: bool,
}

/// Whether `keyword` is in the EHLO reply.
fn offers(ehlo: &EhloInfo, keyword: &str) -> bool {
    ehlo.keywords.iter().any(|k| k == keyword)
}

impl Transaction {
    /// A transaction for `spec` on a server whose (post-TLS, when TLS is up) EHLO reply is
    /// `ehlo`; `Err` when the server cannot take the message at all.
    pub fn new(spec: TransactionSpec, ehlo: &EhloInfo) -> Result<Transaction, Unfit> {
        let size = spec.message.bytes.len() as u64;
        if let Some(limit) = ehlo.size.filter(|l| *l > 0 && offers(ehlo, "SIZE")) {
            if size > limit {
                return Err(Unfit::TooBig { size, limit });
            }
        }
        if spec.requiretls && !offers(ehlo, "REQUIRETLS") {
            return Err(Unfit::NoRequireTls);
        }
        // RFC 6531 sec. 3.4: a non-ASCII header field or envelope address needs SMTPUTF8.
        let smtputf8 = spec.message.smtputf8
            || !spec.from.is_ascii()
            || spec.recipients.iter().any(|(_, r)| !r.is_ascii());
        if smtputf8 && !offers(ehlo, "SMTPUTF8") {
            return Err(Unfit::NoSmtpUtf8);
        }
        if spec.message.eight_bit && !offers(ehlo, "8BITMIME") {
            return Err(Unfit::No8BitMime);
        }
        let mut mail = format!("MAIL FROM:<{}>", spec.from);
        if offers(ehlo, "SIZE") {
            mail.push_str(&format!(" SIZE={size}"));
        }
        if spec.message.eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        if smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        if spec.requiretls {
            mail.push_str(" REQUIRETLS");
        }
        let chunking = offers(ehlo, "CHUNKING");
        let outcome = TransactionOutcome {
            mail_command: mail,
            mail: None,
            rcpts: spec.recipients.iter().map(|(i, _)| (*i, None)).collect(),
            data: None,
            data_start: None,
            method: if chunking {
                DataMethod::Bdat
            } else {
                DataMethod::Data
            },
            pipelined: ehlo.pipelining,
            message_bytes: 0,
        };
        Ok(Transaction {
            pipelining: ehlo.pipelining,
            chunking,
            spec,
            expect: VecDeque::new(),
            outcome,
            done: false,
        })
    }

    /// The first commands: MAIL FROM, and with PIPELINING every RCPT TO in the same write
    /// (RFC 2920 sec. 3.1: MAIL and RCPT may be grouped; DATA waits for their replies here).
    pub fn start(&mut self) -> Vec<Outgoing> {
        let mut line = self.outcome.mail_command.clone();
        let mut shown = line.clone();
        self.expect.push_back(Expect::Mail);
        if self.pipelining {
            for n in 0..self.spec.recipients.len() {
                let rcpt = self.rcpt_line(n);
                line.push_str("\r\n");
                line.push_str(&rcpt);
                shown.push_str(" | ");
                shown.push_str(&rcpt);
                self.expect.push_back(Expect::Rcpt(n));
            }
        }
        line.push_str("\r\n");
        vec![Outgoing {
            bytes: line.into_bytes(),
            shown: Some(shown),
        }]
    }

    fn rcpt_line(&self, n: usize) -> String {
        format!("RCPT TO:<{}>", self.spec.recipients[n].1)
    }

    fn command(&mut self, line: String, expect: Expect) -> Outgoing {
        self.expect.push_back(expect);
        Outgoing {
            bytes: format!("{line}\r\n").into_bytes(),
            shown: Some(line),
        }
    }

    /// Replies still owed for commands already sent.
    pub fn outstanding(&self) -> usize {
        self.expect.len()
    }

    /// Whether the transaction is over (the session then sends QUIT).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What it got so far.
    pub fn outcome(&self) -> &TransactionOutcome {
        &self.outcome
    }

    /// How long to wait for the next reply (RFC 5321 sec. 4.5.3.2: MAIL and RCPT 5 minutes,
    /// DATA initiation 2 minutes, the final reply 10 minutes).
    pub fn timeout(&self, t: &SmtpTimeouts) -> Duration {
        match self.expect.front() {
            Some(Expect::DataEnd | Expect::Bdat) => t.data_end,
            _ => t.transaction,
        }
    }

    /// A reply arrived; returns what to send next.
    pub fn on_reply(&mut self, reply: Reply) -> Vec<Outgoing> {
        let Some(expect) = self.expect.pop_front() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match expect {
            Expect::Mail => {
                let ok = reply.is_positive_completion();
                self.outcome.mail = Some(reply);
                if !self.pipelining {
                    if ok && !self.spec.recipients.is_empty() {
                        let line = self.rcpt_line(0);
                        out.push(self.command(line, Expect::Rcpt(0)));
                    } else {
                        self.done = true;
                    }
                }
            }
            Expect::Rcpt(n) => {
                self.outcome.rcpts[n].1 = Some(reply);
                let last = n + 1 == self.spec.recipients.len();
                if !self.pipelining && !last {
                    let line = self.rcpt_line(n + 1);
                    out.push(self.command(line, Expect::Rcpt(n + 1)));
                } else if last {
                    out.extend(self.after_rcpts());
                }
            }
            Expect::DataStart => {
                if reply.code == 354 {
                    out.extend(self.message_pieces());
                    self.expect.push_back(Expect::DataEnd);
                } else if reply.is_transient() || reply.is_permanent() {
                    self.outcome.data = Some(reply);
                    self.done = true;
                } else {
                    // Never "delivered" on a 2xx to DATA itself: nothing was sent.
                    self.outcome.data_start = Some(reply);
                    self.done = true;
                }
            }
            Expect::DataEnd | Expect::Bdat => {
                self.outcome.data = Some(reply);
                self.done = true;
            }
        }
        out
    }

    /// After the last RCPT reply: the message if MAIL and at least one RCPT succeeded
    /// (RFC 5321 sec. 3.3), else the end.
    fn after_rcpts(&mut self) -> Vec<Outgoing> {
        let mail_ok = self
            .outcome
            .mail
            .as_ref()
            .is_some_and(Reply::is_positive_completion);
        let any = self
            .outcome
            .rcpts
            .iter()
            .any(|(_, r)| r.as_ref().is_some_and(Reply::is_positive_completion));
        if !(mail_ok && any) {
            self.done = true;
            return Vec::new();
        }
        if self.chunking {
            let len = self.spec.message.bytes.len();
            let mut out = vec![Outgoing {
                bytes: format!("BDAT {len} LAST\r\n").into_bytes(),
                shown: Some(format!("BDAT {len} LAST")),
            }];
            let bytes = self.spec.message.bytes.clone();
            out.extend(bytes.chunks(CHUNK).map(|c| Outgoing {
                bytes: c.to_vec(),
                shown: None,
            }));
            self.outcome.message_bytes = len as u64;
            self.expect.push_back(Expect::Bdat);
            out
        } else {
            vec![self.command("DATA".into(), Expect::DataStart)]
        }
    }

    /// The dot-stuffed message and its final `.` (RFC 5321 sec. 4.5.2), in pieces.
    fn message_pieces(&mut self) -> Vec<Outgoing> {
        let pieces = dot_stuff(&self.spec.message.bytes);
        self.outcome.message_bytes = pieces.iter().map(|p| p.len() as u64).sum();
        pieces
            .into_iter()
            .map(|bytes| Outgoing { bytes, shown: None })
            .collect()
    }
}

/// Dot-stuffs a CRLF-normalised message ending in CRLF (RFC 5321 sec. 4.5.2: a line that
/// starts with `.` gets one more) and appends the terminating `.` line, in pieces of about
/// [`CHUNK`] bytes, in one linear pass.
pub fn dot_stuff(message: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::with_capacity(message.len() / CHUNK + 1);
    let mut piece = Vec::with_capacity(CHUNK + 64);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            piece.push(b'.');
        }
        piece.push(b);
        line_start = b == b'\n';
        if piece.len() >= CHUNK {
            pieces.push(std::mem::replace(
                &mut piece,
                Vec::with_capacity(CHUNK + 64),
            ));
        }
    }
    if !line_start {
        // Not normalised by the caller: never let the terminator join the last line.
        piece.extend_from_slice(b"\r\n");
    }
    piece.extend_from_slice(b".\r\n");
    pieces.push(piece);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{parse_ehlo, ReplyParser};

    fn reply(text: &str) -> Reply {
        let mut p = ReplyParser::new();
        p.push(text.as_bytes());
        p.next_reply().unwrap().unwrap()
    }

    fn ehlo(keywords: &[&str]) -> EhloInfo {
        if keywords.is_empty() {
            return parse_ehlo(&reply("250 mx.example\r\n"));
        }
        let mut text = String::from("250-mx.example\r\n");
        for (i, k) in keywords.iter().enumerate() {
            let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
            text.push_str(&format!("250{sep}{k}\r\n"));
        }
        parse_ehlo(&reply(&text))
    }

    fn spec(body: &[u8]) -> TransactionSpec {
        TransactionSpec {
            from: "a@example.org".into(),
            recipients: vec![(0, "b@example.com".into()), (1, "c@example.com".into())],
            message: WireMessage {
                bytes: Arc::new(body.to_vec()),
                eight_bit: false,
                smtputf8: false,
            },
            requiretls: false,
        }
    }

    /// RFC 6531 sec. 3.4: an ASCII message to a non-ASCII address still needs SMTPUTF8.
    #[test]
    fn a_non_ascii_envelope_address_needs_smtputf8() {
        let mut s = spec(b"hi\r\n");
        s.recipients[1].1 = "j\u{f6}rg@example.com".into();
        assert!(matches!(
            Transaction::new(s.clone(), &ehlo(&["PIPELINING"])),
            Err(Unfit::NoSmtpUtf8)
        ));
        let mut t = Transaction::new(s, &ehlo(&["PIPELINING", "SMTPUTF8"])).unwrap();
        let first = t.start();
        assert!(first[0]
            .bytes
            .starts_with(b"MAIL FROM:<a@example.org> SMTPUTF8\r\n"));
    }

    #[test]
    fn dot_stuffing_and_terminator() {
        let out: Vec<u8> = dot_stuff(b".a\r\nb\r\n..c\r\n.\r\n").concat();
        assert_eq!(out, b"..a\r\nb\r\n...c\r\n..\r\n.\r\n");
        let big = vec![b'.'; 3 * CHUNK];
        let pieces = dot_stuff(&big);
        assert!(pieces.len() >= 3);
        assert_eq!(pieces.concat().len(), 3 * CHUNK + 1 + 2 + 3);
    }

    #[test]
    fn pipelined_transaction_with_one_rejection() {
        let mut t = Transaction::new(spec(b"hi\r\n"), &ehlo(&["PIPELINING", "SIZE 100"])).unwrap();
        let first = t.start();
        assert_eq!(
            first[0].bytes,
            b"MAIL FROM:<a@example.org> SIZE=4\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n"
        );
        assert!(t.on_reply(reply("250 ok\r\n")).is_empty());
        assert!(t.on_reply(reply("550 5.1.1 no\r\n")).is_empty());
        let data = t.on_reply(reply("250 ok\r\n"));
        assert_eq!(data[0].bytes, b"DATA\r\n");
        let body = t.on_reply(reply("354 go\r\n"));
        assert_eq!(body.concat_bytes(), b"hi\r\n.\r\n");
        assert!(t.on_reply(reply("250 queued\r\n")).is_empty());
        assert!(t.is_done());
        assert!(matches!(t.outcome().fate(0), RcptFate::Permanent(_)));
        assert!(matches!(t.outcome().fate(1), RcptFate::Delivered(_)));
    }

    trait Concat {
        fn concat_bytes(&self) -> Vec<u8>;
    }
    impl Concat for Vec<Outgoing> {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter().flat_map(|o| o.bytes.clone()).collect()
        }
    }

    #[test]
    fn unfit_servers() {
        assert_eq!(
            Transaction::new(spec(&[b'x'; 200]), &ehlo(&["SIZE 100"])).unwrap_err(),
            Unfit::TooBig {
                size: 200,
                limit: 100
            }
        );
        let mut s = spec(b"x\r\n");
        s.requiretls = true;
        assert_eq!(
            Transaction::new(s, &ehlo(&[])).unwrap_err(),
            Unfit::NoRequireTls
        );
        let mut s = spec(b"\xc3\xa9\r\n");
        s.message.eight_bit = true;
        assert_eq!(
            Transaction::new(s.clone(), &ehlo(&[])).unwrap_err(),
            Unfit::No8BitMime
        );
        let t = Transaction::new(s, &ehlo(&["8BITMIME", "CHUNKING"])).unwrap();
        assert!(t.outcome().mail_command.ends_with("BODY=8BITMIME"));
        assert_eq!(t.outcome().method, DataMethod::Bdat);
    }

    #[test]
    fn a_2xx_to_data_itself_is_no_delivery() {
        // Found by the `delivery` fuzz target: `221` answering DATA was taken as delivery.
        let mut t = Transaction::new(spec(b"x\r\n"), &ehlo(&[])).unwrap();
        t.start();
        t.on_reply(reply("250 ok\r\n"));
        t.on_reply(reply("250 ok\r\n"));
        let data = t.on_reply(reply("250 ok\r\n"));
        assert_eq!(data[0].bytes, b"DATA\r\n");
        assert!(t.on_reply(reply("221 2.0.0 Bye\r\n")).is_empty());
        assert!(t.is_done());
        assert_eq!(t.outcome().fate(0), RcptFate::Unknown);
        assert_eq!(t.outcome().message_bytes, 0);
    }

    #[test]
    fn mail_refused_ends_without_rcpt() {
        let mut t = Transaction::new(spec(b"x\r\n"), &ehlo(&[])).unwrap();
        assert_eq!(t.start()[0].bytes, b"MAIL FROM:<a@example.org>\r\n");
        assert!(t.on_reply(reply("451 4.3.0 later\r\n")).is_empty());
        assert!(t.is_done());
        assert!(matches!(t.outcome().fate(1), RcptFate::Transient(_)));
    }
}
