#!/usr/bin/env python3
"""Writes a pcap of N WebSocket connections that stay open: each does the TCP handshake, the
upgrade (GET and 101), one small text message each way, and then nothing, no FIN. For
measuring what an open, idle connection costs (bench/idle.sh, docs/performance.md).

    bench/idle.py 100000 > idle.pcap
    bench/idle.py 100000 --deflate > idle-deflate.pcap

With --deflate the upgrade accepts permessage-deflate with context takeover, and the message
each way is a compressed text message of 1-2 KB (JSON-like, different on every connection), so
each direction's inflater holds a window when the connection goes idle.

The bytes are what a client and server on loopback send (the upgrade is RFC 6455's example,
with the accept that matches its key); checksums are left zero, as on a capturing host with
checksum offload.
"""
import random
import struct
import sys
import zlib

SERVER = bytes([10, 0, 0, 1])
REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
DEFLATE_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
DEFLATE_ACCEPT = b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
CLIENT_FRAME = bytes([0x81, 0x82, 1, 2, 3, 4, ord("h") ^ 1, ord("i") ^ 2])
SERVER_FRAME = b"\x81\x02hi"
SYN, ACK, PSH = 0x02, 0x10, 0x08


def packet(src, sport, dst, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


WORDS = b"alpha bravo charlie delta echo price volume bid ask trade order status ok".split()


def compressed_text(i, side):
    """A text message of 1-2 KB for connection i, deflated as a permessage-deflate sender does
    (sync flush, the 4-byte tail stripped)."""
    r = random.Random(i * 2 + side)
    parts = [b'{"conn":%d,"side":%d,"items":[' % (i, side)]
    size = r.randint(1000, 2000)
    while sum(map(len, parts)) < size:
        parts.append(b'{"w":"%s","n":%d},' % (r.choice(WORDS), r.randrange(100000)))
    text = b"".join(parts)[:size]
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = z.compress(text) + z.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]


def frame(payload, masked, rsv1):
    """A final text frame (RSV1 set when compressed), masked with key 01 02 03 04 if `masked`."""
    n = len(payload)
    head = bytes([0xC1 if rsv1 else 0x81])
    mask_bit = 0x80 if masked else 0
    head += bytes([mask_bit | n]) if n < 126 else bytes([mask_bit | 126]) + struct.pack(">H", n)
    if not masked:
        return head + payload
    key = bytes([1, 2, 3, 4])
    return head + key + bytes(b ^ key[j % 4] for j, b in enumerate(payload))


def opening(client, port, deflate=False):
    """The TCP handshake and the upgrade of a connection from client:port to SERVER:80 (with
    permessage-deflate when `deflate`): its packets, and the client's and server's next
    sequence numbers."""
    request, response = REQUEST, RESPONSE
    if deflate:
        request = REQUEST[:-2] + DEFLATE_OFFER + b"\r\n"
        response = RESPONSE[:-2] + DEFLATE_ACCEPT + b"\r\n"
    c, s = 1000, 5000
    out = [
        packet(client, port, SERVER, 80, c, 0, SYN),
        packet(SERVER, 80, client, port, s, c + 1, SYN | ACK),
        packet(client, port, SERVER, 80, c + 1, s + 1, ACK),
        packet(client, port, SERVER, 80, c + 1, s + 1, PSH | ACK, request),
    ]
    c += 1 + len(request)
    out.append(packet(SERVER, 80, client, port, s + 1, c, PSH | ACK, response))
    s += 1 + len(response)
    return out, c, s


def connection(i, deflate=False):
    """The packets of connection i: client 10.(1+i>>16).(i>>8).(i) port 40000 + i % 20000."""
    client = bytes([10, 1 + (i >> 16) % 250, (i >> 8) & 255, i & 255])
    port = 40000 + i % 20000
    client_frame, server_frame = CLIENT_FRAME, SERVER_FRAME
    if deflate:
        client_frame = frame(compressed_text(i, 0), True, True)
        server_frame = frame(compressed_text(i, 1), False, True)
    out, c, s = opening(client, port, deflate)
    out.append(packet(client, port, SERVER, 80, c, s, PSH | ACK, client_frame))
    c += len(client_frame)
    out.append(packet(SERVER, 80, client, port, s, c, PSH | ACK, server_frame))
    return out


def main():
    n = int(sys.argv[1])
    deflate = "--deflate" in sys.argv[2:]
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    usec = 0
    for i in range(n):
        records = []
        for p in connection(i, deflate):
            usec += 10
            records.append(struct.pack("<IIII", 1_700_000_000 + usec // 1_000_000, usec % 1_000_000, len(p), len(p)))
            records.append(p)
        out.write(b"".join(records))


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
