#!/usr/bin/env python3
"""Compare daneel with posttls-finger (Postfix's reference DANE client) on every lab scenario.

    compare.py DANEEL_BINARY [--out TABLE.md]

For each row of scenarios.tsv: run `daneel check DEST --resolver <lab unbound> --json -4` and
`posttls-finger.sh --domain ID | parse-ptf.py`, then check, connection by connection:
  1. daneel's domain verdict is the expected one (scenarios.tsv, from the RFC);
  2. daneel's verdict for the scenario's address agrees with posttls-finger's class under the
     mapping below, or is one of the DELIBERATE differences, each with its RFC reason.
Prints the agreement table (markdown) and exits 1 on any disagreement.

Mapping (posttls-finger -> daneel):
  Verified -> verified          Trusted -> trusted
  Untrusted + a verification failure (no matching TLSA, hostname mismatch, expired, CA
    verification failed) with usable TLSA -> dane-failed
  Untrusted with no (usable) TLSA ("resorting to secure", all TLSA unusable) -> untrusted
  no TLS + STARTTLS not offered -> dane-failed (starttls-not-offered)
  TLSA lookup error -> host dns-failed; MX "try again" -> temp-fail; nullMX -> null-mx;
  "Host not found" -> nxdomain
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESOLVER = os.environ.get("DANEEL_LAB_RESOLVER", "127.10.0.53")

# Deliberate differences: id -> (posttls-finger class, daneel connection verdict, reason).
DELIBERATE = {
    "X01": ("Verified", "client-unsupported",
            "RSA-1024 leaf: rustls refuses RSA keys below 2048 bits (RFC 9325 sec. 4.3); never "
            "reported as the server's DANE failure"),
    "X03": ("none", "client-unsupported",
            "TLS 1.0 only: both refuse; daneel says client-unsupported (RFC 8996), posttls-finger "
            "prints an SSL_connect error"),
}
# Scenarios outside `daneel check` (SMTP with STARTTLS): implicit TLS is the MUA work.
SKIP = {"SUB2": "port 465 is implicit TLS (submissions): the MUA work, not `daneel check`"}


def rows():
    with open(os.path.join(HERE, "scenarios.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                yield dict(zip(header, line.rstrip("\n").split("\t")))


def run_daneel(binary, row):
    dest = row["domain"]
    if row.get("port", "25") != "25":
        dest = "[%s]:%s" % (row["mx_host"], row["port"])
    cmd = [binary, "check", dest, "--resolver", RESOLVER, "--json", "-4", "--timeout", "15"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        return json.loads(p.stdout), p.returncode
    except json.JSONDecodeError:
        return None, p.returncode


def run_ptf(row):
    form = ["--domain", row["id"]]
    if row.get("port", "25") != "25":
        form = ["[%s]:%s" % (row["mx_host"], row["port"])]
    ptf = subprocess.run([os.path.join(HERE, "posttls-finger.sh")] + form,
                         capture_output=True, text=True, timeout=300)
    parsed = subprocess.run([os.path.join(HERE, "parse-ptf.py")], input=ptf.stdout,
                            capture_output=True, text=True, timeout=60)
    return [json.loads(l) for l in parsed.stdout.splitlines() if l.strip()]


def ptf_record(records, address):
    for r in records:
        if address != "-" and ("[%s]" % address) in r.get("address", ""):
            return r
    return records[0] if records else {"class": "none", "errors": [], "flags": []}


def daneel_connection(report, address):
    for h in report.get("hosts", []):
        for c in h.get("connections", []):
            if c["address"].rsplit(":", 1)[0] == address:
                return h, c
    return (report["hosts"][0] if report.get("hosts") else None), None


def expected_daneel(rec):
    """The daneel verdict that agrees with one posttls-finger record."""
    cls = rec.get("class", "none")
    errors = " ".join(rec.get("errors") or [])
    flags = rec.get("flags") or []
    if cls == "Verified":
        return "verified"
    if cls == "Trusted":
        return "trusted"
    if cls == "Untrusted":
        if any(f in flags for f in ("no-tlsa-secure", "no-usable-tlsa-secure", "all-tlsa-unusable")):
            return "untrusted"
        return "dane-failed"
    if "starttls-not-offered" in flags or "STARTTLS not offered" in errors:
        return "dane-failed"
    if "TLSA lookup error" in errors:
        return "host dns-failed"
    if "nullMX" in errors:
        return "domain null-mx"
    if "try again" in errors:
        return "domain temp-fail"
    if "Host not found" in errors or "not found" in errors:
        return "domain nxdomain"
    return "?"


def daneel_says(report, host, conn):
    if conn is not None:
        return conn["verdict"]
    if host is not None and host.get("verdict") == "dns-failed":
        return "host dns-failed"
    return "domain " + report.get("verdict", "?")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    binary = sys.argv[1]
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
    table = ["| scenario | domain | expected (RFC) | posttls-finger | daneel | agreement |",
             "|---|---|---|---|---|---|"]
    failures = 0
    for row in rows():
        sid = row["id"]
        if sid in SKIP:
            table.append("| %s | %s | %s | - | - | skipped: %s |" % (sid, row["domain"], row["daneel_verdict"], SKIP[sid]))
            continue
        report, code = run_daneel(binary, row)
        records = run_ptf(row)
        rec = ptf_record(records, row["address"])
        if report is None:
            failures += 1
            table.append("| %s | %s | %s | %s | no JSON (exit %s) | **FAIL** |" % (sid, row["domain"], row["daneel_verdict"], rec.get("class"), code))
            continue
        host, conn = daneel_connection(report, row["address"])
        got = daneel_says(report, host, conn)
        want = expected_daneel(rec)
        ptf_text = rec.get("class", "none")
        if rec.get("matched"):
            ptf_text += " (" + "; ".join(m.split(":")[0] for m in rec["matched"]) + ")"
        elif rec.get("errors"):
            ptf_text += " (" + rec["errors"][0][:60].replace("|", "/") + ")"
        daneel_text = "%s / %s" % (report["verdict"], got)
        if conn and conn.get("matched"):
            daneel_text += " (%s depth %d)" % (conn["matched"]["record"][:5], conn["matched"]["depth"])
        elif conn and conn.get("reason"):
            daneel_text += " (%s)" % conn["reason"]["code"]
        elif host and host.get("reason"):
            daneel_text += " (%s)" % host["reason"]["code"]
        verdict_ok = report["verdict"] == row["daneel_verdict"]
        if sid in DELIBERATE:
            pclass, dverdict, why = DELIBERATE[sid]
            ok = verdict_ok and rec.get("class") == pclass and got == dverdict
            note = ("deliberate difference: " + why) if ok else "**FAIL** (difference not as documented)"
        else:
            agree = got == want or (want.startswith("domain ") and report["verdict"] == want.split()[1])
            ok = verdict_ok and agree
            note = "agree" if ok else "**FAIL** (want %s%s)" % (want, "" if verdict_ok else ", domain verdict differs")
        failures += 0 if ok else 1
        table.append("| %s | %s | %s | %s | %s | %s |" % (sid, row["domain"], row["daneel_verdict"], ptf_text, daneel_text, note))
    text = "\n".join(table)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    total = len(table) - 2
    print("\n%d passed, %d failed" % (total - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
