#!/usr/bin/env python3
"""Writes a pcap of N WebSocket connections that stay open: each does the TCP handshake, the
upgrade (GET and 101), one small text message each way, and then nothing, no FIN. For
measuring what an open, idle connection costs (bench/idle.sh, docs/performance.md).

    bench/idle.py 100000 > idle.pcap

The bytes are what a client and server on loopback send (the upgrade is RFC 6455's example,
with the accept that matches its key); checksums are left zero, as on a capturing host with
checksum offload.
"""
import struct
import sys

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
CLIENT_FRAME = bytes([0x81, 0x82, 1, 2, 3, 4, ord("h") ^ 1, ord("i") ^ 2])
SERVER_FRAME = b"\x81\x02hi"
SYN, ACK, PSH = 0x02, 0x10, 0x08


def packet(src, sport, dst, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


def connection(i):
    """The packets of connection i: client 10.(1+i>>16).(i>>8).(i) port 40000 + i % 20000."""
    client = bytes([10, 1 + (i >> 16) % 250, (i >> 8) & 255, i & 255])
    port = 40000 + i % 20000
    c, s = 1000, 5000
    out = [
        packet(client, port, SERVER, 80, c, 0, SYN),
        packet(SERVER, 80, client, port, s, c + 1, SYN | ACK),
        packet(client, port, SERVER, 80, c + 1, s + 1, ACK),
        packet(client, port, SERVER, 80, c + 1, s + 1, PSH | ACK, REQUEST),
    ]
    c += 1 + len(REQUEST)
    out.append(packet(SERVER, 80, client, port, s + 1, c, PSH | ACK, RESPONSE))
    s += 1 + len(RESPONSE)
    out.append(packet(client, port, SERVER, 80, c, s, PSH | ACK, CLIENT_FRAME))
    c += len(CLIENT_FRAME)
    out.append(packet(SERVER, 80, client, port, s, c, PSH | ACK, SERVER_FRAME))
    return out


def main():
    n = int(sys.argv[1])
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    usec = 0
    for i in range(n):
        records = []
        for p in connection(i):
            usec += 10
            records.append(struct.pack("<IIII", 1_700_000_000 + usec // 1_000_000, usec % 1_000_000, len(p), len(p)))
            records.append(p)
        out.write(b"".join(records))


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
