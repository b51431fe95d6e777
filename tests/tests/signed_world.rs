//! The signed world (issue 13) checked with the core's DNSSEC primitives directly: every
//! answer is asked with CD=1 and DO=1 as wire bytes, parsed back, and judged by a small
//! top-down walker built here on `TrustChain` (`add_anchored`, `add_delegation`,
//! `add_insecure_delegation`, `rrset`, `prove_denial`, `prove_denial3`). The status it
//! finds must be the one the world means: the catalogue's `Status` values, and each signed
//! scenario's expectations. The core's own walker replaces this one in `validate_catalogue`.

use std::collections::BTreeMap;

use daneel_core::dnssec::{
    parse_anchors, prove_denial, prove_denial3, prove_wildcard_expansion,
    prove_wildcard_expansion3, Denial, NoDsProof, Nsec3Denial, Nsec3Expansion, Nsec3Record,
    NsecRecord, RrsetStatus, SignedRrset, TrustChain, ZoneKeys,
};
use daneel_core::{Timestamp, Transport};
use daneel_tests::world::catalogue::{self, SIM_START};
use daneel_tests::world::mua;
use daneel_tests::world::resolver::answer;
use daneel_tests::world::signed_catalogue::signed_scenarios;
use daneel_tests::world::{ResolverKind, Status, World};
use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// What the walker finds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Found {
    Secure,
    Insecure,
    Bogus(String),
}

impl Found {
    fn rank(&self) -> u8 {
        match self {
            Found::Secure => 0,
            Found::Insecure => 1,
            Found::Bogus(_) => 2,
        }
    }

    /// The worse of two statuses (a chain is as good as its worst link).
    fn and(self, other: Found) -> Found {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    fn matches(&self, status: Status) -> bool {
        matches!(
            (self, status),
            (Found::Secure, Status::Secure)
                | (Found::Insecure, Status::Insecure)
                | (Found::Bogus(_), Status::Bogus(_))
        )
    }
}

fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap();
    n.set_fqdn(true);
    n
}

/// A top-down validator over one world's resolver.
struct Walker {
    world: World,
    chain: TrustChain,
    /// The zones found so far, deepest last: apex and whether it is secure.
    cuts: BTreeMap<Name, bool>,
    queries: usize,
}

impl Walker {
    /// A walker through `world` served by a resolver of `kind`, anchored at the world's
    /// trust anchor, at `now`.
    fn new(world: &World, kind: ResolverKind, now: Timestamp) -> Result<Walker, Found> {
        let anchors = parse_anchors(&world.trust_anchor_line()).expect("the anchor parses");
        let mut w = Walker {
            world: world.served_by(kind),
            chain: TrustChain::new(anchors, now),
            cuts: BTreeMap::new(),
            queries: 0,
        };
        let root = Name::root();
        let msg = w.ask(&root, RecordType::DNSKEY);
        let keys = w.rrset(&msg, &root, RecordType::DNSKEY);
        match w.chain.add_anchored(&root, &keys) {
            ZoneKeys::Secure(_) => {
                w.cuts.insert(root, true);
                Ok(w)
            }
            other => Err(Found::Bogus(format!("root keys {other:?}"))),
        }
    }

    /// The world's answer to `qname`/`qtype` with CD=1 and DO=1, through the wire.
    fn ask(&mut self, qname: &Name, qtype: RecordType) -> Message {
        self.queries += 1;
        let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.checking_disabled = true;
        m.add_query(Query::query(qname.clone(), qtype));
        let mut e = Edns::new();
        e.set_dnssec_ok(true).set_max_payload(4096);
        m.set_edns(e);
        let wire = answer(&self.world, &m.to_vec().unwrap(), Transport::Tcp).expect("an answer");
        let resp = Message::from_vec(&wire).expect("the answer parses");
        assert!(!resp.metadata.authentic_data, "AD with CD=1");
        resp
    }

    /// The RRset `owner`/`rtype` of the answer section, with the RRSIGs covering it.
    fn rrset(&self, msg: &Message, owner: &Name, rtype: RecordType) -> SignedRrset {
        signed_rrset(&msg.answers, owner, rtype)
    }

    /// The deepest zone found at or above `name`.
    fn zone_above(&self, name: &Name) -> (Name, bool) {
        let mut at = name.clone();
        loop {
            if let Some(secure) = self.cuts.get(&at) {
                return (at, *secure);
            }
            at = at.base_name();
        }
    }

    /// Finds the zone cuts from the root down to `target` (asking DS at each ancestor): the
    /// zone `target` is in, or why that fails.
    fn descend(&mut self, target: &Name) -> Result<Name, Found> {
        for depth in 1..=target.num_labels() {
            let cut = target.trim_to(usize::from(depth));
            let (parent, secure) = self.zone_above(&cut);
            if !secure {
                return Ok(parent);
            }
            if self.cuts.contains_key(&cut) {
                continue;
            }
            let msg = self.ask(&cut, RecordType::DS);
            let ds = self.rrset(&msg, &cut, RecordType::DS);
            if !ds.records.is_empty() {
                let keys_msg = self.ask(&cut, RecordType::DNSKEY);
                let keys = self.rrset(&keys_msg, &cut, RecordType::DNSKEY);
                match self.chain.add_delegation(&parent, &cut, &ds, &keys) {
                    Ok(ZoneKeys::Secure(_)) => self.cuts.insert(cut.clone(), true),
                    Ok(ZoneKeys::Insecure) => self.cuts.insert(cut.clone(), false),
                    Ok(ZoneKeys::Bogus(e)) => {
                        return Err(Found::Bogus(format!("{cut} keys {e:?}")))
                    }
                    Err(e) => return Err(Found::Bogus(format!("{cut} DS {e:?}"))),
                };
                continue;
            }
            let (nsecs, nsec3s) = denial_records(&msg.authorities.clone());
            if nsecs.is_empty() && nsec3s.is_empty() {
                return Err(Found::Bogus(format!("no DS and no proof at {cut}")));
            }
            let cut_here = nsecs.iter().any(|(n, _)| {
                n.owner == cut
                    && n.nsec.type_set().contains(RecordType::NS)
                    && !n.nsec.type_set().contains(RecordType::SOA)
            }) || nsec3_cut(&cut, &parent, &nsec3s);
            if !cut_here {
                continue;
            }
            let proof = if nsecs.is_empty() {
                NoDsProof::Nsec3(nsec3s)
            } else {
                NoDsProof::Nsec(nsecs)
            };
            match self.chain.add_insecure_delegation(&parent, &cut, &proof) {
                Ok(_) => {
                    self.cuts.insert(cut.clone(), false);
                }
                Err(e) => return Err(Found::Bogus(format!("{cut} no-DS proof {e:?}"))),
            }
        }
        Ok(self.zone_above(target).0)
    }

    /// What a correct validator finds for `qname`/`qtype`: each CNAME link and the final
    /// RRset or denial by its own zone, the worst of them.
    fn status(&mut self, qname: &Name, qtype: RecordType) -> Found {
        let msg = self.ask(qname, qtype);
        if msg.metadata.response_code != ResponseCode::NoError
            && msg.metadata.response_code != ResponseCode::NXDomain
        {
            return Found::Bogus(format!("rcode {}", msg.metadata.response_code));
        }
        let mut found = Found::Secure;
        let mut at = qname.clone();
        let authority = msg.authorities.clone();
        for _ in 0..=8 {
            let (rtype, set) = [qtype, RecordType::CNAME]
                .into_iter()
                .map(|t| (t, signed_rrset(&msg.answers, &at, t)))
                .find(|(_, s)| !s.records.is_empty())
                .unwrap_or((qtype, SignedRrset::default()));
            if set.records.is_empty() {
                return found.and(self.denial(&at, qtype, &authority));
            }
            let link = match dname_behind(&msg.answers, &set) {
                // RFC 6672 sec. 5.3.1: an unsigned CNAME synthesised from a DNAME counts as
                // the DNAME's substitution; the DNAME RRset is what must validate.
                Some(dname) => {
                    let dnames = signed_rrset(&msg.answers, &dname, RecordType::DNAME);
                    self.positive(&dname, RecordType::DNAME, &dnames, &authority)
                }
                None => self.positive(&at, rtype, &set, &authority),
            };
            found = found.and(link);
            match (&set.records[0].data, rtype) {
                (RData::CNAME(target), RecordType::CNAME) if qtype != RecordType::CNAME => {
                    at = target.0.clone();
                }
                _ => return found,
            }
        }
        Found::Bogus("CNAME loop".into())
    }

    /// The zone to judge an RRset of `owner` in: its RRSIG's signer when that is an ancestor
    /// (the walk goes down to it), else the owner itself (for unsigned data, the walk finds
    /// the insecure cut above it, or none: then it is bogus). Whether that zone is secure.
    fn zone_for(&mut self, owner: &Name, rrsigs: &[RRSIG]) -> Result<(Name, bool), Found> {
        let target = rrsigs
            .iter()
            .map(|s| s.input().signer_name.clone())
            .find(|z| z.zone_of(owner))
            .unwrap_or_else(|| owner.clone());
        self.descend(&target)?;
        Ok(self.zone_above(&target))
    }

    fn positive(
        &mut self,
        owner: &Name,
        rtype: RecordType,
        set: &SignedRrset,
        authority: &[Record],
    ) -> Found {
        let zone = match self.zone_for(owner, &set.rrsigs) {
            Ok((_, false)) => return Found::Insecure,
            Ok((z, true)) => z,
            Err(f) => return f,
        };
        match self.chain.rrset(owner, rtype, set) {
            RrsetStatus::Secure(by) if by.wildcard => {
                let labels = set
                    .rrsigs
                    .iter()
                    .map(|s| s.input().num_labels)
                    .min()
                    .unwrap_or(0);
                self.wildcard(owner, labels, &zone, authority)
            }
            RrsetStatus::Secure(_) => Found::Secure,
            RrsetStatus::Insecure => Found::Insecure,
            RrsetStatus::Bogus(e) => Found::Bogus(format!("{owner} {rtype}: {e:?}")),
            RrsetStatus::NeedZone(z) => Found::Bogus(format!("{owner} {rtype} signed by {z}")),
        }
    }

    /// A wildcard expansion needs the proof that the name itself does not exist (RFC 4035
    /// sec. 5.3.4, RFC 5155 sec. 8.8).
    fn wildcard(&mut self, owner: &Name, labels: u8, zone: &Name, authority: &[Record]) -> Found {
        let (nsecs, nsec3s) = match self.validated_denials(zone, authority) {
            Ok(d) => d,
            Err(f) => return f,
        };
        if !nsecs.is_empty() {
            return match prove_wildcard_expansion(owner, labels, zone, &nsecs) {
                Ok(()) => Found::Secure,
                Err(e) => Found::Bogus(format!("wildcard {owner}: {e:?}")),
            };
        }
        match prove_wildcard_expansion3(owner, labels, zone, &nsec3s) {
            Ok(Nsec3Expansion::Proven) => Found::Secure,
            Ok(Nsec3Expansion::TooManyIterations { .. } | Nsec3Expansion::OptOut) => {
                Found::Insecure
            }
            Err(e) => Found::Bogus(format!("wildcard {owner}: {e:?}")),
        }
    }

    /// The NSEC and NSEC3 records of the authority section, each validated with `zone`'s
    /// keys.
    fn validated_denials(
        &self,
        zone: &Name,
        authority: &[Record],
    ) -> Result<(Vec<NsecRecord>, Vec<Nsec3Record>), Found> {
        let (nsecs, nsec3s) = denial_records(authority);
        let mut out = (Vec::new(), Vec::new());
        for (n, sigs) in nsecs {
            let data = RData::DNSSEC(DNSSECRData::NSEC(n.nsec.clone()));
            self.check(&n.owner, RecordType::NSEC, data, sigs, zone)?;
            out.0.push(n);
        }
        for (n, sigs) in nsec3s {
            let data = RData::DNSSEC(DNSSECRData::NSEC3(n.nsec3.clone()));
            self.check(&n.owner, RecordType::NSEC3, data, sigs, zone)?;
            out.1.push(n);
        }
        Ok(out)
    }

    fn check(
        &self,
        owner: &Name,
        rtype: RecordType,
        data: RData,
        rrsigs: Vec<RRSIG>,
        zone: &Name,
    ) -> Result<(), Found> {
        let set = SignedRrset {
            records: vec![Record::from_rdata(owner.clone(), 300, data)],
            rrsigs,
        };
        match self.chain.rrset(owner, rtype, &set) {
            RrsetStatus::Secure(by) if by.signer == *zone => Ok(()),
            other => Err(Found::Bogus(format!("{rtype} {owner}: {other:?}"))),
        }
    }

    fn denial(&mut self, qname: &Name, qtype: RecordType, authority: &[Record]) -> Found {
        let soa_sigs: Vec<RRSIG> = authority
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s))
                    if s.input().type_covered == RecordType::SOA =>
                {
                    Some(s.clone())
                }
                _ => None,
            })
            .collect();
        let zone = match self.zone_for(qname, &soa_sigs) {
            Ok((_, false)) => return Found::Insecure,
            Ok((z, true)) => z,
            Err(f) => return f,
        };
        let (nsecs, nsec3s) = match self.validated_denials(&zone, authority) {
            Ok(d) => d,
            Err(f) => return f,
        };
        if nsecs.is_empty() && nsec3s.is_empty() {
            return Found::Bogus(format!("{qname} {qtype}: no NSEC or NSEC3 proof"));
        }
        if !nsecs.is_empty() {
            return match prove_denial(qname, qtype, &zone, &nsecs) {
                Ok(Denial::NoData | Denial::NoName { .. } | Denial::WildcardNoData { .. }) => {
                    Found::Secure
                }
                Err(e) => Found::Bogus(format!("{qname} {qtype}: {e:?}")),
            };
        }
        match prove_denial3(qname, qtype, &zone, &nsec3s) {
            Ok(
                Nsec3Denial::NoData
                | Nsec3Denial::NoName { .. }
                | Nsec3Denial::WildcardNoData { .. },
            ) => Found::Secure,
            Ok(Nsec3Denial::OptOut { .. } | Nsec3Denial::TooManyIterations { .. }) => {
                Found::Insecure
            }
            Err(e) => Found::Bogus(format!("{qname} {qtype}: {e:?}")),
        }
    }
}

fn signed_rrset(records: &[Record], owner: &Name, rtype: RecordType) -> SignedRrset {
    let mut set = SignedRrset::default();
    for r in records.iter().filter(|r| r.name == *owner) {
        match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype => {
                set.rrsigs.push(s.clone())
            }
            _ if r.record_type() == rtype => set.records.push(r.clone()),
            _ => {}
        }
    }
    set
}

/// The owner of the DNAME of `answers` that synthesised the unsigned CNAME RRset `cname`:
/// the CNAME's owner is below it and its target is the owner with the DNAME's owner
/// replaced by the DNAME's target (RFC 6672 sec. 2.2).
fn dname_behind(answers: &[Record], cname: &SignedRrset) -> Option<Name> {
    let record = cname.records.first()?;
    let RData::CNAME(target) = &record.data else {
        return None;
    };
    if !cname.rrsigs.is_empty() {
        return None;
    }
    answers.iter().find_map(|r| {
        let RData::Unknown { code, rdata } = &r.data else {
            return None;
        };
        if *code != RecordType::DNAME || r.name == record.name || !r.name.zone_of(&record.name) {
            return None;
        }
        let mut decoder = hickory_proto::serialize::binary::BinDecoder::new(&rdata.anything);
        let to: Name = hickory_proto::serialize::binary::BinDecodable::read(&mut decoder).ok()?;
        let keep = usize::from(record.name.num_labels() - r.name.num_labels());
        let substituted = Name::from_labels(record.name.iter().take(keep))
            .ok()?
            .append_name(&to)
            .ok()?;
        (substituted == target.0).then(|| r.name.clone())
    })
}

/// The NSEC and NSEC3 records of `records`, each with its RRSIGs.
#[allow(clippy::type_complexity)]
fn denial_records(
    records: &[Record],
) -> (
    Vec<(NsecRecord, Vec<RRSIG>)>,
    Vec<(Nsec3Record, Vec<RRSIG>)>,
) {
    let sigs = |owner: &Name, t: RecordType| signed_rrset(records, owner, t).rrsigs;
    let mut nsecs = Vec::new();
    let mut nsec3s = Vec::new();
    for r in records {
        match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(n)) => nsecs.push((
                NsecRecord {
                    owner: r.name.clone(),
                    nsec: n.clone(),
                },
                sigs(&r.name, RecordType::NSEC),
            )),
            RData::DNSSEC(DNSSECRData::NSEC3(n)) => nsec3s.push((
                Nsec3Record {
                    owner: r.name.clone(),
                    nsec3: n.clone(),
                },
                sigs(&r.name, RecordType::NSEC3),
            )),
            _ => {}
        }
    }
    (nsecs, nsec3s)
}

/// Whether the NSEC3 records show a delegation at `cut` in `zone`: one matches it with NS
/// and without SOA, or the opt-out proof covers it (RFC 5155 sec. 8.6).
fn nsec3_cut(cut: &Name, zone: &Name, nsec3s: &[(Nsec3Record, Vec<RRSIG>)]) -> bool {
    let records: Vec<Nsec3Record> = nsec3s.iter().map(|(n, _)| n.clone()).collect();
    match prove_denial3(cut, RecordType::DS, zone, &records) {
        Ok(Nsec3Denial::OptOut { .. } | Nsec3Denial::TooManyIterations { .. }) => true,
        Ok(Nsec3Denial::NoData) => records.iter().any(|r| {
            let types = r.nsec3.type_set();
            let hash = r
                .nsec3
                .hash_algorithm()
                .hash(r.nsec3.salt(), cut, r.nsec3.iterations())
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default();
            let label = data_encoding::BASE32HEX_NOPAD
                .encode(&hash)
                .to_ascii_lowercase();
            r.owner.iter().next().map(|l| l.to_ascii_lowercase()) == Some(label.into_bytes())
                && types.contains(RecordType::NS)
                && !types.contains(RecordType::SOA)
        }),
        _ => false,
    }
}

/// The status the world means for `qname`/`qtype` as its validating resolver decides it: each
/// CNAME link and the final RRset or denial, the worst of them (bogus anywhere is SERVFAIL,
/// AD only when all are secure); `None` when a fault answers instead.
fn intended(world: &World, qname: &str, qtype: RecordType) -> Option<Status> {
    let worse = |a: Status, b: Status| {
        let rank = |s: Status| match s {
            Status::Secure => 0,
            Status::Insecure => 1,
            Status::Bogus(_) => 2,
        };
        if rank(b) > rank(a) {
            b
        } else {
            a
        }
    };
    let mut name = daneel_tests::world::norm_name(qname);
    let mut status = Status::Secure;
    for _ in 0..=8 {
        if world.fault(&name, qtype).is_some() {
            return None;
        }
        let alias = world
            .rrset(&name, RecordType::CNAME)
            .filter(|_| qtype != RecordType::CNAME);
        if let Some(set) = alias {
            status = worse(status, world.status_of(&name, RecordType::CNAME));
            match set.records.first() {
                Some(RData::CNAME(t)) => name = daneel_tests::world::norm_name(&t.0.to_ascii()),
                _ => return None,
            }
            continue;
        }
        return Some(if world.rrset(&name, qtype).is_some() {
            worse(status, world.status_of(&name, qtype))
        } else {
            worse(status, world.denial_status(&name))
        });
    }
    None
}

/// Each signed scenario's lookups come out as it says, through the non-validating resolver
/// and through CD=1 at the validating one, judged at the catalogue's clock.
#[test]
fn signed_scenarios_validate_to_their_lookups() {
    let ids: Vec<&str> = signed_scenarios().iter().map(|s| s.scenario.id).collect();
    let expected: Vec<String> = (1..=ids.len()).map(|i| format!("V{i:02}")).collect();
    assert_eq!(ids, expected, "ids in order, none twice");
    let mut wrong = Vec::new();
    for s in signed_scenarios() {
        for kind in [ResolverKind::NonValidating, ResolverKind::Validating] {
            let mut walker = match Walker::new(&s.scenario.world, kind, SIM_START) {
                Ok(w) => w,
                Err(f) => panic!("{}: {f:?}", s.scenario.id),
            };
            for l in &s.lookups {
                let got = walker.status(&name(&l.name), l.rtype);
                if !got.matches(l.status) {
                    wrong.push(format!(
                        "{} {:?} {} {}: {got:?}, meant {:?}",
                        s.scenario.id, kind, l.name, l.rtype, l.status
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Behind the stripping forwarder no signed answer is secure or insecure (issue 13): the plain
/// one strips the root keys' RRSIGs, so the chain cannot even start; the sly one spares them,
/// and then every lookup of a signed zone is bogus, never an insecure delegation.
#[test]
fn behind_a_stripping_forwarder_every_signed_answer_is_bogus() {
    let mut judged = 0;
    for s in signed_scenarios() {
        let plain = Walker::new(&s.scenario.world, ResolverKind::Stripping, SIM_START);
        assert!(
            matches!(plain, Err(Found::Bogus(_))),
            "{}: the root keys without their RRSIGs must be bogus",
            s.scenario.id
        );
        let Ok(mut walker) = Walker::new(&s.scenario.world, ResolverKind::SlyStripping, SIM_START)
        else {
            panic!(
                "{}: the sly forwarder keeps the root keys' RRSIGs",
                s.scenario.id
            );
        };
        for l in &s.lookups {
            let got = walker.status(&name(&l.name), l.rtype);
            judged += 1;
            assert!(
                matches!(got, Found::Bogus(_)),
                "{} {} {}: {got:?}",
                s.scenario.id,
                l.name,
                l.rtype
            );
        }
    }
    assert!(judged > 0, "no lookup was judged");
}

/// The signed scenarios whose statuses the world states faithfully reach the same verdict
/// when the check trusts the AD bit of the world's validating resolver: their expected
/// verdicts are the catalogue's rules, not guesses.
#[test]
fn signed_scenarios_that_statuses_describe_reach_their_verdict_with_trust_ad() {
    let mut wrong = Vec::new();
    for s in signed_scenarios()
        .into_iter()
        .filter(|s| s.same_with_trust_ad)
    {
        let config = s.scenario.config(catalogue::SIM_RESOLVER);
        let machine = Box::new(
            daneel_core::check::SmtpCheck::new(config, daneel_core::Seed(0x5eed), SIM_START)
                .expect("a check"),
        );
        let (report, mismatches, _) = s.scenario.run(machine).expect("the run ends");
        if !mismatches.is_empty() {
            wrong.push(format!(
                "{}: {mismatches:?} ({:?})",
                s.scenario.id, report.verdict
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The catalogue lookups whose status no real DNSSEC data can give, with why: the world
/// says something a signed zone cannot (an Insecure RRset is an unsigned delegation, which
/// makes its whole owner insecure; a zone apex cannot be delegated away).
const UNREPRESENTABLE: &[(&str, &str)] = &[
    (
        "S12 _25._tcp.mx.example.net TXT",
        "the insecure TLSA NODATA is an unsigned delegation at its owner (RFC 4035 sec. 5.2), so the TXT RRset there is insecure too",
    ),
    (
        "S27 example.com MX",
        "an insecure denial at a signed zone's apex cannot be: the apex NSEC is signed by the zone (RFC 4035 sec. 2.3), so it stays secure",
    ),
    (
        "S27 example.com AAAA",
        "the same apex denial (RFC 4035 sec. 2.3)",
    ),
    (
        "X23 _25._tcp.mx.example.net TLSA",
        "hickory-proto's signing encoder stops at 65,535 octets and the canonical form of 970 TLSA records is longer: served unsigned in a signed zone, bogus (RFC 4035 sec. 4.3, 5.5)",
    ),
    ("X24 mx.example.net A", MIXED_ADDRESSES),
    ("X24 _25._tcp.mx.example.net TLSA", MIXED_ADDRESSES),
    ("X25 mx.example.net A", MIXED_ADDRESSES),
    ("X25 _25._tcp.mx.example.net TLSA", MIXED_ADDRESSES),
    ("X26 mx.example.net AAAA", MIXED_ADDRESSES),
    ("X26 _25._tcp.mx.example.net TLSA", MIXED_ADDRESSES),
    ("X27 mx.example.net AAAA", MIXED_ADDRESSES),
    ("X27 _25._tcp.mx.example.net TLSA", MIXED_ADDRESSES),
];

/// Why X24-X27 (A and AAAA of one host with different statuses) cannot be signed as stated.
const MIXED_ADDRESSES: &str = "one owner's A and AAAA RRsets cannot differ in security within a zone: the insecure one is an unsigned delegation at the owner, which makes its other RRsets and its TLSA insecure too (RFC 4035 sec. 5.2)";

/// Every lookup of every catalogue world (each RRset, the TLSA and address lookups of each
/// host, the MX of each domain) validates, from the world's trust anchor with the core's
/// primitives, to the status the world means: the signed data is what the statuses say.
#[test]
fn every_catalogue_lookup_validates_to_the_status_the_world_means() {
    let mut wrong = Vec::new();
    let mut unrepresentable = Vec::new();
    let mut asked = 0;
    let worlds: Vec<(String, World)> = catalogue::all()
        .into_iter()
        .map(|s| (s.id.to_string(), s.world))
        .chain(mua::all().into_iter().map(|s| (s.id.to_string(), s.world)))
        .chain([
            ("demo".to_string(), daneel_tests::demo::world(25)),
            (
                "many-mx".to_string(),
                daneel_tests::world::bulk::many_mx(4, 2),
            ),
        ])
        .collect();
    for (id, world) in &worlds {
        let mut questions: Vec<(String, RecordType)> =
            world.rrsets().map(|(n, t, _)| (n.to_string(), t)).collect();
        for (owner, t, _) in world.rrsets() {
            if matches!(t, RecordType::A | RecordType::AAAA | RecordType::CNAME) {
                for q in [RecordType::A, RecordType::AAAA] {
                    questions.push((owner.to_string(), q));
                }
                questions.push((
                    format!("_{}._tcp.{owner}", world.smtp_port()),
                    RecordType::TLSA,
                ));
            }
            if t == RecordType::MX {
                questions.push((owner.to_string(), RecordType::MX));
            }
        }
        questions.push(("example.com".into(), RecordType::MX));
        questions.sort();
        questions.dedup();
        let mut walker = Walker::new(world, ResolverKind::NonValidating, SIM_START)
            .unwrap_or_else(|f| panic!("{id}: {f:?}"));
        for (qname, qtype) in questions {
            let Some(meant) = intended(world, &qname, qtype) else {
                continue;
            };
            asked += 1;
            let got = walker.status(&name(&qname), qtype);
            if !got.matches(meant) {
                let key = format!("{id} {qname} {qtype}");
                if UNREPRESENTABLE.iter().any(|(k, _)| *k == key) {
                    unrepresentable.push(key);
                } else {
                    wrong.push(format!("{key}: {got:?}, meant {meant:?}"));
                }
            }
        }
    }
    assert!(asked > 300, "only {asked} lookups");
    assert!(wrong.is_empty(), "{} wrong: {wrong:#?}", wrong.len());
    let mut listed: Vec<&str> = UNREPRESENTABLE.iter().map(|(k, _)| *k).collect();
    listed.sort_unstable();
    unrepresentable.sort();
    assert_eq!(unrepresentable, listed, "the list of exceptions is exact");
}

/// A query for `qname`/`qtype` with the given CD and DO bits.
fn query(qname: &str, qtype: RecordType, cd: bool, dnssec_ok: bool) -> Vec<u8> {
    let mut m = Message::new(0x7373, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(name(qname), qtype));
    let mut e = Edns::new();
    e.set_dnssec_ok(dnssec_ok).set_max_payload(4096);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn ask(world: &World, qname: &str, qtype: RecordType, cd: bool, dnssec_ok: bool) -> Message {
    let wire = answer(world, &query(qname, qtype, cd, dnssec_ok), Transport::Tcp).unwrap();
    Message::from_vec(&wire).unwrap()
}

fn types(records: &[Record]) -> Vec<RecordType> {
    records.iter().map(|r| r.record_type()).collect()
}

fn scenario(id: &str) -> World {
    signed_scenarios()
        .into_iter()
        .find(|s| s.scenario.id == id)
        .unwrap()
        .scenario
        .world
}

/// The world's trust anchor is the DS of the root's KSK as a presentation line, which
/// `parse_anchors` takes, and the root's DNSKEY RRset carries that key.
#[test]
fn the_trust_anchor_is_a_ds_line_for_the_root_key() {
    let world = scenario("V01");
    let line = world.trust_anchor_line();
    assert!(line.starts_with(". IN DS "), "{line}");
    assert!(line.contains(" 15 2 "), "Ed25519, SHA-256: {line}");
    let anchors = parse_anchors(&line).unwrap();
    let keys = ask(&world, ".", RecordType::DNSKEY, true, true);
    let mut chain = TrustChain::new(anchors, SIM_START);
    let root = Name::root();
    let set = signed_rrset(&keys.answers, &root, RecordType::DNSKEY);
    assert_eq!(set.records.len(), 2, "KSK and ZSK");
    assert!(matches!(
        chain.add_anchored(&root, &set),
        ZoneKeys::Secure(_)
    ));
    // The same keys every time: they are derived from the zone's name.
    assert_eq!(scenario("V08").trust_anchor_line(), line);
}

/// RFC 4035 sec. 3.2.2: with CD=1 the validating resolver returns bogus data as it is,
/// without AD; with CD=0 it still answers SERVFAIL with the Extended DNS Error, and a secure
/// answer still has AD (the AD-bit path is unchanged).
#[test]
fn checking_disabled_at_the_validating_resolver_serves_data_unvalidated() {
    let world = scenario("V12");
    let tlsa = "_25._tcp.mx.example.net";
    let plain = ask(&world, tlsa, RecordType::TLSA, false, true);
    assert_eq!(plain.metadata.response_code, ResponseCode::ServFail);
    let raw = ask(&world, tlsa, RecordType::TLSA, true, true);
    assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
    assert!(!raw.metadata.authentic_data);
    assert!(
        raw.metadata.checking_disabled,
        "CD copied (RFC 4035 sec. 3.1.6)"
    );
    assert_eq!(types(&raw.answers), [RecordType::TLSA, RecordType::RRSIG]);
    let secure = ask(&world, "mx.example.net", RecordType::A, false, true);
    assert!(secure.metadata.authentic_data);
    let secure_raw = ask(&world, "mx.example.net", RecordType::A, true, true);
    assert!(!secure_raw.metadata.authentic_data);
}

/// The non-validating resolver never sets AD and never fails bogus data; it passes RRSIG,
/// NSEC and DS records with DO=1, whatever CD says, and none without DO (RFC 3225 sec. 3).
#[test]
fn the_non_validating_resolver_passes_dnssec_records_with_do_only() {
    let world = scenario("V12").served_by(ResolverKind::NonValidating);
    let tlsa = "_25._tcp.mx.example.net";
    for cd in [false, true] {
        let m = ask(&world, tlsa, RecordType::TLSA, cd, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(!m.metadata.authentic_data);
        assert_eq!(types(&m.answers), [RecordType::TLSA, RecordType::RRSIG]);
        let ds = ask(&world, "example.net", RecordType::DS, cd, true);
        assert_eq!(types(&ds.answers), [RecordType::DS, RecordType::RRSIG]);
        let nodata = ask(&world, "mx.example.net", RecordType::AAAA, cd, true);
        assert_eq!(
            types(&nodata.authorities),
            [
                RecordType::SOA,
                RecordType::RRSIG,
                RecordType::NSEC,
                RecordType::RRSIG
            ]
        );
    }
    let no_do = ask(&world, tlsa, RecordType::TLSA, false, false);
    assert_eq!(types(&no_do.answers), [RecordType::TLSA]);
}

/// The stripping forwarder removes RRSIG, NSEC, NSEC3 and DS records from every answer.
#[test]
fn the_stripping_forwarder_removes_every_dnssec_record() {
    for id in ["V01", "V12"] {
        let world = scenario(id).served_by(ResolverKind::Stripping);
        for (qname, qtype) in [
            ("_25._tcp.mx.example.net", RecordType::TLSA),
            ("mx.example.net", RecordType::AAAA),
            ("example.net", RecordType::DS),
            ("example.net", RecordType::DNSKEY),
        ] {
            let m = ask(&world, qname, qtype, true, true);
            assert!(!m.metadata.authentic_data);
            for r in m.answers.iter().chain(&m.authorities) {
                assert!(
                    !matches!(
                        r.record_type(),
                        RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3 | RecordType::DS
                    ),
                    "{id} {qname} {qtype}: {r}"
                );
            }
        }
    }
}

/// A wildcard expansion carries the RRSIG of the wildcard, its label count below the
/// owner's (RFC 4035 sec. 3.1.3.3), and the NSEC that proves the name itself absent.
#[test]
fn a_wildcard_answer_has_the_wildcard_label_count_and_its_proof() {
    let world = scenario("V04");
    let m = ask(
        &world,
        "_25._tcp.mx.example.net",
        RecordType::TLSA,
        true,
        true,
    );
    let owner = name("_25._tcp.mx.example.net");
    let set = signed_rrset(&m.answers, &owner, RecordType::TLSA);
    assert_eq!(set.records.len(), 1);
    assert!(set.records.iter().all(|r| r.name == owner));
    assert_eq!(set.rrsigs[0].input().num_labels, owner.num_labels() - 1);
    assert_eq!(types(&m.authorities), [RecordType::NSEC, RecordType::RRSIG]);
}

/// An insecure zone under a signed parent: the parent's NSEC at the child has NS and
/// neither DS nor SOA (RFC 4035 sec. 5.2; RFC 6840 sec. 4.4), signed by the parent.
#[test]
fn an_insecure_delegation_is_proven_by_the_parents_signed_nsec() {
    let world = scenario("V07");
    let m = ask(&world, "unsigned.net", RecordType::DS, true, true);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let (nsecs, _) = denial_records(&m.authorities);
    let (at, sigs) = nsecs
        .iter()
        .find(|(n, _)| n.owner == name("unsigned.net"))
        .expect("the NSEC at the delegation");
    let t = at.nsec.type_set();
    assert!(t.contains(RecordType::NS));
    assert!(!t.contains(RecordType::DS) && !t.contains(RecordType::SOA));
    assert_eq!(sigs[0].input().signer_name, Name::root());
}
