//! The scenario world (DESIGN.md section 7): DNS data with DNSSEC status and faults, mail
//! servers with behaviours, and the scenario catalogue built from them.
//!
//! A [`World`] is plain data. The [`resolver`] module answers DNS queries from it as a
//! validating recursive resolver would (real wire messages, AD bit, Extended DNS Errors),
//! or, with CD=1 and for non-validating resolvers, with the real DNSSEC data of the zones
//! signed at test time ([`signing`]);
//! the [`server`] module plays each mail server as a sans-IO SMTP script with real TLS.
//! [`crate::sim`] runs a machine against a world in memory; [`crate::live`] serves it on
//! loopback sockets.

pub mod bulk;
pub mod catalogue;
pub mod certs;
pub mod generated;
pub mod mua;
pub mod resolver;
pub mod server;
pub mod signed;
pub mod signed_catalogue;
pub mod signing;
mod zones;

pub use server::{
    Behaviour, MailServer, Mailbox, Protocol, ServerSession, ServerStep, ServerTls, Stage,
    StoredMail, TlsVersions, TransactionScript,
};
pub use zones::{
    Denial, Fault, Host, ResolverKind, RrSet, Status, World, WorldBuilder, ZoneSigning,
    EDE_DNSSEC_BOGUS,
};

/// Lower-cases a DNS name and strips its trailing dot (the world's key form; `""` is the root).
pub fn norm_name(name: &str) -> String {
    zones::norm(name)
}
