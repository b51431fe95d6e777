//! A generated world of many mail domains, for `daneel scan` (issue 14): the benchmark world
//! served by `tests/examples/scan-world.rs` and the simulation tests of the scan.
//!
//! [`plan`] decides, from `n` and a seed alone, what every domain and MX host is; [`Plan::world`]
//! builds the [`World`] from it and [`Plan::expected`] states each domain's verdict from the
//! same decisions, never by running a check.
//!
//! - Domains `d00000.example`, `d00001.example`, ... in the secure zone `example`, except the
//!   domains without DNSSEC, each an insecure zone of its own.
//! - MX hosts `mx0000.mx.example` ... in the secure zone `mx.example` (with TLSA records or,
//!   for the hosts without DANE, a secure denial of them), and `mx0000.plain.example` ... in
//!   the insecure zone `plain.example`; about one host per 25 domains, so each host serves
//!   many domains, and each domain draws one MX host or (about a third of them) two.
//! - The hosts share a few addresses (192.0.2.1 and up, about one per 8 hosts, at most 64),
//!   where every server presents one chain: a leaf for `*.mx.example` and `*.plain.example`
//!   issued by an intermediate CA.
//!
//! | domain kind        | share | MX hosts                                     | verdict         |
//! |--------------------|-------|----------------------------------------------|-----------------|
//! | [`Kind::Dane`]     | ~76 % | DANE-EE `3 1 1` (leaf), ~1 in 6 DANE-TA `2 0 1` (CA) | `dane-verified` |
//! | [`Kind::Failing`]  | ~8 %  | DANE-EE `3 1 1` with a wrong digest          | `dane-failed`   |
//! | [`Kind::NoTlsa`]   | ~8 %  | secure, no TLSA records (RFC 7672 sec. 2.2)  | `no-dane`       |
//! | [`Kind::Insecure`] | ~8 %  | insecure MX RRset, insecure hosts            | `no-dane`       |

use std::net::{IpAddr, Ipv4Addr};

use daneel_core::report::DomainVerdict;

use super::certs::{server_tls, tlsa, Ca, Validity};
use super::{MailServer, Status, World};

/// The parent zone of every generated domain.
pub const PARENT: &str = "example";
/// The secure zone of the DANE hosts (and of those without TLSA records).
pub const SECURE_HOSTS: &str = "mx.example";
/// The insecure zone of the hosts of the domains without DNSSEC.
pub const PLAIN_HOSTS: &str = "plain.example";

/// What a generated domain is, and so what a check of it must conclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Secure MX RRset, every host with matching TLSA records (DANE-EE or DANE-TA).
    Dane,
    /// Secure MX RRset, every host with DANE-EE records whose digest matches no certificate
    /// (RFC 7672 sec. 3.2: never deliver).
    Failing,
    /// Secure MX RRset, hosts in a secure zone without TLSA records: no DANE.
    NoTlsa,
    /// An unsigned domain whose hosts are in an unsigned zone: no DANE.
    Insecure,
}

impl Kind {
    /// The domain verdict a check must give (DESIGN.md section 5, RFC 7672).
    pub fn verdict(self) -> DomainVerdict {
        match self {
            Kind::Dane => DomainVerdict::DaneVerified,
            Kind::Failing => DomainVerdict::DaneFailed,
            Kind::NoTlsa | Kind::Insecure => DomainVerdict::NoDane,
        }
    }
}

/// What a generated MX host publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// DANE-EE `3 1 1` of the leaf (RFC 7672 sec. 3.1.1).
    DaneEe,
    /// DANE-TA `2 0 1` of the issuing CA (RFC 7672 sec. 3.1.2); the leaf's wildcard name
    /// matches the host.
    DaneTa,
    /// DANE-EE `3 1 1` with a wrong digest.
    WrongDigest,
    /// A secure zone, no TLSA records.
    NoTlsa,
    /// An insecure zone.
    Plain,
}

/// One generated MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedHost {
    /// Its name.
    pub name: String,
    /// What it publishes.
    pub kind: HostKind,
    /// Its (only) address, an A record.
    pub addr: Ipv4Addr,
}

/// One generated domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedDomain {
    /// Its name, `dNNNNN.example`.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Indices into [`Plan::hosts`] of its MX hosts, by preference (10, 20).
    pub mx: Vec<usize>,
}

/// Every decision of a generated world: which domains, hosts and addresses exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The domains, in index order.
    pub domains: Vec<PlannedDomain>,
    /// The MX hosts.
    pub hosts: Vec<PlannedHost>,
    /// The server addresses the hosts share.
    pub addrs: Vec<Ipv4Addr>,
}

/// The name of generated domain `i`.
pub fn domain_name(i: usize) -> String {
    format!("d{i:05}.{PARENT}")
}

/// splitmix64 (Steele, Lea, Flood 2014): the `i`th draw of the stream `seed`.
fn draw(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hosts of each kind, as index ranges into the host list.
struct Pools {
    dane: Vec<usize>,
    wrong: Vec<usize>,
    no_tlsa: Vec<usize>,
    plain: Vec<usize>,
}

impl Pools {
    fn of(&self, kind: Kind) -> &[usize] {
        match kind {
            Kind::Dane => &self.dane,
            Kind::Failing => &self.wrong,
            Kind::NoTlsa => &self.no_tlsa,
            Kind::Insecure => &self.plain,
        }
    }
}

/// Decides a world of `n` domains from `seed`; the same arguments give the same plan.
pub fn plan(n: usize, seed: u64) -> Plan {
    let total = (n / 25).max(8);
    // A twelfth of the hosts of each kind without DANE, at least two (so a domain can draw
    // two distinct hosts); the rest DANE, one in six of them DANE-TA.
    let small = (total / 12).max(2);
    let counts = [
        (HostKind::WrongDigest, small),
        (HostKind::NoTlsa, small),
        (HostKind::Plain, small),
    ];
    let dane = total.saturating_sub(3 * small).max(2);
    let addrs: Vec<Ipv4Addr> = (0..((dane + 3 * small) / 8).clamp(2, 64))
        .map(|s| Ipv4Addr::new(192, 0, 2, 1 + s as u8))
        .collect();
    let mut hosts = Vec::new();
    let mut pools = Pools {
        dane: Vec::new(),
        wrong: Vec::new(),
        no_tlsa: Vec::new(),
        plain: Vec::new(),
    };
    let push = |kind: HostKind, hosts: &mut Vec<PlannedHost>| {
        let i = hosts.len();
        let zone = if kind == HostKind::Plain {
            PLAIN_HOSTS
        } else {
            SECURE_HOSTS
        };
        hosts.push(PlannedHost {
            name: format!("mx{i:04}.{zone}"),
            kind,
            addr: addrs[i % addrs.len()],
        });
        i
    };
    for j in 0..dane {
        let kind = if j % 6 == 5 {
            HostKind::DaneTa
        } else {
            HostKind::DaneEe
        };
        pools.dane.push(push(kind, &mut hosts));
    }
    for (kind, count) in counts {
        for _ in 0..count {
            let i = push(kind, &mut hosts);
            match kind {
                HostKind::WrongDigest => pools.wrong.push(i),
                HostKind::NoTlsa => pools.no_tlsa.push(i),
                _ => pools.plain.push(i),
            }
        }
    }
    let domains = (0..n)
        .map(|i| {
            let r = draw(seed, i as u64);
            let kind = match r % 100 {
                0..=75 => Kind::Dane,
                76..=83 => Kind::Failing,
                84..=91 => Kind::NoTlsa,
                _ => Kind::Insecure,
            };
            let pool = pools.of(kind);
            let first = (r >> 8) as usize % pool.len();
            let mut mx = vec![pool[first]];
            if (r >> 40).is_multiple_of(3) {
                let step = 1 + (r >> 48) as usize % (pool.len() - 1);
                mx.push(pool[(first + step) % pool.len()]);
            }
            PlannedDomain {
                name: domain_name(i),
                kind,
                mx,
            }
        })
        .collect();
    Plan {
        domains,
        hosts,
        addrs,
    }
}

impl Plan {
    /// The first domain with a secure MX RRset of two hosts, both DANE-EE: the domain whose
    /// critical path issue 14 measures.
    pub fn secure_two_mx(&self) -> Option<&PlannedDomain> {
        self.domains.iter().find(|d| {
            d.kind == Kind::Dane
                && d.mx.len() == 2
                && d.mx.iter().all(|h| self.hosts[*h].kind == HostKind::DaneEe)
        })
    }

    /// Each domain with the verdict a check of it must give, in index order.
    pub fn expected(&self) -> Vec<(String, DomainVerdict)> {
        self.domains
            .iter()
            .map(|d| (d.name.clone(), d.kind.verdict()))
            .collect()
    }

    /// The world: zones, MX, A and TLSA records, and one server on each shared address.
    pub fn world(&self) -> World {
        let root = Ca::root("daneel scan-world root");
        let ca = root.intermediate("daneel scan-world CA");
        let wildcards = [format!("*.{SECURE_HOSTS}"), format!("*.{PLAIN_HOSTS}")];
        let leaf = ca.leaf(&[&wildcards[0], &wildcards[1]], Validity::Current);
        let ee = tlsa(3, 1, 1, &leaf);
        let ta = tlsa(2, 0, 1, &ca.cert);
        let mut wrong = ee.clone();
        if let Some(b) = wrong.data.first_mut() {
            *b ^= 0xff;
        }
        let mut w = World::builder()
            .zone(PARENT, Status::Secure)
            .zone(SECURE_HOSTS, Status::Secure)
            .zone(PLAIN_HOSTS, Status::Insecure);
        for h in &self.hosts {
            w = w.a(&h.name, h.addr);
            w = match h.kind {
                HostKind::DaneEe => w.tlsa_for(&h.name, &ee),
                HostKind::DaneTa => w.tlsa_for(&h.name, &ta),
                HostKind::WrongDigest => w.tlsa_for(&h.name, &wrong),
                HostKind::NoTlsa | HostKind::Plain => w,
            };
        }
        for d in &self.domains {
            if d.kind == Kind::Insecure {
                w = w.zone(&d.name, Status::Insecure);
            }
            for (k, &h) in d.mx.iter().enumerate() {
                w = w.mx(&d.name, 10 * (k as u16 + 1), &self.hosts[h].name);
            }
        }
        let server =
            MailServer::new(&format!("mx.{PARENT}")).with_tls(server_tls(&[&leaf, &ca.cert]));
        for addr in &self.addrs {
            w = w.server(IpAddr::V4(*addr), server.clone());
        }
        w.build()
    }
}

/// The world of [`plan`]`(n, seed)`.
pub fn generated(n: usize, seed: u64) -> World {
    plan(n, seed).world()
}

/// Each domain of [`generated`]`(n, seed)` with the verdict a check of it must give.
pub fn expected(n: usize, seed: u64) -> Vec<(String, DomainVerdict)> {
    plan(n, seed).expected()
}
