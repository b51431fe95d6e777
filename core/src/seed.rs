//! Deterministic randomness: a [`Seed`] is an input like time (DESIGN.md section 3).
//!
//! DNS query ids (RFC 5452 sec. 9.2), the shuffle among equal-preference MX hosts
//! (RFC 5321 sec. 5.1, RFC 7672 sec. 2.2.1) and SRV weights (RFC 2782) all draw from a
//! `DetRng` seeded from the check's seed, so a transcript replays exactly. The generator is
//! internal machinery: only the [`Seed`] is public.

use serde::{Deserialize, Serialize};

internal! {
    mod det_rng;
}
internal!(
    use det_rng::DetRng;
);

/// The seed of a check. Runtimes draw it from the OS once and record it in the transcript.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seed(pub u64);
