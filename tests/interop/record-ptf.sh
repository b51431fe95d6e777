#!/usr/bin/env bash
# Run posttls-finger.sh on every scenario of scenarios.tsv (the lab must be up) and write the
# observed, key-independent results to expected-ptf.tsv (or to $1). Raw outputs are kept in
# $DANEEL_LAB_DIR/ptf-raw/ID.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${DANEEL_LAB_DIR:-/tmp/daneel-lab}"
OUT="${1:-$HERE/expected-ptf.tsv}"
mkdir -p "$STATE/ptf-raw"
t0=$(date +%s)
export HERE STATE
awk -F'\t' 'NR > 1 { print $1 }' "$HERE/scenarios.tsv" |
    xargs -P "${PTF_JOBS:-8}" -I{} sh -c '"$HERE/posttls-finger.sh" {} >"$STATE/ptf-raw/{}.txt" 2>&1'
for id in $(awk -F'\t' 'NR > 1 { print $1 }' "$HERE/scenarios.tsv"); do
    cat "$STATE/ptf-raw/$id.txt"
done | python3 "$HERE/parse-ptf.py" --tsv --stable >"$OUT"
echo "[lab] posttls-finger on all scenarios: $(( $(date +%s) - t0 ))s -> $OUT" >&2
