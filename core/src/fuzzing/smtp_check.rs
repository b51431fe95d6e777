//! `smtp_check` target: arbitrary sequences of inputs into an [`SmtpCheck`], with
//! well-formed answers to the pending queries built from the fuzzer's choices. Oracle: no
//! `UsageError`, `Done` within a bounded number of deadlines, and the security invariants
//! of DESIGN.md section 8 (RFC 7672 sec. 2.2 and 3).

use std::net::SocketAddr;

use arbitrary::Unstructured;

use super::check_ops::{
    assert_connects_reported, assert_host_justified, assert_mx_justified,
    assert_no_connect_to_skipped, assert_no_login_or_transaction, assert_sent_after_tls_allowed,
    drive, Observed,
};
pub use super::check_ops::{FuzzOp, FuzzRecord};
use crate::check::{CheckConfig, SmtpCheck};
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::report::{ConnectionVerdict, HostPolicy, Report};
use crate::seed::Seed;
use crate::time::Timestamp;

/// The names the `smtp_check` fuzzer can use in its records, by index: the domain of
/// destination 0, two MX hosts, a CNAME target, the root (null MX, RFC 7505), another name.
pub const NAMES: [&str; 6] = [
    "example.com.",
    "mx1.example.com.",
    "mx2.example.net.",
    "alias.example.com.",
    ".",
    "tlsa.example.org.",
];

/// The input on which [`run`] checks destination `destination` (0: `example.com`, 1:
/// `[mx1.example.com]`, 2: `[mx1.example.com]:587`, 3: `[192.0.2.1]`) with the steps `ops`,
/// for seeds made from real transcripts.
pub fn seed(destination: u8, ops: &[FuzzOp]) -> Vec<u8> {
    let mut s = SeedBytes::new();
    s.int_in_range(u64::from(destination.min(3)), 3);
    s.list(ops, |s, op| op.write(s));
    s.into_bytes()
}

/// The seed of the harness's check (and of the recordings its seeds are made from, so that
/// recorded DNS answers carry the message ids the harness's check expects).
pub const SEED: Seed = Seed(1);

/// The start time of every case.
pub const START: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

/// The resolver every case asks.
pub const RESOLVER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    53,
);

/// The configuration of a case checking destination `destination` (see [`seed`]).
pub fn config(destination: u8) -> CheckConfig {
    let destination = match destination {
        0 => "example.com",
        1 => "[mx1.example.com]",
        2 => "[mx1.example.com]:587",
        _ => "[192.0.2.1]",
    };
    let mut config = CheckConfig::new(destination, vec![RESOLVER]);
    config.dns_attempts = 2;
    config
}

/// Runs one case: arbitrary sequences of inputs into an [`SmtpCheck`].
pub fn run(data: &[u8]) {
    report_of(data);
}

/// Runs one case and returns the check's report (for tests of the seeds).
pub fn report_of(data: &[u8]) -> Box<Report> {
    let mut u = Unstructured::new(data);
    let destination = u.int_in_range(0u8..=3).unwrap_or(0);
    let config = config(destination);
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let now = START;
    let Ok(mut check) = SmtpCheck::new(config, SEED, now) else {
        panic!("a valid configuration was refused");
    };
    let port = if destination == 2 { 587 } else { 25 };
    let (report, observed) = drive(&mut check, now, ops, &NAMES);
    check_report(&report, &observed, port);
    report
}

/// The oracle of one SMTP check's report against what its driver saw (DESIGN.md section 8),
/// also applied to each domain of a `scan` case; `port`: the destination's (it names the
/// TLSA RRsets, RFC 7672 sec. 2.2.3).
pub(crate) fn check_report(report: &Report, observed: &Observed, port: u16) {
    assert_no_login_or_transaction(observed);
    assert_connects_reported(observed, &report.hosts);
    assert_no_connect_to_skipped(observed, &report.hosts);
    // Nothing may follow a handshake under policy dane whose chain was not authenticated.
    let may_go_on = report.hosts.iter().flat_map(|host| {
        host.connections.iter().filter(|conn| {
            host.policy != HostPolicy::Dane
                || matches!(
                    conn.verdict,
                    ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                )
        })
    });
    assert_sent_after_tls_allowed(observed, may_go_on);
    assert_mx_justified(report, observed);
    for host in &report.hosts {
        assert_host_justified(report, observed, host, port);
        for conn in &host.connections {
            if matches!(
                conn.verdict,
                ConnectionVerdict::Verified | ConnectionVerdict::Trusted
            ) {
                assert_eq!(
                    host.policy,
                    HostPolicy::Dane,
                    "authenticated without policy dane"
                );
                assert!(conn.matched.is_some(), "verified without a matched record");
            }
            if matches!(host.policy, HostPolicy::Dane | HostPolicy::Encrypt) {
                assert_ne!(
                    conn.verdict,
                    ConnectionVerdict::Plaintext,
                    "downgrade to plaintext"
                );
            }
        }
        if host.policy == HostPolicy::Skip {
            assert!(
                host.connections.is_empty(),
                "connected to a host whose lookups failed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_decode_to_their_steps() {
        let ops = vec![
            FuzzOp::Answer {
                pick: 1,
                ad: true,
                rcode: 0,
                tc: false,
                records: vec![
                    FuzzRecord::Mx(10, 1),
                    FuzzRecord::A([192, 0, 2, 1]),
                    FuzzRecord::Aaaa([0x20; 16]),
                    FuzzRecord::Cname(3),
                    FuzzRecord::Tlsa(3, 1, 1, vec![0xab; 32]),
                ],
            },
            FuzzOp::RawAnswer(2, vec![1, 2, 3]),
            FuzzOp::DnsFailed(3),
            FuzzOp::Connected(4),
            FuzzOp::ConnectFailed(5),
            FuzzOp::Received(6, b"220 hi\r\n".to_vec()),
            FuzzOp::Reply(7, 8),
            FuzzOp::TlsEstablished(9, vec![vec![0x30, 0], vec![]]),
            FuzzOp::TlsFailed(10, true),
            FuzzOp::Closed(11),
            FuzzOp::Timeout,
            FuzzOp::ConnectQueued(12),
            FuzzOp::Connecting(13),
        ];
        let bytes = seed(2, &ops);
        let mut u = Unstructured::new(&bytes);
        assert_eq!(u.int_in_range(0u8..=3).unwrap(), 2);
        let decoded: Vec<FuzzOp> = u.arbitrary().unwrap();
        assert_eq!(format!("{decoded:?}"), format!("{ops:?}"));
        assert!(u.is_empty());
        run(&bytes);
    }
}
