//! daneel's own domain-name type, so that no hickory-proto (0.x) type is part of the public
//! API (issue 15): [`DomainName`] holds a hickory `Name` privately, and converts to and from
//! it only inside the crate.

use std::fmt;
use std::str::FromStr;

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::DecodeError;
use hickory_proto::ProtoError;

/// A fully qualified domain name (RFC 1035 sec. 3.1): labels of 1 to 63 octets, at most 255
/// octets in wire form, in the preferred syntax of RFC 1035 sec. 2.3.1 as relaxed by RFC 1123
/// sec. 2.1 (leading digits) and RFC 2782 (a leading `_`, as in SRV and TLSA owners).
///
/// Parsing ([`FromStr`]) turns IDNA U-labels into A-labels, lower-cases the name and makes it
/// absolute: search lists never apply (SPEC-NOTES S76), so `example.com` and `example.com.`
/// are the same name. Equality, hashing and ordering ignore ASCII case (RFC 1035 sec. 2.3.3;
/// the order is the canonical order of RFC 4034 sec. 6.1). It displays in lower-case ASCII
/// without the trailing dot (`example.com`), as reports print names; the root displays as
/// `.`.
///
/// ```
/// use daneel_core::dns::{DomainName, NameError};
///
/// let name: DomainName = "Bücher.Example.".parse().unwrap();
/// assert_eq!(name.to_string(), "xn--bcher-kva.example");
/// assert_eq!(name, "XN--BCHER-KVA.example".parse().unwrap());
/// assert_eq!("a..example".parse::<DomainName>(), Err(NameError::EmptyLabel));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainName(Name);

impl DomainName {
    /// The root name, `.` (RFC 1035 sec. 3.1: the null label), the owner of the IANA trust
    /// anchors (RFC 7958).
    pub fn root() -> Self {
        DomainName(Name::root())
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.0.is_root()
    }

    /// Wraps a hickory name as it is (case and all).
    pub(crate) fn from_hickory(name: Name) -> Self {
        // Every public way in gives an absolute name, on which Eq, Hash and Ord agree
        // (hickory's Ord ignores the root label, its Eq does not).
        debug_assert!(name.is_fqdn(), "a relative name: {name}");
        DomainName(name)
    }

    /// The hickory name inside, for the DNS machinery.
    pub(crate) fn as_hickory(&self) -> &Name {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::smtp::route::display_name(&self.0))
    }
}

/// `DomainName("example.com.")`: the absolute presentation form, as held.
impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DomainName")
            .field(&self.0.to_ascii())
            .finish()
    }
}

impl FromStr for DomainName {
    type Err = NameError;

    /// Parses the presentation form (RFC 1035 sec. 5.1, `\` escapes included); one trailing
    /// dot is optional, and `.` alone is the root.
    fn from_str(text: &str) -> Result<Self, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        match parse_absolute(text) {
            Ok(name) => Ok(DomainName(name)),
            Err(ProtoError::Decode(DecodeError::LabelBytesTooLong(octets))) => {
                Err(NameError::LabelTooLong { octets })
            }
            Err(ProtoError::Decode(DecodeError::DomainNameTooLong(_))) => {
                Err(NameError::NameTooLong)
            }
            Err(_) => Err(refused_label(text)),
        }
    }
}

/// `text` as an absolute, lower-case name, U-labels turned into A-labels: how daneel reads
/// every name a user gives (SPEC-NOTES S76: no search list).
fn parse_absolute(text: &str) -> Result<Name, ProtoError> {
    let mut name = Name::from_utf8(text)?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

/// Why a text is not a [`DomainName`] (RFC 1035 sec. 2.3.1 and 2.3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// No text at all (the root is written `.`).
    Empty,
    /// A label with no octets: a leading dot or two dots in a row. Only the root label is
    /// null (RFC 1035 sec. 3.1).
    EmptyLabel,
    /// A label longer than 63 octets, counted in its A-label form (RFC 1035 sec. 2.3.4).
    LabelTooLong {
        /// Its length in octets.
        octets: usize,
    },
    /// A name longer than 255 octets in wire form (RFC 1035 sec. 2.3.4).
    NameTooLong,
    /// A label the IDNA mapping refuses (RFC 5891 sec. 4, UTS #46 with hyphens allowed):
    /// spaces, control characters or `_` inside a label, a leading hyphen, or a U-label that
    /// does not map. Looser than the host-name rule of RFC 1035 sec. 2.3.1: a trailing hyphen,
    /// `--` in the third and fourth positions and a `*` label are accepted, as daneel read
    /// names before this type existed.
    InvalidLabel {
        /// The label as written.
        label: String,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty domain name"),
            NameError::EmptyLabel => {
                f.write_str("empty label (two dots in a row, or a leading dot)")
            }
            NameError::LabelTooLong { octets } => {
                write!(f, "label of {octets} octets, longer than 63")
            }
            NameError::NameTooLong => f.write_str("name longer than 255 octets"),
            NameError::InvalidLabel { label } => write!(f, "invalid label {label:?}"),
        }
    }
}

impl std::error::Error for NameError {}

/// What hickory refused in `text` other than a length: an empty label, or the first label
/// that does not parse on its own (the whole text when escapes hide it).
fn refused_label(text: &str) -> NameError {
    let labels = unescaped_labels(text);
    let last = labels.len() - 1;
    let empty = labels
        .iter()
        .enumerate()
        .any(|(i, label)| label.is_empty() && !(i == last && i > 0));
    if empty {
        return NameError::EmptyLabel;
    }
    let label = labels
        .into_iter()
        .find(|label| Name::from_utf8(label).is_err())
        .unwrap_or(text);
    NameError::InvalidLabel {
        label: label.to_string(),
    }
}

/// `text` split at the dots that no `\` escapes.
fn unescaped_labels(text: &str) -> Vec<&str> {
    let mut labels = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '.' => {
                labels.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    labels.push(&text[start..]);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_at_unescaped_dots() {
        assert_eq!(unescaped_labels("a.b\\.c."), vec!["a", "b\\.c", ""]);
        assert_eq!(unescaped_labels("."), vec!["", ""]);
    }
}
