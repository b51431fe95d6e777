//! `Delivery` in the simulated world, through its public interface: real DNS answers, real
//! TLS, and mail servers that record every transaction command and store what they accept
//! (issue 12, "Simulation tests").

use std::net::Ipv4Addr;

use daneel_core::check::CheckConfig;
use daneel_core::delivery::{
    dsn_message, Delivery, DeliveryConfig, DeliveryReport, DsnParams, Message, RecipientState,
    Waiver,
};
use daneel_core::report::ConnectionVerdict;
use daneel_core::{Report, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{SIM_RESOLVER, SIM_START};
use daneel_tests::world::certs::{self_signed, server_tls, tlsa, Issued};
use daneel_tests::world::{MailServer, Status, TransactionScript, World};

const MX1: &str = "192.0.2.11";
const MX2: &str = "192.0.2.12";

/// `example.com` (secure, or not) with MX 10 mx1.example.net and MX 20 mx2.example.net,
/// each with a TLSA record for its own certificate, unless `mx1_tlsa_of` names another.
struct Setup {
    mx_status: Status,
    mx1: MailServer,
    mx2: Option<MailServer>,
    mx1_cert: Issued,
    mx2_cert: Issued,
    mx1_tlsa_wrong: bool,
}

fn certs() -> (Issued, Issued) {
    (
        self_signed(&["mx1.example.net"]),
        self_signed(&["mx2.example.net"]),
    )
}

impl Setup {
    fn new() -> Setup {
        let (a, b) = certs();
        Setup {
            mx_status: Status::Secure,
            mx1: MailServer::new("mx1.example.net").with_tls(server_tls(&[&a])),
            mx2: None,
            mx1_cert: a,
            mx2_cert: b,
            mx1_tlsa_wrong: false,
        }
    }

    fn with_mx2(mut self) -> Setup {
        self.mx2 = Some(MailServer::new("mx2.example.net").with_tls(server_tls(&[&self.mx2_cert])));
        self
    }

    fn world(&self) -> World {
        let wrong = self_signed(&["mx1.example.net"]);
        let mx1_record = if self.mx1_tlsa_wrong {
            tlsa(3, 1, 1, &wrong)
        } else {
            tlsa(3, 1, 1, &self.mx1_cert)
        };
        let mut b = World::builder()
            .zone("example.com", self.mx_status)
            .zone("example.net", Status::Secure)
            .mx("example.com", 10, "mx1.example.net")
            .a("mx1.example.net", Ipv4Addr::new(192, 0, 2, 11))
            .tlsa_for("mx1.example.net", &mx1_record)
            .server(MX1.parse().unwrap(), self.mx1.clone());
        if let Some(mx2) = &self.mx2 {
            b = b
                .mx("example.com", 20, "mx2.example.net")
                .a("mx2.example.net", Ipv4Addr::new(192, 0, 2, 12))
                .tlsa_for("mx2.example.net", &tlsa(3, 1, 1, &self.mx2_cert))
                .server(MX2.parse().unwrap(), mx2.clone());
        }
        b.build()
    }
}

struct Run {
    report: Report,
}

impl Run {
    fn delivery(&self) -> &DeliveryReport {
        self.report.delivery.as_deref().expect("a delivery report")
    }

    fn state(&self, address: &str) -> RecipientState {
        self.delivery()
            .recipients
            .iter()
            .find(|r| r.address == address)
            .map(|r| r.state)
            .expect("the recipient is reported")
    }
}

fn config(recipients: &[&str]) -> DeliveryConfig {
    let mut check = CheckConfig::new("example.com", vec![SIM_RESOLVER]);
    check.ehlo_name = "client.example.org".into();
    DeliveryConfig {
        check,
        from: "sender@example.org".into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        requiretls: false,
        trace: false,
    }
}

fn run(world: World, config: DeliveryConfig, message: &[u8]) -> Run {
    let message = Message::parse(message).expect("a well-formed message");
    let mut asked = config.recipients.clone();
    let delivery = Delivery::new(config, message, Seed(7), SIM_START).unwrap();
    let mut sim = Sim::new(world, Box::new(delivery), SIM_START);
    let report = sim.run_bounded(2_000_000).expect("the delivery ends");
    let d = report.delivery.as_deref().expect("a delivery report");
    // Every recipient asked for is reported exactly once (so in exactly one state): none is
    // lost, none doubled.
    let mut reported: Vec<String> = d.recipients.iter().map(|r| r.address.clone()).collect();
    asked.sort();
    reported.sort();
    assert_eq!(reported, asked, "recipients asked for and reported");
    Run { report }
}

const SIMPLE: &[u8] =
    b"From: sender@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n";

#[test]
fn delivered_over_dane() {
    let setup = Setup::new();
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(
        r.state("b@example.com"),
        RecipientState::Delivered,
        "{:#?}",
        r.report.log
    );
    let stored = setup.mx1.mailbox.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, SIMPLE);
    assert!(stored[0].tls);
    assert_eq!(stored[0].rcpts, vec!["b@example.com".to_string()]);
    let attempt = &r.delivery().attempts[0];
    assert_eq!(attempt.verdict, ConnectionVerdict::Verified);
    let received = attempt.received.as_ref().unwrap();
    assert_eq!(received.with, "ESMTPS");
    assert!(received.tls.is_some());
}

#[test]
fn deferred_on_tlsa_mismatch_without_a_byte_of_the_transaction() {
    let mut setup = Setup::new();
    setup.mx1_tlsa_wrong = true;
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Deferred);
    let rcpt = &r.delivery().recipients[0];
    assert_eq!(rcpt.status, "4.7.5");
    assert!(rcpt.retry_after_secs.is_some());
    assert!(
        rcpt.dane.as_deref().unwrap().contains("dane-failed"),
        "{rcpt:?}"
    );
    assert!(setup.mx1.mailbox.commands().is_empty());
    assert!(setup.mx1.mailbox.stored().is_empty());
}

#[test]
fn next_mx_after_a_4xx() {
    let mut setup = Setup::new().with_mx2();
    setup.mx1 = setup.mx1.with_script(TransactionScript {
        mail: Some("451 4.3.0 try again later".into()),
        ..TransactionScript::default()
    });
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert_eq!(
        r.delivery().recipients[0].remote_mta.as_deref(),
        Some("mx2.example.net")
    );
    assert_eq!(setup.mx1.mailbox.stored().len(), 0);
    // MAIL and the pipelined RCPT, and nothing more.
    let mx1: Vec<String> = setup
        .mx1
        .mailbox
        .commands()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(mx1.len(), 2, "{mx1:?}");
    assert!(mx1[0].starts_with("MAIL FROM:<sender@example.org>"));
    assert_eq!(setup.mx2.as_ref().unwrap().mailbox.stored().len(), 1);
    assert_eq!(r.delivery().attempts.len(), 2);
}

#[test]
fn bounced_on_a_5xx_with_a_dsn() {
    let mut setup = Setup::new().with_mx2();
    setup.mx1 = setup.mx1.with_script(TransactionScript {
        rcpt: [(
            "b@example.com".to_string(),
            "550 5.1.1 no such user".to_string(),
        )]
        .into(),
        ..TransactionScript::default()
    });
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    // A permanent failure is final: the next MX is not asked.
    assert!(setup.mx2.as_ref().unwrap().mailbox.commands().is_empty());
    let message = Message::parse(SIMPLE).unwrap();
    let dsn = dsn_message(
        r.delivery(),
        &DsnParams {
            reporting_mta: "client.example.org",
            arrival: SIM_START,
            now: SIM_START,
            left_in: Some("/var/tmp/undelivered.eml"),
            original_header: message.header(),
            boundary: "b0undary",
        },
    )
    .unwrap();
    for field in [
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Reporting-MTA: dns; client.example.org",
        "Final-Recipient: rfc822; b@example.com",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx1.example.net",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user",
        "X-Dane-Remote-MTA: dane; mx1.example.net; verified",
        "Content-Type: text/rfc822-headers",
        "Subject: hi",
        "/var/tmp/undelivered.eml",
        "--b0undary--",
    ] {
        assert!(dsn.contains(field), "{field} in\n{dsn}");
    }
    // A message with the null reverse path gets no DSN (RFC 5321 sec. 4.5.5): it would go
    // nowhere, or loop.
    let mut null = r.delivery().clone();
    null.from = String::new();
    let params = DsnParams {
        reporting_mta: "client.example.org",
        arrival: SIM_START,
        now: SIM_START,
        left_in: None,
        original_header: message.header(),
        boundary: "b0undary",
    };
    assert_eq!(dsn_message(&null, &params), None);
}

#[test]
fn a_dane_failure_sends_nothing_unless_waived() {
    let mut setup = Setup::new().with_mx2();
    setup.mx1_tlsa_wrong = true;
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert!(
        setup.mx1.mailbox.commands().is_empty(),
        "nothing after a DANE failure"
    );
    assert_eq!(setup.mx2.as_ref().unwrap().mailbox.stored().len(), 1);
    assert!(!r.delivery().requirements.waiver_used);

    // TLS-Required: No (RFC 8689 sec. 4.1): the failed authentication is waived, recorded.
    let waived = b"TLS-Required: No\r\nSubject: hi\r\n\r\nHello.\r\n";
    let mut setup = Setup::new().with_mx2();
    setup.mx1_tlsa_wrong = true;
    let mut cfg = config(&["b@example.com"]);
    cfg.trace = true;
    let r = run(setup.world(), cfg, waived);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert_eq!(setup.mx1.mailbox.stored().len(), 1);
    let d = r.delivery();
    assert_eq!(d.requirements.waiver, Waiver::InForce);
    assert!(d.requirements.waiver_used);
    assert!(d.attempts[0].waived);
    assert_eq!(d.attempts[0].verdict, ConnectionVerdict::DaneFailed);
    let transmitted = d.attempts[0].transmitted.as_deref().unwrap();
    assert!(!transmitted.contains("TLSA"), "{transmitted}");
    assert!(r.report.log.iter().any(|l| l.text.contains("waived")));
}

#[test]
fn dots_are_stuffed_and_restored() {
    let body = b"Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nmiddle . dot\r\n.\r\n";
    let setup = Setup::new();
    let r = run(setup.world(), config(&["b@example.com"]), body);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert_eq!(setup.mx1.mailbox.stored()[0].data, body);
    assert_eq!(setup.mx1.mailbox.stored()[0].method, "DATA");
}

#[test]
fn line_ends_are_normalised() {
    let setup = Setup::new();
    let r = run(
        setup.world(),
        config(&["b@example.com"]),
        b"Subject: lf\n\none\ntwo\rthree",
    );
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert_eq!(
        setup.mx1.mailbox.stored()[0].data,
        b"Subject: lf\r\n\r\none\r\ntwo\r\nthree\r\n"
    );
}

#[test]
fn eight_bit_bodies_need_8bitmime() {
    let body = "Subject: caf\u{e9}s\r\n\r\nLe caf\u{e9} est servi.\r\n".as_bytes();
    let setup = Setup::new().with_mx2();
    let mut setup = setup;
    setup.mx1 = setup.mx1.with_keywords(&["SMTPUTF8"]);
    let r = run(setup.world(), config(&["b@example.com"]), body);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    let stored = setup.mx1.mailbox.stored();
    assert_eq!(stored[0].data, body);
    assert!(
        stored[0].mail.contains("BODY=8BITMIME"),
        "{}",
        stored[0].mail
    );
    assert!(stored[0].mail.contains("SMTPUTF8"), "{}", stored[0].mail);
    assert_eq!(
        r.delivery().attempts[0].received.as_ref().unwrap().with,
        "UTF8SMTPS"
    );

    // A server without 8BITMIME gets nothing: the recipient bounces (no downgrade).
    let body = "Subject: x\r\n\r\ncaf\u{e9}\r\n".as_bytes();
    let mut setup = Setup::new();
    setup.mx1 = setup.mx1.without_keyword("8BITMIME");
    let r = run(setup.world(), config(&["b@example.com"]), body);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.6.3");
    assert!(setup.mx1.mailbox.commands().is_empty());
}

fn ten_megabytes() -> Vec<u8> {
    let mut m = b"Subject: big\r\n\r\n".to_vec();
    let mut i = 0u64;
    while m.len() < 10 * 1024 * 1024 {
        m.extend_from_slice(format!(".line {i} \u{e9}\u{e8} {}\r\n", "x".repeat(60)).as_bytes());
        i += 1;
    }
    m
}

/// Delivers a 10 MB message to a server that offers `keywords` and a 50 MB SIZE; returns
/// what it stored.
fn ten_megabyte_case(keywords: &[&str]) -> (Vec<u8>, daneel_tests::world::StoredMail) {
    let body = ten_megabytes();
    let mut setup = Setup::new();
    let mut offered = vec!["SIZE 52428800"];
    offered.extend_from_slice(keywords);
    setup.mx1 = setup.mx1.without_keyword("SIZE").with_keywords(&offered);
    let r = run(setup.world(), config(&["b@example.com"]), &body);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    let stored = setup.mx1.mailbox.stored();
    assert_eq!(stored[0].data.len(), body.len());
    assert!(stored[0].data == body);
    assert!(stored[0].mail.contains(&format!("SIZE={}", body.len())));
    (body, stored[0].clone())
}

#[test]
fn a_ten_megabyte_body_with_data() {
    assert_eq!(ten_megabyte_case(&[]).1.method, "DATA");
}

#[test]
fn a_ten_megabyte_body_with_bdat() {
    assert_eq!(ten_megabyte_case(&["CHUNKING"]).1.method, "BDAT");
}

#[test]
fn a_message_over_the_servers_size_bounces_unsent() {
    let mut setup = Setup::new();
    setup.mx1 = setup
        .mx1
        .without_keyword("SIZE")
        .with_keywords(&["SIZE 10"]);
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.3.4");
    assert!(setup.mx1.mailbox.commands().is_empty());
}

#[test]
fn pipelined_rcpt_rejections_per_recipient() {
    let mut setup = Setup::new().with_mx2();
    setup.mx1 = setup.mx1.with_script(TransactionScript {
        rcpt: [
            ("gone@example.com".to_string(), "550 5.1.1 gone".to_string()),
            (
                "busy@example.com".to_string(),
                "450 4.2.1 mailbox busy".to_string(),
            ),
        ]
        .into(),
        ..TransactionScript::default()
    });
    let r = run(
        setup.world(),
        config(&["ok@example.com", "gone@example.com", "busy@example.com"]),
        SIMPLE,
    );
    assert_eq!(r.state("ok@example.com"), RecipientState::Delivered);
    assert_eq!(r.state("gone@example.com"), RecipientState::Bounced);
    // The 4xx recipient goes on to the next MX, alone.
    assert_eq!(r.state("busy@example.com"), RecipientState::Delivered);
    let first = r.delivery().attempts[0].transaction.as_ref().unwrap();
    assert!(first.pipelined);
    let mx1 = setup.mx1.mailbox.stored();
    assert_eq!(mx1[0].rcpts, vec!["ok@example.com".to_string()]);
    let mx2 = setup.mx2.as_ref().unwrap().mailbox.stored();
    assert_eq!(mx2[0].rcpts, vec!["busy@example.com".to_string()]);
    let mx2_rcpts: Vec<String> = setup
        .mx2
        .as_ref()
        .unwrap()
        .mailbox
        .commands()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c.starts_with("RCPT"))
        .collect();
    assert_eq!(mx2_rcpts, vec!["RCPT TO:<busy@example.com>".to_string()]);

    // Without PIPELINING the same results, one command at a time.
    let mut setup = Setup::new();
    setup.mx1 = setup
        .mx1
        .without_keyword("PIPELINING")
        .with_script(TransactionScript {
            rcpt: [("gone@example.com".to_string(), "550 5.1.1 gone".to_string())].into(),
            ..TransactionScript::default()
        });
    let r = run(
        setup.world(),
        config(&["ok@example.com", "gone@example.com"]),
        SIMPLE,
    );
    assert_eq!(r.state("ok@example.com"), RecipientState::Delivered);
    assert_eq!(r.state("gone@example.com"), RecipientState::Bounced);
    assert!(
        !r.delivery().attempts[0]
            .transaction
            .as_ref()
            .unwrap()
            .pipelined
    );
}

#[test]
fn every_rcpt_refused_means_no_data() {
    let mut setup = Setup::new();
    setup.mx1 = setup.mx1.with_script(TransactionScript {
        rcpt: [("b@example.com".to_string(), "550 5.1.1 gone".to_string())].into(),
        ..TransactionScript::default()
    });
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert!(!setup
        .mx1
        .mailbox
        .commands()
        .iter()
        .any(|(c, _)| c.starts_with("DATA") || c.starts_with("BDAT")));
}

#[test]
fn requiretls_offered() {
    let mut setup = Setup::new();
    setup.mx1 = setup.mx1.with_keywords(&["REQUIRETLS"]);
    let mut cfg = config(&["b@example.com"]);
    cfg.requiretls = true;
    let r = run(setup.world(), cfg, SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    let stored = setup.mx1.mailbox.stored();
    assert!(
        stored[0].mail.ends_with(" REQUIRETLS"),
        "{}",
        stored[0].mail
    );
}

#[test]
fn requiretls_not_offered_bounces_5_7_30_unsent() {
    let setup = Setup::new();
    let mut cfg = config(&["b@example.com"]);
    cfg.requiretls = true;
    let r = run(setup.world(), cfg, SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.7.30");
    assert!(setup.mx1.mailbox.commands().is_empty());
}

#[test]
fn requiretls_on_an_insecure_mx_bounces_without_connecting() {
    let mut setup = Setup::new();
    setup.mx_status = Status::Insecure;
    setup.mx1 = setup.mx1.with_keywords(&["REQUIRETLS"]);
    let mut cfg = config(&["b@example.com"]);
    cfg.requiretls = true;
    let r = run(setup.world(), cfg, SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.7.30");
    assert!(r.delivery().attempts.is_empty());
    assert!(setup.mx1.mailbox.commands().is_empty());

    // Without REQUIRETLS the same insecure MX gets the mail (a match is only 'trusted').
    let mut setup = Setup::new();
    setup.mx_status = Status::Insecure;
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    assert_eq!(r.delivery().attempts[0].verdict, ConnectionVerdict::Trusted);
}

#[test]
fn tls_required_no_is_ignored_under_requiretls() {
    let waived = b"TLS-Required: No\r\nSubject: hi\r\n\r\nHello.\r\n";
    let mut setup = Setup::new();
    setup.mx1_tlsa_wrong = true;
    setup.mx1 = setup.mx1.with_keywords(&["REQUIRETLS"]);
    let mut cfg = config(&["b@example.com"]);
    cfg.requiretls = true;
    let r = run(setup.world(), cfg, waived);
    assert_eq!(
        r.delivery().requirements.waiver,
        Waiver::IgnoredForRequireTls
    );
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.7.30");
    assert!(setup.mx1.mailbox.commands().is_empty());

    // --require-dane overrides it too: the mismatch defers, nothing is sent.
    let mut setup = Setup::new();
    setup.mx1_tlsa_wrong = true;
    let mut cfg = config(&["b@example.com"]);
    cfg.check.require_dane = true;
    let r = run(setup.world(), cfg, waived);
    assert_eq!(
        r.delivery().requirements.waiver,
        Waiver::OverriddenByRequireDane
    );
    assert_eq!(r.state("b@example.com"), RecipientState::Deferred);
    assert!(setup.mx1.mailbox.commands().is_empty());
}

#[test]
fn require_dane_skips_hosts_without_dane() {
    let mut setup = Setup::new();
    setup.mx_status = Status::Insecure;
    let mut cfg = config(&["b@example.com"]);
    cfg.check.require_dane = true;
    let r = run(setup.world(), cfg, SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Deferred);
    assert!(r.delivery().attempts.is_empty());
    assert!(setup.mx1.mailbox.commands().is_empty());
}

#[test]
fn trace_adds_transmitted_with_the_tlsa_marker() {
    let setup = Setup::new();
    let mut cfg = config(&["b@example.com"]);
    cfg.trace = true;
    let r = run(setup.world(), cfg, SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Delivered);
    let data = setup.mx1.mailbox.stored()[0].data.clone();
    let text = String::from_utf8(data).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("Transmitted: from client.example.org by mx1.example.net (checked mx1.example.net; TLSv1.3 "), "{first}");
    assert!(first.contains(" with ESMTPS+TLSA; "), "{first}");
    assert!(text.ends_with(std::str::from_utf8(SIMPLE).unwrap()));
}

#[test]
fn nxdomain_and_null_mx_bounce() {
    let world = World::builder()
        .zone("example.com", Status::Secure)
        .null_mx("example.com")
        .build();
    let r = run(world, config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Bounced);
    assert_eq!(r.delivery().recipients[0].status, "5.1.10");
}

/// A 421 in the middle of a transaction (RFC 5321 sec. 3.8) is the answer to the command in
/// flight: the recipient is deferred with the server's own code and text, and nothing more
/// is sent on that channel.
#[test]
fn a_421_during_the_transaction_reaches_the_recipient() {
    let mut setup = Setup::new();
    setup.mx1 = setup.mx1.with_script(TransactionScript {
        rcpt: [(
            "b@example.com".to_string(),
            "421 4.3.2 shutting down".to_string(),
        )]
        .into(),
        ..TransactionScript::default()
    });
    let r = run(setup.world(), config(&["b@example.com"]), SIMPLE);
    assert_eq!(r.state("b@example.com"), RecipientState::Deferred);
    let rcpt = &r.delivery().recipients[0];
    assert_eq!(rcpt.status, "4.3.2", "{rcpt:?}");
    assert!(rcpt.from_server, "{rcpt:?}");
    assert!(
        rcpt.diagnostic.contains("421 4.3.2 shutting down"),
        "{rcpt:?}"
    );
    assert_eq!(setup.mx1.mailbox.stored().len(), 0);
}
