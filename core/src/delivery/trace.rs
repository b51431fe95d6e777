//! What a delivery leaves in the message's trace: what the receiving server's `Received:`
//! field will say (the RFC 3848 `with` type and the RFC 8314 sec. 4.3 `tls` clause), and
//! the client-side `Transmitted:` field of draft-fanf-dane-smtp sec. 5, opt-in.
//!
//! **`Transmitted:` is from a 2012 Internet-Draft (draft-fanf-dane-smtp, Tony Finch) that
//! was never standardised**; RFC 7672, its successor, defines no header field. daneel knows
//! the draft only from its IETF 84 slides, which say: "just like Received: but gives
//! client's view of the connection", "includes TLSA marker in 'with' clause", "and which
//! host name the client checked". So the field here has exactly the clauses of `Received:`
//! (RFC 5321 sec. 4.4: `from`, `by`, `with`, then `;` and the date) with the TLSA marker
//! `+TLSA` appended to the `with` protocol when DANE authenticated the server, and the
//! checked host name and the TLS version and cipher in a comment after `by`. The slides give
//! no syntax: the `+TLSA` spelling and the comment's layout are daneel's own. No receiver
//! interprets the field; it is for postmasters reading headers.

use serde::{Deserialize, Serialize};

use crate::time::{civil_from_days, Timestamp};
use crate::tls::TlsInfo;

/// What the receiving server's `Received:` field is expected to carry for one delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedTrace {
    /// The `with` protocol type (RFC 3848; RFC 6531 sec. 3.7.3 for the UTF8 types):
    /// `ESMTP`, `ESMTPS`, `UTF8SMTP` or `UTF8SMTPS`.
    pub with: String,
    /// The `tls` clause of RFC 8314 sec. 4.3: the cipher suite, when TLS was used.
    pub tls: Option<String>,
    /// The TLS version, when TLS was used (Postfix's comment shows it beside the cipher).
    pub tls_version: Option<String>,
}

/// The `with` type and `tls` clause for a transaction over `tls` (RFC 3848 sec. 2: the
/// `S` marks STARTTLS; no `A`, daneel does not authenticate with SMTP AUTH).
pub fn received_trace(tls: Option<&TlsInfo>, smtputf8: bool) -> ReceivedTrace {
    let with = match (smtputf8, tls.is_some()) {
        (false, false) => "ESMTP",
        (false, true) => "ESMTPS",
        (true, false) => "UTF8SMTP",
        (true, true) => "UTF8SMTPS",
    };
    ReceivedTrace {
        with: with.into(),
        tls: tls.map(|t| iana_cipher(&t.cipher)),
        tls_version: tls.map(|t| t.version.clone()),
    }
}

/// The IANA name of a cipher suite (the RFC 8314 sec. 4.3 clause takes the name from the
/// TLS Cipher Suites registry): rustls calls the TLS 1.3 suites `TLS13_...` where the
/// registry (and OpenSSL) say `TLS_...`; TLS 1.2 names are the registry's already.
pub fn iana_cipher(name: &str) -> String {
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    }
}

/// What one `Transmitted:` field records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmitted<'a> {
    /// The client's name (its EHLO name).
    pub from: &'a str,
    /// The server's host name (the MX host).
    pub by: &'a str,
    /// The host name the client checked the certificate against (the TLSA base domain),
    /// if it checked one.
    pub checked: Option<&'a str>,
    /// The `with` type of [`received_trace`].
    pub with: &'a str,
    /// DANE authenticated the server: the TLSA marker.
    pub tlsa: bool,
    /// The handshake.
    pub tls: Option<&'a TlsInfo>,
    /// When.
    pub date: Timestamp,
}

impl Transmitted<'_> {
    /// The field, with its CRLF, e.g.
    /// `Transmitted: from client.example by mx.example.com (checked mx.example.com; TLSv1.3
    /// TLS_AES_128_GCM_SHA256) with ESMTPS+TLSA; Thu, 03 Dec 2026 18:00:00 +0000`.
    pub fn field(&self) -> String {
        let mut comment = Vec::new();
        if let Some(name) = self.checked {
            comment.push(format!("checked {name}"));
        }
        if let Some(tls) = self.tls {
            comment.push(format!("{} {}", tls.version, iana_cipher(&tls.cipher)));
        }
        let comment = if comment.is_empty() {
            String::new()
        } else {
            format!(" ({})", comment.join("; "))
        };
        format!(
            "Transmitted: from {} by {}{comment} with {}{}; {}\r\n",
            self.from,
            self.by,
            self.with,
            if self.tlsa { "+TLSA" } else { "" },
            rfc5322_date(self.date)
        )
    }
}

/// RFC 5322 sec. 3.3 date-time in UTC, e.g. `Thu, 03 Dec 2026 18:00:00 +0000`.
pub fn rfc5322_date(at: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = at.as_unix_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> TlsInfo {
        TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            sni: Some("mx.example.com".into()),
            chain: Vec::new(),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(0)),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(1_796_320_800)),
            "Thu, 03 Dec 2026 18:00:00 +0000"
        );
    }

    #[test]
    fn with_types_and_fields() {
        let t = tls();
        assert_eq!(received_trace(Some(&t), false).with, "ESMTPS");
        assert_eq!(
            received_trace(Some(&t), false).tls.as_deref(),
            Some("TLS_AES_128_GCM_SHA256")
        );
        assert_eq!(received_trace(None, true).with, "UTF8SMTP");
        let field = Transmitted {
            from: "client.example",
            by: "mx.example.com",
            checked: Some("mx.example.com"),
            with: "ESMTPS",
            tlsa: true,
            tls: Some(&t),
            date: Timestamp::from_unix_secs(1_796_320_800),
        }
        .field();
        assert_eq!(
            field,
            "Transmitted: from client.example by mx.example.com (checked mx.example.com; \
             TLSv1.3 TLS_AES_128_GCM_SHA256) with ESMTPS+TLSA; Thu, 03 Dec 2026 18:00:00 +0000\r\n"
        );
    }
}
