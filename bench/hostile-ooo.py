#!/usr/bin/env python3
"""A hostile capture for the memory bounds of issue 11: one WebSocket connection whose server
sends its stream in one-byte TCP segments, in reverse order within each block, so that the
reassembler holds a whole block out of order and then delivers it at once. The stream is empty
text frames (0x81 0x00): every two bytes are one frame, so one packet completes BLOCK/2 frames.

usage: hostile-ooo.py OUT.pcap [--blocks N] [--block BYTES] [--header-only N]

  --blocks N        blocks of the stream (default 8)
  --block BYTES     bytes per block (default 1 MiB; even)
  --header-only N   before the data, N header-only segments far ahead of the stream: the
                    headers of 1460-byte segments, captured with a 54-byte snap length
                    (the reassembly cap counts them)

A crafted capture (issue 11: "a 639 MB capture of one-byte out-of-order segments reaches
6.1 GB"): the truth is not a real endpoint's but the bound (peak RSS) wsdissect keeps; a
Linux receiver would queue at most its receive window out of order. Python standard library
only; checksums are correct.
"""
import argparse
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


C = (bytes([10, 0, 0, 1]), 40000)
S = (bytes([10, 0, 0, 2]), 80)


def tcp(src, dst, seq, ack, flags, payload=b"", wire_payload=None):
    """Ethernet/IPv4/TCP; `wire_payload` bytes on the wire (default: the payload's) sets the
    IP total length of a packet captured without them."""
    (sip, sport), (dip, dport) = src, dst
    wire = len(payload) if wire_payload is None else wire_payload
    th = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                     flags, 65535, 0, 0)
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(th) + len(payload))
    th = th[:16] + struct.pack("!H", checksum(pseudo + th + payload)) + th[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + wire, 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + th + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--block", type=int, default=1 << 20)
    ap.add_argument("--header-only", type=int, default=0)
    a = ap.parse_args()
    assert a.block % 2 == 0
    out = open(a.out, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    t = [0]

    def rec(p, orig=None):
        t[0] += 1
        out.write(struct.pack("<IIII", 1_700_000_000 + t[0] // 1_000_000, t[0] % 1_000_000,
                              len(p), orig or len(p)) + p)

    req = (b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    cs, ss = 1000, 5000
    rec(tcp(C, S, cs, 0, 0x02))
    rec(tcp(S, C, ss, cs + 1, 0x12))
    cs += 1
    ss += 1
    rec(tcp(C, S, cs, ss, 0x10))
    rec(tcp(C, S, cs, ss, 0x18, req))
    cs += len(req)
    rec(tcp(S, C, ss, cs, 0x18, resp))
    ss += len(resp)
    # Header-only segments from the server, ahead of its stream (an attacker's, or junk).
    for i in range(a.header_only):
        p = tcp(S, C, ss + 1_000_000 + 2000 * i, cs, 0x10, wire_payload=1460)
        rec(p, orig=len(p) + 1460)
    frame = b"\x81\x00"
    for b in range(a.blocks):
        start = ss + b * a.block
        for i in reversed(range(a.block)):
            rec(tcp(S, C, start + i, cs, 0x18, frame[i % 2 : i % 2 + 1]))
    ss += a.blocks * a.block
    rec(tcp(C, S, cs, ss, 0x11))
    rec(tcp(S, C, ss, cs + 1, 0x11))
    rec(tcp(C, S, cs + 1, ss + 1, 0x10))
    out.close()


if __name__ == "__main__":
    main()
