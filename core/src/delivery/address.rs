//! The envelope addresses a delivery sends in MAIL FROM and RCPT TO (RFC 5321 sec. 4.1.2).

use std::fmt;

/// The longest address daneel sends: RFC 5321 sec. 4.5.3.1.3 limits a path to 256 octets,
/// the angle brackets included.
const MAX_ADDRESS: usize = 254;

/// Checks an envelope address: printable, without space, angle brackets or controls, so it
/// can never split or extend a command line (RFC 5321 sec. 4.1.2), and at most 254 octets, so
/// that its path `<address>` fits the 256 octets of sec. 4.5.3.1.3. An empty address is the
/// null reverse-path (`MAIL FROM:<>`, sec. 4.5.5).
pub fn validate_address(address: &str) -> Result<(), AddressError> {
    if let Some(character) = address
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'))
    {
        return Err(AddressError::Character {
            address: address.into(),
            character,
        });
    }
    if address.len() > MAX_ADDRESS {
        return Err(AddressError::TooLong {
            address: address.into(),
            octets: address.len(),
        });
    }
    Ok(())
}

/// Why an envelope address is refused ([`validate_address`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// A control character, white space, `<` or `>`: it would end or extend the command
    /// line or the path (RFC 5321 sec. 4.1.2).
    Character {
        /// The address as given.
        address: String,
        /// The first such character.
        character: char,
    },
    /// Longer than 254 octets: with its angle brackets, longer than the 256 octets of a path
    /// (RFC 5321 sec. 4.5.3.1.3).
    TooLong {
        /// The address as given.
        address: String,
        /// Its length in octets.
        octets: usize,
    },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Character { address, character } => {
                write!(f, "the address {address:?} contains {character:?}")
            }
            AddressError::TooLong { address, octets } => write!(
                f,
                "the address {address:?} is {octets} octets long, longer than {MAX_ADDRESS}"
            ),
        }
    }
}

impl std::error::Error for AddressError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(validate_address(""), Ok(()));
        assert_eq!(validate_address("user@example.com"), Ok(()));
        assert_eq!(
            validate_address("a@b> RCPT TO:<c@d"),
            Err(AddressError::Character {
                address: "a@b> RCPT TO:<c@d".into(),
                character: '>'
            })
        );
        assert!(matches!(
            validate_address("a@b\r\nDATA"),
            Err(AddressError::Character {
                character: '\r',
                ..
            })
        ));
        // 254 octets: `<` and `>` make a path of 256, the most RFC 5321 sec. 4.5.3.1.3
        // allows; one more is refused.
        let longest = format!("{}@example.com", "a".repeat(242));
        assert_eq!(validate_address(&longest), Ok(()));
        let long = format!("{longest}a");
        assert_eq!(
            validate_address(&long),
            Err(AddressError::TooLong {
                address: long.clone(),
                octets: 255
            })
        );
    }
}
