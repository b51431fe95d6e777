#!/usr/bin/env bash
# Runs daneel's live suites while busy loops keep every CPU occupied (issue 17: the live suite
# failed when another CPU-heavy job shared the machine).
#
#   tests/under-load.sh [--runs N]
#
# 1. builds the test binaries first, with no load (`cargo test --no-run`);
# 2. starts one busy loop per CPU (`nproc`, or UNDER_LOAD_WORKERS) at normal priority, so they
#    really compete with the tests;
# 3. runs the live suites N times (default 1), every suite every time (`--no-fail-fast`);
# 4. always stops the load (EXIT/INT/TERM trap; each busy loop also stops by itself when this
#    script is gone or after UNDER_LOAD_CAP seconds, default 600, so none is ever orphaned);
# 5. prints each run's `test result:` lines and exits with the suites' status (non-zero if any
#    run failed).
#
# The live suites: everything that serves the scenario world on real loopback sockets and
# checks it through a runtime.
# All are in the package `daneel` (tests/):
#   live_runtimes  the catalogue, live, through tokio and smol (must agree)
#   world_live     the live DNS responder and SMTP server themselves
#   demo_world     the demo world, live through tokio
#   hostile_dns_live  a plain resolver beside the validating one, and a forger
#   cli            the `daneel` program against live worlds (tokio and --smol)
# Needs root (the catalogue's mail servers listen on port 25), like `cargo test --workspace`.
set -uo pipefail
cd "$(dirname "$0")/.."

SUITES=(-p daneel
        --test live_runtimes --test world_live --test demo_world --test hostile_dns_live
        --test hostile_smtp --test runtime_conformance
        --test cli)
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "under-load: unknown argument $1 (try --help)" >&2; exit 64 ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "under-load: --runs wants a positive number" >&2; exit 64 ;; esac
workers="${UNDER_LOAD_WORKERS:-$(nproc)}"
cap="${UNDER_LOAD_CAP:-600}"

echo "under-load: building the live suites (no load yet)"
if ! cargo test --no-run "${SUITES[@]}"; then
  echo "under-load: build failed" >&2
  exit 2
fi

# --- the load ---------------------------------------------------------------------------
# A busy loop that stops by itself: after $cap seconds, or as soon as this script's process
# is gone (checked every few hundred milliseconds of spinning), so a SIGKILLed script leaves
# no orphan spinning for long.
busy='end=$((SECONDS + $1)); parent=$2
while [ "$SECONDS" -lt "$end" ] && kill -0 "$parent" 2>/dev/null; do
  i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done
done'
pids=()
suite=""
cpu_ticks() { # utime + stime of a process, in clock ticks (0 if gone)
  local f s
  f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  read -ra s <<<"${f##*) }"   # drop "pid (comm) ": s[0] is field 3 (state)
  echo $(( s[11] + s[12] ))   # fields 14 (utime) and 15 (stime)
}
stop_load() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
# Interrupted: stop the suites (timeout passes the signal on to cargo and its test binaries)
# and the load.
interrupted() {
  [ -n "$suite" ] && kill "$suite" 2>/dev/null && wait "$suite" 2>/dev/null
  exit "$1"   # the EXIT trap stops the load
}
log=""
trap 'stop_load; [ -z "$log" ] || rm -f "$log"' EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

for _ in $(seq "$workers"); do
  bash -c "$busy" under-load-busy "$cap" "$$" &
  pids+=("$!")
done
load_start=$(date +%s)
echo "under-load: $workers busy loops at normal priority (pids ${pids[*]}), cap ${cap}s"
# Only run the suites once the loops are really spinning.
for p in "${pids[@]}"; do
  for _ in $(seq 50); do
    [ "$(cpu_ticks "$p")" -gt 0 ] && break
    sleep 0.1
  done
done

# --- the suites -------------------------------------------------------------------------
status=0
summary=()
log=$(mktemp "${TMPDIR:-/tmp}/under-load.XXXXXX")
for run in $(seq "$runs"); do
  echo
  echo "under-load: run $run/$runs: cargo test --no-fail-fast ${SUITES[*]}"
  t0=$(date +%s)
  # The suites are bounded too, so a hung live test cannot hang CI: at the cap, timeout
  # stops cargo and its test binaries (its own process group). In the background so that a
  # signal to this script reaches the traps at once.
  # The output goes through tee (kept for the summary); waiting for tee as well means the log
  # is complete before it is read.
  exec 3> >(tee "$log")
  tee_pid=$!
  timeout --kill-after=30 "$cap" cargo test --no-fail-fast "${SUITES[@]}" >&3 2>&1 3>&- &
  suite=$!
  wait "$suite"
  rc=$?
  suite=""
  exec 3>&-
  wait "$tee_pid"
  dt=$(( $(date +%s) - t0 ))
  [ "$rc" -eq 124 ] && echo "under-load: run $run timed out after ${cap}s"
  [ "$rc" -ne 0 ] && status=$rc
  summary+=("run $run/$runs: exit $rc in ${dt}s")
  while IFS= read -r line; do
    summary+=("  $line")
  done < <(grep -E '^ *Running |^test result: |^test .* \.\.\. FAILED$|^error: ' "$log" \
             | sed -E 's/^ *Running ([^ ]+).*/\1/')
done
# --- proof the load was real, then stop it -----------------------------------------------
wall=$(( $(date +%s) - load_start ))
ticks=0
alive=0
for p in "${pids[@]}"; do
  t=$(cpu_ticks "$p")
  ticks=$(( ticks + t ))
  kill -0 "$p" 2>/dev/null && alive=$((alive + 1))
done
hz=$(getconf CLK_TCK)
stop_load
echo
echo "== under-load summary"
echo "load: $workers busy loops used $(( ticks / hz ))s of CPU in ${wall}s of wall time" \
     "($alive of $workers still spinning at the end)"
[ "$alive" -lt "$workers" ] && echo "under-load: warning: the load stopped early (cap ${cap}s)"
printf '%s\n' "${summary[@]}"
exit "$status"
