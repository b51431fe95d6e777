//! The lookup client (stub: filled in by the DNS work).
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use super::{Answer, LookupError};
use crate::machine::{Action, NetError, QueryId, UsageError};
use crate::seed::DetRng;
use crate::time::Timestamp;

/// Resolver settings.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// The resolvers, tried in order.
    pub servers: Vec<SocketAddr>,
    /// Time to wait for one attempt before the next.
    pub attempt_timeout: Duration,
    /// Attempts per lookup over all servers.
    pub attempts: u8,
    /// EDNS0 payload size advertised.
    pub payload: u16,
}

/// One lookup (possibly several exchanges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupId(pub u32);

/// The outcome of a lookup.
pub type LookupResult = Result<Answer, LookupError>;

/// The DNS client state machine.
pub struct DnsClient {
    _rng: DetRng,
}

impl DnsClient {
    /// A client.
    pub fn new(_config: DnsConfig, rng: DetRng) -> Self {
        DnsClient { _rng: rng }
    }
    /// Starts a lookup.
    pub fn lookup(&mut self, _now: Timestamp, _name: &Name, _rtype: RecordType) -> LookupId {
        unimplemented!()
    }
    /// Feeds an answer.
    pub fn handle_answer(
        &mut self,
        _now: Timestamp,
        _query: QueryId,
        _wire: &[u8],
    ) -> Result<(), UsageError> {
        unimplemented!()
    }
    /// Feeds a transport failure.
    pub fn handle_failed(
        &mut self,
        _now: Timestamp,
        _query: QueryId,
        _error: &NetError,
    ) -> Result<(), UsageError> {
        unimplemented!()
    }
    /// Advances timers.
    pub fn handle_timeout(&mut self, _now: Timestamp) {
        unimplemented!()
    }
    /// Next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        unimplemented!()
    }
    /// Next finished lookup.
    pub fn poll_result(&mut self) -> Option<(LookupId, LookupResult)> {
        unimplemented!()
    }
    /// Next deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        unimplemented!()
    }
}
