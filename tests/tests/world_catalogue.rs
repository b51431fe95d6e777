//! The catalogue builds, ids are unique, and every world answers its destination's first
//! lookup.

use std::collections::BTreeSet;

use daneel_tests::world::catalogue;

#[test]
fn catalogue_is_complete_and_unique() {
    let all = catalogue::all();
    let ids: BTreeSet<_> = all.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), all.len());
    for id in [
        "S01", "S16", "S29", "S30", "S31", "S33", "S38", "S61", "S63", "S73",
    ] {
        assert!(ids.contains(id), "{id} missing");
    }
    assert!(all.len() >= 60, "{}", all.len());
    assert_eq!(catalogue::by_id("S32").unwrap().world.smtp_port(), 587);
}

/// Every TLS server of every scenario completes a handshake with the core's client side,
/// sending the MX host name as SNI (S61 needs it), unless its behaviour forbids.
#[test]
fn every_catalogue_server_handshakes() {
    use daneel_core::tls::ConnectionIo;
    use daneel_core::{ConnId, OwnedInput};
    use daneel_tests::world::{Behaviour, Host, ServerSession};
    let mut handshakes = 0;
    for s in catalogue::all() {
        for host in s.world.hosts().values() {
            let Host::Server(spec) = host else { continue };
            if spec.tls.is_none() || spec.behaviour != Behaviour::Normal || !spec.offers_starttls {
                continue;
            }
            let mut sess = ServerSession::new(spec);
            sess.on_connect();
            let st = sess.on_bytes(b"EHLO c\r\nSTARTTLS\r\n");
            assert!(st.start_tls, "{}", s.id);
            let mut io = ConnectionIo::new();
            let sni = (spec.hostname.parse::<std::net::IpAddr>().is_err())
                .then_some(spec.hostname.as_str());
            let mut out = io.start_tls(sni).unwrap();
            let mut ok = false;
            for _ in 0..10 {
                let step = sess.on_bytes(&out);
                let d = io.decode(ConnId(1), &step.to_client);
                out = d.to_socket;
                if d.inputs
                    .iter()
                    .any(|i| matches!(i, OwnedInput::TlsEstablished { .. }))
                {
                    ok = true;
                    break;
                }
            }
            assert!(ok, "{} {}", s.id, spec.hostname);
            handshakes += 1;
        }
    }
    assert!(handshakes > 50, "{handshakes}");
}

#[test]
fn mismatches_compare_reports_with_expectations() {
    use daneel_core::check::SmtpCheck;
    use daneel_core::report::HostVerdict;
    use daneel_core::{DomainVerdict, Seed};
    let s = catalogue::by_id("S05").unwrap();
    // The report of the scenario's own check (Report and HostReport are #[non_exhaustive]:
    // built by the core, then altered here).
    let check = SmtpCheck::new(
        s.config(catalogue::SIM_RESOLVER),
        Seed(5),
        catalogue::SIM_START,
    )
    .unwrap();
    let (mut report, mismatches, _) = s.run(Box::new(check)).unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert_eq!(report.verdict, DomainVerdict::DaneFailed);
    report.verdict = DomainVerdict::DaneVerified;
    for host in &mut report.hosts {
        host.verdict = HostVerdict::Verified;
        host.reason = None;
        for c in &mut host.connections {
            c.reason = None;
        }
    }
    let mismatches = s.expected.mismatches(&report);
    assert_eq!(mismatches.len(), 3, "{mismatches:?}");
    assert_eq!(
        mismatches[..2],
        [
            "domain verdict dane-verified (expected dane-failed)",
            "host mx.example.net verdict Verified (expected DaneFailed)",
        ]
    );
    assert!(mismatches[2].contains("tlsa-mismatch"), "{mismatches:?}");
}
