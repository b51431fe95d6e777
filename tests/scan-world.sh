#!/bin/sh
# daneel scan against the generated benchmark world (issue 14), in a private network
# namespace: for each concurrency, one scan of N domains served by the scan-world example
# (tests/examples/scan-world.rs), measured with /usr/bin/time -v. Prints, per run, domains
# per second, daneel's CPU per domain, its peak RSS, the world's CPU, and how many verdicts
# differ from the world's plan (there must be none).
#
#   tests/scan-world.sh [N] [CONCURRENCY...] [-- extra daneel scan arguments]
#   e.g. tests/scan-world.sh 10000 100 1000 10000
#
# With `-- --dnssec validate` the world's trust anchor is passed too (--trust-anchor).
# Needs root (unshare, port 25), python3 and /usr/bin/time; builds in release first, outside
# the namespace. CARGO_TARGET_DIR is honoured.
set -eu

if [ "${SCAN_WORLD_INSIDE:-}" != 1 ]; then
	cd "$(dirname "$0")/.."
	cargo build --release -q -p daneel --bin daneel --example scan-world
	export SCAN_WORLD_INSIDE=1
	export SCAN_WORLD_BIN="${CARGO_TARGET_DIR:-target}/release"
	exec unshare -n "$0" "$@"
fi

ip link set lo up
n=${1:-1000}
[ $# -gt 0 ] && shift
concurrencies=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	concurrencies="$concurrencies $1"
	shift
done
[ $# -gt 0 ] && shift
[ -n "$concurrencies" ] || concurrencies="100 1000 10000"

bin=$SCAN_WORLD_BIN
dir=$(mktemp -d /tmp/scan-world.XXXXXX)
"$bin/examples/scan-world" "$n" --out "$dir" >"$dir/world.out" 2>"$dir/world.err" &
world=$!
trap 'kill $world 2>/dev/null; rm -rf "$dir"' EXIT
while ! grep -q '^ready' "$dir/world.out" 2>/dev/null; do
	kill -0 $world 2>/dev/null || { cat "$dir/world.err"; exit 1; }
	sleep 0.1
done
cat "$dir/world.err"
resolver=$(awk '/^resolver/ {print $2}' "$dir/world.out")
case " $* " in
*" validate "*) set -- "$@" --trust-anchor "$(awk '/^anchor/ {print $2}' "$dir/world.out")" ;;
esac

world_cpu() { awk '{print $14 + $15}' "/proc/$world/stat"; }

for c in $concurrencies; do
	before=$(world_cpu)
	/usr/bin/time -v "$bin/daneel" scan "$dir/scan-world-$n.txt" --resolver "$resolver" -4 \
		--concurrency "$c" --no-progress "$@" >"$dir/out.jsonl" 2>"$dir/time.txt" || true
	after=$(world_cpu)
	python3 - "$dir" "$n" "$c" "$before" "$after" <<'PY'
import collections, json, re, sys
d, n, c, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
expected = dict(line.split() for line in open(f"{d}/scan-world-{n}.expected"))
got = {}
for line in open(f"{d}/out.jsonl"):
    r = json.loads(line)
    got[r.get("domain")] = r.get("verdict")
wrong = [(k, got.get(k), v) for k, v in expected.items() if got.get(k) != v]
t = open(f"{d}/time.txt").read()
field = lambda k: re.search(re.escape(k) + r":\s*(.*)", t).group(1).strip()
wall = 0.0
for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
    wall = wall * 60 + float(part)
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
rss = int(field("Maximum resident set size (kbytes)")) / 1024
ran = re.search(r"at most (\d+) checks ran at once", t)
ran = ran.group(1) if ran else "?"
print(f"N={n} concurrency={c}: {len(got)} reports, {len(wrong)} verdicts not as planned {wrong[:3]}; "
      f"{wall:.2f} s, {n / wall:.0f} domains/s; daneel CPU {1000 * cpu / n:.2f} ms/domain; "
      f"peak RSS {rss:.0f} MiB; at most {ran} checks at once; world CPU {(after - before) / 100 / n * 1000:.2f} ms/domain")
print("  ", dict(collections.Counter(got.values())))
sys.exit(1 if wrong or len(got) != n else 0)
PY
done
