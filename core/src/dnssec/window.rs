//! The validity window of an RRSIG (RFC 4034 sec. 3.1.5, RFC 4035 sec. 5.3.1): inception and
//! expiration are 32-bit serial numbers of seconds since the epoch, compared with `now` in
//! RFC 1982 serial-number arithmetic, so they keep working after 2106.

use hickory_proto::rr::SerialNumber;

use crate::time::Timestamp;

/// The clock skew allowed on both ends of the window, seconds: a signature made by a signer
/// whose clock is a little ahead, or one that expired moments ago, is still accepted.
/// Unbound's default `val-sig-skew-min` is 3600 s; this is the same order, deliberately
/// small because a stale signature is what a replaying attacker holds.
pub const CLOCK_SKEW_SECS: u32 = 300;

/// Why a signature is outside its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowError {
    /// `now` is after the expiration (plus the skew).
    Expired,
    /// `now` is before the inception (minus the skew).
    NotYetValid,
    /// Inception is after expiration: no time is inside the window.
    Inverted,
}

/// Whether `now` is inside `[inception - skew, expiration + skew]`, in serial-number
/// arithmetic (RFC 1982 sec. 3.2; RFC 4034 sec. 3.1.5).
pub fn check_window(
    inception: SerialNumber,
    expiration: SerialNumber,
    now: Timestamp,
) -> Result<(), WindowError> {
    if inception > expiration {
        return Err(WindowError::Inverted);
    }
    // The low 32 bits of the time: serial arithmetic makes the wrap harmless.
    let now = now.as_unix_secs() as u32;
    if SerialNumber::new(now.wrapping_sub(CLOCK_SKEW_SECS)) > expiration {
        return Err(WindowError::Expired);
    }
    if SerialNumber::new(now.wrapping_add(CLOCK_SKEW_SECS)) < inception {
        return Err(WindowError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    #[test]
    fn inside_outside_and_the_skew() {
        let (i, e) = (SerialNumber::new(1_000_000), SerialNumber::new(2_000_000));
        assert_eq!(check_window(i, e, at(1_500_000)), Ok(()));
        assert_eq!(check_window(i, e, at(2_000_000 + 300)), Ok(()));
        assert_eq!(
            check_window(i, e, at(2_000_000 + 301)),
            Err(WindowError::Expired)
        );
        assert_eq!(check_window(i, e, at(1_000_000 - 300)), Ok(()));
        assert_eq!(
            check_window(i, e, at(1_000_000 - 301)),
            Err(WindowError::NotYetValid)
        );
        assert_eq!(
            check_window(e, i, at(1_500_000)),
            Err(WindowError::Inverted)
        );
    }

    /// After 2106 the 32-bit fields wrap; serial arithmetic keeps the order (RFC 4034
    /// sec. 3.1.5).
    #[test]
    fn the_window_works_across_the_32_bit_wrap() {
        let start = (1u64 << 32) - 1000; // 2106-02-07, just before the wrap
        let i = SerialNumber::new(start as u32);
        let e = SerialNumber::new((start + 100_000) as u32); // after the wrap
        assert_eq!(check_window(i, e, at(start + 50_000)), Ok(()));
        assert_eq!(
            check_window(i, e, at(start + 200_000)),
            Err(WindowError::Expired)
        );
        assert_eq!(
            check_window(i, e, at(start - 10_000)),
            Err(WindowError::NotYetValid)
        );
    }
}
