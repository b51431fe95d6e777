//! # daneel_tests: the test kit of the `daneel` package
//!
//! The scenario world of daneel (DESIGN.md section 7): a PKI built at test time, in-memory
//! TLS servers that present any chain, zones with secure/insecure/bogus status and faults,
//! mail servers with behaviours, a *simulated* driver that runs any machine in memory with a
//! simulated clock, and a *live* driver that serves the same world on loopback sockets.
//!
//! The package `daneel` holds this library and the `daneel` command (`src/bin/daneel/`),
//! whose `demo` serves this world; embedders can test their integration against it. The
//! runtimes (`daneel-tokio`, `daneel-smol`) never depend on it.

pub mod demo;
pub mod live;
pub mod pki;
pub mod reports;
pub mod sim;
pub mod tls_server;
pub mod tool;
pub mod transcripts;
pub mod world;

/// The README's example, compiled (and run, where it needs no network) as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
