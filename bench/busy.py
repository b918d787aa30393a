#!/usr/bin/env python3
"""Writes a pcap of N WebSocket connections that are all busy at once: each does the TCP
handshake and the upgrade, then binary messages of 1 byte to MAX bytes (log-uniform, so most
are small and some are near MAX) go both ways, cut into segments of up to 16 KiB, with the
segments of all connections interleaved at random and each segment acknowledged by its
receiver. Nothing ends (no FIN): at every moment most connections have a message in flight.
For measuring what buffers a connection keeps between and during messages (issue 14,
docs/performance.md, the `memory_` tests).

    bench/busy.py 4000 50 > busy.pcap          # 4,000 connections, 50 MB of frames
    bench/busy.py 4000 50 65536 > busy.pcap    # the same, MAX given (the default)

The upgrade is bench/idle.py's; client frames are masked (a random key per frame), as a
browser's are; checksums are left zero, as on a capturing host with checksum offload. The
same arguments give the same file (seeded).
"""
import math
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle import ACK, PSH, REQUEST, RESPONSE, SERVER, SYN, packet  # noqa: E402

MAX_SEGMENT = 16 << 10


def frame(payload, masked, rnd):
    """A final binary frame carrying `payload`, masked with a random key when `masked`."""
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x82, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([0x82, mask_bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x82, mask_bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = rnd.randbytes(4)
    stream = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return head + key + body


class Conn:
    """One connection: its addresses, both sequence numbers, and the bytes it still has to send."""

    def __init__(self, i):
        self.client = bytes([10, 1 + (i >> 16) % 250, (i >> 8) & 255, i & 255])
        self.port = 40000 + i % 20000
        self.seq = [1000, 5000]  # next sequence number: client, server
        self.sending = None  # (side, bytes left of the frame in flight)

    def ends(self, side):
        """(src, sport, dst, dport) of a packet from `side` (0 client, 1 server)."""
        if side == 0:
            return self.client, self.port, SERVER, 80
        return SERVER, 80, self.client, self.port

    def send(self, side, flags, data=b""):
        src, sport, dst, dport = self.ends(side)
        p = packet(src, sport, dst, dport, self.seq[side], self.seq[1 - side], flags, data)
        self.seq[side] += len(data) + (1 if flags & SYN else 0)
        return p

    def handshake(self):
        out = [self.send(0, SYN)]
        src, sport, dst, dport = self.ends(1)
        out.append(packet(src, sport, dst, dport, self.seq[1], self.seq[0], SYN | ACK))
        self.seq[1] += 1
        out.append(self.send(0, ACK))
        out.append(self.send(0, PSH | ACK, REQUEST))
        out.append(self.send(1, PSH | ACK, RESPONSE))
        return out


def main():
    conns = int(sys.argv[1])
    total = int(float(sys.argv[2]) * 1_000_000)
    largest = int(sys.argv[3]) if len(sys.argv) > 3 else 64 << 10
    rnd = random.Random(14)
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    usec = 0

    def write(packets):
        nonlocal usec
        records = []
        for p in packets:
            usec += 10
            records.append(struct.pack("<IIII", 1_700_000_000 + usec // 1_000_000, usec % 1_000_000, len(p), len(p)))
            records.append(p)
        out.write(b"".join(records))

    table = [Conn(i) for i in range(conns)]
    for c in table:
        write(c.handshake())
    sent = 0
    while sent < total:
        c = table[rnd.randrange(conns)]
        if c.sending is None:
            side = rnd.randrange(2)
            size = int(math.exp(rnd.uniform(0, math.log(largest))))
            c.sending = (side, frame(rnd.randbytes(size), side == 0, rnd))
        side, rest = c.sending
        cut = min(len(rest), rnd.randint(1, MAX_SEGMENT))
        write([c.send(side, PSH | ACK, rest[:cut]), c.send(1 - side, ACK)])
        sent += cut
        c.sending = (side, rest[cut:]) if cut < len(rest) else None


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
