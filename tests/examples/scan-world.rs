//! Serves the generated benchmark world of `daneel scan` (issue 14) on loopback: a resolver
//! and the shared mail servers of [`generated`]`(N, SEED)`, with the domain list written to a
//! file, until killed (or, with `--stdin`, until its standard input closes).
//!
//! ```text
//! cargo build --release -p daneel --example scan-world
//! scan-world [N] [--seed S] [--base 127.22.0.0] [--out DIR] [--stdin]
//! ```
//!
//! Port 25 needs root: run it inside a network namespace
//! (`unshare -n sh -c 'ip link set lo up && ...'`), with the scan in the same namespace.
//! It prints, one per line and then flushes:
//!
//! ```text
//! resolver 127.22.0.1:PORT
//! domains DIR/scan-world-N.txt       one domain per line, in index order
//! expected DIR/scan-world-N.expected  "domain verdict" per line, from the world's plan
//! anchor DIR/scan-world-N.anchor      the world's trust anchor, for --dnssec validate
//! ready
//! ```
//!
//! The resolver is validating and on loopback, so `daneel check` and `daneel scan` use
//! `--dnssec auto` as `trust-ad` against it. `tests/scan-world.sh` runs `daneel scan`
//! against it at several concurrencies and reports rate, CPU and peak RSS.

use std::io::{BufRead, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use daneel_tests::live::LiveWorld;
use daneel_tests::world::generated::plan;

const USAGE: &str = "usage: scan-world [N] [--seed S] [--base 127.22.0.0] [--out DIR] [--stdin]";

struct Args {
    n: usize,
    seed: u64,
    base: Ipv4Addr,
    out: PathBuf,
    stdin: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        n: 1_000,
        seed: 1,
        base: Ipv4Addr::new(127, 22, 0, 0),
        out: std::env::temp_dir(),
        stdin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("{e}"))?,
            "--base" => args.base = value("--base")?.parse().map_err(|e| format!("{e}"))?,
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--stdin" => args.stdin = true,
            "-h" | "--help" => return Err(String::new()),
            n => args.n = n.parse().map_err(|_| format!("not a count: {n}"))?,
        }
    }
    Ok(args)
}

fn write_lines(path: &PathBuf, lines: impl Iterator<Item = String>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        if !e.is_empty() {
            eprintln!("scan-world: {e}");
        }
        eprintln!("{USAGE}");
        std::process::exit(64);
    });
    let started = Instant::now();
    let plan = plan(args.n, args.seed);
    let world = plan.world();
    let built = started.elapsed();
    let live = LiveWorld::start(&world, args.base, 25).unwrap_or_else(|e| {
        eprintln!(
            "scan-world: cannot serve on {} port 25 (root needed): {e}",
            args.base
        );
        std::process::exit(1);
    });
    let domains = args.out.join(format!("scan-world-{}.txt", args.n));
    let expected = args.out.join(format!("scan-world-{}.expected", args.n));
    let anchor = args.out.join(format!("scan-world-{}.anchor", args.n));
    let written = write_lines(&domains, plan.domains.iter().map(|d| d.name.clone()))
        .and_then(|()| {
            write_lines(
                &expected,
                plan.expected()
                    .into_iter()
                    .map(|(d, v)| format!("{d} {}", v.as_str())),
            )
        })
        .and_then(|()| write_lines(&anchor, std::iter::once(world.trust_anchor_line())));
    if let Err(e) = written {
        eprintln!("scan-world: cannot write to {}: {e}", args.out.display());
        std::process::exit(1);
    }
    eprintln!(
        "scan-world: {} domains, {} MX hosts on {} servers; world built in {built:?}, serving after {:?}",
        plan.domains.len(),
        plan.hosts.len(),
        plan.addrs.len(),
        started.elapsed()
    );
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "resolver {}", live.resolver_addr());
    let _ = writeln!(stdout, "domains {}", domains.display());
    let _ = writeln!(stdout, "expected {}", expected.display());
    let _ = writeln!(stdout, "anchor {}", anchor.display());
    let _ = writeln!(stdout, "ready");
    let _ = stdout.flush();
    if args.stdin {
        // Until EOF (or a read error): the world stops when `live` drops.
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
    } else {
        loop {
            std::thread::park();
        }
    }
}
