//! A broken DNS forwarder for the interop lab (issue 13): it forwards every query to an
//! upstream resolver and removes the RRSIG, NSEC, NSEC3 and DS records from each answer, as
//! some middleboxes and old forwarders do. Behind it no check may end `dane-verified` or
//! `no-dane`: a stripped proof must never be taken for an insecure delegation.
//!
//! ```text
//! strip-dnssec LISTEN_ADDR UPSTREAM_ADDR [--keep-root-keys]   e.g. 127.10.0.55:53 127.10.0.54:53
//! ```
//!
//! With `--keep-root-keys` the root DNSKEY RRset keeps its RRSIGs, so the forwarder passes
//! daneel's DNSSEC-capability probe and every other answer reaches the validator stripped:
//! the chain walker itself must then find them bogus.
//!
//! UDP and TCP (RFC 7766), one thread per TCP connection; runs until killed.
//!
//! An example rather than a binary, so that `cargo install daneel` installs only `daneel`:
//! `cargo build -p daneel --example strip-dnssec` gives `target/debug/examples/strip-dnssec`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use daneel_tests::world::resolver::strip_dnssec;
use hickory_proto::op::Message;

/// How long one upstream exchange may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The upstream's answer to `query`, stripped; `None` when it did not answer or did not
/// parse (the client then times out, as behind a broken forwarder).
fn answer(upstream: SocketAddr, query: &[u8], keep_root_keys: bool) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.set_read_timeout(Some(UPSTREAM_TIMEOUT)).ok()?;
    socket.send_to(query, upstream).ok()?;
    let mut buf = vec![0u8; 65_535];
    let n = loop {
        let (n, from) = socket.recv_from(&mut buf).ok()?;
        if from == upstream {
            break n;
        }
    };
    let mut message = Message::from_vec(&buf[..n]).ok()?;
    if message.metadata.truncation {
        // Ask again over TCP for the whole answer.
        let mut stream = TcpStream::connect_timeout(&upstream, UPSTREAM_TIMEOUT).ok()?;
        stream.set_read_timeout(Some(UPSTREAM_TIMEOUT)).ok()?;
        let len = u16::try_from(query.len()).ok()?;
        stream.write_all(&len.to_be_bytes()).ok()?;
        stream.write_all(query).ok()?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut body).ok()?;
        message = Message::from_vec(&body).ok()?;
    }
    strip_dnssec(&mut message.answers, keep_root_keys);
    strip_dnssec(&mut message.authorities, keep_root_keys);
    strip_dnssec(&mut message.additionals, keep_root_keys);
    message.to_vec().ok()
}

fn serve_tcp(mut stream: TcpStream, upstream: SocketAddr, keep_root_keys: bool) {
    let _ = stream.set_read_timeout(Some(UPSTREAM_TIMEOUT));
    loop {
        let mut prefix = [0u8; 2];
        if stream.read_exact(&mut prefix).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        let Some(reply) = answer(upstream, &query, keep_root_keys) else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_all(&len.to_be_bytes()).is_err() || stream.write_all(&reply).is_err() {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (
        args.get(1).and_then(|a| a.parse::<SocketAddr>().ok()),
        args.get(2).and_then(|a| a.parse::<SocketAddr>().ok()),
    ) else {
        eprintln!("usage: strip-dnssec LISTEN_ADDR UPSTREAM_ADDR [--keep-root-keys]");
        std::process::exit(2);
    };
    let keep_root_keys = args.iter().any(|a| a == "--keep-root-keys");
    let tcp = TcpListener::bind(listen).unwrap_or_else(|e| {
        eprintln!("strip-dnssec: tcp {listen}: {e}");
        std::process::exit(1);
    });
    std::thread::spawn(move || {
        for stream in tcp.incoming().flatten() {
            std::thread::spawn(move || serve_tcp(stream, upstream, keep_root_keys));
        }
    });
    let udp = UdpSocket::bind(listen).unwrap_or_else(|e| {
        eprintln!("strip-dnssec: udp {listen}: {e}");
        std::process::exit(1);
    });
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, client)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let query = buf[..n].to_vec();
        let Ok(reply_socket) = udp.try_clone() else {
            continue;
        };
        std::thread::spawn(move || {
            if let Some(reply) = answer(upstream, &query, keep_root_keys) {
                let _ = reply_socket.send_to(&reply, client);
            }
        });
    }
}
