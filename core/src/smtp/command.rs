//! The SMTP commands the client session sends, one variant per verb (lettre's `commands.rs`
//! naming): EHLO and HELO (RFC 5321 sec. 4.1.1.1), STARTTLS (RFC 3207 sec. 4) and QUIT
//! (RFC 5321 sec. 4.1.1.10).

use std::fmt;

/// Longest client name accepted for EHLO/HELO (a domain is at most 255 octets, RFC 5321
/// sec. 4.5.3.1.2; an address literal is shorter).
pub const MAX_CLIENT_NAME_LEN: usize = 255;

/// One client command. [`fmt::Display`] gives the line without CRLF (for logs);
/// [`Command::to_bytes`] gives the wire form with CRLF (RFC 5321 sec. 2.3.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO name` (RFC 5321 sec. 4.1.1.1).
    Ehlo(String),
    /// `HELO name`, the fallback when EHLO is not recognized (RFC 5321 sec. 4.1.4).
    Helo(String),
    /// `STARTTLS` (RFC 3207 sec. 4).
    StartTls,
    /// `QUIT` (RFC 5321 sec. 4.1.1.10).
    Quit,
}

impl Command {
    /// The command as sent: the line followed by CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!("{self}\r\n").into_bytes()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(name) => write!(f, "EHLO {name}"),
            Command::Helo(name) => write!(f, "HELO {name}"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Quit => f.write_str("QUIT"),
        }
    }
}

/// Checks a client name for EHLO/HELO: a domain or an address literal (RFC 5321
/// sec. 4.1.1.1, 4.1.3), that is non-empty, at most [`MAX_CLIENT_NAME_LEN`] bytes, and
/// made of printable ASCII without spaces, so it can never split or extend the command line.
pub fn validate_client_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the EHLO name is empty".into());
    }
    if name.len() > MAX_CLIENT_NAME_LEN {
        return Err(format!(
            "the EHLO name is longer than {MAX_CLIENT_NAME_LEN} bytes"
        ));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("the EHLO name {name:?} contains {c:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering() {
        assert_eq!(
            Command::Ehlo("client.example".into()).to_bytes(),
            b"EHLO client.example\r\n"
        );
        assert_eq!(
            Command::Helo("[192.0.2.1]".into()).to_bytes(),
            b"HELO [192.0.2.1]\r\n"
        );
        assert_eq!(Command::StartTls.to_bytes(), b"STARTTLS\r\n");
        assert_eq!(Command::Quit.to_string(), "QUIT");
    }

    #[test]
    fn client_names() {
        assert!(validate_client_name("client.example").is_ok());
        assert!(validate_client_name("[IPv6:2001:db8::1]").is_ok());
        for bad in ["", "a\r\nMAIL FROM:<x>", "a b", "a\n", "caf\u{e9}.example"] {
            assert!(validate_client_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_client_name(&"a".repeat(256)).is_err());
    }
}
