#!/usr/bin/env bash
# Instructions executed (valgrind callgrind), for two wsdissect binaries on the same inputs:
# a count that does not depend on what else the machine is doing, so a refactor can be
# compared with the code before it on a shared machine. Prints a markdown table.
#   bench/instructions.sh OLD_BINARY NEW_BINARY
# Build both with `cargo build --profile profiling` (release code with debug info; the binary is
# target/profiling/wsdissect): the counts are those of the release build, and the same binaries
# can then be looked at function by function (callgrind_annotate, perf report). The release
# profile has no debug info. A commit older than the profiling profile: `cargo build --release
# --config profile.release.debug=1`.
# Needs valgrind and the captures of bench/make-captures.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: bench/instructions.sh OLD_BINARY NEW_BINARY}
new=${2:?usage: bench/instructions.sh OLD_BINARY NEW_BINARY}
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
[ -s bench/data/small-messages-10mb.pcap ] || { echo "no captures: run bench/make-captures.sh first" >&2; exit 1; }
runs=(
  "bench/data/small-messages-10mb.pcap"
  "--format json bench/data/small-messages-10mb.pcap"
  "-v bench/data/small-messages-10mb.pcap"
  "--packets 8000 bench/data/deflate.pcap"
  "--packets 8000 --format json bench/data/deflate.pcap"
  "bench/data/large-messages.pcap"
)
count() { # BINARY ARGS...
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| arguments | old (M instr.) | new (M instr.) | change |"
echo "|---|--:|--:|--:|"
for r in "${runs[@]}"; do
  # shellcheck disable=SC2086 # the arguments are meant to split
  a=$(count "$old" $r)
  # shellcheck disable=SC2086
  b=$(count "$new" $r)
  awk -v r="$r" -v a="$a" -v b="$b" \
    'BEGIN { printf "| `%s` | %.0f | %.0f | %+.1f %% |\n", r, a / 1e6, b / 1e6, (b - a) * 100 / a }'
done
