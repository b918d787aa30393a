"""One paho-mqtt session over WebSocket (ws) or WebSocket over TLS (wss) against Mosquitto.

usage: mqtt_client.py PORT ws|wss LOG [CAFILE KEYLOG]

The same exchange either way (same client id, topics, payloads, timing), so the two captures
decode to the same MQTT packets. Over wss the TLS context trusts only CAFILE and writes the
NSS key log to KEYLOG (ssl.SSLContext.keylog_filename, written by OpenSSL). Every line paho
logs (on_log: each packet sent and received, with its id) and every delivery (on_message) goes
to LOG. Bounded: every wait has a deadline and gen-mqtt.sh runs this under `timeout`.
"""

import ssl
import sys
import time

import paho.mqtt.client as mqtt

port, scheme, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
log = open(log_path, "w", buffering=1)


def note(line):
    log.write(f"{time.time():.6f} {line}\n")


client = mqtt.Client(
    mqtt.CallbackAPIVersion.VERSION2,
    client_id="wsd-stack",
    transport="websockets",
    protocol=mqtt.MQTTv311,
)
client.ws_set_options(path="/mqtt")
if scheme == "wss":
    cafile, keylog = sys.argv[4], sys.argv[5]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.keylog_filename = keylog
    client.tls_set_context(ctx)
    note(f"tls context: {ssl.OPENSSL_VERSION}")
client.will_set("wsd/stack/will", b"gone", qos=1)
client.on_log = lambda c, u, level, buf: note(f"log {buf}")
client.on_message = lambda c, u, m: note(
    f"message topic={m.topic} qos={m.qos} retain={int(m.retain)} mid={m.mid} payload={m.payload!r}"
)
client.connect("127.0.0.1", port, keepalive=2)
client.loop_start()


def wait_for(pred, secs):
    deadline = time.time() + secs
    while not pred() and time.time() < deadline:
        time.sleep(0.02)


wait_for(client.is_connected, 5)
if scheme == "wss":
    sock = client.socket()
    tls = getattr(sock, "_socket", sock)
    note(f"tls {getattr(tls, 'version', lambda: '?')()} {getattr(tls, 'cipher', lambda: ['?'])()[0]}")
client.subscribe([("wsd/stack/q0/#", 0), ("wsd/stack/q1/+", 1), ("wsd/stack/q2/x", 2)])
time.sleep(0.3)
for qos, topic, payload in [
    (0, "wsd/stack/q0/a", b"zero"),
    (1, "wsd/stack/q1/b", b'{"n": 1}'),
    (2, "wsd/stack/q2/x", b"two" * 40),
]:
    info = client.publish(topic, payload, qos=qos)
    note(f"published mid={info.mid} topic={topic} qos={qos}")
    time.sleep(0.2)
# Idle past the keep-alive: paho sends PINGREQ, the broker answers PINGRESP (two or three).
time.sleep(4.5)
client.unsubscribe(["wsd/stack/q0/#", "wsd/stack/q1/+", "wsd/stack/q2/x"])
time.sleep(0.3)
client.disconnect()
client.loop_stop()
note("done")
