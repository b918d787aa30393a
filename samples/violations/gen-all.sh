#!/bin/sh
# Regenerate every violations/*.pcap and its expected.json (root: tcpdump on lo).
set -e
cd "$(dirname "$0")"
for g in client-frames client-frames-node server-frames handshakes handshakes-2 deflate; do
    timeout 180 python3 "$g.gen.py"
done
