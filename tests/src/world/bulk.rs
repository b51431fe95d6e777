//! Worlds of many hosts, for resource bounds (issue 7: an MX RRset of 1,000 hosts).

use std::net::{IpAddr, Ipv4Addr};

use super::certs::{self_signed, server_tls, tlsa, Issued};
use super::{MailServer, Status, World};

/// The name of MX host `i` of [`many_mx`].
pub fn many_mx_host(i: usize) -> String {
    format!("mx{i:04}.example.net")
}

/// A secure `example.com` whose MX RRset names `hosts` hosts in the secure zone
/// `example.net`, all of equal preference, each with an A record and a DANE-EE `3 1 1`
/// TLSA RRset; the hosts share `servers` mail servers (192.0.2.1 and up) that present one
/// self-signed certificate, so every host verifies.
pub fn many_mx(hosts: usize, servers: usize) -> World {
    let servers = servers.clamp(1, 250);
    let cert = self_signed(&["mx.example.net"]);
    let record = tlsa(3, 1, 1, &cert);
    let address = |i: usize| Ipv4Addr::new(192, 0, 2, 1 + (i % servers) as u8);
    let mut world = World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure);
    for i in 0..hosts {
        let name = many_mx_host(i);
        world = world
            .mx("example.com", 10, &name)
            .a(&name, address(i))
            .tlsa_for(&name, &record);
    }
    for s in 0..servers {
        world = world.server(
            IpAddr::V4(address(s)),
            MailServer::new("mx.example.net").with_tls(server_tls(&[&cert])),
        );
    }
    world.build()
}

/// Mail domain `i` of [`shared_mx_world`].
pub fn shared_mx_domain(i: usize) -> String {
    format!("d{i}.example.com")
}

/// `n` mail domains `d{i}.example.com` ([`shared_mx_domain`]) in a secure zone. Most share the MX hosts
/// `mx1.example.net` and `mx2.example.net` (one address each, DANE-EE records that match);
/// every fifth uses `mx.bad.example.net`, whose TLSA record matches another key; every
/// seventh uses `mx.plain.example`, in an unsigned zone. Returns the world and the
/// certificate of its DANE servers. For scans (issue 14): many domains, few MX hosts.
pub fn shared_mx_world(n: usize) -> (World, Issued) {
    let good = self_signed(&["mx1.example.net", "mx2.example.net", "mx.bad.example.net"]);
    let other = self_signed(&["other.example.net"]);
    let plain = self_signed(&["mx.plain.example"]);
    let ip = |last| Ipv4Addr::new(192, 0, 2, last);
    let mut w = World::builder()
        .zone("example.com", Status::Secure)
        .zone("example.net", Status::Secure)
        .zone("plain.example", Status::Insecure)
        .a("mx1.example.net", ip(1))
        .a("mx2.example.net", ip(2))
        .a("mx.bad.example.net", ip(3))
        .a("mx.plain.example", ip(4))
        .tlsa_for("mx1.example.net", &tlsa(3, 1, 1, &good))
        .tlsa_for("mx2.example.net", &tlsa(3, 1, 1, &good))
        .tlsa_for("mx.bad.example.net", &tlsa(3, 1, 1, &other));
    for i in 0..n {
        let d = shared_mx_domain(i);
        w = match i {
            _ if i % 7 == 0 => w.mx(&d, 10, "mx.plain.example"),
            _ if i % 5 == 0 => w.mx(&d, 10, "mx.bad.example.net"),
            _ => w
                .mx(&d, 10, "mx1.example.net")
                .mx(&d, 20, "mx2.example.net"),
        };
    }
    for (last, cert) in [(1, &good), (2, &good), (3, &good), (4, &plain)] {
        let server = MailServer::new("mx.example.net").with_tls(server_tls(&[cert]));
        w = w.server(IpAddr::V4(ip(last)), server);
    }
    (w.build(), good)
}
