//! `smtp_check` target: arbitrary sequences of inputs into an [`SmtpCheck`], with
//! well-formed answers to the pending queries built from the fuzzer's choices. Oracle: no
//! `UsageError`, `Done` within a bounded number of deadlines, and the security invariants
//! of DESIGN.md section 8 (RFC 7672 sec. 2.2 and 3).

use std::net::SocketAddr;

use arbitrary::Unstructured;

use super::check_ops::{drive, Observed};
pub use super::check_ops::{FuzzOp, FuzzRecord};
use crate::check::{CheckConfig, SmtpCheck};
use crate::dns::Security;
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::report::{ConnectionVerdict, HostPolicy};
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

/// Runs one case: arbitrary sequences of inputs into an [`SmtpCheck`].
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let destination = match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => "example.com",
        1 => "[mx1.example.com]",
        2 => "[mx1.example.com]:587",
        _ => "[192.0.2.1]",
    };
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let resolver = SocketAddr::from(([127, 0, 0, 1], 53));
    let mut config = CheckConfig::new(destination, vec![resolver]);
    config.dns_attempts = 2;
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let Ok(mut check) = SmtpCheck::new(config, SEED, now) else {
        panic!("a valid configuration was refused");
    };
    let (report, observed) = drive(&mut check, now, ops, &NAMES, resolver);
    let Observed {
        any_ad,
        conns,
        sent_after_tls,
        ..
    } = observed;
    // Invariants (DESIGN.md section 8).
    if let Some(mx) = &report.mx {
        assert!(
            mx.security != Security::Secure || any_ad,
            "secure MX without any AD answer"
        );
    }
    for host in &report.hosts {
        if let Some(t) = &host.tlsa {
            assert!(
                t.security != Security::Secure || any_ad,
                "secure TLSA without AD"
            );
        }
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
            if host.policy == HostPolicy::Dane
                && !matches!(
                    conn.verdict,
                    ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                )
            {
                // Nothing may follow a handshake whose chain was not authenticated.
                let leaked = conns
                    .iter()
                    .filter(|(_, addr)| addr.to_string() == conn.address)
                    .any(|(id, _)| sent_after_tls.contains_key(id));
                assert!(!leaked, "bytes sent after an unauthenticated handshake");
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
