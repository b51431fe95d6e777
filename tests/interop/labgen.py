#!/usr/bin/env python3
"""Generate the daneel interop lab: PKI, zones (signed and broken), server configs.

Called by lab.sh; uses only the python3 standard library plus the openssl and ldns command
line tools. Everything goes into the state dir (DANEEL_LAB_DIR, default /tmp/daneel-lab).

    labgen.py pki      # lab CA, intermediates, leaves, chain files
    labgen.py dns      # zones, DNSSEC keys, signing, deliberate breakage, NSD + unbound configs,
                       # and the scan world's domain lists (scan-domains.tsv, scan-domains.txt)
    labgen.py mail     # Postfix and Dovecot configs
    labgen.py tsv      # (re)write tests/interop/scenarios.tsv and mua-scenarios.tsv from SCENARIOS

Certificate dates, serials and names are fixed; keys and ECDSA signatures are random, so TLSA
digests change with every fresh `lab.sh up` (they are computed here, never hard-coded).
"""
import base64
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("DANEEL_LAB_DIR", "/tmp/daneel-lab"))
PKI = STATE / "pki"
DNS = STATE / "dns"

# ---------------------------------------------------------------------------------------------
# Address plan (all inside 127.10.0.0/16)
# ---------------------------------------------------------------------------------------------
NS_ROOT = "127.10.0.1"   # NSD: "."
NS_TLD = "127.10.0.2"    # NSD: "lab."
NS_SLD = "127.10.0.3"    # NSD: dane.lab. broken.lab. bogus-ds.lab. unsigned.lab. scan.lab. scanu.lab.
RESOLVER = "127.10.0.53" # unbound (validating)
PLAIN_RESOLVER = "127.10.0.54"  # unbound, NOT validating (module-config "iterator"), same hints
DEAD = "127.10.0.99"     # nothing listens here: lame delegations -> SERVFAIL

# Postfix listeners: name -> (address, chain-file name, extra master.cf -o options)
SMTP = {
    "selfsigned": "127.10.1.1",   # self-signed ECDSA leaf
    "chain2": "127.10.1.2",       # leaf + intermediate
    "chain3": "127.10.1.3",       # leaf + intermediate + root
    "expiredleaf": "127.10.1.4",  # expired leaf + intermediate
    "wrongname": "127.10.1.5",    # leaf SAN other.example.invalid + intermediate
    "rsa1024": "127.10.1.6",      # self-signed RSA-1024 leaf
    "nostarttls": "127.10.1.7",   # smtpd_tls_security_level=none
    "tls10": "127.10.1.8",        # TLS 1.0 only
    "expiredint": "127.10.1.9",   # valid leaf + EXPIRED intermediate
    "submission": "127.10.1.10",  # 587 STARTTLS + 465 implicit TLS
    "expiredroot": "127.10.1.11", # valid leaf + EXPIRED self-signed root that issued it (TA1)
    "notca": "127.10.1.12",       # valid leaf + its issuer, a CA:FALSE certificate (TA2)
}
IMAP_SIGNED = "127.10.2.1"      # Dovecot, cert for imap.dane.lab
IMAP_UNSIGNED = "127.10.2.2"    # Dovecot, cert for mail.unsigned.lab

# Fixed certificate validity windows (UTC, openssl ca -startdate/-enddate format)
VALID = ("20250101000000Z", "20361231235959Z")
CA_VALID = ("20250101000000Z", "20451231235959Z")
EXPIRED_LEAF = ("20230101000000Z", "20250601000000Z")
EXPIRED_INT = ("20200101000000Z", "20250101000000Z")

CHAIN_SANS = ["mx.s01.dane.lab", "mx.s38.dane.lab", "mx.s43.dane.lab", "mx.s46.dane.lab",
              "mx.s47.dane.lab", "mx.s48.dane.lab", "mx.s49.dane.lab", "mx.s50.dane.lab",
              "mx.s62.dane.lab", "mx.s63.dane.lab"]


def run(*args, input=None):
    return subprocess.run(args, check=True, capture_output=True, input=input).stdout


# ---------------------------------------------------------------------------------------------
# PKI
# ---------------------------------------------------------------------------------------------
CA_CNF = """[ca]
default_ca = lab
[lab]
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
default_md = sha256
policy = pol
unique_subject = no
email_in_dn = no
[pol]
commonName = supplied
"""


def keygen(name, kind="ec"):
    key = PKI / f"{name}.key"
    if kind == "ec":
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(key))
    else:
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{kind}",
            "-out", str(key))
    return key


def issue(name, cn, issuer, dates, ca=False, sans=(), kind="ec", pathlen=None, not_ca_signer=False):
    """Create key+cert `name`, signed by `issuer` (a name) or self-signed when issuer is None.

    not_ca_signer: basicConstraints CA:FALSE but keyUsage keyCertSign (no EKU, no SAN): an
    end-entity certificate made to sign another one, where only basicConstraints says "no"."""
    key = keygen(name, kind)
    csr = PKI / f"{name}.csr"
    run("openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-out", str(csr))
    ext = PKI / f"{name}.ext"
    lines = ["[e]", "subjectKeyIdentifier = hash"]
    if ca:
        bc = "critical, CA:TRUE" + (f", pathlen:{pathlen}" if pathlen is not None else "")
        lines += [f"basicConstraints = {bc}", "keyUsage = critical, keyCertSign, cRLSign"]
    elif not_ca_signer:
        lines += ["basicConstraints = critical, CA:FALSE",
                  "keyUsage = critical, digitalSignature, keyCertSign"]
    else:
        lines += ["basicConstraints = critical, CA:FALSE",
                  "keyUsage = critical, digitalSignature" + (", keyEncipherment" if kind != "ec" else ""),
                  "extendedKeyUsage = serverAuth"]
        if sans:
            lines.append("subjectAltName = " + ", ".join(f"DNS:{s}" for s in sans))
    if issuer:
        lines.append("authorityKeyIdentifier = keyid:always")
    ext.write_text("\n".join(lines) + "\n")
    crt = PKI / f"{name}.crt"
    args = ["openssl", "ca", "-batch", "-config", str(PKI / "ca.cnf"), "-notext",
            "-startdate", dates[0], "-enddate", dates[1], "-in", str(csr), "-out", str(crt),
            "-extfile", str(ext), "-extensions", "e"]
    if issuer:
        args += ["-cert", str(PKI / f"{issuer}.crt"), "-keyfile", str(PKI / f"{issuer}.key")]
    else:
        args += ["-selfsign", "-keyfile", str(key)]
    run(*args)
    return crt


def chainfile(name, key, certs):
    """Postfix smtpd_tls_chain_files format: key first, then leaf, then issuers."""
    out = PKI / f"{name}.chain.pem"
    out.write_text((PKI / f"{key}.key").read_text() +
                   "".join((PKI / f"{c}.crt").read_text() for c in certs))
    os.chmod(out, 0o600)
    return out


def gen_pki():
    PKI.mkdir(parents=True, exist_ok=True)
    (PKI / "newcerts").mkdir(exist_ok=True)
    (PKI / "index.txt").write_text("")
    (PKI / "serial").write_text("1000\n")
    (PKI / "ca.cnf").write_text(CA_CNF.format(d=PKI))
    issue("root", "Daneel Lab Root CA", None, CA_VALID, ca=True)
    issue("int", "Daneel Lab Intermediate CA", "root", CA_VALID, ca=True, pathlen=0)
    issue("expint", "Daneel Lab Expired Intermediate CA", "root", EXPIRED_INT, ca=True, pathlen=0)
    issue("leaf_chain", "mx.s43.dane.lab", "int", VALID, sans=CHAIN_SANS)
    issue("leaf_expired", "mx.s45.dane.lab", "int", EXPIRED_LEAF,
          sans=["mx.s02.dane.lab", "mx.s45.dane.lab"])
    issue("leaf_wrongname", "other.example.invalid", "int", VALID, sans=["other.example.invalid"])
    issue("leaf_expint", "mx.x02.dane.lab", "expint", VALID,
          sans=["mx.x02.dane.lab", "mx.x02b.dane.lab"])
    issue("leaf_self", "mx.s04.dane.lab", None, VALID, sans=["mx.s04.dane.lab"])
    issue("leaf_rsa1024", "mx.x01.dane.lab", None, VALID, sans=["mx.x01.dane.lab"], kind="1024")
    issue("leaf_tls10", "mx.x03.dane.lab", None, VALID, sans=["mx.x03.dane.lab"])
    issue("leaf_sub", "smtp.srv.dane.lab", "int", VALID,
          sans=["smtp.srv.dane.lab", "smtp.unsigned.lab", "srvta.dane.lab"])
    issue("leaf_imap", "imap.dane.lab", "int", VALID, sans=["imap.dane.lab"])
    issue("leaf_imapu", "mail.unsigned.lab", "int", VALID, sans=["mail.unsigned.lab", "pkix.unsigned.lab"])
    # TA1: a self-signed root CA that expired on 2025-01-01, and a valid leaf it issued
    issue("exproot", "Daneel Lab Expired Root CA", None, EXPIRED_INT, ca=True)
    issue("leaf_exproot", "mx.ta1.dane.lab", "exproot", VALID, sans=["mx.ta1.dane.lab"])
    # TA2: a CA:FALSE certificate (issued by the lab root) that "issued" a valid leaf
    issue("notca", "Daneel Lab Not-a-CA", "root", VALID, not_ca_signer=True)
    issue("leaf_notca", "mx.ta2.dane.lab", "notca", VALID, sans=["mx.ta2.dane.lab"])
    keygen("other")      # a key that no server uses: TLSA mismatches
    keygen("oldkey")     # the "previous" key of the rollover scenario
    chainfile("selfsigned", "leaf_self", ["leaf_self"])
    chainfile("chain2", "leaf_chain", ["leaf_chain", "int"])
    chainfile("chain3", "leaf_chain", ["leaf_chain", "int", "root"])
    chainfile("expiredleaf", "leaf_expired", ["leaf_expired", "int"])
    chainfile("wrongname", "leaf_wrongname", ["leaf_wrongname", "int"])
    chainfile("rsa1024", "leaf_rsa1024", ["leaf_rsa1024"])
    chainfile("nostarttls", "leaf_self", ["leaf_self"])
    chainfile("tls10", "leaf_tls10", ["leaf_tls10"])
    chainfile("expiredint", "leaf_expint", ["leaf_expint", "expint"])
    chainfile("submission", "leaf_sub", ["leaf_sub", "int"])
    chainfile("expiredroot", "leaf_exproot", ["leaf_exproot", "exproot"])
    chainfile("notca", "leaf_notca", ["leaf_notca", "notca"])
    # the scan world's listeners: one leaf each, naming the pool hosts on its address
    for leaf, names in scan_leaves().items():
        issue(leaf, names[0], "int", VALID, sans=names)
        chainfile(leaf, leaf, [leaf, "int"])
    for n, certs in (("imap", ["leaf_imap", "int"]), ("imapu", ["leaf_imapu", "int"])):
        (PKI / f"{n}.fullchain.pem").write_text("".join((PKI / f"{c}.crt").read_text() for c in certs))


# TLSA data helpers -------------------------------------------------------------------------
def pem_der(pem):
    """The DER inside the first PEM block of `pem` (bytes): its base64 (RFC 7468 sec. 2). Saves
    an openssl process per certificate and key, which the scan world's ten leaves felt."""
    lines = pem.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(b"-----BEGIN "))
    end = next(i for i, l in enumerate(lines) if i > start and l.startswith(b"-----END "))
    return base64.b64decode(b"".join(lines[start + 1:end]))


@functools.lru_cache(maxsize=None)
def cert_der(name):
    return pem_der((PKI / f"{name}.crt").read_bytes())


@functools.lru_cache(maxsize=None)
def spki_der(name):
    """SubjectPublicKeyInfo DER of a certificate, or of a bare key (RFC 7468 sec. 13)."""
    p = PKI / f"{name}.crt"
    if p.exists():
        return pem_der(run("openssl", "x509", "-in", str(p), "-noout", "-pubkey"))
    return pem_der(run("openssl", "pkey", "-in", str(PKI / f"{name}.key"), "-pubout"))


def tlsa(u, s, m, name):
    data = spki_der(name) if s == 1 else cert_der(name)
    if m == 1:
        data = hashlib.sha256(data).digest()
    elif m == 2:
        data = hashlib.sha512(data).digest()
    return f"TLSA {u} {s} {m} {data.hex().upper()}"


# ---------------------------------------------------------------------------------------------
# Scenarios: id, domain, probed host, address, port, ptf expectation, daneel verdict, note,
# records: list of (zone, "owner TYPE rdata") with absolute owner names.
# The ptf/daneel expectations here are the *predicted* ones; expected-ptf.tsv holds observed.
# ---------------------------------------------------------------------------------------------
def A(n, a):
    return f"{n}. A {a}"


# The TLSRPT record of S05 (RFC 8460 sec. 3); nothing is ever sent to it.
TLSRPT_RECORD = "v=TLSRPTv1; rua=mailto:tlsrpt@s05.dane.lab"


def scenarios():
    S = []
    sel, ch2, ch3 = SMTP["selfsigned"], SMTP["chain2"], SMTP["chain3"]

    def simple(sid, zone, addr, recs, ptf, verdict, note, dom=None, host=None):
        dom = dom or f"{sid.lower()}.{zone}"
        host = host or f"mx.{dom}"
        rr = [(zone, f"{dom}. MX 10 {host}."), (zone, A(host, addr))]
        rr += [(zone, f"_25._tcp.{host}. {r}") for r in recs]
        S.append(dict(id=sid, domain=dom, host=host, addr=addr, port=25, ptf=ptf,
                      verdict=verdict, note=note, rr=rr))

    d = "dane.lab"
    simple("S01", d, ch2, [tlsa(3, 1, 1, "leaf_chain")], "Verified", "dane-verified",
           "3 1 1 matches leaf (leaf+intermediate chain)")
    simple("S02", d, SMTP["expiredleaf"], [tlsa(3, 1, 1, "leaf_expired")], "Verified",
           "dane-verified", "3 1 1 matches an EXPIRED leaf: expiry ignored for DANE-EE")
    simple("S03", d, SMTP["wrongname"], [tlsa(3, 1, 1, "leaf_wrongname")], "Verified",
           "dane-verified", "3 1 1 matches leaf whose only SAN is other.example.invalid")
    simple("S04", d, sel, [tlsa(3, 1, 1, "leaf_self")], "Verified", "dane-verified",
           "3 1 1 matches a self-signed leaf")
    simple("S05", d, sel, [tlsa(3, 1, 1, "other")], "Untrusted", "dane-failed",
           "3 1 1 does not match the server key")
    # Issue 11: S05 also asks for TLS reports (RFC 8460 sec. 3); tlsrpt-check.py checks that
    # `daneel check --tlsrpt` reports the mismatch against the lab MX host and address.
    S[-1]["rr"].append((d, f'_smtp._tls.s05.{d}. TXT "{TLSRPT_RECORD}"'))
    simple("S06", d, SMTP["nostarttls"], [tlsa(3, 1, 1, "leaf_self")], "none", "dane-failed",
           "usable TLSA but the server offers no STARTTLS")
    # S08: TLSA SERVFAIL: _tcp.mx.s08 delegated to a dead server
    dom = "s08.dane.lab"
    S.append(dict(id="S08", domain=dom, host=f"mx.{dom}", addr=sel, port=25, ptf="none",
                  verdict="dane-failed", note="TLSA lookup SERVFAIL (lame delegation of _tcp.mx.s08 to the lab. server)",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, A(f"mx.{dom}", sel)),
                      (d, f"_tcp.mx.{dom}. NS ns.nic.lab.")]))
    simple("S10", "broken.lab", sel, [tlsa(3, 1, 1, "leaf_self")], "none", "dane-failed",
           "TLSA RRset bogus: its RRSIG is corrupted")
    simple("S11", d, sel, [], "Untrusted", "no-dane",
           "secure NXDOMAIN for the TLSA name: opportunistic")
    # S14: MX secure, host in unsigned zone (with a non-matching TLSA that must be ignored)
    dom, host = "s14.dane.lab", "mx.s14.unsigned.lab"
    S.append(dict(id="S14", domain=dom, host=host, addr=sel, port=25, ptf="Untrusted",
                  verdict="no-dane", note="MX secure, MX host in unsigned zone (its TLSA is ignored)",
                  rr=[(d, f"{dom}. MX 10 {host}."), ("unsigned.lab", A(host, sel)),
                      ("unsigned.lab", f"_25._tcp.{host}. {tlsa(3, 1, 1, 'other')}")]))
    dom = "s17.dane.lab"
    S.append(dict(id="S17", domain=dom, host="-", addr="-", port=25, ptf="none",
                  verdict="temp-fail", note="MX lookup SERVFAIL (zone lamely delegated to the lab. server)",
                  rr=[(d, f"{dom}. NS ns.nic.lab.")]))
    dom = "s18.broken.lab"
    S.append(dict(id="S18", domain=dom, host="mx.s18.dane.lab", addr=sel, port=25, ptf="none",
                  verdict="temp-fail", note="MX RRset bogus: its RRSIG expired (backdated signing)",
                  rr=[("broken.lab", f"{dom}. MX 10 mx.s18.dane.lab."), (d, A("mx.s18.dane.lab", sel)),
                      (d, f"_25._tcp.mx.s18.dane.lab. {tlsa(3, 1, 1, 'leaf_self')}")]))
    dom = "s18b.bogus-ds.lab"
    S.append(dict(id="S18b", domain=dom, host="mx.s18.dane.lab", addr=sel, port=25, ptf="none",
                  verdict="temp-fail", note="MX bogus: the whole zone bogus-ds.lab has a wrong DS",
                  rr=[("bogus-ds.lab", f"{dom}. MX 10 mx.s18.dane.lab.")]))
    for sid, key, ptf, verdict, note in (
            ("S19", "leaf_self", "Trusted", "dane-trusted", "MX insecure, MX host TLSA secure and matching (half-dane)"),
            ("S20", "other", "Untrusted", "dane-failed", "MX insecure, MX host TLSA secure NOT matching")):
        dom, host = f"{sid.lower()}.unsigned.lab", f"mx.{sid.lower()}.dane.lab"
        S.append(dict(id=sid, domain=dom, host=host, addr=sel, port=25, ptf=ptf, verdict=verdict,
                      note=note, rr=[("unsigned.lab", f"{dom}. MX 10 {host}."), (d, A(host, sel)),
                                     (d, f"_25._tcp.{host}. {tlsa(3, 1, 1, key)}")]))
    dom = "s26.dane.lab"
    S.append(dict(id="S26", domain=dom, host=dom, addr=sel, port=25, ptf="Verified",
                  verdict="dane-verified", note="no MX (secure NODATA): implicit MX = domain, TLSA at _25._tcp.domain",
                  rr=[(d, A(dom, sel)), (d, f"_25._tcp.{dom}. {tlsa(3, 1, 1, 'leaf_self')}")]))
    dom = "s28.dane.lab"
    S.append(dict(id="S28", domain=dom, host="-", addr="-", port=25, ptf="none", verdict="null-mx",
                  note="null MX (0 .)", rr=[(d, f"{dom}. MX 0 .")]))
    dom = "s33.dane.lab"
    S.append(dict(id="S33", domain=dom, host=f"mx.{dom}", addr=sel, port=25, ptf="Verified",
                  verdict="dane-verified",
                  note="MX host is a secure CNAME -> host.s33.dane.lab; TLSA at the target matches (the one at the alias does not)",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, f"mx.{dom}. CNAME host.{dom}."),
                      (d, A(f"host.{dom}", sel)),
                      (d, f"_25._tcp.host.{dom}. {tlsa(3, 1, 1, 'leaf_self')}"),
                      (d, f"_25._tcp.mx.{dom}. {tlsa(3, 1, 1, 'other')}")]))
    dom = "s34.dane.lab"
    S.append(dict(id="S34", domain=dom, host=f"mx.{dom}", addr=sel, port=25, ptf="Verified",
                  verdict="dane-verified",
                  note="MX host secure CNAME -> host.s34; no TLSA at target, TLSA at the alias matches",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, f"mx.{dom}. CNAME host.{dom}."),
                      (d, A(f"host.{dom}", sel)),
                      (d, f"_25._tcp.mx.{dom}. {tlsa(3, 1, 1, 'leaf_self')}")]))
    dom = "s36.dane.lab"
    S.append(dict(id="S36", domain=dom, host=f"mx.{dom}", addr=sel, port=25, ptf="Verified",
                  verdict="dane-verified",
                  note="MX host secure CNAME -> host.s36.unsigned.lab (insecure); TLSA at the alias matches",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, f"mx.{dom}. CNAME host.s36.unsigned.lab."),
                      ("unsigned.lab", A("host.s36.unsigned.lab", sel)),
                      (d, f"_25._tcp.mx.{dom}. {tlsa(3, 1, 1, 'leaf_self')}")]))
    dom = "s38.dane.lab"
    S.append(dict(id="S38", domain=dom, host=f"mx.{dom}", addr=ch2, port=25, ptf="Verified",
                  verdict="dane-verified",
                  note="TLSA name is a CNAME -> tlsa201._dane.dane.lab (2 0 1 intermediate); base domain stays mx.s38",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, A(f"mx.{dom}", ch2)),
                      (d, f"_25._tcp.mx.{dom}. CNAME tlsa201._dane.dane.lab."),
                      (d, f"tlsa201._dane.dane.lab. {tlsa(2, 0, 1, 'int')}")]))
    dom = "s39.dane.lab"
    S.append(dict(id="S39", domain=dom, host=f"mx.{dom}", addr=sel, port=25, ptf="Untrusted",
                  verdict="no-dane",
                  note="TLSA name is a CNAME into the unsigned zone (non-matching record): insecure, no DANE",
                  rr=[(d, f"{dom}. MX 10 mx.{dom}."), (d, A(f"mx.{dom}", sel)),
                      (d, f"_25._tcp.mx.{dom}. CNAME tlsa.s39.unsigned.lab."),
                      ("unsigned.lab", f"tlsa.s39.unsigned.lab. {tlsa(3, 1, 1, 'other')}")]))
    simple("S43", d, ch2, [tlsa(2, 0, 1, "int")], "Verified", "dane-verified",
           "2 0 1 matches the intermediate, sent in the chain")
    simple("S44", d, SMTP["wrongname"], [tlsa(2, 0, 1, "int")], "Untrusted", "dane-failed",
           "2 0 1 matches the intermediate, leaf name is other.example.invalid")
    simple("S45", d, SMTP["expiredleaf"], [tlsa(2, 0, 1, "int")], "Untrusted", "dane-failed",
           "2 0 1 matches the intermediate, leaf EXPIRED")
    simple("S46", d, ch2, [tlsa(2, 0, 1, "root")], "Untrusted", "dane-failed",
           "2 0 1 matches the root, which the server does not send")
    simple("S47", d, ch2, [tlsa(2, 0, 0, "root")], "Verified", "dane-verified",
           "2 0 0 full root certificate in DNS, root not sent by the server")
    simple("S48", d, ch2, [tlsa(2, 1, 0, "root")], "Verified", "dane-verified",
           "2 1 0 root SPKI in DNS, root not sent by the server")
    simple("S49", d, ch2, [tlsa(2, 1, 1, "int")], "Verified", "dane-verified",
           "2 1 1 matches the intermediate's SPKI")
    simple("S50", d, ch2, [tlsa(2, 0, 1, "leaf_chain")], "Untrusted", "dane-failed",
           "2 0 1 matches only the leaf (DANE-TA must be an issuer)")
    simple("S51", d, sel, [tlsa(0, 0, 1, "leaf_self"), tlsa(1, 1, 1, "leaf_self")], "Untrusted",
           "no-dane", "only PKIX usages 0 0 1 / 1 1 1: all unusable -> encrypt")
    simple("S52", d, sel, ["TLSA 3 1 7 " + "AB" * 32], "Untrusted", "no-dane",
           "only 3 1 7 (unknown matching type): unusable -> encrypt")
    simple("S55", d, sel, [tlsa(3, 1, 1, "other"), tlsa(3, 1, 2, "leaf_self")], "Verified",
           "dane-verified", "agility: 3 1 1 bad + 3 1 2 good")
    simple("S56", d, sel, [tlsa(3, 1, 1, "leaf_self"), tlsa(3, 1, 2, "other")], "Untrusted",
           "dane-failed", "agility: 3 1 1 good + 3 1 2 bad (sha512 preferred, sha256 ignored)")
    simple("S57", d, sel, [tlsa(3, 1, 1, "oldkey"), tlsa(3, 1, 1, "leaf_self")], "Verified",
           "dane-verified", "rollover: 3 1 1 old key + 3 1 1 current key")
    simple("S62", d, ch2, [tlsa(3, 1, 1, "other"), tlsa(2, 0, 1, "int")], "Verified",
           "dane-verified", "3 1 1 no match + 2 0 1 match: any usable record suffices")
    simple("S63", d, ch3, [tlsa(2, 0, 1, "root")], "Verified", "dane-verified",
           "2 0 1 matches the private lab root, sent in the chain (leaf+int+root)")
    simple("X01", d, SMTP["rsa1024"], [tlsa(3, 1, 1, "leaf_rsa1024")], "Verified",
           "inconclusive", "3 1 1 matches an RSA-1024 self-signed leaf (daneel: client-unsupported)")
    simple("X02", d, SMTP["expiredint"], [tlsa(2, 0, 1, "expint")], "Verified", "dane-verified",
           "2 0 1 matches an EXPIRED intermediate (the TA); leaf valid. OpenSSL does not check the TA's dates: pinned interop point")
    simple("X02b", d, SMTP["expiredint"], [tlsa(3, 1, 1, "leaf_expint")], "Verified",
           "dane-verified", "3 1 1 matches a valid leaf issued by an expired intermediate")
    simple("X03", d, SMTP["tls10"], [tlsa(3, 1, 1, "leaf_tls10")], "none", "dane-failed",
           "3 1 1 matches, server speaks only TLS 1.0 (daneel: handshake-failed on its alert, dane-failed)")
    # DANE-TA anchor constraints (issue 7): what a `2 0 1` anchor's own certificate may say
    # Observed: Postfix Untrusted on both (TA1 "certificate has expired", TA2 "num=79:invalid CA
    # certificate"); daneel agrees on both (README, deliberate differences 9 and 13).
    simple("TA1", d, SMTP["expiredroot"], [tlsa(2, 0, 1, "exproot")], "Untrusted", "dane-failed",
           "2 0 1 matches an EXPIRED self-signed root (sent in the chain) that issued the valid leaf; Postfix: certificate has expired")
    simple("TA2", d, SMTP["notca"], [tlsa(2, 0, 1, "notca")], "Untrusted", "dane-failed",
           "2 0 1 matches a CA:FALSE certificate (sent in the chain) that signed the valid leaf; Postfix: invalid CA certificate")
    S.append(dict(id="X04", domain="nosuch.dane.lab", host="-", addr="-", port=25, ptf="none",
                  verdict="nxdomain", note="domain does not exist (secure NXDOMAIN)", rr=[]))
    # submission (SRV targets); probed as [host]:port
    S.append(dict(id="SUB1", domain="srv.dane.lab", host="smtp.srv.dane.lab",
                  addr=SMTP["submission"], port=587, ptf="Verified", verdict="dane-verified",
                  note="submission 587 STARTTLS, 3 1 1 at _587._tcp.smtp.srv.dane.lab (probe [host]:587)",
                  rr=[]))
    S.append(dict(id="SUB2", domain="srv.dane.lab", host="smtp.srv.dane.lab",
                  addr=SMTP["submission"], port=465, ptf="Verified", verdict="dane-verified",
                  note="submissions 465 implicit TLS, 3 1 1 at _465._tcp.smtp.srv.dane.lab (probe -w [host]:465)",
                  rr=[]))
    return S


# MUA / SRV rows (RFC 7673, RFC 6186): one row per (domain, service). Fields: id, domain,
# service, SRV target, address, port, tls, expected daneel service verdict, expected connection
# verdict ("-": no connection), expected
# authenticated_by ("-": none), the TLSA record this row publishes at _PORT._tcp.TARGET (None:
# none, or one another row already publishes), note. The zone of each name is its suffix.
def _mua():
    sub, imap, imapu = SMTP["submission"], IMAP_SIGNED, IMAP_UNSIGNED
    ee = lambda key: (3, 1, 1, key)
    rows = []
    for i, (svc, port, tls) in enumerate((("submission", 587, "starttls"), ("submissions", 465, "implicit"),
                                          ("imap", 143, "starttls"), ("imaps", 993, "implicit"),
                                          ("pop3", 110, "starttls"), ("pop3s", 995, "implicit"))):
        smtp = svc.startswith("submission")
        rows.append((f"M{i + 1:02d}", "srv.dane.lab", svc, "smtp.srv.dane.lab" if smtp else "imap.dane.lab",
                     sub if smtp else imap, port, tls, "dane-verified", "verified",
                     "dane-ee", ee("leaf_sub" if smtp else "leaf_imap"),
                     "secure SRV, 3 1 1 at the target matches"))
        rows.append((f"M{i + 7:02d}", "srv.unsigned.lab", svc, "smtp.unsigned.lab" if smtp else "mail.unsigned.lab",
                     sub if smtp else imapu, port, tls, "no-dane", "untrusted", "-",
                     ee("leaf_sub" if smtp else "leaf_imapu"),
                     "insecure SRV: no DANE, PKIX against srv.unsigned.lab only, which the certificate does not name "
                     "(it names the insecure target): RFC 7673 sec. 4.1"))
    rows.sort()
    rows += [
        ("M13", "srvbad.dane.lab", "submissions", "smtp.srvbad.dane.lab", sub, 465, "implicit", "dane-failed",
         "dane-failed", "-", ee("other"), "secure SRV, 3 1 1 at the target does not match the server key"),
        ("M14", "srvbad.dane.lab", "imaps", "imap.srvbad.dane.lab", imap, 993, "implicit", "dane-failed",
         "dane-failed", "-", (2, 0, 1, "int"),
         "secure SRV, 2 0 1 matches the issuing CA but the certificate names neither the target nor the "
         "mail domain (RFC 7673 sec. 4.2, RFC 7671 sec. 5.2)"),
        ("M15", "srvta.dane.lab", "submission", "sub.srvta.dane.lab", sub, 587, "starttls", "dane-verified",
         "verified", "dane-ta", (2, 0, 1, "int"),
         "secure SRV, 2 0 1 matches the issuing CA; the certificate names the mail domain srvta.dane.lab, "
         "not the target (both are accepted: RFC 7673 sec. 4.1/4.2)"),
        ("M16", "pkix.unsigned.lab", "imaps", "mail.unsigned.lab", imapu, 993, "implicit", "no-dane",
         "verified", "pkix", None,
         "insecure SRV, the certificate names the mail domain pkix.unsigned.lab: PKIX succeeds, no DANE"),
        ("M17", "half.unsigned.lab", "imaps", "imap.dane.lab", imap, 993, "implicit", "no-dane",
         "untrusted", "-", None,
         "insecure SRV to a secure target with matching TLSA: RFC 7673 sec. 3.1, DANE does not apply; "
         "PKIX against half.unsigned.lab fails"),
        ("M18", "pkixsrv.dane.lab", "imaps", "mail.unsigned.lab", imapu, 993, "implicit", "no-dane",
         "verified", "pkix", None,
         "secure SRV to a target with insecure address (no TLSA lookup, RFC 7673 sec. 3.2): PKIX with the "
         "target name, accepted because the SRV RRset is secure (sec. 4.1)"),
    ]
    return rows


MUA = _mua()
MUA_TSV_HEADER = ["id", "domain", "service", "target", "address", "port", "tls", "daneel_verdict",
                  "connection", "authenticated_by", "note"]
SRV_NAMES = {"submission": "_submission._tcp", "submissions": "_submissions._tcp",
             "imap": "_imap._tcp", "imaps": "_imaps._tcp", "pop3": "_pop3._tcp", "pop3s": "_pop3s._tcp"}


def zone_of(name):
    return next(z for z in ("dane.lab", "unsigned.lab") if name.endswith("." + z))


def mua_records():
    rr = []
    for _id, dom, svc, target, addr, port, _tls, _v, _c, _a, rec, _n in MUA:
        rr.append((zone_of(dom), f"{SRV_NAMES[svc]}.{dom}. SRV 0 1 {port} {target}."))
        rr.append((zone_of(target), A(target, addr)))  # zone_text drops repeated lines
        if rec:
            rr.append((zone_of(target), f"_{port}._tcp.{target}. {tlsa(*rec)}"))
    return rr


# ---------------------------------------------------------------------------------------------
# The scan world (issue 14): DANEEL_LAB_SCAN_DOMAINS (default 1000) generated mail domains
# d0000.scan.lab ... whose MX records point into one shared pool of MX hosts, for the
# `daneel scan` benchmark (scan-bench.py). Everything follows from the domain index, so two
# labs with the same count serve the same names, kinds and expected verdicts (keys differ).
# ---------------------------------------------------------------------------------------------
SCAN_ZONE = "scan.lab"        # signed (NSEC), delegated from lab. with a DS
SCAN_UNSIGNED = "scanu.lab"   # unsigned delegation: the domains without DNSSEC
SCAN_ADDRS = [f"127.10.3.{k}" for k in range(1, 11)]  # one Postfix listener each
# The 40 signed MX host names by index range: TLSA kind and what posttls-finger must say.
#   ee    3 1 1 of the listener's leaf       Verified
#   ta    2 0 1 of the lab intermediate      Verified (the leaf names every host on its address)
#   bad   3 1 1 of a key no server uses      Untrusted (certificate verification failed)
#   none  no TLSA (secure NXDOMAIN)          Untrusted ("no TLSA records found, resorting to secure")
# plus 4 host names in the unsigned zone ("insecure", a non-matching TLSA that must be ignored).
SCAN_HOST_KINDS = [("ee", 24), ("ta", 6), ("bad", 5), ("none", 5)]
SCAN_INSECURE_HOSTS = 4
# The domain mix, slot = index % 20: (kind, expected daneel verdict, host kinds in MX order).
SCAN_MIX = [("ee", "dane-verified", ["ee"])] * 12 + [
    ("ta", "dane-verified", ["ta"]),
    ("ta", "dane-verified", ["ta"]),
    ("ee+ta", "dane-verified", ["ee", "ta"]),
    ("bad", "dane-failed", ["bad"]),
    ("ee+bad", "dane-failed", ["ee", "bad"]),        # one failing host fails the domain (DESIGN.md sec. 5)
    ("none", "no-dane", ["none"]),                   # secure MX, no TLSA: opportunistic (like S11)
    ("unsigned", "no-dane", ["insecure"]),           # domain in the unsigned zone
    ("ee+none", "dane-partial", ["ee", "none"]),     # one DANE host, one without TLSA
]


def scan_count():
    value = os.environ.get("DANEEL_LAB_SCAN_DOMAINS", "1000")
    if not value.isdigit():
        sys.exit(f"labgen: DANEEL_LAB_SCAN_DOMAINS must be a number of domains (0 or more), not {value!r}")
    return int(value)


def scan_hosts():
    """The shared MX host pool: dicts name, addr, kind, leaf (the listener's certificate)."""
    hosts, i = [], 0
    for kind, count in SCAN_HOST_KINDS:
        for _ in range(count):
            hosts.append(dict(name=f"mx{i:02d}.{SCAN_ZONE}", kind=kind))
            i += 1
    hosts += [dict(name=f"mx{j}.{SCAN_UNSIGNED}", kind="insecure") for j in range(SCAN_INSECURE_HOSTS)]
    for n, h in enumerate(hosts):
        k = n % len(SCAN_ADDRS)
        h["addr"], h["leaf"] = SCAN_ADDRS[k], f"leaf_scan{k}"
    return hosts


def scan_domains(n=None):
    """The generated domains: dicts domain, kind, verdict, mx (host names in preference order)."""
    n = scan_count() if n is None else n
    width = max(4, len(str(max(n - 1, 0))))
    pools = {}
    for h in scan_hosts():
        pools.setdefault(h["kind"], []).append(h["name"])
    out = []
    for i in range(n):
        kind, verdict, host_kinds = SCAN_MIX[i % len(SCAN_MIX)]
        zone = SCAN_UNSIGNED if kind == "unsigned" else SCAN_ZONE
        mx = [pools[k][(i + 7 * pos) % len(pools[k])] for pos, k in enumerate(host_kinds)]
        out.append(dict(domain=f"d{i:0{width}d}.{zone}", kind=kind, verdict=verdict, mx=mx))
    return out


def scan_leaves():
    """One leaf per scan listener, issued by the lab intermediate, naming every host there."""
    names = {}
    for h in scan_hosts():
        names.setdefault(h["leaf"], []).append(h["name"])
    return names


def scan_records(domains):
    """(zone, record) pairs of the scan world."""
    tlsa_of = {"ee": lambda h: tlsa(3, 1, 1, h["leaf"]), "ta": lambda h: tlsa(2, 0, 1, "int"),
               "bad": lambda h: tlsa(3, 1, 1, "other"), "insecure": lambda h: tlsa(3, 1, 1, "other")}
    rr = []
    for h in scan_hosts():
        zone = SCAN_UNSIGNED if h["kind"] == "insecure" else SCAN_ZONE
        rr.append((zone, A(h["name"], h["addr"])))
        if h["kind"] in tlsa_of:
            rr.append((zone, f"_25._tcp.{h['name']}. {tlsa_of[h['kind']](h)}"))
    for d in domains:
        zone = d["domain"].split(".", 1)[1]
        rr += [(zone, f"{d['domain']}. MX {10 * (p + 1)} {host}.") for p, host in enumerate(d["mx"])]
    return rr


def write_scan_lists(domains):
    """$STATE/scan-domains.tsv (domain, kind, expected verdict, MX hosts with their kind and
    address) and $STATE/scan-domains.txt (one domain a line: the input of `daneel scan`)."""
    hosts = {h["name"]: h for h in scan_hosts()}
    with open(STATE / "scan-domains.tsv", "w") as f:
        f.write("domain\tkind\tverdict\tmx\n")
        for d in domains:
            mx = ",".join(f"{n}={hosts[n]['kind']}@{hosts[n]['addr']}" for n in d["mx"])
            f.write(f"{d['domain']}\t{d['kind']}\t{d['verdict']}\t{mx}\n")
    (STATE / "scan-domains.txt").write_text("".join(d["domain"] + "\n" for d in domains))


# ---------------------------------------------------------------------------------------------
# DNS
# ---------------------------------------------------------------------------------------------
SOA = "{z} 300 IN SOA {ns} {rp} 2026010101 3600 600 86400 30"


def zone_text(origin, records, ns_name, ns_addr=None):
    z = origin if origin == "." else origin + "."
    nsn = ns_name
    lines = [f"$TTL 60", SOA.format(z=z, ns=nsn, rp=("hostmaster." + z) if z != "." else "hostmaster.root-lab."), f"{z} 300 IN NS {nsn}"]
    if ns_addr:
        lines.append(f"{nsn} 300 IN A {ns_addr}")
    for r in records:
        owner, rest = r.split(" ", 1)
        lines.append(f"{owner} 60 IN {rest}")
    # dedup, keep order
    out, seen = [], set()
    for l in lines:
        if l not in seen:
            seen.add(l)
            out.append(l)
    return "\n".join(out) + "\n"


# The root is signed with RSASHA256 and 2048-bit keys, as the real root is (issue 13: the
# in-core validator must verify RSA as well as ECDSA P-256, which signs every other zone).
ALGORITHMS = {".": ["-a", "RSASHA256", "-b", "2048"]}


def ldns_keys(zone, d):
    """Generate KSK + ZSK for zone in dir d (ECDSAP256SHA256, or ALGORITHMS[zone]); return
    (ksk, zsk) base names."""
    origin = zone if zone == "." else zone + "."
    alg = ALGORITHMS.get(zone, ["-a", "ECDSAP256SHA256"])
    ksk = run("ldns-keygen", *alg, "-k", origin).decode().strip()
    zsk = run("ldns-keygen", *alg, origin).decode().strip()
    return ksk, zsk


def ds_of(ksk):
    return run("ldns-key2ds", "-n", "-2", f"{ksk}.key").decode().strip()


# Denial of existence per zone (issue 13): dane.lab uses NSEC3 (RFC 5155, 0 extra iterations
# and no salt as RFC 9276 asks), the lab TLD NSEC3 with opt-out, so unsigned.lab is an
# unsigned delegation covered by opt-out (RFC 5155 sec. 6); the root and the other zones NSEC.
# A validating resolver's verdicts do not depend on it; daneel's in-core validator must
# prove every denial and insecure delegation either way (validate-check.py).
NSEC3 = {"dane.lab": ["-n", "-t", "0"], "lab": ["-n", "-p", "-t", "0"]}


def sign(zone, zfile, ksk, zsk, inception, expiration, out):
    origin = zone if zone == "." else zone + "."
    run("ldns-signzone", *NSEC3.get(zone, []), "-o", origin, "-i", inception, "-e", expiration,
        "-f", str(out), str(zfile), zsk, ksk)


def rrsig_lines(text, owner, covered):
    res = []
    for i, l in enumerate(text.splitlines()):
        f = l.split()
        if len(f) > 5 and f[0].lower() == owner.lower() and f[3] == "RRSIG" and f[4] == covered:
            res.append(i)
    return res


# The zones of the second-level NSD, in delegation order; the unsigned ones get no DS.
SLD_ZONES = ("dane.lab", "broken.lab", "bogus-ds.lab", "unsigned.lab", SCAN_ZONE, SCAN_UNSIGNED)
UNSIGNED_ZONES = ("unsigned.lab", SCAN_UNSIGNED)


def gen_dns():
    DNS.mkdir(parents=True, exist_ok=True)
    os.chdir(DNS)
    now = int(time.time())
    fmt = lambda t: time.strftime("%Y%m%d%H%M%S", time.gmtime(t))
    inc, exp = fmt(now - 86400), fmt(now + 30 * 86400)
    old_inc, old_exp = fmt(now - 40 * 86400), fmt(now - 10 * 86400)

    recs = {z: [] for z in SLD_ZONES}
    recs["dane.lab"].append(A("dead.dane.lab", DEAD))
    for sc in scenarios():
        for zone, r in sc["rr"]:
            recs[zone].append(r)
    for zone, r in mua_records():
        recs[zone].append(r)
    domains = scan_domains()
    for zone, r in scan_records(domains):
        recs[zone].append(r)
    write_scan_lists(domains)

    sld_ns = "ns2.nic.lab."
    signed = {}
    timing = {}
    t0 = time.time()
    # second level
    for z in SLD_ZONES:
        zf = DNS / f"{z}.zone"
        zf.write_text(zone_text(z, recs[z], sld_ns))
        if z in UNSIGNED_ZONES:
            signed[z] = (zf, None)
            continue
        ksk, zsk = ldns_keys(z, DNS)
        out = DNS / f"{z}.zone.signed"
        sign(z, zf, ksk, zsk, inc, exp, out)
        if z == "broken.lab":
            text = out.read_text().splitlines()
            # (1) corrupt the RRSIG over the S10 TLSA RRset: flip characters in the signature
            idx = rrsig_lines("\n".join(text), "_25._tcp.mx.s10.broken.lab.", "TLSA")
            assert len(idx) == 1, idx
            f = text[idx[0]].split()
            sig = f[-1]
            mid = len(sig) // 2
            f[-1] = sig[:mid] + ("A" if sig[mid] != "A" else "B") + sig[mid + 1:]
            text[idx[0]] = "\t".join(f)
            # (2) expired RRSIG over the S18 MX RRset: take it from a backdated signing
            old = DNS / f"{z}.zone.backdated"
            sign(z, zf, ksk, zsk, old_inc, old_exp, old)
            otext = old.read_text()
            oidx = rrsig_lines(otext, "s18.broken.lab.", "MX")
            idx = rrsig_lines("\n".join(text), "s18.broken.lab.", "MX")
            assert len(idx) == 1 and len(oidx) == 1
            text[idx[0]] = otext.splitlines()[oidx[0]]
            out.write_text("\n".join(text) + "\n")
        ds = ds_of(ksk)
        if z == "bogus-ds.lab":  # publish a DS whose digest is wrong (last hex digits flipped)
            f = ds.split()
            dig = f[-1]
            f[-1] = dig[:-4] + ("0000" if dig[-4:] != "0000" else "FFFF")
            ds = " ".join(f)
        signed[z] = (out, ds)
    # TLD lab.
    lab = [f"ns.nic.lab. A {NS_TLD}", f"ns2.nic.lab. A {NS_SLD}"]
    for z, (_f, ds) in signed.items():
        lab.append(f"{z}. NS {sld_ns}")
        if ds:
            f = ds.split()
            lab.append(f"{z}. DS {' '.join(f[4:])}")
    (DNS / "lab.zone").write_text(zone_text("lab", lab, "ns.nic.lab."))
    ksk, zsk = ldns_keys("lab", DNS)
    sign("lab", DNS / "lab.zone", ksk, zsk, inc, exp, DNS / "lab.zone.signed")
    lab_ds = ds_of(ksk).split()
    # root
    root = [f"lab. NS ns.nic.lab.", f"ns.nic.lab. A {NS_TLD}", f"lab. DS {' '.join(lab_ds[4:])}"]
    (DNS / "root.zone").write_text(zone_text(".", root, "ns.root-lab.", NS_ROOT))
    ksk, zsk = ldns_keys(".", DNS)
    sign(".", DNS / "root.zone", ksk, zsk, inc, exp, DNS / "root.zone.signed")
    root_ds = ds_of(ksk).split()
    (DNS / "root.ds").write_text(f". IN DS {' '.join(root_ds[4:])}\n")
    (DNS / "root.hints").write_text(f".  3600000 IN NS ns.root-lab.\nns.root-lab. 3600000 IN A {NS_ROOT}\n")
    timing["sign"] = time.time() - t0

    # NSD configs
    inst = {"root": (NS_ROOT, [(".", "root.zone.signed")]),
            "tld": (NS_TLD, [("lab", "lab.zone.signed")]),
            "sld": (NS_SLD, [(z, Path(f).name) for z, (f, _ds) in signed.items()])}
    for name, (addr, zones) in inst.items():
        d = STATE / f"nsd-{name}"
        d.mkdir(exist_ok=True)
        conf = [
            "server:", f"  ip-address: {addr}", "  port: 53", "  do-ip6: no",
            f"  pidfile: {d}/nsd.pid", f"  logfile: {d}/nsd.log", f"  zonesdir: {DNS}",
            '  database: ""', f"  zonelistfile: {d}/zone.list", f"  xfrdfile: {d}/xfrd.state",
            f"  xfrdir: {d}", '  username: ""', '  chroot: ""', "  server-count: 1",
            "  verbosity: 1", "  hide-version: yes", "  minimal-responses: yes",
            "remote-control:", "  control-enable: no",
        ]
        for zname, zfile in zones:
            conf += ["zone:", f"  name: \"{zname}\"", f"  zonefile: {zfile}"]
        (d / "nsd.conf").write_text("\n".join(conf) + "\n")
    # unbound: the validating resolver, and a second one that only iterates (no validator
    # module, no trust anchor): same root hints, so it reaches the same zones, bogus ones
    # included, and never sets AD. daneel must notice it and not trust it (issue 7).
    unbound_conf(STATE / "unbound", RESOLVER, validating=True)
    unbound_conf(STATE / "unbound-plain", PLAIN_RESOLVER, validating=False)
    (STATE / "resolv.conf").write_text(f"nameserver {RESOLVER}\noptions trust-ad\n")
    print(f"signing+zones: {timing['sign']:.2f}s")


def unbound_conf(d, address, validating):
    d.mkdir(exist_ok=True)
    if validating:
        dnssec = f"""  trust-anchor-file: "{DNS}/root.ds"
  module-config: "validator iterator"
"""
    else:
        dnssec = """  module-config: "iterator"
"""
    (d / "unbound.conf").write_text(f"""server:
  interface: {address}
  port: 53
  do-ip6: no
  do-daemonize: yes
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  logfile: "{d}/unbound.log"
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  log-servfail: yes
  ede: yes
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  root-hints: "{DNS}/root.hints"
{dnssec.rstrip()}
  qname-minimisation: no
  aggressive-nsec: no
  cache-max-ttl: 60
  cache-max-negative-ttl: 10
  infra-host-ttl: 5
  serve-expired: no
  prefetch: no
  num-threads: 1
  # Room for a scan (issue 14): with outgoing-range 64 and the default socket buffers, 1,000
  # MX queries sent at once got 257-681 answers, the rest dropped unseen; with these, all 1,000.
  outgoing-range: 4096
  num-queries-per-thread: 4096
  so-rcvbuf: 4m
  so-sndbuf: 4m
  so-reuseport: no
remote-control:
  control-enable: no
""")


# ---------------------------------------------------------------------------------------------
# Postfix and Dovecot
# ---------------------------------------------------------------------------------------------
def gen_mail():
    pf = STATE / "postfix"
    (pf / "conf").mkdir(parents=True, exist_ok=True)
    (pf / "data").mkdir(exist_ok=True)
    (pf / "queue").mkdir(exist_ok=True)
    (pf / "mail").mkdir(exist_ok=True)
    shutil.chown(pf / "data", "postfix", "postfix")
    shutil.chown(pf / "mail", "postfix", "postfix")
    import pwd
    uid, gid = pwd.getpwnam("postfix").pw_uid, pwd.getpwnam("postfix").pw_gid
    addrs = sorted(set(SMTP.values()), key=lambda a: tuple(map(int, a.split("."))))
    main = f"""compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = lab-mta.dane.lab
mydomain = dane.lab
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
# Postfix refuses inet_interfaces addresses not configured on an interface (127.10.x.y only
# route to lo); every listener below is address-qualified in master.cf instead.
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = reject
smtpd_banner = $myhostname ESMTP daneel-lab
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
smtpd_tls_session_cache_database =
maillog_file = {pf}/maillog
maillog_file_prefixes = {STATE}
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
biff = no
smtputf8_enable = no
# `daneel send` (issue 12): the selfsigned listener takes mail for s04 (TLSA matches) and
# s05 (TLSA does not) into one maildir that tests/interop/send-check.py reads back.
virtual_mailbox_domains = s04.dane.lab s05.dane.lab
virtual_mailbox_base = {pf}/mail
virtual_mailbox_maps = static:store/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_transport = virtual
message_size_limit = 20480000
"""
    (pf / "conf" / "main.cf").write_text(main)
    chains = {n: PKI / f"{n}.chain.pem" for n in SMTP}
    svc = []
    for name, addr in SMTP.items():
        if name == "submission":
            continue
        opts = [f"syslog_name=postfix/{name}", f"smtpd_tls_chain_files={chains[name]}",
                "smtpd_tls_security_level=may"]
        if name == "nostarttls":
            opts[-1] = "smtpd_tls_security_level=none"
        if name == "selfsigned":
            # Accepts mail for the virtual domains only, and says how TLS went in Received:;
            # no CHUNKING, so `daneel send` uses DATA and its dot-stuffing is what is tested.
            opts += ["smtpd_relay_restrictions=permit_auth_destination,reject",
                     "smtpd_discard_ehlo_keywords=chunking",
                     "smtpd_recipient_restrictions=permit_auth_destination,reject",
                     "smtpd_tls_received_header=yes"]
        if name == "tls10":
            opts += ["smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1.1,!TLSv1.2,!TLSv1.3",
                     "smtpd_tls_mandatory_protocols=!SSLv2,!SSLv3,!TLSv1.1,!TLSv1.2,!TLSv1.3"]
        # No seclevel tweak is needed on Debian 12 (OpenSSL 3.0, default SECLEVEL 1): smtpd
        # loads the RSA-1024 key and still signs a TLS 1.0 handshake with SHA-1 (see README).
        svc.append(f"{addr}:25 inet n - n - - smtpd\n" + "".join(f"  -o {o}\n" for o in opts))
    # the scan world's pool (issue 14): plain STARTTLS listeners, no client name lookup
    for k, addr in enumerate(SCAN_ADDRS):
        svc.append(f"{addr}:25 inet n - n - - smtpd\n  -o syslog_name=postfix/scan{k}\n"
                   f"  -o smtpd_tls_chain_files={PKI / f'leaf_scan{k}.chain.pem'}\n"
                   "  -o smtpd_tls_security_level=may\n  -o smtpd_peername_lookup=no\n")
    sub = SMTP["submission"]
    svc.append(f"{sub}:587 inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n"
               f"  -o smtpd_tls_chain_files={chains['submission']}\n  -o smtpd_tls_security_level=may\n")
    svc.append(f"{sub}:465 inet n - n - - smtpd\n  -o syslog_name=postfix/submissions\n"
               f"  -o smtpd_tls_chain_files={chains['submission']}\n  -o smtpd_tls_wrappermode=yes\n"
               f"  -o smtpd_tls_security_level=encrypt\n")
    master = "".join(svc) + """pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
virtual   unix  -       n       n       -       -       virtual
"""
    (pf / "conf" / "master.cf").write_text(master)

    dv = STATE / "dovecot"
    (dv / "run").mkdir(parents=True, exist_ok=True)
    (dv / "state").mkdir(exist_ok=True)
    (dv / "dovecot.conf").write_text(f"""# daneel interop lab Dovecot
base_dir = {dv}/run
state_dir = {dv}/state
instance_name = daneel-lab
log_path = {dv}/dovecot.log
protocols = imap pop3
listen = {IMAP_SIGNED}, {IMAP_UNSIGNED}
ssl = yes
ssl_min_protocol = TLSv1.2
ssl_cert = <{PKI}/imap.fullchain.pem
ssl_key = <{PKI}/leaf_imap.key
local {IMAP_UNSIGNED} {{
  ssl_cert = <{PKI}/imapu.fullchain.pem
  ssl_key = <{PKI}/leaf_imapu.key
}}
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {{
  driver = static
  args = password=lab-password
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}}
mail_location = mbox:/nonexistent:INBOX=/dev/null
default_internal_user = dovecot
default_login_user = dovenull
login_greeting = daneel-lab dovecot ready
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 993
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 995
    ssl = yes
  }}
}}
""")


def gen_tsv():
    hdr = "id\tdomain\tmx_host\taddress\tptf_expected\tdaneel_verdict\tnote\tport\n"
    # PKI is needed for tlsa(); use a throwaway state when called stand-alone
    rows = [f"{s['id']}\t{s['domain']}\t{s['host']}\t{s['addr']}\t{s['ptf']}\t{s['verdict']}\t{s['note']}\t{s['port']}\n"
            for s in scenarios()]
    (HERE / "scenarios.tsv").write_text(hdr + "".join(rows))
    mua = ["\t".join(MUA_TSV_HEADER) + "\n"]
    mua += ["\t".join(map(str, m[:10] + m[11:])) + "\n" for m in MUA]
    (HERE / "mua-scenarios.tsv").write_text("".join(mua))


if __name__ == "__main__":
    STATE.mkdir(parents=True, exist_ok=True)
    for step in sys.argv[1:]:
        {"pki": gen_pki, "dns": gen_dns, "mail": gen_mail, "tsv": gen_tsv}[step]()
