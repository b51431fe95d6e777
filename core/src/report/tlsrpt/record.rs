//! The TLSRPT policy record (RFC 8460 sec. 3): a TXT record at `_smtp._tls.<domain>` such as
//! `v=TLSRPTv1; rua=mailto:tlsrpt@example.com`, saying where reports go. daneel looks it up,
//! validates it and shows it; it never sends anything to the `rua` addresses.
//!
//! The grammar (sec. 3):
//!
//! ```text
//! tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! field-delim      = *WSP ";" *WSP
//! tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//! tlsrpt-version   = %s"v=TLSRPTv1"
//! tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri       = URI   ; "mailto:" or "https:", with "," and "!" percent-encoded
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! TXT records that do not begin with `v=TLSRPTv1` are discarded; if not exactly one is
//! left, the domain does not implement TLSRPT (sec. 3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dns::{LookupResult, RcodeClass, Security};
use crate::report::{DnsQuery, Reason};

/// The version tag every TLSRPT record begins with (sec. 3).
pub const VERSION: &str = "v=TLSRPTv1";

/// Whether a TXT string is a TLSRPT record: [`VERSION`] then a field delimiter or nothing
/// (RFC 8460 sec. 3: `tlsrpt-version 1*(field-delim tlsrpt-field)`), so `v=TLSRPTv10` is not
/// one and cannot make a valid record look duplicated.
pub fn is_tlsrpt(text: &str) -> bool {
    text.strip_prefix(VERSION)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// A TLSRPT record that follows the grammar (sec. 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRptRecord {
    /// The reporting URIs of every `rua` field, in order.
    pub rua: Vec<String>,
    /// Other fields, which RFC 8460 sec. 3 says to ignore, as `name=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// What part of the grammar a record broke (sec. 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expected {
    /// `v=TLSRPTv1` at the start.
    Version,
    /// `;` between fields.
    Delimiter,
    /// A field name: a letter or digit, then up to 31 letters, digits, `_`, `-`, `.`.
    FieldName,
    /// `=` after a field name.
    Equals,
    /// A field value: printable characters except `=`, `;` and space.
    Value,
    /// A URI after `rua=` or after a `,`.
    Uri,
}

/// What is wrong with a published TLSRPT record, or with the set of them (sec. 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "problem")]
pub enum RecordProblem {
    /// More than one TXT record begins with `v=TLSRPTv1`: the domain must be taken as not
    /// implementing TLSRPT (sec. 3).
    MultipleRecords {
        /// How many.
        count: usize,
    },
    /// The record does not follow the grammar.
    Syntax {
        /// The byte offset where it stops following it.
        offset: usize,
        /// What was expected there.
        expected: Expected,
    },
    /// The record has no `rua` field, so reports have nowhere to go (sec. 3).
    MissingRua,
    /// A reporting URI whose scheme is neither `mailto:` nor `https:` (sec. 3).
    UnsupportedScheme {
        /// The URI.
        uri: String,
    },
    /// A `mailto:` URI without an `local@domain` address (RFC 6068), an `https:` URI
    /// without a host (RFC 9110 sec. 4.2.2), or characters a URI may not hold (RFC 3986).
    InvalidUri {
        /// The URI.
        uri: String,
    },
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordProblem::MultipleRecords { count } => write!(
                f,
                "{count} TLSRPT records: the domain counts as not implementing TLSRPT (RFC 8460 sec. 3)"
            ),
            RecordProblem::Syntax { offset, expected } => write!(
                f,
                "syntax error at offset {offset}: expected {expected:?} (RFC 8460 sec. 3)"
            ),
            RecordProblem::MissingRua => f.write_str("no rua field (RFC 8460 sec. 3)"),
            RecordProblem::UnsupportedScheme { uri } => write!(
                f,
                "{uri}: only mailto: and https: report URIs exist (RFC 8460 sec. 3)"
            ),
            RecordProblem::InvalidUri { uri } => write!(f, "{uri}: not a valid report URI"),
        }
    }
}

/// The `_smtp._tls` TXT lookup of a check, as its report shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum TlsRptLookup {
    /// Not looked up: a `[host]` or `[address]` destination, a transcript recorded before
    /// daneel looked it up, or a check configured not to.
    #[default]
    NotLookedUp,
    /// Asked, but the check ended early (NXDOMAIN, null MX, a failed MX lookup, an abort):
    /// whatever came back is not reported, so that the report does not depend on which
    /// answer arrived first.
    Abandoned {
        /// The name asked for.
        name: String,
    },
    /// The lookup failed or was bogus (a warning; the verdict never depends on it).
    Failed {
        /// The name asked for.
        name: String,
        /// Why.
        reason: Reason,
    },
    /// No TXT record begins with `v=TLSRPTv1`: the domain asks for no reports.
    Absent {
        /// The name asked for.
        name: String,
        /// DNSSEC status of the answer.
        security: Security,
    },
    /// TLSRPT records were found.
    Found {
        /// The name asked for.
        name: String,
        /// DNSSEC status of the answer.
        security: Security,
        /// The TXT records that begin with `v=TLSRPTv1`.
        records: Vec<String>,
        /// The record, when exactly one was published and it follows the grammar.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<TlsRptRecord>,
        /// What is wrong, if anything.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        problems: Vec<RecordProblem>,
    },
}

impl TlsRptLookup {
    /// Whether it was not looked up (the JSON field is then left out).
    pub fn is_not_looked_up(&self) -> bool {
        matches!(self, TlsRptLookup::NotLookedUp)
    }

    /// What the answer (or failure) of the lookup of `query` says.
    pub(crate) fn from_result(query: DnsQuery, result: LookupResult) -> TlsRptLookup {
        let name = query.name.clone();
        let answer = match result {
            Ok(answer) => answer,
            Err(error) => {
                return TlsRptLookup::Failed {
                    name,
                    reason: crate::probe::lookup_reason(query, &error),
                }
            }
        };
        let records: Vec<String> = match answer.rcode {
            RcodeClass::Data => answer
                .txt()
                .iter()
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .filter(|t| is_tlsrpt(t))
                .collect(),
            RcodeClass::NoData | RcodeClass::NxDomain => Vec::new(),
        };
        if records.is_empty() {
            return TlsRptLookup::Absent {
                name,
                security: answer.security,
            };
        }
        let (record, problems) = match records.as_slice() {
            [one] => match parse(one) {
                Ok(record) => {
                    let problems = record.problems();
                    (Some(record), problems)
                }
                Err(problem) => (None, vec![problem]),
            },
            more => (
                None,
                vec![RecordProblem::MultipleRecords { count: more.len() }],
            ),
        };
        TlsRptLookup::Found {
            name,
            security: answer.security,
            records,
            record,
            problems,
        }
    }
}

impl fmt::Display for TlsRptLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsRptLookup::NotLookedUp => f.write_str("not looked up"),
            TlsRptLookup::Abandoned { .. } => f.write_str("abandoned: the check ended early"),
            TlsRptLookup::Failed { reason, .. } => write!(f, "{reason}: TLSRPT record unknown"),
            TlsRptLookup::Absent { security, .. } => {
                write!(f, "{security}: no TLSRPT record (RFC 8460 sec. 3)")
            }
            TlsRptLookup::Found {
                security,
                records,
                problems,
                ..
            } => {
                write!(f, "{security}: {}", records.join(" | "))?;
                for p in problems {
                    write!(f, "; {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parses one record (sec. 3); the first place it breaks the grammar is the error.
pub fn parse(text: &str) -> Result<TlsRptRecord, RecordProblem> {
    let bytes = text.as_bytes();
    let syntax = |offset: usize, expected: Expected| RecordProblem::Syntax { offset, expected };
    if !text.starts_with(VERSION) {
        return Err(syntax(0, Expected::Version));
    }
    let mut at = VERSION.len();
    let mut record = TlsRptRecord {
        rua: Vec::new(),
        extensions: Vec::new(),
    };
    let mut fields = 0;
    loop {
        let after_wsp = skip_wsp(bytes, at);
        if after_wsp == bytes.len() && fields > 0 {
            break;
        }
        if bytes.get(after_wsp) != Some(&b';') {
            return Err(syntax(after_wsp, Expected::Delimiter));
        }
        at = skip_wsp(bytes, after_wsp + 1);
        if at == bytes.len() && fields > 0 {
            // A final field-delim.
            break;
        }
        let name_end = field_name_end(bytes, at).ok_or(syntax(at, Expected::FieldName))?;
        if bytes.get(name_end) != Some(&b'=') {
            return Err(syntax(name_end, Expected::Equals));
        }
        let name = &text[at..name_end];
        at = name_end + 1;
        if name == "rua" {
            loop {
                let end = (at..bytes.len())
                    .find(|&i| matches!(bytes[i], b',' | b';' | b' ' | b'\t'))
                    .unwrap_or(bytes.len());
                if end == at {
                    return Err(syntax(at, Expected::Uri));
                }
                record.rua.push(text[at..end].to_string());
                let next = skip_wsp(bytes, end);
                if bytes.get(next) != Some(&b',') {
                    at = end;
                    break;
                }
                at = skip_wsp(bytes, next + 1);
            }
        } else {
            let end = (at..bytes.len())
                .find(|&i| !matches!(bytes[i], 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
                .unwrap_or(bytes.len());
            if end == at {
                return Err(syntax(at, Expected::Value));
            }
            record
                .extensions
                .push(text[name_end - name.len()..end].to_string());
            at = end;
        }
        fields += 1;
    }
    Ok(record)
}

fn skip_wsp(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

/// The end of a field name starting at `at` (`(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
/// "-" / ".")`), if one starts there.
fn field_name_end(bytes: &[u8], at: usize) -> Option<usize> {
    if !bytes.get(at)?.is_ascii_alphanumeric() {
        return None;
    }
    let mut end = at + 1;
    while end - at < 32
        && bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b))
    {
        end += 1;
    }
    Some(end)
}

impl TlsRptRecord {
    /// What is wrong with a record that follows the grammar: no `rua`, or URIs that are not
    /// `mailto:` addresses or `https:` URLs (sec. 3).
    pub fn problems(&self) -> Vec<RecordProblem> {
        let mut problems = Vec::new();
        if self.rua.is_empty() {
            problems.push(RecordProblem::MissingRua);
        }
        for uri in &self.rua {
            if let Some(problem) = uri_problem(uri) {
                problems.push(problem);
            }
        }
        problems
    }
}

/// Why `uri` is not a usable report URI, if it is not.
fn uri_problem(uri: &str) -> Option<RecordProblem> {
    let invalid = || {
        Some(RecordProblem::InvalidUri {
            uri: uri.to_string(),
        })
    };
    // RFC 3986 sec. 2: unreserved, reserved and percent signs only; "!" must be encoded in a
    // TLSRPT record (sec. 3).
    let uri_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@$&'()*+,;=%".contains(c);
    if !uri.chars().all(uri_char) {
        return invalid();
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return invalid();
    };
    match scheme.to_ascii_lowercase().as_str() {
        "mailto" => {
            let address = rest.split('?').next().unwrap_or_default();
            match address.rsplit_once('@') {
                Some((local, domain))
                    if !local.is_empty()
                        && !domain.is_empty()
                        && crate::smtp::route::parse_domain(domain).is_ok() =>
                {
                    None
                }
                _ => invalid(),
            }
        }
        "https" => {
            let host = rest
                .strip_prefix("//")
                .and_then(|r| r.split(['/', '?', '#']).next())
                .map(|authority| authority.rsplit('@').next().unwrap_or_default())
                .unwrap_or_default();
            let name = host.split(':').next().unwrap_or_default();
            if name.is_empty() {
                invalid()
            } else {
                None
            }
        }
        _ => Some(RecordProblem::UnsupportedScheme {
            uri: uri.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_version_is_a_tlsrpt_record() {
        assert!(is_tlsrpt("v=TLSRPTv1; rua=mailto:a@example.com"));
        assert!(is_tlsrpt("v=TLSRPTv1 ;rua=mailto:a@example.com"));
        assert!(is_tlsrpt("v=TLSRPTv1"));
        assert!(!is_tlsrpt("v=TLSRPTv10; rua=mailto:a@example.com"));
        assert!(!is_tlsrpt("v=spf1 -all"));
    }

    #[test]
    fn grammar() {
        let r = parse("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.net/x;").unwrap();
        assert_eq!(r.rua, ["mailto:a@example.com", "https://r.example.net/x"]);
        assert!(r.problems().is_empty());
        let r = parse("v=TLSRPTv1;rua=mailto:a@example.com;ext=1").unwrap();
        assert_eq!(r.extensions, ["ext=1"]);
        let syntax = |offset, expected| Err(RecordProblem::Syntax { offset, expected });
        assert_eq!(parse("v=TLSRPTv2; rua=x"), syntax(0, Expected::Version));
        assert_eq!(parse("v=TLSRPTv1"), syntax(10, Expected::Delimiter));
        assert_eq!(parse("v=TLSRPTv1;"), syntax(11, Expected::FieldName));
        assert_eq!(parse("v=TLSRPTv1; rua"), syntax(15, Expected::Equals));
        assert_eq!(parse("v=TLSRPTv1; rua="), syntax(16, Expected::Uri));
        assert_eq!(
            parse("v=TLSRPTv1; rua=a b"),
            syntax(18, Expected::Delimiter)
        );
        assert_eq!(parse("v=TLSRPTv1; x=a=b"), syntax(15, Expected::Delimiter));
    }

    #[test]
    fn uris() {
        let problems = |t: &str| parse(t).unwrap().problems();
        assert_eq!(problems("v=TLSRPTv1; x=1"), [RecordProblem::MissingRua]);
        assert_eq!(
            problems("v=TLSRPTv1; rua=http://r.example/"),
            [RecordProblem::UnsupportedScheme {
                uri: "http://r.example/".into()
            }]
        );
        for bad in [
            "mailto:nobody",
            "mailto:@example.com",
            "https:///x",
            "https:x",
            "mailto:a!b@c.d",
        ] {
            assert_eq!(
                problems(&format!("v=TLSRPTv1; rua={bad}")),
                [RecordProblem::InvalidUri { uri: bad.into() }],
                "{bad}"
            );
        }
    }
}
