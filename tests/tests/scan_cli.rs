//! `daneel scan` as a program against a live world on loopback (issue 14): one JSON line per
//! domain with the verdict `daneel check` reaches, shards that partition the input, and a
//! resumed scan that ends with exactly one line per domain.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output};

use daneel_tests::live::LiveWorld;
use daneel_tests::world::bulk::{shared_mx_domain, shared_mx_world};

const DOMAINS: usize = 30;

fn daneel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daneel"))
        .args(args)
        .output()
        .expect("run daneel")
}

/// Asserts that `out` exited with `code`, showing its standard error otherwise.
fn assert_exit(out: &Output, code: i32) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daneel-scan-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Each output line's `domain` and its `verdict` (or `error`).
fn lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let outcome = v["verdict"]
                .as_str()
                .or(v["error"].as_str().map(|_| "error"))
                .unwrap();
            (
                v["domain"].as_str().unwrap().to_string(),
                outcome.to_string(),
            )
        })
        .collect()
}

fn input_file(name: &str, domains: &[String]) -> PathBuf {
    let path = temp(name);
    std::fs::write(&path, domains.join("\n") + "\n").unwrap();
    path
}

#[test]
fn scan_reports_each_domain_once_with_the_verdict_of_check() {
    let (world, _) = shared_mx_world(DOMAINS);
    let live =
        LiveWorld::start(&world, Ipv4Addr::new(127, 20, 250, 0), 25).expect("live world (root)");
    let resolver = live.resolver_addr().to_string();
    let mut input: Vec<String> = (0..DOMAINS).map(shared_mx_domain).collect();
    input.insert(3, "# a comment".into());
    input.insert(5, String::new());
    input.insert(7, shared_mx_domain(1).to_uppercase());
    input.push("not a domain!".into());
    let file = input_file("in.txt", &input);
    let out = daneel(&[
        "scan",
        file.to_str().unwrap(),
        "--resolver",
        &resolver,
        "-4",
        "--no-progress",
    ]);
    assert_exit(&out, 0);
    let got = lines(&String::from_utf8_lossy(&out.stdout));
    let by_domain: BTreeMap<_, _> = got.iter().cloned().collect();
    assert_eq!(
        got.len(),
        DOMAINS + 1,
        "one line per domain, the repeat once: {got:?}"
    );
    assert_eq!(by_domain["not a domain!"], "error");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("1 repeated") && summary.contains("verdicts:"),
        "{summary}"
    );
    let mut kinds = BTreeSet::new();
    for i in 0..DOMAINS {
        let d = shared_mx_domain(i);
        let alone = daneel(&["check", &d, "--resolver", &resolver, "-4", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
        assert_eq!(by_domain[&d], v["verdict"].as_str().unwrap(), "{d}");
        kinds.insert(by_domain[&d].clone());
    }
    assert_eq!(
        kinds.len(),
        3,
        "verified, failed and no-dane domains: {kinds:?}"
    );
}

#[test]
fn shards_partition_the_input_and_a_resumed_scan_completes_it() {
    let (world, _) = shared_mx_world(DOMAINS);
    let live =
        LiveWorld::start(&world, Ipv4Addr::new(127, 20, 249, 0), 25).expect("live world (root)");
    let resolver = live.resolver_addr().to_string();
    let all: Vec<String> = (0..DOMAINS).map(shared_mx_domain).collect();
    let file = input_file("shard-in.txt", &all);
    let common = ["--resolver", &resolver, "-4", "--no-progress"];
    let mut union = Vec::new();
    for k in 0..3 {
        let spec = format!("{k}/3");
        let mut args = vec!["scan", file.to_str().unwrap(), "--shard", &spec];
        args.extend(common);
        let out = daneel(&args);
        assert_exit(&out, 0);
        let got = lines(&String::from_utf8_lossy(&out.stdout));
        assert!(
            !got.is_empty() && got.len() < DOMAINS,
            "shard {k}: {}",
            got.len()
        );
        union.extend(got.into_iter().map(|(d, _)| d));
    }
    let distinct: BTreeSet<_> = union.iter().cloned().collect();
    assert_eq!(union.len(), DOMAINS, "no domain in two shards");
    assert_eq!(
        distinct,
        all.iter().cloned().collect::<BTreeSet<_>>(),
        "every domain in one"
    );

    // An interrupted run: 10 whole lines, then one cut short.
    let first = daneel(&[&["scan", file.to_str().unwrap()][..], &common[..]].concat());
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    let kept: Vec<&str> = text.lines().take(10).collect();
    let out_path = temp("resume.jsonl");
    std::fs::write(
        &out_path,
        kept.join("\n") + "\n" + &text.lines().nth(10).unwrap()[..20],
    )
    .unwrap();
    let resumed = daneel(
        &[
            &[
                "scan",
                file.to_str().unwrap(),
                "--resume",
                out_path.to_str().unwrap(),
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert_exit(&resumed, 0);
    let summary = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        summary.contains("scanned 20 domains") && summary.contains("10 already reported"),
        "{summary}"
    );
    let merged = lines(&std::fs::read_to_string(&out_path).unwrap());
    let domains: BTreeSet<_> = merged.iter().map(|(d, _)| d.clone()).collect();
    assert_eq!(merged.len(), DOMAINS, "exactly one line per domain");
    assert_eq!(domains.len(), DOMAINS);
}

#[test]
fn bad_shard_specifications_are_usage_errors() {
    for args in [
        &["scan", "-", "--dns-rate", "0"][..],
        &["scan", "-", "--shard", "1/3", "--shards", "3"],
        &["scan", "-", "--shards", "3"],
        &["scan", "-", "--shard", "3/3"],
        &["scan", "-", "--shard", "x"],
        &["scan", "-", "--shard", "env"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_daneel"))
            .args(args)
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
    }
}

/// `daneel scan INPUT` against a resolver that does not answer (only the input matters).
fn scan_offline(input: &std::path::Path) -> Output {
    let input = input.to_str().unwrap();
    daneel(&["scan", input, "--resolver", "127.0.0.1:9", "--no-progress"])
}

/// An input that cannot be read to its end is an I/O failure (exit 74), not a complete scan;
/// a line too long to be a domain is reported as not one, and the lines after it are read.
#[test]
fn unreadable_input_exits_74_and_an_overlong_line_is_one_invalid_line() {
    let dir = temp("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let out = scan_offline(&dir);
    assert_exit(&out, 74);

    let file = temp("long-line.txt");
    let long = "a".repeat(5000);
    std::fs::write(&file, format!("{long}\nnot a domain!\n")).unwrap();
    let out = scan_offline(&file);
    assert_exit(&out, 0);
    let got = lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(_, outcome)| outcome == "error"), "{got:?}");
    assert!(got.iter().any(|(d, _)| d == "not a domain!"));
}
