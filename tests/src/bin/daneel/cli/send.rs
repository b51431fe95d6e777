//! `daneel send --from A --to B [--to C ...] < message.eml`: delivers a message under DANE
//! (RFC 7672), one [`Delivery`] per recipient domain, and prints each recipient's result.
//!
//! Exit statuses (sysexits): 0 all delivered; 75 (EX_TEMPFAIL) some deferred and none
//! bounced; 69 (EX_UNAVAILABLE) some bounced; 65 (EX_DATAERR) a malformed message; 64
//! (EX_USAGE) a usage error. A message not delivered to every recipient is never dropped in
//! silence: it is left in a file the output names, and the DSN (`--dsn-to`) says where.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use daneel_core::check::CheckConfig;
use daneel_core::delivery::{
    dsn_message, Delivery, DeliveryConfig, DeliveryReport, DsnParams, Message, RecipientState,
};
use daneel_core::{Report, Seed};

use super::{os_seed, say, NetArgs, RunArgs, EXIT_DATA, EXIT_INTERNAL, EXIT_USAGE};

/// Some recipient bounced (sysexits EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: i32 = 69;
/// Some recipient was deferred and none bounced (sysexits EX_TEMPFAIL).
pub const EXIT_TEMPFAIL: i32 = 75;

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// The envelope sender (MAIL FROM); "" for the null reverse path.
    #[arg(long)]
    from: String,
    /// A recipient (RCPT TO); repeatable.
    #[arg(long = "to", required = true, value_name = "ADDRESS")]
    to: Vec<String>,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    run: RunArgs,
    /// SMTP port; the TLSA name follows it (_N._tcp).
    #[arg(long, default_value_t = 25)]
    port: u16,
    /// Timeout of each SMTP stage up to the transaction, seconds; the transaction keeps at
    /// least RFC 5321's 5 minutes per command and 10 for the reply to the message.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The name sent in EHLO, also the DSN's Reporting-MTA.
    #[arg(long, default_value = "daneel.invalid")]
    ehlo: String,
    /// Use only authenticated DANE channels (RFC 7672 sec. 6).
    #[arg(long = "require-dane")]
    require_dane: bool,
    /// REQUIRETLS (RFC 8689): a secure MX RRset, a DANE-authenticated server offering
    /// REQUIRETLS, or a 5.7.30 bounce.
    #[arg(long)]
    requiretls: bool,
    /// Add a Transmitted: header field (draft-fanf-dane-smtp, a 2012 draft never
    /// standardised).
    #[arg(long)]
    trace: bool,
    /// Write a DSN (RFC 3464, multipart/report) for bounced and deferred recipients to FILE.
    #[arg(long = "dsn-to", value_name = "FILE")]
    dsn_to: Option<PathBuf>,
    /// Where to leave a message that was not delivered to every recipient [default: the
    /// system's temporary directory].
    #[arg(long = "keep-dir", value_name = "DIR")]
    keep_dir: Option<PathBuf>,
}

/// The recipients by domain (the part after the last `@`, lower-cased), in order.
fn by_domain(to: &[String]) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for address in to {
        let Some((_, domain)) = address
            .rsplit_once('@')
            .filter(|(l, d)| !l.is_empty() && !d.is_empty())
        else {
            return Err(format!("{address:?} is not an address (local@domain)"));
        };
        map.entry(domain.to_ascii_lowercase())
            .or_default()
            .push(address.clone());
    }
    Ok(map)
}

/// Leaves the original message in `dir` under a new name; returns the path.
fn keep(dir: &Path, raw: &[u8], seed: Seed) -> std::io::Result<PathBuf> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = dir.join(format!(
        "daneel-undelivered-{now}-{}-{:x}.eml",
        std::process::id(),
        seed.0 & 0xffff_ffff
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::io::Write::write_all(&mut file, raw)?;
    Ok(path)
}

fn print_recipients(d: &DeliveryReport) {
    for r in &d.recipients {
        let via = r
            .remote_mta
            .as_ref()
            .map(|h| format!(" via {h}"))
            .unwrap_or_default();
        let retry = r
            .retry_after_secs
            .map(|s| format!(", retry after {s}s"))
            .unwrap_or_default();
        say!(
            "<{}>: {} ({}){via}: {}{retry}",
            r.address,
            r.state.as_str(),
            r.status,
            r.diagnostic
        );
    }
    for a in &d.attempts {
        if let Some(rx) = &a.received {
            say!(
                "  {} [{}]: {}{}; Received: with {}{}{}",
                a.host,
                a.address,
                serde_json::to_value(a.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                if a.waived {
                    " (waived by TLS-Required: No)"
                } else {
                    ""
                },
                rx.with,
                rx.tls
                    .as_ref()
                    .map(|c| format!(" tls {c}"))
                    .unwrap_or_default(),
                rx.tls_version
                    .as_ref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default()
            );
        }
        if let Some(t) = &a.transmitted {
            say!("  {t}");
        }
    }
}

/// `daneel send`.
pub fn run(args: SendArgs) -> i32 {
    let resolvers = match args.net.resolvers() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    if args.run.transcript.is_some() {
        eprintln!("daneel: --transcript is not supported by send");
        return EXIT_USAGE;
    }
    let domains = match by_domain(&args.to) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut raw) {
        eprintln!("daneel: cannot read the message from standard input: {e}");
        return EXIT_DATA;
    }
    let message = match Message::parse(&raw) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("daneel: malformed message: {e}");
            return EXIT_DATA;
        }
    };
    let dnssec = match args.net.dnssec() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    let seed = args.run.seed.map(Seed).unwrap_or_else(os_seed);
    let clock = daneel_tokio::system_clock();
    let arrival = clock.origin();
    // Every delivery is built, so every address checked, before any runs: a usage error
    // must never come after a domain already received the message (a re-send would
    // duplicate it).
    let mut deliveries = Vec::new();
    for (i, (domain, recipients)) in domains.into_iter().enumerate() {
        let mut check = CheckConfig::new(domain, resolvers.clone());
        check.port = args.port;
        check.family = args.net.family();
        check.dnssec = dnssec.clone();
        check.smtp_timeout_ms = Some(args.timeout.max(1) * 1000);
        check.ehlo_name = args.ehlo.clone();
        check.require_dane = args.require_dane;
        check.fixed_seed = args.run.seed.is_some();
        let n_recipients = recipients.len();
        let config = DeliveryConfig {
            check,
            from: args.from.clone(),
            recipients,
            requiretls: args.requiretls,
            trace: args.trace,
        };
        let seed = Seed(seed.0.wrapping_add(i as u64));
        let delivery = match Delivery::new(
            config,
            message.clone(),
            seed,
            clock.at(std::time::Instant::now()),
        ) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("daneel: {e}");
                return EXIT_USAGE;
            }
        };
        deliveries.push((delivery, n_recipients));
    }
    // Both runtimes have the same API (issue 8): only the function differs.
    let run = if args.run.smol {
        daneel_smol::run_blocking::<Delivery>
    } else {
        daneel_tokio::run_blocking::<Delivery>
    };
    let mut reports: Vec<Box<Report>> = Vec::new();
    // Recipients no delivery could even be started for: not lost, the message is kept.
    let mut not_attempted = 0usize;
    for (delivery, count) in deliveries {
        if not_attempted > 0 {
            not_attempted += count;
            continue;
        }
        match run(delivery, clock) {
            Ok((report, _)) if report.delivery.is_some() => reports.push(report),
            Ok(_) => {
                eprintln!("daneel: internal error: a delivery without its report");
                not_attempted += count;
            }
            Err(e) => {
                eprintln!("daneel: cannot start the runtime: {e}");
                not_attempted += count;
            }
        }
    }
    let mut all = DeliveryReport::new(
        args.from.clone(),
        message.len() as u64,
        daneel_core::delivery::Requirements {
            require_dane: args.require_dane,
            requiretls: args.requiretls,
            waiver: daneel_core::delivery::Waiver::Absent,
            waiver_used: false,
        },
    );
    for report in &reports {
        let Some(d) = &report.delivery else {
            continue;
        };
        all.recipients.extend(d.recipients.iter().cloned());
        all.attempts.extend(d.attempts.iter().cloned());
        all.requirements.waiver = d.requirements.waiver;
        all.requirements.waiver_used |= d.requirements.waiver_used;
    }
    if args.run.json {
        let json = serde_json::json!({ "deliveries": reports });
        say!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        for report in &reports {
            for line in &report.log {
                say!("{:>6}ms {}", line.at_ms, line.text);
            }
        }
        print_recipients(&all);
    }
    if not_attempted > 0 {
        eprintln!("daneel: {not_attempted} recipient(s) not attempted");
    }
    let mut left_in = None;
    if not_attempted > 0
        || !all
            .recipients
            .iter()
            .all(|r| r.state == RecipientState::Delivered)
    {
        let dir = args.keep_dir.clone().unwrap_or_else(std::env::temp_dir);
        match keep(&dir, &raw, seed) {
            Ok(path) => {
                eprintln!("daneel: message left in {}", path.display());
                left_in = Some(path);
            }
            Err(e) => {
                eprintln!("daneel: cannot leave the message in {}: {e}", dir.display());
                return EXIT_INTERNAL;
            }
        }
    }
    if let Some(path) = &args.dsn_to {
        let left = left_in.as_ref().map(|p| p.display().to_string());
        let boundary = format!("daneel-{}-{:x}", std::process::id(), seed.0);
        let dsn = dsn_message(
            &all,
            &DsnParams {
                reporting_mta: &args.ehlo,
                arrival,
                now: clock.at(std::time::Instant::now()),
                left_in: left.as_deref(),
                original_header: message.header(),
                boundary: &boundary,
            },
        );
        if let Some(dsn) = dsn {
            if let Err(e) = std::fs::write(path, dsn) {
                eprintln!("daneel: cannot write {}: {e}", path.display());
                return EXIT_INTERNAL;
            }
            eprintln!("daneel: DSN written to {}", path.display());
        }
    }
    if all.any(RecipientState::Bounced) {
        EXIT_UNAVAILABLE
    } else if all.any(RecipientState::Deferred) || not_attempted > 0 {
        EXIT_TEMPFAIL
    } else {
        0
    }
}
