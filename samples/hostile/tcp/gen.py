#!/usr/bin/env python3
"""Crafted TCP tricks on a real loopback WebSocket session.

Reads ../../py-nano.pcap (Python websockets on 127.0.0.1, captured by tcpdump on lo; its
truth is ../../py-nano.expected.json, what both programs logged) and writes one capture per
trick next to this script, each with an X.expected.json: the original connection (every
message must still come out), the TCP diagnostics wsdissect must give and how the
connection ends. README.md says, for each, what the real receiver does and how that was
checked. Plain Python (no scapy): pcap records, IPv4 and TCP are rebuilt by hand here.

    python3 gen.py        # rewrites every capture and its .expected.json
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "..")
BASE = "py-nano"


def read_pcap(path):
    data = open(path, "rb").read()
    header, off, records = data[:24], 24, []
    while off < len(data):
        sec, frac, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        records.append([sec, frac, data[off + 16:off + 16 + caplen]])
        off += 16 + caplen
    return header, records


def write_pcap(path, header, records):
    with open(path, "wb") as f:
        f.write(header)
        for sec, frac, pkt in records:
            f.write(struct.pack("<IIII", sec, frac, len(pkt), len(pkt)))
            f.write(pkt)


def csum_add(data, s=0):
    if len(data) % 2:
        data += b"\0"
    for (w,) in struct.iter_unpack("!H", data):
        s += w
    return s


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class Pkt:
    """An Ethernet/IPv4/TCP packet of the base capture, as fields that can be changed."""

    def __init__(self, raw):
        self.eth = raw[:14]
        ip = raw[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        self.ip_head = bytearray(ip[:ihl])
        tcp = ip[ihl:total]
        doff = (tcp[12] >> 4) * 4
        self.sport, self.dport, self.seq, self.ack = struct.unpack("!HHII", tcp[:12])
        self.flags = tcp[13]
        self.window, _, self.urp = struct.unpack("!HHH", tcp[14:20])
        self.options = bytes(tcp[20:doff])
        self.payload = bytes(tcp[doff:])
        # What the capturing host had in the checksum field: offloaded (pseudo-header sum).
        self.checksum = "offload"
        self.ttl = ip[8]

    def flag(self, name, on=True):
        bit = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32}[name]
        self.flags = self.flags | bit if on else self.flags & ~bit

    def has(self, name):
        return bool(self.flags & {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32}[name])

    def bytes(self):
        opts = self.options + b"\0" * (-len(self.options) % 4)
        doff = (20 + len(opts)) // 4
        tcp = bytearray(struct.pack("!HHIIBBHHH", self.sport, self.dport, self.seq & 0xFFFFFFFF,
                                    self.ack & 0xFFFFFFFF, doff << 4, self.flags, self.window, 0,
                                    self.urp) + opts + self.payload)
        ip = bytearray(self.ip_head)
        ip[2:4] = struct.pack("!H", len(ip) + len(tcp))
        ip[8] = self.ttl
        ip[10:12] = b"\0\0"
        ip[10:12] = struct.pack("!H", ~fold(csum_add(bytes(ip))) & 0xFFFF)
        pseudo = fold(csum_add(bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(tcp))))
        good = ~fold(csum_add(bytes(tcp), pseudo)) & 0xFFFF
        value = {"offload": pseudo, "good": good, "bad": good ^ 0x5A5A}[self.checksum]
        tcp[16:18] = struct.pack("!H", value)
        return self.eth + bytes(ip) + bytes(tcp)


def load():
    header, records = read_pcap(os.path.join(SAMPLES, BASE + ".pcap"))
    return header, [[sec, frac, Pkt(raw)] for sec, frac, raw in records]


def after(records, i, pkt, step=1000):
    """Insert `pkt` right after record `i` (0-based), a microsecond later (the base capture
    has nanosecond timestamps)."""
    sec, frac, _ = records[i]
    sec, frac = sec + (frac + step) // 10**9, (frac + step) % 10**9
    records.insert(i + 1, [sec, frac, pkt])


def clone(p):
    c = Pkt(p.bytes())
    c.checksum, c.ttl = p.checksum, p.ttl
    return c


def attacker(template, **fields):
    """A packet an attacker builds: right checksum, fields as given."""
    p = clone(template)
    p.payload, p.options, p.urp = b"", b"", 0
    p.checksum = "good"
    for k, v in fields.items():
        setattr(p, k, v)
    return p


def is_client(p):
    return p.dport == 18766


def last_index(records, cond, before=None):
    idx = [i for i, r in enumerate(records[:before]) if cond(r[2])]
    return idx[-1]


def next_seq(records, client, upto):
    """The sequence number `client` (True/False) sends next after record `upto`."""
    for sec, frac, p in reversed(records[:upto + 1]):
        if is_client(p) == client:
            return p.seq + len(p.payload) + p.has("S") + p.has("F")
    raise ValueError


TRICKS = {}


def trick(name, truth, rules, end="fin"):
    def register(fn):
        TRICKS[name] = (fn, truth, rules, end)
        return fn
    return register


@trick("rst-in-window",
       "a forged RST 1000 bytes into the window: the kernel answers with a challenge ACK",
       ["tcp-control-ignored"])
def rst_in_window(recs):
    i = 7  # after the first client data frame (record 8)
    p = recs[i][2]
    rst = attacker(p, seq=next_seq(recs, True, i) + 1000, flags=0x14)
    after(recs, i, rst)


@trick("syn-fresh-isn",
       "a forged SYN with a fresh ISN mid-session: the kernel answers with a challenge ACK",
       ["tcp-control-ignored"])
def syn_fresh_isn(recs):
    i = 7
    syn = attacker(recs[0][2], seq=0x12345678, ack=0, flags=0x02, options=recs[0][2].options)
    after(recs, i, syn)


def exact_rst(recs, i):
    p = recs[i][2]
    return attacker(p, seq=next_seq(recs, True, i), flags=0x14)


@trick("rst-bad-checksum", "an RST at the exact sequence number, with a bad TCP checksum",
       ["tcp-control-ignored"])
def rst_bad_checksum(recs):
    rst = exact_rst(recs, 7)
    rst.checksum = "bad"
    after(recs, 7, rst)


@trick("rst-low-ttl", "an RST at the exact sequence number, with TTL 1 where the flow has 64",
       ["tcp-control-ignored"])
def rst_low_ttl(recs):
    rst = exact_rst(recs, 7)
    rst.ttl = 1
    after(recs, 7, rst)


def exact_fin(recs, i):
    p = recs[i][2]
    return attacker(p, seq=next_seq(recs, True, i), ack=p.ack, flags=0x11)


@trick("fin-bad-checksum", "a client FIN at the exact sequence number with a bad checksum",
       ["tcp-control-ignored"])
def fin_bad_checksum(recs):
    fin = exact_fin(recs, 7)
    fin.checksum = "bad"
    after(recs, 7, fin)


@trick("fin-low-ttl", "a client FIN at the exact sequence number with TTL 1",
       ["tcp-control-ignored"])
def fin_low_ttl(recs):
    fin = exact_fin(recs, 7)
    fin.ttl = 1
    after(recs, 7, fin)


def decoy_request(recs):
    real = recs[3][2]
    assert real.payload.startswith(b"GET ")
    decoy = clone(real)
    decoy.payload = b"POST /decoy HTTP/1.1\r\nHost: x\r\n\r\n".ljust(len(real.payload), b"x")
    return decoy


@trick("decoy-request-bad-checksum",
       "a decoy copy of the upgrade request, same sequence numbers, bad checksum, just before "
       "the real one", ["stream-overlap-conflict"])
def decoy_bad_checksum(recs):
    decoy = decoy_request(recs)
    decoy.checksum = "bad"
    after(recs, 2, decoy)


@trick("decoy-request-low-ttl",
       "a decoy copy of the upgrade request with TTL 1, just before the real one",
       ["stream-overlap-conflict"])
def decoy_low_ttl(recs):
    decoy = decoy_request(recs)
    decoy.ttl = 1
    decoy.checksum = "good"
    after(recs, 2, decoy)


@trick("data-after-fin",
       "a server frame after the server's FIN, sequence number one past the FIN",
       ["tcp-data-after-fin"])
def data_after_fin(recs):
    i = last_index(recs, lambda p: not is_client(p) and p.has("F"))
    fin = recs[i][2]
    extra = clone(fin)
    extra.flag("F", False)
    extra.flag("P")
    extra.seq = fin.seq + 1
    extra.payload = b"\x81\x0b" + b"after FIN!!"  # a server text frame
    extra.checksum = "good"
    after(recs, i, extra)


@trick("syn-data-no-cookie",
       "the client's SYN carries 16 bytes and no Fast Open cookie: the server drops them",
       ["tcp-syn-data-dropped"])
def syn_data_no_cookie(recs):
    syn = recs[0][2]
    syn.payload = b"GARBAGE IN SYN!!"


@trick("syn-data-cookie",
       "TCP Fast Open: the upgrade request rides on the SYN with a cookie; the server's SYN-ACK "
       "acknowledges it", [])
def syn_data_cookie(recs):
    syn, synack, ack, get = (r[2] for r in recs[:4])
    assert get.payload.startswith(b"GET ") and get.seq == syn.seq + 1
    syn.payload = get.payload
    # Fast Open cookie option (kind 34, RFC 7413 §4.1.1): 8 bytes, padded with NOPs.
    syn.options = syn.options + b"\x01\x01\x22\x0a" + bytes(range(1, 9))
    synack.ack = syn.seq + 1 + len(get.payload)
    ack.seq = synack.ack
    del recs[3]


@trick("decoy-request-undetectable",
       "a decoy copy of the upgrade request that nothing marks (right checksum, usual TTL): the "
       "first copy is taken; the conflict must still be reported", ["stream-overlap-conflict"],
       end=None)
def decoy_undetectable(recs):
    decoy = decoy_request(recs)
    decoy.checksum = "good"
    after(recs, 2, decoy)


def main():
    truth = json.load(open(os.path.join(SAMPLES, BASE + ".expected.json")))
    for name, (fn, what, rules, end) in TRICKS.items():
        header, recs = load()
        fn(recs)
        write_pcap(os.path.join(HERE, name + ".pcap"), header,
                   [(s, f, p.bytes()) for s, f, p in recs])
        exp = {
            "capture": name + ".pcap",
            "generator": "gen.py",
            "base": BASE + ".pcap",
            "description": what,
            # Every message of the original comes out (not checked when end is null: there
            # the receiver's view is not known from the capture).
            "connections": truth["connections"] if end else [],
            "tcp_rules": rules,
            "end": end,
        }
        with open(os.path.join(HERE, name + ".expected.json"), "w") as f:
            json.dump(exp, f, indent=1)
            f.write("\n")
        print(name)


if __name__ == "__main__":
    main()
