//! Records transcript fixtures with a given `daneel` binary (tests/fixtures/transcripts-v1/
//! README.md): serves the demo world and catalogue scenario S24 on loopback, runs
//! `daneel check --transcript` on one domain of each kind and writes the transcripts.
//!
//! Run as root in a private network namespace (the worlds listen on port 25 of 127.20.250/24
//! and 127.20.251/24):
//!
//! ```text
//! unshare -n sh -c 'ip link set lo up && \
//!   cargo run -p daneel --example record_transcripts -- target/debug/daneel OUT_DIR'
//! ```

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use daneel_tests::demo;
use daneel_tests::live::LiveWorld;
use daneel_tests::world::catalogue;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(daneel), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: record_transcripts DANEEL_BINARY OUT_DIR");
        std::process::exit(64);
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("output directory");
    let demo_world = LiveWorld::start(&demo::world(25), Ipv4Addr::new(127, 20, 250, 0), 25)
        .expect("demo world on port 25 (run as root in a network namespace)");
    let s24 = catalogue::by_id("S24").expect("S24");
    let partial_world = LiveWorld::start(&s24.world, Ipv4Addr::new(127, 20, 251, 0), 25)
        .expect("S24 world on port 25");
    let runs = [
        ("verified", "verified.example", &demo_world),
        ("ta-verified", "ta.example", &demo_world),
        ("failed", "failed.example", &demo_world),
        ("bogus", "bogus.example", &demo_world),
        ("null-mx", "nullmx.example", &demo_world),
        ("partial", s24.destination.as_str(), &partial_world),
    ];
    for (name, domain, world) in runs {
        let file = out.join(format!("{name}.jsonl"));
        let status = Command::new(&daneel)
            .args(["check", domain, "--resolver"])
            .arg(world.resolver_addr().to_string())
            .args(["-4", "--seed", "1", "--timeout", "5", "--transcript"])
            .arg(&file)
            .status()
            .expect("run daneel");
        println!(
            "{name}: {domain} exit {:?} -> {}",
            status.code(),
            file.display()
        );
    }
}
