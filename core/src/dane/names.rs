//! Server name checks for DANE-TA(2) (RFC 7672 sec. 3.2.2 and 3.2.3, RFC 6125 sec. 6).
//!
//! Rules (RFC 7672 sec. 3.2.3, as Postfix applies them):
//! - If the certificate has any subjectAltName dNSName, only those are compared; the subject
//!   CN is used only when there is none (RFC 6125 sec. 6.4.4).
//! - A wildcard is valid only as the whole left-most label (`*.example.com`) and matches
//!   exactly one non-empty label; partial wildcards (`f*.example.com`, `*oo.example.com`,
//!   `xn--*`) never match. At least two labels must follow the wildcard (`*.com` never
//!   matches); no public-suffix list is consulted (`*.co.uk` is allowed by this rule).
//! - Comparison is ASCII case-insensitive; one trailing dot is ignored on both sides.
//! - Internationalised names are compared as A-labels: reference identifiers given as
//!   U-labels are converted with UTS #46 (via hickory's `Name::from_utf8`, as Postfix's
//!   `midna_domain_to_ascii`); presented names that are not ASCII are converted likewise (a
//!   dNSName must be ASCII, so such SANs normally fail to convert and never match).
//! - A reference identifier containing `*` is invalid and never matches.

use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

/// The largest DNS name in presentation form we compare (RFC 1035 sec. 2.3.4: 255 octets on
/// the wire, 253 characters without the trailing dot).
pub const MAX_NAME_LEN: usize = 253;

/// A successful name check: which reference identifier matched which presented name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMatch {
    /// The reference identifier that matched, as given by the caller.
    pub reference_id: String,
    /// The presented identifier (SAN dNSName or CN), as in the certificate.
    pub presented: String,
    /// Whether the presented identifier came from the CN (no SAN dNSName present).
    pub from_cn: bool,
}

/// Why no name matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "names")]
pub enum NameError {
    /// The certificate does not parse, or has duplicate SAN extensions.
    BadCertificate,
    /// No reference identifiers were given (Postfix `must_fail`).
    NoReferenceIds,
    /// The certificate has neither SAN dNSNames nor a CN.
    NoPresentedNames,
    /// Names were compared and none matched.
    Mismatch {
        /// The reference identifiers tried, in order (RFC 7672 sec. 3.2.2).
        reference_ids: Vec<String>,
        /// The presented identifiers that were compared (SAN dNSNames, or CNs).
        presented: Vec<String>,
    },
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::BadCertificate => f.write_str("certificate names could not be parsed"),
            NameError::NoReferenceIds => f.write_str("no reference identifiers to match"),
            NameError::NoPresentedNames => {
                f.write_str("certificate has no subjectAltName dNSName and no CN")
            }
            NameError::Mismatch {
                reference_ids,
                presented,
            } => {
                write!(
                    f,
                    "no name matches; reference identifiers: {}; certificate names: {}",
                    reference_ids.join(", "),
                    presented.join(", ")
                )
            }
        }
    }
}

/// The identifiers a certificate presents for name checks (RFC 6125 sec. 6.4.4): the SAN
/// dNSNames if any, else the subject CNs. Returns `(names, from_cn)`.
pub fn presented_names(cert_der: &[u8]) -> Result<(Vec<String>, bool), NameError> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| NameError::BadCertificate)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| NameError::BadCertificate)?;
    let sans: Vec<String> = san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    GeneralName::DNSName(s) => Some((*s).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !sans.is_empty() {
        return Ok((sans, false));
    }
    let cns: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect();
    Ok((cns, true))
}

/// Checks `cert_der` against `reference_ids` (RFC 7672 sec. 3.2.3). The first reference
/// identifier (in the caller's order) that matches any presented name wins.
pub fn check_names(cert_der: &[u8], reference_ids: &[String]) -> Result<NameMatch, NameError> {
    if reference_ids.is_empty() {
        return Err(NameError::NoReferenceIds);
    }
    let (presented, from_cn) = presented_names(cert_der)?;
    if presented.is_empty() {
        return Err(NameError::NoPresentedNames);
    }
    for r in reference_ids {
        if let Some(p) = presented.iter().find(|p| name_matches(p, r)) {
            return Ok(NameMatch {
                reference_id: r.clone(),
                presented: p.clone(),
                from_cn,
            });
        }
    }
    Err(NameError::Mismatch {
        reference_ids: reference_ids.to_vec(),
        presented,
    })
}

/// Normalises a DNS name for comparison: one trailing dot removed, ASCII lower case,
/// U-labels converted to A-labels (UTS #46). `None` if empty, too long, with empty labels,
/// or not convertible.
pub fn normalize(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 4 * MAX_NAME_LEN {
        return None;
    }
    let ascii = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        let n = hickory_proto::rr::Name::from_utf8(name).ok()?;
        let a = n.to_ascii();
        let a = a.strip_suffix('.').unwrap_or(&a).to_ascii_lowercase();
        if !a.is_ascii() {
            return None;
        }
        a
    };
    if ascii.len() > MAX_NAME_LEN || ascii.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    Some(ascii)
}

/// Whether presented identifier `presented` (from a certificate) matches reference identifier
/// `reference` under the rules of this module.
pub fn name_matches(presented: &str, reference: &str) -> bool {
    let Some(r) = normalize(reference) else {
        return false;
    };
    if r.contains('*') {
        return false;
    }
    let (wild, p_rest) = match presented.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, presented),
    };
    let Some(p) = normalize(p_rest) else {
        return false;
    };
    if p.contains('*') {
        return false; // partial or misplaced wildcard
    }
    if !wild {
        return p == r;
    }
    // Wildcard: at least two labels after it, and it stands for exactly one label.
    if !p.contains('.') {
        return false;
    }
    match r.split_once('.') {
        Some((first, rest)) => !first.is_empty() && rest == p,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        assert!(name_matches("mx.example.com", "MX.Example.COM."));
        assert!(name_matches("mx.example.com.", "mx.example.com"));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.mx.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("f*.example.com", "foo.example.com"));
        assert!(!name_matches("*oo.example.com", "foo.example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("mx.*.com", "mx.example.com"));
        assert!(!name_matches("mx.example.com", "*.example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(!name_matches("", "example.com"));
        assert!(name_matches("xn--bcher-kva.example", "bücher.example"));
        assert!(name_matches("*.xn--bcher-kva.example", "mx.BÜCHER.example"));
        assert!(!name_matches("bücher.example", "bücher.example.org"));
    }
}
