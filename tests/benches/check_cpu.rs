//! Core CPU per check (issue 14): complete `SmtpCheck`s of domains of the generated
//! benchmark world ([`daneel_tests::world::generated`]) in the simulator, whose clock is
//! simulated, so no network time is counted. Three figures for each:
//!
//! - `sim`: the whole simulation: the core *and* the simulated world's side (the resolver
//!   building answers, the mail servers' SMTP and TLS). The world's copy made for each run
//!   and its drop are outside the timing.
//! - `core`: the same runs minus the time spent in the world ([`Sim::world_time`]): the
//!   machine and the core's driver (the TLS client of `core::tls`, DNS over TCP framing),
//!   which is what a runtime spends besides its sockets.
//! - `machine`: each check's transcript replayed into a fresh machine: the check's own work
//!   only (DNS parsing, DANE verification, SMTP, the report), every input as the world gave
//!   it (DESIGN.md section 3); TLS records are the driver's, not the machine's.
//!
//! Domains: `one check` is a secure domain with two DANE-EE MX hosts; `batch of 100` is the
//! first 100 domains of the 1,000-domain world (every kind, one or two MX hosts), each
//! checked alone; `scan of 1000` is `daneel_core::scan::Scan` over all 1,000 domains at
//! concurrency 100 with its shared DNS cache. Throughputs are per domain.
//!
//! Run: `cargo bench -p daneel --bench check_cpu`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::scan::{Scan, ScanConfig, ScanResult};
use daneel_core::transcript::Event;
use daneel_core::{DomainVerdict, Machine, Seed};
use daneel_tests::sim::{replay, Sim};
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};
use daneel_tests::world::generated::plan;
use daneel_tests::world::World;

const SEED: Seed = Seed(7);

fn machine(domain: &str) -> SmtpCheck {
    SmtpCheck::new(
        CheckConfig::new(domain, vec![SIM_RESOLVER]),
        SEED,
        SIM_START,
    )
    .unwrap()
}

/// One run of `machine` in a copy of `world`: (real time of the run, of it in the world).
fn timed_run(world: &World, machine: Box<dyn Machine>) -> (Duration, Duration, Sim) {
    let mut sim = Sim::new(world.clone(), machine, SIM_START);
    let started = Instant::now();
    black_box(sim.run_bounded(10_000_000).unwrap());
    (started.elapsed(), sim.world_time(), sim)
}

/// `iters` times the runs `make` gives (each a list of machines run one after another):
/// the total real time, or that minus the world's share when `core_only`.
fn measure(
    iters: u64,
    world: &World,
    core_only: bool,
    make: &dyn Fn() -> Vec<Box<dyn Machine>>,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        for m in make() {
            let (all, in_world, _sim) = timed_run(world, m);
            total += if core_only { all - in_world } else { all };
        }
    }
    total
}

/// The check of `domain`, with its verdict checked against `want`, and its transcript.
fn transcript(world: &World, domain: &str, want: DomainVerdict) -> (String, Vec<Event>) {
    let (_, _, sim) = timed_run(world, Box::new(machine(domain)));
    assert_eq!(sim.report().map(|r| r.verdict), Some(want), "{domain}");
    (domain.to_string(), sim.transcript().to_vec())
}

fn scan_of(domains: Vec<String>) -> Box<dyn Machine> {
    let config = ScanConfig::new(CheckConfig::new("", vec![SIM_RESOLVER]));
    let sink = |_: ScanResult| {};
    Box::new(Scan::new(config, SEED, SIM_START, domains.into_iter(), sink).unwrap())
}

fn bench(c: &mut Criterion) {
    let p = plan(1000, 1);
    let world = p.world();
    let one = vec![transcript(
        &world,
        &p.secure_two_mx().expect("a two-MX domain").name,
        DomainVerdict::DaneVerified,
    )];
    let batch: Vec<(String, Vec<Event>)> = p.domains[..100]
        .iter()
        .map(|d| transcript(&world, &d.name, d.kind.verdict()))
        .collect();
    for (name, checks) in [
        ("one check (secure, two MX hosts)", &one),
        ("batch of 100", &batch),
    ] {
        let make = || -> Vec<Box<dyn Machine>> {
            checks
                .iter()
                .map(|(d, _)| Box::new(machine(d)) as Box<dyn Machine>)
                .collect()
        };
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(checks.len() as u64));
        group.bench_function("sim", |b| {
            b.iter_custom(|iters| measure(iters, &world, false, &make))
        });
        group.bench_function("core", |b| {
            b.iter_custom(|iters| measure(iters, &world, true, &make))
        });
        group.bench_function("machine", |b| {
            b.iter(|| {
                for (domain, transcript) in checks.iter() {
                    let mut m = machine(domain);
                    replay(black_box(transcript), &mut m).expect("the same outputs");
                }
            })
        });
        group.finish();
    }

    let domains: Vec<String> = p.domains.iter().map(|d| d.name.clone()).collect();
    let make = || vec![scan_of(domains.clone())];
    let mut group = c.benchmark_group("scan of 1000");
    group.throughput(Throughput::Elements(domains.len() as u64));
    group.sample_size(10);
    group.bench_function("sim", |b| {
        b.iter_custom(|iters| measure(iters, &world, false, &make))
    });
    group.bench_function("core", |b| {
        b.iter_custom(|iters| measure(iters, &world, true, &make))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
