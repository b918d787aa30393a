#!/usr/bin/env bash
# Regenerates node-tls.pcap + node-tls.keys + node-tls.expected.json: Node ws client and server over
# TLS (see node-tls.gen.js). Needs root (tcpdump), node/npm (ws from ../package.json), openssl, tshark.
set -euo pipefail
cd "$(dirname "$0")"
NAME=node-tls
PORT=8470
. ./lib.sh
[ -d ../node_modules/ws ] || (cd .. && npm ci --no-audit --no-fund)
port_free $PORT
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make_cert
start_tcpdump "tcp port $PORT"
timeout 60 node "$NAME.gen.js" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/$NAME.expected.json" "$tmp/$NAME.keys" "$tmp/server.keys"
stop_tcpdump
verify_capture "$tmp/$NAME.pcap" "$tmp/$NAME.keys" "$tmp/$NAME.expected.json"
mv "$tmp/$NAME.pcap" "$tmp/$NAME.keys" "$tmp/$NAME.expected.json" .
timeout 300 python3 ../lib/check.py "$NAME.expected.json"
