//! Properties of `SmtpCheck` in the simulated world beyond the per-scenario verdicts:
//! parallelism of DNS lookups (three sequential rounds, the TLSRPT record in the first), RFC 7672 sec. 2.2.2 ordering (no
//! TLSA query before the host's address answers; none for insecure hosts), and deterministic
//! record/replay of every scenario through the real transcript format.

use std::net::Ipv4Addr;

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::report::Warning;
use daneel_core::transcript::{redecide, replay, Divergence, Event, Transcript};
use daneel_core::{DomainVerdict, MachineConfig, OwnedInput, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{self, SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::{self_signed, server_tls, tlsa};
use daneel_tests::world::{MailServer, Status, World};

fn config(destination: &str) -> CheckConfig {
    CheckConfig::new(destination, vec![SIM_RESOLVER])
}

/// A secure domain with two MX hosts in another secure zone, each with A, AAAA and TLSA.
fn two_secure_mx_hosts() -> World {
    let a = self_signed(&["mx1.example.net"]);
    let b = self_signed(&["mx2.example.net"]);
    World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .mx("example.com", 10, "mx1.example.net")
        .mx("example.com", 20, "mx2.example.net")
        .a("mx1.example.net", Ipv4Addr::new(192, 0, 2, 11))
        .a("mx2.example.net", Ipv4Addr::new(192, 0, 2, 12))
        .aaaa("mx1.example.net", "2001:db8::11".parse().unwrap())
        .aaaa("mx2.example.net", "2001:db8::12".parse().unwrap())
        .tlsa_for("mx1.example.net", &tlsa(3, 1, 1, &a))
        .tlsa_for("mx2.example.net", &tlsa(3, 1, 1, &b))
        .server(
            "192.0.2.11".parse().unwrap(),
            MailServer::new("mx1.example.net").with_tls(server_tls(&[&a])),
        )
        .server(
            "192.0.2.12".parse().unwrap(),
            MailServer::new("mx2.example.net").with_tls(server_tls(&[&b])),
        )
        .server(
            "2001:db8::11".parse().unwrap(),
            MailServer::new("mx1.example.net").with_tls(server_tls(&[&a])),
        )
        .server(
            "2001:db8::12".parse().unwrap(),
            MailServer::new("mx2.example.net").with_tls(server_tls(&[&b])),
        )
        .build()
}

#[test]
fn secure_domain_with_two_mx_hosts_takes_three_dns_rounds() {
    let check = SmtpCheck::new(config("example.com"), Seed(3), SIM_START).unwrap();
    let mut sim = Sim::new(two_secure_mx_hosts(), Box::new(check), SIM_START);
    let report = sim.run_bounded(10_000).unwrap();
    assert_eq!(
        report.verdict,
        DomainVerdict::DaneVerified,
        "{:#?}",
        report.log
    );
    assert_eq!(
        report
            .hosts
            .iter()
            .map(|h| h.connections.len())
            .sum::<usize>(),
        4
    );
    let log = sim.rounds_log();
    assert_eq!(sim.dns_rounds(), 3, "{log:#?}");
    let depth_of = |name: &str, rtype: &str| {
        log.iter()
            .filter(|(_, n, t, _)| n == name && t == rtype)
            .map(|(_, _, _, d)| *d)
            .collect::<Vec<_>>()
    };
    // Round 1: the validating-resolver probe, the MX lookup and the TLSRPT record
    // (RFC 8460 sec. 3), together: the TXT lookup adds no round.
    assert_eq!(depth_of("", "DNSKEY"), vec![1]);
    assert_eq!(depth_of("example.com", "MX"), vec![1]);
    assert_eq!(depth_of("_smtp._tls.example.com", "TXT"), vec![1]);
    // Round 2: every address lookup of every host.
    for host in ["mx1.example.net", "mx2.example.net"] {
        assert_eq!(depth_of(host, "A"), vec![2], "{host}");
        assert_eq!(depth_of(host, "AAAA"), vec![2], "{host}");
    }
    // Round 3: every TLSA lookup.
    for host in ["mx1.example.net", "mx2.example.net"] {
        assert_eq!(
            depth_of(&format!("_25._tcp.{host}"), "TLSA"),
            vec![3],
            "{host}"
        );
    }
    assert_eq!(log.len(), 9, "no other query: {log:#?}");
}

/// RFC 7672 sec. 2.2.2 (R22): a host's TLSA query never leaves before both of its address
/// answers are in. Checked on every scenario of the catalogue.
#[test]
fn no_tlsa_query_before_the_hosts_address_answers() {
    for s in catalogue::all() {
        let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(9), SIM_START).unwrap();
        let mut sim = Sim::new(s.world.clone(), Box::new(check), SIM_START);
        let _ = sim.run_bounded(10_000).unwrap();
        let queries = sim.queries();
        for q in queries.iter().filter(|q| q.rtype == "TLSA") {
            let host = q.name.splitn(3, '.').nth(2).unwrap_or_default().to_string();
            for rtype in ["A", "AAAA"] {
                for addr in queries
                    .iter()
                    .filter(|a| a.rtype == rtype && a.name == host)
                {
                    let answered = addr.answered.unwrap_or_else(|| {
                        panic!(
                            "{}: TLSA {} sent while {rtype} {host} unanswered",
                            s.id, q.name
                        )
                    });
                    assert!(
                        answered <= q.sent,
                        "{}: TLSA {} before {rtype} {host}",
                        s.id,
                        q.name
                    );
                }
            }
        }
    }
}

/// S14/S15: no TLSA query at all for a host whose address records are insecure, so a broken
/// nameserver that fails TLSA queries for an unsigned zone cannot make delivery defer.
#[test]
fn no_tlsa_query_for_hosts_with_insecure_addresses() {
    for id in ["S14", "S15"] {
        let s = catalogue::by_id(id).unwrap();
        let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(9), SIM_START).unwrap();
        let mut sim = Sim::new(s.world.clone(), Box::new(check), SIM_START);
        let report = sim.run_bounded(10_000).unwrap();
        assert!(
            sim.queries().iter().all(|q| q.rtype != "TLSA"),
            "{id}: {:#?}",
            sim.queries()
        );
        assert_eq!(report.verdict, DomainVerdict::NoDane, "{id}");
    }
}

fn record(s: &catalogue::Scenario) -> (daneel_core::Report, Transcript) {
    daneel_tests::sim::record(&s.world, s.config(SIM_RESOLVER), Seed(11), SIM_START)
}

/// Every scenario records a transcript in the `daneel check --transcript` format, which
/// survives serialization and replays with no network to exactly the same outputs.
#[test]
fn every_scenario_replays_from_its_transcript() {
    for s in catalogue::all() {
        let (report, transcript) = record(&s);
        let text = transcript.to_json_lines();
        let parsed = Transcript::from_json_lines(&text).unwrap();
        assert_eq!(parsed, transcript, "{}: JSON lines round trip", s.id);
        let replayed = replay(&parsed).unwrap();
        assert_eq!(replayed.divergence, None, "{}", s.id);
        assert_eq!(replayed.report.as_deref(), Some(&report), "{}", s.id);
    }
}

/// Re-deciding (the mode for older formats) matches every recorded answer and connection to
/// the machine's own queries and connections: with an unchanged machine it reproduces the
/// recorded report exactly, in every scenario (timeouts, TC=1 and TCP, spoofed and hostile
/// answers included).
#[test]
fn every_scenario_re_decided_reproduces_its_report() {
    for s in catalogue::all() {
        let (report, transcript) = record(&s);
        let replayed = redecide(&transcript, transcript.recorded_verdict())
            .unwrap_or_else(|e| panic!("{}: {e}", s.id));
        assert_eq!(replayed.divergence, None, "{}", s.id);
        let mut again = replayed.report.expect("finished");
        let note = again
            .redecided
            .take()
            .expect("the report says it was re-decided");
        assert_eq!(note.recorded_verdict, Some(report.verdict), "{}", s.id);
        assert_eq!(*again, report, "{}", s.id);
    }
}

/// A machine that asks in another order, with other DNS message ids (another seed: the ids
/// and the order of equal-preference MX hosts come from it), still gets each answer by
/// question and each connection by address: the verdict stays the recorded one.
#[test]
fn every_scenario_re_decided_with_another_seed_keeps_its_verdict() {
    let mut other_ids = 0;
    let all = catalogue::all();
    for s in &all {
        let (report, mut transcript) = record(s);
        transcript.header.seed = Seed(12);
        // Byte for byte, another seed diverges wherever a DNS query is sent.
        other_ids += usize::from(replay(&transcript).unwrap().divergence.is_some());
        let replayed = redecide(&transcript, transcript.recorded_verdict())
            .unwrap_or_else(|e| panic!("{}: {e}", s.id));
        assert_eq!(replayed.divergence, None, "{}", s.id);
        assert_eq!(
            replayed.report.map(|r| r.verdict),
            Some(report.verdict),
            "{}",
            s.id
        );
    }
    assert!(
        other_ids * 10 >= all.len() * 9,
        "{other_ids} of {}",
        all.len()
    );
}

/// A version that decides differently is caught at the first output that differs.
#[test]
fn replay_reports_where_a_newer_version_decides_differently() {
    let s = catalogue::by_id("S19").unwrap();
    let (_, transcript) = record(&s);
    let mut changed = transcript.clone();
    // As if the new version's default insecure-MX policy were `may`: no TLSA lookup.
    let MachineConfig::Smtp(config) = &mut changed.header.config else {
        panic!("an SMTP check's transcript holds an SMTP configuration");
    };
    config.insecure_mx = daneel_core::smtp::route::InsecureMxPolicy::May;
    let replayed = replay(&changed).unwrap();
    let d = replayed.divergence.expect("the decisions differ");
    let Divergence::Output { event, .. } = d else {
        panic!("a byte-for-byte replay names the first differing output: {d:?}");
    };
    assert!(event > 0 && event < transcript.events.len(), "{d:?}");
}

/// `--sni none` is a diagnostic: against S61's server, which picks its certificate by SNI, the
/// default certificate fails the TLSA match, and the report warns that RFC 7672 sec. 8.1
/// wants SNI.
#[test]
fn sni_none_shows_a_server_that_requires_sni() {
    let s = catalogue::by_id("S61").unwrap();
    let mut config = s.config(SIM_RESOLVER);
    config.sni = daneel_core::smtp::route::SniMode::None;
    let check = SmtpCheck::new(config, Seed(4), SIM_START).unwrap();
    let report = Sim::new(s.world.clone(), Box::new(check), SIM_START)
        .run_bounded(10_000)
        .unwrap();
    assert_eq!(report.verdict, DomainVerdict::DaneFailed);
    assert!(
        report.warnings.contains(&Warning::SniOff),
        "{:?}",
        report.warnings
    );
    let with_sni = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(4), SIM_START).unwrap();
    let report = Sim::new(s.world.clone(), Box::new(with_sni), SIM_START)
        .run_bounded(10_000)
        .unwrap();
    assert_eq!(report.verdict, DomainVerdict::DaneVerified);
}

/// Issue 8: the simulation executes the core `Driver`'s commands, as the runtimes do. X23's
/// 970-record TLSA answer is truncated over UDP, so the driver opens a DNS stream, frames the
/// query and de-frames the answer: the machine gets one `DnsAnswer` far larger than any UDP
/// payload it advertised.
#[test]
fn the_simulation_runs_dns_over_tcp_through_the_driver() {
    let s = catalogue::by_id("X23").unwrap();
    let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(23), SIM_START).unwrap();
    let mut sim = Sim::new(s.world.clone(), Box::new(check), SIM_START);
    let report = sim.run_bounded(catalogue::MAX_STEPS).unwrap();
    assert_eq!(report.verdict, DomainVerdict::DaneVerified);
    let tcp: Vec<_> = sim
        .queries()
        .into_iter()
        .filter(|q| q.transport == daneel_core::Transport::Tcp)
        .collect();
    assert_eq!(tcp.len(), 1, "{tcp:?}");
    assert_eq!(tcp[0].rtype, "TLSA");
    assert!(tcp[0].answered.is_some());
    let answer = sim.transcript().iter().find_map(|e| match e {
        Event::Input {
            input: OwnedInput::DnsAnswer { query, wire, .. },
            ..
        } if *query == tcp[0].query => Some(wire.len()),
        _ => None,
    });
    assert!(answer.expect("the TCP answer reached the machine") > 60_000);
    assert_eq!(sim.open_dns(), 0, "the stream was shut down");
}

/// Issue 8: the RFC 3207 sec. 4.2 rule of the driver in the simulation. S07's server answers
/// the ClientHello with bytes that are not TLS, in a read after its `220` to STARTTLS: they
/// reach only the TLS pump (a handshake failure), never the SMTP session.
#[test]
fn the_simulation_routes_bytes_after_starttls_only_to_tls() {
    let s = catalogue::by_id("S07").unwrap();
    let check = SmtpCheck::new(s.config(SIM_RESOLVER), Seed(7), SIM_START).unwrap();
    let mut sim = Sim::new(s.world.clone(), Box::new(check), SIM_START);
    let report = sim.run_bounded(catalogue::MAX_STEPS).unwrap();
    assert!(s.expected.mismatches(&report).is_empty());
    let inputs: Vec<&OwnedInput> = sim
        .transcript()
        .iter()
        .filter_map(|e| match e {
            Event::Input { input, .. } => Some(input),
            _ => None,
        })
        .collect();
    let go_ahead = inputs
        .iter()
        .position(
            |i| matches!(i, OwnedInput::Received { bytes, .. } if bytes.starts_with(b"220 2.0.0")),
        )
        .expect("the 220 to STARTTLS");
    let after = &inputs[go_ahead + 1..];
    assert!(
        matches!(after.first(), Some(OwnedInput::TlsFailed { .. })),
        "{after:?}"
    );
    assert!(
        !after
            .iter()
            .any(|i| matches!(i, OwnedInput::Received { .. })),
        "bytes after the 220 reached the SMTP session"
    );
}
