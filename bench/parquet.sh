#!/usr/bin/env bash
# Writing parquet (`--format parquet --out DIR`) against NDJSON (`--format json`, to /dev/null)
# on one capture, side by side in one run (the two in turn, RUNS rounds; the median of each):
# CPU seconds, peak RSS, rows per CPU second, capture MB per CPU second, output size.
# See docs/performance.md and docs/parquet.md.
#   bench/make-captures.sh && bench/parquet.sh [CAPTURE (default bench/data/small-messages.pcap)]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/data/small-messages.pcap}
runs=${RUNS:-5}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -s "$capture" ] || { echo "no $capture: run bench/make-captures.sh first" >&2; exit 1; }
if [ -z "${WSDISSECT:-}" ]; then
  cargo build --release --quiet
  WSDISSECT=$PWD/target/release/wsdissect
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
measure() { # COMMAND...: "cpu_seconds peak_kib", output to /dev/null
  /usr/bin/time -o "$scratch/time" -f '%U %S %M' "$@" >/dev/null 2>&1
  awk '{ print $1 + $2, $3 }' "$scratch/time"
}
declare -A cpu=() rss=()
for i in $(seq "$runs"); do
  read -r c m < <(measure "$WSDISSECT" --format json "$capture")
  cpu[json]+="$c " rss[json]+="$m "
  rm -rf "$scratch/out"
  read -r c m < <(measure "$WSDISSECT" --format parquet --out "$scratch/out" "$capture")
  cpu[parquet]+="$c " rss[parquet]+="$m "
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# Rows: NDJSON records of the five table types (the parquet files hold the same rows).
"$WSDISSECT" --format json "$capture" >"$scratch/all.ndjson"
rows=$(grep -cE '^\{"type":"(connection|handshake|frame|message|diagnostic)"' "$scratch/all.ndjson")
json_bytes=$(stat -c %s "$scratch/all.ndjson")
parquet_bytes=$(du -cb "$scratch"/out/*.parquet | tail -1 | cut -f1)
mb=$(awk -v b="$(stat -L -c %s "$capture")" 'BEGIN { print b / 1e6 }')
echo "| $(basename "$capture") ($mb MB, $rows rows), median of $runs | CPU s | peak RSS MiB | rows/s | capture MB/s | output MB |"
echo "|---|--:|--:|--:|--:|--:|"
for f in json parquet; do
  c=$(median <<<"${cpu[$f]}")
  m=$(median <<<"${rss[$f]}")
  out=$([ $f = json ] && echo "$json_bytes" || echo "$parquet_bytes")
  flags=$([ $f = json ] && echo "--format json" || echo "--format parquet --out DIR")
  awk -v f="$flags" -v c="$c" -v m="$m" -v r="$rows" -v mb="$mb" -v o="$out" 'BEGIN {
    printf "| `wsdissect %s X` | %.2f | %.0f | %.0f | %.0f | %.1f |\n", f, c, m / 1024, r / c, mb / c, o / 1e6 }'
done
