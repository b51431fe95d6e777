//! `delivery` target: arbitrary sequences of inputs into a [`Delivery`] of a small message to
//! two recipients, under requirements the fuzzer picks (REQUIRETLS, `--require-dane`,
//! `TLS-Required: No`, `--trace`), with well-formed answers to the pending queries built from
//! its choices ([`super::check_ops`], as for `smtp_check`).
//!
//! Oracle (issue 12): no byte of a mail transaction (anything but EHLO, HELO, STARTTLS and
//! QUIT) on a connection whose trust decision did not accept the server: on a host of
//! policy `dane` only after an authenticated (`verified` or `trusted`) handshake, or a
//! failed one that a `TLS-Required: No` in force waived; never between STARTTLS and the end
//! of the handshake; with REQUIRETLS only over a `verified` connection under a secure MX
//! RRset; never to a host of policy `skip`. And every recipient ends in exactly one state:
//! the report lists each recipient once, and one reported delivered was accepted by a
//! transaction that actually sent the message. Besides: no `UsageError`, `Done` within a
//! bounded number of deadlines.

use std::net::SocketAddr;

use arbitrary::Unstructured;

use super::check_ops::{
    assert_host_justified, assert_mx_justified, assert_no_connect_to_skipped, drive, Observed,
};
use super::smtp_check::{FuzzOp, NAMES, SEED};
use crate::check::CheckConfig;
use crate::delivery::{Delivery, DeliveryConfig, Message, RecipientState, Waiver};
use crate::dns::Security;
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::report::{ConnectionVerdict, HostPolicy, Report};
use crate::time::Timestamp;

/// The recipients of every case (at `NAMES[0]`).
pub const RECIPIENTS: [&str; 2] = ["a@example.com", "b@example.com"];

/// The reverse path of every case.
pub const FROM: &str = "x@example.org";

/// Flag bits: REQUIRETLS.
pub const REQUIRETLS: u8 = 1;
/// Flag bits: `--require-dane`.
pub const REQUIRE_DANE: u8 = 2;
/// Flag bits: the message carries `TLS-Required: No`.
pub const TLS_REQUIRED_NO: u8 = 4;
/// Flag bits: `--trace`.
pub const TRACE: u8 = 8;

/// The configuration of a case with `flags`, asking `resolver` (also what seeds are
/// recorded with).
pub fn config(flags: u8, resolver: SocketAddr) -> DeliveryConfig {
    let mut check = CheckConfig::new("example.com", vec![resolver]);
    check.dns_attempts = 2;
    check.require_dane = flags & REQUIRE_DANE != 0;
    DeliveryConfig {
        check,
        from: FROM.into(),
        recipients: RECIPIENTS.iter().map(|r| r.to_string()).collect(),
        requiretls: flags & REQUIRETLS != 0,
        trace: flags & TRACE != 0,
    }
}

/// The message of a case with `flags`.
pub fn message(flags: u8) -> Message {
    let text: &[u8] = if flags & TLS_REQUIRED_NO != 0 {
        b"TLS-Required: No\r\nSubject: fuzz\r\n\r\n.dot\r\nbody\r\n"
    } else {
        b"Subject: fuzz\r\n\r\n.dot\r\nbody\r\n"
    };
    match Message::parse(text) {
        Ok(m) => m,
        Err(e) => panic!("the harness's message is malformed: {e}"),
    }
}

/// The input on which [`run`] delivers with `flags` and the steps `ops`.
pub fn seed(flags: u8, ops: &[FuzzOp]) -> Vec<u8> {
    let mut s = SeedBytes::new();
    s.int_in_range(u64::from(flags & 15), 15);
    s.list(ops, |s, op| op.write(s));
    s.into_bytes()
}

/// The start time of every case.
pub const START: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

/// Whether `line` (one line sent, without its line end) belongs to a mail transaction: the
/// session's own commands are EHLO, HELO, STARTTLS and QUIT.
fn is_transaction(line: &[u8]) -> bool {
    !(line.starts_with(b"EHLO ")
        || line.starts_with(b"HELO ")
        || line == b"STARTTLS"
        || line == b"QUIT")
}

/// Runs one case.
pub fn run(data: &[u8]) {
    run_case(data);
}

/// Runs one case and returns the first bytes of every `Send` (for tests of the seeds).
pub fn sends_of(data: &[u8]) -> Vec<Vec<u8>> {
    run_case(data).2
}

/// Runs one case and returns its report (for tests of the seeds and the oracle).
pub fn report_of(data: &[u8]) -> Box<Report> {
    run_case(data).0
}

/// Runs one case and returns its report and what the driver saw (for tests of the oracle).
pub fn observed_of(data: &[u8]) -> (Box<Report>, Observed) {
    let (report, observed, _) = run_case(data);
    (report, observed)
}

/// Panics unless every connection the driver saw opened (each `Connect` action) is an
/// attempt of the delivery's report, same id and address (so that the oracles reading the
/// report cover every real connection), and when one went to an address of a host of policy
/// `skip` that no other host lists (RFC 7672 sec. 2.2).
pub fn assert_connects_attempted(report: &Report, observed: &Observed) {
    let attempts = report
        .delivery
        .as_ref()
        .map_or(&[][..], |d| &d.attempts[..]);
    for (conn, addr) in &observed.conns {
        assert!(
            attempts
                .iter()
                .any(|a| a.conn == *conn && a.address == addr.to_string()),
            "connection {conn} to {addr} missing from the delivery's attempts"
        );
    }
    assert_no_connect_to_skipped(observed, &report.hosts);
}

/// Panics when the delivery in `report` tried a host of policy `skip` (its address, MX or
/// TLSA lookup failed or was bogus: RFC 7672 sec. 2.2, never a connection in clear there).
pub fn assert_no_attempt_on_skipped(report: &Report) {
    let attempts = report
        .delivery
        .as_ref()
        .map_or(&[][..], |d| &d.attempts[..]);
    for host in report.hosts.iter().filter(|h| h.policy == HostPolicy::Skip) {
        assert!(
            attempts.iter().all(|a| a.host != host.name),
            "connected to {}, whose lookups failed",
            host.name
        );
    }
}

fn run_case(data: &[u8]) -> (Box<Report>, Observed, Vec<Vec<u8>>) {
    let mut u = Unstructured::new(data);
    let flags = u.int_in_range(0u8..=15).unwrap_or(0);
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let resolver = SocketAddr::from(([127, 0, 0, 1], 53));
    let config = config(flags, resolver);
    let Ok(mut delivery) = Delivery::new(config, message(flags), SEED, START) else {
        panic!("a valid configuration was refused");
    };
    let (report, observed) = drive(&mut delivery, START, ops, &NAMES);
    let Observed {
        conns, snis, sends, ..
    } = &observed;
    let Some(d) = report.delivery.as_deref() else {
        panic!("a delivery without its delivery report");
    };
    // Every recipient ends in exactly one state.
    assert_eq!(
        d.recipients.len(),
        RECIPIENTS.len(),
        "a recipient lost or doubled"
    );
    for (r, expected) in d.recipients.iter().zip(RECIPIENTS) {
        assert_eq!(r.address, expected, "recipients out of order");
    }
    // Secure only when justified; no connection to a host whose lookups failed.
    assert_mx_justified(&report, &observed);
    for host in &report.hosts {
        assert_host_justified(&report, &observed, host, 25);
    }
    assert_no_attempt_on_skipped(&report);
    assert_connects_attempted(&report, &observed);
    let mx_secure = report
        .mx
        .as_ref()
        .is_some_and(|m| m.security == Security::Secure);
    // No transaction byte on a connection whose trust decision did not accept the server.
    for (conn, addr) in conns {
        let transaction: Vec<(crate::ConnId, bool, &[u8])> = observed
            .commands()
            .filter(|(c, _, line)| c == conn && is_transaction(line))
            .collect();
        if transaction.is_empty() {
            continue;
        }
        let Some(attempt) = d.attempts.iter().find(|a| a.conn == *conn) else {
            panic!("transaction bytes on {conn} ({addr}) with no attempt reported");
        };
        assert!(
            attempt.received.is_some(),
            "transaction bytes on {conn} though no transaction was started"
        );
        if snis.contains_key(conn) {
            assert!(
                transaction.iter().all(|(_, after, _)| *after),
                "transaction bytes on {conn} between STARTTLS and the end of the handshake"
            );
        }
        let policy = report
            .hosts
            .iter()
            .find(|h| h.name == attempt.host)
            .map(|h| h.policy);
        match policy {
            Some(HostPolicy::Dane) => assert!(
                matches!(
                    attempt.verdict,
                    ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                ) || (attempt.waived && d.requirements.waiver == Waiver::InForce),
                "transaction on an unauthenticated connection to a dane host: {attempt:?}"
            ),
            Some(HostPolicy::Encrypt) => assert!(
                snis.contains_key(conn) && attempt.tls.is_some(),
                "transaction without TLS on an encrypt host"
            ),
            Some(HostPolicy::Skip) | None => {
                panic!("transaction on a host that was skipped or not reported: {attempt:?}")
            }
            Some(HostPolicy::Opportunistic) => {}
        }
        if d.requirements.requiretls {
            assert!(
                mx_secure && attempt.verdict == ConnectionVerdict::Verified,
                "REQUIRETLS message sent without a secure MX and a verified connection"
            );
        }
        if d.requirements.require_dane {
            assert_eq!(
                policy,
                Some(HostPolicy::Dane),
                "--require-dane sent to a non-dane host"
            );
        }
    }
    for r in &d.recipients {
        if r.state == RecipientState::Delivered {
            let carried = d.attempts.iter().any(|a| {
                a.transaction.as_ref().is_some_and(|t| {
                    t.message_bytes > 0 && t.data.as_ref().is_some_and(|r| r.code / 100 == 2)
                })
            });
            assert!(carried, "{} delivered without a message sent", r.address);
        }
    }
    let heads = sends.iter().map(|(_, _, head)| head.clone()).collect();
    (report, observed, heads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::smtp_check::FuzzRecord;

    #[test]
    fn seeds_decode_and_run() {
        let ops = vec![
            FuzzOp::Answer {
                pick: 1,
                ad: true,
                rcode: 0,
                tc: false,
                records: vec![FuzzRecord::Mx(10, 1)],
            },
            FuzzOp::Connected(0),
            FuzzOp::Reply(0, 0),
            FuzzOp::Timeout,
        ];
        for flags in 0..16 {
            let bytes = seed(flags, &ops);
            let mut u = Unstructured::new(&bytes);
            assert_eq!(u.int_in_range(0u8..=15).unwrap(), flags);
            run(&bytes);
        }
    }
}
