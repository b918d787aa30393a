#!/usr/bin/env python3
"""message-hole.pcap: a real 2 MiB binary message with a 262,144-byte hole (issue 11).

Python websockets (asyncio API, no compression) over the loopback interface of a network
namespace of its own, whose MTU (16436) and gso_max_segs (1) make every full TCP segment
carry exactly 16384 payload bytes (16436 - 20 IP - 20 TCP - 12 timestamp option), so that
16 whole segments are exactly 262,144 bytes. tcpdump captures in the namespace; then the 16
server-to-client data segments that carry message bytes [HOLE_AT, HOLE_AT + 262144) are
dropped from the file (the endpoints received them: the capture did not).

The client sends one 2 MiB binary message; the server echoes it. The truth
(message-hole.expected.json) is what the client logged: the message's length and SHA-256,
and the SHA-256 of the bytes before and after the hole.

Run as root: python3 gen-message-hole.py (uses target/py-venv's websockets when run from the
repository root, or any python with websockets >= 13 via $PYTHON).
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NS = "wsdfail-hole"
PORT = 8765
SIZE = 2 << 20
SEGMENT = 16384
HOLE_SEGMENTS = 16
HOLE_LEN = HOLE_SEGMENTS * SEGMENT  # 262,144
RAW = os.path.join(HERE, "message-hole.raw.pcap")
OUT = os.path.join(HERE, "message-hole.pcap")

PEER = r'''
import asyncio, hashlib, json, random, sys
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
COMMON = dict(compression=None, ping_interval=None, max_size=None)
async def echo(ws):
    async for msg in ws:
        await ws.send(msg)
async def main():
    rng = random.Random(262144)
    data = bytes(rng.getrandbits(8) for _ in range(%d))
    async with serve(echo, "127.0.0.1", %d, **COMMON):
        async with connect("ws://127.0.0.1:%d/hole", **COMMON) as ws:
            await ws.send(data)
            back = await ws.recv()
            assert back == data
            await ws.close(1000, "done")
    json.dump({"len": len(data), "sha256": hashlib.sha256(data).hexdigest(),
               "data_hex_head": data[:64].hex()}, sys.stdout)
    sys.stdout.flush()
    open(sys.argv[1], "wb").write(data)
asyncio.run(main())
''' % (SIZE, PORT, PORT)


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def capture():
    python = os.environ.get("PYTHON", os.path.join(HERE, "../../../target/py-venv/bin/python"))
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "mtu", "16436", "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "gso_max_segs", "1")
        dump = subprocess.Popen(["ip", "netns", "exec", NS, "tcpdump", "-i", "lo", "-U", "-s", "0",
                                 "-w", RAW, f"tcp port {PORT}"], stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        data_file = RAW + ".data"
        log = subprocess.run(["ip", "netns", "exec", NS, python, "-c", PEER, data_file],
                             check=True, capture_output=True, text=True).stdout
        time.sleep(1.0)
        dump.terminate()
        dump.wait()
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    data = open(data_file, "rb").read()
    os.remove(data_file)
    return json.loads(log), data


def records(raw):
    assert raw[:4] == b"\xd4\xc3\xb2\xa1"
    at, out = 24, []
    while at + 16 <= len(raw):
        caplen = struct.unpack_from("<I", raw, at + 8)[0]
        out.append(raw[at : at + 16 + caplen])
        at += 16 + caplen
    return raw[:24], out


def tcp_fields(rec):
    """(src port, seq, payload length) of an Ethernet/IPv4/TCP record."""
    p = rec[16:]
    ihl = (p[14] & 15) * 4
    tcp = 14 + ihl
    total = struct.unpack_from("!H", p, 16)[0]
    doff = (p[tcp + 12] >> 4) * 4
    sport, _, seq = struct.unpack_from("!HHI", p, tcp)
    return sport, seq, total - ihl - doff


def cut_hole():
    head, recs = records(open(RAW, "rb").read())
    # The server's data: its first payload is the 101 response; the echoed message follows.
    server = [(i, *tcp_fields(r)) for i, r in enumerate(recs)]
    server = [(i, seq, n) for i, sport, seq, n in server if sport == PORT and n > 0]
    first_seq = server[0][1]
    response_len = server[0][2]
    header_len = 10  # an unmasked frame with a 64-bit length
    msg_start = first_seq + response_len + header_len
    # The first full segment starting at or after 512 KiB into the message, and the 15 after.
    full = [(i, seq, n) for i, seq, n in server if n == SEGMENT and seq - msg_start >= 512 << 10]
    hole = full[:HOLE_SEGMENTS]
    assert all(b[1] == a[1] + SEGMENT for a, b in zip(hole, hole[1:])), "segments not contiguous"
    drop = {i for i, _, _ in hole}
    hole_at = hole[0][1] - msg_start
    # Retransmissions of the same bytes would fill the hole back: there are none on loopback.
    for i, seq, n in server:
        if i not in drop:
            assert not (seq < hole[-1][1] + SEGMENT and seq + n > hole[0][1]), "retransmission"
    open(OUT, "wb").write(head + b"".join(r for i, r in enumerate(recs) if i not in drop))
    os.remove(RAW)
    return hole_at, len(drop)


if __name__ == "__main__":
    log, data = capture()
    hole_at, dropped = cut_hole()
    expected = {
        "capture": "message-hole.pcap",
        "truth": "what the Python websockets client logged it sent and got back",
        "message": {"dir": "s2c", "opcode": 2, "len": log["len"], "sha256": log["sha256"]},
        "hole": {"offset": hole_at, "len": HOLE_LEN, "segments_dropped": dropped},
        "sha256_before_hole": hashlib.sha256(data[:hole_at]).hexdigest(),
        "sha256_after_hole": hashlib.sha256(data[hole_at + HOLE_LEN :]).hexdigest(),
    }
    json.dump(expected, open(os.path.join(HERE, "message-hole.expected.json"), "w"), indent=2)
    print(json.dumps(expected, indent=2))
