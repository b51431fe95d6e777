//! `daneel mua DOMAIN`: the MUA check (RFC 6186 discovery, RFC 7673 authentication, RFC 8314
//! implicit TLS).

use std::path::PathBuf;

use daneel_core::dane::PkixTrustStore;
use daneel_core::mua::{MailService, MuaConfig};

use super::{run_machine, NetArgs, RunArgs, EXIT_USAGE};

/// Where the system keeps its PEM bundle of CA certificates (Debian's ca-certificates).
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(clap::Args, Debug)]
pub struct MuaArgs {
    /// The mail domain (the part of the address after @).
    domain: String,
    /// The services to check, comma-separated: submissions, submission, imaps, imap, pop3s,
    /// pop3 [default: all six].
    #[arg(long, value_delimiter = ',', value_name = "SERVICE,...")]
    service: Vec<String>,
    /// PEM file of trusted CA certificates for PKIX (default: the system's bundle, else the
    /// embedded Mozilla list).
    #[arg(long = "ca-file", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    run: RunArgs,
    /// Timeout of each session stage, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The name sent in EHLO to submission servers.
    #[arg(long, default_value = "daneel.invalid")]
    ehlo: String,
    /// Skip the client compatibility matrix (legacy, RFC 6186 and DANE clients): no extra
    /// handshakes with the target host name as SNI and without SNI.
    #[arg(long = "no-compatibility")]
    no_compatibility: bool,
}

/// The PKIX trust anchors: `--ca-file`, else the system bundle, else none (the core then
/// uses the embedded webpki-roots), with a note for the user.
fn trust_anchors(ca_file: Option<&PathBuf>) -> Result<(Vec<Vec<u8>>, String), String> {
    let (path, explicit) = match ca_file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(SYSTEM_CA_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if explicit => return Err(format!("{}: {e}", path.display())),
        Err(_) => {
            return Ok((
                Vec::new(),
                "PKIX trust store: the embedded Mozilla list (webpki-roots), which holds no root certificates: a \"0 0 x\" TLSA record on a root needs --ca-file".into(),
            ))
        }
    };
    let bundle = match PkixTrustStore::from_pem_bundle(&text) {
        Ok(b) => b,
        Err(e) if explicit => return Err(format!("{}: {e}", path.display())),
        // A broken system bundle is not the user's mistake: use the embedded list.
        Err(e) => {
            return Ok((
                Vec::new(),
                format!(
                    "PKIX trust store: {} is unusable ({e}); the embedded Mozilla list (webpki-roots) instead",
                    path.display()
                ),
            ))
        }
    };
    let anchors = match bundle.store {
        PkixTrustStore::Anchors(a) => a,
        PkixTrustStore::WebPkiRoots => Vec::new(),
    };
    let note = format!(
        "PKIX trust store: {} ({} certificates{})",
        path.display(),
        anchors.len(),
        if bundle.skipped.is_empty() {
            String::new()
        } else {
            format!(", {} refused as anchors", bundle.skipped.len())
        }
    );
    Ok((anchors, note))
}

fn config(args: &MuaArgs) -> Result<(MuaConfig, String), String> {
    let mut config = MuaConfig::new(args.domain.clone(), args.net.resolvers()?);
    if !args.service.is_empty() {
        config.services = args
            .service
            .iter()
            .map(|s| {
                MailService::parse(s).ok_or_else(|| {
                    format!("unknown service {s:?}: use submissions, submission, imaps, imap, pop3s or pop3")
                })
            })
            .collect::<Result<_, _>>()?;
    }
    config.family = args.net.family();
    config.dnssec = args.net.dnssec()?;
    config.session_timeout_ms = args.timeout.max(1) * 1000;
    config.ehlo_name = args.ehlo.clone();
    config.fixed_seed = args.run.seed.is_some();
    config.compatibility = !args.no_compatibility;
    let (anchors, note) = trust_anchors(args.ca_file.as_ref())?;
    config.trust_anchors = anchors;
    Ok((config, note))
}

/// `daneel mua`.
pub fn run(args: MuaArgs) -> i32 {
    let (config, note) = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_USAGE;
        }
    };
    if !args.run.json {
        eprintln!("daneel: {note}");
    }
    run_machine(config.into(), args.run, super::Output::Report)
}
