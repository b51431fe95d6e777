//! Measures what `daneel check` holds while checking an MX RRset of many hosts (issue 7):
//! the most open files and the peak resident memory of the `daneel` process, sampled from
//! `/proc` every 2 ms, and the wall time. Serves [`many_mx`] live on 127.20.254.0/24 (root:
//! port 25).
//!
//! ```text
//! cargo build --release -p daneel --bin daneel --example many-mx-resources
//! target/release/examples/many-mx-resources target/release/daneel [HOSTS] [-- extra check args]
//! ```

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daneel_tests::live::LiveWorld;
use daneel_tests::world::bulk::many_mx;

fn open_files(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(daneel) = args.next() else {
        eprintln!("usage: many-mx-resources DANEEL_BIN [HOSTS] [-- CHECK ARGS...]");
        std::process::exit(64);
    };
    let hosts: usize = args.next().and_then(|h| h.parse().ok()).unwrap_or(1_000);
    let extra: Vec<String> = args.skip_while(|a| a != "--").skip(1).collect();
    let live = LiveWorld::start(&many_mx(hosts, 10), Ipv4Addr::new(127, 20, 254, 0), 25)
        .unwrap_or_else(|e| panic!("live world (root needed for port 25): {e}"));
    let started = Instant::now();
    let mut child = Command::new(&daneel)
        .args(["check", "example.com", "-4", "--json", "--resolver"])
        .arg(live.resolver_addr().to_string())
        .args(&extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start daneel");
    let pid = child.id();
    // Read the report while it runs: a 1,000-host report overflows the pipe buffer.
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).map(|_| bytes)
    });
    let (mut files, mut rss) = (0, 0);
    while child.try_wait().expect("wait").is_none() {
        files = files.max(open_files(pid).unwrap_or(0));
        rss = rss.max(peak_rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = started.elapsed();
    let status = child.wait().expect("exit status");
    let report = reader.join().expect("reader").unwrap_or_default();
    let verdict = serde_json::from_slice::<serde_json::Value>(&report)
        .map(|r| r["verdict"].as_str().unwrap_or("?").to_string())
        .unwrap_or_else(|_| "unreadable report".into());
    println!(
        "hosts {hosts}: verdict {verdict}, exit {:?}, most open files {files}, peak RSS {:.1} MiB, {:.2} s",
        status.code(),
        rss as f64 / 1024.0,
        elapsed.as_secs_f64()
    );
}
