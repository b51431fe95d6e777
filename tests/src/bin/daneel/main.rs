//! `daneel`: DANE for email, from the command line (DESIGN.md section 6).
//!
//! Exit statuses, one per verdict so scripts need no JSON: 0 dane-verified, 1 dane-failed,
//! 3 temp-fail, 4 inconclusive, 5 dane-partial, 6 dane-trusted, 7 no-dane, 8 null-mx,
//! 9 nxdomain, 10 unavailable (mua), 64 usage error, 65 unreadable or diverging transcript,
//! 70 internal error, 141 standard output closed (a broken pipe).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
