//! `scan` target: arbitrary sequences of inputs into a [`Scan`] of a few domains, driven
//! like `smtp_check` ([`super::check_ops`], with `ConnectQueued` and `Connecting` among the
//! steps). The first bytes pick the domains ([`DOMAIN_SETS`]) and the limits ([`config`]:
//! one check at a time or all, one connection per address or four, a one-answer cache, one
//! resolver or two). Every check is recorded. Oracle:
//! - no `UsageError`, for the scan (the driver) or for any check: each check's transcript
//!   replays byte for byte ([`crate::transcript::replay`]), which also fails on a recorded
//!   input the check refused;
//! - `Done` within 64 deadlines per domain past the last step, plus the work in flight
//!   ([`super::check_ops::drive_with`]);
//! - every domain pulled gets exactly one result in the sink, under its index; a line that
//!   is no destination gets `Invalid`, every other a report, the one its transcript ends with;
//! - per domain, the oracle of `smtp_check` on its report against what its transcript shows
//!   (`Secure` only when justified, `verified` only with policy dane and a matched record, no
//!   plaintext under dane or encrypt, no connection to a skipped host, no byte after an
//!   unauthenticated handshake);
//! - the shared DNS ([`check_dns_routing`]): every answer a check receives is either an
//!   answer the harness sent, from the resolver that check asked, to a scan query that put
//!   the same question to the same resolver, re-keyed to the check's own query (message id,
//!   question case, TTLs aged); or a datagram passed on unchanged to a check whose own message
//!   id is the one that went out. So a cached or shared answer never crosses resolvers, and a
//!   datagram carrying the id of a check whose query never left the host never reaches it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::Unstructured;

use super::check_ops::{drive_with, observed_of, FuzzOp, Pace, SentQuery};
use crate::check::CheckConfig;
use crate::fuzzing::seed_bytes::SeedBytes;
use crate::machine::{Action, Output, OwnedInput, QueryId};
use crate::scan::wire;
use crate::scan::{DomainSource, Pull, Scan, ScanConfig, ScanOutcome, ScanResult};
use crate::seed::Seed;
use crate::transcript::{Event, Transcript};

/// The domains each case scans, by the first byte.
pub const DOMAIN_SETS: [&[&str]; 4] = [
    &["example.com"],
    &["example.com", "example.net"],
    &["example.com", "example.com", "not a destination!"],
    &[
        "example.com",
        "example.net",
        "[mx1.example.com]",
        "example.org",
    ],
];

/// The names the fuzzer can use in its records: `smtp_check`'s, with the scan's other
/// domains in place of its CNAME target and last name.
pub const NAMES: [&str; 6] = [
    "example.com.",
    "mx1.example.com.",
    "mx2.example.net.",
    "example.net.",
    ".",
    "example.org.",
];

/// The scan's seed.
pub const SEED: Seed = Seed(1);

/// The second resolver (limits bit 3).
pub const SECOND_RESOLVER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3)),
    53,
);

/// The scan's configuration for limit bits `limits`: bit 0 one check at a time, bit 1 one
/// connection per address, bit 2 a cache of one answer, bit 3 a second resolver. (Bit 4 is
/// the source's: [`Source`].)
pub fn config(limits: u8) -> ScanConfig {
    let mut resolvers = vec![super::smtp_check::RESOLVER];
    if limits & 8 != 0 {
        resolvers.push(SECOND_RESOLVER);
    }
    let mut check = CheckConfig::new("example.invalid", resolvers);
    check.dns_attempts = 2;
    let mut config = ScanConfig::new(check);
    config.concurrency = if limits & 1 != 0 { 1 } else { 8 };
    config.per_destination = if limits & 2 != 0 { 1 } else { 4 };
    if limits & 4 != 0 {
        config.cache_capacity = 1;
    }
    config.record_transcripts = true;
    config
}

/// The scan's domains, answering [`Pull::NotYet`] once before each domain and before the end
/// when `stutter` (limits bit 4), as the CLI's reader thread does while a slow pipe is read.
struct Source<I> {
    domains: I,
    stutter: bool,
    waited: bool,
}

impl<I: Iterator<Item = String>> DomainSource for Source<I> {
    fn pull(&mut self) -> Pull {
        if self.stutter && !self.waited {
            self.waited = true;
            return Pull::NotYet;
        }
        self.waited = false;
        self.domains.next().map_or(Pull::End, Pull::Domain)
    }
}

/// The input on which [`run`] scans domain set `domains` under `limits` with the steps `ops`.
pub fn seed(domains: u8, limits: u8, ops: &[FuzzOp]) -> Vec<u8> {
    let last = (DOMAIN_SETS.len() - 1) as u64;
    let mut s = SeedBytes::new();
    s.int_in_range(u64::from(domains).min(last), last);
    s.int_in_range(u64::from(limits & 31), 31);
    s.list(ops, |s, op| op.write(s));
    s.into_bytes()
}

/// The seed of the scan's check of its `index`-th domain (for seeds recorded alone).
pub fn check_seed(index: u64) -> Seed {
    crate::scan::check_seed(SEED, index)
}

/// Runs one case.
pub fn run(data: &[u8]) {
    results_of(data);
}

/// Runs one case and returns its results, in the order of the domains (for tests of the
/// seeds).
pub fn results_of(data: &[u8]) -> Vec<ScanResult> {
    let mut u = Unstructured::new(data);
    let last = (DOMAIN_SETS.len() - 1) as u8;
    let domains = DOMAIN_SETS[usize::from(u.int_in_range(0u8..=last).unwrap_or(0))];
    let limits = u.int_in_range(0u8..=31).unwrap_or(0);
    let config = config(limits);
    let ops: Vec<FuzzOp> = u.arbitrary().unwrap_or_default();
    let start = super::smtp_check::START;
    let results: RefCell<Vec<ScanResult>> = RefCell::new(Vec::new());
    let source = Source {
        domains: domains.iter().map(|d| d.to_string()),
        stutter: limits & 16 != 0,
        waited: false,
    };
    let sink = |r: ScanResult| results.borrow_mut().push(r);
    let Ok(mut scan) = Scan::new(config, SEED, start, source, sink) else {
        panic!("a valid configuration was refused");
    };
    let pace = Pace {
        deadlines: 64 * domains.len(),
        ..Pace::default()
    };
    let (_, observed) = drive_with(&mut scan, start, ops, &NAMES, pace);
    drop(scan);
    let mut results = results.into_inner();
    results.sort_by_key(|r| r.index);
    let indices: Vec<u64> = results.iter().map(|r| r.index).collect();
    let expected: Vec<u64> = (0..domains.len() as u64).collect();
    assert_eq!(indices, expected, "not exactly one result per domain");
    for (r, domain) in results.iter().zip(domains) {
        assert_eq!(r.domain, *domain, "a result under another domain's index");
        let invalid = crate::check::parse_destination(domain, 25).is_err();
        match (&r.outcome, &r.transcript) {
            (ScanOutcome::Invalid(_), _) => assert!(invalid, "{domain} refused"),
            (ScanOutcome::Report(report), Some(t)) => {
                assert!(!invalid, "{domain} checked");
                let replayed = match crate::transcript::replay(t) {
                    Ok(replayed) => replayed,
                    Err(e) => panic!("the check of {domain} does not replay: {e}"),
                };
                assert_eq!(replayed.divergence, None, "{domain} replays otherwise");
                assert_eq!(replayed.report.as_ref(), Some(report), "{domain}'s report");
                super::smtp_check::check_report(report, &observed_of(t), 25);
                if let Err(e) = check_dns_routing(t, &observed.dns_sent, &observed.dns_fed) {
                    panic!("{domain}: {e}");
                }
            }
            (ScanOutcome::Report(_), None) => panic!("{domain} without its transcript"),
        }
    }
    results
}

/// Whether `answer` is `original` re-keyed to `query`: the same bytes but the message id and
/// the question's case, and TTLs that may have aged.
fn rekeyed_from(answer: &[u8], original: &[u8], query: &[u8]) -> bool {
    let fresh = wire::rekeyed(original, query, Duration::ZERO);
    if fresh.as_deref() == Some(answer) {
        return true;
    }
    // Aged out of the cache: compare with every TTL at zero.
    let zeroed = |w: &[u8]| wire::rekeyed(w, query, Duration::from_secs(u64::from(u32::MAX)));
    zeroed(original).is_some_and(|o| Some(o) == zeroed(answer))
}

/// The shared-DNS oracle for one check of a scan: `t` is its transcript, `sent` the queries
/// the scan sent, `fed` every datagram the harness gave the scan (query, source, bytes).
/// Every answer the check received must be one of `fed`: re-keyed from an answer to a scan
/// query of the same resolver, transport and question, coming from that resolver; or
/// unchanged, for a check whose message id is the one the scan query carried.
pub fn check_dns_routing(
    t: &Transcript,
    sent: &BTreeMap<QueryId, SentQuery>,
    fed: &[(QueryId, SocketAddr, Vec<u8>)],
) -> Result<(), String> {
    let mut mine: BTreeMap<QueryId, SentQuery> = BTreeMap::new();
    for event in &t.events {
        match event {
            Event::Output {
                output:
                    Output::Action(Action::SendDns {
                        query,
                        server,
                        transport,
                        wire,
                    }),
                ..
            } => {
                let q = SentQuery {
                    server: *server,
                    transport: *transport,
                    wire: wire.clone(),
                };
                mine.insert(*query, q);
            }
            Event::Input {
                input: OwnedInput::DnsAnswer { query, from, wire },
                ..
            } => {
                let Some(q) = mine.get(query) else {
                    return Err(format!("an answer to {query}, which the check never sent"));
                };
                let key = wire::query_key(&q.wire);
                let routed = fed.iter().any(|(outer, source, datagram)| {
                    let Some(o) = sent.get(outer) else {
                        return false;
                    };
                    let same_question = o.server == q.server
                        && o.transport == q.transport
                        && wire::query_key(&o.wire) == key;
                    let shared = *source == q.server
                        && *from == Some(q.server)
                        && wire::answers(datagram, &o.wire)
                        && rekeyed_from(wire, datagram, &q.wire);
                    let passed_on = datagram == wire
                        && *from == Some(*source)
                        && o.wire.get(..2) == q.wire.get(..2);
                    same_question && (shared || passed_on)
                });
                if !routed {
                    return Err(format!(
                        "{query} (to {}) received an answer from {from:?} the harness never sent \
                         to a query of that resolver, or whose id never went out",
                        q.server
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::build_query;
    use crate::machine::Transport;
    use crate::transcript::Recorder;
    use hickory_proto::op::{Message, MessageType};
    use hickory_proto::rr::{Name, RecordType};

    const A: SocketAddr = super::super::smtp_check::RESOLVER;

    fn query(id: u16) -> Vec<u8> {
        let name = Name::from_ascii("_25._tcp.mx1.example.com.").unwrap();
        build_query(id, &name, RecordType::TLSA, 1232)
    }

    fn answer(to: &[u8]) -> Vec<u8> {
        let q = Message::from_vec(to).unwrap();
        let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.checking_disabled = q.metadata.checking_disabled;
        m.add_query(q.queries[0].clone());
        m.to_vec().unwrap()
    }

    /// A check's transcript: it sent `wire` to `server` as q0, and received `got` from `from`.
    fn transcript(server: SocketAddr, wire: &[u8], from: SocketAddr, got: &[u8]) -> Transcript {
        let config = super::super::smtp_check::config(0);
        let recorder = Recorder::new(config, SEED, super::super::smtp_check::START).unwrap();
        let mut t = recorder.transcript().clone();
        let at = t.header.start;
        let action = Action::SendDns {
            query: QueryId(0),
            server,
            transport: Transport::Udp,
            wire: wire.to_vec(),
        };
        t.events.push(Event::Output {
            at,
            output: Output::Action(action),
        });
        t.events.push(Event::Input {
            at,
            input: OwnedInput::DnsAnswer {
                query: QueryId(0),
                from: Some(from),
                wire: got.to_vec(),
            },
        });
        t
    }

    fn sent(server: SocketAddr, wire: &[u8]) -> BTreeMap<QueryId, SentQuery> {
        let q = SentQuery {
            server,
            transport: Transport::Udp,
            wire: wire.to_vec(),
        };
        BTreeMap::from([(QueryId(7), q)])
    }

    #[test]
    fn a_shared_answer_routed_right_passes() {
        // Check 2 joined check 1's query (id 0x1111): it gets the answer re-keyed to 0x2222.
        let (first, second) = (query(0x1111), query(0x2222));
        let datagram = answer(&first);
        let got = wire::rekeyed(&datagram, &second, Duration::ZERO).unwrap();
        let t = transcript(A, &second, A, &got);
        let fed = [(QueryId(7), A, datagram)];
        assert_eq!(check_dns_routing(&t, &sent(A, &first), &fed), Ok(()));
    }

    #[test]
    fn an_answer_from_another_resolver_fails() {
        // The scan query went to the second resolver; its answer reached a check that asked
        // the first.
        let first = query(0x1111);
        let datagram = answer(&first);
        let t = transcript(A, &first, A, &datagram);
        let fed = [(QueryId(7), SECOND_RESOLVER, datagram)];
        let routed = check_dns_routing(&t, &sent(SECOND_RESOLVER, &first), &fed);
        assert!(routed.is_err(), "{routed:?}");
    }

    #[test]
    fn a_datagram_with_an_id_that_never_went_out_fails() {
        // Check 2 (id 0x2222) joined check 1's query (0x1111, the one sent); a datagram
        // with id 0x2222 that does not answer the query sent is passed on to check 2.
        let (first, second) = (query(0x1111), query(0x2222));
        let forged = answer(&second);
        let t = transcript(A, &second, A, &forged);
        let fed = [(QueryId(7), A, forged)];
        let routed = check_dns_routing(&t, &sent(A, &first), &fed);
        assert!(routed.is_err(), "{routed:?}");
        // The same datagram, passed on to the check whose id went out, is its own to judge.
        let t = transcript(A, &first, A, &fed[0].2);
        assert_eq!(check_dns_routing(&t, &sent(A, &first), &fed), Ok(()));
    }

    #[test]
    fn seeds_decode_and_run() {
        let ops = vec![
            FuzzOp::Answer {
                pick: 0,
                ad: true,
                rcode: 0,
                tc: false,
                records: vec![],
            },
            FuzzOp::ConnectQueued(0),
            FuzzOp::Connecting(0),
            FuzzOp::Timeout,
        ];
        for domains in 0..DOMAIN_SETS.len() as u8 {
            for limits in 0..16 {
                run(&seed(domains, limits, &ops));
            }
        }
    }
}
