#!/usr/bin/env python3
"""The crafted captures for issue 11's "clean failures" (README.md says what each is for).

Run from this directory: python3 gen-clean-failures.py. Standard library only; the pcap and
pcapng bytes are written here. Two captures are built from ../../py-echo.pcap (a real Python
websockets echo session over loopback).
"""
import struct
import zlib

ECHO = "../../py-echo.pcap"
SMALL = "../../py-ipv6-subproto.pcap"  # a real session in 5 KB


def pcap_records(path):
    """(ts_sec, ts_usec, data, orig_len) of each record of a little-endian classic pcap."""
    raw = open(path, "rb").read()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1", "little-endian microsecond pcap expected"
    link = struct.unpack_from("<I", raw, 20)[0]
    at, out = 24, []
    while at + 16 <= len(raw):
        sec, usec, caplen, orig = struct.unpack_from("<IIII", raw, at)
        out.append((sec, usec, raw[at + 16 : at + 16 + caplen], orig))
        at += 16 + caplen
    return link, out


def pcap(link, records, snaplen=262144):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, link)
    for sec, usec, data, orig in records:
        out += struct.pack("<IIII", sec, usec, len(data), orig) + data
    return out


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def shb():
    return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(link, tsresol=None):
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HHB", 9, 1, tsresol) + b"\0\0\0" + struct.pack("<HH", 0, 0)
    return block(1, struct.pack("<HHI", link, 0, 262144) + opts)


def epb(iface, ts_usec, data, orig):
    body = struct.pack("<IIIII", iface, ts_usec >> 32, ts_usec & 0xFFFFFFFF, len(data), orig)
    return block(6, body + data)


def unused_bad_tsresol():
    """Interface 0 declares if_tsresol 100 (10^-100 s: no 64-bit count can hold a second of
    it); no packet uses it. Every packet of py-ipv6-subproto.pcap is on interface 1
    (microseconds)."""
    link, recs = pcap_records(SMALL)
    out = shb() + idb(link, tsresol=100) + idb(link)
    for sec, usec, data, orig in recs:
        out += epb(1, sec * 1_000_000 + usec, data, orig)
    return out


def bad_block():
    """py-echo's first 10 packets, then an enhanced packet block that says it is 8 bytes long
    (less than a block header), then 256 KiB of filler. pcap-parser's error text for the bad
    block holds the rest of its read buffer (over 256 KiB here, up to 64 MiB), which once went
    whole into the error line."""
    link, recs = pcap_records(ECHO)
    out = shb() + idb(link)
    for sec, usec, data, orig in recs[:10]:
        out += epb(0, sec * 1_000_000 + usec, data, orig)
    out += struct.pack("<II", 6, 8) + b"\x41" * (256 << 10)
    return out


def snaplen_cut():
    """py-echo.pcap as a capture with a 1024-byte snapshot length would hold it: every packet
    longer than 1024 bytes keeps its first 1024 (orig_len unchanged), as tcpdump -s 1024
    writes. The handshake fits; the big echo messages are cut."""
    link, recs = pcap_records(ECHO)
    return pcap(link, [(s, u, d[:1024], o) for s, u, d, o in recs], snaplen=1024)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(src, dst, seq, ack, flags, payload=b""):
    (sip, sport), (dip, dport) = src, dst
    th = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(th) + len(payload))
    th = th[:16] + struct.pack("!H", checksum(pseudo + th + payload)) + th[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + th + payload


# Found by the ws_session fuzz target: raw DEFLATE whose first match reaches back before the
# start of the (empty) window. zlib's reason is "invalid distance too far back".
TOO_FAR_BACK = bytes.fromhex("3b0364623f021a91932256ec9c01fd82f264")


def deflate_too_far_back():
    """A permessage-deflate session (no context takeover on either side, so the window is empty
    at the message's start) whose server sends one compressed binary message: TOO_FAR_BACK."""
    c, s = (bytes([10, 0, 0, 1]), 40000), (bytes([10, 0, 0, 2]), 80)
    ext = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
    req = ("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           + ext + "\r\n").encode()
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" + ext + "\r\n").encode()
    frame = bytes([0xC2, len(TOO_FAR_BACK)]) + TOO_FAR_BACK  # FIN, RSV1, binary
    cs, ss = 1000, 5000
    pkts = [
        tcp(c, s, cs, 0, 0x02),
        tcp(s, c, ss, cs + 1, 0x12),
        tcp(c, s, cs + 1, ss + 1, 0x10),
        tcp(c, s, cs + 1, ss + 1, 0x18, req),
        tcp(s, c, ss + 1, cs + 1 + len(req), 0x18, resp),
        tcp(s, c, ss + 1 + len(resp), cs + 1 + len(req), 0x18, frame),
    ]
    return pcap(1, [(1_700_000_000, 100 * (i + 1), p, len(p)) for i, p in enumerate(pkts)])


def zlib_reason(raw):
    """What the reference zlib (Python's zlib module links the C library) says of `raw`,
    inflated as permessage-deflate does (raw DEFLATE, the sync tail appended)."""
    try:
        zlib.decompressobj(-15).decompress(raw + b"\x00\x00\xff\xff")
    except zlib.error as e:
        return str(e)
    return None


if __name__ == "__main__":
    outputs = {
        "unused-bad-tsresol.pcapng": unused_bad_tsresol(),
        # A damaged file: with the other crafted inputs that must fail cleanly, not a sample
        # (every capture under samples/ must read to its end).
        "../../../tests/data/bad/pcapng-bad-block.pcapng": bad_block(),
        "snaplen-cut.pcap": snaplen_cut(),
        "deflate-too-far-back.pcap": deflate_too_far_back(),
    }
    for name, data in outputs.items():
        open(name, "wb").write(data)
        print(f"{name}: {len(data)} bytes")
    print("zlib on the deflate message:", zlib_reason(TOO_FAR_BACK))
