#!/usr/bin/env python3
"""`daneel send` against the lab's Postfix (issue 12).

The selfsigned listener (127.10.1.1) stores mail for s04.dane.lab (its TLSA record matches)
and s05.dane.lab (its TLSA record does not) in one maildir. Checks:
  - s04: exit 0; the stored message ends with the message sent, byte for byte (Postfix stores
    LF line ends; dots restored); Postfix's Received: says `with ESMTPS` and names the TLS
    version and cipher daneel reported (Postfix writes them in its `(using ... with cipher
    ...)` comment, not as the RFC 8314 sec. 4.3 `tls` clause); with --trace the message
    carries daneel's Transmitted: field with the TLSA marker;
  - s05: exit 75, nothing stored, the undelivered message left in the file the output names.
Usage: send-check.py DANEEL   (after `lab.sh up`; reads DANEEL_LAB_DIR)
"""
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESOLVER = "127.10.0.53"
STATE = Path(os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab"))
MAILDIR = STATE / "postfix" / "mail" / "store"

BODY = (b".a line that starts with a dot\r\n"
        b"..two dots\r\n"
        b"plain line\r\n"
        b".\r\n"
        b"last line\r\n")


def message(tag):
    return (b"From: sender@client.dane.lab\r\n"
            b"To: user@s04.dane.lab\r\n"
            b"Subject: daneel send interop " + tag.encode() + b"\r\n"
            b"Message-ID: <" + tag.encode() + b"@client.dane.lab>\r\n"
            b"\r\n" + BODY)


def stored_files():
    files = []
    for sub in ("new", "cur"):
        d = MAILDIR / sub
        if d.is_dir():
            files += sorted(d.iterdir())
    return files


def send(daneel, rcpt, msg, keep_dir, extra=()):
    args = [daneel, "send", "--from", "sender@client.dane.lab", "--to", rcpt,
            "--resolver", RESOLVER, "--ehlo", "client.dane.lab", "--keep-dir", keep_dir,
            "--timeout", "10", *extra]
    return subprocess.run(args, input=msg, capture_output=True, timeout=120)


def main():
    daneel = sys.argv[1]
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    keep_dir = tempfile.mkdtemp(prefix="daneel-send-")
    tag = f"t{int(time.time())}{os.getpid()}"
    before = set(stored_files())
    msg = message(tag)
    out = send(daneel, "user@s04.dane.lab", msg, keep_dir, ["--trace"])
    stdout = out.stdout.decode(errors="replace")
    check(out.returncode == 0, f"s04: exit 0 (got {out.returncode}: {stdout[-400:]} {out.stderr.decode(errors='replace')[-400:]})")
    # Only our message counts (its tag is in its header): another delivery into the lab's
    # maildir meanwhile must not be taken for it.
    new = []
    for _ in range(100):
        new = [f for f in stored_files() if f not in before and tag.encode() in f.read_bytes()]
        if new:
            break
        time.sleep(0.1)
    check(len(new) == 1, f"s04: one message stored in {MAILDIR} (got {len(new)})")
    if new:
        stored = new[0].read_bytes()
        head, _, body = stored.partition(b"\n\n")
        check(body == BODY.replace(b"\r\n", b"\n"),
              f"s04: the stored body is the body sent, byte for byte (LF), dots restored ({body!r})")
        sent_head = msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        check(all(line in head.split(b"\n") for line in sent_head),
              "s04: every header field sent is stored unchanged")
        headers = head.decode(errors="replace")
        unfolded = re.sub(r"\n[ \t]+", " ", headers)
        received = [l for l in unfolded.split("\n") if l.startswith("Received:")]
        check(any(" with ESMTPS " in r for r in received), f"s04: Received: with ESMTPS ({received})")
        m = re.search(r"Received: with ESMTPS tls (\S+) \((\S+)\)", stdout)
        check(m is not None, "s04: daneel reports the with type and the tls clause")
        if m:
            cipher, version = m.group(1), m.group(2)
            check(any(f"using {version} with cipher {cipher} " in r for r in received),
                  f"s04: Postfix's Received: names the TLS version {version} and cipher {cipher} daneel reported")
        transmitted = [l for l in unfolded.split("\n") if l.startswith("Transmitted:")]
        check(len(transmitted) == 1 and " with ESMTPS+TLSA; " in transmitted[0]
              and "checked mx.s04.dane.lab" in transmitted[0],
              f"s04: --trace added Transmitted: with the TLSA marker ({transmitted})")

    before = set(stored_files())
    msg = message(tag + "mismatch").replace(b"s04.dane.lab", b"s05.dane.lab")
    out = send(daneel, "user@s05.dane.lab", msg, keep_dir)
    stderr = out.stderr.decode(errors="replace")
    check(out.returncode == 75, f"s05 (TLSA mismatch): exit 75 (got {out.returncode})")
    # daneel never reached DATA (exit 75 and the kept file say so); this only confirms that
    # nothing carrying the tag arrived meanwhile.
    time.sleep(1.5)
    check(not any((tag + "mismatch").encode() in f.read_bytes() for f in stored_files() if f not in before),
          "s05: nothing stored")
    kept = re.search(r"message left in (\S+)", stderr)
    check(kept is not None and Path(kept.group(1)).read_bytes() == msg,
          "s05: the undelivered message is left in the file the output names")
    print(f"send-check: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
