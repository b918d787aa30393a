#!/usr/bin/env bash
# Instructions executed (valgrind callgrind) per WebSocket message, for one wsdissect binary on
# the ~10 MB cuts of the same small-message traffic over HTTP/1.1 and over HTTP/2 (RFC 8441):
# the cost of the HTTP/2 layer per message as a number that does not depend on the machine's
# load. Prints a markdown table; keeps the callgrind files of the text runs in bench/data/
# (callgrind.h1.out, callgrind.h2.out) for callgrind_annotate.
#   bench/instructions-h2.sh [BINARY]          (default target/release/wsdissect)
# Needs valgrind and the captures of bench/make-captures.sh (small-messages-10mb.pcap,
# small-messages-h2-10mb.pcap).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/wsdissect}
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
for c in small-messages-10mb small-messages-h2-10mb; do
  [ -s "bench/data/$c.pcap" ] || { echo "no bench/data/$c.pcap: run bench/make-captures.sh first" >&2; exit 1; }
done
count() { # OUT ARGS...: millions of instructions
  local out=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
messages() { "$bin" --format json "$1" | grep -c '^{"type":"message"'; }
packets() { capinfos -c -M "$1" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}'; }
h1=bench/data/small-messages-10mb.pcap
h2=bench/data/small-messages-h2-10mb.pcap
m1=$(messages $h1); m2=$(messages $h2)
p1=$(packets $h1); p2=$(packets $h2)
echo "| arguments | capture | packets | messages | M instr. | instr./message | HTTP/2 ÷ HTTP/1.1 per message |"
echo "|---|---|--:|--:|--:|--:|--:|"
for args in "" "--format json"; do
  tag=$([ -z "$args" ] && echo text || echo json)
  # shellcheck disable=SC2086 # the arguments are meant to split
  a=$(count "bench/data/callgrind.h1.$tag.out" $args $h1)
  # shellcheck disable=SC2086
  b=$(count "bench/data/callgrind.h2.$tag.out" $args $h2)
  awk -v args="${args:-(text)}" -v a="$a" -v b="$b" -v m1="$m1" -v m2="$m2" -v p1="$p1" -v p2="$p2" 'BEGIN {
    printf "| `%s` | small-messages-10mb | %d | %d | %.0f | %.0f | |\n", args, p1, m1, a / 1e6, a / m1
    printf "| `%s` | small-messages-h2-10mb | %d | %d | %.0f | %.0f | %.2f× |\n", args, p2, m2, b / 1e6, b / m2, (b / m2) / (a / m1)
  }'
done
