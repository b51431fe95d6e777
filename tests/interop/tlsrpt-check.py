#!/usr/bin/env python3
"""Issue 11 in the interop lab: `daneel check s05.dane.lab --tlsrpt` against the lab's real
NSD + unbound + Postfix. S05 publishes a TLSA record that does not match the server key and a
TLSRPT record (`_smtp._tls.s05.dane.lab`, RFC 8460 sec. 3). Checks that standard output holds
only the RFC 8460 report, that its failure detail names the lab MX host and address (from
scenarios.tsv) with result type validation-failure, and that the human report on standard
error shows the TLSRPT record as secure. Needs the lab up and its env (`lab.sh env`).

Usage: tlsrpt-check.py DANEEL
"""
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD = "v=TLSRPTv1; rua=mailto:tlsrpt@s05.dane.lab"


def main():
    daneel = sys.argv[1]
    resolver = os.environ.get("DANEEL_LAB_RESOLVER", "127.10.0.53")
    tsv = os.environ.get("DANEEL_LAB_SCENARIOS", os.path.join(HERE, "scenarios.tsv"))
    with open(tsv, newline="") as f:
        row = next(r for r in csv.DictReader(f, delimiter="\t") if r["id"] == "S05")
    out = subprocess.run(
        [daneel, "check", row["domain"], "--resolver", resolver, "-4", "--tlsrpt",
         "--organization", "daneel interop lab", "--contact", "mailto:postmaster@dane.lab"],
        capture_output=True, text=True, timeout=120)
    problems = []
    if out.returncode != 1:
        problems.append(f"exit {out.returncode}, expected 1 (dane-failed)")
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError as e:
        report = {}
        problems.append(f"standard output is not one JSON document: {e}")
    policies = report.get("policies", [])
    details = [d for p in policies for d in p.get("failure-details", [])]
    want = {"result-type": "validation-failure", "receiving-mx-hostname": row["mx_host"],
            "receiving-ip": row["address"]}
    if not any(all(d.get(k) == v for k, v in want.items()) for d in details):
        problems.append(f"no failure detail {want}: {details}")
    if policies and policies[0]["policy"].get("policy-domain") != row["domain"]:
        problems.append(f"policy-domain {policies[0]['policy'].get('policy-domain')}")
    if f"TLSRPT record: secure: {RECORD}" not in out.stderr:
        problems.append("the human report on stderr does not show the secure TLSRPT record")
    if problems:
        print("tlsrpt-check: FAILED")
        for p in problems:
            print(f"  {p}")
        print(out.stdout)
        print(out.stderr, file=sys.stderr)
        return 1
    print(f"tlsrpt-check: ok: {row['domain']} validation-failure at "
          f"{row['mx_host']} {row['address']} (TLSRPT record secure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
