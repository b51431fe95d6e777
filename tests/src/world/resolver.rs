//! The validating-resolver simulator: answers DNS queries from a [`World`] as real wire
//! messages, the way a validating recursive resolver (unbound) would.
//!
//! - Same id and question, QR=1, RA=1, RD copied (RFC 1035 sec. 4.1.1).
//! - CNAMEs are followed inside the answer (RFC 1034 sec. 4.3.2); a `CNAME` query returns the
//!   alias itself.
//! - AD=1 iff the resolver validates, the query set DO or AD (RFC 6840 sec. 5.7), and every
//!   link of the answer (each CNAME and the final RRset or denial) is secure (RFC 4035
//!   sec. 3.2.3).
//! - NXDOMAIN/NODATA carry the zone's SOA in the authority section (RFC 2308 sec. 2).
//! - Bogus data gives SERVFAIL with an Extended DNS Error option in the OPT record (RFC 8914).
//! - With DO, secure RRsets come with an RRSIG whose expiration is
//!   [`World::rrsig_expiration`]; the signature bytes are dummies (the core trusts AD).
//! - The EDNS OPT record is echoed with DO (RFC 3225); UDP answers larger than the client's
//!   payload size are truncated (TC=1, RFC 6891 sec. 7).
//! - The root `. DNSKEY` (the validating probe, DESIGN.md sec. 4) is secure.
//!
//! All of the above is the validating resolver answering with CD=0. With CD=1 (RFC 4035
//! sec. 3.2.2), and always for a [`ResolverKind::NonValidating`] or
//! [`ResolverKind::Stripping`] world, the answer is the signed zones' data unvalidated
//! ([`super::signed`]): real RRSIGs, DNSKEY, DS, NSEC and NSEC3 records with DO=1, no AD, no
//! SERVFAIL for bogus data; a stripping forwarder removes RRSIG, NSEC, NSEC3 and DS records.

use daneel_core::Transport;
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber};

use super::signed::Zones;
use super::zones::{fqdn, norm, Fault, ResolverKind, Status, World};

/// The longest CNAME chain followed before answering SERVFAIL (a loop guard).
pub const MAX_CNAME_CHAIN: usize = 8;

/// The EDNS option code of an Extended DNS Error (RFC 8914 sec. 2).
pub const EDNS_EDE: u16 = 15;

/// The UDP payload size the simulated resolver advertises.
pub const RESOLVER_PAYLOAD: u16 = 1232;

/// The key tag written into dummy RRSIGs.
const KEY_TAG: u16 = 20326;

/// Answers one query message as the world's validating resolver; `None` means no answer is
/// ever sent (unparseable query or a [`Fault::Timeout`]).
pub fn answer(world: &World, query_wire: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let query = Message::from_vec(query_wire).ok()?;
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
    resp.metadata.recursion_desired = query.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.checking_disabled = query.metadata.checking_disabled;
    resp.add_queries(query.queries.iter().cloned());
    let dnssec_ok = query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    if let Some(qe) = &query.edns {
        let mut e = Edns::new();
        e.set_max_payload(RESOLVER_PAYLOAD);
        e.set_dnssec_ok(qe.flags().dnssec_ok);
        resp.set_edns(e);
    }
    let limit = match &query.edns {
        Some(e) => e.max_payload().max(512),
        None => 512,
    };
    let (Some(q), 1) = (query.queries.first(), query.queries.len()) else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp.to_vec().ok();
    };
    if query.metadata.op_code != OpCode::Query {
        resp.metadata.response_code = ResponseCode::NotImp;
        return resp.to_vec().ok();
    }
    let qtype = q.query_type();
    let mut name = norm(&q.name().to_ascii());
    if query.metadata.checking_disabled || world.resolver_kind() != ResolverKind::Validating {
        return answer_unvalidated(world, resp, name, qtype, transport, limit);
    }
    let mut all_secure = true;
    let mut resolved = false;
    for _ in 0..=MAX_CNAME_CHAIN {
        if let Some(reply) = fault_reply(world, &name, qtype, &resp, transport) {
            return reply;
        }
        let alias = if qtype == RecordType::CNAME {
            None
        } else {
            world.rrset(&name, RecordType::CNAME)
        };
        if let Some(set) = alias {
            let status = world.status_of(&name, RecordType::CNAME);
            if let Status::Bogus(code) = status {
                return servfail(resp, Some(code));
            }
            all_secure &= status == Status::Secure;
            add_rrset(
                world,
                &mut resp,
                &name,
                RecordType::CNAME,
                status,
                dnssec_ok,
            );
            let Some(RData::CNAME(target)) = set.records.first() else {
                break;
            };
            name = norm(&target.0.to_ascii());
            continue;
        }
        let synth_root_key = name.is_empty() && qtype == RecordType::DNSKEY;
        if world.rrset(&name, qtype).is_some() || synth_root_key {
            let status = world.status_of(&name, qtype);
            if let Status::Bogus(code) = status {
                return servfail(resp, Some(code));
            }
            all_secure &= status == Status::Secure;
            add_rrset(world, &mut resp, &name, qtype, status, dnssec_ok);
        } else {
            let status = world.denial_status(&name);
            if let Status::Bogus(code) = status {
                return servfail(resp, Some(code));
            }
            all_secure &= status == Status::Secure;
            if !world.name_exists(&name) {
                resp.metadata.response_code = ResponseCode::NXDomain;
            }
            let apex = world.zone_of(&name);
            let soa = soa_record(&apex);
            resp.add_authority(soa.clone());
            if dnssec_ok && status == Status::Secure {
                resp.add_authority(rrsig(world, &apex, &soa, RecordType::SOA));
            }
        }
        resolved = true;
        break;
    }
    if !resolved {
        return servfail(resp, None);
    }
    resp.metadata.authentic_data =
        world.is_validating() && all_secure && (dnssec_ok || query.metadata.authentic_data);
    finish(resp, transport, limit)
}

/// The wire form of `resp`, truncated (TC=1, no records) when it is larger than `limit` over
/// UDP (RFC 6891 sec. 7).
fn finish(resp: Message, transport: Transport, limit: u16) -> Option<Vec<u8>> {
    let wire = resp.to_vec().ok()?;
    if transport == Transport::Udp && wire.len() > usize::from(limit) {
        let id = resp.metadata.id;
        let mut t = resp.truncate();
        t.metadata.id = id;
        return t.to_vec().ok();
    }
    Some(wire)
}

/// The reply a [`Fault`] configured for `name`/`qtype` gives instead of the answer, if any:
/// `Some(None)` never answers.
fn fault_reply(
    world: &World,
    name: &str,
    qtype: RecordType,
    resp: &Message,
    transport: Transport,
) -> Option<Option<Vec<u8>>> {
    match world.fault(name, qtype) {
        Some(Fault::Timeout) => Some(None),
        Some(Fault::Garbage(bytes)) => Some(Some(bytes.clone())),
        Some(Fault::ServFail) => Some(servfail(resp.clone(), None)),
        Some(Fault::Refused) => {
            let mut resp = resp.clone();
            resp.answers.clear();
            resp.metadata.response_code = ResponseCode::Refused;
            Some(resp.to_vec().ok())
        }
        Some(Fault::Truncate) if transport == Transport::Udp => {
            let id = resp.metadata.id;
            let mut t = resp.clone().truncate();
            t.metadata.id = id;
            Some(t.to_vec().ok())
        }
        Some(Fault::Truncate) | None => None,
    }
}

/// What a stripping forwarder does to a section of an answer (issue 13): removes its
/// RRSIG, NSEC, NSEC3 and DS records, sparing the root DNSKEY's RRSIGs when
/// `keep_root_keys` (then it passes a DNSSEC-capability probe). The world's stripping
/// resolvers and the lab's `strip-dnssec` forwarder both strip with it.
pub fn strip_dnssec(records: &mut Vec<Record>, keep_root_keys: bool) {
    records.retain(|r| {
        let root_keys = keep_root_keys
            && r.name.is_root()
            && matches!(
                &r.data,
                RData::DNSSEC(DNSSECRData::RRSIG(sig))
                    if sig.input().type_covered == RecordType::DNSKEY
            );
        root_keys
            || !matches!(
                r.record_type(),
                RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3 | RecordType::DS
            )
    });
}

/// The answer of a resolver that does not validate this query: CD=1 at a validating
/// resolver (RFC 4035 sec. 3.2.2), or a non-validating or stripping resolver. The signed
/// zones' data as [`super::signed`] holds it, with the RRSIG, NSEC and NSEC3 records only
/// when DO=1 (RFC 3225 sec. 3, RFC 4035 sec. 3.2.1); AD never set, never SERVFAIL for bogus
/// data. A stripping forwarder then removes RRSIG, NSEC, NSEC3 and DS records.
fn answer_unvalidated(
    world: &World,
    mut resp: Message,
    mut name: String,
    qtype: RecordType,
    transport: Transport,
    limit: u16,
) -> Option<Vec<u8>> {
    let dnssec_ok = resp.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let mut resolved = false;
    for _ in 0..=MAX_CNAME_CHAIN {
        if let Some(reply) = fault_reply(world, &name, qtype, &resp, transport) {
            return reply;
        }
        let qname = fqdn(&name);
        let step = Zones::new(world, &qname).lookup(&qname, qtype);
        resp.add_answers(step.answers);
        resp.authorities.extend(step.authority);
        resp.metadata.response_code = if step.nxdomain {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        match step.cname {
            Some(target) if qtype != RecordType::CNAME => name = target,
            _ => {
                resolved = true;
                break;
            }
        }
    }
    if !resolved {
        return servfail(resp, None);
    }
    let keep = |r: &Record| {
        let t = r.record_type();
        let dnssec = matches!(t, RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3);
        dnssec_ok || !dnssec || t == qtype
    };
    resp.answers.retain(keep);
    resp.authorities.retain(keep);
    let strip = match world.resolver_kind() {
        ResolverKind::Stripping => Some(false),
        ResolverKind::SlyStripping => Some(true),
        ResolverKind::Validating | ResolverKind::NonValidating => None,
    };
    if let Some(keep_root_keys) = strip {
        strip_dnssec(&mut resp.answers, keep_root_keys);
        strip_dnssec(&mut resp.authorities, keep_root_keys);
    }
    resp.metadata.authentic_data = false;
    finish(resp, transport, limit)
}

/// SERVFAIL, with an Extended DNS Error when `ede` is set (RFC 8914 sec. 2) and the query
/// carried EDNS.
fn servfail(mut resp: Message, ede: Option<u16>) -> Option<Vec<u8>> {
    resp.answers.clear();
    resp.authorities.clear();
    resp.metadata.response_code = ResponseCode::ServFail;
    resp.metadata.authentic_data = false;
    if let (Some(code), Some(edns)) = (ede, resp.edns.as_mut()) {
        let mut data = code.to_be_bytes().to_vec();
        data.extend_from_slice(b"simulated validation failure");
        edns.options_mut()
            .insert(EdnsOption::Unknown(EDNS_EDE, data));
    }
    resp.to_vec().ok()
}

/// Adds the RRset at `name`/`rtype` (and its RRSIG when secure and DO was set).
fn add_rrset(
    world: &World,
    resp: &mut Message,
    name: &str,
    rtype: RecordType,
    status: Status,
    dnssec_ok: bool,
) {
    let owner = fqdn(name);
    let (records, ttl) = match world.rrset(name, rtype) {
        Some(set) => (set.records.clone(), set.ttl),
        None => (
            vec![RData::DNSSEC(DNSSECRData::DNSKEY(DNSKEY::with_flags(
                257,
                PublicKeyBuf::new(vec![0x42; 64], Algorithm::ECDSAP256SHA256),
            )))],
            172_800,
        ),
    };
    let mut first = None;
    for rdata in records {
        let rec = Record::from_rdata(owner.clone(), ttl, rdata);
        first.get_or_insert_with(|| rec.clone());
        resp.add_answer(rec);
    }
    if let (true, Status::Secure, Some(rec)) = (dnssec_ok, status, first) {
        let apex = world.zone_of(name);
        resp.add_answer(rrsig(world, &apex, &rec, rtype));
    }
}

/// A dummy RRSIG over `covered`'s RRset, signed "by" the zone at `apex`.
fn rrsig(world: &World, apex: &str, covered: &Record, rtype: RecordType) -> Record {
    let expiration = world.rrsig_expiration();
    let input = SigInput {
        type_covered: rtype,
        algorithm: Algorithm::ECDSAP256SHA256,
        num_labels: covered.name.num_labels(),
        original_ttl: covered.ttl,
        sig_expiration: SerialNumber::new(expiration),
        sig_inception: SerialNumber::new(expiration.saturating_sub(30 * 86_400)),
        key_tag: KEY_TAG,
        signer_name: fqdn(apex),
    };
    let sig = RRSIG::from_sig(input, vec![0x5a; 64]);
    Record::from_rdata(
        covered.name.clone(),
        covered.ttl,
        RData::DNSSEC(DNSSECRData::RRSIG(sig)),
    )
}

/// The SOA of the zone at `apex` (negative TTL 300, RFC 2308 sec. 5).
pub(super) fn soa_record(apex: &str) -> Record {
    let zone = fqdn(apex);
    let mname = Name::from_ascii("ns1")
        .ok()
        .and_then(|n| n.append_domain(&zone).ok())
        .unwrap_or_else(Name::root);
    let rname = Name::from_ascii("hostmaster")
        .ok()
        .and_then(|n| n.append_domain(&zone).ok())
        .unwrap_or_else(Name::root);
    Record::from_rdata(
        zone,
        300,
        RData::SOA(SOA::new(
            mname,
            rname,
            2_026_010_101,
            7200,
            3600,
            1_209_600,
            300,
        )),
    )
}
