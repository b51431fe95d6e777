//! Reading a transcript file of the current format or of an older one.

use serde::Deserialize;

use super::{Event, Transcript, TranscriptHeader, OLDEST_TRANSCRIPT_VERSION, TRANSCRIPT_VERSION};
use crate::check::CheckConfig;
use crate::machine::MachineConfig;
use crate::report::DomainVerdict;
use crate::seed::Seed;
use crate::time::Timestamp;

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

/// A transcript as read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recording {
    /// The current format: replays byte for byte ([`super::replay`]).
    Current(Transcript),
    /// An older format, to decide again ([`super::redecide`]). Its header keeps the old
    /// format number; its events are the recorded inputs, actions and timeouts, without the
    /// final report, whose shape belongs to the old version. It is read only: written back
    /// with [`Transcript::to_json_lines`] it would not be a file of either format.
    Older {
        /// The header (configuration converted to a [`MachineConfig`]) and the events.
        transcript: Transcript,
        /// The verdict of the recorded report, if the file still holds it.
        recorded_verdict: Option<DomainVerdict>,
    },
}

/// The header of format 1: an SMTP check's configuration, untagged.
#[derive(Deserialize)]
struct HeaderV1 {
    daneel_transcript: u32,
    recorded_by: String,
    config: CheckConfig,
    seed: Seed,
    start: Timestamp,
}

/// Just the format number of a header line.
#[derive(Deserialize)]
struct Format {
    daneel_transcript: u32,
}

/// The non-blank lines with their 1-based numbers.
fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn parse<'a, T: Deserialize<'a>>(line: usize, text: &'a str) -> Result<T, TranscriptError> {
    serde_json::from_str(text).map_err(|e| TranscriptError {
        line,
        detail: e.to_string(),
    })
}

impl Recording {
    /// Parses JSON lines of any readable format (blank lines are ignored).
    pub fn from_json_lines(text: &str) -> Result<Self, TranscriptError> {
        let mut lines = numbered(text);
        let (n, first) = lines.next().ok_or(TranscriptError {
            line: 1,
            detail: "empty transcript".into(),
        })?;
        let format: Format = serde_json::from_str(first).map_err(|e| TranscriptError {
            line: n,
            detail: format!("not a daneel transcript header: {e}"),
        })?;
        match format.daneel_transcript {
            TRANSCRIPT_VERSION => {
                let header = parse(n, first)?;
                let events = lines
                    .map(|(n, l)| parse(n, l))
                    .collect::<Result<_, _>>()?;
                Ok(Recording::Current(Transcript { header, events }))
            }
            1 => {
                let v1: HeaderV1 = parse(n, first)?;
                let header = TranscriptHeader {
                    daneel_transcript: v1.daneel_transcript,
                    recorded_by: v1.recorded_by,
                    config: MachineConfig::Smtp(v1.config),
                    seed: v1.seed,
                    start: v1.start,
                };
                read_older(header, lines)
            }
            2 => read_older(parse(n, first)?, lines),
            v => Err(TranscriptError {
                line: n,
                detail: format!(
                    "unsupported transcript format {v} (this version reads {OLDEST_TRANSCRIPT_VERSION} to {TRANSCRIPT_VERSION})"
                ),
            }),
        }
    }
}

/// The events of an older format (1: an SMTP configuration, untagged; 2: the current
/// header): a `done` output's report, whose reasons and warnings were prose, is read for its
/// verdict only. Inputs of those formats read as today's (`NetError` and `TlsFailure` still
/// read their older forms).
fn read_older<'a>(
    header: TranscriptHeader,
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Result<Recording, TranscriptError> {
    let mut events = Vec::new();
    let mut recorded_verdict = None;
    for (n, line) in lines {
        let value: serde_json::Value = parse(n, line)?;
        if value["event"] == "output" && value["output"] == "done" {
            let verdict = DomainVerdict::deserialize(&value["report"]["verdict"]).map_err(|e| {
                TranscriptError {
                    line: n,
                    detail: format!("the recorded report's verdict: {e}"),
                }
            })?;
            recorded_verdict = Some(verdict);
            continue;
        }
        events.push(Event::deserialize(value).map_err(|e| TranscriptError {
            line: n,
            detail: e.to_string(),
        })?);
    }
    Ok(Recording::Older {
        transcript: Transcript { header, events },
        recorded_verdict,
    })
}

impl Transcript {
    /// Parses JSON lines of the current format (blank lines are ignored). An older format is
    /// an error here; read it with [`Recording::from_json_lines`].
    pub fn from_json_lines(text: &str) -> Result<Self, TranscriptError> {
        match Recording::from_json_lines(text)? {
            Recording::Current(t) => Ok(t),
            Recording::Older { transcript, .. } => Err(TranscriptError {
                line: 1,
                detail: format!(
                    "transcript format {} is not the current one ({TRANSCRIPT_VERSION}): it can only be re-decided",
                    transcript.header.daneel_transcript
                ),
            }),
        }
    }
}
