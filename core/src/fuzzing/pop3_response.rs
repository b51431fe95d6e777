//! `pop3_response` target: one POP3 STLS session fed an arbitrary server byte stream, with
//! the oracles of [`super::imap_response`] (its harness; the PREAUTH oracle never fires for
//! POP3).

use crate::mua::starttls::MuaProtocol;

/// Runs one POP3 case.
pub fn run(data: &[u8]) {
    super::imap_response::session(MuaProtocol::Pop3, data);
}
