//! `transcript` target: replay of arbitrary transcripts (DESIGN.md section 3, issue 8), what
//! `daneel replay` does with a file.
//!
//! The first byte picks the case:
//! - `0` (and any byte not below): the rest, as text, is read as a transcript file
//!   ([`Recording::from_json_lines`]) and replayed ([`Recording::replay`]: byte for byte for
//!   the current format, re-decided for an older one). Oracle: no panic; what does not read
//!   is a [`crate::transcript::TranscriptError`], what cannot be replayed a
//!   [`crate::transcript::ReplayError`]; a transcript of the current format that reads prints
//!   back ([`Transcript::to_json_lines`]) to text that reads to the same transcript.
//! - `1`, `2`: the rest is an `smtp_check` or `mua_check` case (`smtp_check::seed`,
//!   `mua_check::seed`), run through a [`Recorder`] by the whole-check driver with a
//!   punctual clock (no input after a passed deadline before its `Timeout`, as a runtime
//!   feeds them). Oracle, on that genuine recording of a fresh run: it prints and reads back
//!   to itself; [`replay`] reproduces every output with no divergence and ends with the fresh
//!   run's report; and the same recording read as format 2 (so [`redecide`] runs, through
//!   [`Recording::from_json_lines`] as for a user's file) either stops with a typed
//!   `ReplayError` or reaches the fresh run's verdict: re-deciding never claims a verdict
//!   that the fresh run on the same inputs did not reach.
//!
//! [`replay`]: crate::transcript::replay
//! [`redecide`]: crate::transcript::redecide

use arbitrary::Unstructured;

use super::check_ops::{drive_with, FuzzOp, Pace};
use crate::machine::MachineConfig;
use crate::report::{DomainVerdict, Report};
use crate::transcript::{Recorder, Recording, Transcript};

/// Mode byte: a transcript file as text.
pub const TEXT: u8 = 0;
/// Mode byte: a recorded `smtp_check` case.
pub const SMTP: u8 = 1;
/// Mode byte: a recorded `mua_check` case.
pub const MUA: u8 = 2;

/// The input on which [`run`] reads and replays `text`.
pub fn text_seed(text: &str) -> Vec<u8> {
    [&[TEXT][..], text.as_bytes()].concat()
}

/// Runs one case.
pub fn run(data: &[u8]) {
    match data.split_first() {
        Some((&SMTP, rest)) => {
            let mut u = Unstructured::new(rest);
            let destination = u.int_in_range(0u8..=3).unwrap_or(0);
            let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
            let config = super::smtp_check::config(destination);
            recorded(config.into(), ops, &super::smtp_check::NAMES);
        }
        Some((&MUA, rest)) => {
            let mut u = Unstructured::new(rest);
            let last = (super::mua_check::SERVICE_SETS.len() - 1) as u8;
            let services = u.int_in_range(0u8..=last).unwrap_or(0);
            let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
            let config = super::mua_check::config(services);
            recorded(config.into(), ops, &super::mua_check::NAMES);
        }
        Some((_, rest)) => text(&String::from_utf8_lossy(rest)),
        None => text(""),
    }
}

/// Reads and replays a transcript file.
fn text(text: &str) {
    let Ok(recording) = Recording::from_json_lines(text) else {
        return;
    };
    if let Recording::Current(t) = &recording {
        let printed = t.to_json_lines();
        assert_eq!(
            Transcript::from_json_lines(&printed).as_ref(),
            Ok(t),
            "a transcript does not read back from its own text"
        );
    }
    // A typed error or a result; a panic fails the target.
    let _ = recording.replay();
}

/// Records a fresh run of the check `config` on `ops`, and replays and re-decides it.
fn recorded(config: MachineConfig, ops: Vec<FuzzOp>, names: &[&str]) {
    let start = super::smtp_check::START;
    let Ok(mut recorder) = Recorder::new(config, super::smtp_check::SEED, start) else {
        panic!("a valid configuration was refused");
    };
    let pace = Pace {
        on_time: true,
        ..Pace::default()
    };
    let (fresh, _) = drive_with(&mut recorder, start, ops, names, pace);
    check_recording(recorder.transcript(), &fresh);
}

/// The oracle of a genuine recording `t` of a fresh run that reported `fresh`.
pub(crate) fn check_recording(t: &Transcript, fresh: &Report) {
    let text = t.to_json_lines();
    assert_eq!(
        Transcript::from_json_lines(&text).as_ref(),
        Ok(t),
        "a recording does not read back from its own text"
    );
    let replayed = match crate::transcript::replay(t) {
        Ok(r) => r,
        Err(e) => panic!("the recording of a fresh run does not replay: {e}"),
    };
    assert_eq!(
        replayed.divergence, None,
        "replay diverged from its recording"
    );
    assert_eq!(
        replayed.report.as_deref(),
        Some(fresh),
        "replay ended with another report"
    );
    // The same recording as format 2: re-decided, as `daneel replay` does with older files.
    check_redecided(&as_format_2(&text), fresh.verdict);
}

/// The oracle of re-deciding `older` (a recording, as format 2) of a fresh run that reached
/// `fresh`: a typed error, or that verdict.
fn check_redecided(older: &str, fresh: DomainVerdict) {
    let recording = match Recording::from_json_lines(older) {
        Ok(r @ Recording::Older { .. }) => r,
        other => panic!("a format 2 recording read as {other:?}"),
    };
    if let Ok(redecided) = recording.replay() {
        let verdict = redecided.report.map(|r| r.verdict);
        assert_eq!(
            verdict,
            Some(fresh),
            "re-decided to a verdict the fresh run did not reach"
        );
        assert_eq!(redecided.divergence, None, "re-decided to another verdict");
    }
}

/// `text` (a transcript of the current format) with its header's format set to 2.
fn as_format_2(text: &str) -> String {
    let (header, events) = text.split_once('\n').unwrap_or((text, ""));
    let mut header: serde_json::Value = match serde_json::from_str(header) {
        Ok(h) => h,
        Err(e) => panic!("a transcript header that does not read: {e}"),
    };
    header["daneel_transcript"] = 2.into();
    format!("{header}\n{events}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recording of a few steps, and its fresh report.
    fn recording() -> (Transcript, Report) {
        let config = super::super::smtp_check::config(0);
        let start = super::super::smtp_check::START;
        let mut recorder = Recorder::new(config, super::super::smtp_check::SEED, start).unwrap();
        let ops = vec![FuzzOp::DnsFailed(0), FuzzOp::Timeout];
        let pace = Pace {
            on_time: true,
            ..Pace::default()
        };
        let (fresh, _) = drive_with(&mut recorder, start, ops, &[], pace);
        (recorder.transcript().clone(), *fresh)
    }

    #[test]
    fn a_genuine_recording_passes() {
        let (t, fresh) = recording();
        check_recording(&t, &fresh);
        run(&text_seed(&t.to_json_lines()));
        run(&text_seed(&as_format_2(&t.to_json_lines())));
    }

    #[test]
    #[should_panic(expected = "re-decided to a verdict the fresh run did not reach")]
    fn a_redecision_claiming_another_verdict_fails() {
        let (t, fresh) = recording();
        let other = if fresh.verdict == DomainVerdict::DaneVerified {
            DomainVerdict::NoDane
        } else {
            DomainVerdict::DaneVerified
        };
        check_redecided(&as_format_2(&t.to_json_lines()), other);
    }
}
