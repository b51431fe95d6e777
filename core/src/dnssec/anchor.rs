//! Trust anchors (RFC 4035 sec. 4.4): the IANA root key-signing keys, embedded as DS records,
//! or the caller's, from DS or DNSKEY presentation lines (RFC 4034 sec. 2.2 and 5.3; the form
//! of unbound's `trust-anchor-file` and of IANA's `root-anchors` DS data). The caller reads
//! the file; the core only takes its text, and never follows `$INCLUDE`.

use std::fmt;

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, Verifier};
use hickory_proto::rr::Name;

use super::signature::usable_key;
use crate::dns::DomainName;

/// One trust anchor (RFC 4033 sec. 2 and 3.1, RFC 4035 sec. 4.4): a zone, and the key of its
/// DNSKEY RRset that validation starts from, given as a DS record (a digest of the key,
/// RFC 4034 sec. 5) or as the DNSKEY record itself (RFC 4034 sec. 2). Build one with
/// [`TrustAnchor::ds`] or [`TrustAnchor::dnskey`], read them from presentation lines with
/// [`parse_anchors`], or take the IANA root anchors (RFC 7958) from [`root_anchors`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchor {
    owner: DomainName,
    key: AnchorKey,
}

/// What an anchor vouches for, as hickory-proto's records (kept inside the crate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AnchorKey {
    /// A DS record: a DNSKEY of the owner whose digest matches is trusted.
    Ds(DS),
    /// A DNSKEY record, trusted as it is.
    Dnskey(DNSKEY),
}

impl TrustAnchor {
    /// A DS anchor (RFC 4034 sec. 5.1: key tag, algorithm, digest type, digest): a key of
    /// `owner`'s DNSKEY RRset whose digest matches is trusted (RFC 4035 sec. 5). Values are
    /// taken as given: an anchor no key matches, or of an algorithm or digest type this
    /// validator does not implement ([`TrustAnchor::usable`]), makes validation below `owner`
    /// fail, never pass.
    pub fn ds(
        owner: DomainName,
        key_tag: u16,
        algorithm: u8,
        digest_type: u8,
        digest: Vec<u8>,
    ) -> Self {
        TrustAnchor {
            owner,
            key: AnchorKey::Ds(DS::new(
                key_tag,
                Algorithm::from_u8(algorithm),
                DigestType::from(digest_type),
                digest,
            )),
        }
    }

    /// A DNSKEY anchor (RFC 4034 sec. 2.1: flags, algorithm, public key; the protocol is
    /// always 3): the key of `owner`'s DNSKEY RRset with the same algorithm and public key is
    /// trusted as it is (RFC 4035 sec. 4.4). Values are taken as given, as for
    /// [`TrustAnchor::ds`].
    pub fn dnskey(owner: DomainName, flags: u16, algorithm: u8, public_key: Vec<u8>) -> Self {
        TrustAnchor {
            owner,
            key: AnchorKey::Dnskey(DNSKEY::with_flags(
                flags,
                PublicKeyBuf::new(public_key, Algorithm::from_u8(algorithm)),
            )),
        }
    }

    /// The zone the anchor is for (RFC 4035 sec. 4.4: its DNSKEY RRset is where a chain of
    /// trust starts).
    pub fn owner(&self) -> &DomainName {
        &self.owner
    }

    /// Whether this validator can use the anchor: for DS a supported algorithm and digest
    /// type (RFC 4034 sec. 5.1, RFC 4509, RFC 6605), for DNSKEY a supported algorithm, the
    /// zone-key flag and no revoke flag (RFC 4034 sec. 2.1.1, RFC 5011 sec. 3).
    pub fn usable(&self) -> bool {
        match &self.key {
            AnchorKey::Ds(ds) => super::delegation::supported(ds),
            AnchorKey::Dnskey(key) => Verifier::algorithm(key).is_supported() && usable_key(key),
        }
    }

    internal! {
        /// A DNSKEY anchor from hickory-proto's record, for tests and fuzzing.
        fn from_dnskey_record(owner: Name, key: DNSKEY) -> Self {
            TrustAnchor {
                owner: DomainName::from_hickory(owner),
                key: AnchorKey::Dnskey(key),
            }
        }
    }

    internal! {
        /// The DNSKEY record of a DNSKEY anchor, for tests.
        fn dnskey_record(&self) -> Option<&DNSKEY> {
            match &self.key {
                AnchorKey::Dnskey(key) => Some(key),
                AnchorKey::Ds(_) => None,
            }
        }
    }

    /// The record the anchor vouches with.
    pub(crate) fn key(&self) -> &AnchorKey {
        &self.key
    }
}

/// The IANA root zone KSKs as DS records (<https://data.iana.org/root-anchors/>): KSK-2017
/// (key tag 20326) and KSK-2024 (key tag 38696), both RSA/SHA-256 (8), SHA-256 digests (2).
pub const ROOT_DS: [(u16, &str); 2] = [
    (
        20326,
        "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ),
    (
        38696,
        "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
    ),
];

/// The embedded root anchors, [`ROOT_DS`].
pub fn root_anchors() -> Vec<TrustAnchor> {
    ROOT_DS
        .iter()
        .map(|(tag, hex)| {
            TrustAnchor::ds(
                DomainName::root(),
                *tag,
                u8::from(Algorithm::RSASHA256),
                u8::from(DigestType::SHA256),
                crate::hex::decode(hex).unwrap_or_default(),
            )
        })
        .collect()
}

/// Why a trust-anchor text was refused, with the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for AnchorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trust anchor line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for AnchorError {}

/// The most text read as trust anchors: a file of keys, not a zone.
pub const MAX_ANCHOR_TEXT: usize = 64 * 1024;

/// Logical lines: comments (`;`) removed, parenthesised continuations joined (RFC 1035
/// sec. 5.1), each with the number of the line it starts on.
fn logical_lines(text: &str) -> Result<Vec<(usize, Vec<String>)>, AnchorError> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<String>)> = None;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or_default();
        let spaced = line.replace('(', " ( ").replace(')', " ) ");
        for token in spaced.split_whitespace() {
            match token {
                "(" => depth += 1,
                ")" => {
                    depth = depth.checked_sub(1).ok_or(AnchorError {
                        line: i + 1,
                        what: "unbalanced ')'".into(),
                    })?
                }
                _ => current
                    .get_or_insert_with(|| (i + 1, Vec::new()))
                    .1
                    .push(token.to_string()),
            }
        }
        if depth == 0 {
            out.extend(current.take());
        }
    }
    if depth != 0 {
        return Err(AnchorError {
            line: text.lines().count(),
            what: "unclosed '('".into(),
        });
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(
    line: usize,
    token: Option<&String>,
    what: &str,
) -> Result<T, AnchorError> {
    token
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| AnchorError {
            line,
            what: format!("bad or missing {what}"),
        })
}

/// Parses DS and DNSKEY presentation lines (`OWNER [TTL] [IN] DS|DNSKEY RDATA`), the format
/// `--trust-anchor FILE` takes. Other record types, `$` directives and malformed data are
/// refused with the line; at least one anchor is required.
pub fn parse_anchors(text: &str) -> Result<Vec<TrustAnchor>, AnchorError> {
    if text.len() > MAX_ANCHOR_TEXT {
        return Err(AnchorError {
            line: 0,
            what: format!("longer than {MAX_ANCHOR_TEXT} octets"),
        });
    }
    let mut anchors = Vec::new();
    let mut lines = Vec::new();
    for (line, tokens) in logical_lines(text)? {
        lines.push(line);
        let fail = |what: String| AnchorError { line, what };
        let owner_text = &tokens[0];
        if owner_text.starts_with('$') {
            return Err(fail(format!("directive {owner_text} not allowed")));
        }
        let owner =
            Name::from_ascii(owner_text).map_err(|e| fail(format!("owner {owner_text:?}: {e}")))?;
        if !owner.is_fqdn() {
            return Err(fail(format!(
                "owner {owner_text:?} is not absolute (end it with '.')"
            )));
        }
        let owner = DomainName::from_hickory(owner);
        let mut rest = tokens[1..].iter().peekable();
        if rest
            .peek()
            .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
        {
            rest.next(); // TTL
        }
        if rest.peek().is_some_and(|t| t.eq_ignore_ascii_case("IN")) {
            rest.next();
        }
        let rtype = rest.next().map(|t| t.to_ascii_uppercase());
        let rdata: Vec<&String> = rest.collect();
        match rtype.as_deref() {
            Some("DS") => {
                let tag: u16 = number(line, rdata.first().copied(), "key tag")?;
                let alg: u8 = number(line, rdata.get(1).copied(), "algorithm")?;
                let digest_type: u8 = number(line, rdata.get(2).copied(), "digest type")?;
                let hex: String = rdata.iter().skip(3).map(|s| s.as_str()).collect();
                let digest = crate::hex::decode(&hex)
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| fail("bad or missing digest".into()))?;
                anchors.push(TrustAnchor::ds(owner, tag, alg, digest_type, digest));
            }
            Some("DNSKEY") => {
                let flags: u16 = number(line, rdata.first().copied(), "flags")?;
                let protocol: u8 = number(line, rdata.get(1).copied(), "protocol")?;
                if protocol != 3 {
                    return Err(fail(format!(
                        "protocol {protocol}, not 3 (RFC 4034 sec. 2.1.2)"
                    )));
                }
                let alg: u8 = number(line, rdata.get(2).copied(), "algorithm")?;
                let b64: String = rdata.iter().skip(3).map(|s| s.as_str()).collect();
                let key = data_encoding::BASE64
                    .decode(b64.as_bytes())
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| fail("bad or missing public key".into()))?;
                anchors.push(TrustAnchor::dnskey(owner, flags, alg, key));
            }
            Some(other) => return Err(fail(format!("type {other}: only DS and DNSKEY"))),
            None => return Err(fail("no record type".into())),
        }
    }
    if anchors.is_empty() {
        return Err(AnchorError {
            line: 0,
            what: "no DS or DNSKEY record".into(),
        });
    }
    for (index, (line, anchor)) in lines.iter().zip(&anchors).enumerate() {
        let owner = anchor.owner();
        let first = anchors.iter().position(|a| a.owner() == owner);
        if first == Some(index) && !anchors.iter().any(|a| a.owner() == owner && a.usable()) {
            return Err(AnchorError {
                line: *line,
                what: format!(
                    "no anchor for {owner} has an algorithm (and, for DS, a digest type) this \
                     validator implements, or a DNSKEY anchor lacks the zone-key flag or is \
                     revoked: every answer below it would be insecure"
                ),
            });
        }
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::{PublicKey, TrustAnchors, Verifier};

    /// The embedded DS digests are those of the root KSKs hickory-proto carries as keys:
    /// two independent copies of IANA's data agree.
    #[test]
    fn the_root_ds_records_match_the_root_keys() {
        let keys = TrustAnchors::default();
        assert_eq!(keys.len(), 2);
        for anchor in root_anchors() {
            let (owner, AnchorKey::Ds(ds)) = (anchor.owner().as_hickory(), anchor.key()) else {
                panic!("DS anchors");
            };
            let matched = (0..keys.len()).filter_map(|i| keys.get(i)).any(|key| {
                let dnskey = DNSKEY::new(true, true, false, key.clone());
                dnskey.calculate_key_tag().ok() == Some(ds.key_tag())
                    && ds.covers(owner, &dnskey).unwrap_or(false)
            });
            assert!(matched, "DS {} matches no root key", ds.key_tag());
        }
    }

    #[test]
    fn ds_and_dnskey_lines_parse() {
        let text = "; IANA root anchors\n\
            . 86400 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
            example.net. IN DNSKEY 257 3 15 (\n  l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= ) ; KSK\n";
        let anchors = parse_anchors(text).unwrap();
        assert_eq!(anchors.len(), 2);
        assert_eq!(anchors[0], root_anchors()[0]);
        match (anchors[1].owner(), anchors[1].key()) {
            (owner, AnchorKey::Dnskey(key)) => {
                assert_eq!(owner.to_string(), "example.net");
                assert_eq!(key.flags(), 257);
                assert_eq!(key.algorithm(), Algorithm::ED25519);
                assert_eq!(key.public_key().public_bytes().len(), 32);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        for (text, line) in [
            ("$INCLUDE /etc/shadow\n", 1),
            (". IN A 192.0.2.1\n", 1),
            ("\n. IN DS 20326 8 2 nothex\n", 2),
            (". IN DNSKEY 257 2 8 AwEAAa==\n", 1),
            ("example.net IN DS 1 8 2 00\n", 1),
            (". IN DS 20326 8\n", 1),
        ] {
            let e = parse_anchors(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
        assert!(parse_anchors("; nothing\n").is_err());
        assert!(parse_anchors(". IN DNSKEY 257 3 8 ( AwEAAa\n").is_err());
    }
}
