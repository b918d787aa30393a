#!/usr/bin/env bash
# Makes mqtt.pcap: three MQTT-over-WebSocket sessions against Mosquitto on 127.0.0.1:18830,
# captured on lo. Needs root (tcpdump), Debian's mosquitto, and a venv with requirements.txt:
#   python3 -m venv /tmp/mqtt-venv && /tmp/mqtt-venv/bin/pip install -r requirements.txt
#   PY=/tmp/mqtt-venv/bin/python samples/apps/mqtt/gen.sh
# Logs (the truth the tests check against): paho-311.log, paho-5.log (paho's own on_log and
# on_message lines), raw.log (every message the hand-made client sent and received, in hex),
# mosquitto.log (the broker, log_type all).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-/tmp/mqtt-venv/bin/python}
port=18830
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

timeout 120 tcpdump -i lo -U -w mqtt.pcap "tcp port $port" 2>/dev/null &
pids+=($!)
timeout 120 mosquitto -c mosquitto.conf >mosquitto.log 2>&1 &
pids+=($!)
sleep 1.5
timeout 40 "$PY" client.py $port 311 paho-311.log
timeout 40 "$PY" client.py $port 5 paho-5.log
timeout 40 "$PY" raw.py $port raw.log
sleep 1
cleanup
wait 2>/dev/null || true
# Times in the broker's log are wall-clock seconds; keep them, they line up with the capture.
ls -l mqtt.pcap
