//! `mua_check` target: arbitrary sequences of inputs into a [`MuaCheck`] (RFC 7673), driven
//! like `smtp_check` ([`super::check_ops`]); an MX choice answers an SRV question as an SRV
//! record. Oracle: no `UsageError`, `Done` within a bounded number of deadlines, and the
//! invariants of RFC 7673:
//! - nothing is secure without an AD answer from the resolver to its own question
//!   ([`super::check_ops::secure_unjustified`]);
//! - never `verified` or `trusted` without saying how, and never by a TLSA usage without a
//!   matched record under policy `dane`; never by PKIX (no fuzzed chain reaches a Web PKI
//!   root);
//! - never a name RFC 7673 sec. 4.1 forbids: under an insecure SRV RRset only the mail
//!   domain, and SNI the mail domain on every connection of the check's own that reached TLS
//!   (observations may ask for the target or none);
//! - no plaintext under policy `dane` or `encrypt`, and none at all with implicit TLS;
//! - nothing sent after an unauthenticated handshake under policy `dane`; per address, no
//!   more connections sending after their handshake than authenticated ones (so never after
//!   an observation handshake of the compatibility matrix, which is never accepted);
//! - no connection to a skipped target, nor for a service whose SRV lookup failed or that
//!   is not published;
//! - every connection the driver saw opened goes to an address and port of a target the
//!   report lists ([`assert_connects_to_reported_targets`]; the report's own connections and
//!   the compatibility matrix's cells are not counted one for one, as an observation
//!   handshake cut short by the check's deadline keeps no address);
//! - on an address and port only implicit-TLS services use, nothing is sent before the
//!   handshake ([`assert_nothing_in_clear_on_implicit_tls`], RFC 8314 sec. 3), read from
//!   what the driver saw, not from the report.

use std::net::SocketAddr;

use arbitrary::Unstructured;
use hickory_proto::rr::RecordType;

use super::check_ops::{
    assert_host_justified, assert_no_connect_to_skipped, assert_no_login_or_transaction,
    assert_secure_justified, assert_sent_after_tls_allowed, drive, FuzzOp, Observed,
};
use crate::dns::Security;
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::mua::{MailService, MuaCheck, MuaConfig};
use crate::report::{AuthenticatedBy, ConnectionVerdict, DomainVerdict, HostPolicy, Report};
use crate::seed::Seed;
use crate::time::Timestamp;

/// The names the `mua_check` fuzzer can use in its records, by index: the mail domain, two
/// SRV targets, a CNAME target, the root ("no service", RFC 2782), another name.
pub const NAMES: [&str; 6] = [
    "example.com.",
    "mail.example.net.",
    "imap.example.com.",
    "alias.example.net.",
    ".",
    "other.example.org.",
];

/// The seed of the harness's check: `smtp_check`'s, so one recorder serves both targets'
/// seeds.
pub const SEED: Seed = super::smtp_check::SEED;

/// The service sets the first byte chooses from.
pub const SERVICE_SETS: [&[MailService]; 7] = [
    &[MailService::Imaps],
    &[MailService::Submissions, MailService::Submission],
    &[MailService::Pop3s, MailService::Imap],
    &[
        MailService::Submissions,
        MailService::Submission,
        MailService::Imaps,
        MailService::Pop3s,
    ],
    &[MailService::Submissions],
    &[MailService::Pop3s],
    &[MailService::Imaps, MailService::Pop3s],
];

/// The index in [`SERVICE_SETS`] of the set holding exactly `services` (in any order), else
/// that of the four defaults.
pub fn service_set(services: &[MailService]) -> u8 {
    let mut want = services.to_vec();
    want.sort();
    SERVICE_SETS
        .iter()
        .position(|set| {
            let mut have = set.to_vec();
            have.sort();
            have == want
        })
        .unwrap_or(3) as u8
}

/// The input on which [`run`] checks service set `services` (an index into
/// [`SERVICE_SETS`]) with the steps `ops`.
pub fn seed(services: u8, ops: &[FuzzOp]) -> Vec<u8> {
    let last = (SERVICE_SETS.len() - 1) as u64;
    let mut s = SeedBytes::new();
    s.int_in_range(u64::from(services).min(last), last);
    s.list(ops, |s, op| op.write(s));
    s.into_bytes()
}

/// The configuration of a case checking service set `services` (an index into
/// [`SERVICE_SETS`]).
pub fn config(services: u8) -> MuaConfig {
    let set = SERVICE_SETS[usize::from(services) % SERVICE_SETS.len()];
    let resolver = SocketAddr::from(([127, 0, 0, 1], 53));
    let mut config = MuaConfig::new("example.com", vec![resolver]);
    config.services = set.to_vec();
    config.dns_attempts = 2;
    config
}

/// The report of one case and what the driver saw, before any oracle.
pub fn observed_of(data: &[u8]) -> (Box<Report>, Observed) {
    let mut u = Unstructured::new(data);
    let last = (SERVICE_SETS.len() - 1) as u8;
    let config = config(u.int_in_range(0u8..=last).unwrap_or(0));
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let Ok(mut check) = MuaCheck::new(config, SEED, now) else {
        panic!("a valid configuration was refused");
    };
    drive(&mut check, now, ops, &NAMES)
}

/// Runs one case: arbitrary sequences of inputs into a [`MuaCheck`].
pub fn run(data: &[u8]) {
    let (report, observed) = observed_of(data);
    assert_no_login_or_transaction(&observed);
    assert_connects_to_reported_targets(&observed, &report);
    assert_nothing_in_clear_on_implicit_tls(&observed, &report);
    let all_targets = report.services.iter().flat_map(|s| &s.targets);
    assert_no_connect_to_skipped(&observed, all_targets);
    let Observed { conns, snis, .. } = &observed;
    let target_names: Vec<&str> = report
        .services
        .iter()
        .flat_map(|s| &s.targets)
        .map(|h| h.name.as_str())
        .collect();
    for service in &report.services {
        let srv_secure = service
            .srv
            .as_ref()
            .is_some_and(|s| s.security == Security::Secure);
        if srv_secure {
            let question = [(service.owner.clone(), RecordType::SRV)];
            assert_secure_justified(&report, &observed, "SRV", Security::Secure, &question);
        }
        if service.verdict == DomainVerdict::Unavailable
            || service.verdict == DomainVerdict::TempFail && service.reason.is_some()
            || service.srv.is_none()
        {
            assert!(
                service.targets.is_empty(),
                "targets of a failed or unpublished service"
            );
        }
        for host in &service.targets {
            let port = host.port.unwrap_or_else(|| service.service.default_port());
            assert_host_justified(&report, &observed, host, port);
            if !srv_secure {
                // RFC 7673 sec. 3.1 and 4.1: no DANE, the mail domain is the only name and
                // the SNI.
                assert!(host.tlsa.is_none(), "TLSA used under an insecure SRV RRset");
                assert!(
                    host.reference_ids.iter().all(|n| n == "example.com"),
                    "names under an insecure SRV: {:?}",
                    host.reference_ids
                );
                // The SNI daneel asked for (the harness's TlsInfo reports none): the mail
                // domain on every connection of the check's own that reached TLS; the
                // compatibility matrix's observation handshakes may also ask for the target
                // name or none, never anything else.
                for conn in &host.connections {
                    let asked: Vec<&Option<String>> = conns
                        .iter()
                        .filter(|(_, addr)| addr.to_string() == conn.address)
                        .filter_map(|(id, _)| snis.get(id))
                        .collect();
                    let with_tls = host
                        .connections
                        .iter()
                        .filter(|c| c.address == conn.address && c.tls.is_some())
                        .count();
                    let for_domain = asked
                        .iter()
                        .filter(|s| s.as_deref() == Some("example.com"))
                        .count();
                    assert!(
                        for_domain >= with_tls,
                        "SNI under an insecure SRV: {asked:?}"
                    );
                    // (Another target may share the address: its name is allowed too.)
                    for sni in asked {
                        assert!(
                            sni.is_none()
                                || sni.as_deref() == Some("example.com")
                                || target_names.contains(&sni.as_deref().unwrap_or_default()),
                            "SNI {sni:?} under an insecure SRV RRset"
                        );
                    }
                }
            }
            if host.policy == HostPolicy::Skip {
                assert!(host.connections.is_empty(), "connected to a skipped target");
            }
            for conn in &host.connections {
                let authenticated = matches!(
                    conn.verdict,
                    ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                );
                if authenticated {
                    let by = conn
                        .authenticated_by
                        .expect("authenticated without a method");
                    assert_ne!(by, AuthenticatedBy::Pkix, "PKIX from a fuzzed chain");
                    assert_eq!(host.policy, HostPolicy::Dane, "{by:?} without policy dane");
                    assert!(conn.matched.is_some(), "{by:?} without a matched record");
                }
                if let Some(name) = &conn.authenticated_name {
                    assert!(
                        srv_secure || name == "example.com",
                        "{name} authenticated under an insecure SRV RRset (RFC 7673 sec. 4.1)"
                    );
                }
                let plaintext_forbidden = service.service.implicit_tls()
                    || matches!(host.policy, HostPolicy::Dane | HostPolicy::Encrypt);
                if plaintext_forbidden {
                    assert_ne!(
                        conn.verdict,
                        ConnectionVerdict::Plaintext,
                        "plaintext where TLS is mandatory: {} policy {:?}: {conn:?}",
                        service.service,
                        host.policy
                    );
                }
            }
        }
    }
    // Bytes after a handshake only on a connection whose trust decision accepted it (an
    // observation handshake of the compatibility matrix is never accepted).
    let authenticated = report
        .services
        .iter()
        .flat_map(|s| &s.targets)
        .flat_map(|h| &h.connections)
        .filter(|conn| conn.authenticated_by.is_some());
    assert_sent_after_tls_allowed(&observed, authenticated);
}

/// The services of a MUA report whose targets listen on `addr` (an address of the target,
/// on the SRV port or the service's default port).
fn services_at(report: &Report, addr: SocketAddr) -> Vec<MailService> {
    let ip = addr.ip().to_string();
    report
        .services
        .iter()
        .filter(|service| {
            service.targets.iter().any(|host| {
                let port = host.port.unwrap_or_else(|| service.service.default_port());
                port == addr.port()
                    && (host.addresses.contains(&ip)
                        || host
                            .connections
                            .iter()
                            .any(|c| c.address == addr.to_string()))
            })
        })
        .map(|service| service.service)
        .collect()
}

/// Panics unless every connection the driver saw opened goes to an address and port of a
/// target the report lists (RFC 7673 sec. 3: only SRV targets are connected to), so that the
/// oracles reading the report see every server the check talked to.
pub fn assert_connects_to_reported_targets(observed: &Observed, report: &Report) {
    for (conn, addr) in &observed.conns {
        assert!(
            !services_at(report, *addr).is_empty(),
            "connection {conn} to {addr}, no reported target's address"
        );
    }
}

/// Panics when a connection to an address and port that only implicit-TLS services use
/// (submissions, imaps, pop3s) sent a byte before its handshake completed: there TLS comes
/// first (RFC 8314 sec. 3), and anything in clear is a downgrade.
pub fn assert_nothing_in_clear_on_implicit_tls(observed: &Observed, report: &Report) {
    for (conn, addr) in &observed.conns {
        let services = services_at(report, *addr);
        if services.is_empty() || !services.iter().all(|s| s.implicit_tls()) {
            continue;
        }
        let clear = observed
            .sends
            .iter()
            .find(|(id, after_tls, _)| id == conn && !after_tls);
        assert!(
            clear.is_none(),
            "connection {conn} to {addr} ({services:?}) sent {clear:?} before its handshake"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::check_ops::FuzzRecord;

    #[test]
    fn seeds_decode_and_an_srv_answer_starts_target_lookups() {
        // Probe answered (raw bytes would be needed for AD on the root DNSKEY; an
        // unanswered probe times out), the SRV answer with two targets and ".".
        let ops = vec![
            FuzzOp::Answer {
                pick: 1,
                ad: true,
                rcode: 0,
                tc: false,
                records: vec![FuzzRecord::Mx(0x0001, 1), FuzzRecord::Mx(0x0a00, 2)],
            },
            FuzzOp::Timeout,
        ];
        for set in 0..SERVICE_SETS.len() as u8 {
            let bytes = seed(set, &ops);
            let mut u = Unstructured::new(&bytes);
            assert_eq!(u.int_in_range(0u8..=6).unwrap(), set);
            let decoded: Vec<FuzzOp> = u.arbitrary().unwrap();
            assert_eq!(format!("{decoded:?}"), format!("{ops:?}"));
            run(&bytes);
        }
    }
}
