#!/bin/bash
# Line coverage of core/src reached by the fuzz targets' corpora (issue 16).
#
#   fuzz/coverage.sh [TARGET...]        (default: every target in Cargo.toml)
#
# With DANEEL_COVERAGE_REUSE=1, a target whose coverage/<target>/coverage.profdata exists is not
# run again (to measure targets as their campaign runs end, then report over all of them).
#
# For each target, `cargo fuzz coverage` runs the corpus (corpus/<target> and, when it exists,
# $DANEEL_FUZZ_WORK/<target>, the campaign's working corpus) through an instrumented build and
# writes coverage/<target>/coverage.profdata. The profiles are merged, and llvm-cov reports
# core/src per module (a directory, or a top-level file) over all targets' binaries, then per
# target. Needs the llvm-tools rustup component (llvm-cov and llvm-profdata of rustc's LLVM).
set -euo pipefail
cd "$(dirname "$0")"
work=${DANEEL_FUZZ_WORK:-}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v daneel-fuzz)
host=$(rustc -vV | sed -n 's/^host: //p')
tools=$(rustc --print sysroot)/lib/rustlib/$host/bin
[ -x "$tools/llvm-cov" ] || { echo "needs: rustup component add llvm-tools" >&2; exit 1; }
out=coverage/report
mkdir -p "$out"
objects=()
for t in "${targets[@]}"; do
  objects+=("target/$host/coverage/$host/release/$t")
  if [ -n "${DANEEL_COVERAGE_REUSE:-}" ] && [ -f "coverage/$t/coverage.profdata" ]; then
    continue
  fi
  dirs=(corpus/"$t")
  [ -n "$work" ] && [ -d "$work/$t" ] && dirs+=("$work/$t")
  RUSTC_BOOTSTRAP=1 cargo fuzz coverage --sanitizer none "$t" "${dirs[@]}" >"$out/$t.run.log" 2>&1 \
    || { echo "coverage run of $t failed: $out/$t.run.log" >&2; exit 1; }
done
"$tools/llvm-profdata" merge -sparse coverage/*/coverage.profdata -o "$out/all.profdata"
src=$(cd ../core/src && pwd)
report() { # profile, objects...: per-file "file lines missed" rows for core/src
  local prof=$1; shift
  local args=(); for o in "$@"; do args+=(-object "$o"); done
  "$tools/llvm-cov" export -summary-only -instr-profile "$prof" "${args[@]}" \
    | python3 -c '
import json, sys
src = sys.argv[1]
for f in json.load(sys.stdin)["data"][0]["files"]:
    if f["filename"].startswith(src + "/"):
        l = f["summary"]["lines"]
        print(f["filename"][len(src) + 1:], l["count"], l["covered"])
' "$src"
}
per_module() { # rows -> per-module table
  python3 -c '
import sys, collections
mods = collections.OrderedDict()
rows = [l.split() for l in sys.stdin if l.strip()]
for name, count, covered in sorted(rows):
    mod = name.split("/")[0].removesuffix(".rs")
    c = mods.setdefault(mod, [0, 0]); c[0] += int(count); c[1] += int(covered)
total = [sum(c[0] for c in mods.values()), sum(c[1] for c in mods.values())]
print("%-12s %7s %8s %6s" % ("module", "lines", "covered", "%"))
for m, (n, k) in list(mods.items()) + [("TOTAL", total)]:
    print("%-12s %7d %8d %6.1f" % (m, n, k, 100 * k / max(n, 1)))
'
}
report "$out/all.profdata" "${objects[@]}" | tee "$out/files.txt" | per_module | tee "$out/modules.txt"
for t in "${targets[@]}"; do
  report "coverage/$t/coverage.profdata" "target/$host/coverage/$host/release/$t" | per_module \
    | awk -v t="$t" '$1 == "TOTAL" { printf "%-14s %s/%s lines of core/src (%s%%)\n", t, $3, $2, $4 }'
done | tee "$out/targets.txt"
