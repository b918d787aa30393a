#!/usr/bin/python3
"""Rewrite two real WebSocket captures (samples/py-nano.pcap: Python websockets over IPv4 on
lo; samples/py-ipv6-subproto.pcap: aiohttp over IPv6 on lo) so that their packets travel in IP
fragments, under five VLAN tags, or with an Ethernet FCS. Every TCP byte the endpoints sent is
kept, so the truth is the original's .expected.json (copied next to each capture with its name
changed, plus the diagnostics the trick must cause). Run with Debian's python3 (python3-scapy):

    /usr/bin/python3 samples/hostile/net/gen.py

README.md says, for each capture, what a Linux receiver does with it (kernel-check.py)."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

from scapy.all import Ether, IP, IPv6, TCP, rdpcap  # noqa: E402
from fragtricks import (decoy_across_runs, decoy_inside_a_run, reorder,  # noqa: E402
                        v4_fragment_at, v4_fragments, v6_fragments, vlan_tags, with_fcs)

ETHERNET = 1
NETANALYZER = 240
NETANALYZER_TRANSPARENT = 241
# libpcap's LT_FCS_DATALINK_EXT(2): the FCS is 2 16-bit words (pcap-savefile(5)).
ETHERNET_WITH_FCS_BITS = 0x24000000 | ETHERNET


def ns(pkt):
    return int(pkt.time * 1_000_000_000)


def write_pcap(name, records, linktype=ETHERNET):
    """A nanosecond pcap (magic a1b23c4d) of (timestamp ns, frame bytes)."""
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, linktype))
        for ts, frame in records:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(frame), len(frame)))
            f.write(frame)


def pcapng_option(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def pcapng_block(kind, body):
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def write_pcapng_fcslen(name, records, fcslen_bits):
    """A pcapng whose interface says, with if_fcslen (option 13), that each frame ends with a
    `fcslen_bits`-bit FCS; nanosecond timestamps (if_tsresol 9)."""
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = (pcapng_option(9, bytes([9])) + pcapng_option(13, bytes([fcslen_bits]))
               + pcapng_option(0, b""))
    idb = pcapng_block(1, struct.pack("<HHI", ETHERNET, 0, 262144) + options)
    blocks = [shb, idb]
    for ts, frame in records:
        pad = (-len(frame)) % 4
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, len(frame), len(frame))
        blocks.append(pcapng_block(6, body + frame + b"\0" * pad))
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(b"".join(blocks))


def tcp_payload_len(pkt):
    return len(bytes(pkt[TCP].payload)) if TCP in pkt else 0


def write_truth(name, original, description, diagnostics):
    """The original's expected messages, for the rewritten capture."""
    with open(os.path.join(SAMPLES, original + ".expected.json")) as f:
        truth = json.load(f)
    truth["capture"] = name
    truth["generator"] = "hostile/net/gen.py"
    truth["original"] = original + ".pcap"
    truth["description"] = description
    truth["diagnostics"] = diagnostics
    stem = name.rsplit(".", 1)[0]
    with open(os.path.join(HERE, stem + ".expected.json"), "w") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
        f.write("\n")


PATTERNS_V4 = ["reversed", "in-order", "duplicate", "interleaved"]
PATTERNS_V6 = ["last-first", "reversed", "interleaved", "in-order"]


def ipv4_fragmented(packets):
    """Every TCP packet with data in 32-byte fragments (the first holds the 32-byte TCP
    header alone); the upgrade request reversed, the others in turn in order, with the first
    fragment twice, and interleaved (odd fragments first)."""
    out, n = [], 0
    for p in packets:
        if tcp_payload_len(p) == 0:
            out.append((ns(p), bytes(p)))
            continue
        frags = v4_fragments(p[IP], 32)
        for i, f in enumerate(reorder(frags, PATTERNS_V4[n % len(PATTERNS_V4)])):
            out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
        n += 1
    return out


def ipv6_fragmented(packets):
    """Every TCP packet with data in 56-byte IPv6 fragments (Fragment header ids 1, 2, …);
    the upgrade request with its last fragment first, the others reversed, interleaved, in
    order, in turn."""
    out, n = [], 0
    for p in packets:
        if tcp_payload_len(p) == 0:
            out.append((ns(p), bytes(p)))
            continue
        frags = v6_fragments(p[IPv6], 56, ident=n + 1)
        for i, f in enumerate(reorder(frags, PATTERNS_V6[n % len(PATTERNS_V6)])):
            out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
        n += 1
    return out


def request_index(packets):
    return next(i for i, p in enumerate(packets) if tcp_payload_len(p) > 0)


def ipv4_overlap(packets):
    """The upgrade request's datagram in 32-byte fragments plus a decoy that overlaps two of
    them ("GET /decoy" bytes at offset 40): Linux drops the whole datagram. 200 ms later the
    client's retransmission (the same TCP segment, unfragmented, a new IP id) delivers it."""
    r = request_index(packets)
    p = packets[r]
    frags = v4_fragments(p[IP], 32)
    decoy = v4_fragment_at(p[IP], 40, b"GET /decoy HTTP/1.1\r\nX: " + b"y" * 16)
    out = [(ns(q), bytes(q)) for q in packets[:r]]
    for i, f in enumerate(frags[:2] + [decoy] + frags[2:]):
        out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
    shift = 200_000_000
    retrans = p.copy()
    retrans[IP].id = (p[IP].id + 1000) & 0xffff
    del retrans[IP].chksum
    out.append((ns(p) + shift, bytes(retrans)))
    out += [(ns(q) + shift, bytes(q)) for q in packets[r + 1:]]
    return out


def ipv4_timeout(packets):
    """The upgrade request's datagram in 32-byte fragments, its last fragment 40 s late (Linux
    drops the datagram 30 s after its first fragment, ipfrag_time, give or take the timer
    wheel's slack of up to about 2 s): never delivered. The retransmission right after it
    (unfragmented) delivers the request; the rest of the capture is 40 s later."""
    r = request_index(packets)
    p = packets[r]
    frags = v4_fragments(p[IP], 32)
    out = [(ns(q), bytes(q)) for q in packets[:r]]
    for i, f in enumerate(frags[:-1]):
        out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
    shift = 40 * 10**9
    out.append((ns(p) + shift, bytes(Ether(src=p.src, dst=p.dst) / frags[-1])))
    retrans = p.copy()
    retrans[IP].id = (p[IP].id + 1000) & 0xffff
    del retrans[IP].chksum
    out.append((ns(p) + shift + 1000, bytes(retrans)))
    out += [(ns(q) + shift + 2000, bytes(q)) for q in packets[r + 1:]]
    return out


def ipv4_decoys(packets):
    """The upgrade request with a decoy wholly inside a run of fragments (the first copy wins:
    delivered as sent), and the client's first frame with a decoy across two runs (dropped),
    then its retransmission 200 ms later; the rest of the capture 200 ms later."""
    r = request_index(packets)
    frame = next(i for i in range(r + 1, len(packets))
                 if tcp_payload_len(packets[i]) > 0 and packets[i][TCP].dport == packets[r][TCP].dport)
    out = [(ns(q), bytes(q)) for q in packets[:r]]
    p = packets[r]
    for i, f in enumerate(decoy_inside_a_run(p[IP])):
        out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
    out += [(ns(q), bytes(q)) for q in packets[r + 1:frame]]
    p = packets[frame]
    for i, f in enumerate(decoy_across_runs(p[IP])):
        out.append((ns(p) + i, bytes(Ether(src=p.src, dst=p.dst) / f)))
    shift = 200_000_000
    retrans = p.copy()
    retrans[IP].id = (p[IP].id + 1000) & 0xffff
    del retrans[IP].chksum
    out.append((ns(p) + shift, bytes(retrans)))
    out += [(ns(q) + shift, bytes(q)) for q in packets[frame + 1:]]
    return out


def main():
    nano = rdpcap(os.path.join(SAMPLES, "py-nano.pcap"))
    v6 = rdpcap(os.path.join(SAMPLES, "py-ipv6-subproto.pcap"))

    write_pcap("ipv4-frag.pcap", ipv4_fragmented(nano))
    write_truth("ipv4-frag.pcap", "py-nano",
                "py-nano.pcap with every TCP packet carrying data sent as 32-byte IPv4 "
                "fragments: the upgrade request reversed, then in order, with the first "
                "fragment twice, interleaved", {})

    write_pcap("ipv6-frag.pcap", ipv6_fragmented(v6))
    write_truth("ipv6-frag.pcap", "py-ipv6-subproto",
                "py-ipv6-subproto.pcap with every TCP packet carrying data sent as 56-byte "
                "IPv6 fragments: last fragment first, reversed, interleaved, in order", {})

    write_pcap("ipv4-frag-overlap.pcap", ipv4_overlap(nano))
    write_truth("ipv4-frag-overlap.pcap", "py-nano",
                "py-nano.pcap whose upgrade request's fragments meet an overlapping decoy "
                "('GET /decoy'); the retransmission 200 ms later delivers the real request",
                {"ip-frag-overlap": 1, "ip-frag-timeout": 1})

    write_pcap("ipv4-frag-timeout.pcap", ipv4_timeout(nano))
    write_truth("ipv4-frag-timeout.pcap", "py-nano",
                "py-nano.pcap whose upgrade request's last fragment comes 40 s late (after "
                "Linux's 30 s ipfrag_time); the retransmission right after delivers it",
                {"ip-frag-timeout": 2})

    write_pcap("ipv4-frag-decoys.pcap", ipv4_decoys(nano))
    write_truth("ipv4-frag-decoys.pcap", "py-nano",
                "py-nano.pcap: a decoy wholly inside a run of the request's fragments (Linux "
                "keeps the first copy), a decoy across two runs of the first frame's fragments "
                "(Linux drops the datagram) and that frame's retransmission",
                {"ip-frag-overlap": 1, "ip-frag-timeout": 1})

    write_pcap("vlan5.pcap", [(ns(p), vlan_tags(bytes(p), 5)) for p in nano])
    write_truth("vlan5.pcap", "py-nano",
                "py-nano.pcap with five stacked VLAN tags on every frame (802.1ad 0x88a8 "
                "outside, four 802.1Q 0x8100)", {})

    fcs = [(ns(p), with_fcs(bytes(p))) for p in nano]
    write_pcap("fcs.pcap", fcs, ETHERNET_WITH_FCS_BITS)
    write_truth("fcs.pcap", "py-nano",
                "py-nano.pcap with an Ethernet FCS on every frame; the pcap header's link "
                "type says so (0x24000001: LT_FCS_DATALINK_EXT(2) | ETHERNET)", {})

    write_pcapng_fcslen("fcs-ifcslen.pcapng", fcs, 32)
    write_truth("fcs-ifcslen.pcapng", "py-nano",
                "py-nano.pcap with an Ethernet FCS on every frame, in a pcapng whose "
                "interface says if_fcslen = 32 (bits)", {})

    # The header (little-endian): status 0 (no error), version 1 (bits 10-13), the frame's
    # length with its FCS (bits 16-27): Wireshark's packet-netanalyzer.c.
    na = [(ts, struct.pack("<I", (1 << 10) | (len(f) << 16)) + f) for ts, f in fcs]
    write_pcap("netanalyzer.pcap", na, NETANALYZER)
    write_truth("netanalyzer.pcap", "py-nano",
                "py-nano.pcap as LINKTYPE_NETANALYZER (240): a 4-byte netANALYZER header "
                "(version 1, no error, the frame length) before each frame, the FCS after it",
                {})

    # Transparent mode (241): header bit 9 set, the preamble and SFD before the frame.
    preamble = b"\x55" * 7 + b"\xd5"
    nat = [(ts, struct.pack("<I", (1 << 10) | 0x200 | ((len(f) + 8) << 16)) + preamble + f)
           for ts, f in fcs]
    write_pcap("netanalyzer-transparent.pcap", nat, NETANALYZER_TRANSPARENT)
    write_truth("netanalyzer-transparent.pcap", "py-nano",
                "py-nano.pcap as LINKTYPE_NETANALYZER_TRANSPARENT (241): the netANALYZER header "
                "(version 1, transparent mode), the preamble and SFD, the frame, its FCS", {})


if __name__ == "__main__":
    main()
