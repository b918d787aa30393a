#!/usr/bin/env bash
# CPU time of the default text view and of NDJSON against the `tcpdump -r X -w /dev/null` floor,
# measured side by side in one run (the three commands in turn, RUNS rounds; the median of each),
# so that the ratios hold on a shared machine where absolute times drift. See docs/performance.md.
#   bench/make-captures.sh && bench/ratios.sh [CAPTURE (default bench/data/small-messages.pcap)]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/data/small-messages.pcap}
runs=${RUNS:-5}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v tcpdump >/dev/null || apt-get install -y -qq tcpdump >/dev/null
[ -s "$capture" ] || { echo "no $capture: run bench/make-captures.sh first" >&2; exit 1; }
if [ -z "${WSDISSECT:-}" ]; then
  cargo build --release --quiet
  WSDISSECT=$PWD/target/release/wsdissect
fi
cpu() { # COMMAND...: user + system seconds
  local t
  t=$(mktemp)
  /usr/bin/time -o "$t" -f '%U %S' "$@" >/dev/null 2>&1
  awk '{ print $1 + $2 }' "$t"
  rm -f "$t"
}
declare -A times=()
for _ in $(seq "$runs"); do
  times[floor]+="$(cpu tcpdump -r "$capture" -w /dev/null) "
  times[text]+="$(cpu "$WSDISSECT" "$capture") "
  times[json]+="$(cpu "$WSDISSECT" --format json "$capture") "
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
floor=$(median <<<"${times[floor]}")
text=$(median <<<"${times[text]}")
json=$(median <<<"${times[json]}")
echo "| $(basename "$capture"), median of $runs | CPU s | × floor | × text |"
echo "|---|--:|--:|--:|"
awk -v f="$floor" -v t="$text" -v j="$json" 'BEGIN {
  printf "| `tcpdump -r X -w /dev/null` (floor) | %.2f | 1.0 | |\n", f
  printf "| `wsdissect X` (text) | %.2f | %.1f | 1.00 |\n", t, t / f
  printf "| `wsdissect --format json X` | %.2f | %.1f | %.2f |\n", j, j / f, j / t }'
