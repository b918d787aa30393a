#!/usr/bin/env bash
# A capture of any size from a pipe: bench/stream.py plays bench/data/small-messages.pcap again
# and again (new connections each round) into `wsdissect -`, and GNU time reports the peak RSS
# and CPU time. The 100 MB file itself is read the same way first, for the speed per MB to
# compare with. No disk is needed for the big stream. See docs/performance.md.
#   bench/make-captures.sh && bench/stream.sh [GIGABYTES (default 10)] [FORMAT (default json)]
set -euo pipefail
cd "$(dirname "$0")"
gb=${1:-10}
format=${2:-json}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -s data/small-messages.pcap ] || { echo "no captures: run bench/make-captures.sh first" >&2; exit 1; }
if [ -z "${WSDISSECT:-}" ]; then
  (cd .. && cargo build --release --quiet)
  WSDISSECT=$PWD/../target/release/wsdissect
fi
size=$(stat -c %s data/small-messages.pcap)
run() { # LABEL BYTES COMMAND...: one line of the table
  local label=$1 bytes=$2
  shift 2
  local t
  t=$(mktemp)
  /usr/bin/time -o "$t" -f '%e %U %S %M' bash -c "$*"
  read -r wall user sys rss <"$t"
  rm -f "$t"
  awk -v l="$label" -v b="$bytes" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
    printf "| %s | %.2f GB | %.1f s | %.1f s | %.0f MB/s | %.1f MiB |\n", l, b / 1e9, w, u + s, b / 1e6 / w, r / 1024 }'
}
echo "| input | size | wall | CPU (all processes) | throughput | peak RSS (largest process) |"
echo "|---|--:|--:|--:|--:|--:|"
run "the 100 MB file, from a pipe" "$size" \
  "cat data/small-messages.pcap | $WSDISSECT --format $format - >/dev/null"
run "bench/stream.py, ${gb} GB" "$(awk -v g="$gb" 'BEGIN { printf "%.0f", g * 1e9 }')" \
  "python3 stream.py data/small-messages.pcap $gb | /usr/bin/time -o /tmp/stream-ws -f '%U %S %M' $WSDISSECT --format $format - >/dev/null"
echo
# The generator (Python) is the slower end of the pipe and holds the capture in memory; what
# wsdissect itself spent and held:
awk -v g="$gb" '{ printf "wsdissect alone on the %s GB stream: %.1f s CPU (%.2f s per 100 MB), peak RSS %.1f MiB\n", g, $1 + $2, ($1 + $2) / (g * 10), $3 / 1024 }' /tmp/stream-ws
