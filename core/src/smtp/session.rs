//! SMTP session (stand-in until the SMTP work merges).
use std::net::SocketAddr;
use std::time::Duration;

use super::reply::{EhloInfo, Reply, ReplyError};
use crate::machine::{Action, ConnId, Input, NetError};
use crate::time::Timestamp;
use crate::tls::{TlsFailure, TlsInfo};

/// Config.
pub struct SessionConfig {
    /// EHLO name.
    pub ehlo_name: String,
    /// TLS.
    pub tls: TlsRequirement,
    /// SNI.
    pub sni: Option<String>,
    /// Timeouts.
    pub timeouts: SmtpTimeouts,
}
/// TLS requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsRequirement {
    /// Required.
    Required,
    /// Opportunistic.
    Opportunistic,
}
/// Timeouts.
#[derive(Clone, Copy, Debug)]
pub struct SmtpTimeouts {
    /// Connect.
    pub connect: Duration,
}
impl SmtpTimeouts {
    /// RFC 5321.
    pub fn rfc5321() -> Self {
        SmtpTimeouts {
            connect: Duration::ZERO,
        }
    }
    /// Uniform.
    pub fn uniform(d: Duration) -> Self {
        SmtpTimeouts { connect: d }
    }
}
/// Stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// x
    Connect,
    /// x
    Greeting,
    /// x
    Ehlo,
    /// x
    Helo,
    /// x
    StartTls,
}
impl std::fmt::Display for Stage {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
/// Failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionFailure {
    /// x
    ConnectFailed(NetError),
    /// x
    Timeout(Stage),
    /// x
    Rejected {
        /// x
        stage: Stage,
        /// x
        reply: Reply,
    },
    /// x
    StarttlsNotOffered,
    /// x
    StarttlsRejected(Reply),
    /// x
    PlaintextInjection,
    /// x
    Tls(TlsFailure),
    /// x
    TrustRejected,
    /// x
    ClosedByPeer(Stage),
    /// x
    Protocol {
        /// x
        stage: Stage,
        /// x
        error: ReplyError,
    },
}
/// End.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// x
    Completed,
    /// x
    Failed(SessionFailure),
}
/// Outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOutcome {
    /// x
    pub greeting: Option<Reply>,
    /// x
    pub ehlo: Option<EhloInfo>,
    /// x
    pub starttls_offered: bool,
    /// x
    pub tls: Option<TlsInfo>,
    /// x
    pub end: SessionEnd,
}
/// Session.
pub struct SmtpSession;
impl SmtpSession {
    /// x
    pub fn new(_c: ConnId, _a: SocketAddr, _cfg: SessionConfig, _now: Timestamp) -> Self {
        SmtpSession
    }
    /// x
    pub fn conn(&self) -> ConnId {
        ConnId(0)
    }
    /// x
    pub fn handle_input(&mut self, _now: Timestamp, _i: &Input<'_>) {}
    /// x
    pub fn handle_timeout(&mut self, _now: Timestamp) {}
    /// x
    pub fn poll_action(&mut self) -> Option<Action> {
        None
    }
    /// x
    pub fn next_deadline(&self) -> Option<Timestamp> {
        None
    }
    /// x
    pub fn awaiting_trust(&self) -> Option<&TlsInfo> {
        None
    }
    /// x
    pub fn trust_decided(&mut self, _now: Timestamp, _ok: bool) {}
    /// x
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        None
    }
    /// x
    pub fn take_log(&mut self) -> Vec<(Timestamp, String)> {
        vec![]
    }
}
