//! Argument parsing and dispatch of the `daneel` command.

mod demo;
mod mua;
mod output;
mod scan;
mod send;
mod tlsa;
mod tlsrpt;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use daneel_core::check::{parse_destination, AddressFamily, CheckConfig, Destination};
use daneel_core::dnssec::{DnssecMode, DnssecSettings};
use daneel_core::smtp::{InsecureMxPolicy, SniMode};
use daneel_core::transcript::{redecide, Divergence, Recorder, Recording};
use daneel_core::{MachineConfig, Seed};

/// Exit status for usage errors (sysexits EX_USAGE); clap's own 2 is mapped to it.
pub const EXIT_USAGE: i32 = 64;
/// Exit status for an unreadable or diverging transcript (EX_DATAERR).
pub const EXIT_DATA: i32 = 65;
/// Exit status for internal errors (EX_SOFTWARE).
pub const EXIT_INTERNAL: i32 = 70;
/// Exit status when standard output was closed under us (`daneel ... | head`): what a shell
/// reports for a process killed by SIGPIPE (128 + 13), without the panic `println!` gives.
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Writes one line to standard output; if the reader went away (a closed pipe) or the write
/// failed, exits quietly with [`EXIT_BROKEN_PIPE`] instead of panicking as `println!` does.
pub(crate) fn say_line(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(EXIT_BROKEN_PIPE);
    }
}

/// `println!` for the `daneel` command: see [`say_line`].
macro_rules! say {
    () => {
        $crate::cli::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

#[derive(Parser, Debug)]
#[command(
    name = "daneel",
    version,
    about = "DANE for email: check that mail servers are what their DNSSEC-signed TLSA records say (RFC 7672)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a mail domain's MX hosts, or one host, with RFC 7672 DANE.
    Check(CheckArgs),
    /// Check many mail domains at once: one JSON report per line, with a DNS cache shared by
    /// every check, per-destination limits, --resume and --shard.
    Scan(scan::ScanArgs),
    /// Find a mail domain's submission, IMAP and POP3 servers through SRV records and
    /// authenticate them as a mail client would (RFC 6186, RFC 7673, RFC 8314).
    Mua(mua::MuaArgs),
    /// Deliver a message read from standard input under DANE (RFC 7672), with
    /// per-message requirements (RFC 8689), and print each recipient's result.
    Send(send::SendArgs),
    /// TLSA records for a certificate, or check the published ones against it (--verify).
    Tlsa(tlsa::TlsaArgs),
    /// SMTP TLS reports (RFC 8460) from checks.
    #[command(subcommand)]
    Tlsrpt(tlsrpt::TlsRptCommand),
    /// Serve a small signed world on loopback and check a few of its domains (no network).
    Demo {
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-run a recorded check with no network and print its report: byte for byte for a
    /// transcript of the current format, decided again for one of an older format.
    Replay {
        /// The transcript written by `daneel check --transcript`.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Decide again even a transcript of the current format, as one of an older format
        /// always is: answers matched by question, connections by address.
        #[arg(long)]
        redecide: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `daneel man > daneel.1`.
    Man,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The destination (a mail domain, a bracketed host, or an address).
    #[arg(help = "DOMAIN, [HOST], [HOST]:PORT or [IP-ADDRESS]")]
    destination: String,
    #[command(flatten)]
    options: CheckOptions,
    #[command(flatten)]
    run: RunArgs,
    /// Print only the RFC 8460 TLS report of this check on standard output (the human
    /// report goes to standard error).
    #[arg(long, conflicts_with = "json")]
    tlsrpt: bool,
    #[command(flatten)]
    reporter: tlsrpt::ReporterArgs,
}

/// How an SMTP check runs: the options `daneel check` and `daneel scan` share.
#[derive(clap::Args, Debug)]
pub(crate) struct CheckOptions {
    /// The SMTP port.
    #[arg(
        long,
        default_value_t = 25,
        help = "SMTP port; the TLSA name follows it (_N._tcp). [HOST]:PORT wins"
    )]
    port: u16,
    #[command(flatten)]
    net: NetArgs,
    /// Timeout of each SMTP stage, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The name sent in EHLO.
    #[arg(long, default_value = "daneel.invalid")]
    ehlo: String,
    /// `none` sends no SNI (a diagnostic; RFC 7672 sec. 8.1 wants SNI for DANE hosts).
    #[arg(long, value_enum, default_value_t = SniArg::Auto)]
    sni: SniArg,
    /// What TLSA records of hosts under an insecure MX RRset do (Postfix's
    /// smtp_tls_dane_insecure_mx_policy).
    #[arg(long = "insecure-mx", value_enum, default_value_t = InsecureMxArg::Dane)]
    insecure_mx: InsecureMxArg,
    /// Mandatory DANE (Postfix's dane-only, RFC 7672 sec. 6): hosts without usable secure TLSA
    /// records, or under an insecure MX RRset, fail with dane-required.
    #[arg(long = "require-dane")]
    require_dane: bool,
    /// Digest preference, strongest first (RFC 7671 sec. 9).
    #[arg(long, default_value = "sha512 sha256")]
    digests: String,
}

/// Where to ask and which families to use: the options every check shares.
#[derive(clap::Args, Debug)]
pub(crate) struct NetArgs {
    /// A resolver (repeatable); replaces /etc/resolv.conf.
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    resolvers: Vec<String>,
    /// Where DNSSEC statuses come from: `validate` checks every signature in daneel from the
    /// trust anchor down (any resolver that serves DNSSEC data will do), `trust-ad` believes
    /// the AD bit of a validating resolver, `auto` trusts a validating resolver on loopback
    /// and validates otherwise.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    dnssec: DnssecMode,
    /// Trust anchors (DS or DNSKEY records in presentation format) instead of the IANA root
    /// KSKs built into daneel.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    trust_anchor: Option<std::path::PathBuf>,
    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
}

impl NetArgs {
    /// The resolvers given, or those of /etc/resolv.conf.
    pub(crate) fn resolvers(&self) -> Result<Vec<SocketAddr>, String> {
        if self.resolvers.is_empty() {
            return system_resolvers();
        }
        self.resolvers.iter().map(|r| parse_resolver(r)).collect()
    }

    /// The DNSSEC settings asked for; the trust-anchor file is read and checked here.
    pub(crate) fn dnssec(&self) -> Result<DnssecSettings, String> {
        let mut settings = DnssecSettings::new(self.dnssec);
        if let Some(path) = &self.trust_anchor {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            daneel_core::dnssec::parse_anchors(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            settings.trust_anchors = text
                .lines()
                .map(str::to_string)
                .filter(|l| !l.trim().is_empty())
                .collect();
        }
        Ok(settings)
    }

    /// The address families asked for.
    pub(crate) fn family(&self) -> AddressFamily {
        match (self.ipv4, self.ipv6) {
            (true, _) => AddressFamily::V4,
            (_, true) => AddressFamily::V6,
            _ => AddressFamily::Any,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SniArg {
    Auto,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum InsecureMxArg {
    Dane,
    Encrypt,
    May,
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub(crate) fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("invalid resolver {text:?}: use IP or IP:PORT"))
}

pub(crate) fn system_resolvers() -> Result<Vec<SocketAddr>, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("/etc/resolv.conf: {e}"))?;
    Ok(daneel_core::dns::resolv_conf::parse_conf(&text).servers_or_default())
}

/// A seed from the operating system's random source (getrandom), for DNS message ids and
/// ports (RFC 5452 sec. 9.2) and the SRV weighted draw. Without one the check cannot be
/// safe against forged answers, so failing to read it is fatal.
pub(crate) fn os_seed() -> Seed {
    let mut bytes = [0u8; 8];
    if let Err(e) = getrandom::fill(&mut bytes) {
        eprintln!("daneel: no randomness from the operating system: {e}");
        std::process::exit(EXIT_INTERNAL);
    }
    daneel_core::driver::seed_from_bytes(bytes)
}

/// The configuration of a check of `destination` with these options.
pub(crate) fn check_config(destination: &str, args: &CheckOptions) -> Result<CheckConfig, String> {
    let mut config = CheckConfig::new(destination, args.net.resolvers()?);
    config.port = args.port;
    config.family = args.net.family();
    config.dnssec = args.net.dnssec()?;
    config.smtp_timeout_ms = Some(args.timeout.max(1) * 1000);
    config.ehlo_name = args.ehlo.clone();
    config.sni = match args.sni {
        SniArg::Auto => SniMode::Auto,
        SniArg::None => SniMode::None,
    };
    config.insecure_mx = match args.insecure_mx {
        InsecureMxArg::Dane => InsecureMxPolicy::Dane,
        InsecureMxArg::Encrypt => InsecureMxPolicy::Encrypt,
        InsecureMxArg::May => InsecureMxPolicy::May,
    };
    config.digests = args.digests.clone();
    config.require_dane = args.require_dane;
    Ok(config)
}

fn run_check(args: CheckArgs) -> i32 {
    let mut config = match check_config(&args.destination, &args.options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    config.fixed_seed = args.run.seed.is_some();
    let output = match args.tlsrpt {
        true => Output::TlsRpt(args.reporter),
        false => Output::Report,
    };
    if args.tlsrpt
        && !matches!(
            parse_destination(&config.destination, config.port),
            Ok(Destination::Domain(_))
        )
    {
        eprintln!(
            "daneel: --tlsrpt needs a mail domain: an RFC 8460 report is for a policy domain (sec. 4.2)"
        );
        return EXIT_USAGE;
    }
    run_machine(config.into(), args.run, output)
}

/// What a check prints.
pub(crate) enum Output {
    /// Its report, human or JSON (`--json`).
    Report,
    /// Its RFC 8460 report, with these options (`--tlsrpt`).
    TlsRpt(tlsrpt::ReporterArgs),
}

/// How to run a check, whatever its kind.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record a transcript (config, seed, every input and output) to FILE for `daneel replay`.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// Run on the smol runtime instead of tokio.
    #[arg(long)]
    pub smol: bool,
    /// Fix the seed (DNS ids, MX and SRV order) instead of drawing it from the OS.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs the check `config` on the runtime asked for, writes its transcript if asked, prints
/// its report; returns the exit status of its verdict.
pub(crate) fn run_machine(config: MachineConfig, args: RunArgs, output: Output) -> i32 {
    let seed = args.seed.map(Seed).unwrap_or_else(os_seed);
    let clock = daneel_tokio::system_clock();
    let recorder = match Recorder::new(config, seed, clock.origin()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    // Both runtimes have the same API (issue 8): only the function differs.
    let run = if args.smol {
        daneel_smol::run_blocking::<Recorder>
    } else {
        daneel_tokio::run_blocking::<Recorder>
    };
    let (report, recorder) = match run(recorder, clock) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("daneel: cannot start the runtime: {e}");
            return EXIT_INTERNAL;
        }
    };
    let ended = clock.at(std::time::Instant::now());
    if let Some(path) = &args.transcript {
        if let Err(e) = std::fs::write(path, recorder.transcript().to_json_lines()) {
            eprintln!("daneel: cannot write {}: {e}", path.display());
            return EXIT_INTERNAL;
        }
    }
    match output {
        Output::Report => output::print_report(&report, args.json),
        Output::TlsRpt(reporter) => {
            if let Some(status) = tlsrpt::print_check(&report, &reporter, ended) {
                return status;
            }
        }
    }
    report.verdict.exit_code()
}

fn run_replay(file: PathBuf, json: bool, again: bool) -> i32 {
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("daneel: {}: {e}", file.display());
            return EXIT_DATA;
        }
    };
    let recording = match Recording::from_json_lines(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("daneel: {}: {e}", file.display());
            return EXIT_DATA;
        }
    };
    let result = match (&recording, again) {
        (Recording::Current(t), true) => redecide(t, t.recorded_verdict()),
        _ => recording.replay(),
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daneel: replay of {} failed: {e}", file.display());
            return EXIT_DATA;
        }
    };
    match &result.divergence {
        Some(Divergence::Output {
            event,
            recorded,
            replayed,
        }) => eprintln!(
            "daneel: this version decides differently from the recording at event {event}:\n  recorded: {}\n  replayed: {}",
            serde_json::to_string(recorded).unwrap_or_default(),
            serde_json::to_string(replayed).unwrap_or_default()
        ),
        Some(Divergence::Verdict { recorded, replayed }) => eprintln!(
            "daneel: re-decided, this version reaches {} where the recording reached {}",
            replayed.as_str(),
            recorded.as_str()
        ),
        None => {}
    }
    let Some(report) = result.report else {
        eprintln!(
            "daneel: the transcript ends before the check finished ({} inputs)",
            result.inputs
        );
        return EXIT_DATA;
    };
    output::print_report(&report, json);
    if result.divergence.is_some() {
        return EXIT_DATA;
    }
    report.verdict.exit_code()
}

/// Entry point; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_USAGE,
            };
        }
    };
    match cli.command {
        Command::Check(args) => run_check(args),
        Command::Scan(args) => scan::run(args),
        Command::Mua(args) => mua::run(args),
        Command::Send(args) => send::run(args),
        Command::Replay {
            file,
            json,
            redecide: again,
        } => run_replay(file, json, again),
        Command::Tlsa(args) => tlsa::run(args),
        Command::Tlsrpt(command) => tlsrpt::run(command),
        Command::Demo { json } => demo::run(json),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "daneel", &mut out);
            say!("{}", String::from_utf8_lossy(&out).trim_end());
            0
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => {
                    say!("{}", String::from_utf8_lossy(&out).trim_end());
                    0
                }
                Err(e) => {
                    eprintln!("daneel: cannot render the manual page: {e}");
                    EXIT_INTERNAL
                }
            }
        }
    }
}
