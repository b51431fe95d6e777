//! The DNS answers shared by every check of one scan (issue 14): a bounded cache keyed by
//! resolver, transport and query, honouring TTLs (RFC 1035 sec. 3.2.1, RFC 2181 sec. 8) and
//! negative TTLs (RFC 2308 sec. 5), holding failures only briefly (RFC 9520 sec. 3.2).
//!
//! An answer is kept exactly as the resolver sent it, AD bit, RRSIGs and denial records
//! included, so a hit keeps its DNSSEC status: the check that receives it judges it as it
//! would have judged the resolver's own reply. The key holds the resolver's address, so an
//! answer from one resolver never answers a question put to another (a non-validating
//! resolver's answer must never stand in for a validating one's).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use super::wire;
use crate::machine::Transport;
use crate::time::Timestamp;

/// The longest an answer is reused, whatever its TTL: a day-long scan sees changes made
/// during it within the hour.
pub const MAX_REUSE: Duration = Duration::from_secs(3600);

/// The longest an answer about the root zone is reused. Each check probes its resolvers
/// with a question about the root (RFC 7672 sec. 2.1.1: is this resolver validating?), so
/// during a long scan every resolver is probed again at least this often.
pub const RESOLVER_REPROBE: Duration = Duration::from_secs(60);

/// How long a SERVFAIL, REFUSED or other failure is reused: RFC 9520 sec. 3.2 asks for at
/// least one second (so a failing zone is not hammered) and at most five minutes; one
/// second keeps a check's own retries meaningful.
pub const FAILURE_REUSE: Duration = Duration::from_secs(1);

/// Answers held at most, by default (about 300 bytes each: some 30 MB).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Where and how a query goes, and what it asks (everything but its message id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct QueryKey {
    server: SocketAddr,
    transport: Transport,
    query: Vec<u8>,
}

impl QueryKey {
    /// The key of `wire` sent to `server`, or `None` if `wire` is not a one-question query.
    pub(super) fn new(server: SocketAddr, transport: Transport, wire: &[u8]) -> Option<Self> {
        Some(QueryKey {
            server,
            transport,
            query: wire::query_key(wire)?,
        })
    }

    /// Whether the question is about the root zone (the resolver probe's question).
    fn about_root(&self) -> bool {
        // After the header (less the two id bytes) the name starts; the root is one 0 byte.
        self.query.get(10) == Some(&0)
    }
}

struct Entry {
    answer: Vec<u8>,
    stored: Timestamp,
    expires: Timestamp,
    /// Used since the eviction hand last passed (second-chance eviction).
    referenced: bool,
}

/// What the cache did, for the scan's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Questions answered from the cache.
    pub hits: u64,
    /// Questions that joined a query already in flight instead of sending their own.
    pub joined: u64,
    /// Queries actually sent.
    pub sent: u64,
    /// Answers stored.
    pub stored: u64,
    /// Answers dropped to make room before they expired.
    pub evicted: u64,
    /// Answers held now.
    pub held: u64,
}

/// The bounded answer cache.
pub(super) struct DnsCache {
    entries: HashMap<QueryKey, Entry>,
    /// Keys in insertion order, for second-chance eviction.
    order: VecDeque<QueryKey>,
    capacity: usize,
}

impl DnsCache {
    pub(super) fn new(capacity: usize) -> Self {
        DnsCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The cached answer to `key`, re-keyed to `query` and aged by the time it was held, if
    /// one is still fresh at `now`.
    pub(super) fn get(&mut self, key: &QueryKey, query: &[u8], now: Timestamp) -> Option<Vec<u8>> {
        let entry = self.entries.get_mut(key)?;
        if now >= entry.expires {
            self.entries.remove(key);
            return None;
        }
        entry.referenced = true;
        wire::rekeyed(&entry.answer, query, now.saturating_since(entry.stored))
    }

    /// Stores `answer` (already checked to answer the key's query) for as long as it may be
    /// reused. Returns whether it was stored.
    pub(super) fn store(&mut self, key: QueryKey, answer: &[u8], now: Timestamp) -> bool {
        let reuse = match wire::rcode(answer) {
            0 | 3 => match wire::reuse_time(answer) {
                Some(t) => t.min(MAX_REUSE),
                None => return false,
            },
            _ => FAILURE_REUSE,
        };
        let reuse = if key.about_root() {
            reuse.min(RESOLVER_REPROBE)
        } else {
            reuse
        };
        if reuse.is_zero() {
            return false;
        }
        let entry = Entry {
            answer: answer.to_vec(),
            stored: now,
            expires: now.saturating_add(reuse),
            referenced: false,
        };
        if self.entries.insert(key.clone(), entry).is_none() {
            self.order.push_back(key);
        }
        true
    }

    /// Makes room for one more answer: drops expired entries met on the way, and gives every
    /// entry used since the last pass a second chance. Returns how many fresh answers were
    /// dropped.
    pub(super) fn make_room(&mut self, now: Timestamp) -> u64 {
        let mut evicted = 0;
        let mut turns = self.order.len() * 2;
        while self.entries.len() >= self.capacity && turns > 0 {
            turns -= 1;
            let Some(key) = self.order.pop_front() else {
                break;
            };
            match self.entries.get_mut(&key) {
                None => {}
                Some(e) if e.referenced && now < e.expires => {
                    e.referenced = false;
                    self.order.push_back(key);
                }
                Some(e) => {
                    evicted += u64::from(now < e.expires);
                    self.entries.remove(&key);
                }
            }
        }
        evicted
    }

    /// Answers held.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::build_query;
    use hickory_proto::op::{Message, MessageType};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use std::str::FromStr;

    const SERVER: &str = "127.0.0.1:53";

    fn query(id: u16, name: &str) -> Vec<u8> {
        build_query(id, &Name::from_str(name).unwrap(), RecordType::A, 1232)
    }

    fn answer(query: &[u8], ttl: u32, rcode: u8) -> Vec<u8> {
        let q = Message::from_vec(query).unwrap();
        let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
        m.add_query(q.queries[0].clone());
        m.add_answer(Record::from_rdata(
            q.queries[0].name().clone(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        let mut wire = m.to_vec().unwrap();
        wire[3] = (wire[3] & 0xF0) | rcode;
        wire
    }

    fn key(server: &str, wire: &[u8]) -> QueryKey {
        QueryKey::new(server.parse().unwrap(), Transport::Udp, wire).unwrap()
    }

    #[test]
    fn an_answer_is_reused_until_its_ttl_and_never_for_another_resolver() {
        let mut c = DnsCache::new(10);
        let (q1, q2) = (query(1, "mx.example."), query(2, "mx.example."));
        let t0 = Timestamp::from_millis(10_000);
        assert!(c.store(key(SERVER, &q1), &answer(&q1, 30, 0), t0));
        let hit = c.get(
            &key(SERVER, &q2),
            &q2,
            t0.saturating_add(Duration::from_secs(29)),
        );
        assert!(wire::answers(&hit.unwrap(), &q2));
        assert!(c.get(&key("127.0.0.2:53", &q2), &q2, t0).is_none());
        assert!(c
            .get(
                &key(SERVER, &q2),
                &q2,
                t0.saturating_add(Duration::from_secs(30))
            )
            .is_none());
        assert_eq!(c.len(), 0, "expired entries are dropped when met");
    }

    #[test]
    fn failures_are_held_one_second_and_root_answers_one_minute() {
        let mut c = DnsCache::new(10);
        let t0 = Timestamp::from_millis(10_000);
        let q = query(1, "fail.example.");
        c.store(key(SERVER, &q), &answer(&q, 3600, 2), t0);
        assert!(c
            .get(
                &key(SERVER, &q),
                &q,
                t0.saturating_add(Duration::from_millis(999))
            )
            .is_some());
        assert!(c
            .get(&key(SERVER, &q), &q, t0.saturating_add(FAILURE_REUSE))
            .is_none());
        let root = query(1, ".");
        c.store(key(SERVER, &root), &answer(&root, 172_800, 0), t0);
        let later = t0.saturating_add(RESOLVER_REPROBE);
        assert!(c.get(&key(SERVER, &root), &root, later).is_none());
    }

    #[test]
    fn eviction_spares_answers_in_use() {
        let mut c = DnsCache::new(2);
        let t0 = Timestamp::from_millis(10_000);
        let (a, b, d) = (
            query(1, "a.example."),
            query(1, "b.example."),
            query(1, "d.example."),
        );
        c.store(key(SERVER, &a), &answer(&a, 300, 0), t0);
        c.store(key(SERVER, &b), &answer(&b, 300, 0), t0);
        assert!(c.get(&key(SERVER, &a), &a, t0).is_some());
        assert_eq!(c.make_room(t0), 1);
        c.store(key(SERVER, &d), &answer(&d, 300, 0), t0);
        assert!(
            c.get(&key(SERVER, &a), &a, t0).is_some(),
            "a was used: it stays"
        );
        assert!(
            c.get(&key(SERVER, &b), &b, t0).is_none(),
            "b was not: it went"
        );
    }
}
