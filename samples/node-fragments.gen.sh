#!/usr/bin/env bash
# Regenerates node-fragments.pcap + node-fragments.expected.json (needs root for tcpdump, node, npm, tshark).
set -euo pipefail
cd "$(dirname "$0")"
NAME=node-fragments
FILTER='tcp port 8080'
[ -d node_modules/ws ] || npm ci --no-audit --no-fund
if ss -Htan exclude time-wait '( sport = :8080 or dport = :8080 )' | grep -q .; then
  echo "$NAME: port 8080 busy; refusing to capture foreign traffic" >&2; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
timeout 120 tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$tmp/$NAME.pcap" "$FILTER" 2>"$tmp/tcpdump.err" &
td=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
timeout 60 node "$NAME.gen.js" "$tmp/$NAME.expected.json"
sleep 1  # --immediate-mode: no packets left in the ring-buffer block at SIGINT
kill -INT "$td"; wait "$td" || true
grep -q '^0 packets dropped by kernel' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
# every TCP connection to the WebSocket port must be one the generator logged, and each must
# have been captured to its end (FIN from both sides)
timeout 60 node -e '
  const [expFile, cap, port] = process.argv.slice(1);
  const exp = JSON.parse(require("fs").readFileSync(expFile));
  const tshark = (filter, ...fields) => require("child_process").execFileSync("tshark", ["-r", cap, "-Y", filter, "-T", "fields", ...fields.flatMap((f) => ["-e", f])]).toString().trim().split("\n").filter(Boolean);
  const want = exp.connections.map((c) => c.client.replace(/^.*:/, "")).sort().join(",");
  const got = tshark(`tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==${port}`, "tcp.srcport").sort().join(",");
  if (want !== got) { console.error("capture/expected connection mismatch:", got, "vs", want); process.exit(1); }
  const fins = new Set(tshark(`tcp.flags.fin==1 && tcp.port==${port}`, "tcp.srcport", "tcp.dstport").map((l) => l.replace("\t", ">")));
  for (const c of exp.connections) {
    const p = c.client.replace(/^.*:/, "");
    if (!fins.has(`${p}>${port}`) || !fins.has(`${port}>${p}`)) { console.error(`connection ${c.client} not captured to its end`); process.exit(1); }
  }
' "$tmp/$NAME.expected.json" "$tmp/$NAME.pcap" 8080
mv "$tmp/$NAME.pcap" "$tmp/$NAME.expected.json" .
echo "$NAME: ok"
