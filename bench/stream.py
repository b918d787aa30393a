#!/usr/bin/env python3
"""Writes an endless-looking pcap stream to standard output: a real capture (Ethernet, IPv4,
TCP) played again and again, each round as new connections (the client's port moved) and
later in time, until GIGABYTES of packet records are written. For feeding wsdissect from a
pipe (`wsdissect -`) without a 10 GB file on disk; see bench/stream.sh.

    bench/stream.py bench/data/small-messages.pcap 10 | wsdissect --format json - >/dev/null

The TCP checksums of the moved packets are not recomputed (as on a capturing host with
checksum offload); wsdissect does not drop a packet for its checksum.
"""
import struct
import sys

ETHERNET = 1


def read_capture(path):
    with open(path, "rb") as f:
        head = f.read(24)
        magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", head)
        if magic != 0xA1B2C3D4 or link != ETHERNET:
            sys.exit(f"{path}: a little-endian microsecond pcap of Ethernet is needed")
        packets = []
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            sec, usec, incl, orig = struct.unpack("<IIII", rec)
            packets.append((sec * 1_000_000 + usec, orig, bytearray(f.read(incl))))
    return head, packets


def client_port_offsets(packets):
    """For each IPv4/TCP packet, where its client port is (source port if it goes to the
    server, else destination port): the server is the port of the first SYN's destination."""
    servers = set()
    where = []
    for _, _, data in packets:
        if len(data) < 14 + 20 + 20 or data[12:14] != b"\x08\x00" or data[23] != 6:
            where.append(None)
            continue
        tcp = 14 + (data[14] & 0x0F) * 4
        src, dst = struct.unpack_from(">HH", data, tcp)
        flags = data[tcp + 13]
        if flags & 0x12 == 0x02:  # SYN without ACK
            servers.add(dst)
        where.append(tcp if dst in servers else tcp + 2)
    return where


def main():
    path, gigabytes = sys.argv[1], float(sys.argv[2])
    head, packets = read_capture(path)
    where = client_port_offsets(packets)
    span = packets[-1][0] - packets[0][0] + 1_000_000
    budget = int(gigabytes * 1e9)
    out = sys.stdout.buffer
    out.write(head)
    written = 0
    round_ = 0
    while written < budget:
        shift = round_ * span
        # 16 different client port ranges, then they repeat (the connections of a round are
        # closed long before their ports come back).
        moved = (round_ % 16) * 2000
        chunk = []
        for (t, orig, data), at in zip(packets, where):
            if at is not None:
                port = struct.unpack_from(">H", data, at)[0]
                struct.pack_into(">H", data, at, (port + moved) % 65536 or 1)
            t += shift
            chunk.append(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(data), orig))
            chunk.append(bytes(data))
            if at is not None:
                struct.pack_into(">H", data, at, port)
            written += 16 + len(data)
        out.write(b"".join(chunk))
        round_ += 1
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
