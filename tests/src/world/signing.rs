//! DNSSEC keys and signatures made at test time (issue 13): zone keys from hickory-proto's
//! ring signers, RRSIGs over an RRset's canonical form (RFC 4034 sec. 3.1.8.1, built by
//! hickory-proto's `TBS`), DS records (RFC 4034 sec. 5.1.4) and trust-anchor lines.
//!
//! The world's keys are derived from their zone's name, so every answer of a world (and of
//! every run) carries the same DNSKEY RRsets and, Ed25519 signatures being deterministic
//! (RFC 8032 sec. 5.1.6), the same signatures. The second algorithm (ECDSA P-256, RFC 6605)
//! is one fixture key: ring cannot derive P-256 keys from a seed, and its ECDSA signatures
//! are randomised.

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::{SigInput, DNSKEY, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, SigningKey, Verifier, TBS};
use hickory_proto::rr::SerialNumber;
use hickory_proto::rr::{DNSClass, Name, Record};
use rustls_pki_types::PrivatePkcs8KeyDer;
use sha2::{Digest, Sha256};

/// DNSKEY flags of a key-signing key: zone key and secure entry point (RFC 4034 sec. 2.1.1).
pub const KSK_FLAGS: u16 = 257;

/// DNSKEY flags of a zone-signing key: zone key (RFC 4034 sec. 2.1.1).
pub const ZSK_FLAGS: u16 = 256;

/// A zone key: the private signer and its DNSKEY.
pub struct ZoneKey {
    signer: Box<dyn SigningKey>,
    dnskey: DNSKEY,
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneKey")
            .field("algorithm", &self.dnskey.algorithm())
            .field("flags", &self.dnskey.flags())
            .field("tag", &self.tag())
            .finish()
    }
}

impl ZoneKey {
    /// An Ed25519 key (algorithm 15, RFC 8080) derived from `seed`: the same seed gives the
    /// same key.
    pub fn ed25519_from(seed: &[u8], flags: u16) -> ZoneKey {
        let secret: [u8; 32] = Sha256::digest(seed).into();
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&secret)
            .expect("a 32-byte Ed25519 seed");
        ZoneKey::from_signer(Box::new(Ed25519SigningKey::from_ed25519(pair)), flags)
    }

    /// A fresh Ed25519 key from the operating system's randomness.
    pub fn generated_ed25519(flags: u16) -> ZoneKey {
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("Ed25519 key generation");
        let signer = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("a generated Ed25519 key");
        ZoneKey::from_signer(Box::new(signer), flags)
    }

    /// A fresh ECDSA P-256 key (algorithm 13, RFC 6605) from the operating system's
    /// randomness.
    pub fn generated_p256(flags: u16) -> ZoneKey {
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
            .expect("P-256 key generation");
        ZoneKey::p256_pkcs8(&pkcs8, flags)
    }

    /// The fixture ECDSA P-256 key `tests/fixtures/dnssec-p256.key.pem`.
    pub fn fixture_p256(flags: u16) -> ZoneKey {
        let pem = include_str!("../../fixtures/dnssec-p256.key.pem");
        let (_, der) =
            x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("the fixture P-256 PEM");
        ZoneKey::p256_pkcs8(&PrivatePkcs8KeyDer::from(der.contents), flags)
    }

    fn p256_pkcs8(pkcs8: &PrivatePkcs8KeyDer<'_>, flags: u16) -> ZoneKey {
        let signer = EcdsaSigningKey::from_pkcs8(pkcs8, Algorithm::ECDSAP256SHA256)
            .expect("a P-256 PKCS#8 key");
        ZoneKey::from_signer(Box::new(signer), flags)
    }

    /// A key from any hickory-proto signer.
    pub fn from_signer(signer: Box<dyn SigningKey>, flags: u16) -> ZoneKey {
        let dnskey = DNSKEY::with_flags(flags, signer.to_public_key().expect("a public key"));
        ZoneKey { signer, dnskey }
    }

    /// The DNSKEY record data.
    pub fn dnskey(&self) -> &DNSKEY {
        &self.dnskey
    }

    /// The same public key with other flags.
    pub fn with_flags(&self, flags: u16) -> DNSKEY {
        DNSKEY::with_flags(flags, self.dnskey.public_key().clone())
    }

    /// The key tag (RFC 4034 App. B).
    pub fn tag(&self) -> u16 {
        self.dnskey.calculate_key_tag().expect("a key tag")
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// An RRSIG over `records` (all of owner `owner`, one type) by this key for `zone`, with
    /// label count `labels` (fewer than the owner's for a wildcard expansion, RFC 4035
    /// sec. 5.3.4), valid from `inception` to `expiration` (seconds since the epoch), the
    /// original TTL that of the first record. Panics where [`ZoneKey::try_sign`] fails.
    pub fn sign(
        &self,
        zone: &Name,
        owner: &Name,
        records: &[Record],
        labels: u8,
        window: (u32, u32),
    ) -> RRSIG {
        self.try_sign(zone, owner, records, labels, window)
            .expect("an RRset hickory-proto can sign")
    }

    /// [`ZoneKey::sign`], or `None` when hickory-proto cannot build the data to sign (its
    /// encoder stops at 65,535 octets of canonical RRset, RFC 4034 sec. 3.1.8.1).
    pub fn try_sign(
        &self,
        zone: &Name,
        owner: &Name,
        records: &[Record],
        labels: u8,
        (inception, expiration): (u32, u32),
    ) -> Option<RRSIG> {
        let input = SigInput {
            type_covered: records.first()?.record_type(),
            algorithm: self.signer.algorithm(),
            num_labels: labels,
            original_ttl: records[0].ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: self.tag(),
            signer_name: zone.clone(),
        };
        self.try_sign_input(input, owner, records)
    }

    /// An RRSIG with exactly these fields over `records`, signed by this key (whatever key
    /// tag or algorithm `input` names).
    pub fn sign_input(&self, input: SigInput, owner: &Name, records: &[Record]) -> RRSIG {
        self.try_sign_input(input, owner, records)
            .expect("an RRset hickory-proto can sign")
    }

    fn try_sign_input(&self, input: SigInput, owner: &Name, records: &[Record]) -> Option<RRSIG> {
        let tbs = TBS::from_input(owner, DNSClass::IN, &input, records.iter()).ok()?;
        let sig = self.signer.sign(&tbs).ok()?;
        Some(RRSIG::from_sig(input, sig))
    }

    /// The DS record for this key as a key of `zone` (RFC 4034 sec. 5.1.4).
    pub fn ds(&self, zone: &Name, digest: DigestType) -> DS {
        let d = self.dnskey.to_digest(zone, digest).expect("a DS digest");
        DS::new(
            self.tag(),
            self.dnskey.algorithm(),
            digest,
            d.as_ref().to_vec(),
        )
    }
}

/// A DS record as a presentation line, `<owner> IN DS <tag> <alg> <digest type> <HEX>`
/// (RFC 4034 sec. 5.3).
pub fn ds_line(owner: &Name, ds: &DS) -> String {
    format!(
        "{} IN DS {} {} {} {}",
        owner.to_ascii(),
        ds.key_tag(),
        u8::from(ds.algorithm()),
        u8::from(ds.digest_type()),
        data_encoding::HEXUPPER.encode(ds.digest())
    )
}

/// The keys of one world zone, derived from its name: an Ed25519 KSK and ZSK (a zone in an
/// algorithm rollover gets the fixture P-256 key as well, added where it is signed).
#[derive(Debug)]
pub struct WorldKeys {
    /// Signs the DNSKEY RRset.
    pub ksk: ZoneKey,
    /// Signs everything else.
    pub zsk: ZoneKey,
}

impl WorldKeys {
    /// The keys of the zone at `apex`.
    pub fn of(apex: &Name) -> WorldKeys {
        let zone = apex.to_lowercase().to_ascii();
        WorldKeys {
            ksk: ZoneKey::ed25519_from(format!("daneel world KSK {zone}").as_bytes(), KSK_FLAGS),
            zsk: ZoneKey::ed25519_from(format!("daneel world ZSK {zone}").as_bytes(), ZSK_FLAGS),
        }
    }

    /// A key the zone never publishes (an RRSIG by it finds no DNSKEY).
    pub fn stray(apex: &Name) -> ZoneKey {
        let zone = apex.to_lowercase().to_ascii();
        ZoneKey::ed25519_from(format!("daneel world stray {zone}").as_bytes(), ZSK_FLAGS)
    }

    /// A trust anchor for the zone at `apex` with these keys: its KSK's SHA-256 DS as a
    /// presentation line.
    pub fn anchor_line(&self, apex: &Name) -> String {
        ds_line(apex, &self.ksk.ds(apex, DigestType::SHA256))
    }
}
