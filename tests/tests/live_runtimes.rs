//! The scenario world served live on 127.20.0.0/16 (a DNS responder on UDP and TCP, mail
//! servers with real TLS on real sockets) and checked through **both** runtimes: the tokio
//! and smol verdicts must equal each other and the catalogue's expectations. The tokio run
//! also records a transcript that must replay with no network to the same report.

use std::net::Ipv4Addr;

use daneel_core::transcript::{replay, Recorder, Transcript};
use daneel_core::{Report, Seed};
use daneel_tests::live::LiveWorld;
use daneel_tests::world::catalogue;

/// Scenarios the live world cannot serve: an address literal destination and an MX naming
/// an IP address both point outside the loopback mapping of the world's hosts, and X24-X27
/// are about A and AAAA records of different status, while the live world serves IPv4 only.
const NOT_LIVE: [&str; 6] = ["S30", "S31", "X24", "X25", "X26", "X27"];

fn wall_clock() -> daneel_core::Timestamp {
    daneel_tokio::system_clock().origin()
}

fn verdicts(report: &Report) -> Vec<String> {
    let mut v = vec![format!("domain {}", report.verdict.as_str())];
    for h in &report.hosts {
        v.push(format!(
            "{} {:?} {:?}",
            h.name,
            h.verdict,
            h.reason.as_ref().map(|r| r.code())
        ));
        for c in &h.connections {
            v.push(format!(
                "  {:?} {:?}",
                c.verdict,
                c.reason.as_ref().map(|r| r.code())
            ));
        }
    }
    v
}

#[test]
fn live_world_gives_the_same_verdicts_through_tokio_and_smol() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, s) in catalogue::all().into_iter().enumerate() {
        if NOT_LIVE.contains(&s.id) {
            continue;
        }
        let base = Ipv4Addr::new(127, 20, (i % 250) as u8 + 1, 0);
        let port = s.world.smtp_port();
        let world = match LiveWorld::start(&s.world, base, port) {
            Ok(w) => w,
            Err(e) => panic!("{}: cannot serve the live world on {base} port {port} (root needed below 1024): {e}", s.id),
        };
        let config = s.live_config(world.resolver_addr());
        let recorder = Recorder::new(config.clone(), Seed(21), wall_clock()).unwrap();
        let (tokio_report, recorder) =
            runtime.block_on(daneel_tokio::run(recorder, daneel_tokio::system_clock()));
        let smol_check =
            daneel_core::check::SmtpCheck::new(config, Seed(21), wall_clock()).unwrap();
        let (smol_report, _) =
            daneel_smol::run_blocking(smol_check, daneel_smol::system_clock()).unwrap();
        checked += 1;
        if verdicts(&tokio_report) != verdicts(&smol_report) {
            failures.push(format!(
                "{}: tokio {:?} != smol {:?}",
                s.id,
                verdicts(&tokio_report),
                verdicts(&smol_report)
            ));
        }
        let mismatches = s.expected.mismatches(&tokio_report);
        if !mismatches.is_empty() {
            failures.push(format!(
                "{} {}: {}\n{}",
                s.id,
                s.title,
                mismatches.join("; "),
                tokio_report
                    .log
                    .iter()
                    .map(|l| format!("      {}", l.text))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        // The live run's transcript replays with no network to the same report.
        let text = recorder.transcript().to_json_lines();
        let replayed = replay(&Transcript::from_json_lines(&text).unwrap()).unwrap();
        if replayed.divergence.is_some() || replayed.report.as_deref() != Some(&*tokio_report) {
            failures.push(format!(
                "{}: live transcript does not replay: {:?}",
                s.id, replayed.divergence
            ));
        }
    }
    assert!(checked > 60, "{checked}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
