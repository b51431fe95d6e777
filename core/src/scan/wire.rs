//! The few DNS wire facts the scan's shared cache needs, read without a full parse (RFC 1035
//! sec. 4.1): a query's question, whether an answer matches it, the time an answer may be
//! reused (RFC 2181 sec. 5.2 and 8, RFC 2308 sec. 5), and the copy of an answer re-keyed to
//! another query (its message id and question) with its TTLs aged.
//!
//! Every read is bounds-checked: a malformed message yields `None` and is then neither
//! cached nor shared; the check it was addressed to still sees it as it came.

use std::time::Duration;

/// Length of the DNS header (RFC 1035 sec. 4.1.1).
const HEADER: usize = 12;
/// RR type SOA (RFC 1035 sec. 3.2.2).
const TYPE_SOA: u16 = 6;
/// RR type OPT (RFC 6891 sec. 6.1.1): its "TTL" holds EDNS flags, never aged.
const TYPE_OPT: u16 = 41;

fn u16_at(wire: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
}

fn u32_at(wire: &[u8], at: usize) -> Option<u32> {
    let b = wire.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The end of the (possibly compressed) name starting at `at` (RFC 1035 sec. 4.1.4).
fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *wire.get(at)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + len as usize,
            0xC0 => return (at + 2 <= wire.len()).then_some(at + 2),
            _ => return None,
        }
    }
}

/// The question section of a message with exactly one question: its bytes (name, type,
/// class). A question's name is never compressed (there is nothing before it to point to).
pub(super) fn question(wire: &[u8]) -> Option<&[u8]> {
    if wire.len() < HEADER || u16_at(wire, 4)? != 1 {
        return None;
    }
    let mut at = HEADER;
    loop {
        match *wire.get(at)? {
            0 => break,
            len if len & 0xC0 == 0 => at += 1 + len as usize,
            _ => return None,
        }
    }
    wire.get(HEADER..at + 5)
}

/// The key a query is shared under: everything but its message id, with the name in lower
/// case (RFC 4343: DNS names compare case-insensitively). Two queries with the same key ask
/// the same question with the same flags and EDNS options.
pub(crate) fn query_key(wire: &[u8]) -> Option<Vec<u8>> {
    let q = question(wire)?;
    let mut key = wire.get(2..)?.to_vec();
    let name_len = q.len() - 4;
    key[HEADER - 2..HEADER - 2 + name_len].make_ascii_lowercase();
    Some(key)
}

/// Whether `answer` is a response (QR=1) to `query`: same message id, one question equal to
/// the query's up to case (RFC 5452 sec. 9.1's checks, made again before an answer is
/// shared).
pub(crate) fn answers(answer: &[u8], query: &[u8]) -> bool {
    let (Some(aq), Some(qq)) = (question(answer), question(query)) else {
        return false;
    };
    answer[..2] == query[..2]
        && answer[2] & 0x80 != 0
        // Opcode QUERY, and the CD bit copied from the query (RFC 4035 sec. 3.1.6): the
        // check's own checks, so nothing it would ignore ends the exchange or is cached.
        && answer[2] & 0x78 == 0
        && answer.get(3).map(|b| b & 0x10) == query.get(3).map(|b| b & 0x10)
        && aq.eq_ignore_ascii_case(qq)
}

/// Whether the answer is truncated (TC=1): it is shared with the checks waiting for it, each
/// of which retries over TCP (RFC 7766 sec. 5), but never cached.
pub(super) fn truncated(answer: &[u8]) -> bool {
    answer.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// The response code (RFC 1035 sec. 4.1.1; no extended rcode needed here).
pub(super) fn rcode(answer: &[u8]) -> u8 {
    answer.get(3).map_or(2, |b| b & 0x0F)
}

/// One resource record's place in a message.
struct Record {
    rtype: u16,
    ttl_at: usize,
    rdata: std::ops::Range<usize>,
}

/// Every resource record of the answer, authority and additional sections.
fn records(wire: &[u8]) -> Option<Vec<Record>> {
    let counts = [u16_at(wire, 6)?, u16_at(wire, 8)?, u16_at(wire, 10)?];
    let mut at = HEADER + question(wire)?.len();
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    let mut out = Vec::with_capacity(total.min(wire.len() / 11));
    for _ in 0..total {
        let fixed = skip_name(wire, at)?;
        let rtype = u16_at(wire, fixed)?;
        let rdlen = u16_at(wire, fixed + 8)? as usize;
        let start = fixed + 10;
        let end = start.checked_add(rdlen).filter(|&e| e <= wire.len())?;
        out.push(Record {
            rtype,
            ttl_at: fixed + 4,
            rdata: start..end,
        });
        at = end;
    }
    Some(out)
}

/// How long a NOERROR or NXDOMAIN answer may be reused: the least TTL of its records
/// (RFC 2181 sec. 5.2: an RRset's TTLs are one), and for a denial (NXDOMAIN, or no record of
/// the type asked, as after a CNAME to a name without it) also the SOA's TTL capped by its
/// MINIMUM field (RFC 2308 sec. 5). `None` when the message cannot be read, or a denial
/// carries no SOA (RFC 2308 sec. 5: then it is not cached).
pub(super) fn reuse_time(answer: &[u8]) -> Option<Duration> {
    let records = records(answer)?;
    let (an, ns) = (u16_at(answer, 6)? as usize, u16_at(answer, 8)? as usize);
    let q = question(answer)?;
    let qtype = u16_at(q, q.len() - 4)?;
    let ttl = |r: &Record| u32_at(answer, r.ttl_at);
    let ttls: Vec<u32> = records
        .iter()
        .filter(|r| r.rtype != TYPE_OPT)
        .map(ttl)
        .collect::<Option<_>>()?;
    let mut least = ttls.into_iter().min();
    let denial = rcode(answer) == 3 || !records[..an].iter().any(|r| r.rtype == qtype);
    if denial {
        let soa = records[an..an + ns].iter().find(|r| r.rtype == TYPE_SOA)?;
        let minimum = u32_at(answer, soa.rdata.end.checked_sub(4)?)?;
        let negative = ttl(soa)?.min(minimum);
        least = Some(least.map_or(negative, |l| l.min(negative)));
    }
    let least = least?;
    // RFC 2181 sec. 8: a TTL with the top bit set is zero.
    Some(Duration::from_secs(if least > i32::MAX as u32 {
        0
    } else {
        u64::from(least)
    }))
}

/// `answer`, re-keyed to `query` (its message id and its question, which differs from the
/// answer's at most in case), with every TTL lowered by `age` (never below zero; OPT left as
/// it is). `None` if either message cannot be read.
pub(crate) fn rekeyed(answer: &[u8], query: &[u8], age: Duration) -> Option<Vec<u8>> {
    let aq = question(answer)?;
    let qq = question(query)?;
    if aq.len() != qq.len() {
        return None;
    }
    let mut out = answer.to_vec();
    out[..2].copy_from_slice(&query[..2]);
    out[HEADER..HEADER + qq.len()].copy_from_slice(qq);
    let age = u32::try_from(age.as_secs()).unwrap_or(u32::MAX);
    if age > 0 {
        for r in records(answer)?.iter().filter(|r| r.rtype != TYPE_OPT) {
            let ttl = u32_at(answer, r.ttl_at)?.saturating_sub(age);
            out[r.ttl_at..r.ttl_at + 4].copy_from_slice(&ttl.to_be_bytes());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::build_query;
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{Name, RData, Record as HRecord, RecordType};
    use std::str::FromStr;

    fn answer_to(query: &[u8], ttls: &[u32], rcode: ResponseCode) -> Vec<u8> {
        let q = Message::from_vec(query).unwrap();
        let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
        m.metadata.response_code = rcode;
        m.add_query(q.queries[0].clone());
        let name = q.queries[0].name().clone();
        for (i, &ttl) in ttls.iter().enumerate() {
            m.add_answer(HRecord::from_rdata(
                name.clone(),
                ttl,
                RData::A(A::new(192, 0, 2, i as u8)),
            ));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn keys_ignore_id_and_case_but_not_type() {
        let a = build_query(
            1,
            &Name::from_str("Mx.Example.").unwrap(),
            RecordType::A,
            1232,
        );
        let b = build_query(
            2,
            &Name::from_str("mx.example.").unwrap(),
            RecordType::A,
            1232,
        );
        let c = build_query(
            2,
            &Name::from_str("mx.example.").unwrap(),
            RecordType::AAAA,
            1232,
        );
        assert_eq!(query_key(&a), query_key(&b));
        assert_ne!(query_key(&b), query_key(&c));
    }

    #[test]
    fn least_ttl_and_aging_and_rekeying() {
        let q1 = build_query(
            7,
            &Name::from_str("mx.example.").unwrap(),
            RecordType::A,
            1232,
        );
        let q2 = build_query(
            9,
            &Name::from_str("MX.example.").unwrap(),
            RecordType::A,
            1232,
        );
        let a = answer_to(&q1, &[300, 60], ResponseCode::NoError);
        assert!(answers(&a, &q1));
        assert!(!answers(&a, &q2), "another message id");
        assert_eq!(reuse_time(&a), Some(Duration::from_secs(60)));
        let shared = rekeyed(&a, &q2, Duration::from_secs(50)).unwrap();
        assert!(answers(&shared, &q2));
        let m = Message::from_vec(&shared).unwrap();
        let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [250, 10]);
        assert_eq!(question(&shared), question(&q2), "the asker's own question");
        let mut upper = q2.clone();
        upper[HEADER + 1..HEADER + 3].copy_from_slice(b"MX");
        let shared = rekeyed(&a, &upper, Duration::ZERO).unwrap();
        assert_eq!(
            &shared[HEADER + 1..HEADER + 3],
            b"MX",
            "its case too (RFC 4343)"
        );
    }

    #[test]
    fn denial_reuse_is_soa_ttl_capped_by_minimum() {
        let q = build_query(
            7,
            &Name::from_str("nx.example.").unwrap(),
            RecordType::A,
            1232,
        );
        let mut m = Message::from_vec(&answer_to(&q, &[], ResponseCode::NXDomain)).unwrap();
        let soa = SOA::new(
            Name::from_str("ns.example.").unwrap(),
            Name::from_str("h.example.").unwrap(),
            1,
            2,
            3,
            4,
            30,
        );
        m.add_authority(HRecord::from_rdata(
            Name::from_str("example.").unwrap(),
            900,
            RData::SOA(soa),
        ));
        let wire = m.to_vec().unwrap();
        assert_eq!(reuse_time(&wire), Some(Duration::from_secs(30)));
        assert_eq!(rcode(&wire), 3);
        // A CNAME to a name without the type asked: a denial too, capped by the SOA.
        let mut cname = Message::from_vec(&answer_to(&q, &[], ResponseCode::NoError)).unwrap();
        let alias = Name::from_str("alias.example.").unwrap();
        cname.add_answer(HRecord::from_rdata(
            Name::from_str("nx.example.").unwrap(),
            600,
            RData::CNAME(hickory_proto::rr::rdata::CNAME(alias)),
        ));
        cname.add_authority(m.authorities[0].clone());
        assert_eq!(
            reuse_time(&cname.to_vec().unwrap()),
            Some(Duration::from_secs(30))
        );
        let bare = answer_to(&q, &[], ResponseCode::NXDomain);
        assert_eq!(
            reuse_time(&bare),
            None,
            "a denial without SOA is not cached"
        );
    }

    #[test]
    fn malformed_messages_are_not_read() {
        let q = build_query(
            7,
            &Name::from_str("mx.example.").unwrap(),
            RecordType::A,
            1232,
        );
        let a = answer_to(&q, &[300], ResponseCode::NoError);
        for cut in 0..a.len() {
            let short = &a[..cut];
            assert!(reuse_time(short).is_none(), "cut {cut}");
            let _ = rekeyed(short, &q, Duration::from_secs(1));
            let _ = query_key(short);
        }
        let mut looped = a.clone();
        looped[HEADER] = 0xC0;
        looped[HEADER + 1] = HEADER as u8;
        assert!(question(&looped).is_none());
    }
}
