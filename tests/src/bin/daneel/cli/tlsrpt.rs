//! RFC 8460 reports from the command line: `daneel check DOMAIN --tlsrpt` prints the report
//! of one check, `daneel tlsrpt merge FILES...` merges reports and transcripts. Times and the
//! sending address come from here, the runtime edge; the core only computes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;

use super::{say, EXIT_DATA, EXIT_USAGE};
use daneel_core::report::tlsrpt::build::{self, Reporter};
use daneel_core::report::tlsrpt::merge::{merge, Results};
use daneel_core::{Report, Timestamp};

/// The options of an RFC 8460 report.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ReporterArgs {
    /// `organization-name` of RFC 8460 reports (sec. 4.1).
    #[arg(long, default_value = "daneel")]
    organization: String,
    /// `contact-info` of RFC 8460 reports (sec. 4.1): an e-mail address or URI.
    #[arg(long, default_value = "postmaster@daneel.invalid")]
    contact: String,
}

impl ReporterArgs {
    fn reporter(&self) -> Reporter {
        Reporter {
            organization: self.organization.clone(),
            contact: self.contact.clone(),
        }
    }
}

/// `daneel tlsrpt ...`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TlsRptCommand {
    /// Merge RFC 8460 reports and transcripts of checks (`daneel check --tlsrpt`,
    /// `daneel check --transcript`) into one report per policy domain, counts added; prints
    /// them as a JSON array. Nothing is sent anywhere.
    Merge {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        reporter: ReporterArgs,
    },
}

/// The local address this host sends from to `to`: what the kernel's routing picks for a
/// UDP socket connected there (no packet is sent).
fn sending_ip(to: IpAddr) -> Option<IpAddr> {
    let any = match to {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
    socket.connect(SocketAddr::new(to, 25)).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// Prints the RFC 8460 report of a check that ended at `ended` on standard output, and the
/// human report on standard error. Returns the exit status to use if it failed.
pub(crate) fn print_check(report: &Report, args: &ReporterArgs, ended: Timestamp) -> Option<i32> {
    eprintln!("{}", super::output::human(report));
    match build::from_check(report, &args.reporter(), ended, &sending_ip) {
        Ok(rpt) => {
            say!("{}", serde_json::to_string_pretty(&rpt).unwrap_or_default());
            None
        }
        Err(e) => {
            eprintln!("daneel: {e}");
            Some(EXIT_USAGE)
        }
    }
}

/// Runs `daneel tlsrpt ...`.
pub(crate) fn run(command: TlsRptCommand) -> i32 {
    let TlsRptCommand::Merge { files, reporter } = command;
    let mut inputs = Vec::new();
    for file in &files {
        let read = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| Results::read(&text).map_err(|e| e.to_string()));
        match read {
            Ok(r) => inputs.extend(r),
            Err(e) => {
                eprintln!("daneel: {}: {e}", file.display());
                return EXIT_DATA;
            }
        }
    }
    let reports = match merge(&inputs, &reporter.reporter()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daneel: {e}");
            return EXIT_DATA;
        }
    };
    say!(
        "{}",
        serde_json::to_string_pretty(&reports).unwrap_or_default()
    );
    0
}
