//! Discovery of a mail domain's user-facing services through SRV records (RFC 6186, RFC 8314
//! sec. 5.1), ordered as RFC 2782 says, with the DNSSEC status RFC 7673 sec. 3.1 needs.

use std::fmt;

use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};

use crate::dns::{Answer, DomainName, NameError, RcodeClass, Security};
pub use crate::probe::{Service, SessionKind, TlsStart};
use crate::seed::DetRng;
use crate::smtp::route::{display_name, literal_address};

/// At most this many SRV targets of one service are probed; the rest are reported as
/// dropped. A real service lists a handful; thousands are an attack on the checker.
pub const MAX_SRV_TARGETS: usize = 16;

/// A mail service a user agent looks up (RFC 6186 sec. 3, RFC 8314 sec. 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailService {
    /// `_submissions._tcp`: message submission over implicit TLS, port 465 (RFC 8314 sec. 3.3).
    Submissions,
    /// `_submission._tcp`: message submission with STARTTLS, port 587 (RFC 6186 sec. 3.1).
    Submission,
    /// `_imaps._tcp`: IMAP over implicit TLS, port 993 (RFC 6186 sec. 3.2, RFC 8314).
    Imaps,
    /// `_imap._tcp`: IMAP with STARTTLS, port 143 (RFC 6186 sec. 3.2).
    Imap,
    /// `_pop3s._tcp`: POP3 over implicit TLS, port 995 (RFC 6186 sec. 3.3, RFC 8314).
    Pop3s,
    /// `_pop3._tcp`: POP3 with STLS, port 110 (RFC 6186 sec. 3.3).
    Pop3,
}

impl MailService {
    /// All six, implicit TLS before STARTTLS for each protocol (RFC 8314 sec. 5.1: MUAs
    /// SHOULD prefer implicit TLS).
    pub const ALL: [MailService; 6] = [
        MailService::Submissions,
        MailService::Submission,
        MailService::Imaps,
        MailService::Imap,
        MailService::Pop3s,
        MailService::Pop3,
    ];

    /// The service name, as in `--service` and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            MailService::Submissions => "submissions",
            MailService::Submission => "submission",
            MailService::Imaps => "imaps",
            MailService::Imap => "imap",
            MailService::Pop3s => "pop3s",
            MailService::Pop3 => "pop3",
        }
    }

    /// The service named `text` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The SRV owner name `_<service>._tcp.<domain>` (RFC 6186 sec. 3; RFC 7673 sec. 3
    /// looks up its SRV RRset with the DNSSEC status). Fails with
    /// [`NameError::NameTooLong`] when the name would be longer than 255 octets (RFC 1035
    /// sec. 2.3.4): the two labels it adds are valid and short, so that is the only failure.
    pub fn owner(self, domain: &DomainName) -> Result<DomainName, NameError> {
        self.srv_owner(domain.as_hickory())
            .map(DomainName::from_hickory)
    }

    /// [`MailService::owner`] for the DNS machinery.
    pub(crate) fn srv_owner(self, domain: &Name) -> Result<Name, NameError> {
        let label = format!("_{}", self.as_str());
        Name::from_labels([label.as_bytes(), b"_tcp".as_slice()])
            .and_then(|n| n.append_domain(domain))
            .map_err(|_| NameError::NameTooLong)
    }

    /// The port the service usually has (RFC 6186 sec. 3, RFC 8314 sec. 7.3).
    pub fn default_port(self) -> u16 {
        match self {
            MailService::Submissions => 465,
            MailService::Submission => 587,
            MailService::Imaps => 993,
            MailService::Imap => 143,
            MailService::Pop3s => 995,
            MailService::Pop3 => 110,
        }
    }

    /// The session spoken to a target on `port` (the port from the SRV RDATA, RFC 7673
    /// sec. 3.3).
    pub(crate) fn session(self, port: u16) -> Service {
        let (kind, tls) = match self {
            MailService::Submissions => (SessionKind::Submission, TlsStart::Implicit),
            MailService::Submission => (SessionKind::Submission, TlsStart::StartTls),
            MailService::Imaps => (SessionKind::Imap, TlsStart::Implicit),
            MailService::Imap => (SessionKind::Imap, TlsStart::StartTls),
            MailService::Pop3s => (SessionKind::Pop3, TlsStart::Implicit),
            MailService::Pop3 => (SessionKind::Pop3, TlsStart::StartTls),
        };
        Service { port, kind, tls }
    }

    /// Whether TLS starts with the first byte (RFC 8314 sec. 3).
    pub fn implicit_tls(self) -> bool {
        self.session(0).tls == TlsStart::Implicit
    }

    /// What a client uses the service for: submission, or mail access.
    pub fn purpose(self) -> ServicePurpose {
        match self {
            MailService::Submissions | MailService::Submission => ServicePurpose::Submission,
            _ => ServicePurpose::Access,
        }
    }
}

impl fmt::Display for MailService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client uses a service for (the auto-configuration keeps one of each, RFC 6186
/// sec. 3.4 and RFC 8314 sec. 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServicePurpose {
    /// Sending mail (submission, RFC 6409).
    Submission,
    /// Reading mail (IMAP or POP3).
    Access,
}

/// One SRV record (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvTarget {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative chance among records of the same priority.
    pub weight: u16,
    /// The port of the service, and of the TLSA RRset `_<port>._tcp.<target>`.
    pub port: u16,
    /// The target host (fully qualified, lower case).
    pub target: Name,
}

impl fmt::Display for SrvTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority,
            self.weight,
            self.port,
            display_name(&self.target)
        )
    }
}

/// An SRV record left out of the plan, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "code")]
pub enum DroppedSrv {
    /// Port 0 names no service and no TLSA RRset.
    PortZero {
        /// The record.
        record: String,
    },
    /// The same target and port listed again; kept once at its best priority.
    Duplicate {
        /// The record.
        record: String,
    },
    /// A "." target beside other records is not "service unavailable" (RFC 2782).
    RootBesideOthers {
        /// The record.
        record: String,
    },
    /// The target is an IP address written as a name: RFC 2782 wants a host name, and no
    /// TLSA RRset can be named after it.
    AddressLiteral {
        /// The record.
        record: String,
    },
    /// More records than `MAX_SRV_TARGETS`: the rest, in RFC 2782 order, were not probed.
    OverLimit {
        /// How many records were left out.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for DroppedSrv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DroppedSrv::PortZero { record } => write!(f, "SRV {record}: port 0, dropped"),
            DroppedSrv::Duplicate { record } => {
                write!(f, "SRV {record}: target and port listed again, checked once")
            }
            DroppedSrv::RootBesideOthers { record } => write!(
                f,
                "SRV {record}: \".\" beside other records does not mean unavailable (RFC 2782), dropped"
            ),
            DroppedSrv::AddressLiteral { record } => write!(
                f,
                "SRV {record}: the target is an IP address, not a host name (RFC 2782), dropped"
            ),
            DroppedSrv::OverLimit { count, limit } => write!(
                f,
                "{count} more SRV records beyond the first {limit} were not checked"
            ),
        }
    }
}

/// What the SRV lookup of one service says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SrvKind {
    /// No SRV records (NXDOMAIN or NODATA): the service is not published (RFC 6186 sec. 3).
    Absent {
        /// NXDOMAIN rather than NODATA.
        nxdomain: bool,
    },
    /// A single record with target "." : the service is decidedly not available (RFC 2782).
    Unavailable,
    /// The targets, in the order RFC 2782 says to try them.
    Targets(Vec<SrvTarget>),
}

/// The plan for one service: its SRV RRset's status and the targets to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvPlan {
    /// DNSSEC status of the SRV answer, CNAME chain included (RFC 7673 sec. 3.1).
    pub security: Security,
    /// What was found.
    pub kind: SrvKind,
    /// The CNAME chain of the owner name, as `owner -> target`.
    pub cnames: Vec<String>,
    /// Every record as published, in answer order (`priority weight port target`).
    pub records: Vec<String>,
    /// Records left out, and why.
    pub dropped: Vec<DroppedSrv>,
}

/// Plans the targets of one service from its SRV answer: orders them by priority, and within
/// a priority by RFC 2782's weighted random selection drawn from `rng` (reproducible from the
/// check's seed); drops port 0, duplicates, address literals and "." beside other records;
/// keeps at most [`MAX_SRV_TARGETS`].
pub fn plan_srv(answer: &Answer, rng: &mut DetRng) -> SrvPlan {
    let cnames = answer
        .cnames
        .iter()
        .map(|(owner, target)| format!("{} -> {}", display_name(owner), display_name(target)))
        .collect();
    let published: Vec<SrvTarget> = answer
        .srv()
        .into_iter()
        .map(|(priority, weight, port, target)| SrvTarget {
            priority,
            weight,
            port,
            target: target.to_lowercase(),
        })
        .collect();
    let records = published.iter().map(|t| t.to_string()).collect();
    let mut dropped = Vec::new();
    let kind = match answer.rcode {
        RcodeClass::NxDomain => SrvKind::Absent { nxdomain: true },
        RcodeClass::NoData => SrvKind::Absent { nxdomain: false },
        RcodeClass::Data if published.is_empty() => SrvKind::Absent { nxdomain: false },
        RcodeClass::Data if published.len() == 1 && published[0].target.is_root() => {
            SrvKind::Unavailable
        }
        RcodeClass::Data => {
            let mut usable: Vec<SrvTarget> = Vec::new();
            for t in published {
                let record = t.to_string();
                if t.target.is_root() {
                    dropped.push(DroppedSrv::RootBesideOthers { record });
                } else if t.port == 0 {
                    dropped.push(DroppedSrv::PortZero { record });
                } else if literal_address(&t.target).is_some() {
                    dropped.push(DroppedSrv::AddressLiteral { record });
                } else {
                    usable.push(t);
                }
            }
            let mut ordered = rfc2782_order(usable, rng);
            let mut kept: Vec<SrvTarget> = Vec::new();
            for t in ordered.drain(..) {
                if kept
                    .iter()
                    .any(|k| k.target == t.target && k.port == t.port)
                {
                    dropped.push(DroppedSrv::Duplicate {
                        record: t.to_string(),
                    });
                } else {
                    kept.push(t);
                }
            }
            if kept.len() > MAX_SRV_TARGETS {
                dropped.push(DroppedSrv::OverLimit {
                    count: kept.len() - MAX_SRV_TARGETS,
                    limit: MAX_SRV_TARGETS,
                });
                kept.truncate(MAX_SRV_TARGETS);
            }
            SrvKind::Targets(kept)
        }
    };
    SrvPlan {
        security: answer.security,
        kind,
        cnames,
        records,
        dropped,
    }
}

/// RFC 2782's order: ascending priority; within one priority, arrange the records in random
/// order with the weight-0 ones first (so they are picked when the draw is 0), then
/// repeatedly pick one with probability proportional to its weight, until none is left.
pub fn rfc2782_order(mut records: Vec<SrvTarget>, rng: &mut DetRng) -> Vec<SrvTarget> {
    rng.shuffle(&mut records);
    records.sort_by_key(|t| (t.priority, t.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let end = rest
            .iter()
            .position(|t| t.priority != first.priority)
            .unwrap_or(rest.len());
        let mut group: Vec<SrvTarget> = rest[..end].to_vec();
        rest = &rest[end..];
        while !group.is_empty() {
            let total: u64 = group.iter().map(|t| u64::from(t.weight)).sum();
            let draw = rng.below(total + 1);
            let mut running = 0u64;
            let pick = group
                .iter()
                .position(|t| {
                    running += u64::from(t.weight);
                    running >= draw
                })
                .unwrap_or(group.len() - 1);
            ordered.push(group.remove(pick));
        }
    }
    ordered
}
