//! The DANE engine: TLSA records (RFC 6698, RFC 7218 mnemonics), their usability (RFC 7672
//! sec. 3, RFC 7671 sec. 9 digest agility), chain verification (RFC 7671 sec. 5, RFC 7672
//! sec. 3.1-3.2), RFC 6125 name checks as narrowed by RFC 7672 sec. 3.2.3, and generation of
//! records from certificates (RFC 7671 sec. 8).

pub mod generate;
pub mod names;
pub mod pkix;
pub mod tlsa;
pub mod verifier;
pub mod verify;

pub use generate::{
    covers, parse_pem_certificates, record_for, tlsa_owner, verify_published, GenerateError,
    GeneratedPlan, GeneratedRecord, PublishedCheck, TlsaPlan,
};
pub use pkix::{
    verify_pkix, verify_with_pkix, PemTrustStore, PkixError, PkixFailure, PkixTrustStore,
    TrustStoreError,
};
pub use tlsa::{
    CertUsage, DigestAlg, DigestPrefs, MatchingType, Selector, TlsaEntry, TlsaParseError,
    TlsaRecord, TlsaSet, Unusable, UsagePolicy,
};
pub use verifier::{dane_rejection, DaneRejected, DaneVerifier, VerifierError};
pub use verify::{
    selected_digest, verify, Anchor, CertDates, ChainLimit, DaneFailure, DaneFailureKind,
    DaneMatch, DaneOutcome, MatchVia, PathError, RecordError, RecordFailure, VerifyParams,
};
