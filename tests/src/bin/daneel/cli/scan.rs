//! `daneel scan`: many mail domains at once (issue 14), one JSON report per line.
//!
//! The checks run as one [`Scan`] machine on one runtime thread; a reader thread turns the
//! input into domains (comments, shards, resumed and repeated domains left out) behind a
//! bounded channel, so a 10-million-line file costs no more memory than a short one and a
//! slow pipe never stalls the checks.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread;

use daneel_core::scan::input::{
    domain_hash, domain_on_line, FinishedSet, RecentlySeen, Shard, RECENT_WINDOW,
};
use daneel_core::scan::{
    DomainSource, Pull, Scan, ScanConfig, ScanOutcome, ScanResult, ScanSink, ScanSummary,
};
use daneel_core::Seed;
use indicatif::{ProgressBar, ProgressStyle};

use super::{check_config, os_seed, CheckOptions, EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_USAGE};

/// Exit status when the input or the output failed (sysexits EX_IOERR).
const EXIT_IO: i32 = 74;

/// The longest input line read as one: a domain name has at most 253 characters (RFC 1035
/// sec. 2.3.4); a longer line is cut here and reported as not a destination, so a file
/// without newlines cannot fill the memory.
const MAX_LINE: u64 = 1024;

/// Domains read ahead of the checks.
const READ_AHEAD: usize = 4096;

/// Open files each check may need at once: its DNS sockets and its connections. The default
/// concurrency keeps `concurrency * FILES_PER_CHECK` under the open-files limit.
const FILES_PER_CHECK: u64 = 4;

/// Checks per core by default: a check is mostly waiting, and costs well under 2 ms of CPU.
const CHECKS_PER_CORE: u64 = 250;

#[derive(clap::Args, Debug)]
pub(crate) struct ScanArgs {
    /// Domains, one per line (`#` comments and blank lines are skipped); `-` or nothing for
    /// standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<String>,
    #[command(flatten)]
    options: CheckOptions,
    /// Checks in flight at once (default: 250 per core, within the open-files limit, which
    /// daneel raises to its hard maximum).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Connections open at once to one address (many domains share their MX hosts).
    #[arg(long = "per-destination", value_name = "N", default_value_t = 4)]
    per_destination: usize,
    /// New connections per second, at most.
    #[arg(long = "connect-rate", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    connect_rate: Option<u32>,
    /// DNS queries sent per second, at most (answers shared from the cache do not count).
    #[arg(long = "dns-rate", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    dns_rate: Option<u32>,
    /// DNS queries awaiting answers at once, at most (a resolver drops what it cannot queue).
    #[arg(long = "dns-in-flight", value_name = "N", default_value_t = daneel_core::scan::DEFAULT_DNS_IN_FLIGHT)]
    dns_in_flight: usize,
    /// Write the JSON lines to FILE instead of standard output.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    output: Option<PathBuf>,
    /// Continue an interrupted scan: skip the domains already reported in OUT, and append the
    /// new reports to it.
    #[arg(long, value_name = "OUT")]
    resume: Option<PathBuf>,
    /// Take share K of N of the input (K from 0), by a stable hash of each domain; `env`
    /// reads K from JOB_COMPLETION_INDEX (a Kubernetes indexed Job) and N from --shards or
    /// DANEEL_SHARDS.
    #[arg(long, value_name = "K/N|env")]
    shard: Option<String>,
    /// The number of shards, with `--shard env`.
    #[arg(long, value_name = "N", requires = "shard")]
    shards: Option<u32>,
    /// Write each check's transcript to `DIR/DOMAIN.jsonl`, for `daneel replay`.
    #[arg(long, value_name = "DIR")]
    transcripts: Option<PathBuf>,
    /// No progress bar (there is none anyway when standard error is not a terminal).
    #[arg(long = "no-progress")]
    no_progress: bool,
    /// Run on the smol runtime instead of tokio.
    #[arg(long)]
    smol: bool,
    /// Fix the seed of the scan (each domain's check draws its own from it).
    #[arg(long)]
    seed: Option<u64>,
}

/// Which share of the input `--shard` and `--shards` ask for, reading the environment for
/// `--shard env`.
fn shard_of(
    args: &ScanArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, String> {
    let Some(spec) = &args.shard else {
        return Ok(None);
    };
    if spec != "env" {
        if args.shards.is_some() {
            return Err("--shards goes with --shard env; --shard K/N names N itself".into());
        }
        return spec.parse::<Shard>().map(Some).map_err(|e| e.to_string());
    }
    let index = env("JOB_COMPLETION_INDEX")
        .ok_or("--shard env: JOB_COMPLETION_INDEX is not set (a Kubernetes indexed Job sets it)")?;
    let index: u32 = index
        .trim()
        .parse()
        .map_err(|_| format!("JOB_COMPLETION_INDEX={index:?} is not a number"))?;
    let count = match args.shards {
        Some(n) => n,
        None => {
            let n = env("DANEEL_SHARDS").ok_or("--shard env needs --shards N or DANEEL_SHARDS (Kubernetes does not export the completion count)")?;
            n.trim()
                .parse()
                .map_err(|_| format!("DANEEL_SHARDS={n:?} is not a number"))?
        }
    };
    Shard::new(index, count)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Raises the open-files limit to its hard maximum; returns the limit now in force.
fn raise_open_files() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// The default concurrency: [`CHECKS_PER_CORE`] per core, within the open-files limit.
fn default_concurrency(open_files: u64) -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let by_files = open_files.saturating_sub(64) / FILES_PER_CHECK;
    (cores * CHECKS_PER_CORE).min(by_files).max(1) as usize
}

/// The domains a previous run wrote to `path` (one JSON object with a `domain` per line).
/// A last line cut short by the interruption is dropped from the file, so the lines
/// appended after it stay whole; its domain is checked again.
fn finished_in(path: &Path) -> io::Result<FinishedSet> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FinishedSet::default()),
        Err(e) => return Err(e),
    };
    let mut hashes = Vec::new();
    let mut whole = 0u64;
    let mut reader = BufReader::new(&mut file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        whole += n as u64;
        #[derive(serde::Deserialize)]
        struct Line {
            domain: String,
        }
        if let Ok(l) = serde_json::from_slice::<Line>(&line) {
            hashes.push(domain_hash(&l.domain));
        }
    }
    drop(reader);
    if file.seek(SeekFrom::End(0))? != whole {
        file.set_len(whole)?;
    }
    Ok(FinishedSet::new(hashes))
}

/// What the reader thread left out, for the summary.
#[derive(Default)]
struct Skipped {
    resumed: AtomicU64,
    repeated: AtomicU64,
    other_shard: AtomicU64,
    /// Reading the input failed: the scan ends short of it.
    read_failed: std::sync::atomic::AtomicBool,
}

/// Calls `each` with the domain on every line of `input` (see [`domain_on_line`]), until it
/// returns false. A line longer than [`MAX_LINE`] is cut there, the rest of it skipped.
fn for_each_domain(input: impl Read, mut each: impl FnMut(&str) -> bool) -> io::Result<()> {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if n as u64 == MAX_LINE && line.last() != Some(&b'\n') {
            reader.skip_until(b'\n')?;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(domain) = domain_on_line(&text) {
            if !each(domain) {
                return Ok(());
            }
        }
    }
}

/// Whether this run checks `domain`: in its shard, and not reported before.
fn in_this_run(domain: &str, shard: Option<Shard>, finished: &FinishedSet) -> bool {
    shard.is_none_or(|s| s.contains(domain)) && !finished.contains(domain)
}

/// Reads domains from `input` into a bounded channel, leaving out what this run must not
/// check.
fn spawn_reader(
    input: Box<dyn Read + Send>,
    shard: Option<Shard>,
    finished: Arc<FinishedSet>,
    skipped: Arc<Skipped>,
) -> Receiver<String> {
    let (tx, rx) = sync_channel(READ_AHEAD);
    thread::spawn(move || {
        let mut recent = RecentlySeen::new(RECENT_WINDOW);
        let read = for_each_domain(input, |domain| {
            let counter = if shard.is_some_and(|s| !s.contains(domain)) {
                &skipped.other_shard
            } else if finished.contains(domain) {
                &skipped.resumed
            } else if !recent.first_sight(domain) {
                &skipped.repeated
            } else {
                return tx.send(domain.to_string()).is_ok();
            };
            counter.fetch_add(1, Ordering::Relaxed);
            true
        });
        if let Err(e) = read {
            eprintln!("daneel: reading the domains: {e}");
            skipped.read_failed.store(true, Ordering::Relaxed);
        }
    });
    rx
}

/// For an input file, counts in the background the domains this run will check (repeats
/// included), and gives the progress bar its length, hence its ETA.
fn size_the_bar(path: &str, shard: Option<Shard>, finished: Arc<FinishedSet>, bar: ProgressBar) {
    let Ok(file) = File::open(path) else { return };
    thread::spawn(move || {
        let mut count = 0u64;
        let counted = for_each_domain(file, |domain| {
            count += u64::from(in_this_run(domain, shard, &finished));
            !bar.is_finished()
        });
        if counted.is_ok() && !bar.is_finished() {
            bar.set_length(count);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} domains, {per_sec}, {elapsed}, ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
    });
}

/// The reader's channel, pulled without blocking.
struct ChannelSource(Receiver<String>);

impl DomainSource for ChannelSource {
    fn pull(&mut self) -> Pull {
        match self.0.try_recv() {
            Ok(d) => Pull::Domain(d),
            Err(TryRecvError::Empty) => Pull::NotYet,
            Err(TryRecvError::Disconnected) => Pull::End,
        }
    }
}

/// Writes each finished domain as one JSON line, flushed at once.
struct LineSink {
    out: Box<dyn Write>,
    bar: ProgressBar,
    transcripts: Option<PathBuf>,
}

/// The JSON line of one finished domain: the report as `daneel check --json` prints it (on
/// one line), or `{"domain": .., "error": ..}` for a line that is not a destination.
fn json_line(result: &ScanResult) -> String {
    let line = match &result.outcome {
        ScanOutcome::Report(report) => serde_json::to_string(report),
        ScanOutcome::Invalid(why) => {
            serde_json::to_string(&serde_json::json!({"domain": result.domain, "error": why}))
        }
        other => serde_json::to_string(
            &serde_json::json!({"domain": result.domain, "error": format!("{other:?}")}),
        ),
    };
    line.unwrap_or_else(|e| {
        serde_json::json!({"domain": result.domain, "error": e.to_string()}).to_string()
    })
}

/// A file name for `domain`'s transcript: the domain with anything but letters, digits,
/// dots and hyphens replaced.
fn transcript_name(domain: &str) -> String {
    let safe: String = domain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.jsonl", safe.trim_matches('.'))
}

impl ScanSink for LineSink {
    fn finished(&mut self, result: ScanResult) {
        if let (Some(dir), Some(t)) = (&self.transcripts, &result.transcript) {
            let path = dir.join(transcript_name(&result.domain));
            if let Err(e) = std::fs::write(&path, t.to_json_lines()) {
                self.bar
                    .suspend(|| eprintln!("daneel: cannot write {}: {e}", path.display()));
            }
        }
        let line = json_line(&result);
        if let Err(e) = writeln!(self.out, "{line}").and_then(|()| self.out.flush()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                std::process::exit(EXIT_BROKEN_PIPE);
            }
            self.bar
                .suspend(|| eprintln!("daneel: writing the reports: {e}"));
            std::process::exit(EXIT_IO);
        }
        self.bar.inc(1);
    }
}

/// The summary table, for standard error.
fn summary_table(summary: &ScanSummary, skipped: &Skipped, seconds: f64) -> String {
    let mut out = vec![format!(
        "scanned {} domains in {seconds:.1} s ({:.1} domains/s); skipped {} already reported, {} repeated, {} of other shards; {} invalid lines",
        summary.domains,
        summary.domains as f64 / seconds.max(1e-9),
        skipped.resumed.load(Ordering::Relaxed),
        skipped.repeated.load(Ordering::Relaxed),
        skipped.other_shard.load(Ordering::Relaxed),
        summary.invalid,
    )];
    out.push("verdicts:".into());
    out.extend(
        summary
            .verdicts
            .iter()
            .map(|(v, n)| format!("  {n:>9}  {v}")),
    );
    if !summary.reasons.is_empty() {
        out.push("failure reasons (domains):".into());
        out.extend(
            summary
                .reasons
                .iter()
                .map(|(r, n)| format!("  {n:>9}  {r}")),
        );
    }
    if !summary.slowest.is_empty() {
        out.push("slowest:".into());
        out.extend(
            summary
                .slowest
                .iter()
                .map(|(d, ms)| format!("  {ms:>7} ms  {d}")),
        );
    }
    out.push(format!(
        "at most {} checks ran at once",
        summary.peak_running
    ));
    let c = &summary.cache;
    out.push(format!(
        "DNS: {} queries sent, {} answered from the cache, {} joined a query in flight, {} answers held",
        c.sent, c.hits, c.joined, c.held
    ));
    out.join("\n")
}

fn usage(message: impl std::fmt::Display) -> i32 {
    eprintln!("daneel: {message}");
    EXIT_USAGE
}

/// `daneel scan`.
pub(crate) fn run(args: ScanArgs) -> i32 {
    let check = match check_config("", &args.options) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let shard = match shard_of(&args, |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let mut config = ScanConfig::new(check);
    let open_files = raise_open_files();
    config.concurrency = args
        .concurrency
        .unwrap_or_else(|| default_concurrency(open_files))
        .max(1);
    config.per_destination = args.per_destination.max(1);
    config.connect_rate = args.connect_rate;
    config.dns_rate = args.dns_rate;
    config.max_dns_in_flight = args.dns_in_flight.max(1);
    config.record_transcripts = args.transcripts.is_some();
    config.check.fixed_seed = args.seed.is_some();
    if let Some(dir) = &args.transcripts {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return usage(format!("{}: {e}", dir.display()));
        }
    }
    let input: Box<dyn Read + Send> = match args.input.as_deref() {
        None | Some("-") => Box::new(io::stdin()),
        Some(path) => match File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return usage(format!("{path}: {e}")),
        },
    };
    let finished = match &args.resume {
        Some(path) => match finished_in(path) {
            Ok(f) => f,
            Err(e) => return usage(format!("{}: {e}", path.display())),
        },
        None => FinishedSet::default(),
    };
    let out: Box<dyn Write> = match args.resume.as_ref().or(args.output.as_ref()) {
        Some(path) => {
            let append = args.resume.is_some();
            match OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(path)
            {
                Ok(f) => Box::new(io::BufWriter::new(f)),
                Err(e) => return usage(format!("{}: {e}", path.display())),
            }
        }
        None => Box::new(io::stdout()),
    };
    let bar = if args.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::no_length()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} domains, {per_sec}, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let skipped = Arc::new(Skipped::default());
    let finished = Arc::new(finished);
    if let Some(path) = args
        .input
        .as_deref()
        .filter(|p| *p != "-" && !bar.is_hidden())
    {
        size_the_bar(path, shard, finished.clone(), bar.clone());
    }
    let rx = spawn_reader(input, shard, finished, skipped.clone());
    let sink = LineSink {
        out,
        bar: bar.clone(),
        transcripts: args.transcripts.clone(),
    };
    let clock = daneel_tokio::system_clock();
    let seed = args.seed.map(Seed).unwrap_or_else(os_seed);
    let scan = match Scan::new(config, seed, clock.origin(), ChannelSource(rx), sink) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let began = std::time::Instant::now();
    let run = if args.smol {
        daneel_smol::run_blocking::<Scan<ChannelSource, LineSink>>
    } else {
        daneel_tokio::run_blocking::<Scan<ChannelSource, LineSink>>
    };
    let scan = match run(scan, clock) {
        Ok((_, scan)) => scan,
        Err(e) => {
            eprintln!("daneel: cannot start the runtime: {e}");
            return EXIT_INTERNAL;
        }
    };
    bar.finish_and_clear();
    eprintln!(
        "{}",
        summary_table(&scan.summary(), &skipped, began.elapsed().as_secs_f64())
    );
    if skipped.read_failed.load(Ordering::Relaxed) {
        eprintln!("daneel: the input could not be read to its end: the scan is incomplete");
        return EXIT_IO;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ScanArgs,
    }

    fn args(line: &[&str]) -> ScanArgs {
        Wrap::parse_from(std::iter::once("scan").chain(line.iter().copied())).args
    }

    #[test]
    fn shards_from_the_command_line_and_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            shard_of(&args(&["--shard", "1/3"]), env(&[])),
            Ok(Some(Shard::new(1, 3).unwrap()))
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("DANEEL_SHARDS", "4")]);
        assert_eq!(
            shard_of(&args(&["--shard", "env"]), k8s),
            Ok(Some(Shard::new(2, 4).unwrap()))
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(
            shard_of(&args(&["--shard", "env", "--shards", "3"]), k8s),
            Ok(Some(Shard::new(2, 3).unwrap()))
        );
        assert!(shard_of(
            &args(&["--shard", "env"]),
            env(&[("JOB_COMPLETION_INDEX", "2")])
        )
        .is_err());
        assert!(shard_of(
            &args(&["--shard", "env", "--shards", "2"]),
            env(&[("JOB_COMPLETION_INDEX", "2")])
        )
        .is_err());
        assert!(shard_of(&args(&["--shard", "env"]), env(&[])).is_err());
    }

    #[test]
    fn a_cut_last_line_is_dropped_before_resuming() {
        let dir = std::env::temp_dir().join(format!("daneel-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(&path, "{\"domain\":\"a.example\"}\n{\"domain\":\"b.example\",\"error\":\"x\"}\n{\"domain\":\"c.ex").unwrap();
        let done = finished_in(&path).unwrap();
        assert!(done.contains("a.example") && done.contains("B.example."));
        assert!(!done.contains("c.example"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
