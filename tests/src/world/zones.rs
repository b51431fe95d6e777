//! World data: zones with a DNSSEC status, RRsets, faults, denial status, hosts.
//!
//! Zone cuts are simplified: every name belongs to the zone with the longest apex that is a
//! suffix of it, and takes that zone's [`Status`] unless its RRset (or its denial) overrides
//! it. Names outside every zone are insecure. The root zone `.` is always present and secure,
//! so the validating-resolver probe (`. DNSKEY`, DESIGN.md section 4) answers secure.
//!
//! The same statuses become real signed data for answers with CD=1 and for non-validating
//! resolvers: see [`super::signed`] for how each maps, and [`ZoneSigning`] for what a zone
//! can say beyond its status (NSEC3, an algorithm rollover, a DS of another algorithm).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use daneel_core::dane::TlsaRecord;
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TLSA};
use hickory_proto::rr::{Name, RData, RecordType};

use super::server::MailServer;

/// The Extended DNS Error code for "DNSSEC Bogus" (RFC 8914 sec. 4.7).
pub const EDE_DNSSEC_BOGUS: u16 = 6;

/// The DNSSEC status of an RRset or a denial, as a validating resolver would find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Validates: AD=1 (RFC 4035 sec. 3.2.3).
    Secure,
    /// Provably unsigned: AD=0.
    Insecure,
    /// Validation fails: SERVFAIL with this Extended DNS Error code (RFC 8914; 6 = "DNSSEC
    /// Bogus", see [`EDE_DNSSEC_BOGUS`]).
    Bogus(u16),
}

impl Status {
    /// Bogus with the "DNSSEC Bogus" Extended DNS Error.
    pub const BOGUS: Status = Status::Bogus(EDE_DNSSEC_BOGUS);
}

/// The resolver in front of a world (DESIGN.md section 4; issue 13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResolverKind {
    /// Validates (unbound's default): AD from each answer's [`Status`] and SERVFAIL with an
    /// Extended DNS Error for bogus data; with CD=1 the signed data unvalidated (RFC 4035
    /// sec. 3.2.2).
    #[default]
    Validating,
    /// Does not validate (unbound with `module-config: "iterator"`): never AD, never SERVFAIL
    /// for bogus data, RRSIG, NSEC and NSEC3 records passed through with DO=1, DS records
    /// always.
    NonValidating,
    /// A broken forwarder in front of a non-validating resolver: removes RRSIG, NSEC, NSEC3
    /// and DS records from every answer ([`super::resolver::strip_dnssec`]).
    Stripping,
    /// The same forwarder sparing the root DNSKEY's RRSIGs: it passes the DNSSEC-capability
    /// probe, so the validator itself meets every other answer stripped.
    SlyStripping,
}

/// How denials of a zone are proven (RFC 4035 sec. 3.1.3, RFC 5155 sec. 7.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Denial {
    /// NSEC (RFC 4034 sec. 4).
    #[default]
    Nsec,
    /// NSEC3 (RFC 5155) with SHA-1, this many extra iterations, and opt-out over unsigned
    /// delegations when set.
    Nsec3 {
        /// Extra iterations (RFC 5155 sec. 3.1.3).
        iterations: u16,
        /// Opt-out (RFC 5155 sec. 6).
        opt_out: bool,
    },
}

/// How a zone is signed beyond its [`Status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneSigning {
    /// NSEC or NSEC3.
    pub denial: Denial,
    /// An algorithm rollover: see [`WorldBuilder::rollover`].
    pub second_algorithm: bool,
    /// The DS record's algorithm number instead of the key's: see
    /// [`WorldBuilder::ds_algorithm`].
    pub ds_algorithm: Option<u8>,
}

/// A misbehaviour of the resolver for one name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SERVFAIL without an Extended DNS Error (a broken server, not bogus data).
    ServFail,
    /// Never answer (the client must time out).
    Timeout,
    /// Over UDP, answer with TC=1 and no records; over TCP, the full answer (RFC 7766 sec. 5).
    Truncate,
    /// REFUSED.
    Refused,
    /// Answer with these bytes instead of a DNS message.
    Garbage(Vec<u8>),
}

/// An RRset with its TTL and an optional status overriding the zone's.
#[derive(Clone, Debug, PartialEq)]
pub struct RrSet {
    /// The records' data (all of one type).
    pub records: Vec<RData>,
    /// TTL, seconds.
    pub ttl: u32,
    /// Status overriding the zone's, if any.
    pub status: Option<Status>,
}

/// What lives at an address of the world.
#[derive(Clone, Debug)]
pub enum Host {
    /// A mail server (on [`World::smtp_port`]).
    Server(Box<MailServer>),
    /// Connecting fails with "network unreachable".
    Unreachable,
    /// Connecting never completes (SYN dropped): the client must time out.
    Blackhole,
}

/// Zones, records, faults and hosts: the whole simulated Internet of a scenario.
#[derive(Clone, Debug)]
pub struct World {
    pub(crate) zones: BTreeMap<String, Status>,
    pub(crate) rrsets: BTreeMap<(String, u16), RrSet>,
    pub(crate) faults: BTreeMap<(String, Option<u16>), Fault>,
    pub(crate) denials: BTreeMap<String, Status>,
    pub(crate) hosts: BTreeMap<IpAddr, Host>,
    pub(crate) smtp_port: u16,
    pub(crate) resolver: ResolverKind,
    pub(crate) signing: BTreeMap<String, ZoneSigning>,
    pub(crate) rrsig_expiration: u32,
    pub(crate) ttl: u32,
    pub(crate) existing: Existing,
    pub(crate) signed_index: super::signed::SignedIndexCell,
}

/// Every owner name of a world's RRsets and every name above one (so empty non-terminals,
/// RFC 4592 sec. 2.2.2): the names that exist, built on first use and dropped whenever a
/// record is added, so [`World::name_exists`] needs no scan of every RRset (issue 14: a
/// world of 10,000 domains answers each NXDOMAIN in microseconds).
#[derive(Clone, Default)]
pub(crate) struct Existing(std::sync::OnceLock<std::collections::HashSet<String>>);

impl std::fmt::Debug for Existing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Existing")
    }
}

impl Existing {
    fn contains(&self, rrsets: &BTreeMap<(String, u16), RrSet>, name: &str) -> bool {
        self.names(rrsets).contains(name)
    }

    fn names(&self, rrsets: &BTreeMap<(String, u16), RrSet>) -> &std::collections::HashSet<String> {
        self.0.get_or_init(|| {
            let mut names = std::collections::HashSet::new();
            for (owner, _) in rrsets.keys() {
                let mut at = owner.as_str();
                // A name already in holds its ancestors too.
                while names.insert(at.to_string()) {
                    match at.find('.') {
                        Some(i) => at = &at[i + 1..],
                        None => break,
                    }
                }
            }
            names
        })
    }
}

/// Lower-cases a name and strips the trailing dot: the world's key form. The root is `""`.
pub(crate) fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A world name as a fully qualified hickory [`Name`].
pub(crate) fn fqdn(name: &str) -> Name {
    let n = norm(name);
    let text = if n.is_empty() {
        ".".to_string()
    } else {
        format!("{n}.")
    };
    Name::from_ascii(&text).unwrap_or_else(|_| Name::root())
}

impl World {
    /// Starts a builder with the defaults: SMTP port 25, validating resolver, TTL 3600,
    /// RRSIG expiration 2030-01-01T00:00:00Z.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            world: World {
                zones: BTreeMap::from([(String::new(), Status::Secure)]),
                rrsets: BTreeMap::new(),
                faults: BTreeMap::new(),
                denials: BTreeMap::new(),
                hosts: BTreeMap::new(),
                smtp_port: 25,
                resolver: ResolverKind::Validating,
                signing: BTreeMap::new(),
                rrsig_expiration: 1_893_456_000,
                ttl: 3600,
                existing: Existing::default(),
                signed_index: Default::default(),
            },
        }
    }

    /// A builder that starts from this world, to add to it.
    pub fn edit(mut self) -> WorldBuilder {
        self.signed_index = Default::default();
        WorldBuilder { world: self }
    }

    /// The TCP port mail servers listen on; TLSA owner names use it (`_25._tcp`, RFC 7672
    /// sec. 2.2.3).
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// Whether the simulated resolver validates (sets AD). False for S73.
    pub fn is_validating(&self) -> bool {
        self.resolver == ResolverKind::Validating
    }

    /// The kind of resolver that serves this world.
    pub fn resolver_kind(&self) -> ResolverKind {
        self.resolver
    }

    /// How the zone at `apex` is signed beyond its [`Status`] (the defaults: NSEC, Ed25519).
    pub fn zone_signing(&self, apex: &str) -> ZoneSigning {
        self.signing.get(&norm(apex)).cloned().unwrap_or_default()
    }

    /// The world's trust anchor: the DS record of the root zone's key-signing key as a
    /// presentation line (`. IN DS <tag> 15 2 <hex>`, RFC 4034 sec. 5.3), the form
    /// `--trust-anchor FILE` and [`daneel_core::dnssec::DnssecSettings`] take.
    pub fn trust_anchor_line(&self) -> String {
        let root = Name::root();
        super::signing::WorldKeys::of(&root).anchor_line(&root)
    }

    /// The same world served by a resolver of `kind`.
    pub fn served_by(&self, kind: ResolverKind) -> World {
        let mut w = self.clone();
        w.resolver = kind;
        w
    }

    /// The hosts by address.
    pub fn hosts(&self) -> &BTreeMap<IpAddr, Host> {
        &self.hosts
    }

    /// The RRset at `name`/`rtype`, if any.
    pub fn rrset(&self, name: &str, rtype: RecordType) -> Option<&RrSet> {
        self.rrsets.get(&(norm(name), u16::from(rtype)))
    }

    /// The apex of the zone `name` belongs to (longest suffix; the root if none).
    pub fn zone_of(&self, name: &str) -> String {
        let n = norm(name);
        let mut candidate = n.as_str();
        loop {
            if self.zones.contains_key(candidate) {
                return candidate.to_string();
            }
            match candidate.find('.') {
                Some(i) => candidate = &candidate[i + 1..],
                None => return String::new(),
            }
        }
    }

    /// The status of the RRset at `name`/`rtype`: its override, else its zone's. Names only
    /// under the root (no zone of their own) are insecure.
    pub fn status_of(&self, name: &str, rtype: RecordType) -> Status {
        if let Some(s) = self.rrset(name, rtype).and_then(|r| r.status) {
            return s;
        }
        self.zone_status(name)
    }

    /// The status of a denial (NXDOMAIN/NODATA) at `name`.
    pub fn denial_status(&self, name: &str) -> Status {
        self.denials
            .get(&norm(name))
            .copied()
            .unwrap_or_else(|| self.zone_status(name))
    }

    fn zone_status(&self, name: &str) -> Status {
        let apex = self.zone_of(name);
        if apex.is_empty() && !norm(name).is_empty() {
            return Status::Insecure;
        }
        self.zones.get(&apex).copied().unwrap_or(Status::Insecure)
    }

    /// Whether `name` exists (has records, or is an empty non-terminal or a zone apex).
    pub fn name_exists(&self, name: &str) -> bool {
        let n = norm(name);
        n.is_empty() || self.zones.contains_key(&n) || self.existing.contains(&self.rrsets, &n)
    }

    /// The fault configured for `name`/`rtype` (a fault for all types counts too).
    pub fn fault(&self, name: &str, rtype: RecordType) -> Option<&Fault> {
        let n = norm(name);
        self.faults
            .get(&(n.clone(), Some(u16::from(rtype))))
            .or_else(|| self.faults.get(&(n, None)))
    }

    /// The mail server at `addr`, if any.
    pub fn server(&self, addr: IpAddr) -> Option<&MailServer> {
        match self.hosts.get(&addr) {
            Some(Host::Server(s)) => Some(s),
            _ => None,
        }
    }

    /// The RRSIG expiration used for secure RRsets, seconds since the Unix epoch.
    pub fn rrsig_expiration(&self) -> u32 {
        self.rrsig_expiration
    }

    /// Every RRset, in name/type order (for the live driver's address rewriting and tests).
    pub fn rrsets(&self) -> impl Iterator<Item = (&str, RecordType, &RrSet)> {
        self.rrsets
            .iter()
            .map(|((n, t), r)| (n.as_str(), RecordType::from(*t), r))
    }

    /// A copy with every address (A/AAAA data and host keys) mapped through `f`.
    pub fn map_addresses(&self, mut f: impl FnMut(IpAddr) -> IpAddr) -> World {
        let mut w = self.clone();
        for ((_, t), set) in w.rrsets.iter_mut() {
            if *t == u16::from(RecordType::A) || *t == u16::from(RecordType::AAAA) {
                let mut out = Vec::new();
                for r in &set.records {
                    let ip = match r {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(a) => IpAddr::V6(a.0),
                        other => {
                            out.push(other.clone());
                            continue;
                        }
                    };
                    out.push(match f(ip) {
                        IpAddr::V4(v4) => RData::A(A(v4)),
                        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                    });
                }
                set.records = out;
            }
        }
        w.hosts = self
            .hosts
            .iter()
            .map(|(ip, h)| (f(*ip), h.clone()))
            .collect();
        w
    }
}

impl World {
    /// The same data as a resolver that does not validate would give it (unbound with
    /// `module-config: "iterator"`): AD never set, bogus data served as it is, never
    /// SERVFAIL for it, and with DO=1 the RRSIG, NSEC, NSEC3 and DS records passed through
    /// whatever CD says.
    pub fn non_validating_view(&self) -> World {
        self.served_by(ResolverKind::NonValidating)
    }
}

/// Builds a [`World`]; every method takes and returns the builder.
#[derive(Clone, Debug)]
pub struct WorldBuilder {
    world: World,
}

impl WorldBuilder {
    /// Declares a zone at `apex` with a status for all its names.
    pub fn zone(mut self, apex: &str, status: Status) -> Self {
        self.world.zones.insert(norm(apex), status);
        self
    }

    /// Adds one record of any type at `name`.
    pub fn record(mut self, name: &str, rdata: RData) -> Self {
        let key = (norm(name), u16::from(rdata.record_type()));
        let ttl = self.world.ttl;
        self.world.existing = Existing::default();
        self.world
            .rrsets
            .entry(key)
            .or_insert_with(|| RrSet {
                records: Vec::new(),
                ttl,
                status: None,
            })
            .records
            .push(rdata);
        self
    }

    /// Adds a TXT record of one character-string (RFC 1035 sec. 3.3.14), e.g. a TLSRPT
    /// record at `_smtp._tls.<domain>` (RFC 8460 sec. 3).
    pub fn txt(self, name: &str, text: &str) -> Self {
        self.record(
            name,
            RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![text.to_string()])),
        )
    }

    /// Adds an MX record (RFC 5321 sec. 5.1).
    pub fn mx(self, name: &str, preference: u16, exchange: &str) -> Self {
        self.record(name, RData::MX(MX::new(preference, fqdn(exchange))))
    }

    /// Adds an SRV record (RFC 2782); `target` "." is the "no service" target.
    pub fn srv(self, name: &str, priority: u16, weight: u16, port: u16, target: &str) -> Self {
        let target = if target == "." {
            Name::root()
        } else {
            fqdn(target)
        };
        self.record(
            name,
            RData::SRV(hickory_proto::rr::rdata::SRV::new(
                priority, weight, port, target,
            )),
        )
    }

    /// Adds the null MX `0 .` (RFC 7505).
    pub fn null_mx(self, name: &str) -> Self {
        self.record(name, RData::MX(MX::new(0, Name::root())))
    }

    /// Adds an A record.
    pub fn a(self, name: &str, ip: Ipv4Addr) -> Self {
        self.record(name, RData::A(A(ip)))
    }

    /// Adds an AAAA record.
    pub fn aaaa(self, name: &str, ip: Ipv6Addr) -> Self {
        self.record(name, RData::AAAA(AAAA(ip)))
    }

    /// Adds a TLSA record at the owner name given in full (`_25._tcp.mx.example.com`).
    pub fn tlsa(self, owner: &str, rec: &TlsaRecord) -> Self {
        let rdata = RData::TLSA(TLSA::new(
            CertUsage::from(rec.usage),
            Selector::from(rec.selector),
            Matching::from(rec.matching),
            rec.data.clone(),
        ));
        self.record(owner, rdata)
    }

    /// Adds a TLSA record for `host` at `_<smtp port>._tcp.<host>` (RFC 7672 sec. 2.2.3).
    /// Set [`WorldBuilder::smtp_port`] first.
    pub fn tlsa_for(self, host: &str, rec: &TlsaRecord) -> Self {
        let owner = format!("_{}._tcp.{}", self.world.smtp_port, norm(host));
        self.tlsa(&owner, rec)
    }

    /// Makes `name` an alias of `target` (RFC 1034 sec. 3.6.2).
    pub fn cname(self, name: &str, target: &str) -> Self {
        self.record(name, RData::CNAME(CNAME(fqdn(target))))
    }

    /// Makes every name below `name` an alias of the same name below `target` (a DNAME,
    /// RFC 6672 sec. 2). hickory-proto carries DNAME data as an unknown type: the target in
    /// uncompressed wire form (sec. 2.5). Only answers with CD=1 and those of non-validating
    /// resolvers synthesise the CNAME (sec. 3.1).
    pub fn dname(self, name: &str, target: &str) -> Self {
        let wire = hickory_proto::serialize::binary::BinEncodable::to_bytes(&fqdn(target))
            .unwrap_or_default();
        self.record(
            name,
            RData::Unknown {
                code: RecordType::DNAME,
                rdata: hickory_proto::rr::rdata::NULL::with(wire),
            },
        )
    }

    /// Overrides the status of the RRset at `name`/`rtype` (which must exist by now).
    pub fn status(mut self, name: &str, rtype: RecordType, status: Status) -> Self {
        if let Some(set) = self.world.rrsets.get_mut(&(norm(name), u16::from(rtype))) {
            set.status = Some(status);
        }
        self
    }

    /// Overrides the status of denials (NXDOMAIN/NODATA) at `name`.
    pub fn denial(mut self, name: &str, status: Status) -> Self {
        self.world.denials.insert(norm(name), status);
        self
    }

    /// Sets the TTL of the RRset at `name`/`rtype`.
    pub fn ttl_of(mut self, name: &str, rtype: RecordType, ttl: u32) -> Self {
        if let Some(set) = self.world.rrsets.get_mut(&(norm(name), u16::from(rtype))) {
            set.ttl = ttl;
        }
        self
    }

    /// Makes the resolver misbehave for `name`/`rtype`.
    pub fn fault(mut self, name: &str, rtype: RecordType, fault: Fault) -> Self {
        self.world
            .faults
            .insert((norm(name), Some(u16::from(rtype))), fault);
        self
    }

    /// Makes the resolver misbehave for every type at `name`.
    pub fn fault_all(mut self, name: &str, fault: Fault) -> Self {
        self.world.faults.insert((norm(name), None), fault);
        self
    }

    /// Puts a mail server at `addr`.
    pub fn server(mut self, addr: IpAddr, server: MailServer) -> Self {
        self.world
            .hosts
            .insert(addr, Host::Server(Box::new(server)));
        self
    }

    /// Makes connections to `addr` fail with "network unreachable".
    pub fn unreachable(mut self, addr: IpAddr) -> Self {
        self.world.hosts.insert(addr, Host::Unreachable);
        self
    }

    /// Makes connections to `addr` never complete.
    pub fn blackhole(mut self, addr: IpAddr) -> Self {
        self.world.hosts.insert(addr, Host::Blackhole);
        self
    }

    /// Sets the SMTP port (default 25); TLSA owners added afterwards follow it.
    pub fn smtp_port(mut self, port: u16) -> Self {
        self.world.smtp_port = port;
        self
    }

    /// Makes the resolver non-validating: AD is never set (scenario S73).
    pub fn non_validating(mut self) -> Self {
        self.world.resolver = ResolverKind::NonValidating;
        self
    }

    /// Proves denials in the zone at `apex` with NSEC3 (RFC 5155) hashed `iterations` times,
    /// with opt-out over its unsigned delegations when `opt_out` (RFC 5155 sec. 6).
    pub fn nsec3(mut self, apex: &str, iterations: u16, opt_out: bool) -> Self {
        self.world.signing.entry(norm(apex)).or_default().denial = Denial::Nsec3 {
            iterations,
            opt_out,
        };
        self
    }

    /// Puts the zone at `apex` in an algorithm rollover (RFC 6781 sec. 4.1.4): ECDSA P-256
    /// keys beside its Ed25519 ones, every RRset signed with both, and the parent's DS naming
    /// only the P-256 key-signing key.
    pub fn rollover(mut self, apex: &str) -> Self {
        self.world
            .signing
            .entry(norm(apex))
            .or_default()
            .second_algorithm = true;
        self
    }

    /// Gives the DS record of the zone at `apex` this algorithm number instead of its key's
    /// (an algorithm a validator does not implement makes the zone insecure, RFC 4035
    /// sec. 5.2).
    pub fn ds_algorithm(mut self, apex: &str, algorithm: u8) -> Self {
        self.world
            .signing
            .entry(norm(apex))
            .or_default()
            .ds_algorithm = Some(algorithm);
        self
    }

    /// Sets the RRSIG expiration of secure RRsets (seconds since the Unix epoch).
    pub fn rrsig_expiration(mut self, secs: u32) -> Self {
        self.world.rrsig_expiration = secs;
        self
    }

    /// Sets the default TTL for records added afterwards.
    pub fn default_ttl(mut self, ttl: u32) -> Self {
        self.world.ttl = ttl;
        self
    }

    /// Finishes the world (with its index of names, so that its copies share it).
    pub fn build(self) -> World {
        self.world.existing.names(&self.world.rrsets);
        self.world
    }
}
