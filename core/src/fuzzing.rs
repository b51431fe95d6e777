//! Fuzz entry points (not a stable API; feature `__fuzz`), one module per cargo-fuzz target
//! in `../fuzz`. Each target is a one-liner into its module's `run`, so the harness logic is
//! compiled and type-checked with the library, and the corpora (`fuzz/corpus/<target>/`)
//! also run as ordinary tests on stable (`tests/tests/fuzz_corpus.rs`).
//!
//! Every target checks more than "no panic" (STYLE-ANCHORS section 3.9); each module says
//! what its oracle is. [`seed_bytes`] writes the inputs that the `arbitrary`-driven targets
//! decode, so seeds can be made from real transcripts.

pub mod check_ops;
pub mod dane_verify;
pub mod delivery;
pub mod dns_answer;
pub mod dnssec_answer;
pub mod imap_response;
pub mod mua_check;
pub mod pop3_response;
pub mod scan;
pub mod seed_bytes;
pub mod smtp_check;
pub mod smtp_reply;
pub mod smtp_session;
pub mod tlsa_text;
pub mod tlsrpt;
pub mod transcript;
