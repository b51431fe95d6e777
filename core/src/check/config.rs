//! Configuration of an SMTP check, and the destination forms of DESIGN.md section 6.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::dns::{DomainName, NameError};
use crate::dnssec::{DnssecMode, DnssecSettings};
use crate::smtp::route::{parse_domain, InsecureMxPolicy, SniMode};

/// Which address families to look up and connect to (`-4`, `-6`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressFamily {
    /// IPv4 and IPv6.
    #[default]
    Any,
    /// IPv4 only (A records).
    V4,
    /// IPv6 only (AAAA records).
    V6,
}

/// Everything a check needs besides the seed and the start time. Serializable, because a
/// transcript starts with it (DESIGN.md section 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckConfig {
    /// `example.com`, `[mx.example.com]`, `[mx.example.com]:587` or `[192.0.2.1]`.
    pub destination: String,
    /// The validating resolvers, tried in order.
    pub resolvers: Vec<SocketAddr>,
    /// SMTP port (RFC 7672 sec. 2.2.3: the TLSA name follows it); `[host]:port` wins.
    pub port: u16,
    /// Address families.
    pub family: AddressFamily,
    /// The name sent in EHLO (RFC 5321 sec. 4.1.1.1).
    pub ehlo_name: String,
    /// SNI behaviour.
    pub sni: SniMode,
    /// Postfix's `smtp_tls_dane_insecure_mx_policy`.
    pub insecure_mx: InsecureMxPolicy,
    /// Timeout of each SMTP stage, milliseconds (None: RFC 5321 sec. 4.5.3.2 values).
    pub smtp_timeout_ms: Option<u64>,
    /// Timeout of one DNS attempt, milliseconds (doubles on each round over the resolvers).
    pub dns_timeout_ms: u64,
    /// DNS attempts per lookup across the resolvers.
    pub dns_attempts: u8,
    /// Connections in flight at once.
    pub max_parallel: usize,
    /// Digest preference (RFC 7671 sec. 9), like Postfix's `tls_dane_digests`.
    pub digests: String,
    /// Make every DNS decision but open no connection (`daneel tlsa --verify`).
    #[serde(default)]
    pub dns_only: bool,
    /// Mandatory DANE (RFC 7672 sec. 6; Postfix's `dane-only`): a host without usable secure
    /// TLSA records, or reached through an insecure MX RRset, fails with `dane-required`.
    #[serde(default)]
    pub require_dane: bool,
    /// The seed was fixed by the user (`--seed`), so DNS message ids are predictable: the
    /// report warns (RFC 5452 sec. 9.2 wants them unpredictable).
    #[serde(default)]
    pub fixed_seed: bool,
    /// Look up the domain's `_smtp._tls` TXT record (RFC 8460 sec. 3) beside its MX RRset.
    /// A transcript recorded before it existed reads as `false`: it holds no such answer.
    #[serde(default)]
    pub lookup_tlsrpt: bool,
    /// Where DNSSEC statuses come from (`--dnssec`, `--trust-anchor`). A transcript recorded
    /// before the in-core validator existed reads as `trust-ad`, which is how it was made.
    #[serde(default)]
    pub dnssec: DnssecSettings,
}

impl CheckConfig {
    /// A configuration with the defaults of `daneel check`: port 25, both families, EHLO
    /// `daneel.invalid`, SNI per RFC 7672 sec. 8.1, insecure-MX policy `dane`, 30 s per SMTP
    /// stage (posttls-finger's default; an MTA would use RFC 5321's minutes), DNS attempts
    /// of 2 s, 4 attempts, 8 parallel connections, digests `sha512 sha256`, the TLSRPT
    /// record looked up, and DNSSEC mode `auto` with the IANA root anchors.
    pub fn new(destination: impl Into<String>, resolvers: Vec<SocketAddr>) -> Self {
        CheckConfig {
            destination: destination.into(),
            resolvers,
            port: 25,
            family: AddressFamily::Any,
            ehlo_name: "daneel.invalid".into(),
            sni: SniMode::Auto,
            insecure_mx: InsecureMxPolicy::Dane,
            smtp_timeout_ms: Some(30_000),
            dns_timeout_ms: 2_000,
            dns_attempts: 4,
            max_parallel: 8,
            digests: "sha512 sha256".into(),
            dns_only: false,
            require_dane: false,
            fixed_seed: false,
            lookup_tlsrpt: true,
            dnssec: DnssecSettings::new(DnssecMode::Auto),
        }
    }
}

/// Where the check goes (DESIGN.md section 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A mail domain: MX lookup first (RFC 7672 sec. 2.2.1), by its name in A-label form
    /// (RFC 1035 sec. 2.3.1).
    Domain(DomainName),
    /// `[host]` or `[host]:port`: no MX lookup; treated like a secure MX host, as Postfix
    /// treats a statically configured relay (RFC 7672 sec. 2.2.2, R21).
    Host {
        /// The host name, in A-label form (RFC 1035 sec. 2.3.1).
        name: DomainName,
        /// The port.
        port: u16,
    },
    /// `[192.0.2.1]` or `[IPv6:2001:db8::1]`: never DANE (RFC 7672 sec. 2.2, R15).
    Literal {
        /// The address.
        addr: IpAddr,
        /// The port.
        port: u16,
    },
}

/// Parses a destination (DESIGN.md section 6: `DOMAIN`, `[HOST]`, `[HOST]:PORT`, `[IP]`,
/// `[IPv6:IP]:PORT`); `default_port` applies unless `[host]:port` gives one. A bare domain is
/// a mail domain whose MX RRset is looked up (RFC 7672 sec. 2.2); a bracketed host is one
/// SMTP server, as in RFC 5321 sec. 4.1.3 address literals.
pub fn parse_destination(text: &str, default_port: u16) -> Result<Destination, DestinationError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('[') else {
        if text.contains(['[', ']', ':', '/', ' ', '@']) {
            return Err(DestinationError::Form { text: text.into() });
        }
        return mail_domain(text).map(Destination::Domain);
    };
    let (inside, after) = rest
        .split_once(']')
        .ok_or_else(|| DestinationError::UnclosedBracket { text: text.into() })?;
    let port = match after {
        "" => default_port,
        p => p
            .strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| DestinationError::Port { text: text.into() })?,
    };
    let addr_text = inside
        .strip_prefix("IPv6:")
        .or_else(|| inside.strip_prefix("ipv6:"))
        .unwrap_or(inside);
    if let Ok(addr) = addr_text.parse::<IpAddr>() {
        return Ok(Destination::Literal { addr, port });
    }
    mail_domain(inside).map(|name| Destination::Host { name, port })
}

/// A domain or host name of a destination: any [`DomainName`] but the root.
fn mail_domain(text: &str) -> Result<DomainName, DestinationError> {
    parse_domain(text).map(DomainName::from_hickory)
}

/// Why a text is not a destination ([`parse_destination`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestinationError {
    /// Outside brackets, a character no destination form has (`[`, `]`, `:`, `/`, space or
    /// `@`): an e-mail address, a URL or `host:port` where `[host]:port` is meant.
    Form {
        /// The destination as given.
        text: String,
    },
    /// A `[` without its `]`.
    UnclosedBracket {
        /// The destination as given.
        text: String,
    },
    /// After `]`, something other than `:` and a port from 1 to 65535.
    Port {
        /// The destination as given.
        text: String,
    },
    /// The root: no mail domain (RFC 7505 publishes "no mail" as a null MX, not as the root).
    Root,
    /// The domain or host name does not parse (RFC 1035 sec. 2.3).
    Name {
        /// The name as given.
        text: String,
        /// Why it does not parse.
        error: NameError,
    },
}

impl fmt::Display for DestinationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORMS: &str = "use DOMAIN, [HOST], [HOST]:PORT or [IP]";
        match self {
            DestinationError::Form { text } => write!(f, "invalid destination {text:?}: {FORMS}"),
            DestinationError::UnclosedBracket { text } => {
                write!(f, "invalid destination {text:?}: missing ']'")
            }
            DestinationError::Port { text } => write!(f, "invalid port in {text:?}"),
            DestinationError::Root => f.write_str("the root is not a mail domain"),
            DestinationError::Name { text, error } => {
                write!(f, "invalid domain {text:?}: {error}")
            }
        }
    }
}

impl std::error::Error for DestinationError {}

/// Checks the settings every check shares: at least one connection at a time, an EHLO name
/// that is one clean token (RFC 5321 sec. 4.1.1.1), a digest preference that parses (RFC 7671
/// sec. 9). Returns the parsed digest preference.
pub(crate) fn validate_shared(
    max_parallel: usize,
    ehlo_name: &str,
    digests: &str,
) -> Result<crate::dane::DigestPrefs, crate::machine::UsageError> {
    let invalid = crate::machine::UsageError::InvalidConfig;
    if max_parallel == 0 {
        return Err(invalid("max_parallel must be at least 1".into()));
    }
    if ehlo_name.is_empty() || ehlo_name.contains(['\r', '\n', ' ', '\0']) {
        return Err(invalid(format!("invalid EHLO name {ehlo_name:?}")));
    }
    digests
        .parse()
        .map_err(|e: crate::dane::tlsa::DigestPrefsError| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert!(
            matches!(parse_destination("Example.COM", 25), Ok(Destination::Domain(n)) if n.to_string() == "example.com")
        );
        assert_eq!(
            parse_destination("[mx.example.net]:587", 25),
            Ok(Destination::Host {
                name: "mx.example.net".parse().unwrap(),
                port: 587
            })
        );
        assert!(matches!(
            parse_destination("[mx.example.net]", 2525),
            Ok(Destination::Host { port: 2525, .. })
        ));
        assert_eq!(
            parse_destination("[192.0.2.1]", 25),
            Ok(Destination::Literal {
                addr: "192.0.2.1".parse().unwrap(),
                port: 25
            })
        );
        assert!(matches!(
            parse_destination("[IPv6:2001:db8::1]:26", 25),
            Ok(Destination::Literal { port: 26, .. })
        ));
        for bad in [
            "",
            "[mx",
            "[mx]:0",
            "[mx]:x",
            "a b",
            "user@example.com",
            ".",
        ] {
            assert!(parse_destination(bad, 25).is_err(), "{bad:?}");
        }
        for (bad, error) in [
            (
                "",
                DestinationError::Name {
                    text: "".into(),
                    error: NameError::Empty,
                },
            ),
            (
                "[mx",
                DestinationError::UnclosedBracket { text: "[mx".into() },
            ),
            (
                "[mx]:0",
                DestinationError::Port {
                    text: "[mx]:0".into(),
                },
            ),
            (
                "user@example.com",
                DestinationError::Form {
                    text: "user@example.com".into(),
                },
            ),
            (".", DestinationError::Root),
            ("[.]", DestinationError::Root),
        ] {
            assert_eq!(parse_destination(bad, 25), Err(error), "{bad:?}");
        }
    }
}
