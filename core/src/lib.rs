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

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod dane;
pub mod delivery;
mod dialogue;
pub mod dns;
pub mod driver;
#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hex;
pub mod implicit;
pub mod machine;
pub mod mua;
pub mod probe;
pub mod report;
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
