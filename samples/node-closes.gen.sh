#!/usr/bin/env bash
# Regenerates node-closes.pcap + node-closes.expected.json (needs root for tcpdump, node, npm, tshark).
set -euo pipefail
cd "$(dirname "$0")"
NAME=node-closes
FILTER='tcp port 8081'
[ -d node_modules/ws ] || npm ci --no-audit --no-fund
if ss -Htan exclude time-wait '( sport = :8081 or dport = :8081 )' | grep -q .; then
  echo "$NAME: port 8081 busy; refusing to capture foreign traffic" >&2; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
timeout 120 tcpdump -i lo -s 0 -U -Z root -w "$tmp/$NAME.pcap" "$FILTER" 2>"$tmp/tcpdump.err" &
td=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
timeout 60 node "$NAME.gen.js" "$tmp/$NAME.expected.json"
sleep 0.5
kill -INT "$td"; wait "$td" || true
# every TCP connection in the capture must be one the generator logged
timeout 60 node -e '
  const exp = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const want = exp.connections.map((c) => c.client.replace(/^.*:/, "")).sort().join(",");
  const got = require("child_process").execFileSync("tshark", ["-r", process.argv[2], "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields", "-e", "tcp.srcport"]).toString().trim().split("\n").filter(Boolean).sort().join(",");
  if (want !== got) { console.error("capture/expected connection mismatch:", got, "vs", want); process.exit(1); }
' "$tmp/$NAME.expected.json" "$tmp/$NAME.pcap"
mv "$tmp/$NAME.pcap" "$tmp/$NAME.expected.json" .
echo "$NAME: ok"
