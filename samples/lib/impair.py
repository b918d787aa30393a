#!/usr/bin/env python3
"""User-space impairing bridge between two interfaces (there is no netem here).

usage: impair.py IFACE_A IFACE_B --seed N [--drop P] [--dup P] [--reorder P] [--stats FILE]

Every Ethernet frame received on one interface is written to the other one
(AF_PACKET raw sockets), so ARP etc. just pass.  IPv4 TCP segments that carry
payload are impaired, decided by a seeded RNG:
  drop     the segment is not forwarded (TCP must retransmit it)
  dup      the segment is forwarded twice
  reorder  the segment is held back until 1-4 later frames in the same
           direction have passed (or 20 ms at most), so it arrives late
On SIGTERM/SIGINT it writes counters to --stats (JSON) and exits.
"""
import argparse
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_HOLD = 0.020


def tcp_payload_len(frame):
    """Payload length of an IPv4/TCP frame, or 0 for anything else."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return 0
    ihl = (frame[14] & 0x0F) * 4
    total = int.from_bytes(frame[16:18], "big")
    doff = (frame[14 + ihl + 12] >> 4) * 4
    return total - ihl - doff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface_a")
    ap.add_argument("iface_b")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop", type=float, default=0.01)
    ap.add_argument("--dup", type=float, default=0.01)
    ap.add_argument("--reorder", type=float, default=0.02)
    ap.add_argument("--stats")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    socks = {}
    for name in (args.iface_a, args.iface_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((name, 0))
        socks[name] = s
    a, b = socks[args.iface_a], socks[args.iface_b]
    peer = {a: b, b: a}
    stats = {"forwarded": 0, "tcp_data": 0, "dropped": 0, "duplicated": 0, "reordered": 0}
    held = {a: [], b: []}  # per output socket: [frames_to_wait, deadline, frame]

    def stop(*_):
        if args.stats:
            with open(args.stats, "w") as f:
                json.dump(stats, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def send(out, frame):
        out.send(frame)
        stats["forwarded"] += 1
        # a frame passed: held-back frames in this direction get one step closer
        for h in held[out]:
            h[0] -= 1
        due = [h for h in held[out] if h[0] <= 0]
        held[out] = [h for h in held[out] if h[0] > 0]
        for h in due:
            out.send(h[2])
            stats["forwarded"] += 1

    print("impair: ready", flush=True)
    while True:
        now = time.monotonic()
        for out in (a, b):  # time cap on holding
            late = [h for h in held[out] if h[1] <= now]
            held[out] = [h for h in held[out] if h[1] > now]
            for h in late:
                out.send(h[2])
                stats["forwarded"] += 1
        ready, _, _ = select.select([a, b], [], [], 0.002 if held[a] or held[b] else 0.1)
        for s in ready:
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:  # our own transmissions echo back; skip
                continue
            out = peer[s]
            if tcp_payload_len(frame) > 0:
                stats["tcp_data"] += 1
                x = rng.random()
                if x < args.drop:
                    stats["dropped"] += 1
                    continue
                if x < args.drop + args.dup:
                    stats["duplicated"] += 1
                    send(out, frame)
                elif x < args.drop + args.dup + args.reorder:
                    stats["reordered"] += 1
                    held[out].append([rng.randint(1, 4), time.monotonic() + MAX_HOLD, frame])
                    continue
            send(out, frame)


if __name__ == "__main__":
    main()
