//! The leaf certificate as the report shows it (subject, issuer, expiry, DNS names): the
//! facts a monitoring job alerts on. Parsing failures give `None`, never a panic.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::report::CertificateReport;
use crate::time::format_unix_secs;

/// Summarizes the leaf of `chain` (RFC 5280 sec. 4.1: subject, issuer, validity; sec. 4.2.1.6:
/// subjectAltName dNSName entries).
pub(crate) fn summarize(chain: &[Vec<u8>]) -> Option<CertificateReport> {
    let leaf = chain.first()?;
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(CertificateReport {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: format_unix_secs(cert.validity().not_after.timestamp()),
        dns_names,
        chain_length: chain.len(),
    })
}
