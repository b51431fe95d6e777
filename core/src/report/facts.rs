//! The typed data that reasons carry besides what their producers already type (DANE
//! failures, TLS and network errors, lookup errors): the question of a lookup, why mandatory
//! DANE refused a host, what could not start for want of local resources, how an SMTP
//! server broke the protocol, and what a resolver's validation probe found.

use std::fmt;

use hickory_proto::rr::{Name, RecordType};
use serde::{Deserialize, Serialize};

use crate::dns::{LookupError, RcodeClass, Security};
use crate::implicit::greeting::GreetingProtocol;
use crate::machine::LocalFailure;
use crate::mua::wire::ResponseError;
use crate::smtp::reply::ReplyError;
use crate::smtp::route::display_name;
use crate::smtp::session::Stage;

/// The question of a lookup, as a reason names it: the name (without the trailing dot) and
/// the record type's mnemonic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DnsQuery {
    /// The name asked for.
    pub name: String,
    /// The record type, e.g. `TLSA`.
    pub rtype: String,
}

impl DnsQuery {
    /// The question for `name` and `rtype`.
    pub(crate) fn new(name: &Name, rtype: RecordType) -> Self {
        DnsQuery {
            name: display_name(name),
            rtype: rtype.to_string(),
        }
    }
}

impl fmt::Display for DnsQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// Why mandatory DANE (RFC 7672 sec. 6) refused a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneRequirement {
    /// The host is an IP address, which never uses DANE (RFC 7672 sec. 2.2).
    AddressLiteral,
    /// The MX RRset is not DNSSEC-signed (RFC 7672 sec. 2.2.1).
    InsecureMx,
    /// Every TLSA record is unusable (RFC 7672 sec. 2.2 (b)).
    AllUnusable,
    /// No usable secure TLSA records (RFC 7672 sec. 2.2 (c)).
    NoUsableTlsa,
}

impl fmt::Display for DaneRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DaneRequirement::AddressLiteral => "an IP address never uses DANE (RFC 7672 sec. 2.2)",
            DaneRequirement::InsecureMx => {
                "the MX RRset is not DNSSEC-signed (RFC 7672 sec. 2.2.1)"
            }
            DaneRequirement::AllUnusable => "every TLSA record is unusable (RFC 7672 sec. 2.2)",
            DaneRequirement::NoUsableTlsa => "no usable secure TLSA records (RFC 7672 sec. 2.2)",
        })
    }
}

/// What could not be started for want of local resources (issue 7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum LocalStep {
    /// A lookup.
    Lookup {
        /// Its question.
        query: DnsQuery,
    },
    /// The validating-resolver probe of a resolver (DESIGN.md section 4).
    ResolverProbe {
        /// The resolver, `ip:port`.
        resolver: String,
    },
    /// The TCP connection to a server.
    Connection,
}

impl fmt::Display for LocalStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalStep::Lookup { query } => write!(f, "lookup {query}"),
            LocalStep::ResolverProbe { resolver } => write!(f, "probe of resolver {resolver}"),
            LocalStep::Connection => f.write_str("connection"),
        }
    }
}

/// How an SMTP server broke the protocol (RFC 5321 sec. 4.2, 4.5.3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "fault")]
pub enum ProtocolFault {
    /// Its bytes are not a valid reply: malformed, oversized, unsolicited.
    Reply {
        /// The stage.
        stage: Stage,
        /// What was wrong.
        error: ReplyError,
    },
    /// It closed the connection in the middle of a stage.
    Closed {
        /// The stage.
        stage: Stage,
    },
    /// The session's own configuration (EHLO name, SNI) was refused before connecting.
    InvalidConfig,
    /// An IMAP or POP3 server's bytes are not a usable response: too long, an absurd
    /// literal, unterminated, malformed, unsolicited (RFC 9051 sec. 4.3, 7; RFC 1939
    /// sec. 3).
    Response {
        /// The protocol.
        protocol: GreetingProtocol,
        /// The stage.
        stage: Stage,
        /// What was wrong.
        error: ResponseError,
    },
}

impl fmt::Display for ProtocolFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolFault::Reply { stage, error } => write!(f, "{stage}: {error}"),
            ProtocolFault::Closed { stage } => {
                write!(f, "connection closed by the server during {stage}")
            }
            ProtocolFault::InvalidConfig => f.write_str("invalid session configuration"),
            ProtocolFault::Response {
                protocol,
                stage,
                error,
            } => write!(f, "{protocol:?} {stage}: {error}"),
        }
    }
}

/// What the validating-resolver probe (root DNSKEY with DO=1, DESIGN.md section 4) found
/// at a resolver that failed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "found")]
#[non_exhaustive]
pub enum ProbeDetail {
    /// It answered without the AD bit (RFC 4035 sec. 3.2.3).
    NoAdBit {
        /// The status of the answer.
        security: Security,
        /// What the answer held.
        rcode: RcodeClass,
    },
    /// It cannot serve DNSSEC: the root DNSKEY came back without its RRSIG (a resolver or
    /// forwarder that strips DNSSEC records, RFC 4035 sec. 3.2.1), so nothing can be
    /// validated through it.
    NoDnssecData {
        /// What the answer held.
        rcode: RcodeClass,
    },
    /// The lookup failed.
    Failed {
        /// Why.
        error: LookupError,
    },
    /// The probe could not be sent (issue 7).
    NotSent {
        /// The resource and the operating system's description.
        error: LocalFailure,
    },
}

impl fmt::Display for ProbeDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeDetail::NoAdBit { security, rcode } => write!(
                f,
                "does not validate: the root DNSKEY came back {security} ({rcode:?}) without the AD bit"
            ),
            ProbeDetail::NoDnssecData { rcode } => write!(
                f,
                "cannot serve DNSSEC: the root DNSKEY came back without its RRSIG ({rcode:?})"
            ),
            ProbeDetail::Failed { error } => write!(f, "failed the probe: {error}"),
            ProbeDetail::NotSent { error } => write!(f, "not probed: {error}"),
        }
    }
}
