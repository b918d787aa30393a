#!/usr/bin/env bash
# Regenerates the Socket.IO sample captures and the peers' logs (needs root for tcpdump, node, npm).
#   plain.pcap   websocket transport only, no compression        (port 18911)
#   deflate.pcap HTTP long-polling upgraded to websocket, every message compressed (port 18912)
# Each run: tcpdump on lo, the server, then the client; both log what they sent and received
# (NAME.server.jsonl, NAME.client.jsonl). Every peer runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/socket.io ] || npm ci --no-audit --no-fund
run() {
  local name=$1 port=$2
  if ss -Htan exclude time-wait "( sport = :$port or dport = :$port )" | grep -q .; then
    echo "$name: port $port busy; refusing to capture foreign traffic" >&2; exit 1
  fi
  local tmp; tmp=$(mktemp -d)
  timeout 60 tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$tmp/$name.pcap" "tcp port $port" 2>"$tmp/tcpdump.err" &
  local td=$!
  for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
  grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
  timeout 30 node peers.js server "$port" "$name" "$tmp/$name.server.jsonl" &
  local srv=$!
  for _ in $(seq 100); do grep -q listening "$tmp/$name.server.jsonl" 2>/dev/null && break; sleep 0.1; done
  timeout 30 node peers.js client "$port" "$name" "$tmp/$name.client.jsonl"
  sleep 0.3
  kill -TERM "$srv"; wait "$srv" || true
  sleep 1  # --immediate-mode: no packets left in the ring-buffer block at SIGINT
  kill -INT "$td"; wait "$td" || true
  grep -q '^0 packets dropped by kernel' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
  grep -q '"event":"done"' "$tmp/$name.client.jsonl" || { echo "$name: client did not finish" >&2; exit 1; }
  mv "$tmp/$name.pcap" "$tmp/$name.server.jsonl" "$tmp/$name.client.jsonl" .
  rm -rf "$tmp"
  echo "$name: ok ($(stat -c %s "$name.pcap") bytes)"
}
run plain 18911
run deflate 18912
