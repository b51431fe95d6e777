//! The lookup client: one sans-IO state machine running any number of lookups at once, with
//! per-attempt timeouts and exponential backoff, resolver failover, and TCP fallback on
//! truncation (RFC 1035 sec. 4.2.1, RFC 7766 sec. 5, RFC 5452 sec. 9.1).
//!
//! Trust boundary (RFC 5452 sec. 9.1, RFC 7672 sec. 2.1.1): a datagram counts only if it came
//! from the address and port the query went to (the runtime reports the source; transcripts
//! recorded without one are taken as from the queried server), carries the query's id and
//! question, and arrives while that exchange is open. A SERVFAIL whose Extended DNS Error names
//! a DNSSEC failure is final: it is never retried nor asked elsewhere, so no other resolver can
//! turn bogus data into an answer. The servers of later attempts can be narrowed with
//! [`DnsClient::set_servers`] (to the resolvers that passed the validation probe), and a lookup
//! can be pinned to one server with [`DnsClient::lookup_at`] (the probe itself).
//!
//! The client emits [`Action::SendDns`] (the bare DNS message; for [`Transport::Tcp`] the
//! runtime adds the length prefix with [`super::tcp_frame`]) and takes the answers back with
//! [`DnsClient::handle_answer`] (without the prefix). It owns every DNS timeout: the caller
//! asks [`DnsClient::next_deadline`] and calls [`DnsClient::handle_timeout`] when it passes.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use super::answer::{check_response, Checked, Expected};
use super::query::{build_query_cd, DEFAULT_PAYLOAD};
use super::{Answer, LookupError, Malformed, Mismatch};
use crate::machine::{Action, NetError, QueryId, Transport, UsageError};
use crate::seed::DetRng;
use crate::time::Timestamp;

/// The default time one attempt waits before the next (glibc's `RES_TIMEOUT`, 5 s, is longer;
/// 3 s suits a nearby validating resolver).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The default number of attempts per lookup, over all servers.
pub const DEFAULT_ATTEMPTS: u8 = 4;

/// The backoff doubles at most this many times (so one attempt waits at most
/// `attempt_timeout * 2^MAX_BACKOFF_DOUBLINGS`).
pub const MAX_BACKOFF_DOUBLINGS: u32 = 6;

/// The default bound on open exchanges: with one socket each, a check of an MX RRset of
/// 1,000 hosts stays far below the usual 1,024 open files (issue 7), and 64 answers in
/// flight keep a nearby resolver busy.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Resolver settings.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// The resolvers, tried in order.
    pub servers: Vec<SocketAddr>,
    /// Time to wait for one attempt before the next.
    pub attempt_timeout: Duration,
    /// Attempts per lookup over all servers (0 counts as 1).
    pub attempts: u8,
    /// EDNS0 payload size advertised.
    pub payload: u16,
    /// At most this many exchanges are open at once (each holds a socket in the runtime);
    /// later lookups wait in order and start as earlier ones end (0 counts as 1).
    pub max_in_flight: usize,
    /// Ask with CD=1: the resolver returns the data unvalidated, for the in-core validator
    /// (RFC 4035 sec. 3.2.2). Lookups already started keep the bit they were started with.
    pub checking_disabled: bool,
}

impl DnsConfig {
    /// Settings for `servers` with the defaults: [`DEFAULT_ATTEMPT_TIMEOUT`],
    /// [`DEFAULT_ATTEMPTS`] and an EDNS0 payload of [`DEFAULT_PAYLOAD`] (RFC 6891 sec. 6.2.5).
    pub fn new(servers: Vec<SocketAddr>) -> Self {
        DnsConfig {
            servers,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            payload: DEFAULT_PAYLOAD,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            checking_disabled: false,
        }
    }

    /// How long attempt number `attempt` (0-based) waits: `attempt_timeout` doubled once per
    /// full round over the servers (as glibc's resolver does, `res_send.c`), at most
    /// [`MAX_BACKOFF_DOUBLINGS`] times.
    pub fn attempt_wait(&self, attempt: u32) -> Duration {
        self.attempt_wait_over(attempt, self.servers.len())
    }

    /// [`DnsConfig::attempt_wait`] for a lookup that rotates over `servers` servers.
    fn attempt_wait_over(&self, attempt: u32, servers: usize) -> Duration {
        let servers = u32::try_from(servers).unwrap_or(u32::MAX).max(1);
        let round = (attempt / servers).min(MAX_BACKOFF_DOUBLINGS);
        self.attempt_timeout.saturating_mul(1u32 << round)
    }
}

/// One lookup (possibly several exchanges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupId(pub u32);

/// The outcome of a lookup.
pub type LookupResult = Result<Answer, LookupError>;

/// A datagram the client refused to read as an answer (RFC 5452 sec. 9.1), for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredDatagram {
    /// The exchange it claimed to answer.
    pub query: QueryId,
    /// The server the query went to.
    pub server: SocketAddr,
    /// Where the datagram came from, when the runtime said.
    pub from: Option<SocketAddr>,
    /// Why it was ignored.
    pub why: Mismatch,
}

/// Whether `from` is the address and port `server` was queried at (an IPv4-mapped IPv6
/// source counts as its IPv4 address).
pub fn same_endpoint(server: SocketAddr, from: SocketAddr) -> bool {
    server.port() == from.port() && server.ip().to_canonical() == from.ip().to_canonical()
}

/// A lookup in flight.
struct Lookup {
    qname: Name,
    qtype: RecordType,
    /// The one server this lookup may ask (the validation probe), or `None` for the
    /// client's current server list.
    pinned: Option<SocketAddr>,
    /// Its own attempt budget (0: the configured one).
    budget: u8,
    /// Attempts started (a TCP retry after TC=1 is part of its UDP attempt).
    attempts_used: u32,
    /// The exchange being waited for.
    current: QueryId,
    msg_id: u16,
    server: SocketAddr,
    transport: Transport,
    deadline: Timestamp,
    /// The last definite error a server gave (SERVFAIL, REFUSED, malformed over TCP...).
    last_error: Option<LookupError>,
    /// An unparsable datagram seen while waiting (may have been spoofed).
    garbage: Option<LookupError>,
    /// CD=1 on its queries (the client's setting when it started).
    checking_disabled: bool,
}

/// The DNS client state machine (sans-IO; see the module documentation).
///
/// Lookups are independent and all in flight at once. Each makes at most `attempts` UDP
/// attempts, round robin over the servers starting at `servers[0]`; SERVFAIL, REFUSED and
/// other error rcodes move on to the next server at once, a timeout after
/// [`DnsConfig::attempt_wait`]. A truncated UDP answer is retried over TCP to the same
/// server without using an attempt. Results come out in completion order.
pub struct DnsClient {
    config: DnsConfig,
    rng: DetRng,
    next_query: u32,
    next_lookup: u32,
    lookups: BTreeMap<LookupId, Lookup>,
    /// Lookups started but waiting for an exchange slot, in order.
    waiting: VecDeque<LookupId>,
    exchanges: BTreeMap<QueryId, LookupId>,
    actions: VecDeque<Action>,
    results: VecDeque<(LookupId, LookupResult)>,
    ignored: VecDeque<IgnoredDatagram>,
}

impl DnsClient {
    /// A client with these settings, drawing DNS message ids (RFC 5452 sec. 9.2) from `rng`.
    pub fn new(config: DnsConfig, rng: DetRng) -> Self {
        DnsClient {
            config,
            rng,
            next_query: 0,
            next_lookup: 0,
            lookups: BTreeMap::new(),
            waiting: VecDeque::new(),
            exchanges: BTreeMap::new(),
            actions: VecDeque::new(),
            results: VecDeque::new(),
            ignored: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// Starts a lookup of `name` (made fully qualified: search domains are never applied,
    /// SPEC-NOTES S76) and `rtype`, class IN. Its first query is queued as an action; with no
    /// servers configured the lookup fails at once with [`LookupError::NoServers`].
    pub fn lookup(&mut self, now: Timestamp, name: &Name, rtype: RecordType) -> LookupId {
        self.start(now, name, rtype, None, 0)
    }

    /// Starts a lookup that asks `server` alone, with at most `attempts` attempts (0: the
    /// configured number). For probing one resolver (DESIGN.md section 4).
    pub fn lookup_at(
        &mut self,
        now: Timestamp,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        attempts: u8,
    ) -> LookupId {
        self.start(now, name, rtype, Some(server), attempts)
    }

    /// Replaces the servers that later attempts of unpinned lookups rotate over (an exchange
    /// already sent is still waited for). With an empty list, lookups fail at their next
    /// attempt with [`LookupError::NoServers`].
    pub fn set_servers(&mut self, servers: Vec<SocketAddr>) {
        self.config.servers = servers;
    }

    /// Sets the CD bit of the lookups started from now on (RFC 4035 sec. 3.2.2): CD=1 once
    /// the check validates in the core.
    pub fn set_checking_disabled(&mut self, checking_disabled: bool) {
        self.config.checking_disabled = checking_disabled;
    }

    fn start(
        &mut self,
        now: Timestamp,
        name: &Name,
        rtype: RecordType,
        pinned: Option<SocketAddr>,
        budget: u8,
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup = self.next_lookup.wrapping_add(1);
        if pinned.is_none() && self.config.servers.is_empty() {
            self.results.push_back((id, Err(LookupError::NoServers)));
            return id;
        }
        let mut qname = name.clone();
        qname.set_fqdn(true);
        let lookup = Lookup {
            qname,
            qtype: rtype,
            pinned,
            budget,
            attempts_used: 0,
            current: QueryId(u32::MAX),
            msg_id: 0,
            server: pinned.unwrap_or(self.config.servers[0]),
            transport: Transport::Udp,
            deadline: now,
            last_error: None,
            garbage: None,
            checking_disabled: self.config.checking_disabled,
        };
        self.lookups.insert(id, lookup);
        self.waiting.push_back(id);
        self.start_waiting(now);
        id
    }

    /// Whether this client issued `query` (so a composite machine can route inputs).
    pub fn owns(&self, query: QueryId) -> bool {
        query.0 < self.next_query
    }

    /// The number of lookups still in flight.
    pub fn in_flight(&self) -> usize {
        self.lookups.len()
    }

    /// Stops a lookup without a result; later answers to it are ignored.
    pub fn abandon(&mut self, now: Timestamp, lookup: LookupId) {
        if let Some(l) = self.lookups.remove(&lookup) {
            self.waiting.retain(|w| *w != lookup);
            self.end_exchange(l.current);
            self.start_waiting(now);
        }
    }

    /// Stops every lookup without a result (the machine is finishing): waiting lookups are
    /// dropped unsent, and every open exchange ends with [`Action::EndDns`].
    pub fn abandon_all(&mut self) {
        self.waiting.clear();
        let open: Vec<QueryId> = self.exchanges.keys().copied().collect();
        for query in open {
            self.end_exchange(query);
        }
        self.lookups.clear();
    }

    /// Ends exchange `query` if it is open: its socket can go ([`Action::EndDns`]), and a
    /// waiting lookup may take its slot.
    fn end_exchange(&mut self, query: QueryId) {
        if self.exchanges.remove(&query).is_some() {
            self.actions.push_back(Action::EndDns { query });
        }
    }

    /// Finishes lookup `id` with `result`.
    fn finish(&mut self, id: LookupId, result: LookupResult) {
        self.lookups.remove(&id);
        self.results.push_back((id, result));
    }

    /// Starts waiting lookups, in order, while exchange slots are free. Every entry point
    /// that can end an exchange calls this last.
    fn start_waiting(&mut self, now: Timestamp) {
        while self.exchanges.len() < self.config.max_in_flight.max(1) {
            let Some(id) = self.waiting.pop_front() else {
                return;
            };
            self.next_attempt(now, id);
        }
    }

    /// Feeds a DNS message received for `query` (without any TCP length prefix) from `from`
    /// (`None`: unknown, taken as the queried server, as in transcripts recorded before the
    /// source was kept).
    ///
    /// `Err(UsageError::UnknownQuery)` only if this client never issued `query`. Messages for
    /// finished or abandoned exchanges are ignored. A message from any other address or port
    /// than the queried server's is ignored (RFC 5452 sec. 9.1), over UDP and TCP. Over UDP,
    /// a message that does not match the query (id, QR, opcode, question) is ignored and one
    /// that does not parse is remembered; both keep the exchange waiting, as they may be
    /// spoofed. Over TCP either ends the attempt as malformed. Ignored datagrams are kept
    /// for the log ([`DnsClient::poll_ignored`]).
    pub fn handle_answer(
        &mut self,
        now: Timestamp,
        query: QueryId,
        from: Option<SocketAddr>,
        wire: &[u8],
    ) -> Result<(), UsageError> {
        if !self.owns(query) {
            return Err(UsageError::UnknownQuery(query));
        }
        let Some(&lookup_id) = self.exchanges.get(&query) else {
            return Ok(());
        };
        if !self.lookups.contains_key(&lookup_id) {
            self.end_exchange(query);
            return Ok(());
        }
        let Some(l) = self.lookups.get_mut(&lookup_id) else {
            return Ok(());
        };
        if let Some(source) = from {
            if !same_endpoint(l.server, source) {
                self.ignored.push_back(IgnoredDatagram {
                    query,
                    server: l.server,
                    from,
                    why: Mismatch::Source,
                });
                return Ok(());
            }
        }
        let expected = Expected {
            id: l.msg_id,
            qname: l.qname.clone(),
            qtype: l.qtype,
            checking_disabled: l.checking_disabled,
        };
        let tcp = l.transport == Transport::Tcp;
        let server = l.server;
        match check_response(&expected, wire, now, server) {
            Checked::Mismatch(why) => {
                self.ignored.push_back(IgnoredDatagram {
                    query,
                    server,
                    from,
                    why,
                });
                if tcp {
                    l.last_error = Some(LookupError::Malformed {
                        what: Malformed::TcpMismatch { why },
                    });
                    self.end_exchange(query);
                    self.next_attempt(now, lookup_id);
                }
            }
            Checked::Unparsable(what) => {
                let err = LookupError::Malformed { what };
                if tcp {
                    l.last_error = Some(err);
                    self.end_exchange(query);
                    self.next_attempt(now, lookup_id);
                } else {
                    l.garbage = Some(err);
                }
            }
            Checked::Truncated => {
                if tcp {
                    l.last_error = Some(LookupError::Malformed {
                        what: Malformed::TruncatedOverTcp,
                    });
                    self.end_exchange(query);
                    self.next_attempt(now, lookup_id);
                } else {
                    // RFC 7766 sec. 5: retry the same server over TCP, same attempt.
                    let wait = self.config.attempt_wait(l.attempts_used.saturating_sub(1));
                    self.end_exchange(query);
                    self.send(now, lookup_id, server, Transport::Tcp, wait);
                }
            }
            Checked::Final(Ok(answer)) => {
                self.end_exchange(query);
                self.finish(lookup_id, Ok(answer));
            }
            Checked::Final(Err(e)) if e.is_final() => {
                // RFC 8914: a DNSSEC EDE says the data is bogus. Asking again, or asking a
                // resolver that does not validate, could only turn bogus into insecure.
                self.end_exchange(query);
                self.finish(lookup_id, Err(e));
            }
            Checked::Final(Err(e)) => {
                l.last_error = Some(e);
                self.end_exchange(query);
                self.next_attempt(now, lookup_id);
            }
        }
        self.start_waiting(now);
        Ok(())
    }

    /// Feeds a transport failure of `query` (refused, unreachable, reset): the lookup moves
    /// on to its next attempt at once. A local failure ([`NetError::LocalResources`]: out of
    /// file descriptors or memory) ends the lookup with [`LookupError::LocalResources`], never
    /// with a timeout that would blame the resolver. Failures of finished exchanges are
    /// ignored.
    pub fn handle_failed(
        &mut self,
        now: Timestamp,
        query: QueryId,
        error: &NetError,
    ) -> Result<(), UsageError> {
        if !self.owns(query) {
            return Err(UsageError::UnknownQuery(query));
        }
        let Some(&lookup_id) = self.exchanges.get(&query) else {
            return Ok(());
        };
        self.end_exchange(query);
        if let NetError::LocalResources(local) = error {
            // Our own process or host ran out of sockets or memory: no resolver is at
            // fault, and asking another one now would fail the same way.
            let err = LookupError::LocalResources {
                error: local.clone(),
            };
            self.finish(lookup_id, Err(err));
        } else {
            self.next_attempt(now, lookup_id);
        }
        self.start_waiting(now);
        Ok(())
    }

    /// Advances timers: every attempt whose deadline is at or before `now` is given up and
    /// its lookup moves on (next server, or the final error).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let due: Vec<(QueryId, LookupId)> = self
            .exchanges
            .iter()
            .filter(|(_, id)| self.lookups.get(id).is_some_and(|l| l.deadline <= now))
            .map(|(query, id)| (*query, *id))
            .collect();
        for (query, id) in due {
            self.end_exchange(query);
            self.next_attempt(now, id);
        }
        self.start_waiting(now);
    }

    /// The next query to send, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next finished lookup, in completion order.
    pub fn poll_result(&mut self) -> Option<(LookupId, LookupResult)> {
        self.results.pop_front()
    }

    /// The next datagram that was refused as an answer, for the log.
    pub fn poll_ignored(&mut self) -> Option<IgnoredDatagram> {
        self.ignored.pop_front()
    }

    /// The earliest attempt deadline of the lookups in flight.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.exchanges
            .values()
            .filter_map(|id| self.lookups.get(id))
            .map(|l| l.deadline)
            .min()
    }

    /// Starts the next attempt of `id`, or finishes it with its best error.
    fn next_attempt(&mut self, now: Timestamp, id: LookupId) {
        let Some(l) = self.lookups.get_mut(&id) else {
            return;
        };
        let budget = match l.budget {
            0 => u32::from(self.config.attempts.max(1)),
            own => u32::from(own),
        };
        let servers = match l.pinned {
            Some(_) => 1,
            None => self.config.servers.len(),
        };
        if l.attempts_used >= budget || servers == 0 {
            let err = l
                .last_error
                .take()
                .or_else(|| l.garbage.take())
                .unwrap_or(if servers == 0 {
                    LookupError::NoServers
                } else {
                    LookupError::Timeout
                });
            self.finish(id, Err(err));
            return;
        }
        let attempt = l.attempts_used;
        l.attempts_used += 1;
        let index = usize::try_from(attempt).unwrap_or(0) % servers;
        let server = l.pinned.unwrap_or(self.config.servers[index]);
        let wait = self.config.attempt_wait_over(attempt, servers);
        self.send(now, id, server, Transport::Udp, wait);
    }

    /// Queues one exchange of lookup `id` and makes it the one waited for.
    fn send(
        &mut self,
        now: Timestamp,
        id: LookupId,
        server: SocketAddr,
        transport: Transport,
        wait: Duration,
    ) {
        let Some(l) = self.lookups.get_mut(&id) else {
            return;
        };
        let msg_id = self.rng.next_u16();
        let wire = build_query_cd(
            msg_id,
            &l.qname,
            l.qtype,
            self.config.payload,
            l.checking_disabled,
        );
        if wire.is_empty() {
            let err = LookupError::Malformed {
                what: Malformed::QueryUnencodable,
            };
            self.finish(id, Err(err));
            return;
        }
        let query = QueryId(self.next_query);
        self.next_query = self.next_query.saturating_add(1);
        l.current = query;
        l.msg_id = msg_id;
        l.server = server;
        l.transport = transport;
        l.deadline = now.saturating_add(wait);
        self.exchanges.insert(query, id);
        self.actions.push_back(Action::SendDns {
            query,
            server,
            transport,
            wire,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    fn servers(n: u16) -> Vec<SocketAddr> {
        (0..n)
            .map(|i| SocketAddr::from(([192, 0, 2, 1 + i as u8], 53)))
            .collect()
    }

    #[test]
    fn backoff_per_round() {
        let c = DnsConfig::new(servers(2));
        let waits: Vec<u64> = (0..6).map(|a| c.attempt_wait(a).as_secs()).collect();
        assert_eq!(waits, vec![3, 3, 6, 6, 12, 12]);
        let c = DnsConfig::new(servers(1));
        assert_eq!(c.attempt_wait(100).as_secs(), 3 << MAX_BACKOFF_DOUBLINGS);
        let c = DnsConfig::new(vec![]);
        assert_eq!(c.attempt_wait(1).as_secs(), 6);
    }

    #[test]
    fn no_servers_fails_at_once() {
        let mut c = DnsClient::new(DnsConfig::new(vec![]), DetRng::new(Seed(1), 0));
        let id = c.lookup(Timestamp::EPOCH, &Name::root(), RecordType::DNSKEY);
        assert!(c.poll_action().is_none());
        assert_eq!(c.poll_result(), Some((id, Err(LookupError::NoServers))));
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn query_ids_are_owned_and_monotonic() {
        let mut c = DnsClient::new(DnsConfig::new(servers(1)), DetRng::new(Seed(1), 0));
        assert!(!c.owns(QueryId(0)));
        c.lookup(Timestamp::EPOCH, &Name::root(), RecordType::DNSKEY);
        c.lookup(Timestamp::EPOCH, &Name::root(), RecordType::NS);
        let qs: Vec<QueryId> = std::iter::from_fn(|| c.poll_action())
            .map(|a| match a {
                Action::SendDns { query, .. } => query,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(qs, vec![QueryId(0), QueryId(1)]);
        assert!(c.owns(QueryId(1)) && !c.owns(QueryId(2)));
        assert_eq!(c.in_flight(), 2);
    }
}
