//! The live driver answers DNS over real UDP and TCP on 127.20.0.x, and a live SMTP server
//! speaks STARTTLS over a real socket.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream, UdpSocket};
use std::time::Duration;

use daneel_core::tls::ConnectionIo;
use daneel_core::{ConnId, OwnedInput};
use daneel_tests::live::LiveWorld;
use daneel_tests::world::certs::{self_signed, server_tls};
use daneel_tests::world::{MailServer, Status, World};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const MX_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const T: Duration = Duration::from_secs(5);

fn world(port: u16) -> World {
    let leaf = self_signed(&["mx.example.net"]);
    World::builder()
        .smtp_port(port)
        .zone("example.net", Status::Secure)
        .a("mx.example.net", MX_IP)
        .server(
            IpAddr::V4(MX_IP),
            MailServer::new("mx.example.net").with_tls(server_tls(&[&leaf])),
        )
        .build()
}

fn query() -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("mx.example.net.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn a_of(m: &Message) -> Option<Ipv4Addr> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

#[test]
fn dns_over_udp_and_tcp() {
    let live = LiveWorld::start(&world(2525), Ipv4Addr::new(127, 20, 0, 0), 2525).unwrap();
    let r = live.resolver_addr();
    assert_eq!(r.ip(), IpAddr::V4(Ipv4Addr::new(127, 20, 0, 1)));
    let mapped = live.host_addr(IpAddr::V4(MX_IP)).unwrap();
    assert_eq!(mapped.ip(), IpAddr::V4(Ipv4Addr::new(127, 20, 0, 10)));

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(T)).unwrap();
    udp.send_to(&query(), r).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.metadata.id, 7);
    assert!(m.metadata.authentic_data);
    assert_eq!(a_of(&m), Some(Ipv4Addr::new(127, 20, 0, 10)));

    let mut tcp = TcpStream::connect_timeout(&r, T).unwrap();
    tcp.set_read_timeout(Some(T)).unwrap();
    let q = query();
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    tcp.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut msg).unwrap();
    let m = Message::from_vec(&msg).unwrap();
    assert_eq!(a_of(&m), Some(Ipv4Addr::new(127, 20, 0, 10)));
}

fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 16384];
    let n = s.read(&mut buf).expect("read within the timeout");
    buf[..n].to_vec()
}

/// Reads until a full reply (last line `NNN `) arrives.
fn reply(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    loop {
        got.extend(read_some(s));
        let t = String::from_utf8_lossy(&got).into_owned();
        if t.lines()
            .last()
            .is_some_and(|l| l.len() >= 4 && &l[3..4] == " ")
            && t.ends_with("\r\n")
        {
            return t;
        }
    }
}

#[test]
fn smtp_starttls_over_a_real_socket() {
    let live = LiveWorld::start(&world(2525), Ipv4Addr::new(127, 20, 1, 0), 2525).unwrap();
    let addr = live.host_addr(IpAddr::V4(MX_IP)).unwrap();
    let mut s = TcpStream::connect_timeout(&addr, T).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    assert!(reply(&mut s).starts_with("220 mx.example.net"));
    s.write_all(b"EHLO c.example\r\n").unwrap();
    assert!(reply(&mut s).contains("STARTTLS"));
    s.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(reply(&mut s), "220 2.0.0 Ready to start TLS\r\n");
    let mut io = ConnectionIo::new();
    s.write_all(&io.start_tls(Some("mx.example.net")).unwrap())
        .unwrap();
    let conn = ConnId(1);
    let mut established = false;
    for _ in 0..10 {
        let d = io.decode(conn, &read_some(&mut s));
        s.write_all(&d.to_socket).unwrap();
        if d.inputs
            .iter()
            .any(|i| matches!(i, OwnedInput::TlsEstablished { .. }))
        {
            established = true;
            break;
        }
    }
    assert!(established);
    s.write_all(&io.encode(b"QUIT\r\n")).unwrap();
    let mut plain = Vec::new();
    for _ in 0..10 {
        let bytes = read_some(&mut s);
        if bytes.is_empty() {
            break;
        }
        for i in io.decode(conn, &bytes).inputs {
            if let OwnedInput::Received { bytes, .. } = i {
                plain.extend(bytes);
            }
        }
        if plain.ends_with(b"\r\n") {
            break;
        }
    }
    assert_eq!(String::from_utf8_lossy(&plain), "221 2.0.0 Bye\r\n");
    drop(live);
    // stopped: the resolver no longer answers
}

#[test]
fn dropping_stops_the_servers() {
    let live = LiveWorld::start(&world(2526), Ipv4Addr::new(127, 20, 2, 0), 2526).unwrap();
    let smtp = live.host_addr(IpAddr::V4(MX_IP)).unwrap();
    let dns = live.resolver_addr();
    drop(live);
    assert!(TcpStream::connect_timeout(&smtp, T).is_err());
    assert!(TcpStream::connect_timeout(&dns, T).is_err());
    assert!(LiveWorld::start(&world(2526), Ipv4Addr::new(10, 0, 0, 0), 2526).is_err());
}
