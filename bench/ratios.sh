#!/usr/bin/env bash
# CPU time of the default text view and of NDJSON against the `tcpdump -r X -w /dev/null` floor
# and tshark's one-line summaries (`tshark -r X`), measured side by side in one run (RUNS rounds,
# the commands in a new order each round; the median time of each, and the median of each
# round's own ratios), so that the ratios hold on a shared machine where absolute times drift.
# See docs/performance.md.
#   bench/make-captures.sh && bench/ratios.sh [CAPTURE (default bench/data/small-messages.pcap)]
# WSDISSECT=BINARY measures that binary (default: a fresh release build); WSDISSECT_OLD=BINARY
# adds its text and JSON rows to the same rounds, for before and after; TSHARK=0 leaves tshark
# out (it takes about 15 s per 100 MB round). Each sample is the CPU time of REPEAT runs in a row
# (default 5), divided by REPEAT: the timer counts 10 ms ticks, and the floor is a few of them.
# ARGS adds arguments to every wsdissect run (ARGS="-j 1": one thread for JSON too).
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/data/small-messages.pcap}
runs=${RUNS:-5}
repeat=${REPEAT:-5}
read -r -a args <<<"${ARGS:-}"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v tcpdump >/dev/null || apt-get install -y -qq tcpdump >/dev/null
[ -s "$capture" ] || { echo "no $capture: run bench/make-captures.sh first" >&2; exit 1; }
if [ -z "${WSDISSECT:-}" ]; then
  cargo build --release --quiet
  WSDISSECT=$PWD/target/release/wsdissect
fi
tshark=${TSHARK:-1}
[ "$tshark" = 0 ] || command -v tshark >/dev/null || { echo "no tshark (TSHARK=0 leaves it out)" >&2; exit 1; }
cpu() { # COMMAND...: user + system seconds of one run, the mean of $repeat in a row
  local t
  t=$(mktemp)
  # shellcheck disable=SC2016 # expanded by the inner shell
  /usr/bin/time -o "$t" -f '%U %S' sh -c 'n=$1; shift; for _ in $(seq "$n"); do "$@"; done' \
    sh "$repeat" "$@" >/dev/null 2>&1
  awk -v n="$repeat" '{ print ($1 + $2) / n }' "$t"
  rm -f "$t"
}
measure() { # KEY: one sample of that command
  case $1 in
    floor) cpu tcpdump -r "$capture" -w /dev/null ;;
    tshark) cpu tshark -n -r "$capture" ;;
    oldtext) cpu "$WSDISSECT_OLD" "${args[@]}" "$capture" ;;
    oldjson) cpu "$WSDISSECT_OLD" "${args[@]}" --format json "$capture" ;;
    text) cpu "$WSDISSECT" "${args[@]}" "$capture" ;;
    json) cpu "$WSDISSECT" "${args[@]}" --format json "$capture" ;;
  esac
}
ratio() { # A B: A / B, or nothing when B is no ticks at all
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) print a / b }'
}
keys="floor text json"
[ "$tshark" = 0 ] || keys+=" tshark"
[ -z "${WSDISSECT_OLD:-}" ] || keys+=" oldtext oldjson"
declare -A times=() per_floor=() per_text=()
for _ in $(seq "$runs"); do
  declare -A round=()
  # In a new order each round: in a fixed one, a command always run after the same others may
  # be measured slower (JSON, always run right after the text view, read 1.35-1.44x of it on
  # 2026-11-30, when rounds in a new order each time read 1.23-1.27x).
  for key in $(tr ' ' '\n' <<<"$keys" | shuf); do
    round[$key]=$(measure "$key")
    times[$key]+="${round[$key]} "
  done
  # Each round's own ratios: a drift of the machine between rounds cancels out.
  for key in $keys; do
    per_floor[$key]+="$(ratio "${round[$key]}" "${round[floor]}") "
    per_text[$key]+="$(ratio "${round[$key]}" "${round[text]}") "
  done
  unset round
done
median() { # of the numbers given, or nan when there are none
  tr ' ' '\n' | { grep . || true; } | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'
}
floor=$(median <<<"${times[floor]}")
row() { # LABEL KEY: the median time, and the medians of each round's own ratios
  local t f x
  t=$(median <<<"${times[$2]}")
  f=$(median <<<"${per_floor[$2]}")
  x=$(median <<<"${per_text[$2]}")
  awk -v l="$1" -v t="$t" -v f="$f" -v x="$x" \
    'BEGIN { printf "| %s | %.3f | %.1f | %.2f |\n", l, t, f, x }'
}
echo "| $(basename "$capture"), median of $runs${ARGS:+, \`$ARGS\`} | CPU s | × floor | × text |"
echo "|---|--:|--:|--:|"
awk -v f="$floor" 'BEGIN { printf "| `tcpdump -r X -w /dev/null` (floor) | %.3f | 1.0 | |\n", f }'
[ "$tshark" = 0 ] || row '`tshark -n -r X`' tshark
if [ -n "${WSDISSECT_OLD:-}" ]; then
  row '`wsdissect X` (text), old' oldtext
  row '`wsdissect --format json X`, old' oldjson
fi
row '`wsdissect X` (text)' text
row '`wsdissect --format json X`' json
