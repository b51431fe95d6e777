//! DNS for the machines: query building, answer parsing and checking, DNSSEC status, and the
//! lookup client with retries, TCP fallback and resolver failover (DESIGN.md section 4).
//!
//! Queries are built and answers parsed with hickory-proto; the runtimes only move bytes.

mod answer;
mod client;
mod query;
pub mod resolv_conf;
mod security;

pub use answer::{Answer, ExtendedError, LookupError};
pub use client::{DnsClient, DnsConfig, LookupId, LookupResult};
pub use query::{build_query, tcp_frame, TcpFrameReader};
pub use security::{RcodeClass, Security};

pub use hickory_proto::rr::{Name, RecordType};
