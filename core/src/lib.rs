//! # daneel-core
//!
//! The sans-IO core of daneel: DANE for email. It decides how to reach a mail domain's
//! servers securely (RFC 7672 for SMTP between MTAs; RFC 7673 and RFC 6186 for mail user
//! agents) and checks that they are what their DNSSEC-signed TLSA records say.
//!
//! **This crate performs no I/O.** It never opens a socket, never reads a clock and never
//! draws from the OS random source: DNS answers, bytes from servers, TLS events, the time
//! and a seed are inputs; DNS queries, bytes to send, connections to open and TLS upgrades
//! are outputs. The runtimes (`daneel-tokio`, `daneel-smol`) do the I/O; tests drive the same
//! machines in memory, deterministically.
//!
//! ## The run loop
//!
//! Every machine implements [`Machine`]:
//!
//! 1. feed one [`Input`] with [`Machine::handle_input`];
//! 2. **drain** [`Machine::poll_output`] until it returns [`Output::Timeout`] or
//!    [`Output::Done`], performing each [`Action`];
//! 3. wait for the next event (a socket, a resolver answer) or the deadline, then go to 1,
//!    feeding [`Input::Timeout`] when the deadline passed.
//!
//! Peer misbehaviour never returns `Err` and never panics: it ends up in the [`Report`].
//!
//! ## Which entry point do I want?
//!
//! | you have | you want | use |
//! |---|---|---|
//! | a mail domain, and sockets (or a runtime) | the RFC 7672 verdict of its MX hosts | [`check::SmtpCheck`], driven through [`driver::Driver`] (see `examples/blocking_check.rs`) or by `daneel-tokio` / `daneel-smol` |
//! | a list of mail domains, thousands or millions | the verdict of each, with shared DNS answers and per-destination limits | [`scan::Scan`] (`daneel scan`) |
//! | a mail domain | what a mail client finds through SRV (RFC 6186, RFC 7673) | [`mua::MuaCheck`] |
//! | your own DNS, sockets and rustls | DANE on your own TLS connection | [`dane::DaneVerifier`] (see `examples/rustls_dane.rs`) |
//! | a chain and a TLSA RRset | the RFC 7672 sec. 3 decision only | [`dane::verify()`], [`dane::TlsaSet`] |
//! | TLSA text or RDATA, a certificate | parsing, generation, "did I publish the right record?" | [`dane::TlsaRecord`], [`dane::record_for`], [`dane::verify_published`] |
//! | a recorded check | the same decisions again, with no network | [`transcript::Recording`], [`transcript::replay()`] (see `examples/replay.rs`) |

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]
#![warn(unnameable_types)]

/// Declares modules, re-exports or inherent functions that only tests and fuzzing reach:
/// `pub` with the `_internal_test_exports` feature, crate-private without it, so that
/// daneel-core's public API holds only what it promises (issue 15; str0m does the same).
/// Without the feature, what only tests use is not dead code.
macro_rules! internal {
    ($(mod $name:ident;)+) => {$(
        #[cfg(feature = "_internal_test_exports")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "_internal_test_exports"))]
        #[allow(unreachable_pub, dead_code)]
        pub(crate) mod $name;
    )+};
    (use $($path:tt)+) => {
        #[cfg(feature = "_internal_test_exports")]
        #[doc(hidden)]
        pub use $($path)+
        #[cfg(not(feature = "_internal_test_exports"))]
        #[allow(unused_imports)]
        pub(crate) use $($path)+
    };
    ($(#[$meta:meta])* fn $($rest:tt)+) => {
        $(#[$meta])*
        #[cfg(feature = "_internal_test_exports")]
        #[doc(hidden)]
        pub fn $($rest)+
        $(#[$meta])*
        #[cfg(not(feature = "_internal_test_exports"))]
        #[allow(dead_code)]
        pub(crate) fn $($rest)+
    };
}

pub mod check;
pub mod dane;
pub mod delivery;
mod dialogue;
pub mod dns;
pub mod dnssec;
pub mod driver;
#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod hex;
internal! {
    mod implicit;
}
pub mod machine;
pub mod mua;
internal! {
    mod probe;
}
pub mod report;
pub mod scan;
pub mod seed;
pub mod smtp;
pub mod time;
pub mod tls;
pub mod transcript;

pub use machine::{
    Action, ConnId, Input, LocalFailure, LocalResource, Machine, MachineConfig, NetError, Output,
    OwnedInput, QueryId, Transport, UsageError,
};
pub use report::{CheckKind, DomainVerdict, Report};
pub use seed::Seed;
pub use time::Timestamp;

/// The README's example, compiled (and run, where it needs no network) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
