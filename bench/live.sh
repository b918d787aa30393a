#!/usr/bin/env bash
# Sustained live-capture rate: a python `websockets` client (tests/live/peer.py flood) sends
# small text messages over loopback at a target rate, one connection, no compression, while
# `wsdissect -i lo -f 'tcp port P' --format json > /dev/null` captures. For each rate: the rate
# the peer achieved, libpcap's counters (received / dropped by kernel), the messages wsdissect
# reported (its message records, counted) and its CPU time. The highest rate with
# zero kernel drops is the sustained rate. Needs root (capture on lo) and a python with
# websockets >= 13: WSDISSECT_PYTHON (e.g. target/py-venv/bin/python, which scripts/test.sh
# makes), default python3.
#
#   bench/live.sh                     rates 5000 10000 20000 40000 max, 10 s each, 64-byte messages
#   RATES="2000 max" SECS=5 SIZE=200 bench/live.sh
#   WSDISSECT=/path/to/wsdissect bench/live.sh      (default: a release build, copied)
#
# Results: docs/performance.md, "Live capture".
set -euo pipefail
PY=${WSDISSECT_PYTHON:-python3}
case $PY in */*) PY=$(realpath -s "$PY") ;; esac # relative to where it was started; -s: keep a venv's link
cd "$(dirname "$0")"
RATES=${RATES:-"5000 10000 20000 40000 max"}
SECS=${SECS:-10}
SIZE=${SIZE:-64}
[ "$(id -u)" = 0 ] || { echo "live capture needs root" >&2; exit 1; }
"$PY" -c 'import websockets.asyncio.client' 2>/dev/null || { echo "needs $PY with websockets >= 13 (set WSDISSECT_PYTHON)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${WSDISSECT:-}" ]; then
  (cd .. && cargo build --release --quiet)
  cp ../target/release/wsdissect "$work/wsdissect"
  WSDISSECT=$work/wsdissect
fi
PEER=../tests/live/peer.py

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; kernel $(uname -r)"
echo "- $SECS s per rate, $SIZE-byte text messages, one connection, client to server only"
echo
echo "| target msg/s | achieved msg/s | messages reported | packets received | dropped by kernel | wsdissect CPU s |"
echo "|---:|---:|---:|---:|---:|---:|"
for rate in $RATES; do
  port=$(free_port)
  r=$rate; [ "$rate" = max ] && r=0
  # Output is not kept: message records are only counted (grep -c, far cheaper than wsdissect).
  "$WSDISSECT" -i lo -f "tcp port $port" --format json 2>"$work/err" \
    > >(grep -c '"type":"message"' >"$work/count") &
  wpid=$!
  sleep 1
  out=$(timeout $((SECS + 30)) "$PY" "$PEER" flood "$port" "$r" "$SECS" "$SIZE")
  sleep 1
  cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$wpid/stat" 2>/dev/null || echo "?")
  kill -TERM "$wpid" 2>/dev/null || true
  # An idle libpcap read only returns when a packet arrives (libpcap >= 1.10 on Linux): give it one.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.3
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || true
  done
  wait "$wpid" || true
  sleep 0.5  # let grep finish
  achieved=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rate"])' "$out")
  line=$(grep 'packets received by filter' "$work/err" || echo "? packets received by filter, ? dropped by kernel")
  received=$(sed -E 's/^wsdissect: ([0-9?]+) packets received.*/\1/' <<<"$line")
  kernel=$(sed -E 's/.*, ([0-9?]+) dropped by kernel.*/\1/' <<<"$line")
  sent=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["messages"])' "$out")
  echo "| $rate | $achieved | $(cat "$work/count") of $sent | $received | $kernel | $cpu |"
done
