"""An MQTT 5.0 client written by hand over the `websockets` library, to put packets across
WebSocket messages the way MQTT 5.0 §6 allows: one packet split over several messages, and
several packets in one message.

usage: raw.py PORT LOG

LOG gets one line per WebSocket message sent or received: the time, `sent` or `received`, and
the message's bytes in hex, plus `packet` lines naming each MQTT packet built (kind, id, topic).
Every wait is bounded by a timeout.
"""

import asyncio
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

port, log_path = int(sys.argv[1]), sys.argv[2]
log = open(log_path, "w", buffering=1)


def note(line):
    log.write(f"{time.time():.6f} {line}\n")


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def packet(first, body, what):
    note(f"packet {what}")
    return bytes([first]) + varint(len(body)) + body


def props(raw=b""):
    return varint(len(raw)) + raw


connect_pkt = packet(
    0x10,
    utf8("MQTT") + bytes([5, 0x02]) + (30).to_bytes(2, "big") + props() + utf8("wsd-raw"),
    "CONNECT client_id=wsd-raw",
)
subscribe_pkt = packet(
    0x82, (1).to_bytes(2, "big") + props() + utf8("wsd/raw/#") + bytes([1]), "SUBSCRIBE id=1 wsd/raw/#"
)
publish_small = packet(
    0x32, utf8("wsd/raw/one") + (2).to_bytes(2, "big") + props() + b"hello", "PUBLISH id=2 qos=1 wsd/raw/one"
)
pingreq = packet(0xC0, b"", "PINGREQ")
big_payload = bytes(range(200)) * 3  # 600 bytes
publish_big = packet(
    0x34, utf8("wsd/raw/big") + (3).to_bytes(2, "big") + props() + big_payload, "PUBLISH id=3 qos=2 wsd/raw/big"
)
pubrel = packet(0x62, (3).to_bytes(2, "big"), "PUBREL id=3")
disconnect_pkt = packet(0xE0, b"\x00", "DISCONNECT")


async def main():
    async with connect(
        f"ws://127.0.0.1:{port}/mqtt", subprotocols=["mqtt"], compression=None, open_timeout=5
    ) as ws:

        async def send(data):
            note(f"sent {data.hex()}")
            await ws.send(data)

        async def receive(quiet=0.5, most=8):
            # Whatever the broker sends until it is quiet for `quiet` seconds (at most `most`).
            for _ in range(most):
                try:
                    msg = await asyncio.wait_for(ws.recv(), quiet)
                except asyncio.TimeoutError:
                    return
                except ConnectionClosed as e:  # the broker closes after DISCONNECT
                    note(f"closed {e}")
                    return
                note(f"received {msg.hex()}")

        # CONNECT split over two messages, the cut inside the fixed header's length.
        await send(connect_pkt[:1])
        await send(connect_pkt[1:])
        await receive()  # CONNACK
        # SUBSCRIBE, a QoS 1 PUBLISH and a PINGREQ in one message.
        await send(subscribe_pkt + publish_small + pingreq)
        await receive()  # SUBACK, PUBACK, PINGRESP and our PUBLISH back
        # A 600-byte QoS 2 PUBLISH in three messages.
        third = len(publish_big) // 3
        await send(publish_big[:third])
        await send(publish_big[third : 2 * third])
        await send(publish_big[2 * third :])
        await receive()  # PUBREC
        # PUBREL split in two, its second half joined with the DISCONNECT.
        await send(pubrel[:2])
        await send(pubrel[2:] + disconnect_pkt)
        await receive()  # PUBCOMP, and the PUBLISH released to us


asyncio.run(asyncio.wait_for(main(), 30))
note("done")
