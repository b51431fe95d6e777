//! Delivery status notifications (RFC 3464) for bounced and deferred recipients: one
//! complete `multipart/report; report-type=delivery-status` message (RFC 6522) with a
//! human part, the `message/delivery-status` part and the original header
//! (`text/rfc822-headers`).
//!
//! Per recipient: `Final-Recipient: rfc822; ...`, `Action: failed` or `delayed`,
//! `Status`, `Remote-MTA: dns; host` (only the registered `dns` name type, never an
//! unregistered one), `Diagnostic-Code: smtp; <reply>` when a server replied (a local
//! reason goes to `X-Daneel-Diagnostic`), the retry hint in seconds in
//! `X-Daneel-Retry-After`, and the DANE detail in `X-Dane-Remote-MTA: dane; host; ...`, an
//! extension field (RFC 3464 sec. 2.4) named after the seed draft's `dane` MTA-name-type
//! idea, which was never registered.

use std::fmt::Write;

use super::report::{DeliveryReport, RecipientState};
use super::trace::rfc5322_date;
use crate::time::Timestamp;

/// What the DSN needs besides the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsnParams<'a> {
    /// The reporting MTA's name (`Reporting-MTA: dns; ...`), daneel's EHLO name.
    pub reporting_mta: &'a str,
    /// When the message arrived (`Arrival-Date`).
    pub arrival: Timestamp,
    /// When the DSN is written (`Date`, `Last-Attempt-Date`).
    pub now: Timestamp,
    /// Where the undelivered message was left, if it was.
    pub left_in: Option<&'a str>,
    /// The original message's header section, CRLF line ends.
    pub original_header: &'a [u8],
    /// A boundary unique to this DSN (the caller draws it; the core has no randomness).
    pub boundary: &'a str,
}

/// The DSN for the bounced and deferred recipients of `report`, or `None` when every
/// recipient was delivered, or when the reverse path is null: a message with the null
/// reverse path (itself a notification) never gets one (RFC 5321 sec. 4.5.5, RFC 3461
/// sec. 6.2), so that notifications cannot loop.
pub fn dsn_message(report: &DeliveryReport, p: &DsnParams<'_>) -> Option<String> {
    if report.from.is_empty() {
        return None;
    }
    let listed: Vec<_> = report
        .recipients
        .iter()
        .filter(|r| r.state != RecipientState::Delivered)
        .collect();
    if listed.is_empty() {
        return None;
    }
    let bounced = listed.iter().any(|r| r.state == RecipientState::Bounced);
    let date = rfc5322_date(p.now);
    let mut m = String::new();
    let to = format!("<{}>", report.from);
    let _ = write!(
        m,
        "From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n\
         To: {to}\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{b}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{b}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n",
        mta = p.reporting_mta,
        b = p.boundary,
        subject = if bounced {
            "Undelivered Mail Returned to Sender"
        } else {
            "Delayed Mail (not yet delivered)"
        },
    );
    let _ = write!(m, "This is daneel at {}.\r\n\r\n", p.reporting_mta);
    for r in &listed {
        let _ = write!(
            m,
            "<{}>: {}: {}\r\n",
            r.address,
            wording(r.state).0,
            r.diagnostic
        );
    }
    match p.left_in {
        Some(path) => {
            let _ = write!(m, "\r\nThe message was left in {path}\r\n");
        }
        None => {
            let _ = write!(m, "\r\nThe message was not kept.\r\n");
        }
    }
    let _ = write!(
        m,
        "\r\n--{b}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {mta}\r\n\
         Arrival-Date: {arrival}\r\n",
        b = p.boundary,
        mta = p.reporting_mta,
        arrival = rfc5322_date(p.arrival),
    );
    if let Some(path) = p.left_in {
        let _ = write!(m, "X-Daneel-Message-Left-In: {path}\r\n");
    }
    for r in &listed {
        let _ = write!(
            m,
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
            r.address,
            wording(r.state).1,
            r.status
        );
        if let Some(host) = &r.remote_mta {
            let _ = write!(m, "Remote-MTA: dns; {host}\r\n");
        }
        if r.from_server {
            let _ = write!(m, "Diagnostic-Code: smtp; {}\r\n", one_line(&r.diagnostic));
        } else {
            let _ = write!(m, "X-Daneel-Diagnostic: {}\r\n", one_line(&r.diagnostic));
        }
        let _ = write!(m, "Last-Attempt-Date: {date}\r\n");
        if let Some(secs) = r.retry_after_secs {
            let _ = write!(m, "X-Daneel-Retry-After: {secs}\r\n");
        }
        if let (Some(host), Some(dane)) = (&r.remote_mta, &r.dane) {
            let _ = write!(m, "X-Dane-Remote-MTA: dane; {host}; {}\r\n", one_line(dane));
        }
    }
    let _ = write!(
        m,
        "\r\n--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n",
        b = p.boundary
    );
    m.push_str(&String::from_utf8_lossy(p.original_header));
    let _ = write!(m, "\r\n--{b}--\r\n", b = p.boundary);
    Some(m)
}

/// What the human part and the `Action` field (RFC 3464 sec. 2.3.3) say for `state`.
fn wording(state: RecipientState) -> (&'static str, &'static str) {
    match state {
        RecipientState::Bounced => ("could not be delivered", "failed"),
        _ => ("not delivered yet", "delayed"),
    }
}

/// A value on one header line: line ends and controls become spaces, at most 900 chars.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(900)
        .collect()
}
