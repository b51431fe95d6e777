//! The only notion of time in the core: [`Timestamp`], milliseconds since the Unix epoch.
//!
//! The core never reads a clock (DESIGN.md section 3): runtimes and test drivers pass `now`
//! into every call, so the same inputs always give the same outputs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z (UTC, leap seconds ignored,
/// as in POSIX time). Used for deadlines (RFC 5321 sec. 4.5.3.2 timeouts, DNS retries) and
/// for certificate and RRSIG validity (RFC 7672 sec. 3.1.2).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// A timestamp `secs` seconds after the epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn as_unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `self + d`, saturating at the far future.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 form in UTC with second precision, e.g. `2026-11-29T20:16:30Z`.
    pub fn to_rfc3339(self) -> String {
        format_unix_secs(i64::try_from(self.as_unix_secs()).unwrap_or(i64::MAX))
    }
}

/// Formats seconds since the epoch (possibly negative) as RFC 3339 UTC, e.g. for certificate
/// `notAfter` values, which may lie before 1970 or after 9999 in hostile certificates.
pub fn format_unix_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 `date-time` (sec. 5.6): `YYYY-MM-DDTHH:MM:SS`, optional fraction
/// (dropped), then `Z` or `+HH:MM`/`-HH:MM`; `t`, `z` and a space for `T` are accepted
/// (sec. 5.6 NOTE). `None` for anything else, or a time before 1970.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !seps.iter().all(|&(i, c)| b.get(i) == Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        at += digits;
    }
    let offset = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
            let minutes = oh * 60 + om;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(secs).ok().map(Timestamp::from_unix_secs)
}

/// (year, month, day) in the proleptic Gregorian calendar to days since 1970-01-01 (Howard
/// Hinnant's algorithm, the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(Timestamp::EPOCH.to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix_secs(1_700_000_000).to_rfc3339(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(format_unix_secs(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_unix_secs(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn rfc3339_parses_what_it_formats() {
        for secs in [0, 951_782_400, 1_700_000_000, 1_796_342_400] {
            let t = Timestamp::from_unix_secs(secs);
            assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00"),
            Some(Timestamp::from_unix_secs(1_700_000_000))
        );
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(u64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(5)).as_millis(),
            u64::MAX
        );
        assert_eq!(
            Timestamp::from_millis(5).saturating_since(Timestamp::from_millis(9)),
            Duration::ZERO
        );
    }
}

/// A runtime's clock: the wall time at one reading of a monotonic clock, so that later
/// monotonic readings map to timestamps that never run backwards, and deadlines map back to
/// monotonic instants to sleep until. Pure arithmetic: the core never reads a clock, the
/// runtimes pass in the instants they read (DESIGN.md section 3).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: Timestamp,
    origin: Instant,
}

impl Clock {
    /// A clock on which `origin` (a monotonic reading) is the wall time `wall`.
    pub fn new(wall: SystemTime, origin: Instant) -> Clock {
        let ms = wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Clock {
            wall: Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)),
            origin,
        }
    }

    /// The wall time of the origin reading: "now" for a clock just made.
    pub fn origin(&self) -> Timestamp {
        self.wall
    }

    /// The timestamp of the monotonic reading `mono` (never before the origin's).
    pub fn at(&self, mono: Instant) -> Timestamp {
        self.wall
            .saturating_add(mono.saturating_duration_since(self.origin))
    }

    /// The monotonic instant at which `at` falls due.
    pub fn instant(&self, at: Timestamp) -> Instant {
        self.origin + at.saturating_since(self.wall)
    }
}
