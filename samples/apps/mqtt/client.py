"""One paho-mqtt session over WebSocket against the broker on 127.0.0.1:PORT.

usage: client.py PORT 311|5 LOG

Every line paho logs (on_log: what it sent and received, with packet ids) and every message
delivered (on_message) goes to LOG, one line each, prefixed by the time. Bounded: each wait
has a deadline and the whole run is under `timeout` in gen.sh.
"""

import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

port, version, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
v5 = version == "5"
log = open(log_path, "w", buffering=1)


def note(line):
    log.write(f"{time.time():.6f} {line}\n")


client = mqtt.Client(
    mqtt.CallbackAPIVersion.VERSION2,
    client_id=f"wsd-{version}",
    transport="websockets",
    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
)
client.ws_set_options(path="/mqtt")
client.username_pw_set("alice", "secret-password")
will_props = None
if v5:
    will_props = Properties(PacketTypes.WILLMESSAGE)
    will_props.WillDelayInterval = 10
    will_props.ContentType = "text/plain"
client.will_set(f"wsd/{version}/will", b"gone", qos=1, retain=False, properties=will_props)
client.on_log = lambda c, u, level, buf: note(f"log {buf}")
client.on_message = lambda c, u, m: note(
    f"message topic={m.topic} qos={m.qos} retain={int(m.retain)} mid={m.mid} payload={m.payload!r}"
)

connect_props = None
if v5:
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 30
    connect_props.ReceiveMaximum = 20
    connect_props.TopicAliasMaximum = 10
    connect_props.UserProperty = ("app", "wsdissect")
client.connect("127.0.0.1", port, keepalive=2, properties=connect_props)
client.loop_start()


def wait_for(pred, secs):
    deadline = time.time() + secs
    while not pred() and time.time() < deadline:
        time.sleep(0.02)


wait_for(client.is_connected, 5)
base = f"wsd/{version}"
client.subscribe([(f"{base}/q0/#", 0), (f"{base}/q1/+", 1), (f"{base}/q2/x", 2)])
time.sleep(0.3)

props = None
if v5:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k1", "v1"), ("k2", "v2")]
    props.ContentType = "application/json"
    props.MessageExpiryInterval = 60
    props.PayloadFormatIndicator = 1
    props.ResponseTopic = f"{base}/reply"
    props.CorrelationData = b"corr-1"
for qos, topic, payload in [
    (0, f"{base}/q0/a", b"zero"),
    (1, f"{base}/q1/b", b'{"n": 1}'),
    (2, f"{base}/q2/x", b"two" * 40),
]:
    info = client.publish(topic, payload, qos=qos, properties=props)
    note(f"published mid={info.mid} topic={topic} qos={qos}")
    time.sleep(0.2)
info = client.publish(f"{base}/q1/retained", b"kept", qos=1, retain=True)
note(f"published mid={info.mid} topic={base}/q1/retained qos=1 retain=1")
time.sleep(0.2)
# Subscribing to it again makes the broker send the retained message, with its retain flag.
client.subscribe(f"{base}/q1/retained", 1)
time.sleep(0.3)
if v5:
    # A topic alias: the first PUBLISH names the topic and sets alias 3, the next ones send an
    # empty topic with alias 3 (MQTT 5.0 §3.3.2.3.4).
    alias = Properties(PacketTypes.PUBLISH)
    alias.TopicAlias = 3
    client.publish(f"{base}/q1/aliased", b"first", qos=1, properties=alias)
    time.sleep(0.2)
    client.publish("", b"second", qos=1, properties=alias)
    time.sleep(0.2)
    client.publish("", b"third", qos=0, properties=alias)
    time.sleep(0.2)
# Idle past the keep-alive: paho sends PINGREQ, the broker answers PINGRESP.
time.sleep(4.5)
client.unsubscribe([f"{base}/q0/#", f"{base}/q2/x", f"{base}/q1/retained"])
time.sleep(0.3)
# Empty the retained message again so the next run starts clean.
client.publish(f"{base}/q1/retained", b"", qos=0, retain=True)
time.sleep(0.3)
client.disconnect()
client.loop_stop()
note("done")
