#!/usr/bin/env python3
"""What in-core DNSSEC validation costs a check (issue 13), side by side with trust-ad, in one
run on the interop lab:

    validate-bench.py DANEEL_BINARY [--runs N] [--only ID,...]

For each scenario (default S01, S05, S11, S19: DANE verified, TLSA mismatch, no TLSA in a
signed zone, an unsigned zone), `daneel check` runs N times in each mode, alternating:
  - trust-ad through the validating lab unbound (V);
  - validate through the iterator-only unbound (P), with the lab's root DS as anchor.
Printed per scenario and mode: DNS queries per check (from a transcript), median and mean
wall time per check, CPU time per check (user+sys of the child processes), and the ratio
validate / trust-ad. The resolvers' caches are warm after the first run (the first run of
each mode is reported apart as "first"); daneel keeps no cache across checks.
This is a benchmark, not a test: it asserts nothing about time.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import RESOLVER, PLAIN, rows, option  # noqa: E402

STATE = os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab")
ANCHOR = os.path.join(STATE, "dns", "root.ds")
MODES = [("trust-ad", [RESOLVER], ["--dnssec", "trust-ad"]),
         ("validate", [PLAIN], ["--dnssec", "validate", "--trust-anchor", ANCHOR])]


def command(binary, row, resolvers, extra, transcript=None):
    cmd = [binary, "check", row["domain"], "-4", "--json", "--timeout", "15"] + extra
    for r in resolvers:
        cmd += ["--resolver", r]
    if transcript:
        cmd += ["--transcript", transcript]
    return cmd


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, timeout=120)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def queries(binary, row, resolvers, extra):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.jsonl")
        subprocess.run(command(binary, row, resolvers, extra, path), capture_output=True, timeout=120)
        n = 0
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if (e.get("action") or {}).get("action") == "send-dns":
                    n += 1
        return n


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    binary = sys.argv[1]
    args = sys.argv[2:]
    runs = int(option(args, "--runs", "30"))
    only = option(args, "--only", "S01,S05,S11,S19").split(",")
    selected = [r for r in rows() if r["id"] in only]
    print("| scenario | mode | DNS queries | first run ms | median ms | mean ms | CPU ms/check | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in selected:
        stats = {}
        for name, resolvers, extra in MODES:
            stats[name] = {"first": timed(command(binary, row, resolvers, extra))[0],
                           "walls": [], "cpus": [],
                           "queries": queries(binary, row, resolvers, extra)}
        for _ in range(runs):
            for name, resolvers, extra in MODES:
                wall, cpu = timed(command(binary, row, resolvers, extra))
                stats[name]["walls"].append(wall)
                stats[name]["cpus"].append(cpu)
        base = stats["trust-ad"]
        for name, _, _ in MODES:
            s = stats[name]
            wall_ratio = statistics.mean(s["walls"]) / statistics.mean(base["walls"])
            cpu_ratio = statistics.mean(s["cpus"]) / max(statistics.mean(base["cpus"]), 1e-9)
            print("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |" % (
                row["id"], name, s["queries"], s["first"] * 1000,
                statistics.median(s["walls"]) * 1000, statistics.mean(s["walls"]) * 1000,
                statistics.mean(s["cpus"]) * 1000, wall_ratio, cpu_ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
