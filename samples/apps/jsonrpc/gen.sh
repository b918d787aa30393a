#!/bin/bash
# Regenerate jsonrpc.pcap and jsonrpc.log: the json-rpc-2.0 npm package on both ends over `ws`,
# on loopback, captured with tcpdump. Needs nodejs, npm, tcpdump; root (tcpdump).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=35680
cd "$HERE"
[ -d node_modules ] || npm ci --no-audit --no-fund
tcpdump -i lo -U -w "$HERE/jsonrpc.pcap" "tcp port $PORT" 2> /tmp/stompgql-jsonrpc-tcpdump.err &
DUMP=$!
sleep 1
rm -f jsonrpc.log
LOG="$HERE/jsonrpc.log" PORT=$PORT timeout 20 node peers.mjs
sleep 1
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true
ls -l jsonrpc.pcap jsonrpc.log
