#!/usr/bin/env python3
"""`daneel scan` side by side with posttls-finger on the lab's generated domains (issue 14).

    scan-bench.py DANEEL_BINARY [--limit N] [--jobs N] [--daneel auto|scan|check]
                  [--scan-arg ARG]... [--check-each] [--no-ptf] [--out TABLE.md]

Runs with the lab up (lab.sh up; it serves DANEEL_LAB_SCAN_DOMAINS generated domains, listed
with their expected verdicts in $DANEEL_LAB_DIR/scan-domains.tsv), as root, in the lab's
network namespace. In one invocation, on the same domains:

  1. daneel: `daneel scan LIST --resolver 127.10.0.53 -4 --no-progress [--scan-arg ...]`
     (JSON lines, one report per domain, the schema of `check --json`), one process for all
     domains (--daneel scan). With --daneel check, or with auto when the
     binary has no `scan` command yet, `daneel check DOMAIN --resolver ... -4 --json` per
     domain, --jobs at a time (default 2).
  2. posttls-finger: one process per domain, --jobs at a time, with the options of
     posttls-finger.sh (`posttls-finger.sh --argv`). It resolves through libc, so the whole
     script re-runs itself under `unshare -m` with the lab resolv.conf bind-mounted on
     /etc/resolv.conf (the trick of posttls-finger.sh, here once for the run).
  3. --check-each: `daneel check` per domain again, --jobs at a time; each verdict must equal
     the scan's.

For each it prints domains, wall seconds, domains per second, CPU seconds per domain (user +
sys of the child processes: resource.getrusage(RUSAGE_CHILDREN) before and after), the scan's
peak RSS ("Maximum resident set size" of /usr/bin/time -v, which runs it when installed; the
rusage of a child forked by python would start from python's own RSS), then the ratios daneel /
posttls-finger.

It asserts verdicts, never time: every daneel verdict must be the expected one of
scan-domains.tsv (and, with --check-each, the per-domain check's), each domain reported once;
every posttls-finger connection must agree with the kind of the MX host it reached (ee, ta:
Verified; bad: Untrusted, "no matching DANE TLSA records"; none, and the hosts of the unsigned
zone: Untrusted after "no TLSA records found"), and its first connection must be the domain's
first MX host. posttls-finger stops at the first MX host whose session succeeds, so of a domain
with two MX hosts it only judges the first. Exit 1 on any disagreement. The daneel part runs
first, so after a minute of lab idleness it meets a cold resolver cache (unbound's
cache-max-ttl is 60 s) and posttls-finger a warm one: the order never favours daneel.
"""
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from compare import RESOLVER, option  # noqa: E402

STATE = os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab")
TSV = os.environ.get("DANEEL_LAB_SCAN_TSV", os.path.join(STATE, "scan-domains.tsv"))
NS_MARK = "DANEEL_SCAN_BENCH_NS"
# What posttls-finger must say for each kind of MX host (labgen.py SCAN_HOST_KINDS): its
# class, and a substring of its errors or flags (None: nothing required).
PTF_BY_KIND = {
    "ee": ("Verified", None),
    "ta": ("Verified", None),
    "bad": ("Untrusted", "no matching DANE TLSA records"),
    "none": ("Untrusted", "no-tlsa-secure"),
    "insecure": ("Untrusted", "no-tlsa-secure"),
}
ptf_parser = importlib.util.spec_from_file_location("parse_ptf", os.path.join(HERE, "parse-ptf.py"))
parse_ptf = importlib.util.module_from_spec(ptf_parser)
ptf_parser.loader.exec_module(parse_ptf)


def load_domains(limit):
    rows = []
    with open(TSV) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                r = dict(zip(header, line.rstrip("\n").split("\t")))
                mx = [item.split("=", 1) for item in r["mx"].split(",")]  # name=kind@address
                r["order"] = [name for name, _ in mx]
                r["hosts"] = {name: rest.split("@", 1)[0] for name, rest in mx}
                rows.append(r)
    return rows[:limit] if limit else rows


def run(cmd, timeout, merge=False):
    """(stdout, stderr, exit code) of cmd, stderr into stdout with merge; a run that times out
    is killed and says so."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, errors="replace",
                           stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        return p.stdout, p.stderr or "", p.returncode
    except subprocess.TimeoutExpired as e:
        return e.stdout or "", "timed out after %d s" % timeout, -9


class Phase:
    """Wall time and CPU of the children (RUSAGE_CHILDREN delta) of one part."""

    def __init__(self, name):
        self.name, self.rss_kb, self.stderr = name, None, ""

    def __enter__(self):
        self.ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = (ru1.ru_utime - self.ru0.ru_utime) + (ru1.ru_stime - self.ru0.ru_stime)


def many(jobs, items, fn):
    """fn(item) for every item, `jobs` at a time; results in item order."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(fn, items))


def check_one(binary, domain):
    out, err, code = run([binary, "check", domain, "--resolver", RESOLVER, "-4", "--json",
                          "--timeout", "15"], 120)
    try:
        return json.loads(out).get("verdict", "?")
    except json.JSONDecodeError:
        return "no-json (exit %d: %s)" % (code, err.strip()[-200:])


def daneel_checks(binary, domains, jobs, name):
    with Phase(name) as ph:
        verdicts = many(jobs, [d["domain"] for d in domains], lambda d: check_one(binary, d))
    return ph, {d["domain"]: v for d, v in zip(domains, verdicts)}, []


def daneel_scan(binary, domains, scan_args):
    """One `daneel scan` over the list; returns the phase, {domain: verdict}, problems."""
    problems = []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(d["domain"] + "\n" for d in domains))
        listing = f.name
    cmd = [binary, "scan", listing, "--resolver", RESOLVER, "-4", "--no-progress"] + scan_args
    tv = listing + ".time"
    if os.access("/usr/bin/time", os.X_OK):
        cmd = ["/usr/bin/time", "-v", "-o", tv] + cmd
    with Phase("daneel scan") as ph:
        out, err, code = run(cmd, 3600)
    ph.stderr = err  # its summary table: verdicts, reasons, slowest domains, cache
    os.unlink(listing)
    if os.path.exists(tv):
        for line in open(tv):
            if "Maximum resident set size" in line:
                ph.rss_kb = int(line.rsplit(":", 1)[1])
        os.unlink(tv)
    verdicts = {}
    for line in out.splitlines():
        try:
            rep = json.loads(line)
        except json.JSONDecodeError:
            problems.append("scan: not JSON: %r" % line[:120])
            continue
        dom = str(rep.get("domain", "")).lower().rstrip(".")
        if dom in verdicts:
            problems.append("scan: %s reported twice" % dom)
        verdicts[dom] = rep.get("verdict", "no verdict: %s" % json.dumps(rep)[:120])
    if code != 0 or not verdicts:  # 0: every domain reported, whatever the verdicts
        problems.append("scan: exit %d, %d reports; stderr: %s" % (code, len(verdicts), err.strip()[-300:]))
    return ph, verdicts, problems


def ptf_one(argv, domain):
    out, err, code = run(argv + [domain], 90, merge=True)
    return parse_ptf.parse(("=== - domain %s\n" % domain + out + err).splitlines()), code


def ptf_problems(row, recs):
    """Where posttls-finger's connections disagree with the kinds of the MX hosts reached."""
    conns = [r for r in recs if r["address"] != "-"]
    if not conns:
        return ["no connection: %s" % "; ".join(e for r in recs for e in r["errors"])]
    bad = []
    first = conns[0]["address"].split("[", 1)[0]
    if first != row["order"][0]:
        bad.append("first connection to %s, not the first MX %s" % (first, row["order"][0]))
    for c in conns:
        host = c["address"].split("[", 1)[0]
        kind = row["hosts"].get(host)
        if kind is None:
            bad.append("connection to %s, not an MX host" % host)
            continue
        cls, needle = PTF_BY_KIND[kind]
        said = " ".join(c["errors"] + c["flags"])
        if c["class"] != cls or (needle and needle not in said):
            bad.append("%s (%s): %s %s, want %s%s" % (host, kind, c["class"], said, cls,
                                                        " + " + needle if needle else ""))
    return bad


def ptf_phase(domains, jobs):
    argv = subprocess.run([os.path.join(HERE, "posttls-finger.sh"), "--argv"], check=True,
                          capture_output=True, text=True).stdout.splitlines()
    # Postfix re-reads a main.cf changed within the last second or so until it is older
    # (dict_load_file_xt): let a fresh one age before the clock starts, or the first runs wait
    conf = [a.split("=", 1)[1] for a in argv if a.startswith("MAIL_CONFIG=")][0]
    time.sleep(max(0.0, 2.5 - (time.time() - os.stat(os.path.join(conf, "main.cf")).st_mtime)))
    with Phase("posttls-finger") as ph:
        results = many(jobs, [d["domain"] for d in domains], lambda d: ptf_one(argv, d))
    problems = []
    for row, (recs, code) in zip(domains, results):
        for p in ptf_problems(row, recs) + (["exit %d" % code] if code else []):
            problems.append("posttls-finger %s: %s" % (row["domain"], p))
    return ph, problems


def verdict_problems(label, domains, verdicts, want):
    problems = []
    for d in domains:
        got = verdicts.get(d["domain"])
        if got != want(d):
            problems.append("%s %s: %s, want %s (%s)" % (label, d["domain"], got, want(d), d["kind"]))
    extra = set(verdicts) - {d["domain"] for d in domains}
    problems += ["%s: unexpected report for %s" % (label, e) for e in sorted(extra)]
    return problems


def line(ph, n):
    rss = "%.1f" % (ph.rss_kb / 1024) if ph.rss_kb else "-"
    return "| %s | %d | %.2f | %.1f | %.3f | %.2f | %s |" % (
        ph.name, n, ph.wall, n / ph.wall, ph.cpu, 1000 * ph.cpu / n, rss)


def has_scan(binary):
    return subprocess.run([binary, "scan", "--help"], capture_output=True).returncode == 0


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 64
    binary = os.path.abspath(args[0])
    no_ptf = "--no-ptf" in args
    if not no_ptf and os.environ.get(NS_MARK) != "1":
        # posttls-finger resolves through libc: run everything in a private mount namespace
        # whose /etc/resolv.conf is the lab's (the real one is never touched)
        env = dict(os.environ, **{NS_MARK: "1"})
        script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
        os.execvpe("unshare", ["unshare", "-m", "--", "sh", "-c", script, "sh",
                               os.path.join(STATE, "resolv.conf"), sys.executable,
                               os.path.abspath(__file__)] + args, env)
    limit = int(option(args, "--limit", "0"))
    jobs = int(option(args, "--jobs", "2"))
    mode = option(args, "--daneel", "auto")
    scan_args = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--scan-arg"]
    domains = load_domains(limit)
    if not domains:
        print("scan-bench: no domains in %s (DANEEL_LAB_SCAN_DOMAINS=0?): nothing checked" % TSV)
        return 2
    if mode == "auto":
        mode = "scan" if has_scan(binary) else "check"
    n = len(domains)
    print("scan-bench: %d domains from %s, daneel %s (%s), posttls-finger %s, %d at a time, resolver %s"
          % (n, TSV, binary, mode, "skipped" if no_ptf else "one per domain", jobs, RESOLVER), flush=True)
    want = lambda d: d["verdict"]  # noqa: E731
    if mode == "scan":
        dph, verdicts, problems = daneel_scan(binary, domains, scan_args)
    else:
        dph, verdicts, problems = daneel_checks(binary, domains, jobs, "daneel check x%d" % jobs)
    problems += verdict_problems(dph.name, domains, verdicts, want)
    phases = [dph]
    if not no_ptf:
        pph, pp = ptf_phase(domains, jobs)
        phases.append(pph)
        problems += pp
    if "--check-each" in args and mode == "scan":
        cph, each, _ = daneel_checks(binary, domains, jobs, "daneel check x%d" % jobs)
        phases.append(cph)
        problems += verdict_problems("check vs scan", domains, each,
                                     lambda d: verdicts.get(d["domain"]))
    counts = {}
    for v in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    table = ["| run | domains | wall s | domains/s | CPU s | CPU ms/domain | peak RSS MB |",
             "|---|---|---|---|---|---|---|"] + [line(ph, n) for ph in phases]
    if not no_ptf:
        ptf = phases[1]
        table.append("")
        table.append("%s / posttls-finger: %.1fx the domains per second, %.1fx less CPU per domain "
                     "(%.2f vs %.2f ms)" % (dph.name, ptf.wall / dph.wall, ptf.cpu / max(dph.cpu, 1e-9),
                                            1000 * dph.cpu / n, 1000 * ptf.cpu / n))
    table.append("daneel verdicts: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    text = "\n".join(table)
    print(text)
    if dph.stderr.strip():
        print("\n%s said on stderr:\n%s" % (dph.name, dph.stderr.rstrip()))
    out = option(args, "--out", None)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    for p in problems:
        print("DISAGREE " + p)
    print("scan-bench: %d domains, %d disagreements" % (n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
