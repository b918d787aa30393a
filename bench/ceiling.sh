#!/usr/bin/env bash
# What two cores of this machine give over one, with nothing of wsdissect in it: a loop that
# only computes (Python, touching almost no memory) timed alone and as two processes at once,
# in RUNS rounds (alone and together alternating, so a drift in the machine's speed falls on
# both). Prints the median, and the spread, of each round's own ratio: 2 × alone / together.
# Two cores that did not slow each other down would give 2.00×; on a shared or virtual machine
# they do, by an amount that changes from minute to minute, and this is about what a program's
# -j 2 can hope for at that moment. See docs/performance.md (issue 14).
#   RUNS=41 bench/ceiling.sh
set -euo pipefail
runs=${RUNS:-21}
loop='x = 0
for i in range(4_000_000):
    x += i * i'
spin() { python3 -c "$loop"; }
now() { date +%s.%N; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
ratios=""
for _ in $(seq "$runs"); do
  a=$(now)
  spin
  b=$(now)
  spin &
  spin
  wait
  c=$(now)
  ratios+="$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "%.4f", 2 * (b - a) / (c - b) }') "
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086 # one ratio per word
printf '%s\n' $ratios | sort -n | awk -v runs="$runs" '
  { r[NR] = $1 }
  END {
    printf "two processes at once do %.2fx the work of one (median of %d rounds; ", r[int((NR + 1) / 2)], runs
    printf "quartiles %.2f-%.2f, range %.2f-%.2f)\n", r[int(NR / 4) + 1], r[int(3 * NR / 4) + 1], r[1], r[NR]
  }'
