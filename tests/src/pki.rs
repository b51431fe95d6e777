//! A small test PKI built at test time with rcgen (DESIGN.md section 7), plus a few
//! certificates made once with the `openssl` command line and committed under
//! `tests/fixtures/` (see `tests/fixtures/README.md`).
//!
//! ```
//! use daneel_tests::pki::{LeafSpec, Pki};
//! let pki = Pki::new("example");
//! let ica = pki.intermediate("Example Issuing CA 1");
//! let leaf = pki.issue_leaf(&ica, LeafSpec::new(["mx.example.com"]));
//! let chain = leaf.chain_with(&[&ica]); // leaf, intermediate (root not sent)
//! assert_eq!(chain.len(), 2);
//! assert!(leaf.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! ```
//!
//! Determinism: `KeyKind::Ed25519` keys are derived from the PKI's seed name and the
//! certificate's name, and Ed25519 signatures are deterministic, so an all-Ed25519 PKI is
//! byte-for-byte reproducible. ECDSA keys are random (ring cannot derive them from a seed)
//! and ECDSA signatures are randomised. `KeyKind::Rsa2048` uses the one committed fixture key
//! (`tests/fixtures/rsa2048.key.pem`) for every certificate: ring cannot generate RSA keys.
//! Serial numbers are derived from the seed and the name, never random.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};

/// 2020-01-01T00:00:00Z: default `notBefore` of leaves and CAs.
pub const DEFAULT_NOT_BEFORE: i64 = 1_577_836_800;
/// 2040-01-01T00:00:00Z: default `notAfter` of leaves.
pub const DEFAULT_NOT_AFTER: i64 = 2_208_988_800;
/// 2050-01-01T00:00:00Z: default `notAfter` of CAs made by [`Pki::new`] and
/// [`Pki::intermediate`].
pub const DEFAULT_CA_NOT_AFTER: i64 = 2_524_608_000;
/// A `now` (in unix seconds) inside every default validity period: 2026-01-01T00:00:00Z.
pub const DEFAULT_NOW: i64 = 1_767_225_600;

/// Key algorithm of a generated certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 with SHA-256 (random key).
    #[default]
    EcdsaP256,
    /// Ed25519 (key derived from the PKI seed and the certificate name: reproducible).
    Ed25519,
    /// RSA-2048 with PKCS#1 v1.5 SHA-256, using the committed fixture key.
    Rsa2048,
}

/// Extended key usage put in a leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Eku {
    /// `id-kp-serverAuth` (what webpki requires when an EKU is present).
    #[default]
    ServerAuth,
    /// No EKU extension at all (webpki accepts: EKU is required only if present).
    Absent,
    /// Only `id-kp-clientAuth`: a TLS server presenting this must fail path validation.
    ClientAuthOnly,
}

/// What to put in a leaf (or any end certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafSpec {
    /// subjectAltName dNSName entries (IP literals become iPAddress entries).
    pub sans: Vec<String>,
    /// Subject CN; `None` leaves the subject empty of CN (rcgen puts no DN at all then).
    pub cn: Option<String>,
    /// `notBefore`, unix seconds.
    pub not_before: i64,
    /// `notAfter`, unix seconds.
    pub not_after: i64,
    /// Key algorithm.
    pub key: KeyKind,
    /// Set `basicConstraints cA=TRUE` (to test `CaUsedAsEndEntity`).
    pub is_ca: bool,
    /// Sign the certificate with its own key instead of the CA's (issuer = subject).
    pub self_signed: bool,
    /// Extended key usage.
    pub eku: Eku,
}

impl Default for LeafSpec {
    fn default() -> Self {
        LeafSpec {
            sans: Vec::new(),
            cn: None,
            not_before: DEFAULT_NOT_BEFORE,
            not_after: DEFAULT_NOT_AFTER,
            key: KeyKind::EcdsaP256,
            is_ca: false,
            self_signed: false,
            eku: Eku::ServerAuth,
        }
    }
}

impl LeafSpec {
    /// A leaf with these dNSName SANs and default everything else.
    pub fn new<I, S>(sans: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LeafSpec {
            sans: sans.into_iter().map(Into::into).collect(),
            ..LeafSpec::default()
        }
    }

    /// Sets the subject CN.
    pub fn cn(mut self, cn: impl Into<String>) -> Self {
        self.cn = Some(cn.into());
        self
    }

    /// Sets the validity period (unix seconds).
    pub fn validity(mut self, not_before: i64, not_after: i64) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Sets the key kind.
    pub fn key(mut self, key: KeyKind) -> Self {
        self.key = key;
        self
    }
}

/// A generated (or fixture) certificate with its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cert {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The SubjectPublicKeyInfo, DER (what TLSA selector 1 hashes, RFC 6698 sec. 2.1.2).
    pub spki_der: Vec<u8>,
}

impl Cert {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The private key, PKCS#8 DER.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// The private key as PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.key_der)
    }

    /// The chain a server would send: this certificate, then each CA's certificate in order.
    pub fn chain_with(&self, cas: &[&Ca]) -> Vec<Vec<u8>> {
        std::iter::once(self.der.clone())
            .chain(cas.iter().map(|ca| ca.cert.der.clone()))
            .collect()
    }
}

/// A certificate authority (root or intermediate) able to issue certificates.
pub struct Ca {
    /// The CA's own certificate.
    pub cert: Cert,
    /// The CA's name (subject CN).
    pub name: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("name", &self.name).finish()
    }
}

impl Ca {
    /// The CA's certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.cert.der
    }
}

/// A test PKI: a root CA named after `seed_name`, from which intermediates and leaves are
/// issued.
#[derive(Debug)]
pub struct Pki {
    seed: String,
    /// The root CA (self-signed, `cA=TRUE`).
    pub root: Ca,
}

impl Pki {
    /// A new PKI whose root CA is `CN=<seed_name> Root CA`, ECDSA P-256, valid
    /// [`DEFAULT_NOT_BEFORE`]..[`DEFAULT_CA_NOT_AFTER`].
    pub fn new(seed_name: &str) -> Self {
        Self::with_root_key(seed_name, KeyKind::EcdsaP256)
    }

    /// Like [`Pki::new`] with a chosen root key kind.
    pub fn with_root_key(seed_name: &str, key: KeyKind) -> Self {
        Self::with_root(seed_name, key, DEFAULT_NOT_BEFORE, DEFAULT_CA_NOT_AFTER)
    }

    /// Like [`Pki::new`] with a chosen root key kind and root validity (unix seconds), e.g.
    /// an expired root.
    pub fn with_root(seed_name: &str, key: KeyKind, not_before: i64, not_after: i64) -> Self {
        let name = format!("{seed_name} Root CA");
        let root = make_ca(
            seed_name,
            &name,
            None,
            key,
            not_before,
            not_after,
            IssuerKind::Ca,
        );
        Pki {
            seed: seed_name.to_owned(),
            root,
        }
    }

    /// The root CA.
    pub fn root(&self) -> &Ca {
        &self.root
    }

    /// An intermediate CA issued by the root.
    pub fn intermediate(&self, name: &str) -> Ca {
        self.intermediate_of(&self.root, name)
    }

    /// An intermediate CA issued by `parent` (ECDSA P-256, default CA validity).
    pub fn intermediate_of(&self, parent: &Ca, name: &str) -> Ca {
        self.intermediate_with(
            parent,
            name,
            KeyKind::EcdsaP256,
            DEFAULT_NOT_BEFORE,
            DEFAULT_CA_NOT_AFTER,
        )
    }

    /// An intermediate CA issued by `parent` with a chosen key and validity (unix seconds).
    pub fn intermediate_with(
        &self,
        parent: &Ca,
        name: &str,
        key: KeyKind,
        not_before: i64,
        not_after: i64,
    ) -> Ca {
        make_ca(
            &self.seed,
            name,
            Some(parent),
            key,
            not_before,
            not_after,
            IssuerKind::Ca,
        )
    }

    /// Issues an end certificate from `ca` (or self-signed if `spec.self_signed`).
    pub fn issue_leaf(&self, ca: &Ca, spec: LeafSpec) -> Cert {
        let label = spec
            .cn
            .clone()
            .or_else(|| spec.sans.first().cloned())
            .unwrap_or_else(|| "leaf".to_owned());
        let key = make_key(&self.seed, &label, spec.key);
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = &spec.cn {
            params
                .distinguished_name
                .push(DnType::CommonName, cn.as_str());
        }
        params.subject_alt_names = spec
            .sans
            .iter()
            .map(|s| match s.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(s.clone().try_into().expect("SAN must be IA5")),
            })
            .collect();
        set_validity(&mut params, spec.not_before, spec.not_after);
        params.serial_number = Some(serial(&self.seed, &label, spec.not_before));
        params.use_authority_key_identifier_extension = !spec.self_signed;
        if spec.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        match spec.eku {
            Eku::ServerAuth => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
            }
            Eku::Absent => {}
            Eku::ClientAuthOnly => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]
            }
        }
        let cert = if spec.self_signed {
            params.self_signed(&key).expect("rcgen self-sign")
        } else {
            params.signed_by(&key, &ca.issuer).expect("rcgen sign")
        };
        Cert {
            der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            spki_der: key.subject_public_key_info(),
        }
    }
}

/// The basicConstraints of an issuing certificate made by [`Pki::issuer_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerKind {
    /// `cA:TRUE` with no path length limit.
    Ca,
    /// `cA:TRUE, pathLenConstraint:n`.
    PathLen(u8),
    /// `cA:FALSE` (explicit), yet with keyCertSign, signing certificates anyway.
    NotCa,
}

impl Pki {
    /// An issuing certificate under `parent` with the given basicConstraints (RFC 5280
    /// sec. 4.2.1.9), to test that a `2 0 x` trust anchor's constraints apply.
    pub fn issuer_with(&self, parent: &Ca, name: &str, kind: IssuerKind) -> Ca {
        make_ca(
            &self.seed,
            name,
            Some(parent),
            KeyKind::EcdsaP256,
            DEFAULT_NOT_BEFORE,
            DEFAULT_CA_NOT_AFTER,
            kind,
        )
    }
}

fn make_ca(
    seed: &str,
    name: &str,
    parent: Option<&Ca>,
    kind: KeyKind,
    not_before: i64,
    not_after: i64,
    issuer: IssuerKind,
) -> Ca {
    let key = make_key(seed, name, kind);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = match issuer {
        IssuerKind::Ca => IsCa::Ca(BasicConstraints::Unconstrained),
        IssuerKind::PathLen(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        IssuerKind::NotCa => IsCa::ExplicitNoCa,
    };
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, not_before, not_after);
    params.serial_number = Some(serial(seed, name, not_before));
    params.use_authority_key_identifier_extension = parent.is_some();
    let cert = match parent {
        Some(p) => params.signed_by(&key, &p.issuer).expect("rcgen sign CA"),
        None => params.self_signed(&key).expect("rcgen self-sign CA"),
    };
    let cert = Cert {
        der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        spki_der: key.subject_public_key_info(),
    };
    Ca {
        cert,
        name: name.to_owned(),
        issuer: Issuer::new(params, key),
    }
}

fn make_key(seed: &str, name: &str, kind: KeyKind) -> KeyPair {
    match kind {
        KeyKind::EcdsaP256 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 keygen")
        }
        KeyKind::Ed25519 => {
            let mut h = Sha256::new();
            h.update(b"daneel-tests ed25519\0");
            h.update(seed.as_bytes());
            h.update([0]);
            h.update(name.as_bytes());
            let secret = h.finalize();
            // PKCS#8 v1 (RFC 8410 sec. 7) wrapping the 32-byte seed.
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            der.extend_from_slice(&secret);
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der);
            KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
                .expect("Ed25519 from seed")
        }
        KeyKind::Rsa2048 => {
            KeyPair::from_pem(include_str!("../fixtures/rsa2048.key.pem")).expect("fixture RSA key")
        }
    }
}

fn serial(seed: &str, name: &str, not_before: i64) -> SerialNumber {
    let mut h = Sha256::new();
    h.update(b"daneel-tests serial\0");
    h.update(seed.as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.update(not_before.to_be_bytes());
    let d = h.finalize();
    let mut s = d[..16].to_vec();
    s[0] &= 0x7f; // positive
    s[0] |= 0x01; // no leading zero octet
    SerialNumber::from_slice(&s)
}

/// Sets `notBefore`/`notAfter` from unix seconds (negative = before 1970).
fn set_validity(params: &mut CertificateParams, not_before: i64, not_after: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |unix: i64| {
        let abs = std::time::Duration::from_secs(unix.unsigned_abs());
        if unix >= 0 {
            epoch + abs
        } else {
            epoch - abs
        }
    };
    params.not_before = at(not_before);
    params.not_after = at(not_after);
}

/// PEM-encodes `der` with `label` (RFC 7468), 64-column base64.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                b64.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Certificates and keys made once with the `openssl` CLI (see `tests/fixtures/README.md`).
pub mod fixtures {
    fn pem_der(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("fixture PEM");
        p.contents
    }

    /// A version 1 (no extensions) self-signed ECDSA P-256 certificate, `CN=v1.example.com`,
    /// valid 2026-11-29..2126-11-05, and its PKCS#8 key: `(cert_der, key_der)`.
    pub fn v1_self_signed() -> (Vec<u8>, Vec<u8>) {
        (
            pem_der(include_str!("../fixtures/v1.cert.pem")),
            pem_der(include_str!("../fixtures/v1.key.pem")),
        )
    }

    /// A v3 self-signed RSA-1024 certificate (`CN=rsa1024.example.com`, SAN the same),
    /// valid 2026-11-29..2126-11-05, and its PKCS#8 key: `(cert_der, key_der)`.
    /// ring refuses to sign with RSA keys under 2048 bits, hence a fixture.
    pub fn rsa1024_self_signed() -> (Vec<u8>, Vec<u8>) {
        (
            pem_der(include_str!("../fixtures/rsa1024.cert.pem")),
            pem_der(include_str!("../fixtures/rsa1024.key.pem")),
        )
    }

    /// A **version 1** leaf (`CN=v1.example.com`, key of [`v1_self_signed`]) issued by a v3
    /// CA, both valid 2026-11-29..2126-11-05: `(leaf_der, ca_der)`. webpki rejects v1 end
    /// entities, so DANE-TA over it must fail with a typed reason.
    pub fn v1_leaf_with_ca() -> (Vec<u8>, Vec<u8>) {
        (
            pem_der(include_str!("../fixtures/v1leaf.cert.pem")),
            pem_der(include_str!("../fixtures/v1ca.cert.pem")),
        )
    }

    /// The RSA-2048 PKCS#8 key used for every [`super::KeyKind::Rsa2048`] certificate, DER.
    pub fn rsa2048_key() -> Vec<u8> {
        pem_der(include_str!("../fixtures/rsa2048.key.pem"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_chain_and_fixtures() {
        let pki = Pki::new("t");
        let ica = pki.intermediate("T CA 1");
        let leaf = pki.issue_leaf(
            &ica,
            LeafSpec::new(["mx.example.com"]).key(KeyKind::Ed25519),
        );
        let leaf2 = pki.issue_leaf(
            &ica,
            LeafSpec::new(["mx.example.com"]).key(KeyKind::Ed25519),
        );
        assert_eq!(leaf.spki_der, leaf2.spki_der, "Ed25519 keys are seeded");
        let (_, c) = x509_parser::parse_x509_certificate(&leaf.der).unwrap();
        assert_eq!(c.public_key().raw, &leaf.spki_der[..]);
        let rsa = pki.issue_leaf(
            &ica,
            LeafSpec::new(["rsa.example.com"]).key(KeyKind::Rsa2048),
        );
        assert!(!rsa.der.is_empty());
        let (v1, _) = fixtures::v1_self_signed();
        let (_, c) = x509_parser::parse_x509_certificate(&v1).unwrap();
        assert_eq!(c.version().0, 0);
        let (r, k) = fixtures::rsa1024_self_signed();
        assert!(!r.is_empty() && !k.is_empty());
        assert_eq!(leaf.chain_with(&[&ica]).len(), 2);
    }
}
