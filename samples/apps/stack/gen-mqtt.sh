#!/usr/bin/env bash
# Makes mqtt-ws.pcap and mqtt-wss.pcap (+ mqtt-wss.keys): the same paho-mqtt session against
# Mosquitto, once over plain WebSocket (127.0.0.1:18850) and once over WebSocket over TLS
# (127.0.0.1:18851, a throwaway self-signed certificate made here with the openssl CLI), each
# captured on lo by its own tcpdump. Needs root (tcpdump), Debian's mosquitto, openssl, and a
# venv with requirements.txt:
#   python3 -m venv /tmp/stack-venv && /tmp/stack-venv/bin/pip install -r requirements.txt
#   PY=/tmp/stack-venv/bin/python samples/apps/stack/gen-mqtt.sh
# Logs (the truth the tests read): paho-ws.log, paho-wss.log (paho's own on_log lines),
# mosquitto.log (the broker, log_type all).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-/tmp/stack-venv/bin/python}
ws=18850 wss=18851 unused=18852
for p in $ws $wss $unused; do
  if [ -n "$(ss -Htan exclude time-wait "( sport = :$p or dport = :$p )")" ]; then
    echo "port $p busy" >&2; exit 1
  fi
done
tmp=$(mktemp -d /tmp/stack-mqtt.XXXXXX)
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj /CN=wsd.test \
  -addext "subjectAltName=DNS:wsd.test,DNS:localhost,IP:127.0.0.1" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
chmod 644 "$tmp/key.pem"   # mosquitto drops to its own user before reading it
chmod 755 "$tmp"
# Debian's Mosquitto 2.0.11 will not start with only websockets listeners, hence $unused.
cat >"$tmp/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
log_type all
log_timestamp_format %Y-%m-%dT%H:%M:%S
listener $unused 127.0.0.1
listener $ws 127.0.0.1
protocol websockets
socket_domain ipv4
listener $wss 127.0.0.1
protocol websockets
socket_domain ipv4
certfile $tmp/cert.pem
keyfile $tmp/key.pem
CONF
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
timeout 120 tcpdump -n -i lo -s 0 -U -B 16384 -w "$tmp/mqtt-ws.pcap" "tcp port $ws" 2>"$tmp/tcpdump-ws.err" &
pids+=($!)
timeout 120 tcpdump -n -i lo -s 0 -U -B 16384 -w "$tmp/mqtt-wss.pcap" "tcp port $wss" 2>"$tmp/tcpdump-wss.err" &
pids+=($!)
timeout 120 mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
pids+=($!)
sleep 1.5
timeout 40 "$PY" mqtt_client.py $ws ws "$tmp/paho-ws.log"
timeout 40 "$PY" mqtt_client.py $wss wss "$tmp/paho-wss.log" "$tmp/cert.pem" "$tmp/mqtt-wss.keys"
sleep 1
cleanup
wait 2>/dev/null || true
grep -q "^0 packets dropped by kernel" "$tmp/tcpdump-ws.err"
grep -q "^0 packets dropped by kernel" "$tmp/tcpdump-wss.err"
grep -q "Sending DISCONNECT" "$tmp/paho-ws.log"
grep -q "Sending DISCONNECT" "$tmp/paho-wss.log"
# The key log holds the client random of the one ClientHello in the capture.
test "$(grep -c CLIENT_TRAFFIC_SECRET_0 "$tmp/mqtt-wss.keys")" = 1
cp "$tmp"/{mqtt-ws.pcap,mqtt-wss.pcap,mqtt-wss.keys,paho-ws.log,paho-wss.log,mosquitto.log} .
ls -l mqtt-ws.pcap mqtt-wss.pcap
rm -rf "$tmp"
