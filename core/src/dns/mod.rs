//! DNS for the machines: query building, answer parsing and checking, DNSSEC status, and the
//! lookup client with retries, TCP fallback and resolver failover (DESIGN.md section 4).
//!
//! Queries are built and answers parsed with hickory-proto; the runtimes only move bytes.

mod answer;
mod client;
mod query;
pub mod resolv_conf;
mod security;

pub use answer::{
    check_response, ede_name, extended_errors, rcode_name, serial_to_timestamp, Answer, Checked,
    Expected, ExtendedError, LookupError, EDE_OPTION_CODE, MAX_CNAME_LINKS, MAX_EDE_TEXT,
};
pub use client::{
    DnsClient, DnsConfig, LookupId, LookupResult, DEFAULT_ATTEMPTS, DEFAULT_ATTEMPT_TIMEOUT,
    MAX_BACKOFF_DOUBLINGS,
};
pub use query::{
    build_query, tcp_frame, FrameOverflow, TcpFrameReader, DEFAULT_PAYLOAD, MAX_TCP_BUFFERED,
    MAX_TCP_MESSAGE,
};
pub use security::{RcodeClass, Security};

pub use hickory_proto::rr::{Name, RecordType};
