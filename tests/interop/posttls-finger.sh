#!/usr/bin/env bash
# Run Postfix's posttls-finger against the lab, resolving through the lab unbound.
#
#   posttls-finger.sh SCENARIO            e.g. S01: domain (MX) form, then [host] form
#   posttls-finger.sh --domain SCENARIO   only the domain form
#   posttls-finger.sh --host SCENARIO     only the [host] form
#   posttls-finger.sh DESTINATION [ARGS]  any posttls-finger destination, e.g. s01.dane.lab or
#                                          '[mx.s01.dane.lab]:25'; extra ARGS go to posttls-finger
#   posttls-finger.sh --argv              print the posttls-finger command line, one word a line
#
# posttls-finger uses the libc resolver, so it runs in a private mount namespace where
# /etc/resolv.conf is bind-mounted to the lab one (nameserver 127.10.0.53, options trust-ad).
# The real /etc/resolv.conf is never touched. Output: posttls-finger's own log lines (stderr
# merged), each run preceded by a "=== ID FORM DESTINATION" header for parse-ptf.py.
# posttls-finger exits 0 whatever it found: parse its output (parse-ptf.py), not its status.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${DANEEL_LAB_DIR:-/tmp/daneel-lab}"
SCENARIOS="$HERE/scenarios.tsv"
PTF_CONF="$STATE/ptf"
PTF_OPTS=(-a ipv4 -v -l dane -L summary,certmatch -t 10 -T 20)
# -c (no SMTP chat) is not the default: without the chat a missing STARTTLS leaves no trace at all.
[ "${PTF_NO_CHAT:-0}" = 1 ] && PTF_OPTS+=(-c)

[ -f "$STATE/resolv.conf" ] || { echo "lab not generated: run lab.sh up" >&2; exit 2; }
mkdir -p "$PTF_CONF"
conf="compatibility_level = 3.6
myhostname = ptf.lab.invalid
mydomain = lab.invalid
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_host_lookup = dns
smtp_address_preference = ipv4
inet_protocols = ipv4"
# Written only when it differs: Postfix re-reads a main.cf changed within the last second or
# so, 300 ms apart, until it is older (dict_load_file_xt, "pausing to let ... cool down"), so
# rewriting it before every run made each posttls-finger run wait up to 2.4 s.
if [ "$(cat "$PTF_CONF/main.cf" 2>/dev/null)" != "$conf" ]; then
    printf '%s\n' "$conf" >"$PTF_CONF/main.cf.$$"
    mv -f "$PTF_CONF/main.cf.$$" "$PTF_CONF/main.cf"
fi

# --argv: print the command (one argument a line, destination not included) for a caller that
# runs posttls-finger itself, already inside a mount namespace with the lab resolv.conf
# (scan-bench.py: one process per domain, without this script's per-run bash and unshare).
if [ "${1:-}" = --argv ]; then
    printf '%s\n' env "MAIL_CONFIG=$PTF_CONF" posttls-finger "${PTF_OPTS[@]}"
    exit 0
fi

run_ptf() { # run_ptf ID FORM DEST [extra args...]
    local id="$1" form="$2" dest="$3"; shift 3
    echo "=== $id $form $dest"
    # shellcheck disable=SC2016
    unshare -m -- bash -c '
        set -e
        mount --bind "$1" /etc/resolv.conf
        shift
        exec env MAIL_CONFIG="$1" timeout 90 posttls-finger "${@:2}"
    ' ptf "$STATE/resolv.conf" "$PTF_CONF" "${PTF_OPTS[@]}" "$@" "$dest" 2>&1 || echo "posttls-finger.sh: exit status $?"
}

mode=both
case "${1:-}" in
    --domain) mode=domain; shift ;;
    --host) mode=host; shift ;;
    "") echo "usage: $0 [--domain|--host] SCENARIO | DESTINATION [ARGS]" >&2; exit 64 ;;
esac
arg="$1"; shift

row="$(awk -F'\t' -v id="$arg" 'NR > 1 && $1 == id' "$SCENARIOS")"
if [ -z "$row" ]; then
    run_ptf "-" raw "$arg" "$@"
    exit 0
fi
IFS=$'\t' read -r id domain host addr _ptf _verdict _note port <<<"$row"
extra=()
[ "$port" = 465 ] && extra=(-w)
if [ "$port" = 25 ] && [ "$mode" != host ]; then
    run_ptf "$id" domain "$domain" "${extra[@]}" "$@"
fi
if [ "$host" != "-" ] && [ "$mode" != domain ]; then
    if [ "$port" = 25 ]; then dest="[$host]"; else dest="[$host]:$port"; fi
    run_ptf "$id" host "$dest" "${extra[@]}" "$@"
fi
