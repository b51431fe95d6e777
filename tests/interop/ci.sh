#!/usr/bin/env bash
# The interop step of .ci/run: bring the lab up, compare daneel with posttls-finger on every
# scenario (and daneel with the validating + the plain lab resolver, both orders), compare
# `daneel mua` with openssl s_client on every SRV connection, bring the lab down (always).
# Prints the time of each part. Uses the daneel that cargo builds, wherever the target dir is
# (CARGO_TARGET_DIR, build.target-dir, or $ROOT/target).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
t0=$(date +%s)
cleanup() { "$HERE/lab.sh" down || true; }
trap cleanup EXIT
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p daneel-tokio --bin daneel
# where cargo put it: honours CARGO_TARGET_DIR and build.target-dir; $ROOT/target otherwise
TARGET="$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || true)"
[ -n "$TARGET" ] || TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DANEEL="$TARGET/debug/daneel"
[ -x "$DANEEL" ] || { echo "ci.sh: no daneel binary at $DANEEL" >&2; exit 1; }
echo "interop: daneel = $DANEEL"
t1=$(date +%s)
"$HERE/lab.sh" up
t2=$(date +%s)
eval "$("$HERE/lab.sh" env)"
status=0
python3 "$HERE/compare.py" "$DANEEL" --out "${DANEEL_LAB_DIR:-/tmp/daneel-lab}/agreement.md" || status=$?
t3=$(date +%s)
# daneel mua on the SRV domains, openssl s_client as the referee of every connection (issue 9)
python3 "$HERE/compare-mua.py" "$DANEEL" --out "${DANEEL_LAB_DIR:-/tmp/daneel-lab}/mua-agreement.md" || status=1
t4=$(date +%s)
# daneel send into the lab's Postfix, read back from its maildir (issue 12)
python3 "$HERE/send-check.py" "$DANEEL" || status=1
t5=$(date +%s)
echo "interop timings: build $((t1 - t0)) s, lab up $((t2 - t1)) s, comparison $((t3 - t2)) s, mua comparison $((t4 - t3)) s, send $((t5 - t4)) s"
exit $status
