#!/usr/bin/env bash
# Regenerates node-h2c.pcap + node-h2c.expected.json (root for tcpdump; node; tshark; python3 with h2lib's deps).
# NODE_PATH defaults to ../node_modules (ws 8.23.0 from ../package.json; `npm ci` there if missing).
set -euo pipefail
cd "$(dirname "$0")"
NAME=node-h2c
PORT=8604
export NODE_PATH=${NODE_PATH:-$PWD/../node_modules}
[ -d "$NODE_PATH/ws" ] || (cd .. && timeout 300 npm ci --no-audit --no-fund)
if ss -Htan exclude time-wait "( sport = :$PORT or dport = :$PORT )" | grep -q .; then
  echo "$NAME: port $PORT busy; refusing to capture foreign traffic" >&2; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
timeout 120 tcpdump -n -i lo -s 0 -U --immediate-mode -B 16384 -Z root -w "$tmp/$NAME.pcap" "tcp port $PORT" 2>"$tmp/tcpdump.err" &
td=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
sleep 0.3
timeout 60 node "$NAME.gen.js" "$PORT" "$tmp/$NAME.expected.json"
sleep 1  # --immediate-mode: nothing left in the ring-buffer block at SIGINT
kill -INT "$td"; wait "$td" || true
cat "$tmp/tcpdump.err" >&2
grep -q '^0 packets dropped by kernel' "$tmp/tcpdump.err" || { echo "tcpdump dropped packets" >&2; exit 1; }
# the TCP connection is the one in the expected file, captured to its end; tshark sees the
# HTTP/2 streams (extended CONNECT with :protocol websocket, the GET) and their statuses
timeout 120 python3 - "$tmp/$NAME.pcap" "$tmp/$NAME.expected.json" "$PORT" <<'PY'
import json, os, sys
sys.path.insert(0, os.getcwd())
import h2lib
cap, expf, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
exp = json.load(open(expf))
h2lib.check_tcp(cap, port, [int(c["client"].rsplit(":", 1)[1]) for c in exp["connections"]])
h2lib.check_h2_streams(cap, ["-d", f"tcp.port=={port},http2"], port, exp["connections"])
assert os.path.getsize(cap) < 2_000_000
d = json.load(open(expf))
d["versions"].update({k: v for k, v in h2lib.versions().items() if k in ("tcpdump", "tshark")})
json.dump(d, open(expf, "w"), indent=1, ensure_ascii=False)
open(expf, "a").write("\n")
print("capture ok")
PY
mv "$tmp/$NAME.pcap" "$tmp/$NAME.expected.json" .
echo "$NAME: ok"
