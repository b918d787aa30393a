#!/usr/bin/env bash
# Regenerates every node-*/chromium-* capture and its expected file.
# Needs root (tcpdump on lo), node + npm, tcpdump, tshark/editcap, chromium:
#   apt-get install -y tcpdump tshark chromium
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/ws ] || npm ci --no-audit --no-fund
for g in node-fragments node-closes node-deflate chromium-echo; do
  "./$g.gen.sh"
done
