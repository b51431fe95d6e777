//! The parts of a report that only the MUA check writes: one entry per service, and the
//! auto-configuration a client should store (RFC 6186 sec. 3.4, RFC 7673 sec. 4).

use serde::{Deserialize, Serialize};

use super::srv::{DroppedSrv, MailService, ServicePurpose};
use crate::dns::Security;
use crate::report::{DomainVerdict, HostReport, Reason};

/// The SRV lookup of one service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SrvReport {
    /// DNSSEC status of the answer, CNAME chain included (RFC 7673 sec. 3.1).
    pub security: Security,
    /// Every record as published (`priority weight port target`), in answer order.
    pub records: Vec<String>,
    /// The CNAME chain of the owner name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<String>,
    /// Records left out of the plan, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedSrv>,
    /// A single "." target: the service is decidedly not available (RFC 2782).
    #[serde(default)]
    pub null_target: bool,
}

/// One service of the domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceReport {
    /// Which service.
    pub service: MailService,
    /// The SRV owner name `_<service>._tcp.<domain>`.
    pub owner: String,
    /// The SRV lookup, absent when it failed.
    pub srv: Option<SrvReport>,
    /// The service's verdict: `unavailable` when not published, `temp-fail` when the SRV
    /// lookup failed or was bogus (RFC 7673 sec. 3.1: do not connect), else the verdict of
    /// its targets by the precedence of DESIGN.md section 5.
    pub verdict: DomainVerdict,
    /// Why, for verdicts decided before any target.
    pub reason: Option<Reason>,
    /// The targets in RFC 2782 order, each with its port.
    pub targets: Vec<HostReport>,
    /// Which classes of mail client the service's targets serve (draft-fanf-dane-mua,
    /// [`super::compat`]); absent when not asked for or when no target was tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<super::compat::Compatibility>,
}

/// How a client may authenticate a server it stores (RFC 7673 sec. 4, RFC 6698 sec. 2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// TLS from the first byte (RFC 8314 sec. 3).
    Implicit,
    /// STARTTLS (RFC 3207, RFC 2595).
    Starttls,
}

/// What a mail client should store for one purpose: the first target, in RFC 2782 order, of
/// the most preferred service (implicit TLS first, RFC 8314 sec. 5.1; IMAP before POP3),
/// whose connection succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoConfig {
    /// Sending or reading mail.
    pub purpose: ServicePurpose,
    /// The service.
    pub service: MailService,
    /// The server's host name (the SRV target).
    pub host: String,
    /// The port (from the SRV record).
    pub port: u16,
    /// How TLS starts.
    pub tls: TlsMode,
    /// The verdict of the connection it rests on (`verified`: DANE with a secure SRV
    /// RRset, or PKIX).
    pub connection: crate::report::ConnectionVerdict,
    /// How the server was authenticated (DANE-EE, DANE-TA, PKIX-TA, PKIX-EE or PKIX).
    pub authenticated_by: Option<crate::report::AuthenticatedBy>,
    /// The name the server's certificate was authenticated for (none for DANE-EE, which
    /// checks no name: RFC 7673 sec. 4.2).
    pub authenticated_name: Option<String>,
}
