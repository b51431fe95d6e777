//! Byte-for-byte replay of a transcript of the current format, and what any replay returns.

use std::fmt;
use std::net::SocketAddr;

use super::redecide::DnsQuestion;
use super::{Event, Recording, Transcript};
use crate::machine::{Machine, Output, QueryId, Transport, UsageError};
use crate::report::{DomainVerdict, Report};
use crate::time::Timestamp;

/// Where a replay decided differently from the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Byte for byte: the first output that differs.
    Output {
        /// Index of the event (0-based, after the header) whose output differs.
        event: usize,
        /// What the recording says.
        recorded: Box<Output>,
        /// What this version produced.
        replayed: Box<Output>,
    },
    /// Re-decided: this version reached another verdict than the recorded report.
    Verdict {
        /// The recorded report's verdict.
        recorded: DomainVerdict,
        /// This version's.
        replayed: DomainVerdict,
    },
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

/// Why a replay could not run to its end. Never a guess: when the recording lacks what this
/// version asks for, the replay stops with one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The machine refused the configuration or a recorded input.
    Usage(UsageError),
    /// Re-deciding: this version sent a DNS query whose message cannot be parsed, so it
    /// cannot be matched by question.
    UnparsableQuery {
        /// The new query.
        query: QueryId,
    },
    /// Re-deciding: this version asked a question of a resolver (over a transport) more
    /// often than the recording did.
    MissingDnsExchange {
        /// The resolver.
        server: SocketAddr,
        /// UDP or TCP.
        transport: Transport,
        /// The question.
        question: DnsQuestion,
    },
    /// Re-deciding: this version opened more connections to an address than the recording.
    MissingConnection {
        /// The address and port.
        addr: SocketAddr,
        /// How many connections to it the recording holds.
        recorded: usize,
    },
    /// Re-deciding: this version waits for a DNS answer longer than the recorded machine
    /// waited for it, after the last message recorded for it.
    DnsExchangeEnds {
        /// The resolver.
        server: SocketAddr,
        /// The question.
        question: DnsQuestion,
        /// When the recorded machine ended the exchange (or the recording ended).
        listened_until: Timestamp,
        /// The deadline this version waits for.
        waits_until: Timestamp,
    },
    /// Re-deciding: this version waits on a connection longer than the recorded machine
    /// listened to it, after the last bytes recorded on it.
    ConnectionEnds {
        /// The connection's address and port.
        addr: SocketAddr,
        /// When the recorded machine closed it (or the recording ended).
        listened_until: Timestamp,
        /// The deadline this version waits for.
        waits_until: Timestamp,
    },
    /// Re-deciding: the machine neither finished nor stopped wanting inputs within
    /// [`super::MAX_REDECIDE_STEPS`] steps.
    TooManySteps,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Usage(e) => write!(f, "{e}"),
            ReplayError::UnparsableQuery { query } => {
                write!(f, "this version's DNS query {query} cannot be parsed")
            }
            ReplayError::MissingDnsExchange {
                server,
                transport,
                question,
            } => write!(
                f,
                "the transcript holds no (more) answer to {question} from {server} over {}",
                match transport {
                    Transport::Udp => "UDP",
                    Transport::Tcp => "TCP",
                }
            ),
            ReplayError::MissingConnection { addr, recorded } => write!(
                f,
                "the transcript holds {recorded} connection(s) to {addr}; this version opens more"
            ),
            ReplayError::DnsExchangeEnds {
                server,
                question,
                listened_until,
                waits_until,
            } => write!(
                f,
                "the transcript holds nothing more for {question} from {server}; this version waits {} ms longer for it than the recording did",
                waits_until.saturating_since(*listened_until).as_millis()
            ),
            ReplayError::ConnectionEnds {
                addr,
                listened_until,
                waits_until,
            } => write!(
                f,
                "the transcript holds nothing more on the connection to {addr}; this version waits {} ms longer on it than the recording listened",
                waits_until.saturating_since(*listened_until).as_millis()
            ),
            ReplayError::TooManySteps => f.write_str("the replay did not finish"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<UsageError> for ReplayError {
    fn from(e: UsageError) -> Self {
        ReplayError::Usage(e)
    }
}

/// Re-runs the core on a transcript of the current format with no network: feeds the
/// recorded inputs at their recorded times and compares every output with the recorded one.
pub fn replay(transcript: &Transcript) -> Result<Replay, ReplayError> {
    let h = &transcript.header;
    let mut machine = h.config.start(h.seed, h.start)?;
    let mut divergence = None;
    let mut report = None;
    let mut inputs = 0;
    for (i, event) in transcript.events.iter().enumerate() {
        match event {
            Event::Input { at, input } => {
                inputs += 1;
                machine.handle_input(*at, input.as_input())?;
            }
            Event::Output { at, output } => {
                let got = machine.poll_output(*at);
                if let Output::Done(r) = &got {
                    report = Some(r.clone());
                }
                if &got != output {
                    // Past the first difference the recorded inputs answer questions this
                    // version did not ask: stop here.
                    divergence = Some(Divergence::Output {
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
        if let Output::Done(r) = machine.poll_output(h.start) {
            report = Some(r);
        }
    }
    Ok(Replay {
        report,
        divergence,
        inputs,
    })
}

impl Recording {
    /// Replays the current format byte for byte, and re-decides an older one.
    pub fn replay(&self) -> Result<Replay, ReplayError> {
        match self {
            Recording::Current(t) => replay(t),
            Recording::Older {
                transcript,
                recorded_verdict,
            } => super::redecide(transcript, *recorded_verdict),
        }
    }
}
