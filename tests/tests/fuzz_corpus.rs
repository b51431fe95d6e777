//! The fuzz corpora (`fuzz/corpus/<target>/`) replayed through the same entry points the
//! cargo-fuzz targets call, as ordinary tests on stable (STYLE-ANCHORS section 3.9). Crashes
//! found by fuzzing are kept in the corpus as regression inputs. Each target keeps at least
//! its minimum number of inputs, so a corpus that vanishes fails the test.
//!
//! `DANEEL_WRITE_SEEDS=1 cargo test -p daneel --test fuzz_corpus` (re)writes the seed
//! inputs derived from the simulated world's transcripts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use daneel_core::dane::TlsaRecord;
use daneel_core::fuzzing::smtp_check::{FuzzOp, FuzzRecord, NAMES};
use daneel_core::fuzzing::{
    dane_verify, delivery, dns_answer, dnssec_answer, imap_response, mua_check, pop3_response,
    scan, smtp_check, smtp_reply, smtp_session, tlsa_text, tlsrpt, transcript as transcript_target,
};
use daneel_core::tls::TlsFailureKind;
use daneel_core::transcript::{Event, Recorder, Transcript};
use daneel_core::MachineConfig;
use daneel_core::{OwnedInput, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{self, Scenario, SIM_RESOLVER, SIM_START};
use daneel_tests::world::mua::{self as mua_catalogue, MuaScenario};
use daneel_tests::world::World;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// A fuzz target: its name, its entry point, and the fewest inputs its corpus may hold.
struct Target {
    name: &'static str,
    run: fn(&[u8]),
    min_inputs: usize,
}

/// Every target of `fuzz/Cargo.toml`. The minimums are what the corpora hold: the seeds
/// `write_seeds` derives from the catalogue's transcripts plus the kept crash inputs.
const TARGETS: [Target; 14] = [
    Target {
        name: "smtp_reply",
        run: smtp_reply::run,
        min_inputs: MIN_SMTP_REPLY,
    },
    Target {
        name: "smtp_session",
        run: smtp_session::run,
        min_inputs: MIN_SMTP_SESSION,
    },
    Target {
        name: "dns_answer",
        run: dns_answer::run,
        min_inputs: MIN_DNS_ANSWER,
    },
    Target {
        name: "smtp_check",
        run: smtp_check::run,
        min_inputs: MIN_SMTP_CHECK,
    },
    Target {
        name: "delivery",
        run: delivery::run,
        min_inputs: MIN_DELIVERY,
    },
    Target {
        name: "dane_verify",
        run: dane_verify::run,
        min_inputs: MIN_DANE_VERIFY,
    },
    Target {
        name: "tlsa_text",
        run: tlsa_text::run,
        min_inputs: MIN_TLSA_TEXT,
    },
    Target {
        name: "mua_check",
        run: mua_check::run,
        min_inputs: MIN_MUA_CHECK,
    },
    Target {
        name: "imap_response",
        run: imap_response::run,
        min_inputs: IMAP_SERVERS.len(),
    },
    Target {
        name: "pop3_response",
        run: pop3_response::run,
        min_inputs: POP3_SERVERS.len(),
    },
    Target {
        name: "tlsrpt",
        run: tlsrpt::run,
        min_inputs: MIN_TLSRPT,
    },
    Target {
        name: "dnssec_answer",
        run: dnssec_answer::run,
        min_inputs: MIN_DNSSEC_ANSWER,
    },
    Target {
        name: "transcript",
        run: transcript_target::run,
        min_inputs: MIN_TRANSCRIPT,
    },
    Target {
        name: "scan",
        run: scan::run,
        min_inputs: MIN_SCAN,
    },
];

/// Every target's corpus holds at least this many inputs (issue 16).
const MIN_SEEDS: usize = 10;

/// `tlsrpt` seeds (issue 11): TXT records good and bad, an RFC 8460 report, an array of
/// them (what `daneel tlsrpt merge` prints), a range that ends before it starts, counts that
/// overflow when merged. The catalogue's transcripts are seeds too (`write_seeds`).
const TLSRPT_SEEDS: [&str; 10] = [
    "v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
    "v=TLSRPTv1;rua=https://reports.example.com/v1,mailto:a@example.net; ext=1;",
    "v=TLSRPTv10; rua=mailto:tlsrpt@example.com",
    "v=TLSRPTv1; rua=ftp://example.com/",
    "v=TLSRPTv1",
    TLSRPT_REPORT,
    concat!("[", tlsrpt_report!("2027-01-15T08:00:00Z", 2), "]"),
    tlsrpt_report!("2027-01-15T08:00:00Z", 18446744073709551615),
    concat!(
        "[",
        tlsrpt_report!("2027-01-15T08:00:00Z", 18446744073709551615),
        ",",
        tlsrpt_report!("2027-01-16T08:00:00Z", 1),
        "]"
    ),
    tlsrpt_report!("2026-01-15T08:00:00Z", 1),
];

/// An RFC 8460 report of example.com starting at `$start` (ending 2027-01-15T08:01:00Z) with
/// `$failures` failed sessions.
macro_rules! tlsrpt_report {
    ($start:literal, $failures:literal) => {
        concat!(
            r#"{"organization-name":"Example","date-range":{"start-datetime":""#,
            $start,
            r#"","end-datetime":"2027-01-15T08:01:00Z"},"contact-info":"mailto:r@example.net","report-id":"1","policies":[{"policy":{"policy-type":"tlsa","policy-string":["3 1 1 abab"],"policy-domain":"Example.com","mx-host":["mx1.example.com"]},"summary":{"total-successful-session-count":1,"total-failure-session-count":"#,
            stringify!($failures),
            r#"},"failure-details":[{"result-type":"validation-failure","receiving-mx-hostname":"mx1.example.com","receiving-ip":"192.0.2.11","failed-session-count":"#,
            stringify!($failures),
            r#"}]}]}"#
        )
    };
}
use tlsrpt_report;

/// [`tlsrpt_report!`] as the first report seed.
const TLSRPT_REPORT: &str = tlsrpt_report!("2027-01-15T08:00:00Z", 2);

/// IMAP servers as `imap_response` seeds (issue 10): STARTTLS good, stripped, PREAUTH,
/// refused, an absurd literal, a line without end, capabilities in the greeting, a BYE
/// greeting, a tagged BAD to STARTTLS, a reply split mid-line, untagged noise before the
/// tagged reply, a continuation request.
const IMAP_SERVERS: [&[&[u8]]; 12] = [
    &[
        b"* OK ready\r\n",
        b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n",
        b"a2 OK Begin TLS\r\n",
        b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na3 OK done\r\n",
        b"* BYE\r\na OK LOGOUT\r\n",
    ],
    &[
        b"* OK ready\r\n",
        b"* CAPABILITY IMAP4rev1\r\na1 OK done\r\n",
    ],
    &[
        b"* PREAUTH logged in\r\n",
        b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n",
        b"a2 OK Begin TLS\r\n",
    ],
    &[
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
        b"a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done\r\n",
        b"a2 NO not now\r\n",
    ],
    &[
        b"* OK ready\r\n",
        b"* CAPABILITY {18446744073709551615}\r\n",
    ],
    &[b"* OK ready\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS"],
    &[
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
        b"a1 OK Begin TLS\r\n",
        b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK done\r\n",
    ],
    &[b"* BYE going away\r\n"],
    &[
        b"* OK ready\r\n",
        b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n",
        b"a2 BAD unknown command\r\n",
    ],
    &[
        b"* OK rea",
        b"dy\r\n* CAPABILITY IMAP4rev1 STA",
        b"RTTLS\r\na1 OK do",
        b"ne\r\n",
        b"a2 OK Begin TLS\r\n",
    ],
    &[
        b"* OK ready\r\n",
        b"* 1 EXISTS\r\n* FLAGS (\\Seen)\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n",
        b"* NO warning\r\na2 OK Begin TLS\r\n",
    ],
    &[b"* OK ready\r\n", b"+ go ahead\r\n", b"a1 NO no\r\n"],
];

/// POP3 servers as `pop3_response` seeds: STLS good, stripped, refused, a multi-line
/// response without its end, CAPA refused, a greeting with an APOP stamp, a dot-stuffed
/// capability, replies split mid-line, an -ERR greeting, a line without end.
const POP3_SERVERS: [&[&[u8]]; 10] = [
    &[
        b"+OK ready\r\n",
        b"+OK\r\nUSER\r\nSTLS\r\n.\r\n",
        b"+OK Begin TLS\r\n",
        b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
        b"+OK bye\r\n",
    ],
    &[b"+OK ready\r\n", b"+OK\r\nUSER\r\n.\r\n"],
    &[
        b"+OK ready\r\n",
        b"+OK\r\nSTLS\r\n.\r\n",
        b"-ERR no TLS\r\n",
    ],
    &[b"+OK ready\r\n", b"+OK\r\nUSER\r\nSTLS\r\n"],
    &[b"+OK ready\r\n", b"-ERR unknown command\r\n"],
    &[
        b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n",
        b"+OK\r\nSTLS\r\nIMPLEMENTATION x\r\n.\r\n",
        b"+OK Begin TLS\r\n",
        b"+OK\r\nUSER\r\n.\r\n",
    ],
    &[
        b"+OK ready\r\n",
        b"+OK\r\n..STLS\r\nSTLS\r\n.\r\n",
        b"+OK go\r\n",
    ],
    &[
        b"+OK rea",
        b"dy\r\n+OK\r\nST",
        b"LS\r\n.",
        b"\r\n",
        b"+OK Begin TLS\r\n",
    ],
    &[b"-ERR go away\r\n"],
    &[b"+OK ready"],
];

// What each corpus holds after `fuzz/cmin.sh` (issue 16): the seeds that add coverage, and
// the regression inputs. A corpus that loses inputs fails the test; after the seeds change,
// regenerate, minimise, and set these to what is left (at least MIN_SEEDS each).
const MIN_SMTP_REPLY: usize = 19;
const MIN_SMTP_SESSION: usize = 17;
const MIN_DNS_ANSWER: usize = 10;
const MIN_SMTP_CHECK: usize = 64;
const MIN_DANE_VERIFY: usize = 28;
const MIN_TLSA_TEXT: usize = 14;
const MIN_MUA_CHECK: usize = 25;
const MIN_DELIVERY: usize = 16;
const MIN_TRANSCRIPT: usize = 56;
const MIN_SCAN: usize = 58;
const MIN_TLSRPT: usize = 42;
const MIN_DNSSEC_ANSWER: usize = 79;

/// Most seeds written per target.
const MAX_SEEDS: usize = 64;

/// Largest seed written: the flooding servers' transcripts (hundreds of megabytes) are left
/// out; libFuzzer grows inputs to a few kilobytes anyway.
const MAX_SEED_BYTES: usize = 64 * 1024;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The transcript of `s` checked in the simulated world.
fn transcript(s: &Scenario) -> Transcript {
    record(
        &s.world,
        s.config(SIM_RESOLVER).into(),
        SIM_START,
        smtp_check::SEED,
    )
}

/// The transcript of the check `config` in `world`, with `seed` (the harnesses' seed, the
/// same for `smtp_check` and `mua_check`, or that of a scan's check), started at `start`.
fn record(
    world: &daneel_tests::world::World,
    config: MachineConfig,
    start: daneel_core::Timestamp,
    seed: Seed,
) -> Transcript {
    let recorder = Recorder::new(config, seed, start).unwrap();
    let recorder = std::rc::Rc::new(std::cell::RefCell::new(recorder));
    struct Shared(std::rc::Rc<std::cell::RefCell<Recorder>>);
    impl daneel_core::Machine for Shared {
        fn handle_input(
            &mut self,
            now: daneel_core::Timestamp,
            input: daneel_core::Input<'_>,
        ) -> Result<(), daneel_core::UsageError> {
            self.0.borrow_mut().handle_input(now, input)
        }
        fn poll_output(&mut self, now: daneel_core::Timestamp) -> daneel_core::Output {
            self.0.borrow_mut().poll_output(now)
        }
    }
    let mut sim = Sim::new(world.clone(), Box::new(Shared(recorder.clone())), start);
    sim.run_bounded(10_000).unwrap();
    let transcript = recorder.borrow().transcript().clone();
    transcript
}

/// The inputs of a transcript, in order.
fn inputs(t: &Transcript) -> impl Iterator<Item = &OwnedInput> {
    t.events.iter().filter_map(|e| match e {
        Event::Input { input, .. } => Some(input),
        Event::Output { .. } => None,
    })
}

/// The TLSA records in a transcript's DNS answers, as (usage, selector, matching, data).
fn tlsa_records(t: &Transcript) -> Vec<(u8, u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    for input in inputs(t) {
        let OwnedInput::DnsAnswer { wire, .. } = input else {
            continue;
        };
        let Ok(m) = Message::from_vec(wire) else {
            continue;
        };
        for r in &m.answers {
            if let RData::TLSA(t) = &r.data {
                let record = (
                    u8::from(t.cert_usage),
                    u8::from(t.selector),
                    u8::from(t.matching),
                    t.cert_data.clone(),
                );
                if !out.contains(&record) {
                    out.push(record);
                }
            }
        }
    }
    out
}

/// `smtp_check` seed: the destination and the transcript's inputs as the harness's steps
/// ([`harness_ops`]); the destination's name is `NAMES[0]`.
fn smtp_check_seed(s: &Scenario, t: &Transcript) -> Vec<u8> {
    let destination = match s.destination.strip_prefix('[') {
        None => 0,
        Some(rest)
            if rest
                .split(']')
                .next()
                .is_some_and(|h| h.parse::<std::net::IpAddr>().is_ok()) =>
        {
            3
        }
        Some(rest) if rest.contains("]:") => 2,
        Some(_) => 1,
    };
    let domain = format!("{}.", s.destination.trim_end_matches('.'));
    smtp_check::seed(destination, &harness_ops(t, &domain, NAMES.len()))
}

/// `mua_check` seed: the service set and the transcript's inputs as the harness's steps.
fn mua_check_seed(s: &MuaScenario, t: &Transcript) -> Vec<u8> {
    let domain = format!("{}.", mua_catalogue::DOMAIN);
    let ops = harness_ops(t, &domain, mua_check::NAMES.len());
    mua_check::seed(mua_check::service_set(&s.services), &ops)
}

/// A transcript's inputs as the whole-check harnesses' steps. Queries and connections are
/// numbered from 0 in the order the check issues them, in the transcript as in the harness,
/// so the ids pick the same pending query or connection as long as the harness's check asks
/// what the recorded one asked. Names map to the harness's name table of `names` entries:
/// `domain` to 0, the root to 4, other names to the rest in order of appearance. SRV records
/// become the harness's MX choice (priority and weight in its two bytes). The recorder runs
/// with the harness's seed, so the harness's DNS message ids are the recorded ones.
fn harness_ops(t: &Transcript, domain: &str, names: usize) -> Vec<FuzzOp> {
    harness_ops_of(inputs(t), domain, names)
}

/// [`harness_ops`] of a sequence of inputs.
fn harness_ops_of<'a>(
    inputs: impl Iterator<Item = &'a OwnedInput>,
    domain: &str,
    names: usize,
) -> Vec<FuzzOp> {
    let mut map: BTreeMap<String, u8> = BTreeMap::new();
    map.insert(domain.to_ascii_lowercase(), 0);
    map.insert(".".into(), 4);
    let spare: Vec<u8> = (0..names as u8).filter(|i| ![0, 4].contains(i)).collect();
    let mut name_index = |n: &Name| {
        let next = spare[map.len().saturating_sub(2) % spare.len()];
        *map.entry(n.to_ascii().to_ascii_lowercase()).or_insert(next)
    };
    let id = |n: u32| n as u8;
    let mut ops = Vec::new();
    for input in inputs {
        ops.push(match input {
            OwnedInput::DnsAnswer { query, wire, .. } => match Message::from_vec(wire) {
                // The resolver probe (the root DNSKEY) has no structured form in the harness;
                // the recorded bytes fit its query as they are (same question, and the same
                // message id from the same seed).
                Ok(m)
                    if m.queries
                        .first()
                        .is_some_and(|q| q.query_type() == RecordType::DNSKEY) =>
                {
                    FuzzOp::RawAnswer(id(query.0), wire.clone())
                }
                Ok(m) => FuzzOp::Answer {
                    pick: id(query.0),
                    ad: m.metadata.authentic_data,
                    rcode: match m.metadata.response_code {
                        ResponseCode::NoError => 0,
                        ResponseCode::NXDomain => 1,
                        ResponseCode::ServFail => 2,
                        _ => 3,
                    },
                    tc: m.metadata.truncation,
                    records: m
                        .answers
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::MX(mx) => {
                                Some(FuzzRecord::Mx(mx.preference, name_index(&mx.exchange)))
                            }
                            RData::SRV(srv) => Some(FuzzRecord::Mx(
                                (srv.priority.min(255) << 8) | srv.weight.min(255),
                                name_index(&srv.target),
                            )),
                            RData::A(a) => Some(FuzzRecord::A(a.0.octets())),
                            RData::AAAA(a) => Some(FuzzRecord::Aaaa(a.0.octets())),
                            RData::CNAME(c) => Some(FuzzRecord::Cname(name_index(&c.0))),
                            RData::TLSA(t) => Some(FuzzRecord::Tlsa(
                                u8::from(t.cert_usage),
                                u8::from(t.selector),
                                u8::from(t.matching),
                                t.cert_data.clone(),
                            )),
                            _ => None,
                        })
                        .collect(),
                },
                Err(_) => FuzzOp::RawAnswer(id(query.0), wire.clone()),
            },
            OwnedInput::DnsFailed { query, .. } => FuzzOp::DnsFailed(id(query.0)),
            OwnedInput::Connected { conn } => FuzzOp::Connected(id(conn.0)),
            OwnedInput::ConnectQueued { conn } => FuzzOp::ConnectQueued(id(conn.0)),
            OwnedInput::Connecting { conn } => FuzzOp::Connecting(id(conn.0)),
            OwnedInput::ConnectFailed { conn, .. } => FuzzOp::ConnectFailed(id(conn.0)),
            OwnedInput::Received { conn, bytes } => FuzzOp::Received(id(conn.0), bytes.clone()),
            OwnedInput::TlsEstablished { conn, info } => {
                FuzzOp::TlsEstablished(id(conn.0), info.chain.clone())
            }
            OwnedInput::TlsFailed { conn, error } => {
                FuzzOp::TlsFailed(id(conn.0), error.kind == TlsFailureKind::ClientUnsupported)
            }
            OwnedInput::Closed { conn } => FuzzOp::Closed(id(conn.0)),
            OwnedInput::Timeout => FuzzOp::Timeout,
            // Inputs the harness has no step for (`Abort`).
            _ => continue,
        });
    }
    ops
}

/// `smtp_session` seeds: each connection of a transcript as the harness's script (see
/// `daneel_core::fuzzing::smtp_session`): opcode and argument bytes, received bytes in
/// chunks of at most 63, the trust decision accepted when the server spoke after the
/// handshake. Connections that never connected are left out.
fn smtp_session_seeds(t: &Transcript) -> Vec<Vec<u8>> {
    /// One connection's script so far.
    #[derive(Default)]
    struct Script {
        ops: Vec<u8>,
        started_tls: bool,
        awaiting_trust: bool,
        connect_failed: bool,
    }
    let mut scripts: BTreeMap<u32, Script> = BTreeMap::new();
    for input in inputs(t) {
        let conn = match input {
            OwnedInput::Connected { conn }
            | OwnedInput::ConnectFailed { conn, .. }
            | OwnedInput::Received { conn, .. }
            | OwnedInput::TlsEstablished { conn, .. }
            | OwnedInput::TlsFailed { conn, .. }
            | OwnedInput::Closed { conn } => *conn,
            _ => continue,
        };
        let script = scripts.entry(conn.0).or_default();
        match input {
            OwnedInput::Connected { .. } => script.ops.extend([0, 0]),
            OwnedInput::ConnectFailed { .. } => script.connect_failed = true,
            OwnedInput::Received { bytes, .. } => {
                if script.awaiting_trust {
                    // The server answered the second EHLO: the check accepted the chain.
                    script.ops.extend([5, 1]);
                    script.awaiting_trust = false;
                }
                for chunk in bytes.chunks(63) {
                    script.ops.extend([1, chunk.len() as u8]);
                    script.ops.extend_from_slice(chunk);
                }
            }
            OwnedInput::TlsEstablished { .. } => {
                script.ops.extend([3, 0]);
                script.started_tls = true;
                script.awaiting_trust = true;
            }
            OwnedInput::TlsFailed { .. } => script.ops.extend([4, 0]),
            OwnedInput::Closed { .. } => script.ops.extend([6, 0]),
            _ => {}
        }
    }
    scripts
        .into_values()
        .filter(|s| !s.connect_failed)
        // First byte: TLS required (even) unless the connection never started TLS.
        .map(|s| [vec![u8::from(!s.started_tls)], s.ops].concat())
        .collect()
}

/// Seeds from the catalogue's transcripts: every server byte string (smtp_reply), every DNS
/// answer (dns_answer, with the "splice the question" mode byte), every connection
/// (smtp_session), every whole check (smtp_check), every presented chain against the TLSA
/// records of its check (dane_verify), every TLSA record as text and RDATA (tlsa_text).
fn write_seeds() {
    let mut seeds: BTreeMap<&str, BTreeSet<Vec<u8>>> = BTreeMap::new();
    // `transcript` seeds by kind: files as text, recorded SMTP and MUA cases.
    let (mut texts, mut smtp_cases, mut mua_cases) = (Vec::new(), Vec::new(), Vec::new());
    for (i, s) in catalogue::all().into_iter().enumerate() {
        let t = transcript(&s);
        let tlsa = tlsa_records(&t);
        texts.push(transcript_target::text_seed(&t.to_json_lines()));
        // A check's transcript is a `daneel tlsrpt merge` input (RFC 8460 results of a check);
        // the first 40 leave room under MAX_SEEDS for the hand-written seeds, which sort after.
        if i < 40 {
            seeds
                .entry("tlsrpt")
                .or_default()
                .insert(t.to_json_lines().into_bytes());
        }
        let smtp = smtp_check_seed(&s, &t);
        smtp_cases.push([&[transcript_target::SMTP][..], &smtp].concat());
        if !s.destination.starts_with('[') {
            seeds.entry("scan").or_default().insert(scan_seed(&s, i));
        }
        for input in inputs(&t) {
            match input {
                OwnedInput::Received { bytes, .. } => {
                    seeds
                        .entry("smtp_reply")
                        .or_default()
                        .insert([vec![16u8], bytes.clone()].concat());
                }
                OwnedInput::DnsAnswer { wire, .. } => {
                    seeds
                        .entry("dns_answer")
                        .or_default()
                        .insert([vec![1u8], wire.clone()].concat());
                }
                OwnedInput::TlsEstablished { info, .. } => {
                    let records: Vec<_> = tlsa.iter().take(8).cloned().collect();
                    let now = SIM_START.as_unix_secs();
                    seeds
                        .entry("dane_verify")
                        .or_default()
                        .insert(dane_verify::seed(&info.chain, &records, now));
                }
                _ => {}
            }
        }
        seeds
            .entry("smtp_session")
            .or_default()
            .extend(smtp_session_seeds(&t));
        seeds
            .entry("smtp_check")
            .or_default()
            .insert(smtp_check_seed(&s, &t));
        for (usage, selector, matching, data) in tlsa {
            let record = TlsaRecord {
                usage,
                selector,
                matching,
                data,
            };
            let texts = seeds.entry("tlsa_text").or_default();
            texts.insert(record.to_text().into_bytes());
            texts.insert(record.to_rdata());
        }
    }
    for s in mua_catalogue::all() {
        let t = record(
            &s.world,
            s.config(mua_catalogue::SIM_RESOLVER).into(),
            mua_catalogue::SIM_START,
            smtp_check::SEED,
        );
        texts.push(transcript_target::text_seed(&t.to_json_lines()));
        let mua = mua_check_seed(&s, &t);
        mua_cases.push([&[transcript_target::MUA][..], &mua].concat());
        seeds.entry("mua_check").or_default().insert(mua);
    }
    seeds
        .entry("transcript")
        .or_default()
        .extend(transcript_seeds(texts, smtp_cases, mua_cases));
    for (target, servers) in [
        ("imap_response", &IMAP_SERVERS[..]),
        ("pop3_response", &POP3_SERVERS[..]),
    ] {
        let scripts = servers.iter().map(|pieces| imap_response::script(pieces));
        seeds.entry(target).or_default().extend(scripts);
    }
    seeds
        .entry("tlsrpt")
        .or_default()
        .extend(TLSRPT_SEEDS.iter().map(|s| s.as_bytes().to_vec()));
    seeds
        .entry("dnssec_answer")
        .or_default()
        .extend(dnssec_answer::seeds());
    let texts = seeds.entry("tlsa_text").or_default();
    for text in [
        &b"3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"[..],
        b"DANE-TA Cert SHA2-512 00",
        b"_25._tcp.mx.example.com. 3600 IN TLSA ( 2 0 1\n ab cd ) ; comment",
        &[3, 1, 1, 0xab, 0xcd],
        // RFC 7218 mnemonics of every field, the private ones, RFC 3597 generic syntax, and
        // values and digits the parser must refuse.
        b"PKIX-TA Cert Full 3082",
        b"PKIX-EE SPKI SHA2-256 AbCd",
        b"PrivCert PrivSel PrivMatch 00",
        b"\\# 5 0301010001",
        b"256 1 1 00",
        b"3 1 1 0g",
        b"3 1 1 abc",
        &[255, 255, 255],
    ] {
        texts.insert(text.to_vec());
    }
    seeds
        .entry("delivery")
        .or_default()
        .extend(delivery_seeds());
    // DANEEL_WRITE_SEEDS=1 writes every target's seeds; =TARGET only that target's.
    let only = std::env::var("DANEEL_WRITE_SEEDS").unwrap_or_default();
    for (target, items) in seeds {
        if only != "1" && only != target {
            continue;
        }
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        let small = items.iter().filter(|item| item.len() <= MAX_SEED_BYTES);
        for (i, item) in small.enumerate().take(MAX_SEEDS) {
            fs::write(dir.join(format!("seed-{i:03}")), item).unwrap();
        }
    }
    // Beside the capped seeds: checks that validate in the core (`--dnssec auto` with a
    // resolver that only serves DNSSEC data).
    if only == "1" || only == "smtp_check" {
        let dir = corpus_dir("smtp_check");
        let domains = catalogue::all()
            .into_iter()
            .filter(|s| !s.destination.starts_with('['));
        for (i, s) in domains.take(6).enumerate() {
            fs::write(dir.join(format!("validate-{i:03}")), validate_mode_seed(&s)).unwrap();
        }
    }
}

/// `scan` seeds: the `i`-th catalogue scenario `s` (a domain) recorded with the seed of a
/// scan's first check, as the steps of a scan of one domain (every seventh of two, from a
/// source that is not ready before each domain), under limits that vary with `i` (none, one
/// check at a time, one connection per address, a one-answer cache).
fn scan_seed(s: &Scenario, i: usize) -> Vec<u8> {
    let t = record(
        &s.world,
        s.config(SIM_RESOLVER).into(),
        SIM_START,
        scan::check_seed(0),
    );
    let domain = format!("{}.", s.destination.trim_end_matches('.'));
    let ops = harness_ops(&t, &domain, scan::NAMES.len());
    // Two-domain seeds take their domains from a source that is not ready before each one.
    let (domains, source) = if i % 7 == 3 { (1, 16) } else { (0, 0) };
    scan::seed(domains, [0, 1, 2, 4][i % 4] | source, &ops)
}

/// `transcript` seeds: some of the world's transcripts as files (`texts`), the older formats'
/// fixtures (re-decided), and recorded SMTP and MUA cases; at most [`MAX_SEEDS`] in all.
/// Deliveries have no transcript format (`MachineConfig` names checks only).
fn transcript_seeds(texts: Vec<Vec<u8>>, smtp: Vec<Vec<u8>>, mua: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut older: Vec<PathBuf> = ["transcripts-v1", "transcripts-v2", "transcripts-validate"]
        .iter()
        .flat_map(|d| fs::read_dir(fixtures.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    older.sort();
    let older = older
        .iter()
        .map(|p| transcript_target::text_seed(&fs::read_to_string(p).unwrap()));
    // Every n-th of each kind, for variety.
    let some = |items: Vec<Vec<u8>>, n: usize| {
        let small: Vec<Vec<u8>> = items
            .into_iter()
            .filter(|i| i.len() <= MAX_SEED_BYTES)
            .collect();
        let step = small.len().div_ceil(n).max(1);
        small.into_iter().step_by(step).collect::<Vec<_>>()
    };
    let mut out = some(texts, 20);
    out.extend(older.take(16));
    out.extend(some(smtp, 14));
    out.extend(some(mua, 12));
    out
}

/// The inputs a `Delivery` got in `world`, run with the `delivery` harness's configuration
/// for `flags`, its message and its seed.
fn delivery_inputs(world: &World, flags: u8) -> Vec<OwnedInput> {
    use daneel_core::{Input, Machine, Output, Timestamp, UsageError};
    use std::cell::RefCell;
    use std::rc::Rc;
    struct Tap(
        daneel_core::delivery::Delivery,
        Rc<RefCell<Vec<OwnedInput>>>,
    );
    impl Machine for Tap {
        fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
            self.1.borrow_mut().push(input.to_owned_input());
            self.0.handle_input(now, input)
        }
        fn poll_output(&mut self, now: Timestamp) -> Output {
            self.0.poll_output(now)
        }
    }
    let d = daneel_core::delivery::Delivery::new(
        delivery::config(flags, SIM_RESOLVER),
        delivery::message(flags),
        smtp_check::SEED,
        delivery::START,
    )
    .unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::new(
        world.clone(),
        Box::new(Tap(d, log.clone())),
        delivery::START,
    );
    sim.run_bounded(100_000).unwrap();
    let inputs = log.borrow().clone();
    inputs
}

/// `delivery` seeds: deliveries in small worlds (DANE, TLSA mismatch, waiver, REQUIRETLS
/// offered or not, insecure MX, 4xx then the next MX, per-recipient rejections, no
/// PIPELINING, CHUNKING), as the harness's steps.
fn delivery_seeds() -> Vec<Vec<u8>> {
    use daneel_tests::world::certs::{self_signed, server_tls, tlsa};
    use daneel_tests::world::{MailServer, Status, TransactionScript};
    use std::net::Ipv4Addr;
    let a = self_signed(&["mx1.example.net"]);
    let b = self_signed(&["mx2.example.net"]);
    let other = self_signed(&["mx1.example.net"]);
    let world = |mx: Status, wrong: bool, mx1: MailServer, two: bool| {
        let mut w = World::builder()
            .zone("example.com", mx)
            .zone("example.net", Status::Secure)
            .mx("example.com", 10, "mx1.example.net")
            .a("mx1.example.net", Ipv4Addr::new(192, 0, 2, 11))
            .tlsa_for(
                "mx1.example.net",
                &tlsa(3, 1, 1, if wrong { &other } else { &a }),
            )
            .server(
                "192.0.2.11".parse().unwrap(),
                mx1.with_tls(server_tls(&[&a])),
            );
        if two {
            w = w
                .mx("example.com", 20, "mx2.example.net")
                .a("mx2.example.net", Ipv4Addr::new(192, 0, 2, 12))
                .tlsa_for("mx2.example.net", &tlsa(3, 1, 1, &b))
                .server(
                    "192.0.2.12".parse().unwrap(),
                    MailServer::new("mx2.example.net").with_tls(server_tls(&[&b])),
                );
        }
        w.build()
    };
    let mx1 = || MailServer::new("mx1.example.net");
    let script = |mail: Option<&str>, rcpt: &[(&str, &str)]| TransactionScript {
        mail: mail.map(str::to_string),
        rcpt: rcpt
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect(),
        data: None,
    };
    use delivery::{REQUIRETLS, REQUIRE_DANE, TLS_REQUIRED_NO, TRACE};
    let cases: Vec<(u8, World)> = vec![
        (0, world(Status::Secure, false, mx1(), false)),
        (TRACE, world(Status::Secure, false, mx1(), false)),
        (0, world(Status::Secure, true, mx1(), false)),
        (
            TLS_REQUIRED_NO | TRACE,
            world(Status::Secure, true, mx1(), false),
        ),
        (
            TLS_REQUIRED_NO | REQUIRE_DANE,
            world(Status::Secure, true, mx1(), true),
        ),
        (
            REQUIRETLS,
            world(
                Status::Secure,
                false,
                mx1().with_keywords(&["REQUIRETLS"]),
                false,
            ),
        ),
        (REQUIRETLS, world(Status::Secure, false, mx1(), true)),
        (
            REQUIRETLS,
            world(
                Status::Insecure,
                false,
                mx1().with_keywords(&["REQUIRETLS"]),
                false,
            ),
        ),
        (
            REQUIRETLS | TLS_REQUIRED_NO,
            world(Status::Secure, true, mx1(), false),
        ),
        (
            0,
            world(
                Status::Secure,
                false,
                mx1().with_script(script(Some("451 4.3.0 later"), &[])),
                true,
            ),
        ),
        (
            0,
            world(
                Status::Secure,
                false,
                mx1().with_script(script(
                    None,
                    &[
                        ("a@example.com", "550 5.1.1 gone"),
                        ("b@example.com", "450 4.2.1 busy"),
                    ],
                )),
                true,
            ),
        ),
        (
            0,
            world(
                Status::Secure,
                false,
                mx1().without_keyword("PIPELINING"),
                false,
            ),
        ),
        (
            0,
            world(
                Status::Secure,
                false,
                mx1().with_keywords(&["CHUNKING"]),
                false,
            ),
        ),
        (0, world(Status::Insecure, false, mx1(), false)),
        (REQUIRE_DANE, world(Status::Insecure, false, mx1(), false)),
    ];
    cases
        .into_iter()
        .map(|(flags, w)| {
            let inputs = delivery_inputs(&w, flags);
            delivery::seed(
                flags,
                &harness_ops_of(inputs.iter(), "example.com.", NAMES.len()),
            )
        })
        .collect()
}

/// `scenario`'s transcript as `smtp_check` steps, with the AD bit of the resolver probe's
/// answer (the root DNSKEY) cleared: the resolver then only serves DNSSEC data, and the
/// check (`--dnssec auto`) validates in the core from the IANA root anchors.
fn validate_mode_seed(s: &Scenario) -> Vec<u8> {
    let mut t = transcript(s);
    for e in &mut t.events {
        if let Event::Input {
            input: OwnedInput::DnsAnswer { wire, .. },
            ..
        } = e
        {
            let probe = Message::from_vec(wire).is_ok_and(|m| {
                m.queries
                    .first()
                    .is_some_and(|q| q.query_type() == RecordType::DNSKEY)
            });
            if probe {
                wire[3] &= !0x20;
            }
        }
    }
    smtp_check_seed(s, &t)
}

/// The `smtp_check` driver reaches both DNSSEC modes: the catalogue's secure domains are
/// checked by AD bit as recorded, and validated in the core (never `Secure`: no fuzzed answer
/// is signed under the IANA root) once the probe's AD bit is cleared.
#[test]
fn smtp_check_reaches_validate_mode() {
    let mut validated = 0;
    for s in catalogue::all()
        .into_iter()
        .filter(|s| !s.destination.starts_with('['))
        .take(6)
    {
        let t = transcript(&s);
        let report = smtp_check::report_of(&smtp_check_seed(&s, &t));
        assert_eq!(report.resolver.mode, "ad-bit", "{}", s.destination);
        let report = smtp_check::report_of(&validate_mode_seed(&s));
        if report.resolver.mode == "validate" {
            validated += 1;
            assert!(report.resolver.validating, "{}", s.destination);
        }
    }
    assert!(
        validated >= 3,
        "{validated} of 6 checks validated in the core"
    );
}

/// A one-domain `scan` seed reaches the verdict its scenario's `smtp_check` seed reaches,
/// the scenario's own for the first twelve (verified, failed in several ways, no DANE): the
/// seeds drive the scan's check as deep as the check alone, through the scan's renamed ids.
#[test]
fn scan_seeds_reach_their_checks_verdicts() {
    let (mut compared, mut stuttered) = (0, 0);
    for (i, s) in catalogue::all().into_iter().enumerate() {
        if s.destination.starts_with('[') || compared == 12 {
            continue;
        }
        if i % 7 == 3 {
            // Two domains from a source that is not ready before each: both are checked.
            let results = scan::results_of(&scan_seed(&s, i));
            assert_eq!(results.len(), 2, "{}", s.id);
            assert!(results
                .iter()
                .all(|r| matches!(r.outcome, daneel_core::scan::ScanOutcome::Report(_))));
            stuttered += 1;
            continue;
        }
        let alone = smtp_check::report_of(&smtp_check_seed(&s, &transcript(&s)));
        let results = scan::results_of(&scan_seed(&s, i));
        let Some(daneel_core::scan::ScanOutcome::Report(report)) =
            results.first().map(|r| &r.outcome)
        else {
            panic!("{}: no report", s.id);
        };
        assert_eq!(report.verdict, alone.verdict, "{}", s.id);
        assert_eq!(report.verdict, s.expected.domain, "{}", s.id);
        compared += 1;
    }
    assert_eq!(compared, 12);
    assert!(
        stuttered >= 2,
        "{stuttered} seeds from a source that is not ready"
    );
}

/// The seeds reproduce the deliveries they were made from: the harness delivers where the
/// recording delivered (so the corpus reaches the transaction, not only the DNS).
#[test]
fn delivery_seeds_reach_the_transaction() {
    let seeds = delivery_seeds();
    assert!(seeds.len() >= 10);
    for seed in &seeds {
        delivery::run(seed);
    }
    let first = &seeds[0];
    let sends = delivery::sends_of(first);
    // The first 16 bytes of each write: MAIL, DATA, the message, after EHLO and STARTTLS.
    for head in [&b"MAIL FROM:<x@exa"[..], b"DATA\r\n", b"Subject: fuzz\r\n"] {
        assert!(sends.iter().any(|s| s.starts_with(head)), "{sends:?}");
    }
    // The oracle of issue 16 (no connection to a host whose lookups failed) fails on this
    // delivery once its host is taken for one of policy `skip`.
    let mut report = delivery::report_of(first);
    assert!(!report.hosts.is_empty());
    delivery::assert_no_attempt_on_skipped(&report);
    for host in &mut report.hosts {
        host.policy = daneel_core::report::HostPolicy::Skip;
    }
    let caught = std::panic::catch_unwind(|| delivery::assert_no_attempt_on_skipped(&report));
    assert!(
        caught.is_err(),
        "an attempt on a skipped host went unnoticed"
    );
    // Every connection the driver saw must be an attempt of the report: the oracle fails
    // once the report loses one, and once the host it went to is skipped.
    let (mut report, observed) = delivery::observed_of(first);
    assert!(!observed.conns.is_empty());
    delivery::assert_connects_attempted(&report, &observed);
    let mut skipped = report.clone();
    for host in &mut skipped.hosts {
        host.policy = daneel_core::report::HostPolicy::Skip;
    }
    let caught =
        std::panic::catch_unwind(|| delivery::assert_connects_attempted(&skipped, &observed));
    assert!(
        caught.is_err(),
        "a connection to a skipped host went unnoticed"
    );
    if let Some(d) = report.delivery.as_mut() {
        d.attempts.pop();
    }
    let caught =
        std::panic::catch_unwind(|| delivery::assert_connects_attempted(&report, &observed));
    assert!(
        caught.is_err(),
        "a connection the report omits went unnoticed"
    );
}

/// The files of `target`'s corpus, sorted; none if the directory is missing.
fn corpus(target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(target))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn fuzz_corpora_replay_without_findings() {
    if std::env::var_os("DANEEL_WRITE_SEEDS").is_some() {
        write_seeds();
    }
    let mut short = Vec::new();
    for target in &TARGETS {
        let files = corpus(target.name);
        for file in &files {
            let data = fs::read(file).unwrap();
            (target.run)(&data);
        }
        let min = target.min_inputs.max(MIN_SEEDS);
        if files.len() < min {
            short.push(format!(
                "{}: {} inputs, at least {min} expected",
                target.name,
                files.len(),
            ));
        }
    }
    assert!(
        short.is_empty(),
        "corpora below their minimum (DANEEL_WRITE_SEEDS=1 rewrites the seeds): {short:?}"
    );
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`.
fn fuzz_targets() -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml");
    let text = fs::read_to_string(manifest).unwrap();
    text.split("[[bin]]")
        .skip(1)
        .filter_map(|bin| {
            let line = bin.lines().find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_string())
        })
        .collect()
}

/// Every target of `fuzz/Cargo.toml` is run here, and its corpus holds at least
/// [`MIN_SEEDS`] inputs (a target without a corpus directory has none).
#[test]
fn every_fuzz_target_has_a_corpus() {
    if std::env::var_os("DANEEL_WRITE_SEEDS").is_some() {
        // The corpora are being written by the test next door, which checks them after.
        return;
    }
    let targets = fuzz_targets();
    assert!(targets.len() >= TARGETS.len(), "{targets:?}");
    for name in &targets {
        assert!(
            TARGETS.iter().any(|t| t.name == name),
            "fuzz target {name} is not replayed by this test"
        );
        let files = corpus(name).len();
        assert!(
            files >= MIN_SEEDS,
            "fuzz target {name}: {files} corpus inputs, at least {MIN_SEEDS} expected"
        );
    }
}

#[test]
fn fuzz_entry_points_survive_pseudo_random_inputs() {
    // A few thousand deterministic inputs per target, so the oracles run even without corpora.
    let mut rng = daneel_core::seed::DetRng::new(Seed(99), 0);
    for target in &TARGETS {
        for _ in 0..300 {
            let len = rng.below(400) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            (target.run)(&data);
        }
    }
}

/// The two oracles of `mua_check` that read what the driver saw: they pass on the corpus,
/// and fail once the report loses the targets the connections went to, or once a byte goes
/// in clear to an implicit-TLS port.
#[test]
fn mua_check_connection_oracles_can_fail() {
    let cases: Vec<_> = corpus("mua_check")
        .iter()
        .map(|file| mua_check::observed_of(&fs::read(file).unwrap()))
        .filter(|(_, observed)| !observed.conns.is_empty())
        .collect();
    assert!(cases.len() >= 5, "{} seeds connect", cases.len());
    let mut implicit = 0;
    for (report, observed) in &cases {
        mua_check::assert_connects_to_reported_targets(observed, report);
        mua_check::assert_nothing_in_clear_on_implicit_tls(observed, report);
        let mut lost = report.clone();
        for service in &mut lost.services {
            service.targets.clear();
        }
        let caught = std::panic::catch_unwind(|| {
            mua_check::assert_connects_to_reported_targets(observed, &lost)
        });
        assert!(
            caught.is_err(),
            "a connection to no reported target went unnoticed"
        );
        // The same targets on another port: the connections went to none of them.
        let mut moved = report.clone();
        for host in moved.services.iter_mut().flat_map(|s| &mut s.targets) {
            host.port = host.port.map(|p| p.wrapping_add(1));
        }
        let caught = std::panic::catch_unwind(|| {
            mua_check::assert_connects_to_reported_targets(observed, &moved)
        });
        assert!(
            caught.is_err(),
            "a connection to another port went unnoticed"
        );
        let implicit_conn = observed.conns.iter().find(|(_, addr)| {
            report.services.iter().all(|s| {
                s.service.implicit_tls()
                    || !s.targets.iter().any(|h| {
                        h.port == Some(addr.port()) && h.addresses.contains(&addr.ip().to_string())
                    })
            })
        });
        if let Some((conn, _)) = implicit_conn {
            implicit += 1;
            let mut leaked = observed.clone();
            leaked.sends.insert(0, (*conn, false, b"a1 LOGIN".to_vec()));
            let caught = std::panic::catch_unwind(|| {
                mua_check::assert_nothing_in_clear_on_implicit_tls(&leaked, report)
            });
            assert!(
                caught.is_err(),
                "bytes in clear on an implicit-TLS port went unnoticed"
            );
        }
    }
    assert!(implicit >= 1, "no seed connects to an implicit-TLS port");
}
