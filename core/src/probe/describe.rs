//! How lookups and their failures read in reasons and log lines; shared by the probe and the
//! check that routes to it.

use crate::dns::{ExtendedError, LookupError, LookupResult, RcodeClass, Security};
use crate::report::{DnsQuery, LocalStep, Reason};
use crate::smtp::route::display_name;

/// The reason a failed lookup gives (RFC 7672 sec. 2.1.1; bogus kept apart for RFC 8460's
/// `dnssec-invalid`).
pub(crate) fn lookup_reason(query: DnsQuery, error: &LookupError) -> Reason {
    match error {
        LookupError::ServFail { ede, bogus } => {
            let ede = ede.clone();
            if *bogus {
                Reason::DnsBogus {
                    query,
                    ede,
                    validation: None,
                }
            } else {
                Reason::DnsServfail { query, ede }
            }
        }
        LookupError::Validation { failure } if failure.security() == Security::Bogus => {
            Reason::DnsBogus {
                query,
                ede: vec![ExtendedError {
                    code: failure.ede_code(),
                    text: failure.to_string(),
                }],
                validation: Some(Box::new(failure.clone())),
            }
        }
        LookupError::Timeout => Reason::DnsTimeout { query },
        LookupError::LocalResources { error } => Reason::LocalResources {
            during: LocalStep::Lookup { query },
            error: error.clone(),
        },
        other => Reason::DnsError {
            query,
            error: other.clone(),
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
