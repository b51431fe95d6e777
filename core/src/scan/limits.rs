//! The scan's limits on what it asks of the network: a rate (new connections, DNS queries
//! sent) and the connections open at once to one address. Time is an input, as everywhere
//! in the core.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::time::Timestamp;

/// At most `per_second` events per second, with bursts of up to one second's worth: the
/// generic cell rate algorithm (ITU-T I.371), which needs one timestamp of state. Kept in
/// microseconds, so rates up to a million per second are exact enough.
#[derive(Clone, Debug)]
pub(super) struct Rate {
    /// Microseconds between events.
    interval: u64,
    /// How far ahead of now the schedule may run (the burst).
    tolerance: u64,
    /// The theoretical arrival time of the next event, in microseconds since the epoch.
    tat: u64,
}

fn micros(t: Timestamp) -> u64 {
    t.as_millis().saturating_mul(1000)
}

impl Rate {
    /// A limit of `per_second` (at least 1) events per second.
    pub(super) fn per_second(per_second: u32) -> Rate {
        let interval = 1_000_000 / u64::from(per_second.max(1));
        Rate {
            interval: interval.max(1),
            tolerance: 1_000_000u64.saturating_sub(interval),
            tat: 0,
        }
    }

    /// Takes one event's worth at `now` if the limit allows it.
    pub(super) fn try_take(&mut self, now: Timestamp) -> bool {
        let now = micros(now);
        if self.tat > now + self.tolerance {
            return false;
        }
        self.tat = self.tat.max(now) + self.interval;
        true
    }

    /// When the next event will be allowed (at or after the last refusal).
    pub(super) fn next_allowed(&self) -> Timestamp {
        let at = self.tat.saturating_sub(self.tolerance);
        Timestamp::from_millis(at.div_ceil(1000))
    }
}

/// An optional [`Rate`]: no limit when not configured.
#[derive(Clone, Debug, Default)]
pub(super) struct MaybeRate(Option<Rate>);

impl MaybeRate {
    /// `per_second` events per second, or no limit.
    pub(super) fn new(per_second: Option<u32>) -> Self {
        MaybeRate(per_second.map(Rate::per_second))
    }

    /// See [`Rate::try_take`]; always true without a limit.
    pub(super) fn try_take(&mut self, now: Timestamp) -> bool {
        self.0.as_mut().is_none_or(|r| r.try_take(now))
    }

    /// See [`Rate::next_allowed`].
    pub(super) fn next_allowed(&self) -> Option<Timestamp> {
        self.0.as_ref().map(Rate::next_allowed)
    }
}

/// At most `per_destination` connections open at once to one address: what an MTA's
/// per-destination concurrency limit is for (Postfix's
/// `default_destination_concurrency_limit`), since many scanned domains share their MX hosts.
/// A connection past the limit waits, first come first served, for one to that address to
/// end.
#[derive(Debug)]
pub(super) struct DestinationGate<T> {
    per_destination: usize,
    open: HashMap<IpAddr, usize>,
    waiting: HashMap<IpAddr, VecDeque<T>>,
}

impl<T> DestinationGate<T> {
    pub(super) fn new(per_destination: usize) -> Self {
        DestinationGate {
            per_destination: per_destination.max(1),
            open: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    /// Admits `item` to `ip` now (`Some(item)`: it holds a place until [`Self::release`]),
    /// or queues it (`None`).
    pub(super) fn admit(&mut self, ip: IpAddr, item: T) -> Option<T> {
        let open = self.open.entry(ip).or_insert(0);
        if *open < self.per_destination {
            *open += 1;
            Some(item)
        } else {
            self.waiting.entry(ip).or_default().push_back(item);
            None
        }
    }

    /// Gives back a place at `ip`; returns the next waiting item, which takes it over.
    pub(super) fn release(&mut self, ip: IpAddr) -> Option<T> {
        if let Some(next) = self.waiting.get_mut(&ip).and_then(VecDeque::pop_front) {
            return Some(next);
        }
        self.waiting.remove(&ip);
        match self.open.get_mut(&ip) {
            Some(1) | None => drop(self.open.remove(&ip)),
            Some(n) => *n -= 1,
        }
        None
    }

    /// Connections waiting for a place.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// The longest queue at any one destination.
    pub(super) fn longest_queue(&self) -> usize {
        self.waiting.values().map(VecDeque::len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_allows_a_burst_of_one_second_then_paces() {
        let mut r = Rate::per_second(10);
        let t0 = Timestamp::from_millis(1_000_000);
        let burst = (0..100).take_while(|_| r.try_take(t0)).count();
        assert_eq!(burst, 10);
        assert_eq!(r.next_allowed(), Timestamp::from_millis(1_000_100));
        assert!(!r.try_take(Timestamp::from_millis(1_000_099)));
        assert!(r.try_take(Timestamp::from_millis(1_000_100)));
        assert!(!r.try_take(Timestamp::from_millis(1_000_100)));
    }

    #[test]
    fn gate_queues_past_the_limit_and_hands_places_on_in_order() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let mut g = DestinationGate::new(2);
        assert_eq!(g.admit(ip, 1), Some(1));
        assert_eq!(g.admit(ip, 2), Some(2));
        assert_eq!(g.admit(ip, 3), None);
        assert_eq!(g.admit(ip, 4), None);
        assert_eq!(g.admit(other, 5), Some(5));
        assert_eq!(g.waiting(), 2);
        assert_eq!(g.release(ip), Some(3));
        assert_eq!(g.release(ip), Some(4));
        assert_eq!(g.release(ip), None);
        assert_eq!(g.release(ip), None);
        assert_eq!(g.admit(ip, 6), Some(6), "every place is free again");
        assert_eq!(g.release(ip), None);
        assert!(!g.open.contains_key(&ip));
    }
}
