//! Hexadecimal encoding, for TLSA presentation form (RFC 6698 sec. 2.2) and transcripts.

/// Lower-case hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decodes hex (either case; ASCII whitespace between digit pairs is skipped, as zone files
/// split long TLSA data). `None` for an odd number of digits or a non-hex character.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// `#[serde(with = "crate::hex::serde_bytes")]`: bytes as a hex string.
pub(crate) mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as hex.
    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    /// Deserializes hex into bytes.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::decode(&s).ok_or_else(|| serde::de::Error::custom("invalid hex"))
    }
}

/// `#[serde(with = "crate::hex::serde_chain")]`: a list of byte strings as hex strings.
pub(crate) mod serde_chain {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes each element as hex.
    pub(crate) fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<String> = items.iter().map(|b| super::encode(b)).collect();
        v.serialize(s)
    }

    /// Deserializes a list of hex strings.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| super::decode(s).ok_or_else(|| serde::de::Error::custom("invalid hex")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        assert_eq!(super::encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(super::decode("00 AB\nff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(super::decode("abc"), None);
        assert_eq!(super::decode("zz"), None);
    }
}
