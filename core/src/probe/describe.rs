//! How lookups and their failures read in reasons and log lines; shared by the probe and the
//! check that routes to it.

use hickory_proto::rr::{Name, RecordType};

use crate::dns::{LookupError, LookupResult, RcodeClass};
use crate::report::Reason;
use crate::smtp::route::display_name;

/// `name type` for reasons and log lines.
pub(crate) fn query_text(name: &Name, rtype: RecordType) -> String {
    format!("{} {rtype}", display_name(name))
}

/// The reason a failed lookup gives (RFC 7672 sec. 2.1.1; bogus kept apart for RFC 8460's
/// `dnssec-invalid`).
pub(crate) fn lookup_reason(query: String, error: &LookupError) -> Reason {
    match error {
        LookupError::ServFail { ede, bogus } => {
            let ede = ede
                .iter()
                .map(|e| {
                    if e.text.is_empty() {
                        format!("EDE {}", e.code)
                    } else {
                        format!("EDE {}: {}", e.code, e.text)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            if *bogus {
                Reason::DnsBogus { query, ede }
            } else {
                Reason::DnsServfail { query, ede }
            }
        }
        LookupError::Timeout => Reason::DnsTimeout { query },
        LookupError::LocalResources { detail } => Reason::LocalResources {
            detail: format!("{query} not sent: {detail}"),
        },
        other => Reason::DnsError {
            query,
            detail: other.to_string(),
        },
    }
}

/// One lookup result for the log: status, then what it holds.
pub(crate) fn describe_answer(result: &LookupResult) -> String {
    match result {
        Err(e) => format!("failed: {e}"),
        Ok(a) => {
            let what = match a.rcode {
                RcodeClass::NxDomain => "NXDOMAIN".to_string(),
                RcodeClass::NoData => "no records".to_string(),
                RcodeClass::Data => {
                    let addrs = a.addresses();
                    if addrs.is_empty() {
                        format!("{} records", a.records.len())
                    } else {
                        addrs
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                }
            };
            let via = if a.cnames.is_empty() {
                String::new()
            } else {
                format!(" via CNAME {}", display_name(&a.final_name))
            };
            format!("{}: {what}{via}", a.security)
        }
    }
}

/// Shortens long hex in log lines the way Postfix does (head...tail).
pub(crate) fn abbreviate(text: &str) -> String {
    match text.rsplit_once(' ') {
        Some((head, data)) if data.len() > 24 => {
            format!("{head} {}...{}", &data[..8], &data[data.len() - 8..])
        }
        _ => text.to_string(),
    }
}
