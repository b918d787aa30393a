#!/usr/bin/env bash
# Makes the benchmark captures in bench/data/ (git-ignored): real WebSocket traffic between
# Node `ws` 8 clients and server (samples/node_modules, bench/gen.js) over loopback, captured by
# tcpdump. Idempotent: a capture whose .pcap and .count both exist is kept (FORCE=1 remakes).
#
#   small-messages.pcap  ~100 MB, 100–300 B JSON-like text both ways, 8 conns, no compression
#   large-messages.pcap  ~100 MB, 64 KiB–1 MiB binary both ways, 4 conns, no compression
#   deflate.pcap         ~50 MB,  200 B–4 KiB JSON-like text both ways, 4 conns, permessage-deflate
#   small-messages-10mb.pcap  the first ~10 MB of small-messages.pcap (editcap), for the
#                             memory-vs-capture-size check
#   small-messages-tls.pcap   the traffic of small-messages (same sizes, same seeds) over wss://
#                             (TLS 1.3, Node's default suite), + small-messages-tls.keys
#   large-messages-tls.pcap   the traffic of large-messages over wss://, + large-messages-tls.keys
#
# NAME.count is the generators' own count of messages sent (both directions); NAME.count.json
# has the details (for TLS: version and suite of every connection). NAME.keys is the TLS key
# log, from the 'keylog' events of both ends; the certificate is a self-signed one made here, at
# run time (openssl). Needs root (tcpdump on lo), node (+ `npm ci` in samples/), tcpdump,
# editcap, openssl.
# Bounded: each generator runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
DATA=$BENCH/data
mkdir -p "$DATA"
[ -d ../samples/node_modules/ws ] || (cd ../samples && npm ci --no-audit --no-fund)
for t in tcpdump editcap node openssl; do command -v $t >/dev/null || { echo "missing $t (apt-get install -y tcpdump tshark nodejs)" >&2; exit 1; }; done

capture() { # NAME MODE PORT
  local name=$1 mode=$2 port=$3
  local tls=; case $mode in *-tls) tls=1 ;; esac
  if [ -z "${FORCE:-}" ] && [ -s "$DATA/$name.pcap" ] && [ -s "$DATA/$name.count" ] &&
    { [ -z "$tls" ] || [ -s "$DATA/$name.keys" ]; }; then
    echo "$name: exists ($(du -h "$DATA/$name.pcap" | cut -f1), $(cat "$DATA/$name.count") messages)"
    return
  fi
  if ss -Htan exclude time-wait "( sport = :$port or dport = :$port )" | grep -q .; then
    echo "$name: port $port busy; refusing to capture foreign traffic" >&2; exit 1
  fi
  local tmp; tmp=$(mktemp -d "$DATA/.tmp.XXXXXX"); trap 'rm -rf "$DATA"/.tmp.*' EXIT
  local certargs=()
  if [ -n "$tls" ]; then
    # a fresh self-signed RSA-2048 certificate for this run (the key log makes it irrelevant)
    timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj /CN=wsd.test \
      -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
      -addext "subjectAltName=DNS:wsd.test,DNS:localhost,IP:127.0.0.1" 2>/dev/null
    certargs=("$tmp/cert.pem" "$tmp/key.pem")
  fi
  # -B 65536: 64 MiB kernel buffer so a burst over loopback is not dropped
  nice -n -10 timeout 300 tcpdump -i lo -s 0 -B 65536 --immediate-mode -Z root -w "$tmp/$name.pcap" "tcp port $port" 2>"$tmp/tcpdump.err" &
  local td=$!
  for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
  grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
  if ! timeout 240 node "$BENCH/gen.js" "$mode" "$port" "$tmp/$name.count" ${certargs[@]+"${certargs[@]}"}; then
    kill -INT "$td" 2>/dev/null || true; wait "$td" || true
    echo "$name: generator failed" >&2; exit 1
  fi
  sleep 1 # let tcpdump drain its ring buffer
  kill -INT "$td"; wait "$td" || true
  cat "$tmp/tcpdump.err" | grep -E 'captured|received|dropped' | sed "s/^/  tcpdump: /"
  grep -q '^0 packets dropped by kernel' "$tmp/tcpdump.err" || { echo "$name: tcpdump dropped packets" >&2; exit 1; }
  if grep -E '^[0-9]+ packets dropped by interface' "$tmp/tcpdump.err" | grep -vq '^0 '; then
    echo "$name: packets dropped by interface" >&2; exit 1
  fi
  mv "$tmp/$name.pcap" "$tmp/$name.count" "$tmp/$name.count.json" "$DATA/"
  [ -z "$tls" ] || mv "$tmp/$name.keys" "$DATA/"
  rm -rf "$tmp"
  echo "$name: $(du -h "$DATA/$name.pcap" | cut -f1), $(cat "$DATA/$name.count") messages${tls:+, key log $name.keys}"
}

capture small-messages small 9101
capture large-messages large 9102
capture deflate deflate 9103
capture small-messages-tls small-tls 9104
capture large-messages-tls large-tls 9105

# A ~10 MB cut of small-messages.pcap: same traffic, a tenth of the size (memory-vs-size check).
# The cut ends mid-stream, so its message count is whatever wsdissect/tshark agree on; no .count.
if [ -n "${FORCE:-}" ] || [ ! -s "$DATA/small-messages-10mb.pcap" ] || [ "$DATA/small-messages.pcap" -nt "$DATA/small-messages-10mb.pcap" ]; then
  pkts=$(capinfos -c -M "$DATA/small-messages.pcap" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  size=$(stat -c %s "$DATA/small-messages.pcap")
  keep=$(( pkts * 10000000 / size ))
  editcap -r "$DATA/small-messages.pcap" "$DATA/small-messages-10mb.pcap" "1-$keep"
  got=$(stat -c %s "$DATA/small-messages-10mb.pcap")   # packet sizes vary: correct once
  keep=$(( keep * 10000000 / got ))
  editcap -r "$DATA/small-messages.pcap" "$DATA/small-messages-10mb.pcap" "1-$keep"
  echo "small-messages-10mb: $(du -h "$DATA/small-messages-10mb.pcap" | cut -f1) ($keep packets)"
fi
