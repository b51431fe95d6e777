//! Where a check's DNSSEC statuses come from (issue 13): the AD bit of a probed validating
//! resolver (RFC 7672 sec. 2.1.1, RFC 6840 sec. 5.7), or the core's own validation of the
//! signatures from a trust anchor down (RFC 4035 sec. 5), through any resolver that serves
//! DNSSEC data with CD=1 (RFC 4035 sec. 3.2.2).

use serde::{Deserialize, Serialize};

use super::anchor::{parse_anchors, root_anchors, AnchorError, TrustAnchor};

/// How a check decides the DNSSEC status of its answers (`--dnssec`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecMode {
    /// Believe the AD bit of resolvers that pass the validating-resolver probe (RFC 7672
    /// sec. 2.1.1: a validating resolver on loopback, or the warned remote one). Transcripts
    /// recorded before the in-core validator existed were made this way, hence the default
    /// when the field is absent.
    #[default]
    TrustAd,
    /// Validate every answer in the core from the trust anchors down (RFC 4035 sec. 5),
    /// asking with CD=1 (RFC 4035 sec. 3.2.2) through any resolver that serves DNSSEC data;
    /// the AD bit is ignored.
    Validate,
    /// `trust-ad` when a resolver on loopback passes the validating-resolver probe,
    /// `validate` otherwise (through every resolver that serves DNSSEC data).
    Auto,
}

impl DnssecMode {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecMode::TrustAd => "trust-ad",
            DnssecMode::Validate => "validate",
            DnssecMode::Auto => "auto",
        }
    }
}

impl std::fmt::Display for DnssecMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DnssecMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "trust-ad" => Ok(DnssecMode::TrustAd),
            "validate" => Ok(DnssecMode::Validate),
            "auto" => Ok(DnssecMode::Auto),
            other => Err(format!(
                "unknown DNSSEC mode {other:?}: use validate, trust-ad or auto"
            )),
        }
    }
}

/// The DNSSEC settings of a check. Serializable, because a transcript starts with its
/// configuration: the anchors are kept as the presentation lines they were read from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DnssecSettings {
    /// Where statuses come from.
    pub mode: DnssecMode,
    /// Trust anchors as DS or DNSKEY presentation lines (RFC 4034 sec. 2.2, 5.3;
    /// `--trust-anchor FILE`); empty: the IANA root KSKs embedded in [`root_anchors`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_anchors: Vec<String>,
}

impl DnssecSettings {
    /// The settings of `mode` with the embedded root anchors.
    pub fn new(mode: DnssecMode) -> Self {
        DnssecSettings {
            mode,
            trust_anchors: Vec::new(),
        }
    }

    /// The trust anchors these settings name: the parsed lines, or the IANA root KSKs when
    /// none were given.
    pub fn anchors(&self) -> Result<Vec<TrustAnchor>, AnchorError> {
        if self.trust_anchors.is_empty() {
            return Ok(root_anchors());
        }
        parse_anchors(&self.trust_anchors.join("\n"))
    }
}
