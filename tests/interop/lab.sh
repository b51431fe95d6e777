#!/usr/bin/env bash
# daneel interop lab: a signed lab Internet on 127.10.0.0/16 (NSD x3, unbound x2 = one
# validating + one plain iterator, Postfix, Dovecot), with the scan world of issue 14
# (DANEEL_LAB_SCAN_DOMAINS generated domains, default 1000, on 10 more Postfix listeners).
#   lab.sh up       install packages if missing, generate PKI/zones/configs, start, wait ready
#   lab.sh down     stop only the processes this lab started (PIDs in $DANEEL_LAB_DIR/pids)
#   lab.sh status   show what runs and a probe through the lab resolver
#   lab.sh env      print shell variables for tests (eval "$(tests/interop/lab.sh env)")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${DANEEL_LAB_DIR:-/tmp/daneel-lab}"
RESOLVER=127.10.0.53        # unbound, validating (module-config "validator iterator")
PLAIN_RESOLVER=127.10.0.54  # unbound, NOT validating (module-config "iterator"), same hints
PIDS="$STATE/pids"
PACKAGES=(nsd unbound ldnsutils postfix dovecot-imapd dovecot-pop3d openssl dnsutils)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }
log() { printf '[lab] %s\n' "$*" >&2; }

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && { log "packages: all present"; return 0; }
    log "installing: ${missing[*]}"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    # record stock daemons already running, so that only new ones are stopped afterwards
    local before
    before="$(stock_pids)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 \
        || { tail -20 "$STATE/apt.log" >&2; [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    # a stock service that started despite policy-rc.d: stop only that one
    local pid
    for pid in $(stock_pids); do
        if ! grep -qx "$pid" <<<"$before"; then
            log "stock daemon pid $pid ($(cat /proc/$pid/comm)) started by apt: stopping it"
            kill "$pid" || true
        fi
    done
}

# pgrep -x refuses patterns longer than 15 characters ("nsd|unbound|master|dovecot" matched
# nothing at all): one name at a time.
stock_pids() { local n; for n in nsd unbound master dovecot; do pgrep -x "$n" || true; done; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

running() {
    # true when every recorded daemon is alive
    [ -f "$PIDS" ] || return 1
    local name pid
    while read -r name pid; do
        pid_alive "$pid" || return 1
    done <"$PIDS"
    [ -s "$PIDS" ]
}

record() { echo "$1 $2" >>"$PIDS"; }

wait_file() { # wait for a pidfile to appear (max ~5 s)
    local i
    for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.05; done
    log "timeout waiting for $1"; return 1
}

start_servers() {
    : >"$PIDS"
    local inst
    for inst in root tld sld; do
        nsd -c "$STATE/nsd-$inst/nsd.conf" </dev/null >>"$STATE/nsd-$inst/stdout.log" 2>&1
        wait_file "$STATE/nsd-$inst/nsd.pid"
        record "nsd-$inst" "$(cat "$STATE/nsd-$inst/nsd.pid")"
    done
    for inst in unbound unbound-plain; do
        unbound -c "$STATE/$inst/unbound.conf" </dev/null >>"$STATE/$inst/stdout.log" 2>&1
        wait_file "$STATE/$inst/unbound.pid"
        record "$inst" "$(cat "$STATE/$inst/unbound.pid")"
    done
    postfix -c "$STATE/postfix/conf" start </dev/null >>"$STATE/postfix/start.log" 2>&1 \
        || { cat "$STATE/postfix/start.log" >&2; return 1; }
    wait_file "$STATE/postfix/queue/pid/master.pid"
    record postfix-master "$(tr -d ' ' <"$STATE/postfix/queue/pid/master.pid")"
    dovecot -c "$STATE/dovecot/dovecot.conf" </dev/null >>"$STATE/dovecot/stdout.log" 2>&1
    wait_file "$STATE/dovecot/run/master.pid"
    record dovecot "$(cat "$STATE/dovecot/run/master.pid")"
}

wait_ready() {
    local i out
    for i in $(seq 1 100); do
        out="$(dig +dnssec +tries=1 +time=1 @"$RESOLVER" mx.s01.dane.lab A 2>/dev/null || true)"
        if grep -q 'flags:.* ad' <<<"$out" && grep -q 'status: NOERROR' <<<"$out"; then
            return 0
        fi
        sleep 0.1
    done
    log "resolver never returned AD for mx.s01.dane.lab:"; echo "$out" >&2; return 1
}

wait_plain() {
    # the plain resolver must answer (NOERROR) and must NOT set AD
    local i out
    for i in $(seq 1 100); do
        out="$(dig +dnssec +tries=1 +time=1 @"$PLAIN_RESOLVER" mx.s01.dane.lab A 2>/dev/null || true)"
        if grep -q 'status: NOERROR' <<<"$out"; then
            if grep -q 'flags:.* ad' <<<"$out"; then
                log "plain resolver $PLAIN_RESOLVER sets AD: it validates"; echo "$out" >&2; return 1
            fi
            return 0
        fi
        sleep 0.1
    done
    log "plain resolver never answered mx.s01.dane.lab:"; echo "$out" >&2; return 1
}

wait_ports() {
    local i a
    for i in $(seq 1 100); do
        a="$(ss -ltn)"
        if grep -q '127.10.1.1:25 ' <<<"$a" && grep -q '127.10.2.1:993 ' <<<"$a" && grep -q '127.10.3.10:25 ' <<<"$a"; then
            return 0
        fi
        sleep 0.1
    done
    log "mail listeners not up"; ss -ltn >&2; return 1
}

cmd_up() {
    mkdir -p "$STATE"
    if running; then log "already up ($STATE)"; cmd_status; return 0; fi
    [ -f "$PIDS" ] && cmd_down
    local t0 t
    t0=$(now); t=$(now)
    install_packages;                       log "timing packages: $(elapsed "$t")"
    # fresh generation every time: no stale keys/zones
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name apt.log -exec rm -rf {} +
    chmod 755 "$STATE"
    t=$(now); python3 "$HERE/labgen.py" pki; log "timing pki (openssl): $(elapsed "$t")"
    t=$(now); python3 "$HERE/labgen.py" dns; log "timing dns (keygen+sign+configs): $(elapsed "$t")"
    t=$(now); python3 "$HERE/labgen.py" mail; log "timing mail configs: $(elapsed "$t")"
    t=$(now); start_servers;                log "timing server start: $(elapsed "$t")"
    t=$(now); wait_ready; wait_plain; wait_ports; log "timing readiness (AD via unbound, no AD via plain, ports): $(elapsed "$t")"
    log "lab up in $(elapsed "$t0") (state $STATE)"
}

cmd_down() {
    if [ ! -f "$PIDS" ]; then log "not running (no $PIDS)"; return 0; fi
    # Postfix and Dovecot first, through their own stop commands (they stop their children)
    if [ -f "$STATE/postfix/conf/main.cf" ]; then postfix -c "$STATE/postfix/conf" stop >/dev/null 2>&1 || true; fi
    if [ -f "$STATE/dovecot/dovecot.conf" ]; then dovecot -c "$STATE/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true; fi
    local name pid i
    while read -r name pid; do
        pid_alive "$pid" && kill "$pid" 2>/dev/null || true
    done <"$PIDS"
    for i in $(seq 1 50); do
        local alive=0
        while read -r name pid; do pid_alive "$pid" && alive=1; done <"$PIDS"
        [ $alive = 0 ] && break
        sleep 0.1
    done
    while read -r name pid; do
        if pid_alive "$pid"; then log "$name ($pid) still alive: SIGKILL"; kill -9 "$pid" || true; fi
    done <"$PIDS"
    rm -f "$PIDS"
    log "down"
}

cmd_status() {
    if [ ! -f "$PIDS" ]; then echo "lab: down"; return 0; fi
    local name pid
    while read -r name pid; do
        if pid_alive "$pid"; then echo "$name pid $pid running"; else echo "$name pid $pid DEAD"; fi
    done <"$PIDS"
    ss -ltnu | awk '$5 ~ /^127\.10\./ {print "  listen", $1, $5}' | sort -u
    local r
    for r in "$RESOLVER" "$PLAIN_RESOLVER"; do
        echo "  dig @$r mx.s01.dane.lab A:"
        dig +dnssec +tries=1 +time=2 @"$r" mx.s01.dane.lab A | grep -E 'flags:|status:' || true
    done
}

cmd_env() {
    cat <<EOF
DANEEL_LAB_DIR=$STATE
DANEEL_LAB_RESOLVER=$RESOLVER
DANEEL_LAB_RESOLVER_PORT=53
DANEEL_LAB_PLAIN_RESOLVER=$PLAIN_RESOLVER
DANEEL_LAB_RESOLV_CONF=$STATE/resolv.conf
DANEEL_LAB_SCENARIOS=$HERE/scenarios.tsv
DANEEL_LAB_MUA_SCENARIOS=$HERE/mua-scenarios.tsv
DANEEL_LAB_EXPECTED_PTF=$HERE/expected-ptf.tsv
DANEEL_LAB_PTF=$HERE/posttls-finger.sh
DANEEL_LAB_TRUST_ANCHOR=$STATE/dns/root.ds
DANEEL_LAB_CA=$STATE/pki/root.crt
DANEEL_LAB_SCAN_TSV=$STATE/scan-domains.tsv
DANEEL_LAB_SCAN_LIST=$STATE/scan-domains.txt
export DANEEL_LAB_SCAN_TSV DANEEL_LAB_SCAN_LIST
export DANEEL_LAB_DIR DANEEL_LAB_RESOLVER DANEEL_LAB_RESOLVER_PORT DANEEL_LAB_PLAIN_RESOLVER DANEEL_LAB_RESOLV_CONF DANEEL_LAB_SCENARIOS DANEEL_LAB_MUA_SCENARIOS DANEEL_LAB_EXPECTED_PTF DANEEL_LAB_PTF DANEEL_LAB_TRUST_ANCHOR DANEEL_LAB_CA
EOF
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 64 ;;
esac
