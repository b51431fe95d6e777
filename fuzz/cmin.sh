#!/bin/bash
# Minimises the checked-in corpora (issue 16): `cargo fuzz cmin` keeps, of the seeds in
# corpus/<target>/, those that add coverage. Regression inputs (files named crash-*, each a
# finding's reproducer) are kept whatever their coverage.
#
#   fuzz/cmin.sh [TARGET...]      (default: every target in Cargo.toml)
#
# After `DANEEL_WRITE_SEEDS=1 cargo test -p daneel --test fuzz_corpus` rewrites the seeds, run
# this, then set the minimum counts in tests/tests/fuzz_corpus.rs to what is left.
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v daneel-fuzz)
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
for t in "${targets[@]}"; do
  before=$(ls corpus/"$t" | wc -l)
  mkdir -p "$keep/$t"
  find corpus/"$t" -maxdepth 1 -name 'crash*' -exec mv {} "$keep/$t/" \;
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin --sanitizer none -O "$t" corpus/"$t" >"$keep/$t.log" 2>&1 \
    || { cat "$keep/$t.log" >&2; exit 1; }
  find "$keep/$t" -maxdepth 1 -type f -exec mv {} corpus/"$t"/ \;
  echo "$t: $before -> $(ls corpus/"$t" | wc -l) inputs"
done
