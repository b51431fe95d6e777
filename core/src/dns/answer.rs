//! A checked DNS answer: matching a response to its query (RFC 5452 sec. 9.1, RFC 1035
//! sec. 7.3), classifying its rcode (RFC 2308), following CNAMEs (RFC 1034 sec. 3.6.2,
//! RFC 7672 sec. 2.1.3), reading the AD bit (RFC 4035 sec. 3.2.3, RFC 6840 sec. 5.7) and
//! Extended DNS Errors (RFC 8914).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

use super::{RcodeClass, Security};
use crate::dane::TlsaRecord;
use crate::machine::LocalFailure;
use crate::time::Timestamp;

/// The longest CNAME chain followed in one answer (RFC 1034 sec. 3.6.2 asks resolvers to
/// bound chains; 16 links is more than any real zone uses, and what glibc-era stubs allow).
pub const MAX_CNAME_LINKS: usize = 16;

/// The EDNS option code of an Extended DNS Error (RFC 8914 sec. 2).
pub const EDE_OPTION_CODE: u16 = 15;

/// The most EXTRA-TEXT bytes kept from one Extended DNS Error (the rest is cut off).
pub const MAX_EDE_TEXT: usize = 512;

/// An Extended DNS Error option (RFC 8914) carried by an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedError {
    /// The INFO-CODE, e.g. 6 (DNSSEC Bogus), 7 (Signature Expired).
    pub code: u16,
    /// The EXTRA-TEXT, possibly empty.
    pub text: String,
}

impl ExtendedError {
    /// Whether the INFO-CODE names a DNSSEC validation failure: RFC 8914 sec. 4 codes
    /// 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, and from the IANA registry 25 (Signature Expired
    /// before Valid) and 27 (Unsupported NSEC3 Iterations Value, RFC 9276 sec. 3.2). Code 3
    /// (Stale Answer) and 4 (Forged Answer) are not DNSSEC failures.
    pub fn is_dnssec_failure(&self) -> bool {
        matches!(self.code, 1 | 2 | 5..=12 | 25 | 27)
    }
}

impl fmt::Display for ExtendedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, ede_name(self.code))?;
        if !self.text.is_empty() {
            write!(f, ": {}", self.text)?;
        }
        Ok(())
    }
}

/// The name of an Extended DNS Error INFO-CODE (RFC 8914 sec. 4 and the IANA "Extended DNS
/// Error Codes" registry); "Unknown" for unassigned codes.
pub fn ede_name(code: u16) -> &'static str {
    match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDomain Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        25 => "Signature Expired before Valid",
        26 => "Too Early",
        27 => "Unsupported NSEC3 Iterations Value",
        28 => "Unable to conform to policy",
        29 => "Synthesized",
        30 => "Invalid Query Type",
        _ => "Unknown",
    }
}

/// The mnemonic of a response code (RFC 1035 sec. 4.1.1, RFC 6895 sec. 2.3).
pub fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        23 => "BADCOOKIE",
        _ => "unknown rcode",
    }
}

/// An answer that matched its query (id, question, QR, opcode) and has a usable rcode.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The name asked for.
    pub qname: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// The DNSSEC status of the whole answer (AD bit mode, DESIGN.md section 4): `Secure`
    /// iff the resolver set AD=1 (RFC 4035 sec. 3.2.3), `Insecure` otherwise.
    pub security: Security,
    /// Data, NODATA or NXDOMAIN.
    pub rcode: RcodeClass,
    /// The CNAME chain followed from `qname`, as (owner, target) pairs, in order.
    pub cnames: Vec<(Name, Name)>,
    /// The end of the CNAME chain (`qname` if there was none).
    pub final_name: Name,
    /// The records of type `qtype` owned by `final_name`.
    pub records: Vec<Record>,
    /// The smallest TTL of `records` (or of the negative answer's SOA), seconds.
    pub ttl: Option<u32>,
    /// The earliest expiration of an RRSIG covering `records`.
    pub rrsig_expires: Option<Timestamp>,
    /// Extended DNS Errors in the answer.
    pub ede: Vec<ExtendedError>,
    /// The resolver that gave this answer (for reports).
    pub server: SocketAddr,
    /// The answer and authority sections as received (class IN), with their RRSIGs, NSEC
    /// and NSEC3 records: what the in-core validator checks (RFC 4035 sec. 5).
    pub sections: Sections,
}

/// The records of a response the in-core validator reads (RFC 4035 sec. 3.1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sections {
    /// The answer section: CNAMEs, DNAMEs, the RRset asked for, and the RRSIGs over them.
    pub answer: Vec<Record>,
    /// The authority section: SOA, NSEC and NSEC3 records and their RRSIGs of a denial of
    /// existence or a wildcard expansion (RFC 4035 sec. 3.1.3).
    pub authority: Vec<Record>,
}

impl Answer {
    /// The MX records as (preference, exchange) (RFC 1035 sec. 3.3.9), in answer order.
    pub fn mx(&self) -> Vec<(u16, Name)> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.clone())),
                _ => None,
            })
            .collect()
    }

    /// The A and AAAA addresses (RFC 1035 sec. 3.4.1, RFC 3596 sec. 2.2), in answer order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect()
    }

    /// The TLSA records (RFC 6698 sec. 2.1), as daneel's own [`TlsaRecord`] (hickory-proto's
    /// types stay inside the DNS layer). Unassigned values are kept: RFC 7672 sec. 3.1 treats
    /// them as unusable, which is the DANE code's decision.
    pub fn tlsa(&self) -> Vec<TlsaRecord> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TLSA(t) => Some(TlsaRecord::new(
                    u8::from(t.cert_usage),
                    u8::from(t.selector),
                    u8::from(t.matching),
                    t.cert_data.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The SRV records as (priority, weight, port, target) (RFC 2782), in answer order.
    pub fn srv(&self) -> Vec<(u16, u16, u16, Name)> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some((s.priority, s.weight, s.port, s.target.clone())),
                _ => None,
            })
            .collect()
    }

    /// The TXT records, each the concatenation of its character-strings (RFC 1035
    /// sec. 3.3.14; RFC 8460 sec. 3), in answer order.
    pub fn txt(&self) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.iter().copied()).collect()),
                _ => None,
            })
            .collect()
    }

    /// The Extended DNS Errors as text, e.g. `6 DNSSEC Bogus: <text>`, joined by `; `
    /// (RFC 8914 sec. 2); empty if there are none.
    pub fn ede_text(&self) -> String {
        ede_text(&self.ede)
    }
}

fn ede_text(ede: &[ExtendedError]) -> String {
    ede.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a lookup produced no answer (RFC 7672 sec. 2.1.1: all of these are lookup errors).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LookupError {
    /// SERVFAIL from every resolver tried; `bogus` when an EDE names a DNSSEC failure.
    ServFail {
        /// The Extended DNS Errors of the last SERVFAIL.
        ede: Vec<ExtendedError>,
        /// Whether the EDE says the data is bogus (RFC 8914 codes 1-12 of DNSSEC).
        bogus: bool,
    },
    /// REFUSED or another error rcode from every resolver tried.
    Rcode {
        /// The response code.
        rcode: u16,
    },
    /// No answer within the retry budget.
    Timeout,
    /// An answer that did not parse or made no sense.
    Malformed {
        /// What was wrong.
        what: Malformed,
    },
    /// No resolver is configured, so nothing could be asked.
    NoServers,
    /// The name to ask for could not be formed: longer than 255 octets (RFC 1035
    /// sec. 2.3.4), e.g. a TLSA name `_port._tcp.` prefixed to a long base domain.
    NameTooLong,
    /// This process could not send the query: it ran out of file descriptors or memory. No
    /// resolver was at fault, and nothing is known about the data.
    LocalResources {
        /// The resource and the runtime's description.
        error: LocalFailure,
    },
    /// The in-core validator found the answer bogus, or could not decide its status
    /// (RFC 4035 sec. 4.3, 5; issue 13).
    Validation {
        /// Why.
        failure: crate::dnssec::ValidationFailure,
    },
}

impl LookupError {
    /// The DNSSEC status this error stands for (RFC 7672 sec. 2.1.1).
    pub fn security(&self) -> Security {
        match self {
            LookupError::ServFail { bogus: true, .. } => Security::Bogus,
            LookupError::Validation { failure } => failure.security(),
            _ => Security::Indeterminate,
        }
    }

    /// Whether no other attempt may follow this error: a SERVFAIL whose Extended DNS Error
    /// names a DNSSEC failure (RFC 8914 sec. 4; RFC 7672 sec. 2.1.1). An EDE only ever stops
    /// retries; it never makes data acceptable.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LookupError::ServFail { bogus: true, .. } | LookupError::Validation { .. }
        )
    }

    fn malformed(what: Malformed) -> Self {
        LookupError::Malformed { what }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::ServFail { ede, bogus } => {
                f.write_str("SERVFAIL")?;
                if *bogus {
                    f.write_str(" (DNSSEC validation failed)")?;
                }
                if !ede.is_empty() {
                    write!(f, ": {}", ede_text(ede))?;
                }
                Ok(())
            }
            LookupError::Rcode { rcode } => write!(f, "{} (rcode {rcode})", rcode_name(*rcode)),
            LookupError::Timeout => f.write_str("no answer from any resolver (timeout)"),
            LookupError::Malformed { what } => write!(f, "malformed answer: {what}"),
            LookupError::NoServers => f.write_str("no resolver configured"),
            LookupError::NameTooLong => {
                f.write_str("the query name would be longer than 255 octets")
            }
            LookupError::LocalResources { error } => {
                write!(f, "query not sent, local resources exhausted: {error}")
            }
            LookupError::Validation { failure } => {
                write!(f, "DNSSEC validation ({}): {failure}", failure.security())
            }
        }
    }
}

impl std::error::Error for LookupError {}

/// Why a message is not an answer to the query it claims to answer (RFC 5452 sec. 9.1;
/// RFC 4035 sec. 3.1.6 for the CD bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mismatch {
    /// Not from the queried server's address and port.
    Source,
    /// The message id differs from the query's.
    Id,
    /// QR=0: not a response.
    NotResponse,
    /// The opcode is not QUERY.
    Opcode,
    /// CD=1 in the response to a CD=0 query.
    CheckingDisabled,
    /// The question count is not 1.
    QuestionCount,
    /// The question name differs.
    QuestionName,
    /// The question type differs.
    QuestionType,
    /// The question class is not IN.
    QuestionClass,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mismatch::Source => "not from the queried server's address and port",
            Mismatch::Id => "message id differs from the query's",
            Mismatch::NotResponse => "QR=0: not a response",
            Mismatch::Opcode => "opcode is not QUERY",
            Mismatch::CheckingDisabled => "CD=1 in the response to a CD=0 query",
            Mismatch::QuestionCount => "question count is not 1",
            Mismatch::QuestionName => "question name differs",
            Mismatch::QuestionType => "question type differs",
            Mismatch::QuestionClass => "question class is not IN",
        })
    }
}

/// What made an answer unusable (RFC 1035 sec. 4.1; RFC 1034 sec. 3.6.2 for CNAME chains;
/// RFC 7766 for TCP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "what")]
pub enum Malformed {
    /// Fewer bytes than a DNS header.
    ShorterThanHeader {
        /// How many arrived.
        bytes: usize,
    },
    /// The message does not parse.
    Unparsable {
        /// The parser's (hickory-proto's) description.
        parser: String,
    },
    /// Several CNAME targets for one owner.
    SeveralCnameTargets {
        /// The owner.
        owner: String,
    },
    /// The CNAME chain loops.
    CnameLoop {
        /// The name seen twice.
        at: String,
    },
    /// The CNAME chain is longer than `MAX_CNAME_LINKS`.
    CnameChainTooLong {
        /// `MAX_CNAME_LINKS`.
        max: usize,
    },
    /// An answer over TCP is not the answer to the query (where UDP would wait for another).
    TcpMismatch {
        /// Why.
        why: Mismatch,
    },
    /// TC=1 over TCP (RFC 7766 sec. 5).
    TruncatedOverTcp,
    /// The query could not be encoded.
    QueryUnencodable,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::ShorterThanHeader { bytes } => {
                write!(f, "{bytes} bytes, shorter than a DNS header")
            }
            Malformed::Unparsable { parser } => write!(f, "unparsable message: {parser}"),
            Malformed::SeveralCnameTargets { owner } => {
                write!(f, "several CNAME targets at {owner}")
            }
            Malformed::CnameLoop { at } => write!(f, "CNAME loop at {at}"),
            Malformed::CnameChainTooLong { max } => {
                write!(f, "CNAME chain longer than {max} links")
            }
            Malformed::TcpMismatch { why } => {
                write!(f, "TCP answer does not match the query: {why}")
            }
            Malformed::TruncatedOverTcp => f.write_str("TC=1 over TCP"),
            Malformed::QueryUnencodable => f.write_str("the query could not be encoded"),
        }
    }
}

/// What a response must match: the message id and the question of the query it answers
/// (RFC 5452 sec. 9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The DNS message id of the query.
    pub id: u16,
    /// The name asked for (fully qualified).
    pub qname: Name,
    /// The type asked for (class is always IN).
    pub qtype: RecordType,
    /// The CD bit the query carried; the response must echo it (RFC 4035 sec. 3.1.6).
    pub checking_disabled: bool,
}

/// What one received message means for the exchange that expects it.
// A short-lived return value, consumed at once: boxing the answer would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Checked {
    /// Not an answer to this query (wrong id, QR=0, opcode, question): ignore it and keep
    /// waiting; over UDP it may be spoofed (RFC 5452 sec. 9.1).
    Mismatch(Mismatch),
    /// The bytes do not parse as a DNS message. Over UDP, keep waiting (it may be spoofed)
    /// but remember it; over TCP it ends the exchange.
    Unparsable(Malformed),
    /// TC=1: retry over TCP (RFC 7766 sec. 5; RFC 1035 sec. 4.2.1).
    Truncated,
    /// A final outcome for this exchange: an answer (NOERROR, NXDOMAIN) or an error rcode or
    /// a semantically malformed answer.
    Final(Result<Answer, LookupError>),
}

/// Checks `wire` against `expected` and classifies it. `now` resolves the 32-bit RRSIG
/// expiration times (RFC 4034 sec. 3.1.5); `server` is recorded in the [`Answer`].
///
/// hickory-proto parses the whole message at once: one malformed RDATA anywhere (a TLSA
/// shorter than 3 bytes, a bad name compression pointer) makes the whole message
/// [`Checked::Unparsable`], never a partial answer.
pub fn check_response(
    expected: &Expected,
    wire: &[u8],
    now: Timestamp,
    server: SocketAddr,
) -> Checked {
    // Look at the raw header first, so garbage with a foreign id is a mismatch, not an error.
    let Some(&[id_hi, id_lo, flags_hi, _]) = wire.first_chunk::<4>() else {
        return Checked::Unparsable(Malformed::ShorterThanHeader { bytes: wire.len() });
    };
    if u16::from_be_bytes([id_hi, id_lo]) != expected.id {
        return Checked::Mismatch(Mismatch::Id);
    }
    if flags_hi & 0x80 == 0 {
        return Checked::Mismatch(Mismatch::NotResponse);
    }
    let msg = match Message::from_vec(wire) {
        Ok(m) => m,
        Err(e) => {
            return Checked::Unparsable(Malformed::Unparsable {
                parser: e.to_string(),
            })
        }
    };
    if let Some(why) = mismatch(expected, &msg) {
        return Checked::Mismatch(why);
    }
    if msg.metadata.truncation {
        return Checked::Truncated;
    }
    Checked::Final(classify(expected, &msg, now, server))
}

fn mismatch(expected: &Expected, msg: &Message) -> Option<Mismatch> {
    if msg.metadata.id != expected.id {
        return Some(Mismatch::Id);
    }
    if msg.metadata.message_type != MessageType::Response {
        return Some(Mismatch::NotResponse);
    }
    if msg.metadata.op_code != OpCode::Query {
        return Some(Mismatch::Opcode);
    }
    // RFC 4035 sec. 3.1.6: the CD bit is copied from the query. A response whose CD bit
    // differs did not come from our query's validation path.
    if msg.metadata.checking_disabled != expected.checking_disabled {
        return Some(Mismatch::CheckingDisabled);
    }
    let [q] = msg.queries.as_slice() else {
        return Some(Mismatch::QuestionCount);
    };
    let mut qname = expected.qname.clone();
    qname.set_fqdn(true);
    if q.name() != &qname {
        return Some(Mismatch::QuestionName);
    }
    if q.query_type() != expected.qtype {
        return Some(Mismatch::QuestionType);
    }
    if q.query_class() != DNSClass::IN {
        return Some(Mismatch::QuestionClass);
    }
    None
}

/// Parses the Extended DNS Error options of an OPT record (RFC 8914 sec. 2): INFO-CODE
/// (2 bytes) then UTF-8 EXTRA-TEXT, which may be NUL-terminated by some servers. Options
/// shorter than 2 bytes are skipped; invalid UTF-8 and control characters (the text ends up
/// in reports and terminals) are replaced by U+FFFD; at most [`MAX_EDE_TEXT`] bytes are kept.
pub fn extended_errors(edns: Option<&Edns>) -> Vec<ExtendedError> {
    let Some(edns) = edns else {
        return Vec::new();
    };
    edns.options()
        .as_ref()
        .iter()
        .filter_map(|(code, opt)| {
            if u16::from(*code) != EDE_OPTION_CODE {
                return None;
            }
            let data: Vec<u8> = Vec::<u8>::try_from(opt).ok()?;
            let (info, text) = data.split_first_chunk::<2>()?;
            let text = text.get(..MAX_EDE_TEXT).unwrap_or(text);
            let text = String::from_utf8_lossy(text)
                .trim_end_matches('\0')
                .chars()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .collect();
            Some(ExtendedError {
                code: u16::from_be_bytes(*info),
                text,
            })
        })
        .collect()
}

fn classify(
    expected: &Expected,
    msg: &Message,
    now: Timestamp,
    server: SocketAddr,
) -> Result<Answer, LookupError> {
    let ede = extended_errors(msg.edns.as_ref());
    let rcode = msg.metadata.response_code;
    let negative = match rcode {
        ResponseCode::NoError => false,
        ResponseCode::NXDomain => true,
        ResponseCode::ServFail => {
            let bogus = ede.iter().any(ExtendedError::is_dnssec_failure);
            return Err(LookupError::ServFail { ede, bogus });
        }
        other => {
            return Err(LookupError::Rcode {
                rcode: u16::from(other),
            })
        }
    };
    let mut qname = expected.qname.clone();
    qname.set_fqdn(true);
    let qtype = expected.qtype;
    let in_class = |r: &&Record| r.dns_class == DNSClass::IN;

    // Follow the CNAME chain (RFC 1034 sec. 3.6.2). A query for CNAME itself (RFC 7672
    // sec. 2.1.3, R11) or for ANY is not chased.
    let mut cnames: Vec<(Name, Name)> = Vec::new();
    let mut current = qname.clone();
    if qtype != RecordType::CNAME && qtype != RecordType::ANY {
        loop {
            let mut targets = msg
                .answers
                .iter()
                .filter(in_class)
                .filter_map(|r| match &r.data {
                    RData::CNAME(c) if r.name == current => Some(&c.0),
                    _ => None,
                });
            let Some(target) = targets.next() else {
                break;
            };
            if targets.any(|t| t != target) {
                return Err(LookupError::malformed(Malformed::SeveralCnameTargets {
                    owner: current.to_string(),
                }));
            }
            let target = target.clone();
            if target == qname || cnames.iter().any(|(owner, _)| owner == &target) {
                return Err(LookupError::malformed(Malformed::CnameLoop {
                    at: target.to_string(),
                }));
            }
            if cnames.len() >= MAX_CNAME_LINKS {
                return Err(LookupError::malformed(Malformed::CnameChainTooLong {
                    max: MAX_CNAME_LINKS,
                }));
            }
            cnames.push((current, target.clone()));
            current = target;
        }
    }
    let final_name = current;

    let records: Vec<Record> = if negative {
        Vec::new()
    } else {
        msg.answers
            .iter()
            .filter(in_class)
            .filter(|r| r.record_type() == qtype && r.name == final_name)
            .cloned()
            .collect()
    };
    let class = if negative {
        RcodeClass::NxDomain
    } else if records.is_empty() {
        RcodeClass::NoData
    } else {
        RcodeClass::Data
    };
    // RFC 2308 sec. 5: a negative answer is cached for min(SOA TTL, SOA MINIMUM).
    let ttl = if records.is_empty() {
        msg.authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .min()
    } else {
        records.iter().map(|r| r.ttl).min()
    };
    let rrsig_expires = if records.is_empty() {
        None
    } else {
        msg.answers
            .iter()
            .filter(|r| r.name == final_name)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == qtype => {
                    Some(serial_to_timestamp(sig.input().sig_expiration.get(), now))
                }
                _ => None,
            })
            .min()
    };
    let security = if msg.metadata.authentic_data {
        Security::Secure
    } else {
        Security::Insecure
    };
    Ok(Answer {
        qname,
        qtype,
        security,
        rcode: class,
        cnames,
        final_name,
        records,
        ttl,
        rrsig_expires,
        ede,
        server,
        sections: Sections {
            answer: msg.answers.iter().filter(in_class).cloned().collect(),
            authority: msg.authorities.iter().filter(in_class).cloned().collect(),
        },
    })
}

/// Resolves a 32-bit RRSIG time (seconds modulo 2^32, RFC 4034 sec. 3.1.5) to the instant
/// closest to `now` (RFC 1982 serial number arithmetic), never before the epoch.
pub fn serial_to_timestamp(serial: u32, now: Timestamp) -> Timestamp {
    let now_secs = now.as_unix_secs();
    // Truncation to the low 32 bits is the point: it is how RRSIG times are written.
    let delta = i64::from(serial.wrapping_sub(now_secs as u32) as i32);
    let secs = i128::from(now_secs) + i128::from(delta);
    Timestamp::from_unix_secs(u64::try_from(secs.max(0)).unwrap_or(u64::MAX))
}

/// The unspecified address, for answers checked outside a client.
#[cfg(test)]
const NO_SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::query::build_query;
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    use hickory_proto::rr::rdata::{CNAME, MX, SOA, TLSA};
    use std::net::Ipv4Addr;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn expected(name: &str, t: RecordType) -> Expected {
        Expected {
            id: 77,
            qname: n(name),
            qtype: t,
            checking_disabled: false,
        }
    }

    fn response(e: &Expected) -> Message {
        let q = Message::from_vec(&build_query(e.id, &e.qname, e.qtype, 1232)).unwrap();
        let mut m = Message::new(e.id, MessageType::Response, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.recursion_available = true;
        m.queries = q.queries;
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true);
        m.set_edns(edns);
        m
    }

    fn check(e: &Expected, m: &Message) -> Checked {
        check_response(
            e,
            &m.to_vec().unwrap(),
            Timestamp::from_unix_secs(1_800_000_000),
            NO_SERVER,
        )
    }

    fn answer(e: &Expected, m: &Message) -> Answer {
        match check(e, m) {
            Checked::Final(Ok(a)) => a,
            other => panic!("not an answer: {other:?}"),
        }
    }

    fn err(e: &Expected, m: &Message) -> LookupError {
        match check(e, m) {
            Checked::Final(Err(x)) => x,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn mx_secure_and_insecure() {
        let e = expected("example.com.", RecordType::MX);
        let mut m = response(&e);
        m.add_answer(Record::from_rdata(
            n("EXAMPLE.com."),
            300,
            RData::MX(MX::new(10, n("mx1.example.com."))),
        ));
        m.add_answer(Record::from_rdata(
            n("example.com."),
            200,
            RData::MX(MX::new(20, n("mx2.example.com."))),
        ));
        let a = answer(&e, &m);
        assert_eq!(a.security, Security::Insecure);
        assert_eq!(a.rcode, RcodeClass::Data);
        assert_eq!(a.ttl, Some(200));
        assert_eq!(
            a.mx(),
            vec![(10, n("mx1.example.com.")), (20, n("mx2.example.com."))]
        );
        m.metadata.authentic_data = true;
        assert_eq!(answer(&e, &m).security, Security::Secure);
    }

    #[test]
    fn question_must_match() {
        let e = expected("example.com.", RecordType::MX);
        let mut m = response(&e);
        m.queries[0].set_query_type(RecordType::A);
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.queries[0].set_name(n("example.net."));
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.queries[0].set_query_class(DNSClass::CH);
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.queries.clear();
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.metadata.id = 78;
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.metadata.message_type = MessageType::Query;
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.metadata.op_code = OpCode::Status;
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        let mut m = response(&e);
        m.metadata.checking_disabled = true;
        assert!(matches!(check(&e, &m), Checked::Mismatch(_)));
        // Case differences (0x20 randomisation) are fine.
        let mut m = response(&e);
        m.queries[0].set_name(n("ExAmPlE.CoM."));
        assert!(matches!(check(&e, &m), Checked::Final(Ok(_))));
    }

    #[test]
    fn garbage_and_truncation() {
        let e = expected("example.com.", RecordType::MX);
        assert!(matches!(
            check_response(&e, &[], Timestamp::EPOCH, NO_SERVER),
            Checked::Unparsable(_)
        ));
        assert!(matches!(
            check_response(&e, &[0, 77, 0x80, 0, 0, 1], Timestamp::EPOCH, NO_SERVER),
            Checked::Unparsable(_)
        ));
        assert!(matches!(
            check_response(&e, &[0, 78, 0x80, 0, 0, 1], Timestamp::EPOCH, NO_SERVER),
            Checked::Mismatch(_)
        ));
        let mut m = response(&e);
        m.metadata.truncation = true;
        assert_eq!(check(&e, &m), Checked::Truncated);
    }

    #[test]
    fn short_tlsa_makes_the_message_unparsable() {
        let e = expected("_25._tcp.mx.example.com.", RecordType::TLSA);
        let mut m = response(&e);
        m.add_answer(Record::from_rdata(
            n("_25._tcp.mx.example.com."),
            60,
            RData::TLSA(TLSA::new(3u8.into(), 1u8.into(), 1u8.into(), vec![1, 2, 3])),
        ));
        let mut wire = m.to_vec().unwrap();
        // Find the TLSA RDLENGTH (3 + 3 = 6) and shrink the RDATA to 2 bytes.
        let pos = wire.windows(5).position(|w| w == [0, 6, 3, 1, 1]).unwrap();
        wire[pos + 1] = 2;
        wire.drain(pos + 4..pos + 8);
        let got = check_response(&e, &wire, Timestamp::EPOCH, NO_SERVER);
        assert!(matches!(got, Checked::Unparsable(_)), "{got:?}");
    }

    #[test]
    fn tlsa_accessor() {
        let e = expected("_25._tcp.mx.example.com.", RecordType::TLSA);
        let mut m = response(&e);
        m.add_answer(Record::from_rdata(
            n("_25._tcp.mx.example.com."),
            60,
            RData::TLSA(TLSA::new(
                3u8.into(),
                1u8.into(),
                1u8.into(),
                vec![0xab; 32],
            )),
        ));
        m.add_answer(Record::from_rdata(
            n("_25._tcp.mx.example.com."),
            60,
            RData::TLSA(TLSA::new(9u8.into(), 1u8.into(), 7u8.into(), vec![1])),
        ));
        assert_eq!(
            answer(&e, &m).tlsa(),
            vec![
                TlsaRecord::new(3, 1, 1, vec![0xab; 32]),
                TlsaRecord::new(9, 1, 7, vec![1])
            ]
        );
    }

    #[test]
    fn cname_chain_loop_and_length() {
        let e = expected("a.example.", RecordType::A);
        let cname =
            |from: &str, to: &str| Record::from_rdata(n(from), 100, RData::CNAME(CNAME(n(to))));
        let mut m = response(&e);
        m.add_answer(cname("a.example.", "b.example."));
        m.add_answer(cname("b.example.", "c.example."));
        m.add_answer(Record::from_rdata(
            n("c.example."),
            50,
            RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
        ));
        m.add_answer(Record::from_rdata(
            n("a.example."),
            50,
            RData::A(Ipv4Addr::new(192, 0, 2, 9).into()),
        ));
        let a = answer(&e, &m);
        assert_eq!(a.final_name, n("c.example."));
        assert_eq!(a.cnames.len(), 2);
        assert_eq!(a.addresses(), vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))]);

        let mut m = response(&e);
        m.add_answer(cname("a.example.", "b.example."));
        m.add_answer(cname("b.example.", "a.example."));
        assert!(matches!(err(&e, &m), LookupError::Malformed { .. }));

        let mut m = response(&e);
        m.add_answer(cname("b.example.", "b.example."));
        m.add_answer(cname("a.example.", "b.example."));
        assert!(matches!(err(&e, &m), LookupError::Malformed { .. }));

        let mut m = response(&e);
        m.add_answer(cname("a.example.", "b.example."));
        m.add_answer(cname("a.example.", "c.example."));
        assert!(matches!(err(&e, &m), LookupError::Malformed { .. }));

        // Exactly MAX_CNAME_LINKS links is fine, one more is not.
        for (links, ok) in [(MAX_CNAME_LINKS, true), (MAX_CNAME_LINKS + 1, false)] {
            let mut m = response(&e);
            let mut prev = "a.example.".to_string();
            for i in 0..links {
                let next = format!("n{i}.example.");
                m.add_answer(cname(&prev, &next));
                prev = next;
            }
            m.add_answer(Record::from_rdata(
                n(&prev),
                50,
                RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
            ));
            match check(&e, &m) {
                Checked::Final(Ok(a)) => {
                    assert!(ok && a.cnames.len() == links && a.rcode == RcodeClass::Data)
                }
                Checked::Final(Err(LookupError::Malformed { .. })) => assert!(!ok),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn cname_query_is_not_chased() {
        let e = expected("a.example.", RecordType::CNAME);
        let mut m = response(&e);
        m.add_answer(Record::from_rdata(
            n("a.example."),
            100,
            RData::CNAME(CNAME(n("b.example."))),
        ));
        let a = answer(&e, &m);
        assert_eq!(a.final_name, n("a.example."));
        assert_eq!(a.rcode, RcodeClass::Data);
        assert!(a.cnames.is_empty());
    }

    #[test]
    fn negative_answers_take_soa_ttl() {
        let e = expected("_25._tcp.mx.example.", RecordType::TLSA);
        let soa = Record::from_rdata(
            n("example."),
            900,
            RData::SOA(SOA::new(n("ns.example."), n("h.example."), 1, 2, 3, 4, 300)),
        );
        let mut m = response(&e);
        m.add_authority(soa.clone());
        let a = answer(&e, &m);
        assert_eq!((a.rcode, a.ttl), (RcodeClass::NoData, Some(300)));
        let mut m = response(&e);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.metadata.authentic_data = true;
        m.add_authority(soa);
        let a = answer(&e, &m);
        assert_eq!(
            (a.rcode, a.ttl, a.security),
            (RcodeClass::NxDomain, Some(300), Security::Secure)
        );
        let mut m = response(&e);
        m.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(answer(&e, &m).ttl, None);
    }

    fn with_ede(m: &mut Message, code: u16, text: &[u8]) {
        let mut data = code.to_be_bytes().to_vec();
        data.extend_from_slice(text);
        m.edns
            .as_mut()
            .unwrap()
            .options_mut()
            .as_mut()
            .push((EdnsCode::Unknown(15), EdnsOption::Unknown(15, data)));
    }

    #[test]
    fn servfail_ede_bogus() {
        let e = expected("example.com.", RecordType::MX);
        for (code, bogus) in [
            (6, true),
            (1, true),
            (12, true),
            (3, false),
            (4, false),
            (13, false),
            (22, false),
        ] {
            let mut m = response(&e);
            m.metadata.response_code = ResponseCode::ServFail;
            with_ede(&mut m, code, b"why\0");
            let got = err(&e, &m);
            assert_eq!(
                got,
                LookupError::ServFail {
                    ede: vec![ExtendedError {
                        code,
                        text: "why".into()
                    }],
                    bogus
                },
                "code {code}"
            );
            assert_eq!(
                got.security(),
                if bogus {
                    Security::Bogus
                } else {
                    Security::Indeterminate
                }
            );
        }
        let mut m = response(&e);
        m.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(
            err(&e, &m),
            LookupError::ServFail {
                ede: vec![],
                bogus: false
            }
        );
        let mut m = response(&e);
        m.metadata.response_code = ResponseCode::ServFail;
        with_ede(&mut m, 6, b"RRSIG failed");
        assert_eq!(
            err(&e, &m).to_string(),
            "SERVFAIL (DNSSEC validation failed): 6 DNSSEC Bogus: RRSIG failed"
        );
    }

    #[test]
    fn ede_on_answers_and_short_options() {
        let e = expected("example.com.", RecordType::MX);
        let mut m = response(&e);
        with_ede(&mut m, 3, b"stale\x1b[31m");
        m.edns
            .as_mut()
            .unwrap()
            .options_mut()
            .as_mut()
            .push((EdnsCode::Unknown(15), EdnsOption::Unknown(15, vec![1])));
        let a = answer(&e, &m);
        assert_eq!(a.ede_text(), "3 Stale Answer: stale\u{FFFD}[31m");
    }

    #[test]
    fn other_rcodes() {
        let e = expected("example.com.", RecordType::MX);
        let mut m = response(&e);
        m.metadata.response_code = ResponseCode::Refused;
        let got = err(&e, &m);
        assert_eq!(got, LookupError::Rcode { rcode: 5 });
        assert_eq!(got.to_string(), "REFUSED (rcode 5)");
        assert_eq!(got.security(), Security::Indeterminate);
    }

    #[test]
    fn serial_times_wrap_around_now() {
        let now = Timestamp::from_unix_secs(1_800_000_000);
        assert_eq!(
            serial_to_timestamp(1_800_000_100, now).as_unix_secs(),
            1_800_000_100
        );
        assert_eq!(
            serial_to_timestamp(1_700_000_000, now).as_unix_secs(),
            1_700_000_000
        );
        // After 2106 the 32-bit value wraps; the closest instant is chosen.
        let late = Timestamp::from_unix_secs((1u64 << 32) + 1000);
        assert_eq!(
            serial_to_timestamp(2000, late).as_unix_secs(),
            (1u64 << 32) + 2000
        );
        assert_eq!(
            serial_to_timestamp(u32::MAX, late).as_unix_secs(),
            (1u64 << 32) - 1
        );
        assert_eq!(
            serial_to_timestamp(u32::MAX, Timestamp::EPOCH).as_unix_secs(),
            0
        );
    }

    #[test]
    fn display_and_names() {
        assert_eq!(ede_name(6), "DNSSEC Bogus");
        assert_eq!(ede_name(999), "Unknown");
        assert_eq!(
            LookupError::Timeout.to_string(),
            "no answer from any resolver (timeout)"
        );
        assert_eq!(LookupError::NoServers.to_string(), "no resolver configured");
        assert_eq!(
            LookupError::Malformed {
                what: Malformed::QueryUnencodable
            }
            .to_string(),
            "malformed answer: the query could not be encoded"
        );
    }
}
