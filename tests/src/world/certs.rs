//! Certificates for the catalogue, made with rcgen at build time (ECDSA P-256).
//!
//! A stop-gap until `crate::pki` lands: only what the scenarios need (a root, an
//! intermediate, leaves with chosen names and dates, self-signed leaves) and TLSA records
//! computed from them (RFC 6698 sec. 2.1).

use daneel_core::dane::TlsaRecord;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256, Sha512};

use super::server::ServerTls;

/// A certificate with its key.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// Its private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl Issued {
    /// The SubjectPublicKeyInfo, DER (selector 1, RFC 6698 sec. 2.1.2).
    pub fn spki_der(&self) -> Vec<u8> {
        x509_parser::parse_x509_certificate(&self.der)
            .map(|(_, c)| c.tbs_certificate.subject_pki.raw.to_vec())
            .unwrap_or_default()
    }

    /// The private key for rustls.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// A certificate authority that can issue.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Its certificate.
    pub cert: Issued,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// Validity of a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// 2024-01-01 to 2036-01-01.
    Current,
    /// 2023-01-01 to 2025-01-01 (expired for any realistic clock).
    Expired,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2040, 1, 1);
    p
}

fn issued_from(der: &CertificateDer<'static>, key: &KeyPair) -> Issued {
    Issued {
        der: der.clone(),
        key_der: key.serialize_der(),
    }
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let key_der = key.serialize_der();
        let issuer = CertifiedIssuer::self_signed(ca_params(cn), key).expect("root");
        let cert = Issued {
            der: issuer.der().clone(),
            key_der,
        };
        Ca { issuer, cert }
    }

    /// An intermediate issued by `self`.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let key_der = key.serialize_der();
        let issuer =
            CertifiedIssuer::signed_by(ca_params(cn), key, &self.issuer).expect("intermediate");
        let cert = Issued {
            der: issuer.der().clone(),
            key_der,
        };
        Ca { issuer, cert }
    }

    /// A leaf for `sans` (DNS names).
    pub fn leaf(&self, sans: &[&str], validity: Validity) -> Issued {
        let key = KeyPair::generate().expect("key");
        let p = leaf_params(sans, validity);
        let cert = p.signed_by(&key, &self.issuer).expect("leaf");
        issued_from(cert.der(), &key)
    }

    /// A leaf with an existing key (a renewal that keeps the key).
    pub fn leaf_with_key(&self, sans: &[&str], key: &Issued, serial: u64) -> Issued {
        let kp = KeyPair::try_from(key.key_der.as_slice()).expect("key");
        let mut p = leaf_params(sans, Validity::Current);
        p.serial_number = Some(serial.into());
        let cert = p.signed_by(&kp, &self.issuer).expect("leaf");
        issued_from(cert.der(), &kp)
    }
}

fn leaf_params(sans: &[&str], validity: Validity) -> CertificateParams {
    let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).expect("params");
    p.distinguished_name
        .push(DnType::CommonName, sans.first().copied().unwrap_or("leaf"));
    (p.not_before, p.not_after) = match validity {
        Validity::Current => (date_time_ymd(2024, 1, 1), date_time_ymd(2036, 1, 1)),
        Validity::Expired => (date_time_ymd(2023, 1, 1), date_time_ymd(2025, 1, 1)),
    };
    p
}

/// A self-signed leaf for `sans`.
pub fn self_signed(sans: &[&str]) -> Issued {
    let key = KeyPair::generate().expect("key");
    let cert = leaf_params(sans, Validity::Current)
        .self_signed(&key)
        .expect("self-signed");
    issued_from(cert.der(), &key)
}

/// A TLSA record `usage selector matching` over `cert` (RFC 6698 sec. 2.1).
pub fn tlsa(usage: u8, selector: u8, matching: u8, cert: &Issued) -> TlsaRecord {
    let selected = if selector == 1 {
        cert.spki_der()
    } else {
        cert.der.to_vec()
    };
    let data = match matching {
        0 => selected,
        1 => Sha256::digest(&selected).to_vec(),
        2 => Sha512::digest(&selected).to_vec(),
        _ => Sha256::digest(&selected).to_vec(),
    };
    TlsaRecord {
        usage,
        selector,
        matching,
        data,
    }
}

/// A server identity presenting `chain` with the key of its first certificate.
pub fn server_tls(chain: &[&Issued]) -> ServerTls {
    let key = chain.first().map(|c| c.key()).expect("a chain");
    ServerTls::new(chain.iter().map(|c| c.der.clone()).collect(), &key).expect("identity")
}
