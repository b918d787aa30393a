#!/bin/bash
# Regenerate stomp.pcap and stomp.log: a private RabbitMQ node (Debian rabbitmq-server with its
# Web-STOMP plugin) on loopback, @stomp/stompjs in Node as the client, tcpdump on lo.
# Needs: rabbitmq-server, nodejs, npm, tcpdump; root (tcpdump). Run from anywhere.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=35674
WORK=$(mktemp -d /tmp/stompgql-rabbit.XXXXXX)
cd "$HERE"
[ -d node_modules ] || npm ci --no-audit --no-fund
cat > "$WORK/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:35672
stomp.listeners.tcp.1 = 127.0.0.1:35613
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $PORT
CONF
echo '[rabbitmq_web_stomp].' > "$WORK/enabled_plugins"
mkdir -p "$WORK/mnesia" "$WORK/log"
# rabbitmq-server run as root drops to the rabbitmq user, which must own its files.
chmod 755 "$WORK"; chown -R rabbitmq:rabbitmq "$WORK"
export HOME="$WORK" RABBITMQ_NODENAME=stompgql@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
  RABBITMQ_DIST_PORT=35673 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_CONFIG_FILE="$WORK/rabbitmq.conf" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/enabled_plugins" RABBITMQ_MNESIA_BASE="$WORK/mnesia" \
  RABBITMQ_LOG_BASE="$WORK/log" RABBITMQ_PID_FILE="$WORK/pid" \
  RABBITMQ_FEATURE_FLAGS_FILE="$WORK/feature_flags" ERL_CRASH_DUMP="$WORK/erl_crash.dump"
timeout 120 rabbitmq-server > "$WORK/server.out" 2>&1 &
SERVER=$!
cleanup() { rabbitmqctl -n stompgql@localhost stop >/dev/null 2>&1 || kill "$SERVER" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 60); do
  (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { tail -5 "$WORK/server.out"; exit 1; }
  sleep 1
done
tcpdump -i lo -U -w "$HERE/stomp.pcap" "tcp port $PORT" 2> "$WORK/tcpdump.err" &
DUMP=$!
sleep 1
rm -f "$HERE/stomp.log"
LOG="$HERE/stomp.log" PORT=$PORT timeout 30 node peers.mjs
sleep 1
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true
rabbitmqctl -n stompgql@localhost version > "$HERE/rabbitmq-version.txt" 2>/dev/null || true
ls -l "$HERE/stomp.pcap" "$HERE/stomp.log"
