//! Record and replay (DESIGN.md section 3): a check is fully determined by its configuration,
//! its seed, its start time and its timestamped inputs, so a transcript of those (plus the
//! outputs, to compare) reproduces it with no network. A user's bug report becomes a test.
//!
//! The file is JSON lines: a [`TranscriptHeader`] line, then one [`Event`] per line. DNS
//! answers are wire bytes (hex), server bytes are plaintext (hex), TLS events carry the DER
//! chain; never ciphertext.

use serde::{Deserialize, Serialize};

use crate::check::{CheckConfig, SmtpCheck};
use crate::machine::{Action, Input, Machine, Output, OwnedInput, UsageError};
use crate::report::Report;
use crate::seed::Seed;
use crate::time::Timestamp;

/// The format version written by this code.
pub const TRANSCRIPT_VERSION: u32 = 1;

/// The first line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptHeader {
    /// Always [`TRANSCRIPT_VERSION`] when written by this version.
    pub daneel_transcript: u32,
    /// The version of daneel that recorded it.
    pub recorded_by: String,
    /// The check's configuration.
    pub config: CheckConfig,
    /// The seed.
    pub seed: Seed,
    /// The time the check was created.
    pub start: Timestamp,
}

/// An output as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "output")]
pub enum RecordedOutput {
    /// [`Output::Action`].
    Action {
        /// The action.
        action: Action,
    },
    /// [`Output::Timeout`].
    Timeout {
        /// The deadline.
        deadline: Timestamp,
    },
    /// [`Output::Done`].
    Done {
        /// The report.
        report: Box<Report>,
    },
}

impl RecordedOutput {
    /// The recorded form of an output.
    pub fn from_output(output: &Output) -> Self {
        match output {
            Output::Action(action) => RecordedOutput::Action {
                action: action.clone(),
            },
            Output::Timeout(deadline) => RecordedOutput::Timeout {
                deadline: *deadline,
            },
            Output::Done(report) => RecordedOutput::Done {
                report: report.clone(),
            },
        }
    }
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
        output: RecordedOutput,
    },
}

/// A whole transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// The header.
    pub header: TranscriptHeader,
    /// The events in order.
    pub events: Vec<Event>,
}

/// Why a transcript could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub detail: String,
}

impl std::fmt::Display for TranscriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "transcript line {}: {}", self.line, self.detail)
    }
}

impl std::error::Error for TranscriptError {}

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

    /// Parses JSON lines (blank lines are ignored).
    pub fn from_json_lines(text: &str) -> Result<Self, TranscriptError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (i, first) = lines.next().ok_or(TranscriptError {
            line: 1,
            detail: "empty transcript".into(),
        })?;
        let header: TranscriptHeader =
            serde_json::from_str(first).map_err(|e| TranscriptError {
                line: i + 1,
                detail: format!("not a daneel transcript header: {e}"),
            })?;
        if header.daneel_transcript != TRANSCRIPT_VERSION {
            return Err(TranscriptError {
                line: i + 1,
                detail: format!(
                    "unsupported transcript version {}",
                    header.daneel_transcript
                ),
            });
        }
        let events = lines
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| TranscriptError {
                    line: i + 1,
                    detail: e.to_string(),
                })
            })
            .collect::<Result<Vec<Event>, _>>()?;
        Ok(Transcript { header, events })
    }
}

/// A [`Machine`] wrapper that records every input and output of an [`SmtpCheck`].
pub struct Recorder {
    check: SmtpCheck,
    transcript: Transcript,
}

impl Recorder {
    /// Creates the check and starts recording.
    pub fn new(config: CheckConfig, seed: Seed, now: Timestamp) -> Result<Self, UsageError> {
        let check = SmtpCheck::new(config.clone(), seed, now)?;
        Ok(Recorder {
            check,
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
        self.check.handle_input(now, input)
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        let output = self.check.poll_output(now);
        // A Done repeats; record it once.
        let repeat = matches!(output, Output::Done(_))
            && matches!(
                self.transcript.events.last(),
                Some(Event::Output {
                    output: RecordedOutput::Done { .. },
                    ..
                })
            );
        if !repeat {
            self.transcript.events.push(Event::Output {
                at: now,
                output: RecordedOutput::from_output(&output),
            });
        }
        output
    }
}

/// Where a replay first decided differently from the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the event (0-based, after the header) whose output differs.
    pub event: usize,
    /// What the recording says.
    pub recorded: Box<RecordedOutput>,
    /// What this version produced.
    pub replayed: Box<RecordedOutput>,
}

/// The result of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The report this version produced, if it finished.
    pub report: Option<Box<Report>>,
    /// The first difference from the recording, if any.
    pub divergence: Option<Divergence>,
    /// Number of inputs fed.
    pub inputs: usize,
}

/// Re-runs the core on a transcript with no network: feeds the recorded inputs at their
/// recorded times and compares every output with the recorded one.
pub fn replay(transcript: &Transcript) -> Result<Replay, UsageError> {
    let h = &transcript.header;
    let mut check = SmtpCheck::new(h.config.clone(), h.seed, h.start)?;
    let mut divergence = None;
    let mut report = None;
    let mut inputs = 0;
    for (i, event) in transcript.events.iter().enumerate() {
        match event {
            Event::Input { at, input } => {
                inputs += 1;
                check.handle_input(*at, input.as_input())?;
            }
            Event::Output { at, output } => {
                let got = check.poll_output(*at);
                if let Output::Done(r) = &got {
                    report = Some(r.clone());
                }
                let got = RecordedOutput::from_output(&got);
                if &got != output {
                    // Past the first difference the recorded inputs answer questions this
                    // version did not ask: stop here.
                    divergence = Some(Divergence {
                        event: i,
                        recorded: Box::new(output.clone()),
                        replayed: Box::new(got),
                    });
                    break;
                }
            }
        }
    }
    if report.is_none() {
        if let Output::Done(r) = check.poll_output(h.start) {
            report = Some(r);
        }
    }
    Ok(Replay {
        report,
        divergence,
        inputs,
    })
}
