//! The RFC 8460 report (sec. 4.4, "JSON Report Schema"): field names and types exactly as
//! the RFC has them, `mx-host` an array (RFC 8460 erratum 6241).

use serde::{Deserialize, Serialize};

use super::ResultType;

/// One aggregate report (RFC 8460 sec. 4.1 metadata, sec. 4.4 schema).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct TlsRptReport {
    /// The organization responsible for the report (sec. 4.1).
    pub organization_name: String,
    /// The period the report covers (sec. 4.1).
    pub date_range: DateRange,
    /// An e-mail address or URI to contact about the report (sec. 4.1).
    pub contact_info: String,
    /// A unique identifier of the report (sec. 4.1).
    pub report_id: String,
    /// One entry per policy (sec. 4.4).
    pub policies: Vec<PolicyResult>,
}

/// The period a report covers: RFC 3339 `date-time` values in UTC (sec. 4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DateRange {
    /// Start, e.g. `2026-12-03T00:00:00Z`.
    pub start_datetime: String,
    /// End.
    pub end_datetime: String,
}

/// The results for one policy (sec. 4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyResult {
    /// The policy applied.
    pub policy: Policy,
    /// Session counts.
    pub summary: Summary,
    /// The failures, grouped (sec. 4.4).
    #[serde(default)]
    pub failure_details: Vec<FailureDetail>,
}

/// The type of a policy (sec. 4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    /// A DANE TLSA policy (RFC 7672).
    Tlsa,
    /// An MTA-STS policy (RFC 8461); never produced by daneel.
    Sts,
    /// No policy was found.
    NoPolicyFound,
}

/// The policy applied (sec. 4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Policy {
    /// `tlsa`, `sts` or `no-policy-found`.
    pub policy_type: PolicyType,
    /// For `tlsa`: the TLSA records in presentation form, e.g. `3 1 1 abcd...`.
    #[serde(default)]
    pub policy_string: Vec<String>,
    /// The policy domain: the recipient domain checked.
    pub policy_domain: String,
    /// The MX hosts of the policy (an array, erratum 6241).
    #[serde(default)]
    pub mx_host: Vec<String>,
}

/// Session counts (sec. 4.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    /// Sessions that negotiated TLS as the policy requires.
    pub total_successful_session_count: u64,
    /// Sessions that failed.
    pub total_failure_session_count: u64,
}

/// A group of failed sessions with the same result and peer (sec. 4.4).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FailureDetail {
    /// The result type (sec. 4.3).
    pub result_type: ResultType,
    /// The address the sessions were made from; absent when unknown (a re-decided
    /// transcript does not say which local address its connections used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<String>,
    /// The MX host name.
    pub receiving_mx_hostname: String,
    /// The HELO/EHLO name the server announced, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_mx_helo: Option<String>,
    /// The address connected to; absent for a host that failed before any connection
    /// (its TLSA lookup, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<String>,
    /// How many sessions.
    pub failed_session_count: u64,
    /// A URI with more information: daneel's reason, as a `data:` URI (RFC 2397).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    /// daneel's reason code (the `code` of its `reason` in `daneel check --json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

impl FailureDetail {
    /// Whether `other` describes the same failure (everything but the count equal), so that
    /// the two are one group.
    pub fn same_group(&self, other: &FailureDetail) -> bool {
        FailureDetail {
            failed_session_count: 0,
            ..self.clone()
        } == FailureDetail {
            failed_session_count: 0,
            ..other.clone()
        }
    }
}
