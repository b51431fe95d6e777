#!/usr/bin/env python3
"""Parse posttls-finger output (as printed by posttls-finger.sh) into one record per connection.

    posttls-finger.sh S01 | parse-ptf.py          # JSON lines
    posttls-finger.sh S01 | parse-ptf.py --tsv    # TSV (header first)
    ... | parse-ptf.py --tsv --stable              # without TLSA data (changes every lab up)

Runs are separated by the "=== ID FORM DEST" headers of posttls-finger.sh; without a header the
whole input is one run. A run that never connects (MX lookup failure, TLSA lookup error, null
MX) still yields one record, with address "-".

Record fields:
  id, form (domain|host|raw), dest      the run
  address     host[ip]:port or "-"
  class       Verified | Trusted | Untrusted | Anonymous | none (no TLS summary line)
  tls         "TLSv1.3 TLS_AES_256_GCM_SHA384" or ""
  matched     list of "EE|TA|TA-pkey depth N: u s m data" (certmatch lines)
  peername    "matched peername" value or ""
  flags       no-tlsa-secure ("no TLSA records found, resorting to \"secure\""),
              no-usable-tlsa-secure, all-tlsa-unusable, mx-insecure-trusted,
              unsupported-usage, unusable-rr, starttls-not-offered
  errors      TLSA lookup error, certificate verification failures, SSL_connect and
              TLS library errors, destination lookup failures, connect failures
posttls-finger always exits 0, so this output is the only verdict there is.
"""
import json
import re
import signal
import sys

P = r"posttls-finger: "
RE_HDR = re.compile(r"^=== (\S+) (\S+) (.*)$")
RE_TRY = re.compile(P + r"connect_addr: trying: (\S+)\[([^\]]+)\] port (\d+)")
RE_SUMMARY = re.compile(P + r"(Verified|Trusted|Untrusted|Anonymous) TLS connection (?:established|reused) to (\S+): (\S+) with cipher (\S+)")
RE_MATCH = re.compile(P + r"\S+: Matched DANE (EE certificate|TA certificate|TA public key verified certificate|raw public key)(?: at depth (\d+))?: (.*)$")
RE_PEER = re.compile(P + r"\S+: matched peername: (\S+)")
RE_EHLO_END = re.compile(P + r"< 250 ")
RE_EHLO_TLS = re.compile(P + r"< 250[ -]STARTTLS", re.I)
RE_SENT_EHLO = re.compile(P + r"> EHLO ")
RE_SENT_STARTTLS = re.compile(P + r"> STARTTLS")
ERRORS = [
    re.compile(P + r"Failed to establish session to .*?: (.*)$"),
    re.compile(P + r"Destination address lookup failed: (.*)$"),
    re.compile(P + r"((?:server |CA )?certificate verification failed for \S+: .*)$"),
    re.compile(P + r"(SSL_connect error to .*)$"),
    re.compile(P + r"warning: (TLS library problem: .*)$"),
    re.compile(P + r"(connect to .*)$"),
    re.compile(P + r"(.*(?:lost connection|timed out|Connection refused).*)$"),
    re.compile(r"^(posttls-finger\.sh: exit status .*)$"),
]
FLAGS = [
    ("no-tlsa-secure", re.compile(r'no TLSA records found, resorting to "secure"')),
    ("no-usable-tlsa-secure", re.compile(r'no usable TLSA records found, resorting to "secure"')),
    ("all-tlsa-unusable", re.compile(r"all TLSA records unusable")),
    ("mx-insecure-trusted", re.compile(r"MX RRset insecure: log verified as trusted")),
    ("mx-insecure-encrypt", re.compile(r"MX RRset insecure: just encrypt|MX RRset is insecure: try to encrypt")),
    ("unsupported-usage", re.compile(r"unsupported TLSA certificate usage")),
    ("unusable-rr", re.compile(r"unusable TLSA RR")),
]
KIND = {"EE certificate": "EE", "TA certificate": "TA",
        "TA public key verified certificate": "TA-pkey", "raw public key": "RPK"}


def new_conn(run, address="-"):
    return dict(id=run["id"], form=run["form"], dest=run["dest"], address=address,
                **{"class": "none"}, tls="", matched=[], peername="", flags=[], errors=[],
                _ehlo=0, _starttls_seen=False, _starttls_sent=False)


def finish(c, out):
    if c["_ehlo"] and not c["_starttls_seen"] and not c["_starttls_sent"] and c["class"] == "none" \
            and c["dest"] and ":465" not in c["dest"]:
        c["flags"].append("starttls-not-offered")
        c["errors"].append("STARTTLS not offered")
    for k in [k for k in c if k.startswith("_")]:
        del c[k]
    c["flags"] = sorted(set(c["flags"]))
    out.append(c)


def parse(lines):
    out = []
    run = dict(id="-", form="raw", dest="")
    pending = new_conn(run)   # pre-connection state of the run
    cur = None
    have_conn = False

    def close_run():
        nonlocal cur, pending, have_conn
        if cur is not None:
            finish(cur, out)
        elif not have_conn and (pending["errors"] or pending["flags"] or run["dest"]):
            finish(pending, out)
        cur, have_conn = None, False

    for line in lines:
        line = line.rstrip("\n")
        m = RE_HDR.match(line)
        if m:
            if run["dest"] or cur is not None or pending["errors"]:
                close_run()
            run = dict(id=m.group(1), form=m.group(2), dest=m.group(3))
            pending = new_conn(run)
            continue
        m = RE_TRY.search(line)
        if m:
            if cur is not None:
                finish(cur, out)
            cur = new_conn(run, f"{m.group(1)}[{m.group(2)}]:{m.group(3)}")
            cur["flags"] += pending["flags"]
            cur["errors"] += pending["errors"]
            pending = new_conn(run)
            have_conn = True
            continue
        tgt = cur if cur is not None else pending
        for name, rx in FLAGS:
            if rx.search(line):
                tgt["flags"].append(name)
        for rx in ERRORS:
            m = rx.search(line)
            if m:
                tgt["errors"].append(m.group(1).strip())
                break
        m = RE_SUMMARY.search(line)
        if m:
            tgt["class"] = m.group(1)
            tgt["tls"] = f"{m.group(3)} {m.group(4)}"
            continue
        m = RE_MATCH.search(line)
        if m:
            depth = f" depth {m.group(2)}" if m.group(2) else ""
            tgt["matched"].append(f"{KIND.get(m.group(1), m.group(1))}{depth}: {m.group(3)}")
            continue
        m = RE_PEER.search(line)
        if m:
            tgt["peername"] = m.group(1)
            continue
        if RE_SENT_EHLO.search(line):
            tgt["_ehlo"] += 1
        if RE_EHLO_TLS.search(line):
            tgt["_starttls_seen"] = True
        if RE_SENT_STARTTLS.search(line):
            tgt["_starttls_sent"] = True
    close_run()
    return out


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    recs = parse(sys.stdin)
    if "--stable" in sys.argv:  # drop what changes with every fresh lab (keys, digests)
        for r in recs:
            r["matched"] = [re.sub(r"^(.*?: \d+ \d+ \d+) .*$", r"\1", m) for m in r["matched"]]
    if "--tsv" in sys.argv:
        cols = ["id", "form", "dest", "address", "class", "tls", "matched", "peername", "flags", "errors"]
        print("\t".join(cols))
        for r in recs:
            print("\t".join("; ".join(r[c]) if isinstance(r[c], list) else str(r[c]) for c in cols))
    else:
        for r in recs:
            print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
