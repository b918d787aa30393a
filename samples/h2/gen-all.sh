#!/usr/bin/env bash
# Regenerates every capture in samples/h2 (root: tcpdump on lo). Needs tcpdump, tshark, openssl,
# python3 with `pip install hypercorn h2 wsproto`, node + ../node_modules (ws 8.23.0; `npm ci` in ..),
# firefox-esr + certutil (libnss3-tools). Each generator refuses busy ports (8601-8607) and only
# replaces its committed files after its checks pass.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
timeout 300 "$PY" py-h2c.gen.py
timeout 300 "$PY" py-h2-tls.gen.py
timeout 300 "$PY" py-h2c-upgrade.gen.py
timeout 300 ./node-h2c.gen.sh
timeout 300 "$PY" firefox-h2.gen.py
if [ -f py-h2-violations.gen.py ]; then timeout 300 "$PY" py-h2-violations.gen.py; fi
echo "samples/h2: all regenerated"
