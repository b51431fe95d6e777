//! Re-runs a recorded check with no network (`daneel check --transcript FILE` records one):
//! a transcript of the current format replays byte for byte, every output compared with the
//! recorded one; an older one is decided again by this version from its recorded answers.
//!
//! `cargo run -p daneel-core --example replay -- FILE.jsonl`
//!
//! Prints the verdict and whether this version decides as the recording did; exits 0 when it
//! does, 1 on a divergence, 65 for a file that cannot be replayed.

use std::io::Write;

use daneel_core::transcript::{Divergence, Recording};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: replay FILE.jsonl");
        std::process::exit(64);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(65)
    });
    let recording = Recording::from_json_lines(&text).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(65)
    });
    let replay = recording.replay().unwrap_or_else(|e| {
        eprintln!("{path}: cannot replay: {e}");
        std::process::exit(65)
    });
    let verdict = replay
        .report
        .as_ref()
        .map_or("unfinished", |r| r.verdict.as_str());
    // A closed standard output (`| head -1`) is not an error of the replay.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{path}: {verdict} ({} inputs fed)", replay.inputs);
    let differs = match &replay.divergence {
        None => {
            let _ = writeln!(out, "this version decides as the recording did");
            false
        }
        Some(Divergence::Output { event, .. }) => {
            let _ = writeln!(
                out,
                "this version decides differently from event {event} on"
            );
            true
        }
        Some(other) => {
            let _ = writeln!(out, "this version decides differently: {other:?}");
            true
        }
    };
    std::process::exit(i32::from(differs));
}
