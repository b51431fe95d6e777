//! `daneel tlsa`: TLSA records for a certificate (RFC 7671 sec. 8, RFC 7672 sec. 3.1), and
//! `--verify`: do the published records match this certificate? (SPEC-NOTES d.1: "did I
//! update TLSA before renewing?").

use std::path::{Path, PathBuf};

use daneel_core::check::{CheckConfig, SmtpCheck};
use daneel_core::dane::generate::{covers, parse_pem_certificates, verify_published, TlsaPlan};
use daneel_core::dane::{DigestPrefs, TlsaRecord, TlsaSet, UsagePolicy};
use daneel_core::dns::Security;
use daneel_core::Seed;

use super::say;
use super::{parse_resolver, system_resolvers, EXIT_USAGE};

/// Arguments of `daneel tlsa`.
#[derive(clap::Args, Debug)]
pub struct TlsaArgs {
    /// The server's certificate, or its whole chain (leaf first), in PEM.
    cert: PathBuf,
    /// The MX host name the records are for.
    #[arg(long, default_value = "mx.example.com")]
    host: String,
    /// The port (the TLSA owner is _PORT._tcp.HOST).
    #[arg(long, default_value_t = 25)]
    port: u16,
    /// Certificate usage: 3 (DANE-EE, the default) or 2 (DANE-TA: the chain's issuers).
    #[arg(long, default_value_t = 3)]
    usage: u8,
    /// Selector: 1 (SPKI, the default) or 0 (whole certificate).
    #[arg(long, default_value_t = 1)]
    selector: u8,
    /// Matching type: 1 (SHA2-256, the default), 2 (SHA2-512) or 0 (full data).
    #[arg(long, default_value_t = 1)]
    matching: u8,
    /// Also a DANE-TA record for every issuer in the file (with the same selector and matching).
    #[arg(long)]
    chain: bool,
    /// Also `2 1 1` for the immediate issuer.
    #[arg(long)]
    issuer: bool,
    /// The next certificate (same or new key): "current + next" (RFC 7671 sec. 8.1).
    #[arg(long, value_name = "CERT2.pem")]
    rollover: Vec<PathBuf>,
    /// Also pin this CA certificate with a DANE-TA record (with --selector/--matching); warns
    /// when the server's chain in CERT does not contain it (RFC 7672 sec. 3.1.2).
    #[arg(long, value_name = "CA.pem")]
    ca: Vec<PathBuf>,
    /// Check the records published in DNS against the certificate instead of printing new ones.
    #[arg(long)]
    verify: bool,
    /// A validating resolver for --verify (repeatable); default /etc/resolv.conf.
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    resolvers: Vec<String>,
}

fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chain = parse_pem_certificates(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(chain)
}

fn generate(args: &TlsaArgs, chain: Vec<Vec<u8>>) -> Result<i32, String> {
    let mut plan = TlsaPlan::new(&args.host, args.port, chain);
    match args.usage {
        3 => plan = plan.ee(Some((args.selector, args.matching))),
        2 => plan = plan.ee(None).chain_records(args.selector, args.matching),
        u => {
            return Err(format!(
                "usage {u}: only 3 (DANE-EE) and 2 (DANE-TA) are used for SMTP (RFC 7672 sec. 3.1)"
            ))
        }
    }
    if args.chain && args.usage == 3 {
        plan = plan.chain_records(args.selector, args.matching);
    }
    if args.issuer {
        plan = plan.issuer();
    }
    for ca in &args.ca {
        for der in read_chain(ca)? {
            plan = plan.pin_ca(der, args.selector, args.matching);
        }
    }
    for next in &args.rollover {
        let next_chain = read_chain(next)?;
        plan = plan.rollover(next_chain[0].clone());
    }
    let built = plan.build().map_err(|e| e.to_string())?;
    for r in &built.records {
        say!("{}", r.zone_line());
    }
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    Ok(0)
}

fn verify(args: &TlsaArgs, chain: Vec<Vec<u8>>) -> Result<i32, String> {
    let resolvers = if args.resolvers.is_empty() {
        system_resolvers()?
    } else {
        args.resolvers
            .iter()
            .map(|r| parse_resolver(r))
            .collect::<Result<_, _>>()?
    };
    let mut config = CheckConfig::new(format!("[{}]:{}", args.host, args.port), resolvers);
    config.dns_only = true;
    let clock = daneel_tokio::system_clock();
    let check = SmtpCheck::new(config, Seed(0), clock.origin()).map_err(|e| e.to_string())?;
    let (report, _) = daneel_tokio::run_blocking(check, clock).map_err(|e| e.to_string())?;
    if let Some(reason) = &report.reason {
        return Err(format!("cannot look up the TLSA records: {reason}"));
    }
    let Some(tlsa) = report.hosts.first().and_then(|h| h.tlsa.clone()) else {
        let why = report
            .hosts
            .first()
            .and_then(|h| h.reason.as_ref())
            .map(|r| r.to_string());
        return Err(format!(
            "no TLSA lookup was made{}",
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        ));
    };
    say!(
        "{}: {} ({} records)",
        tlsa.name,
        tlsa.security,
        tlsa.records.len()
    );
    if tlsa.security != Security::Secure {
        say!("not secure: DANE does not apply to these records (RFC 7672 sec. 2.2)");
        return Ok(1);
    }
    let records: Vec<TlsaRecord> = tlsa.records.iter().map(|r| r.record.clone()).collect();
    let set = TlsaSet::new(records, &UsagePolicy::smtp(), &DigestPrefs::default());
    let checks = verify_published(&set, &chain);
    for c in &checks {
        let what = match (&c.unusable, c.matched_depth) {
            (Some(why), _) => format!("unusable: {why}"),
            (None, Some(0)) => "matches the certificate".to_string(),
            (None, Some(d)) => format!("matches the issuer at depth {d}"),
            (None, None) => "does not match".to_string(),
        };
        say!("  {}: {what}", c.record.to_text());
    }
    if covers(&checks) {
        say!(
            "OK: a usable published record matches {}",
            args.cert.display()
        );
        Ok(0)
    } else {
        say!(
            "MISMATCH: no usable published record matches {}: publish its record before deploying it (RFC 7671 sec. 8.1)",
            args.cert.display()
        );
        Ok(1)
    }
}

/// Runs `daneel tlsa`; returns the exit status.
pub fn run(args: TlsaArgs) -> i32 {
    let result = read_chain(&args.cert).and_then(|chain| {
        if args.verify {
            verify(&args, chain)
        } else {
            generate(&args, chain)
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("daneel tlsa: {e}");
            EXIT_USAGE
        }
    }
}
