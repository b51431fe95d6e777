//! DNS for the machines: query building, answer parsing and checking, DNSSEC status, and the
//! lookup client with retries, TCP fallback and resolver failover (DESIGN.md section 4).
//!
//! Queries are built and answers parsed with hickory-proto; the runtimes only move bytes.
//!
//! - `query`: queries with RD=1, AD=1 (RFC 6840 sec. 5.7), CD=0 (or CD=1 for
//!   the in-core validator, `build_query_cd`) and EDNS0 DO=1; [`tcp_frame`] and
//!   [`TcpFrameReader`] for DNS over TCP (RFC 1035 sec. 4.2.2).
//! - `check_response`: a response must match its query's id, QR, opcode, CD bit and
//!   question (RFC 5452 sec. 9.1); then its rcode, CNAME chain, AD bit (the [`Security`] of
//!   the `Answer`) and Extended DNS Errors (RFC 8914) are read.
//! - `DnsClient`: the sans-IO lookup machine, with timeouts, backoff, failover and TCP
//!   fallback (RFC 7766 sec. 5). [`Action::SendDns`](crate::Action::SendDns) carries the bare
//!   message; for TCP the runtime frames it with [`tcp_frame`] and hands back the answer
//!   without its prefix.
//! - [`resolv_conf`]: the resolver list from `/etc/resolv.conf` text.
//! - [`DomainName`]: daneel's own domain-name type (RFC 1035 sec. 3.1), which the public API
//!   uses instead of hickory-proto's.
//!
//! DNS over TCP, as a runtime moves it: the message framed, read back in pieces.
//!
//! ```
//! use daneel_core::dns::{tcp_frame, TcpFrameReader};
//!
//! let message = [0x12, 0x34, 0x01, 0x00];
//! let framed = tcp_frame(&message);
//! assert_eq!(framed[..2], [0, 4]);
//! let mut reader = TcpFrameReader::new();
//! reader.push(&framed[..3]).unwrap();
//! assert_eq!(reader.pop(), None);
//! reader.push(&framed[3..]).unwrap();
//! assert_eq!(reader.pop(), Some(message.to_vec()));
//! ```

internal! {
    mod answer;
    mod client;
    mod query;
}
mod name;
pub mod resolv_conf;
mod security;

pub use answer::{ExtendedError, LookupError, Malformed, Mismatch};
pub use name::{DomainName, NameError};
pub use security::{RcodeClass, Security};
internal!(
    use answer::{
        check_response, ede_name, extended_errors, rcode_name, serial_to_timestamp, Answer,
        Checked, Expected, Sections, EDE_OPTION_CODE, MAX_CNAME_LINKS, MAX_EDE_TEXT,
    };
);
internal!(
    use client::{
        same_endpoint, DnsClient, DnsConfig, IgnoredDatagram, LookupId, LookupResult,
        DEFAULT_ATTEMPTS, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, MAX_BACKOFF_DOUBLINGS,
    };
);
// DNS over TCP framing is part of the runtime contract: a runtime (ours through `driver`, or
// an embedder's own) frames `Action::SendDns` over TCP and reassembles the answers.
pub use query::{tcp_frame, FrameOverflow, TcpFrameReader, MAX_TCP_BUFFERED, MAX_TCP_MESSAGE};
internal!(
    use query::{build_query, build_query_cd, DEFAULT_PAYLOAD};
);
internal!(
    use hickory_proto::rr::{Name, RecordType};
);
