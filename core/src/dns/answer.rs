//! A checked DNS answer (stub: filled in by the DNS work).

use hickory_proto::rr::{Name, Record, RecordType};
use serde::{Deserialize, Serialize};

use super::{RcodeClass, Security};
use crate::time::Timestamp;

/// An Extended DNS Error option (RFC 8914) carried by an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedError {
    /// The INFO-CODE, e.g. 6 (DNSSEC Bogus), 7 (Signature Expired).
    pub code: u16,
    /// The EXTRA-TEXT, possibly empty.
    pub text: String,
}

/// An answer that matched its query (id, question, QR, opcode) and has a usable rcode.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The name asked for.
    pub qname: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// The DNSSEC status of the whole answer (AD bit mode).
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
        detail: String,
    },
}

impl LookupError {
    /// The DNSSEC status this error stands for (RFC 7672 sec. 2.1.1).
    pub fn security(&self) -> Security {
        match self {
            LookupError::ServFail { bogus: true, .. } => Security::Bogus,
            _ => Security::Indeterminate,
        }
    }
}

impl Answer {
    /// x
    pub fn mx(&self) -> Vec<(u16, Name)> {
        vec![]
    }
    /// x
    pub fn addresses(&self) -> Vec<std::net::IpAddr> {
        vec![]
    }
    /// x
    pub fn tlsa(&self) -> Vec<(u8, u8, u8, Vec<u8>)> {
        vec![]
    }
    /// x
    pub fn ede_text(&self) -> String {
        String::new()
    }
}
impl std::fmt::Display for LookupError {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
