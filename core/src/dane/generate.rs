//! Generating TLSA records from certificates, for publishers (RFC 7671 sec. 8 key rollover,
//! RFC 7672 sec. 3.1 recommended records `3 1 1` and `2 0 1`), and checking a published RRset
//! against a certificate chain ("did I update TLSA before renewing?").
//!
//! Everything here returns data; the CLI prints it.

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::*;

use super::verify::selected_digest;
use super::{TlsaRecord, TlsaSet, Unusable};

/// Largest PEM input accepted by [`parse_pem_certificates`] (4 MiB).
pub const MAX_PEM_LEN: usize = 4 << 20;

/// Why records could not be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenerateError {
    /// The text has no `-----BEGIN CERTIFICATE-----` block.
    NoCertificate,
    /// A PEM block is unterminated or its base64 is invalid.
    BadPem {
        /// 0-based index of the certificate block.
        index: usize,
    },
    /// Input larger than [`MAX_PEM_LEN`].
    TooLarge,
    /// A certificate is not DER X.509.
    BadCertificate {
        /// 0-based index in the chain.
        index: usize,
    },
    /// Selector or matching type not computable (unknown value, RFC 6698 sec. 2.1).
    Unsupported {
        /// Selector.
        selector: u8,
        /// Matching type.
        matching: u8,
    },
    /// The chain is empty.
    EmptyChain,
    /// An issuer record was asked for but the chain has only the leaf.
    NoIssuer,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::NoCertificate => f.write_str("no PEM CERTIFICATE block found"),
            GenerateError::BadPem { index } => write!(f, "PEM certificate #{index} is invalid"),
            GenerateError::TooLarge => write!(f, "input larger than {MAX_PEM_LEN} octets"),
            GenerateError::BadCertificate { index } => {
                write!(f, "certificate #{index} is not DER X.509")
            }
            GenerateError::Unsupported { selector, matching } => write!(
                f,
                "cannot compute selector {selector} with matching type {matching}"
            ),
            GenerateError::EmptyChain => f.write_str("no certificate given"),
            GenerateError::NoIssuer => {
                f.write_str("an issuer record needs the issuer certificate in the chain")
            }
        }
    }
}

impl std::error::Error for GenerateError {}

/// Extracts the DER of every `CERTIFICATE` PEM block (RFC 7468 sec. 5), in order; other
/// blocks (keys) are skipped. The PEM parser is rustls-pki-types' (`PemObject`).
pub fn parse_pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, GenerateError> {
    if text.len() > MAX_PEM_LEN {
        return Err(GenerateError::TooLarge);
    }
    let mut out = Vec::new();
    for (index, item) in CertificateDer::pem_slice_iter(text.as_bytes()).enumerate() {
        out.push(item.map_err(|_| GenerateError::BadPem { index })?.to_vec());
    }
    if out.is_empty() {
        return Err(GenerateError::NoCertificate);
    }
    Ok(out)
}

/// The TLSA record `usage selector matching` for a certificate (RFC 6698 sec. 2.1). The
/// certificate must parse as X.509 (even for selector 0).
pub fn record_for(
    cert_der: &[u8],
    usage: u8,
    selector: u8,
    matching: u8,
) -> Result<TlsaRecord, GenerateError> {
    if X509Certificate::from_der(cert_der).is_err() {
        return Err(GenerateError::BadCertificate { index: 0 });
    }
    let data = selected_digest(cert_der, selector, matching)
        .ok_or(GenerateError::Unsupported { selector, matching })?;
    Ok(TlsaRecord::new(usage, selector, matching, data))
}

/// The TLSA owner name for a service (RFC 6698 sec. 3): `_25._tcp.mx.example.com.`.
pub fn tlsa_owner(host: &str, port: u16) -> String {
    let host = host.trim_end_matches('.');
    format!("_{port}._tcp.{host}.")
}

/// One generated record with its owner name and a human comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// Owner name, absolute (`_25._tcp.mx.example.com.`).
    pub owner: String,
    /// The record.
    pub record: TlsaRecord,
    /// What it pins (`leaf CN=...`, `issuer CN=...`, `next leaf`).
    pub comment: String,
}

impl GeneratedRecord {
    /// The zone-file line: `_25._tcp.mx.example.com. IN TLSA 3 1 1 <hex>`.
    pub fn zone_line(&self) -> String {
        format!("{} IN TLSA {}", self.owner, self.record.to_text())
    }
}

/// Output of [`TlsaPlan::build`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneratedPlan {
    /// The records, in plan order (current leaf, next leaf, issuers, pinned CAs), without
    /// duplicates.
    pub records: Vec<GeneratedRecord>,
    /// Operational warnings (SPEC-NOTES d.1, d.2).
    pub warnings: Vec<String>,
}

/// A builder for the records to publish for one service (RFC 7671 sec. 8, RFC 7672 sec. 3.1).
/// Default: one `3 1 1` for the leaf of `chain`.
#[derive(Clone, Debug)]
pub struct TlsaPlan {
    owner: String,
    chain: Vec<Vec<u8>>,
    ee: Option<(u8, u8)>,
    issuers: Option<(u8, u8)>,
    issuer_only: bool,
    rollover: Vec<Vec<u8>>,
    pinned_cas: Vec<(Vec<u8>, u8, u8)>,
}

impl TlsaPlan {
    /// A plan for `host:port` with `chain` (leaf first).
    pub fn new(host: &str, port: u16, chain: Vec<Vec<u8>>) -> Self {
        TlsaPlan {
            owner: tlsa_owner(host, port),
            chain,
            ee: Some((1, 1)),
            issuers: None,
            issuer_only: false,
            rollover: Vec::new(),
            pinned_cas: Vec::new(),
        }
    }

    /// The DANE-EE record's selector and matching type (default `3 1 1`); `None` for no EE
    /// record.
    pub fn ee(mut self, selector_matching: Option<(u8, u8)>) -> Self {
        self.ee = selector_matching;
        self
    }

    /// `--chain`: one `2 s m` record per issuer certificate of the chain.
    pub fn chain_records(mut self, selector: u8, matching: u8) -> Self {
        self.issuers = Some((selector, matching));
        self
    }

    /// `--issuer`: a `2 1 1` for the immediate issuer (chain\[1\]).
    pub fn issuer(mut self) -> Self {
        self.issuer_only = true;
        self
    }

    /// `--rollover CERT2`: also publish the next leaf's EE record ("current + next",
    /// RFC 7671 sec. 8.1).
    pub fn rollover(mut self, next_leaf_der: Vec<u8>) -> Self {
        self.rollover.push(next_leaf_der);
        self
    }

    /// Pins a CA certificate with `2 s m` (warns when it is not in the chain).
    pub fn pin_ca(mut self, ca_der: Vec<u8>, selector: u8, matching: u8) -> Self {
        self.pinned_cas.push((ca_der, selector, matching));
        self
    }

    /// Computes the records and warnings.
    pub fn build(&self) -> Result<GeneratedPlan, GenerateError> {
        if self.chain.is_empty() {
            return Err(GenerateError::EmptyChain);
        }
        let mut names = Vec::with_capacity(self.chain.len());
        for (index, c) in self.chain.iter().enumerate() {
            let (_, x) = X509Certificate::from_der(c)
                .map_err(|_| GenerateError::BadCertificate { index })?;
            names.push((x.subject().as_raw().to_vec(), x.issuer().as_raw().to_vec()));
        }
        let mut plan = GeneratedPlan::default();
        let push = |plan: &mut GeneratedPlan, record: TlsaRecord, comment: String| {
            if !plan.records.iter().any(|g| g.record == record) {
                plan.records.push(GeneratedRecord {
                    owner: self.owner.clone(),
                    record,
                    comment,
                });
            }
        };
        let subject = |der: &[u8]| -> String {
            X509Certificate::from_der(der)
                .map(|(_, x)| x.subject().to_string())
                .unwrap_or_default()
        };
        for w in names.windows(2) {
            if w[0].1 != w[1].0 {
                plan.warnings.push(
                    "the chain is not in order (each certificate should be followed by its \
                     issuer); issuer records may pin the wrong certificate"
                        .into(),
                );
                break;
            }
        }
        if let Some((s, m)) = self.ee {
            let r = record_for(&self.chain[0], 3, s, m)?;
            push(&mut plan, r, format!("leaf {}", subject(&self.chain[0])));
            for (i, next) in self.rollover.iter().enumerate() {
                let r = record_for(next, 3, s, m)
                    .map_err(|_| GenerateError::BadCertificate { index: i + 1 })?;
                let before = plan.records.len();
                push(&mut plan, r, format!("next leaf {}", subject(next)));
                if plan.records.len() == before {
                    plan.warnings.push(
                        "the next certificate has the same key as the current one: one record \
                         covers both"
                            .into(),
                    );
                }
            }
            if s == 0 {
                plan.warnings.push(format!(
                    "3 0 {m} pins the whole certificate: it breaks at every renewal, even with \
                     the same key; prefer 3 1 1 (RFC 7671 sec. 8.1)"
                ));
            }
        }
        if let Some((s, m)) = self.issuers {
            if self.chain.len() < 2 {
                return Err(GenerateError::NoIssuer);
            }
            for c in &self.chain[1..] {
                let r = record_for(c, 2, s, m)?;
                push(&mut plan, r, format!("issuer {}", subject(c)));
            }
        }
        if self.issuer_only {
            let c = self.chain.get(1).ok_or(GenerateError::NoIssuer)?;
            let r = record_for(c, 2, 1, 1)?;
            push(&mut plan, r, format!("issuer {}", subject(c)));
            plan.warnings.push(
                "2 1 1 pins one issuing CA: CAs like Let's Encrypt issue from several \
                 intermediates (R10/R11, E5/E6) and rotate them; pin all of them or keep a \
                 3 1 1 record too"
                    .into(),
            );
        }
        for (ca, s, m) in &self.pinned_cas {
            let r = record_for(ca, 2, *s, *m)?;
            if !self.chain[1..].iter().any(|c| c == ca) {
                if *m == 0 {
                    plan.warnings.push(format!(
                        "{} is not in the chain: only clients that use TA data from DNS \
                         (RFC 7671 sec. 5.2) can complete the path",
                        subject(ca)
                    ));
                } else {
                    plan.warnings.push(format!(
                        "2 {s} {m} pins {} which the server does not send: DANE-TA digest \
                         records need the TA certificate in the chain (RFC 7672 sec. 3.1.2)",
                        subject(ca)
                    ));
                }
            }
            push(&mut plan, r, format!("CA {}", subject(ca)));
        }
        if plan.records.iter().any(|g| g.record.matching == 0) {
            plan.warnings
                .push("Full(0) records are large and discouraged (RFC 7671 sec. 10.1.2)".into());
        }
        Ok(plan)
    }
}

/// How one published record relates to a certificate chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedCheck {
    /// The published record.
    pub record: TlsaRecord,
    /// Why it is unusable, if so.
    pub unusable: Option<Unusable>,
    /// Depth of the certificate whose data it matches: 0 for DANE-EE, >= 1 for DANE-TA
    /// (a DANE-TA record matching only the leaf counts as no match, RFC 7671 sec. 5.2).
    pub matched_depth: Option<usize>,
}

/// For each record of `published`, which certificate of `chain` it matches (data only: no
/// path, date or name check). Answers "will my TLSA still match after I install this
/// certificate?": see [`covers`].
pub fn verify_published(published: &TlsaSet, chain: &[Vec<u8>]) -> Vec<PublishedCheck> {
    let chain = &chain[..chain.len().min(super::verify::MAX_CHAIN_LEN)];
    published
        .entries
        .iter()
        .map(|e| {
            let r = &e.record;
            let depths: Vec<usize> = match r.usage {
                3 | 1 => (0..chain.len().min(1)).collect(),
                _ => (1..chain.len()).collect(),
            };
            let matched_depth = depths.into_iter().find(|&d| {
                selected_digest(&chain[d], r.selector, r.matching).as_deref()
                    == Some(r.data.as_slice())
            });
            PublishedCheck {
                record: r.clone(),
                unusable: e.unusable.clone(),
                matched_depth,
            }
        })
        .collect()
}

/// Whether at least one *usable* published record matches the chain.
pub fn covers(checks: &[PublishedCheck]) -> bool {
    checks
        .iter()
        .any(|c| c.unusable.is_none() && c.matched_depth.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors() {
        assert_eq!(
            parse_pem_certificates("nothing"),
            Err(GenerateError::NoCertificate)
        );
        assert_eq!(
            parse_pem_certificates("-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Err(GenerateError::BadPem { index: 0 })
        );
        // Bad base64 in the second block; a key block is skipped, not counted.
        let good = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n";
        let bad = "-----BEGIN CERTIFICATE-----\naGV$\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_pem_certificates(&format!("{good}{key}{good}")),
            Ok(vec![b"hello".to_vec(), b"hello".to_vec()])
        );
        assert_eq!(
            parse_pem_certificates(&format!("{good}{bad}")),
            Err(GenerateError::BadPem { index: 1 })
        );
        assert_eq!(
            tlsa_owner("mx.example.com.", 25),
            "_25._tcp.mx.example.com."
        );
    }
}
