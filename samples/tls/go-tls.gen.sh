#!/usr/bin/env bash
# Regenerates go-tls.pcap + go-tls.keys + go-tls.expected.json: gorilla/websocket client and server
# over Go's crypto/tls (see go-tls.gen.go). Needs root (tcpdump, apt-get), openssl, tshark, and
# Debian's golang + golang-github-gorilla-websocket-dev (installed here if missing), built offline
# in GOPATH mode against /usr/share/gocode (no module download).
set -euo pipefail
cd "$(dirname "$0")"
NAME=go-tls
PORT=8471
. ./lib.sh
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/gorilla/websocket ]; then
  timeout 900 apt-get install -y golang golang-github-gorilla-websocket-dev >/dev/null
fi
port_free $PORT
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE="$tmp/gocache" \
  timeout 300 go build -o "$tmp/go-tls" "$NAME.gen.go"
make_cert
start_tcpdump "tcp port $PORT"
timeout 60 "$tmp/go-tls" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/$NAME.expected.json" "$tmp/$NAME.keys" "$tmp/server.keys"
stop_tcpdump
verify_capture "$tmp/$NAME.pcap" "$tmp/$NAME.keys" "$tmp/$NAME.expected.json"
mv "$tmp/$NAME.pcap" "$tmp/$NAME.keys" "$tmp/$NAME.expected.json" .
timeout 300 python3 ../lib/check.py "$NAME.expected.json"
