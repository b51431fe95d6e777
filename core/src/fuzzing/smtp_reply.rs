//! `smtp_reply` target: the SMTP reply parser (RFC 5321 sec. 4.2 and 4.2.1) on raw bytes
//! and on bytes mapped into the reply alphabet. Oracle: bounded storage, reply codes and
//! line counts within the limits, and a print/parse round trip of every reply.

use crate::smtp::reply::{
    parse_ehlo, ReplyError, ReplyParser, MAX_BUFFERED_BYTES, MAX_LINE_LEN, MAX_REPLY_LINES,
};

/// The alphabet [`run`] maps bytes into: digits, separators, line ends, dots for enhanced
/// codes, a few letters.
const ALPHABET: &[u8] = b"0123455 -\r\n\r\n.STARTLS\xff";

/// Runs one case: the parser on `data` as is and again mapped into [`ALPHABET`] (the
/// smtp-proto trick, STYLE-ANCHORS sec. 1.6), fed in chunks of the size the first byte
/// gives, checking the bounds and that every reply re-serializes to itself.
pub fn run(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mapped: Vec<u8> = rest
        .iter()
        .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()])
        .collect();
    for input in [rest, &mapped[..]] {
        let mut p = ReplyParser::new();
        for piece in input.chunks(chunk) {
            p.push(piece);
            assert!(p.stored_len() <= MAX_BUFFERED_BYTES + MAX_LINE_LEN + 2);
            while let Some(item) = p.next_reply() {
                let Ok(reply) = item else { continue };
                assert!((200..600).contains(&reply.code));
                assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_REPLY_LINES);
                let _ = (reply.text(), reply.to_string(), parse_ehlo(&reply));
                // Round trip: the reply written back as CRLF lines parses to itself (unless
                // lossy decoding made it longer than the limits).
                let mut wire = Vec::new();
                for (i, line) in reply.lines.iter().enumerate() {
                    let sep = if i + 1 == reply.lines.len() { ' ' } else { '-' };
                    wire.extend_from_slice(format!("{}{sep}{line}\r\n", reply.code).as_bytes());
                }
                let mut again = ReplyParser::new();
                again.push(&wire);
                match again.next_reply() {
                    Some(Ok(r)) => {
                        assert_eq!(r, reply);
                        assert_eq!(again.buffered_len(), 0);
                    }
                    // Lossy decoding (U+FFFD is 3 bytes) can push a line past the limits; the
                    // parser then counts what follows instead of buffering it.
                    Some(Err(ReplyError::LineTooLong | ReplyError::ReplyTooLong)) => {}
                    other => panic!("{reply:?} re-parsed as {other:?}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_on_pseudo_random_inputs() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for len in 0..400 {
            let data: Vec<u8> = (0..len * 3)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            run(&data);
        }
        run(b"\x05250-a\r\n250 b\r\n");
    }
}
