//! DNSSEC validation primitives for the in-core validator (issue 13): what the chain of trust
//! is made of, checked on data the caller already has, with no I/O and no clock (`now` is an
//! input).
//!
//! - [`anchor`]: trust anchors, the IANA root KSKs embedded (key tags 20326 and 38696), and
//!   DS or DNSKEY presentation lines (`--trust-anchor FILE`);
//! - `window`: an RRSIG's inception and expiration against `now` in RFC 1982 serial-number
//!   arithmetic (RFC 4034 sec. 3.1.5), with a small documented skew allowance;
//! - `signature`: one RRset against its RRSIGs and a DNSKEY RRset (RFC 4035 sec. 5.3): one
//!   valid signature by any supported algorithm is enough (RFC 6840 sec. 5.4, 5.11);
//! - `delegation`: a DNSKEY RRset against the parent's DS RRset (RFC 4035 sec. 5.2),
//!   SHA-256 or stronger preferred over SHA-1 (RFC 4509 sec. 3), and a DS RRset with no
//!   supported algorithm and digest pair making the zone insecure, not bogus (RFC 4035
//!   sec. 5.2, RFC 6840 sec. 5.2).
//!
//! - `nsec`: NXDOMAIN, NODATA, empty non-terminals and wildcard answers proven with NSEC
//!   (RFC 4035 sec. 5.4, RFC 7129), with the delegation-side rules of RFC 6840 sec. 4.4.
//!
//! - `nsec3`: the same with NSEC3 (RFC 5155 sec. 8): closest encloser proofs, opt-out only
//!   on the NSEC3 covering the next closer name, the RFC 9276 iteration limit (insecure, EDE
//!   27).
//!
//! - `chain`: `TrustChain`, the zones validated so far from an anchor down (secure
//!   delegations, insecure ones proven by the parent's signed NSEC/NSEC3), and the status of
//!   an RRset, or the zone whose keys it still needs.
//!
//! - `walker`: `Validator`, the chain walker: it judges each answer of a check and asks,
//!   through the check's one loop (CD=1), for the DS and DNSKEY RRsets it needs, with named
//!   work limits; [`failure`] says why an answer is bogus or indeterminate;
//! - [`mode`]: [`DnssecSettings`], whether a check believes a validating resolver's AD bit
//!   or validates itself (`--dnssec`).
//!
//! The signatures themselves are checked by hickory-proto's `Verifier` (CRATES-NOTES 2.3);
//! everything around them (which key, which signature, which time, which digest) is decided
//! here.

pub mod anchor;
pub mod failure;
pub mod mode;
internal! {
    mod chain;
    mod delegation;
    mod nsec;
    mod nsec3;
    mod signature;
    mod walker;
    mod window;
}

pub use anchor::{parse_anchors, root_anchors, AnchorError, TrustAnchor};
pub use failure::{ValidationFailure, WorkLimit};
pub use mode::{DnssecMode, DnssecSettings};
// The errors a `ValidationFailure` carries are public with it.
pub use chain::ChainError;
pub use delegation::KeysError;
pub use nsec::DenialError;
pub use nsec3::MAX_NSEC3_ITERATIONS;
pub use signature::SignatureError;
pub use window::WindowError;
internal!(
    use chain::{DenialRecordError, NoDsProof, RrsetStatus, SignedRrset, TrustChain};
);
internal!(
    use delegation::{match_anchors, match_ds, zone_keys, DsMatch, ZoneKeys};
);
internal!(
    use nsec::{delegation_at, prove_denial, prove_wildcard_expansion, Denial, NsecRecord};
);
internal!(
    use nsec3::{
        delegation_at3, prove_denial3, prove_wildcard_expansion3, wildcard_covered3, Nsec3Denial,
        Nsec3Expansion, Nsec3Record, EDE_UNSUPPORTED_NSEC3_ITERATIONS, MAX_NSEC3_HASHES,
    };
);
internal!(
    use signature::{usable_key, verify_rrset, SignedBy, MAX_VERIFICATIONS};
);
internal!(
    use walker::{
        validated_ttl, Judgement, Validator, MAX_CHAIN_DEPTH, MAX_CHAIN_LOOKUPS,
        MAX_DENIAL_RECORDS, MAX_DNSKEYS, MAX_RRSET_VALIDATIONS,
    };
);
internal!(
    use window::{check_window, CLOCK_SKEW_SECS};
);
