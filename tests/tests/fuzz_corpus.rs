//! The fuzz corpora (`fuzz/corpus/<target>/`) replayed through the same entry points the
//! cargo-fuzz targets call, as ordinary tests on stable (STYLE-ANCHORS section 3.9). Crashes
//! found by fuzzing are kept in the corpus as regression inputs.
//!
//! `DANEEL_WRITE_SEEDS=1 cargo test -p daneel-tests --test fuzz_corpus` (re)writes the seed
//! inputs derived from the simulated world's transcripts.

use std::fs;
use std::path::{Path, PathBuf};

use daneel_core::transcript::{Event, Recorder};
use daneel_core::{fuzzing, OwnedInput, Seed};
use daneel_tests::sim::Sim;
use daneel_tests::world::catalogue::{self, SIM_RESOLVER, SIM_START};

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 6] = [
    ("smtp_reply", fuzzing::smtp_reply::run),
    ("smtp_session", fuzzing::smtp_session::run),
    ("dns_answer", fuzzing::dns_answer::run),
    ("smtp_check", fuzzing::smtp_check::run),
    ("dane_verify", fuzzing::dane_verify::run),
    ("tlsa_text", fuzzing::tlsa_text::run),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Seeds from the catalogue's transcripts: every server byte string (smtp_reply), every DNS
/// answer (dns_answer, with the "splice the question" mode byte), TLSA texts.
fn write_seeds() {
    let mut replies = Vec::new();
    let mut answers = Vec::new();
    for s in catalogue::all() {
        let recorder = Recorder::new(s.config(SIM_RESOLVER), Seed(1), SIM_START).unwrap();
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
        let mut sim = Sim::new(
            s.world.clone(),
            Box::new(Shared(recorder.clone())),
            SIM_START,
        );
        sim.run_bounded(10_000).unwrap();
        for e in &recorder.borrow().transcript().events {
            match e {
                Event::Input {
                    input: OwnedInput::Received { bytes, .. },
                    ..
                } => replies.push(bytes.clone()),
                Event::Input {
                    input: OwnedInput::DnsAnswer { wire, .. },
                    ..
                } => answers.push(wire.clone()),
                _ => {}
            }
        }
    }
    replies.sort();
    replies.dedup();
    answers.sort();
    answers.dedup();
    let write = |target: &str, items: &[Vec<u8>]| {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        for (i, item) in items.iter().enumerate().take(64) {
            fs::write(dir.join(format!("seed-{i:03}")), item).unwrap();
        }
    };
    let replies: Vec<Vec<u8>> = replies
        .into_iter()
        .map(|r| [vec![16u8], r].concat())
        .collect();
    write("smtp_reply", &replies);
    let answers: Vec<Vec<u8>> = answers
        .into_iter()
        .map(|a| [vec![1u8], a].concat())
        .collect();
    write("dns_answer", &answers);
    write(
        "tlsa_text",
        &[
            b"3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec(),
            b"DANE-TA Cert SHA2-512 00".to_vec(),
            b"_25._tcp.mx.example.com. 3600 IN TLSA ( 2 0 1\n ab cd ) ; comment".to_vec(),
            vec![3, 1, 1, 0xab, 0xcd],
        ],
    );
}

#[test]
fn fuzz_corpora_replay_without_findings() {
    if std::env::var_os("DANEEL_WRITE_SEEDS").is_some() {
        write_seeds();
    }
    let mut total = 0;
    for (target, run) in TARGETS {
        let Ok(entries) = fs::read_dir(corpus_dir(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let data = fs::read(&file).unwrap();
            run(&data);
            total += 1;
        }
    }
    assert!(total > 0, "no corpus found");
}

#[test]
fn fuzz_entry_points_survive_pseudo_random_inputs() {
    // A few thousand deterministic inputs per target, so the oracles run even without corpora.
    let mut rng = daneel_core::seed::DetRng::new(Seed(99), 0);
    for (_, run) in TARGETS {
        for _ in 0..300 {
            let len = rng.below(400) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            run(&data);
        }
    }
}
