#!/usr/bin/env python3
"""In-core DNSSEC validation in the lab (issue 13): daneel validating every signature itself
through resolvers that do not validate, compared with daneel believing the validating unbound.

    validate-check.py DANEEL_BINARY STRIP_DNSSEC_BINARY [--out TABLE.md] [--only ID,...] [--jobs N]

For each port-25 row of scenarios.tsv:
  1. V trust-ad: `--resolver V --dnssec trust-ad` (the validating lab unbound's AD bit);
  2. P validate: `--resolver P --dnssec validate --trust-anchor <lab root DS>` through the
     plain lab unbound (module-config "iterator": it never validates, so bogus data reaches
     daneel, which must find it bogus itself). It must give the same domain verdict, the
     same verdict and reason for every connection and host, and the same DNSSEC status for
     every lookup (every "security" field of the report) as run 1: each lookup's status
     agrees with unbound's;
  3. S strip: the same as 2 through a forwarder that strips RRSIG, NSEC, NSEC3 and DS
     records (strip-dnssec, started here on 127.10.0.55): the capability probe must catch it
     (temp-fail, resolver-not-validating);
  4. L sly strip: the same forwarder sparing the root DNSKEY's RRSIGs (127.10.0.56), so it
     passes the probe and the chain walker meets the stripped answers itself.
  For 3 and 4, no check may end dane-verified, dane-trusted, dane-partial or no-dane (a
  stripped proof is never an insecure delegation), and no connection may be authenticated
  or made in clear.
Then for every domain of mua-scenarios.tsv, `daneel mua` with its services: V trust-ad and
P validate must agree (service verdicts, every connection's verdict and reason, every
lookup's status), and L sly strip must authenticate nothing.
Then once, for S01: P with `--dnssec validate` and the embedded IANA root anchors instead of
the lab's: temp-fail with trust-anchor-mismatch (the anchor matches no key of the lab root).
Exits 1 on any disagreement; prints a markdown table and a summary.
"""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import RESOLVER, PLAIN, SKIP, rows, run_daneel, option, cell, emit  # noqa: E402

STRIP = os.environ.get("DANEEL_LAB_STRIP_RESOLVER", "127.10.0.55")
# The same forwarder sparing the root DNSKEY's RRSIGs: it passes the capability probe.
SLY = os.environ.get("DANEEL_LAB_SLY_RESOLVER", "127.10.0.56")
STATE = os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab")
ANCHOR = os.path.join(STATE, "dns", "root.ds")
CA = os.environ.get("DANEEL_LAB_CA") or os.path.join(STATE, "pki", "root.crt")
# Verdicts that would mean a stripped answer was believed.
BELIEVED = {"dane-verified", "dane-trusted", "dane-partial", "no-dane"}


def securities(node, path="", out=None):
    """Every "security" field of the report, by its JSON path (lists by position)."""
    out = {} if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "security" and isinstance(v, str):
                out[path + "/security"] = v
            elif k not in ("log", "resolver", "resolvers", "warnings"):
                securities(v, path + "/" + k, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            securities(v, "%s[%d]" % (path, i), out)
    return out


def decisions(report):
    """The domain verdict and, per host and connection, verdict and reason code."""
    def code(x):
        return ((x or {}).get("reason") or {}).get("code")
    hosts = []
    for h in report.get("hosts", []):
        conns = [(c.get("address"), c.get("verdict"), code(c)) for c in h.get("connections", [])]
        hosts.append((h.get("name"), h.get("verdict"), code(h), conns))
    return (report.get("verdict"), code(report), hosts)


def agreement(ad, val, decide, problems):
    """The trust-ad report `ad` and the validate report `val` must decide alike (`decide`)
    and give every lookup the same status; what differs goes to `problems`."""
    if decide(ad) != decide(val):
        problems.append("decisions differ: V %s / P %s" % (decide(ad), decide(val)))
    sa, sv = securities(ad), securities(val)
    if sa != sv:
        diff = sorted(k for k in set(sa) | set(sv) if sa.get(k) != sv.get(k))
        problems.append("statuses differ at %s" % ", ".join(
            "%s (V %s, P %s)" % (k, sa.get(k), sv.get(k)) for k in diff[:4]))


def connections(report):
    return [c for h in report.get("hosts", []) for c in h.get("connections", [])]


def run_row(binary, row):
    sid = row["id"]
    validate = ["--dnssec", "validate", "--trust-anchor", ANCHOR]
    ad, _ = run_daneel(binary, row, [RESOLVER], ["--dnssec", "trust-ad"])
    val, vcode = run_daneel(binary, row, [PLAIN], validate)
    strip, scode = run_daneel(binary, row, [STRIP], validate)
    sly, lcode = run_daneel(binary, row, [SLY], validate)
    problems = []
    if ad is None or val is None:
        problems.append("no JSON (V exit ?, P exit %s)" % vcode)
    else:
        if ad["verdict"] != row["daneel_verdict"]:
            problems.append("V trust-ad gives %s, table says %s" % (ad["verdict"], row["daneel_verdict"]))
        agreement(ad, val, decisions, problems)
        if (val.get("resolver") or {}).get("mode") != "validate":
            problems.append("P run not in mode validate: %s" % val.get("resolver"))
    strip_texts = []
    for label, report, exit_code in (("strip", strip, scode), ("sly", sly, lcode)):
        if report is None:
            problems.append("%s: no JSON (exit %s)" % (label, exit_code))
            strip_texts.append("no JSON (exit %s)" % exit_code)
            continue
        reason = ((report.get("reason") or {}).get("code"))
        strip_texts.append("%s%s" % (report["verdict"], " (%s)" % reason if reason else ""))
        if report["verdict"] in BELIEVED:
            problems.append("%s: %s behind a stripping forwarder" % (label, report["verdict"]))
        for c in connections(report):
            if c.get("verdict") in ("verified", "trusted", "untrusted", "plaintext"):
                problems.append("%s: connection %s %s" % (label, c.get("address"), c.get("verdict")))
    if strip is not None and ((strip.get("reason") or {}).get("code")) != "resolver-not-validating":
        problems.append("strip: the capability probe did not catch the stripping forwarder")
    ok = not problems
    vtext = "-" if val is None else val["verdict"]
    line = "| %s | %s | %s | %s | %s | %s | %s |" % tuple(cell(c) for c in [
        sid, row["domain"], "-" if ad is None else ad["verdict"], vtext] + strip_texts + [
        "agree" if ok else "**FAIL** " + "; ".join(problems)])
    return line, ok


def run_mua(binary, domain, services, resolver, extra):
    cmd = [binary, "mua", domain, "--service", ",".join(services), "--ca-file", CA,
           "--resolver", resolver, "--json", "-4", "--timeout", "15"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        return None


def mua_decisions(report):
    def code(x):
        return ((x or {}).get("reason") or {}).get("code")
    out = [report.get("verdict")]
    for s in report.get("services", []):
        out.append((s.get("service"), s.get("verdict"), code(s)))
        for t in s.get("targets", []):
            for c in t.get("connections", []):
                out.append((t.get("name"), c.get("address"), c.get("verdict"), code(c)))
    return out


def mua_domains():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mua-scenarios.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        rows_ = [dict(zip(header, l.rstrip("\n").split("\t"))) for l in f if l.strip()]
    domains = {}
    for r in rows_:
        domains.setdefault(r["domain"], [])
        if r["service"] not in domains[r["domain"]]:
            domains[r["domain"]].append(r["service"])
    return sorted(domains.items())


def mua_row(binary, domain, services):
    validate = ["--dnssec", "validate", "--trust-anchor", ANCHOR]
    ad = run_mua(binary, domain, services, RESOLVER, ["--dnssec", "trust-ad"])
    val = run_mua(binary, domain, services, PLAIN, validate)
    sly = run_mua(binary, domain, services, SLY, validate)
    problems = []
    if ad is None or val is None or sly is None:
        problems.append("no JSON")
    else:
        agreement(ad, val, mua_decisions, problems)
        for s in sly.get("services", []):
            for t in s.get("targets", []):
                for c in t.get("connections", []):
                    if c.get("verdict") in ("verified", "trusted", "untrusted", "plaintext"):
                        problems.append("sly: %s %s" % (c.get("address"), c.get("verdict")))
    ok = not problems
    line = "| mua %s | %s | %s | %s | %s | - | %s |" % tuple(cell(c) for c in [
        domain, ",".join(services), (ad or {}).get("verdict"), (val or {}).get("verdict"),
        (sly or {}).get("verdict"), "agree" if ok else "**FAIL** " + "; ".join(problems)])
    return line, ok


def iana_anchor_check(binary):
    row = next(r for r in rows() if r["id"] == "S01")
    report, code = run_daneel(binary, row, [PLAIN], ["--dnssec", "validate"])
    reason = ((report or {}).get("reason") or {}).get("code")
    ok = report is not None and report["verdict"] == "temp-fail" and reason == "trust-anchor-mismatch"
    return ok, "S01 through P with the IANA root anchors: %s (%s), exit %s: %s" % (
        (report or {}).get("verdict"), reason, code, "agree" if ok else "**FAIL**")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    binary, strip_binary = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    out = option(args, "--out")
    only = set(option(args, "--only").split(",")) if "--only" in args else None
    jobs = int(option(args, "--jobs", os.environ.get("DANEEL_LAB_JOBS", "4")))
    selected = [r for r in rows() if r.get("port", "25") == "25" and r["id"] not in SKIP
                and (only is None or r["id"] in only)]
    forwarders = [subprocess.Popen([strip_binary, STRIP + ":53", PLAIN + ":53"]),
                  subprocess.Popen([strip_binary, SLY + ":53", PLAIN + ":53", "--keep-root-keys"])]
    try:
        time.sleep(0.3)
        t0 = time.time()
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(lambda r: run_row(binary, r), selected))
            mua = [] if only else list(pool.map(lambda d: mua_row(binary, d[0], d[1]), mua_domains()))
        anchor_ok, anchor_line = iana_anchor_check(binary)
        elapsed = time.time() - t0
    finally:
        for f in forwarders:
            f.kill()
            f.wait()
    table = ["| scenario | domain | V trust-ad | P validate | S strip + validate | L sly strip + validate | agreement |",
             "|---|---|---|---|---|---|---|"]
    table += [line for line, _ in results]
    table += [line for line, _ in mua]
    failed = [r["id"] for r, (_, ok) in zip(selected, results) if not ok]
    failed += [d for (d, _), (_, ok) in zip(mua_domains(), mua) if not ok]
    summary = ["", anchor_line,
               "in-core validation: %d passed, %d failed%s (%d rows, %.1f s, %d jobs)" % (
                   len(selected) + len(mua) - len(failed) + (1 if anchor_ok else 0),
                   len(failed) + (0 if anchor_ok else 1),
                   (" (" + " ".join(failed) + ")") if failed else "", len(selected) + len(mua),
                   elapsed, jobs)]
    emit("\n".join(table), summary, out)
    return 1 if failed or not anchor_ok else 0


if __name__ == "__main__":
    sys.exit(main())
