#!/usr/bin/env python3
"""Referee `daneel mua` with `openssl s_client` on every connection it makes (issue 9).

    compare-mua.py DANEEL_BINARY [--out TABLE.md] [--jobs N] [--runtimes tokio,smol]

The lab must be up and its environment set (eval "$(tests/interop/lab.sh env)"). For every
domain of mua-scenarios.tsv, with the services its rows name, runs
`daneel mua DOMAIN --service LIST --ca-file $DANEEL_LAB_CA --resolver $DANEEL_LAB_RESOLVER
--json -4` on each runtime (tokio, and smol with --smol). Then, for every connection in
daneel's reports, the referee decides on its own:

  DNS (dig through the same validating resolver, AD bit = secure): the SRV RRset's status; the
  target's address status; the TLSA RRset at _PORT._tcp.TARGET, looked up only when both are
  secure (RFC 7673 sec. 3.1, 3.2); its usable records (usage 0-3, selector 0-1, matching 0-2,
  RFC 6698 sec. 4.1). The reference identifiers (RFC 7673 sec. 4.1): target and mail domain
  when the SRV RRset is secure, the mail domain only when it is not. SNI: the target (the
  TLSA base domain) under a secure SRV RRset, the mail domain otherwise.

  TLS: `openssl s_client -connect ADDR:PORT -servername SNI [-starttls smtp|imap|pop3]
  -verify_return_error -brief -CAfile $DANEEL_LAB_CA`, plus, with usable TLSA records,
  `-dane_tlsa_domain NAME -dane_tlsa_rrdata "u s m hex"` per record and
  `-dane_ee_no_namechecks` (as Postfix does), else (PKIX) `-verify_hostname NAME`. One run
  per reference identifier NAME; verified when any run says "Verification: OK". OpenSSL makes
  the DANE domain the only reference identifier (SSL_dane_enable replaces the host list, so
  -verify_hostname is lost under DANE), hence NAME as -dane_tlsa_domain: the records are
  given explicitly, the name only sets the identity checked. Usage-3-only RRsets need no
  name: one run, with the target (the TLSA base domain).

A connection agrees when openssl's result (verified / failed) equals daneel's connection
verdict mapped the same way (verified, trusted -> verified; untrusted, dane-failed -> failed),
and daneel's SNI and reference identifiers are the referee's. A row of mua-scenarios.tsv also
needs daneel's service verdict, connection verdict and authenticated_by to be the expected
ones; every row counts, IMAP STARTTLS (143) and POP3 STLS (110) included (issue 10).

The compatibility matrix (issue 10): every cell of the legacy and RFC 6186 classes that daneel
tried is refereed on its own: `openssl s_client` to the cell's address, with the cell's SNI
(`-servername`) or none (`-noservername`), PKIX with `-verify_hostname` the SRV target
(legacy) or the mail domain (RFC 6186); it agrees when openssl verifies exactly when daneel
says the class would accept. Exits 1 on any disagreement or missed expectation.
"""
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from compare import cell, emit, option  # compare.py, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
RESOLVER = os.environ.get("DANEEL_LAB_RESOLVER", "127.10.0.53")
CA = os.environ.get("DANEEL_LAB_CA") or os.path.join(
    os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab"), "pki", "root.crt")
SRV_NAMES = {"submission": "_submission._tcp", "submissions": "_submissions._tcp",
             "imap": "_imap._tcp", "imaps": "_imaps._tcp", "pop3": "_pop3._tcp", "pop3s": "_pop3s._tcp"}
# The `openssl s_client -starttls` protocol of each service that upgrades in band.
STARTTLS = {"submission": "smtp", "imap": "imap", "pop3": "pop3"}
AS_REFEREE = {"verified": "verified", "trusted": "verified", "untrusted": "failed", "dane-failed": "failed"}


def rows():
    with open(os.path.join(HERE, "mua-scenarios.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, l.rstrip("\n").split("\t"))) for l in f if l.strip()]


# --- daneel -----------------------------------------------------------------------------------
def run_daneel(binary, domain, services, runtime):
    cmd = [binary, "mua", domain, "--service", ",".join(services), "--ca-file", CA,
           "--resolver", RESOLVER, "--json", "-4", "--timeout", "15"]
    if runtime == "smol":
        cmd.append("--smol")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        return json.loads(p.stdout), p.returncode
    except json.JSONDecodeError:
        return None, p.returncode


def connections(report, domain):
    """(domain, service, target, port, address) -> (service report, target report, connection)."""
    out = {}
    for s in report.get("services", []):
        for t in s.get("targets", []):
            for c in t.get("connections", []):
                addr, port = c["address"].rsplit(":", 1)
                out[(domain, s["service"], t["name"], port, addr)] = (s, t, c)
    return out


# --- the referee: DNS -------------------------------------------------------------------------
def dig(name, rtype):
    """(secure, [rdata fields]) for the RRset of type rtype at name, through the lab resolver;
    secure = the resolver set AD. An error status raises."""
    p = subprocess.run(["dig", "+dnssec", "+tries=2", "+time=3", "@" + RESOLVER, name, rtype],
                       capture_output=True, text=True, timeout=30)
    status = re.search(r"status: (\w+)", p.stdout)
    flags = re.search(r";; flags:([^;]*);", p.stdout)
    if not status or not flags:
        raise RuntimeError("dig %s %s: no answer" % (name, rtype))
    if status.group(1) not in ("NOERROR", "NXDOMAIN"):
        raise RuntimeError("dig %s %s: %s" % (name, rtype, status.group(1)))
    records = []
    for line in p.stdout.splitlines():
        f = line.split()
        if line.startswith(";") or len(f) < 5 or f[3] != rtype:
            continue
        records.append(f[4:])
    return "ad" in flags.group(1).split(), records


def referee_dns(domain, service, target, port):
    """What RFC 7673 says for this target, from the referee's own DNS lookups."""
    srv_secure, srv = dig("%s.%s" % (SRV_NAMES[service], domain), "SRV")
    listed = any(r[2] == port and r[3].rstrip(".").lower() == target.lower() for r in srv)
    addr_secure, _a = dig(target, "A")
    tlsa_secure, usable = False, []
    if srv_secure and addr_secure:  # RFC 7673 sec. 3.1, 3.2: no TLSA query otherwise
        tlsa_secure, recs = dig("_%s._tcp.%s" % (port, target), "TLSA")
        if tlsa_secure:
            usable = ["%s %s %s %s" % (r[0], r[1], r[2], "".join(r[3:]).lower()) for r in recs
                      if r[0] in "0123" and r[1] in "01" and r[2] in "012"]
    names = [target, domain] if srv_secure else [domain]
    return dict(srv_secure=srv_secure, listed=listed, addr_secure=addr_secure,
                tlsa_secure=tlsa_secure, usable=usable, names=names,
                sni=target if srv_secure else domain)


# --- the referee: TLS -------------------------------------------------------------------------
def s_client(address, port, sni, starttls, dane, name):
    """One openssl s_client run: ('verified'|'failed'|'error', detail)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%s" % (address, port)]
    cmd += ["-servername", sni] if sni else ["-noservername"]
    cmd += ["-verify_return_error", "-brief", "-CAfile", CA]
    if starttls:
        cmd += ["-starttls", starttls]
    if dane:  # the DANE domain is openssl's only reference identifier under DANE
        cmd += ["-dane_tlsa_domain", name]
        for rr in dane:
            cmd += ["-dane_tlsa_rrdata", rr]
        cmd.append("-dane_ee_no_namechecks")
    else:
        cmd += ["-verify_hostname", name]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "error", "openssl timed out"
    out = p.stdout + p.stderr
    if "Verification: OK" in out:
        m = re.search(r"DANE TLSA (\d \d \d) \S+ matched (\w+) certificate at depth (\d+)", out)
        peer = re.search(r"Verified peername: (\S+)", out)
        detail = "OK" + (" (DANE %s %s depth %s)" % m.groups() if m else "")
        return "verified", detail + (" peername " + peer.group(1) if peer else "")
    err = re.search(r"verify error:num=\d+:([^\n]+)", out)
    if err:
        return "failed", err.group(1).strip()
    last = [l for l in out.splitlines() if l.strip()]
    return "error", (last[-1][:100] if last else "exit %s" % p.returncode)


def referee(address, port, starttls, facts):
    """The referee's verdict for one connection: (verdict, what it ran, detail)."""
    dane = facts["usable"]
    ee_only = dane and all(r.startswith("3 ") for r in dane)
    names = facts["names"][:1] if ee_only else facts["names"]  # names[0]: the target
    results = [(n, s_client(address, port, facts["sni"], starttls, dane, n)) for n in names]
    mode = ("DANE %s" % ", ".join(r[:5] for r in dane)) if dane else "PKIX"
    ok = [(n, d) for n, (v, d) in results if v == "verified"]
    if ok:
        return "verified", mode, ok[0][1] + ("" if ee_only else " for " + ok[0][0])
    failed = [(n, d) for n, (v, d) in results if v == "failed"]
    if failed:
        return "failed", mode, "; ".join(("" if ee_only else n + ": ") + d for n, d in failed)
    return "error", mode, "; ".join(d for _n, (_v, d) in results)


# --- the compatibility matrix (issue 10) ------------------------------------------------------
# Per PKIX class, the name its clients expect: legacy the SRV target, RFC 6186 the mail domain.
MATRIX_CLASSES = {"legacy": "target", "rfc6186": "domain"}


def matrix_cells(report, domain):
    """Every tried PKIX cell of daneel's matrix: (service, class, cell, expected name)."""
    for s in (report or {}).get("services", []):
        for cls, which in MATRIX_CLASSES.items():
            for c in ((s.get("compatibility") or {}).get(cls) or {}).get("cells", []):
                if c.get("accepted") is None or not c.get("address"):
                    continue
                yield s["service"], cls, c, c["target"] if which == "target" else domain


def referee_matrix(reports, pool):
    """openssl s_client, with the cell's SNI or none and -verify_hostname the class's name,
    against every tried PKIX cell of every report: [(label, problem or None)]."""
    cells = []
    for (domain, runtime), (report, _code) in reports.items():
        for service, cls, c, name in matrix_cells(report, domain):
            address, port = c["address"].rsplit(":", 1)
            key = (address, port, STARTTLS.get(service), c.get("sni"), name)
            cells.append(("%s %s %s %s:%s SNI %s (%s)" % (domain, runtime, service, c["target"], port,
                                                           c.get("sni") or "none", cls), c, key))
    keys = sorted({k for _l, _c, k in cells}, key=str)
    runs = {k: pool.submit(s_client, k[0], k[1], k[3], k[2], None, k[4]) for k in keys}
    runs = {k: f.result() for k, f in runs.items()}
    out = []
    for label, c, key in cells:
        verdict, detail = runs[key]
        want = "verified" if c["accepted"] else "failed"
        problem = None if verdict == want else "daneel %s, openssl %s (%s)" % (
            "accepted" if c["accepted"] else "refused", verdict, detail)
        out.append((label, problem))
    return out


# --- comparison -------------------------------------------------------------------------------
def check_connection(key, per_runtime, facts, ref):
    """Problems of one connection against the referee, over every runtime."""
    problems = []
    verdict = ref[0]
    if verdict == "error":
        problems.append("referee could not decide: " + ref[2])
    if not facts["listed"]:
        problems.append("target not in the referee's SRV RRset")
    for runtime, (s, t, c) in per_runtime.items():
        got = AS_REFEREE.get(c["verdict"], c["verdict"])
        if got != verdict:
            problems.append("%s: connection %s, openssl %s" % (runtime, c["verdict"], verdict))
        sni = (c.get("tls") or {}).get("sni")
        if sni != facts["sni"]:
            problems.append("%s: SNI %s, RFC 7673 wants %s" % (runtime, sni, facts["sni"]))
        ids = [n.lower() for n in t.get("reference_ids") or []]
        if sorted(ids) != sorted(n.lower() for n in facts["names"]):
            problems.append("%s: reference ids %s, RFC 7673 sec. 4.1 wants %s" % (
                runtime, ",".join(ids), ",".join(facts["names"])))
    return problems


def expectation_problems(row, runtime, service_report, conn):
    problems = []
    if service_report is None:
        return ["%s: service %s missing from the report" % (runtime, row["service"])]
    if service_report["verdict"] != row["daneel_verdict"]:
        problems.append("%s: service %s, want %s" % (runtime, service_report["verdict"], row["daneel_verdict"]))
    if row["connection"] == "-":
        return problems
    if conn is None:
        return problems + ["%s: no connection to %s:%s" % (runtime, row["address"], row["port"])]
    if conn["verdict"] != row["connection"]:
        problems.append("%s: connection %s, want %s" % (runtime, conn["verdict"], row["connection"]))
    auth = conn.get("authenticated_by") or "-"
    if auth != row["authenticated_by"]:
        problems.append("%s: authenticated_by %s, want %s" % (runtime, auth, row["authenticated_by"]))
    return problems


def describe(conn):
    if conn is None:
        return "no connection"
    bits = [conn["verdict"]]
    if conn.get("authenticated_by"):
        bits.append("by " + conn["authenticated_by"])
    if conn.get("authenticated_name"):
        bits.append("as " + conn["authenticated_name"])
    if conn.get("matched"):
        bits.append(conn["matched"]["record"][:5])
    if conn.get("reason"):
        bits.append("(%s)" % conn["reason"].get("code"))
    return " ".join(bits)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    binary, args = sys.argv[1], sys.argv[2:]
    out = option(args, "--out")
    jobs = int(option(args, "--jobs", os.environ.get("DANEEL_LAB_JOBS", "4")))
    runtimes = option(args, "--runtimes", "tokio,smol").split(",")
    table_rows = rows()
    t0 = time.time()
    domains = []
    for r in table_rows:
        if r["domain"] not in [d for d, _ in domains]:
            domains.append((r["domain"], []))
        services = dict(domains)[r["domain"]]
        if r["service"] not in services:
            services.append(r["service"])
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = {(d, rt): pool.submit(run_daneel, binary, d, svcs, rt) for d, svcs in domains for rt in runtimes}
        reports = {k: f.result() for k, f in runs.items()}
        # every connection of every report, by (domain, service, target, port, address)
        conns = {}
        for (d, rt), (report, _code) in reports.items():
            for key, val in (connections(report, d) if report else {}).items():
                conns.setdefault(key, {})[rt] = val
        facts = {k: pool.submit(referee_dns, k[0], k[1], k[2], k[3]) for k in conns}
        facts = {k: f.result() for k, f in facts.items()}
        refs = {k: pool.submit(referee, k[4], k[3], STARTTLS.get(k[1]), facts[k]) for k in conns}
        refs = {k: f.result() for k, f in refs.items()}
        matrix = referee_matrix(reports, pool)
    elapsed = time.time() - t0

    table = ["| row | domain | service | target:port | expected (service / connection / by) | "
             + " | ".join("daneel %s (service / connection)" % rt for rt in runtimes)
             + " | referee (openssl s_client) | agreement |",
             "|---|---|---|---|---|" + "---|" * len(runtimes) + "---|---|"]
    passed = failed = 0
    failing = []
    seen = set()
    for d, _svcs in domains:
        for rt in runtimes:
            if reports[(d, rt)][0] is None:
                failed += 1
                failing.append("%s/%s" % (d, rt))
                table.append("| - | %s | - | - | - | %s: no JSON (exit %s) | - | **FAIL** |" % (d, rt, reports[(d, rt)][1]))
    for row in table_rows:
        key = (row["domain"], row["service"], row["target"], row["port"], row["address"])
        seen.add(key)
        cells, problems = [], []
        for rt in runtimes:
            report = reports[(row["domain"], rt)][0] or {}
            svc = next((s for s in report.get("services", []) if s["service"] == row["service"]), None)
            conn = conns.get(key, {}).get(rt, (None, None, None))[2]
            cells.append("%s / %s" % (svc["verdict"] if svc else "-", describe(conn)))
            problems += expectation_problems(row, rt, svc, conn)
        if key in conns:
            ref = refs[key]
            ref_text = "%s (%s, SNI %s): %s" % (ref[0], ref[1], facts[key]["sni"], ref[2])
            problems += check_connection(key, conns[key], facts[key], ref)
        else:
            ref_text = "-"
        if problems:
            note = "**FAIL** " + "; ".join(problems)
            failed += 1
            failing.append(row["id"])
        else:
            note = "agree"
            passed += 1
        table.append("| " + " | ".join(cell(c) for c in [
            row["id"], row["domain"], row["service"], "%s:%s" % (row["target"], row["port"]),
            "%s / %s / %s" % (row["daneel_verdict"], row["connection"], row["authenticated_by"])]
            + cells + [ref_text, note]) + " |")
    # connections daneel made that no row lists: refereed all the same
    for key in sorted(set(conns) - seen):
        ref = refs[key]
        problems = check_connection(key, conns[key], facts[key], ref)
        cells = [describe(conns[key].get(rt, (None, None, None))[2]) for rt in runtimes]
        note = "agree (no row)" if not problems else "**FAIL** " + "; ".join(problems)
        if problems:
            failed += 1
            failing.append("%s %s:%s" % (key[1], key[2], key[3]))
        else:
            passed += 1
        table.append("| " + " | ".join(cell(c) for c in [
            "-", key[0], key[1], "%s:%s" % (key[2], key[3]), "(not in the table)"] + cells
            + ["%s (%s): %s" % ref, note]) + " |")
    # the compatibility matrix: every tried legacy / RFC 6186 cell refereed on its own
    table += ["", "| compatibility cell | agreement |", "|---|---|"]
    for label, problem in matrix:
        table.append("| %s | %s |" % (cell(label), "agree" if problem is None else "**FAIL** " + cell(problem)))
        if problem:
            failed += 1
            failing.append("matrix " + label)
        else:
            passed += 1
    text = "\n".join(table)
    overall = ["%s %s: %s" % (d, rt, (reports[(d, rt)][0] or {}).get("verdict", "?"))
               for d, _s in domains for rt in runtimes]
    summary = ["", "overall verdicts: " + ", ".join(overall),
               "connections refereed: %d (openssl s_client), compatibility cells: %d, daneel runs: %d"
               % (len(conns), len(matrix), len(reports))]
    if failing:
        summary.append("failing: " + " ".join(failing))
    summary.append("mua: %d passed, %d failed (%d rows, %.1f s, %d jobs)" % (
        passed, failed, len(table_rows), elapsed, jobs))
    emit(text, summary, out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
