//! `daneel demo`: with no network, serves a small world on loopback (an in-process DNS
//! responder and mail servers, the world of the simulated tests) and checks a handful of its
//! domains, printing what a postmaster would see.

use std::net::Ipv4Addr;

use daneel_core::check::{AddressFamily, CheckConfig, SmtpCheck};
use daneel_core::Seed;
use daneel_tests::demo;
use daneel_tests::live::LiveWorld;

use super::say;
use super::{output, EXIT_INTERNAL};

/// Serves the demo world on 127.20.250.0/24, port 25 when allowed (root), else 2525.
fn serve() -> Result<(LiveWorld, u16), String> {
    let base = Ipv4Addr::new(127, 20, 250, 0);
    let mut last = String::new();
    for port in [25, 2525] {
        match LiveWorld::start(&demo::world(port), base, port) {
            Ok(world) => return Ok((world, port)),
            Err(e) => last = format!("port {port}: {e}"),
        }
    }
    Err(format!("cannot serve the demo world on {base}: {last}"))
}

/// Runs the demo; returns 0 when every domain got the verdict it demonstrates.
pub fn run(json: bool) -> i32 {
    let (world, port) = match serve() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("daneel demo: {e}");
            return EXIT_INTERNAL;
        }
    };
    if !json {
        say!(
            "daneel demo: a small signed world served on loopback (resolver {}, SMTP port {port}); no network used.\n",
            world.resolver_addr()
        );
    }
    let mut summary = Vec::new();
    let mut all_as_expected = true;
    for (domain, what, expected) in demo::DOMAINS {
        let mut config = CheckConfig::new(domain, vec![world.resolver_addr()]);
        config.port = port;
        config.family = AddressFamily::V4;
        config.smtp_timeout_ms = Some(5_000);
        let clock = daneel_tokio::system_clock();
        let check = match SmtpCheck::new(config, Seed(1), clock.origin()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("daneel demo: {e}");
                return EXIT_INTERNAL;
            }
        };
        let report = match daneel_tokio::run_blocking(check, clock) {
            Ok((report, _)) => report,
            Err(e) => {
                eprintln!("daneel demo: {e}");
                return EXIT_INTERNAL;
            }
        };
        if json {
            output::print_report(&report, true);
        } else {
            say!("==== daneel check {domain}   ({what})");
            output::print_report(&report, false);
            say!();
        }
        all_as_expected &= report.verdict == expected;
        summary.push(format!(
            "  {:<18} {:<14} exit {}  {what}",
            domain,
            report.verdict.as_str(),
            report.verdict.exit_code()
        ));
    }
    if !json {
        say!("==== summary");
        for line in summary {
            say!("{line}");
        }
        say!("\nOn a real network: daneel check <your domain>   (uses /etc/resolv.conf, or --resolver; validates DNSSEC itself unless a loopback resolver does)");
    }
    if all_as_expected {
        0
    } else {
        eprintln!("daneel demo: a domain did not get the verdict it demonstrates");
        EXIT_INTERNAL
    }
}
