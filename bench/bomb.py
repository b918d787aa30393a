#!/usr/bin/env python3
"""Writes a pcap of one WebSocket connection whose server sends N messages of 1 MiB of zeros,
each compressed with permessage-deflate (about 1 KB on the wire): a deflate bomb of small
messages, for what `--full-payload` with `-j N` holds (docs/performance.md, "Threads").

    bench/bomb.py 500 > bomb.pcap      # about 520 KB, inflating to 500 MiB

The messages go out in segments of up to 65,483 bytes, as on loopback (MTU 65,536), so one
segment completes about 60 messages. The bytes are what a permessage-deflate sender writes
(context takeover, sync flush, the 4-byte tail stripped); the upgrade and the TCP handshake are
bench/idle.py's, so are the zero checksums.
"""
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle import ACK, PSH, SERVER, opening, packet

MESSAGE = 1 << 20
SEGMENT = 65535 - 20 - 32  # loopback MTU less the IP header and TCP with timestamps


def binary_frame(payload):
    """A final binary frame with RSV1 (compressed), unmasked (server to client)."""
    n = len(payload)
    if n < 126:
        head = bytes([0xC2, n])
    elif n < 65536:
        head = bytes([0xC2, 126]) + struct.pack(">H", n)
    else:
        head = bytes([0xC2, 127]) + struct.pack(">Q", n)
    return head + payload


def main():
    n = int(sys.argv[1])
    client, port = bytes([10, 1, 0, 1]), 40000
    packets, c, s = opening(client, port, deflate=True)
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    zeros = bytes(MESSAGE)
    stream = b"".join(
        binary_frame((z.compress(zeros) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]) for _ in range(n)
    )
    for at in range(0, len(stream), SEGMENT):
        chunk = stream[at:at + SEGMENT]
        packets.append(packet(SERVER, 80, client, port, s, c, PSH | ACK, chunk))
        s += len(chunk)
        packets.append(packet(client, port, SERVER, 80, c, s, ACK))
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i, p in enumerate(packets):
        usec = 10 * (i + 1)
        out.write(struct.pack("<IIII", 1_700_000_000, usec, len(p), len(p)) + p)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
