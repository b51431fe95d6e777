#!/usr/bin/env python3
"""Compare daneel with posttls-finger (Postfix's reference DANE client) on every lab scenario.

    compare.py DANEEL_BINARY [--out TABLE.md] [--only ID,ID...] [--jobs N]

For each row of scenarios.tsv: run `daneel check DEST --resolver <lab unbound> --json -4` and
`posttls-finger.sh --domain ID | parse-ptf.py`, then check, connection by connection:
  1. daneel's domain verdict is the expected one (scenarios.tsv, from the RFC);
  2. daneel's verdict for the scenario's address agrees with posttls-finger's class under the
     mapping below, or is one of the DELIBERATE differences, each with its RFC reason.
Then daneel alone (posttls-finger is not re-run), with two resolvers (issue 7, the DNS trust
boundary): V = the validating lab unbound, P = the plain one (no validator, never AD):
  3. `--resolver V --resolver P` gives the expected domain verdict;
  4. `--resolver P --resolver V` gives the expected domain verdict;
  5. once, for S01: `--resolver P --dnssec trust-ad` alone gives temp-fail with reason
     resolver-not-validating (in-core validation through P is validate-check.py's).
When the report has a `resolvers` array ([{address, loopback, probe, used}]), P must be probed
`not-validating` and not used, V `validating` and used; the array is summarised in the table.
Rows run in parallel (--jobs, default $DANEEL_LAB_JOBS or 4); output stays in row order.
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
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
RESOLVER = os.environ.get("DANEEL_LAB_RESOLVER", "127.10.0.53")
PLAIN = os.environ.get("DANEEL_LAB_PLAIN_RESOLVER", "127.10.0.54")
# The two-resolver configurations (column name, resolvers in command-line order).
TWO = [("V+P", [RESOLVER, PLAIN]), ("P+V", [PLAIN, RESOLVER])]
# The single-resolver check with the non-validating resolver alone: (scenario, verdict, reason).
PLAIN_ALONE = ("S01", "temp-fail", "resolver-not-validating")

# Deliberate differences: id -> (posttls-finger class, daneel connection verdict, reason).
DELIBERATE = {
    "X01": ("Verified", "client-unsupported",
            "RSA-1024 leaf: rustls refuses RSA keys below 2048 bits (RFC 9325 sec. 4.3); never "
            "reported as the server's DANE failure"),
    "X03": ("none", "dane-failed",
            "TLS 1.0 only: the server answers our TLS 1.2+ ClientHello with an alert; an "
            "unauthenticated alert is handshake-failed, a DANE failure under policy dane "
            "(RFC 7672 sec. 2.2; issue 7), and posttls-finger's SSL_connect fails too"),
}
# Rows not counted: id -> reason. A port-25 row here is still run and shown (so the table
# keeps the evidence), but neither its posttls-finger comparison nor its two-resolver runs
# count as failures. Port-465 rows are not run at all.
SKIP = {
    "SUB2": "port 465 is implicit TLS (submissions): `daneel mua`, refereed by compare-mua.py (M02)",
}


def rows():
    with open(os.path.join(HERE, "scenarios.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                yield dict(zip(header, line.rstrip("\n").split("\t")))


def run_daneel(binary, row, resolvers=None, extra=()):
    dest = row["domain"]
    if row.get("port", "25") != "25":
        dest = "[%s]:%s" % (row["mx_host"], row["port"])
    cmd = [binary, "check", dest]
    for r in resolvers or [RESOLVER]:
        cmd += ["--resolver", r]
    cmd += ["--json", "-4", "--timeout", "15"] + list(extra)
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


def addr_only(a):
    """'127.10.0.53:53' / '127.10.0.53' / '[::1]:53' -> the address without the port."""
    a = str(a)
    if a.startswith("["):
        return a[1:].split("]", 1)[0]
    return a.rsplit(":", 1)[0] if a.count(":") == 1 else a


def resolvers_summary(report):
    """The `resolvers` array in short ('127.10.0.53 validating used, ...'), or the older
    `resolver` object when the array is absent."""
    arr = report.get("resolvers")
    if isinstance(arr, list):
        parts = []
        for r in arr:
            bits = [addr_only(r.get("address", "?")), str(r.get("probe", "?"))]
            if "used" in r:
                bits.append("used" if r["used"] else "dropped")
            if r.get("loopback"):
                bits.append("loopback")
            parts.append(" ".join(bits))
        return "resolvers: " + ", ".join(parts)
    old = report.get("resolver") or {}
    return "resolver: %s validating=%s" % (",".join(addr_only(a) for a in old.get("addresses", [])),
                                           str(old.get("validating", "?")).lower())


def resolvers_problems(report):
    """With a `resolvers` array: P must be probed not-validating and unused, V validating and
    used. Fields that are absent are not checked (the shape is new)."""
    arr = report.get("resolvers")
    if not isinstance(arr, list):
        return []
    want = {RESOLVER: ("validating", True), PLAIN: ("not-validating", False)}
    problems = []
    seen = set()
    for r in arr:
        a = addr_only(r.get("address", ""))
        if a not in want:
            continue
        seen.add(a)
        probe, used = want[a]
        if "probe" in r and r["probe"] != probe:
            problems.append("%s probe %s, want %s" % (a, r["probe"], probe))
        if "used" in r and bool(r["used"]) != used:
            problems.append("%s used=%s" % (a, str(r["used"]).lower()))
    for a in want:
        if a not in seen:
            problems.append("%s missing from resolvers" % a)
    return problems


def two_resolver_cell(binary, row, resolvers):
    """Run daneel with two resolvers; return (ok, cell text)."""
    report, code = run_daneel(binary, row, resolvers)
    if report is None:
        return False, "**FAIL** no JSON (exit %s)" % code
    got = report.get("verdict", "?")
    reason = (report.get("reason") or {}).get("code")
    problems = resolvers_problems(report)
    if reason == PLAIN_ALONE[2]:
        # V validates: "the resolver does not validate" is never right with V in the set, even
        # where the expected verdict (temp-fail, S17/S18) happens to be the same.
        problems.append("reason %s although %s validates" % (reason, RESOLVER))
    ok = got == row["daneel_verdict"] and not problems
    text = got + (" (%s)" % reason if reason else "")
    text = ("ok " if ok else "**FAIL** ") + text
    if problems:
        text += "; " + "; ".join(problems)
    return ok, text + "; " + resolvers_summary(report)


def plain_alone(binary, row):
    """`--resolver P --dnssec trust-ad` alone: temp-fail, reason resolver-not-validating (with
    `--dnssec validate` the core validates through P instead: validate-check.py). Returns
    (ok, line)."""
    _sid, want_verdict, want_reason = PLAIN_ALONE
    report, code = run_daneel(binary, row, [PLAIN], ["--dnssec", "trust-ad"])
    if report is None:
        return False, "**FAIL** no JSON (exit %s)" % code
    got = report.get("verdict", "?")
    reason = (report.get("reason") or {}).get("code")
    arr = report.get("resolvers")
    problems = []
    if isinstance(arr, list):
        for r in arr:
            if addr_only(r.get("address", "")) == PLAIN and r.get("probe", "not-validating") != "not-validating":
                problems.append("%s probe %s" % (PLAIN, r.get("probe")))
    ok = got == want_verdict and reason == want_reason and not problems
    text = "%s %s (%s), exit %s; %s" % ("ok" if ok else "**FAIL**", got, reason, code,
                                        resolvers_summary(report))
    if problems:
        text += "; " + "; ".join(problems)
    return ok, text


def cell(text):
    """A markdown table cell: no '|' inside."""
    return str(text).replace("|", "/")


def option(args, name, default=None):
    """The value after `name` in args, or default."""
    return args[args.index(name) + 1] if name in args else default


def emit(text, summary, out):
    """Print the table and its summary lines; write both to `out` too when given."""
    print(text)
    print("\n".join(summary))
    if out:
        with open(out, "w") as f:
            f.write(text + "\n" + "\n".join(summary) + "\n")


def run_row(binary, row):
    """Everything for one scenario row: (table line, main failure?, {config: ok}, extra lines).
    Runs in a worker thread; touches no shared state."""
    sid = row["id"]
    skipped = sid in SKIP
    if skipped and row.get("port", "25") == "465":
        return ("| %s | %s | %s | - | - | skipped: %s | - | - |" % (sid, row["domain"], row["daneel_verdict"], SKIP[sid]),
                False, {}, [])
    cells, note, failed = main_cells(binary, row)
    if skipped:
        note = "not counted (%s): %s" % (note, SKIP[sid])
        failed = False
    twos = {}
    for name, resolvers in TWO:
        ok, text = two_resolver_cell(binary, row, resolvers)
        twos[name] = ok or skipped
        cells_text = text if not skipped else "not counted: " + text
        cells.append(cells_text)
    extra = []
    if sid == PLAIN_ALONE[0]:
        ok, text = plain_alone(binary, row)
        twos["P alone"] = ok
        extra.append("| %s | %s | %s / %s | - | P alone: %s | %s | - | - |" % (
            sid, row["domain"], PLAIN_ALONE[1], PLAIN_ALONE[2], cell(text), "agree" if ok else "**FAIL**"))
    line = "| %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(
        cell(c) for c in [sid, row["domain"], row["daneel_verdict"], cells[0], cells[1], note, cells[2], cells[3]])
    return line, failed, twos, extra


def main_cells(binary, row):
    """The validating-resolver run compared with posttls-finger:
    ([posttls-finger text, daneel text], agreement note, failed?)."""
    sid = row["id"]
    report, code = run_daneel(binary, row)
    records = run_ptf(row)
    rec = ptf_record(records, row["address"])
    if report is None:
        return [rec.get("class", "none"), "no JSON (exit %s)" % code], "**FAIL**", True
    host, conn = daneel_connection(report, row["address"])
    got = daneel_says(report, host, conn)
    want = expected_daneel(rec)
    ptf_text = rec.get("class", "none")
    if rec.get("matched"):
        ptf_text += " (" + "; ".join(m.split(":")[0] for m in rec["matched"]) + ")"
    elif rec.get("errors"):
        # drop " for host[addr]:port" (the table has the address) so the cause fits
        err = re.sub(r" for \S+\[[0-9.]+\]:\d+", "", rec["errors"][0])
        ptf_text += " (" + err[:70] + ")"
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
    return [ptf_text, daneel_text], note, not ok


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    binary = sys.argv[1]
    args = sys.argv[2:]
    out = option(args, "--out")
    only = set(option(args, "--only").split(",")) if "--only" in args else None
    jobs = int(option(args, "--jobs", os.environ.get("DANEEL_LAB_JOBS", "4")))
    selected = [r for r in rows() if only is None or r["id"] in only]
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(lambda r: run_row(binary, r), selected))  # row order kept
    elapsed = time.time() - t0
    table = ["| scenario | domain | expected (RFC) | posttls-finger | daneel (V) | agreement | daneel V+P | daneel P+V |",
             "|---|---|---|---|---|---|---|---|"]
    main_failures = 0
    main_total = 0
    not_counted = [r["id"] for r in selected if r["id"] in SKIP]
    two_fail = {name: [] for name, _ in TWO}
    two_fail["P alone"] = []
    two_total = {name: 0 for name in two_fail}
    for row, (line, failed, twos, extra) in zip(selected, results):
        table.append(line)
        table.extend(extra)
        if row["id"] not in SKIP:
            main_total += 1
            main_failures += 1 if failed else 0
        for name, ok in twos.items():
            if row["id"] in SKIP and name != "P alone":
                continue
            two_total[name] += 1
            if not ok:
                two_fail[name].append(row["id"])
    text = "\n".join(table)
    summary = ["", "validating resolver vs posttls-finger: %d passed, %d failed" % (main_total - main_failures, main_failures)]
    for name in two_fail:
        f = two_fail[name]
        summary.append("daneel %s: %d passed, %d failed%s" % (
            name, two_total[name] - len(f), len(f), (" (" + " ".join(f) + ")") if f else ""))
    if not_counted:
        summary.append("not counted (SKIP): %s" % " ".join(not_counted))
    failures = main_failures + sum(len(f) for f in two_fail.values())
    summary.append("%d passed, %d failed (%d rows, %d not counted, %.1f s, %d jobs)" % (
        main_total + sum(two_total.values()) - failures, failures, len(selected), len(not_counted),
        elapsed, jobs))
    emit(text, summary, out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
