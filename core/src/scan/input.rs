//! The input side of a scan, kept apart from any I/O: which lines are domains, which share of
//! them a shard takes, which a resumed scan already did, and which it just saw.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The domain on an input line: `None` for a blank line or a `#` comment. Surrounding
/// whitespace goes; the domain is otherwise kept as written (the check reports it so).
pub fn domain_on_line(line: &str) -> Option<&str> {
    let line = line.trim();
    (!line.is_empty() && !line.starts_with('#')).then_some(line)
}

/// A stable 64-bit name for a domain, equal for every spelling of one DNS name (RFC 4343:
/// case does not matter; a trailing dot does not either): the first eight bytes of the
/// SHA-256 of its lower-case form. Stable across versions, machines and runs, so shards
/// and resumed scans agree.
pub fn domain_hash(domain: &str) -> u64 {
    let name = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let digest = Sha256::digest(name.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// Share `index` of `count` (`--shard K/N`, K from 0): the domains whose [`domain_hash`]
/// is `index` modulo `count`. The shards of one input are disjoint and together hold it all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a shard specification was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardError(String);

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardError {}

impl Shard {
    /// Share `index` of `count`; refused unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if index >= count {
            return Err(ShardError(format!(
                "shard {index} of {count}: K counts from 0 and must be below N"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether `domain` belongs to this share.
    pub fn contains(&self, domain: &str) -> bool {
        domain_hash(domain) % u64::from(self.count) == u64::from(self.index)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, e.g. `0/4` .. `3/4`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ShardError(format!("invalid shard {text:?}: use K/N, e.g. 0/4"));
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        Shard::new(
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        )
    }
}

/// The domains a previous run of the scan already reported (`--resume`), as a sorted list of
/// [`domain_hash`]es: eight bytes per domain, 80 MB for 10 million. Two domains whose hashes
/// collide (odds about 3 in a million for 10 million domains) would make the second look
/// done.
#[derive(Clone, Debug, Default)]
pub struct FinishedSet(Vec<u64>);

impl FinishedSet {
    /// The set of these domains.
    pub fn new(domains: impl IntoIterator<Item = u64>) -> Self {
        let mut hashes: Vec<u64> = domains.into_iter().collect();
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        FinishedSet(hashes)
    }

    /// Whether `domain` was reported.
    pub fn contains(&self, domain: &str) -> bool {
        self.0.binary_search(&domain_hash(domain)).is_ok()
    }

    /// Domains held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The last `capacity` domains seen, to report a repeated input line once in bounded memory.
/// A repeat further apart than `capacity` lines is checked (and reported) again.
#[derive(Clone, Debug)]
pub struct RecentlySeen {
    order: VecDeque<u64>,
    set: HashSet<u64>,
    capacity: usize,
}

/// The default window of [`RecentlySeen`]: about 2 MB.
pub const RECENT_WINDOW: usize = 65_536;

impl RecentlySeen {
    /// A filter over the last `capacity` domains.
    pub fn new(capacity: usize) -> Self {
        RecentlySeen {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `domain`; false if it is among the last `capacity` seen.
    pub fn first_sight(&mut self, domain: &str) -> bool {
        let h = domain_hash(domain);
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_hashes() {
        assert_eq!(domain_on_line("  example.com \n"), Some("example.com"));
        assert_eq!(domain_on_line("# a comment"), None);
        assert_eq!(domain_on_line("   "), None);
        assert_eq!(domain_hash("Example.COM."), domain_hash("example.com"));
        assert_ne!(domain_hash("example.com"), domain_hash("example.net"));
        // Pinned: shards of different versions and machines must agree.
        assert_eq!(domain_hash("example.com"), 0xa379a6f6eeafb9a5);
    }

    #[test]
    fn shards_partition_the_input() {
        let shards: Vec<Shard> = (0..4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for i in 0..1000 {
            let d = format!("d{i}.example");
            let owners: Vec<usize> = (0..4).filter(|&k| shards[k].contains(&d)).collect();
            assert_eq!(owners.len(), 1, "{d}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&s| s > 200), "{sizes:?}");
        assert_eq!("2/4".parse::<Shard>(), Ok(shards[2]));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn finished_and_recent() {
        let done = FinishedSet::new(["a.example", "B.example."].map(domain_hash));
        assert!(done.contains("b.example") && done.contains("a.example"));
        assert!(!done.contains("c.example"));
        let mut recent = RecentlySeen::new(2);
        assert!(recent.first_sight("a.example"));
        assert!(!recent.first_sight("A.example"));
        assert!(recent.first_sight("b.example"));
        assert!(recent.first_sight("c.example"));
        assert!(
            recent.first_sight("a.example"),
            "out of the window: seen again"
        );
    }
}
