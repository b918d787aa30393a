#!/usr/bin/env bash
# Makes the benchmark captures in bench/data/ (git-ignored): real WebSocket traffic between
# Node `ws` 8 clients and server (samples/node_modules, bench/gen.js) over loopback, captured by
# tcpdump. Idempotent: a capture whose .pcap and .count both exist is kept (FORCE=1 remakes).
#
#   small-messages.pcap  ~100 MB, 100–300 B JSON-like text both ways, 8 conns, no compression
#   large-messages.pcap  ~100 MB, 64 KiB–1 MiB binary both ways, 4 conns, no compression
#   deflate.pcap         ~50 MB,  200 B–4 KiB JSON-like text both ways, 4 conns, permessage-deflate
#   many-small.pcap      ~60 MB,  2–300 B JSON-like text both ways, 777 conns, no compression
#   many-connections.pcap  ~70 MB, the messages of small-messages over 1,000 connections open
#                        at once (the -j N scaling curve, bench/threads.sh)
#   small-messages-10mb.pcap  the first ~10 MB of small-messages.pcap (editcap), for the
#                             memory-vs-capture-size check
#   small-messages-tls.pcap   the traffic of small-messages (same sizes, same seeds) over wss://
#                             (TLS 1.3, Node's default suite), + small-messages-tls.keys
#   large-messages-tls.pcap   the traffic of large-messages over wss://, + large-messages-tls.keys
#   small-messages-h2.pcap    the traffic of small-messages (same sizes, same seeds, 8 WebSocket
#                             sessions) over HTTP/2 (RFC 8441, h2c prior knowledge): 2 TCP
#                             connections × 4 extended-CONNECT streams, Node http2 (bench/gen-h2.js)
#   small-messages-h2-10mb.pcap  the first ~10 MB of small-messages-h2.pcap (callgrind cut)
#
# NAME.count is the generators' own count of messages sent (both directions); NAME.count.json
# has the details (for TLS: version and suite of every connection). NAME.keys is the TLS key
# log, from the 'keylog' events of both ends; the certificate is a self-signed one made here, at
# run time (openssl). Needs root (tcpdump on lo), node (+ `npm ci` in samples/), tcpdump,
# editcap, openssl.
# Bounded: each generator runs under `timeout`. ONLY="small-messages small-messages-h2" makes
# only the captures named (and the cuts of those made).
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
DATA=$BENCH/data
mkdir -p "$DATA"
[ -d ../samples/node_modules/ws ] || (cd ../samples && npm ci --no-audit --no-fund)
for t in tcpdump editcap node openssl; do command -v $t >/dev/null || { echo "missing $t (apt-get install -y tcpdump tshark nodejs)" >&2; exit 1; }; done

capture() { # NAME MODE PORT [GENERATOR]
  local name=$1 mode=$2 port=$3 gen=${4:-gen.js}
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
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
  if ! timeout 240 node "$BENCH/$gen" "$mode" "$port" "$tmp/$name.count" ${certargs[@]+"${certargs[@]}"}; then
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
capture many-small many-small 9107
capture many-connections many 9108
capture small-messages-tls small-tls 9104
capture large-messages-tls large-tls 9105

capture small-messages-h2 small-h2 9106 gen-h2.js

# ~10 MB cuts: same traffic, a tenth of the size (memory-vs-size check, callgrind inputs).
# A cut ends mid-stream, so its message count is whatever wsdissect/tshark agree on; no .count.
cut10() { # NAME: NAME.pcap -> NAME-10mb.pcap
  local src=$DATA/$1.pcap dst=$DATA/$1-10mb.pcap
  [ -s "$src" ] || return 0
  if [ -n "${FORCE:-}" ] || [ ! -s "$dst" ] || [ "$src" -nt "$dst" ]; then
    local pkts size keep got
    pkts=$(capinfos -c -M "$src" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    size=$(stat -c %s "$src")
    keep=$(( pkts * 10000000 / size ))
    editcap -r "$src" "$dst" "1-$keep"
    got=$(stat -c %s "$dst")   # packet sizes vary: correct once
    keep=$(( keep * 10000000 / got ))
    editcap -r "$src" "$dst" "1-$keep"
    echo "$1-10mb: $(du -h "$dst" | cut -f1) ($keep packets)"
  fi
}
cut10 small-messages
cut10 small-messages-h2
