#!/bin/bash
# Regenerate graphql-transport-ws.pcap, graphql-ws.pcap and graphql.log: graphql-ws and
# subscriptions-transport-ws servers and clients (Node, `ws`) on loopback, captured with
# tcpdump. Needs nodejs, npm, tcpdump; root (tcpdump).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
[ -d node_modules ] || npm ci --no-audit --no-fund
tcpdump -i lo -U -w graphql-transport-ws.pcap "tcp port 35681" 2> /tmp/stompgql-gql-new.err &
NEW=$!
tcpdump -i lo -U -w graphql-ws.pcap "tcp port 35682" 2> /tmp/stompgql-gql-old.err &
OLD=$!
sleep 1
rm -f graphql.log
LOG="$HERE/graphql.log" PORT_NEW=35681 PORT_OLD=35682 timeout 30 node peers.mjs
sleep 1
kill "$NEW" "$OLD"; wait "$NEW" "$OLD" 2>/dev/null || true
ls -l graphql-transport-ws.pcap graphql-ws.pcap graphql.log
