#!/usr/bin/env bash
# The -j N scaling curve: wall-clock and CPU time of `wsdissect -j N --format json CAPTURE` for
# N = 1, 2, 3, 4, measured side by side in one run (the four commands in turn, RUNS rounds; the
# median of each), so the speed-ups hold on a shared machine where absolute times drift. The
# outputs go to /dev/null, as in the other benchmarks, and are compared once after the rounds
# (the same bytes for every N). The load average before and after is printed: other
# work on the machine takes cores from the threads. See docs/performance.md.
#   bench/make-captures.sh && bench/threads.sh [CAPTURE (default bench/data/many-connections.pcap)]
#   FORMAT="--format table" bench/threads.sh   # another view (default: --format json)
# "speed-up" divides the medians of the wall times; "speed-up, paired" is the median of each
# round's own ratio (the first thread count's run against this one, run just after it).
# Each round also runs two `-j 1` at once, as two processes that share nothing: what two
# cores of this machine give over one, at that moment, with no threads' cost at all (on a
# shared or virtual machine often well under 2×). CEILING=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/data/many-connections.pcap}
runs=${RUNS:-7}
format=${FORMAT:---format json}
threads=${THREADS:-1 2 3 4}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -s "$capture" ] || { echo "no $capture: run bench/make-captures.sh first" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -z "${WSDISSECT:-}" ]; then
  cargo build --release --quiet
  # A copy, so a rebuild during the run changes nothing.
  WSDISSECT=$out/wsdissect
  cp target/release/wsdissect "$WSDISSECT"
fi
cat "$capture" >/dev/null # page cache warm
measure() { # N: "wall cpu rss" of one run (its output to /dev/null, as in the other benchmarks)
  local t
  t=$(mktemp)
  # shellcheck disable=SC2086 # $format is several words
  /usr/bin/time -o "$t" -f '%e %U %S %M' "$WSDISSECT" -j "$1" $format "$capture" >/dev/null
  awk '{ print $1, $2 + $3, $4 }' "$t"
  rm -f "$t"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
declare -A wall=() cpu=() rss=() ratio=()
first=${threads%% *}
ceiling=${CEILING:-1}
pairs=""
two_at_once() { # wall seconds of two `-j 1` runs started together
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # $format is several words
  "$WSDISSECT" -j 1 $format "$capture" >/dev/null &
  # shellcheck disable=SC2086
  "$WSDISSECT" -j 1 $format "$capture" >/dev/null &
  wait
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { print e - s }'
}
for _ in $(seq "$runs"); do
  for n in $threads; do
    read -r w c m < <(measure "$n")
    wall[$n]+="$w "
    cpu[$n]+="$c "
    rss[$n]+="$m "
    # This round's speed-up, against the first thread count's run of the same round: a
    # drift in the machine's speed between rounds cancels out.
    [ "$n" = "$first" ] && base_w=$w
    ratio[$n]+="$(awk -v b="$base_w" -v w="$w" 'BEGIN { print b / w }') "
  done
  if [ "$ceiling" != 0 ] && [ "$first" = 1 ]; then
    p=$(two_at_once)
    pairs+="$(awk -v b="$base_w" -v p="$p" 'BEGIN { print 2 * b / p }') "
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $threads; do # the outputs, once each, compared
  # shellcheck disable=SC2086 # $format is several words
  "$WSDISSECT" -j "$n" $format "$capture" >"$out/$n"
  cmp -s "$out/$first" "$out/$n" || { echo "-j $n wrote other bytes than -j $first" >&2; exit 1; }
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(median <<<"${wall[$first]}")
echo "| $(basename "$capture"), \`$format\`, median of $runs | wall s | speed-up | speed-up, paired | CPU s | max RSS MiB |"
echo "|---|--:|--:|--:|--:|--:|"
for n in $threads; do
  w=$(median <<<"${wall[$n]}")
  r=$(median <<<"${ratio[$n]}")
  c=$(median <<<"${cpu[$n]}")
  m=$(median <<<"${rss[$n]}")
  awk -v n="$n" -v w="$w" -v b="$base" -v r="$r" -v c="$c" -v m="$m" \
    'BEGIN { printf "| `-j %s` | %.2f | %.2f× | %.2f× | %.2f | %.0f |\n", n, w, b / w, r, c, m / 1024 }'
done
if [ -n "$pairs" ]; then
  echo
  ceil=$(median <<<"$pairs" | awk '{ printf "%.2f", $1 }')
  echo "The machine's ceiling: two \`-j 1\` runs at once do ${ceil}× the work of one"
  echo "in the same time (median of each round's own ratio)."
fi
