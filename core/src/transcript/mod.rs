//! Record and replay (DESIGN.md section 3): a check is fully determined by its configuration,
//! its seed, its start time and its timestamped inputs, so a transcript of those (plus the
//! outputs, to compare) reproduces it with no network. A user's bug report becomes a test.
//!
//! The file is JSON lines: a [`TranscriptHeader`] line, then one [`Event`] per line. DNS
//! answers are wire bytes (hex), server bytes are plaintext (hex), TLS events carry the DER
//! chain; never ciphertext.
//!
//! Formats: 3 (written now) carries typed reasons and warnings in the final report, and typed
//! errors in the inputs (`NetError`, `TlsFailure`); 2 tagged the header's configuration with
//! the check's kind ([`MachineConfig`]) and the final report with its `kind`, but its reasons
//! and warnings were prose; 1 (daneel 0.1.0 until issue 8) held an SMTP
//! [`crate::check::CheckConfig`] untagged. A transcript of the current format replays byte for
//! byte ([`replay`]); an older one is decided again ([`redecide`]), its recorded report read
//! for the verdict only.
//!
//! Issue 11 added two optional fields to format 3 rather than a format: the SMTP
//! configuration's `lookup_tlsrpt` and the report's `tlsrpt` (the `_smtp._tls` TXT lookup,
//! RFC 8460 sec. 3). A transcript without them (every older one, of any format) reads as a
//! check that did not look the record up, so its machine asks exactly what the recorded one
//! asked and still replays byte for byte (or is decided again, for formats 1 and 2); its
//! report says nothing of the record ("not looked up").

mod read;
mod redecide;
mod replay;

use serde::{Deserialize, Serialize};

use crate::machine::{Input, Machine, MachineConfig, Output, OwnedInput, UsageError};
use crate::seed::Seed;
use crate::time::Timestamp;

pub use read::{Recording, TranscriptError};
pub use redecide::{redecide, DnsQuestion, MAX_REDECIDE_STEPS};
pub use replay::{replay, Divergence, Replay, ReplayError};

/// The format version written by this code.
pub const TRANSCRIPT_VERSION: u32 = 3;

/// The oldest format this code still reads (and re-decides).
pub const OLDEST_TRANSCRIPT_VERSION: u32 = 1;

/// The first line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptHeader {
    /// The format: [`TRANSCRIPT_VERSION`] when written by this version; an older one for a
    /// [`Recording::Older`] read from a file.
    pub daneel_transcript: u32,
    /// The version of daneel that recorded it.
    pub recorded_by: String,
    /// The check and its configuration.
    pub config: MachineConfig,
    /// The seed.
    pub seed: Seed,
    /// The time the check was created.
    pub start: Timestamp,
}

/// One line after the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// `handle_input(at, input)` was called.
    Input {
        /// `now` of the call.
        at: Timestamp,
        /// The input.
        #[serde(flatten)]
        input: OwnedInput,
    },
    /// `poll_output(at)` returned this.
    Output {
        /// `now` of the call.
        at: Timestamp,
        /// What it returned.
        #[serde(flatten)]
        output: Output,
    },
}

impl Event {
    /// `now` of the call.
    pub fn at(&self) -> Timestamp {
        match self {
            Event::Input { at, .. } | Event::Output { at, .. } => *at,
        }
    }
}

/// A whole transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// The header.
    pub header: TranscriptHeader,
    /// The events in order.
    pub events: Vec<Event>,
}

impl Transcript {
    /// Serializes as JSON lines.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        out.push_str(&serde_json::to_string(&self.header).unwrap_or_default());
        out.push('\n');
        for event in &self.events {
            out.push_str(&serde_json::to_string(event).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// The verdict of the recorded final report, if the transcript holds one.
    pub fn recorded_verdict(&self) -> Option<crate::report::DomainVerdict> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Output {
                output: Output::Done(report),
                ..
            } => Some(report.verdict),
            _ => None,
        })
    }
}

/// A [`Machine`] wrapper that records every input and output of any check.
pub struct Recorder {
    machine: Box<dyn Machine + Send>,
    transcript: Transcript,
}

impl Recorder {
    /// Creates the check `config` describes and starts recording.
    pub fn new(
        config: impl Into<MachineConfig>,
        seed: Seed,
        now: Timestamp,
    ) -> Result<Self, UsageError> {
        let config = config.into();
        let machine = config.start(seed, now)?;
        Ok(Recorder {
            machine,
            transcript: Transcript {
                header: TranscriptHeader {
                    daneel_transcript: TRANSCRIPT_VERSION,
                    recorded_by: format!("daneel {}", env!("CARGO_PKG_VERSION")),
                    config,
                    seed,
                    start: now,
                },
                events: Vec::new(),
            },
        })
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }
}

impl Machine for Recorder {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        self.transcript.events.push(Event::Input {
            at: now,
            input: input.to_owned_input(),
        });
        self.machine.handle_input(now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        let output = self.machine.poll_output(now);
        // A Done repeats; record it once.
        let repeat = matches!(output, Output::Done(_))
            && matches!(
                self.transcript.events.last(),
                Some(Event::Output {
                    output: Output::Done(_),
                    ..
                })
            );
        if !repeat {
            self.transcript.events.push(Event::Output {
                at: now,
                output: output.clone(),
            });
        }
        output
    }
}
