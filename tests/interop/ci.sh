#!/usr/bin/env bash
# The interop step of .ci/run: bring the lab up, compare daneel with posttls-finger on every
# scenario, bring the lab down (always). Prints the time of each part.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
t0=$(date +%s)
cleanup() { "$HERE/lab.sh" down || true; }
trap cleanup EXIT
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p daneel-tokio --bin daneel
t1=$(date +%s)
"$HERE/lab.sh" up
t2=$(date +%s)
eval "$("$HERE/lab.sh" env)"
status=0
python3 "$HERE/compare.py" "$ROOT/target/debug/daneel" --out "${DANEEL_LAB_DIR:-/tmp/daneel-lab}/agreement.md" || status=$?
t3=$(date +%s)
echo "interop timings: build $((t1 - t0)) s, lab up $((t2 - t1)) s, comparison $((t3 - t2)) s"
exit $status
