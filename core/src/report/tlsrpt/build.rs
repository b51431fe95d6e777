//! The RFC 8460 report of one SMTP check: one policy for the checked domain, its sessions
//! counted and its failures grouped by the mapping of [`super::result_type`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::json::{
    DateRange, FailureDetail, Policy, PolicyResult, PolicyType, Summary, TlsRptReport,
};
use super::{result_type, Outcome, ResultType};
use crate::report::{
    CheckKind, ConnectionReport, ConnectionVerdict, FailedLookup, HostPolicy, HostReport, Report,
};
use crate::time::Timestamp;

/// Who writes a report (RFC 8460 sec. 4.1): given by the user, never guessed by the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporter {
    /// `organization-name`.
    pub organization: String,
    /// `contact-info`: an e-mail address or URI.
    pub contact: String,
}

/// Why a report cannot be made of a check's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// RFC 8460 reports SMTP between MTAs; this is a report of another kind of check.
    NotSmtp {
        /// The kind it is.
        kind: CheckKind,
    },
    /// The check was of `[host]` or `[address]`, which has no policy domain (RFC 8460
    /// sec. 4.2 wants the recipient domain).
    NoPolicyDomain {
        /// The destination as given.
        destination: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NotSmtp { kind } => write!(
                f,
                "a {kind:?} check has no RFC 8460 report: TLS reporting is for SMTP between MTAs"
            ),
            BuildError::NoPolicyDomain { destination } => write!(
                f,
                "{destination} is not a mail domain: an RFC 8460 report needs a policy domain"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// The local address a session to a receiving address was made from, when the runtime
/// knows it (RFC 8460 `sending-mta-ip`).
pub type SendingIp<'a> = &'a dyn Fn(IpAddr) -> Option<IpAddr>;

/// The policy domain of a check: the destination domain, lower case, without a final dot.
/// It follows from the destination alone, so a check that ended before its MX answer (no
/// validating resolver, an abort) still has one, with no sessions; a `[host]` or an address
/// literal has none.
pub fn policy_domain(report: &Report) -> Result<String, BuildError> {
    if report.kind != CheckKind::Smtp {
        return Err(BuildError::NotSmtp { kind: report.kind });
    }
    let domain = report.domain.trim();
    if domain.is_empty() || domain.starts_with('[') || domain.parse::<IpAddr>().is_ok() {
        return Err(BuildError::NoPolicyDomain {
            destination: report.domain.clone(),
        });
    }
    Ok(domain.trim_end_matches('.').to_ascii_lowercase())
}

/// The results of one check for its policy domain (RFC 8460 sec. 4.4 `policies[]` entry).
pub fn policy_result(
    report: &Report,
    sending_ip: SendingIp<'_>,
) -> Result<PolicyResult, BuildError> {
    let policy_domain = policy_domain(report)?;
    let mut policy_string: Vec<String> = Vec::new();
    for text in report
        .hosts
        .iter()
        .filter_map(|h| h.tlsa.as_ref())
        .flat_map(|t| t.records.iter().map(|r| r.text.clone()))
    {
        if !policy_string.contains(&text) {
            policy_string.push(text);
        }
    }
    let tlsa_failed = report.hosts.iter().any(|h| {
        matches!(
            h.failed_lookup,
            Some(FailedLookup::Tlsa | FailedLookup::CnameProbe)
        )
    });
    let policy_type = if policy_string.is_empty() && !tlsa_failed {
        PolicyType::NoPolicyFound
    } else {
        PolicyType::Tlsa
    };
    let mut summary = Summary::default();
    let mut details = Vec::new();
    for host in &report.hosts {
        count_host(host, sending_ip, &mut summary, &mut details);
    }
    Ok(PolicyResult {
        policy: Policy {
            policy_type,
            policy_string,
            policy_domain,
            mx_host: report.hosts.iter().map(|h| h.name.clone()).collect(),
        },
        summary,
        // One check's sessions are few: their counts cannot overflow.
        failure_details: group(details).unwrap_or_default(),
    })
}

/// Counts the sessions of one host: each connection is a session; a host that failed before
/// any connection (a TLSA lookup, mandatory DANE) counts as one failed session.
fn count_host(
    host: &HostReport,
    sending_ip: SendingIp<'_>,
    summary: &mut Summary,
    details: &mut Vec<FailureDetail>,
) {
    let host_type = result_type(Outcome::Host {
        policy: host.policy,
        failed_lookup: host.failed_lookup,
        reason: host.reason.as_ref(),
    });
    let host_code = match host.policy {
        HostPolicy::Encrypt => Some("all-tlsa-unusable".to_string()),
        _ => host.reason.as_ref().map(|r| r.code().to_string()),
    };
    if host.connections.is_empty() {
        if let Some(t) = host_type {
            summary.total_failure_session_count += 1;
            details.push(detail(
                t,
                host,
                None,
                sending_ip,
                host_code,
                host.reason.as_ref(),
            ));
        }
        return;
    }
    for conn in &host.connections {
        let own = result_type(Outcome::Session {
            verdict: conn.verdict,
            reason: conn.reason.as_ref(),
        });
        let negotiated = matches!(
            conn.verdict,
            ConnectionVerdict::Verified | ConnectionVerdict::Trusted | ConnectionVerdict::Untrusted
        );
        match (own, host_type) {
            (Some(t), _) => {
                let code = conn
                    .reason
                    .as_ref()
                    .map_or("starttls-not-offered", |r| r.code());
                summary.total_failure_session_count += 1;
                details.push(detail(
                    t,
                    host,
                    Some(conn),
                    sending_ip,
                    Some(code.to_string()),
                    conn.reason.as_ref(),
                ));
            }
            (None, Some(t)) if negotiated => {
                summary.total_failure_session_count += 1;
                details.push(detail(
                    t,
                    host,
                    Some(conn),
                    sending_ip,
                    host_code.clone(),
                    host.reason.as_ref(),
                ));
            }
            (None, _) if negotiated => summary.total_successful_session_count += 1,
            // No TLS negotiation took place (connect failure, timeout, SMTP refusal): not a
            // session RFC 8460 counts.
            (None, _) => {}
        }
    }
}

fn detail(
    result_type: ResultType,
    host: &HostReport,
    conn: Option<&ConnectionReport>,
    sending_ip: SendingIp<'_>,
    failure_reason_code: Option<String>,
    reason: Option<&crate::report::Reason>,
) -> FailureDetail {
    let receiving = conn.and_then(|c| c.address.parse::<SocketAddr>().ok().map(|a| a.ip()));
    FailureDetail {
        result_type,
        sending_mta_ip: receiving.and_then(sending_ip).map(|ip| ip.to_string()),
        receiving_mx_hostname: host.name.clone(),
        receiving_mx_helo: None,
        receiving_ip: receiving.map(|ip| ip.to_string()),
        failed_session_count: 1,
        additional_information: reason.map(|r| data_uri(&r.to_string())),
        failure_reason_code,
    }
}

/// Groups equal failures (everything but the count), adding their counts, sorted on every
/// field so that the order of the inputs never shows. `None` when a count overflows.
pub(crate) fn group(details: Vec<FailureDetail>) -> Option<Vec<FailureDetail>> {
    let mut groups: Vec<FailureDetail> = Vec::new();
    for d in details {
        match groups.iter_mut().find(|g| g.same_group(&d)) {
            Some(g) => {
                g.failed_session_count =
                    g.failed_session_count.checked_add(d.failed_session_count)?
            }
            None => groups.push(d),
        }
    }
    groups.sort_by(|a, b| {
        (&a.receiving_mx_hostname, &a.receiving_ip, a.result_type, a).cmp(&(
            &b.receiving_mx_hostname,
            &b.receiving_ip,
            b.result_type,
            b,
        ))
    });
    Some(groups)
}

/// `text` as a `data:` URI (RFC 2397): everything but unreserved characters (RFC 3986
/// sec. 2.3) percent-encoded.
fn data_uri(text: &str) -> String {
    let mut uri = String::from("data:,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// A report of `policies` for `range` by `reporter`, with a `report-id` made of the range,
/// the first policy domain and a digest of the results (unique for different contents).
pub fn report(
    reporter: &Reporter,
    range: (Timestamp, Timestamp),
    policies: Vec<PolicyResult>,
) -> TlsRptReport {
    let domain = policies
        .first()
        .map(|p| p.policy.policy_domain.clone())
        .unwrap_or_default();
    // FNV-1a over the serialized results: the same results give the same id.
    let text = serde_json::to_string(&policies).unwrap_or_default();
    let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    TlsRptReport {
        organization_name: reporter.organization.clone(),
        date_range: DateRange {
            start_datetime: range.0.to_rfc3339(),
            end_datetime: range.1.to_rfc3339(),
        },
        contact_info: reporter.contact.clone(),
        report_id: format!(
            "{}.{}.{digest:016x}@{domain}",
            range.0.as_unix_secs(),
            range.1.as_unix_secs()
        ),
        policies,
    }
}

/// The report of one check that started at `report.started` and ended at `ended` (a time
/// the runtime read; the core reads no clock).
pub fn from_check(
    report: &Report,
    reporter: &Reporter,
    ended: Timestamp,
    sending_ip: SendingIp<'_>,
) -> Result<TlsRptReport, BuildError> {
    let policy = policy_result(report, sending_ip)?;
    Ok(self::report(
        reporter,
        (report.started, ended.max(report.started)),
        vec![policy],
    ))
}
