//! Worlds of many hosts, for resource bounds (issue 7: an MX RRset of 1,000 hosts).

use std::net::{IpAddr, Ipv4Addr};

use super::certs::{self_signed, server_tls, tlsa};
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
