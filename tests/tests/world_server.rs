//! Server scripts speak correct SMTP byte streams, and STARTTLS with real TLS in memory
//! against the core's client-side `ConnectionIo`.

use daneel_core::tls::ConnectionIo;
use daneel_core::{ConnId, OwnedInput};
use daneel_tests::world::certs::{self_signed, server_tls};
use daneel_tests::world::{Behaviour, MailServer, ServerSession, Stage};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tls_server() -> MailServer {
    let leaf = self_signed(&["mx.example.net"]);
    MailServer::new("mx.example.net").with_tls(server_tls(&[&leaf]))
}

#[test]
fn plain_dialogue() {
    let mut s = ServerSession::new(&MailServer::new("mx.example.net"));
    assert_eq!(
        text(&s.on_connect().to_client),
        "220 mx.example.net ESMTP daneel-world\r\n"
    );
    let r = text(&s.on_bytes(b"EHLO c.example\r\n").to_client);
    assert!(r.starts_with("250-mx.example.net\r\n") && r.ends_with("250 ENHANCEDSTATUSCODES\r\n"));
    assert!(!r.contains("STARTTLS"));
    assert_eq!(
        text(&s.on_bytes(b"NOOP\r\nRSET\r\n").to_client),
        "250 2.0.0 OK\r\n250 2.0.0 Reset state\r\n"
    );
    assert!(text(&s.on_bytes(b"STARTTLS\r\n").to_client).starts_with("454 "));
    // split lines are reassembled
    assert!(s.on_bytes(b"HE").to_client.is_empty());
    assert_eq!(
        text(&s.on_bytes(b"LO c\r\n").to_client),
        "250 mx.example.net\r\n"
    );
    let q = s.on_bytes(b"QUIT\r\n");
    assert_eq!(text(&q.to_client), "221 2.0.0 Bye\r\n");
    assert!(q.close && s.is_closed());
}

#[test]
fn behaviours() {
    let mut s = ServerSession::new(&MailServer::new("m").behaviour(Behaviour::Greeting421));
    let g = s.on_connect();
    assert!(text(&g.to_client).starts_with("421 ") && g.close);

    let mut s =
        ServerSession::new(&MailServer::new("m").behaviour(Behaviour::StallAfter(Stage::Ehlo)));
    s.on_connect();
    assert!(s.on_bytes(b"EHLO c\r\n").to_client.is_empty());
    assert!(s.on_bytes(b"NOOP\r\n").to_client.is_empty());

    let mut s =
        ServerSession::new(&MailServer::new("m").behaviour(Behaviour::CloseAfter(Stage::Connect)));
    assert!(s.on_connect().close);

    let inj = tls_server().behaviour(Behaviour::InjectAfterStartTls(b"250 evil\r\n".to_vec()));
    let mut s = ServerSession::new(&inj);
    s.on_connect();
    let r = text(&s.on_bytes(b"EHLO c\r\n").to_client);
    assert!(
        r.contains("250-STARTTLS\r\n") || r.contains("250 STARTTLS\r\n"),
        "{r}"
    );
    let st = s.on_bytes(b"STARTTLS\r\nEHLO pipelined\r\n");
    assert_eq!(
        text(&st.to_client),
        "220 2.0.0 Ready to start TLS\r\n250 evil\r\n"
    );
    assert!(st.start_tls);

    let mut s = ServerSession::new(&tls_server().behaviour(Behaviour::NoTlsSupport));
    s.on_connect();
    assert!(text(&s.on_bytes(b"STARTTLS\r\n").to_client).starts_with("454 4.7.0"));
}

#[test]
fn starttls_in_memory_with_connection_io() {
    let conn = ConnId(1);
    let mut s = ServerSession::new(&tls_server());
    let mut io = ConnectionIo::new();
    s.on_connect();
    s.on_bytes(&io.encode(b"EHLO c\r\n"));
    let st = s.on_bytes(&io.encode(b"STARTTLS\r\n"));
    assert_eq!(text(&st.to_client), "220 2.0.0 Ready to start TLS\r\n");
    let mut to_server = io.start_tls(Some("mx.example.net")).expect("client hello");
    let mut inputs = Vec::new();
    for _ in 0..10 {
        if to_server.is_empty() {
            break;
        }
        let step = s.on_bytes(&to_server);
        let d = io.decode(conn, &step.to_client);
        to_server = d.to_socket;
        inputs.extend(d.inputs);
    }
    let info = inputs
        .iter()
        .find_map(|i| match i {
            OwnedInput::TlsEstablished { info, .. } => Some(info.clone()),
            _ => None,
        })
        .expect("established");
    assert_eq!(info.sni.as_deref(), Some("mx.example.net"));
    assert_eq!(info.chain.len(), 1);
    assert_eq!(s.sni(), Some("mx.example.net"));
    let step = s.on_bytes(&io.encode(b"EHLO c\r\n"));
    let d = io.decode(conn, &step.to_client);
    let plain: Vec<u8> = d
        .inputs
        .iter()
        .flat_map(|i| match i {
            OwnedInput::Received { bytes, .. } => bytes.clone(),
            _ => vec![],
        })
        .collect();
    let r = text(&plain);
    assert!(
        r.starts_with("250-mx.example.net") && !r.contains("STARTTLS"),
        "{r}"
    );
    let step = s.on_bytes(&io.encode(b"QUIT\r\n"));
    assert!(step.close);
    let d = io.decode(conn, &step.to_client);
    assert!(d
        .inputs
        .iter()
        .any(|i| matches!(i, OwnedInput::Received { bytes, .. } if bytes.starts_with(b"221"))));
    assert!(d
        .inputs
        .iter()
        .any(|i| matches!(i, OwnedInput::Closed { .. })));
}
