//! Configuration of a MUA check (`daneel mua`, RFC 6186, RFC 7673, RFC 8314).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::srv::MailService;
use crate::check::AddressFamily;
use crate::dnssec::{DnssecMode, DnssecSettings};

/// Everything a MUA check needs besides the seed and the start time. Serializable, because a
/// transcript starts with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuaConfig {
    /// The mail domain: the part of the user's address after `@` (RFC 6186 sec. 3).
    pub domain: String,
    /// The services to look up, in the order of preference.
    pub services: Vec<MailService>,
    /// The validating resolvers.
    pub resolvers: Vec<SocketAddr>,
    /// Address families.
    pub family: AddressFamily,
    /// The name sent in EHLO to submission servers (RFC 5321 sec. 4.1.1.1).
    pub ehlo_name: String,
    /// Timeout of each session stage, milliseconds.
    pub session_timeout_ms: u64,
    /// Timeout of one DNS attempt, milliseconds.
    pub dns_timeout_ms: u64,
    /// DNS attempts per lookup across the resolvers.
    pub dns_attempts: u8,
    /// Connections in flight at once.
    pub max_parallel: usize,
    /// Digest preference (RFC 7671 sec. 9).
    pub digests: String,
    /// PKIX trust anchors, DER (`--ca-file` or the system store); empty: the embedded
    /// webpki-roots set (RFC 7673 sec. 4.1 needs some PKIX trust store).
    #[serde(with = "crate::hex::serde_chain", default)]
    pub trust_anchors: Vec<Vec<u8>>,
    /// Make every DNS decision but open no connection.
    #[serde(default)]
    pub dns_only: bool,
    /// The seed was fixed by the user (`--seed`): DNS message ids are predictable.
    #[serde(default)]
    pub fixed_seed: bool,
    /// Build the client compatibility matrix (draft-fanf-dane-mua, [`super::compat`]): up to
    /// three more handshakes per target (SNI the target host name, SNI the mail domain, no
    /// SNI), less the one the check's own connection already made.
    /// Absent from transcripts written before it existed, which therefore replay without.
    #[serde(default)]
    pub compatibility: bool,
    /// Where DNSSEC statuses come from (`--dnssec`, `--trust-anchor`); `trust-ad` for
    /// transcripts recorded before the in-core validator existed.
    #[serde(default)]
    pub dnssec: DnssecSettings,
}

impl MuaConfig {
    /// The defaults of `daneel mua`: all six services (implicit TLS first for each protocol,
    /// RFC 8314 sec. 5.1), both
    /// families, EHLO `daneel.invalid`, 30 s per session stage, DNS attempts of 2 s, 4
    /// attempts, 8 parallel connections, digests `sha512 sha256`, webpki-roots, the
    /// compatibility matrix, DNSSEC mode `auto` with the IANA root anchors.
    pub fn new(domain: impl Into<String>, resolvers: Vec<SocketAddr>) -> Self {
        MuaConfig {
            domain: domain.into(),
            services: DEFAULT_SERVICES.to_vec(),
            resolvers,
            family: AddressFamily::Any,
            ehlo_name: "daneel.invalid".into(),
            session_timeout_ms: 30_000,
            dns_timeout_ms: 2_000,
            dns_attempts: 4,
            max_parallel: 8,
            digests: "sha512 sha256".into(),
            trust_anchors: Vec::new(),
            dns_only: false,
            fixed_seed: false,
            compatibility: true,
            dnssec: DnssecSettings::new(DnssecMode::Auto),
        }
    }
}

/// The services checked when none is named: all six of RFC 6186 and RFC 8314.
pub const DEFAULT_SERVICES: [MailService; 6] = MailService::ALL;
