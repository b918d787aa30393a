#!/usr/bin/env python3
"""low-ttl.pcap: a real session, a router between the ends, and control packets that expire.

Three network namespaces: the client (wsd-ttl-c, 10.77.1.1), a router (wsd-ttl-r, forwarding)
and the server (wsd-ttl-s, 10.77.2.1); tcpdump captures on the client's veth, one hop before
the server. Python websockets server and client (one process: each socket is made inside its
namespace with setns(2)). After the first echoed message, a RST and then a FIN are forged in
the client's name, at exactly the next sequence number, right checksums, TTL 1, and sent on
the client's veth: the router discards them (ICMP time exceeded, not captured: the filter
keeps TCP), so the server never sees them. The session goes on: three text messages each
way, close 1000. The server's log is the truth (low-ttl.expected.json); the client checks
every echo. Run as root: `target/py-venv/bin/python samples/hostile/tcp/low-ttl.gen.py`.
"""
import asyncio
import ctypes
import os
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
from pyws import Capture, Expected, fmt_addr, ws_close_sent, ws_echo_handler
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME = "hostile/tcp/low-ttl"
C, R, S = "wsd-ttl-c", "wsd-ttl-r", "wsd-ttl-s"
CLIENT, SERVER, PORT = "10.77.1.1", "10.77.2.1", 18792
MESSAGES = ["before the forged packets", "after a RST that expired", "after a FIN too"]
CLONE_NEWNET = 0x40000000


def sh(*cmd):
    subprocess.run(cmd, check=True)


def setup():
    teardown()
    for ns in (C, R, S):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "wttl-c0", "netns", C, "type", "veth", "peer", "wttl-r0", "netns", R)
    sh("ip", "link", "add", "wttl-r1", "netns", R, "type", "veth", "peer", "wttl-s0", "netns", S)
    for ns, dev, addr in ((C, "wttl-c0", "10.77.1.1/24"), (R, "wttl-r0", "10.77.1.2/24"),
                          (R, "wttl-r1", "10.77.2.2/24"), (S, "wttl-s0", "10.77.2.1/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", C, "route", "add", "default", "via", "10.77.1.2")
    sh("ip", "-n", S, "route", "add", "default", "via", "10.77.2.2")
    sh("ip", "netns", "exec", R, "sysctl", "-qw", "net.ipv4.ip_forward=1")


def teardown():
    for ns in (C, R, S):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def enter(ns):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(w for (w,) in struct.iter_unpack("!H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def forged(eth, sport, seq, ack, flags, ttl=1):
    tcp = struct.pack("!HHIIBBHHH", sport, PORT, seq, ack, 5 << 4, flags, 502, 0, 0)
    src, dst = socket.inet_aton(CLIENT), socket.inet_aton(SERVER)
    c = csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x4242, 0x4000, ttl, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + tcp


def last_client_segment(sniff, sport):
    """Ethernet header, next sequence number and ack of the client's last segment seen."""
    found = None
    while True:
        try:
            pkt = sniff.recv(65535)
        except BlockingIOError:
            return found
        ip = pkt[14:]
        if pkt[12:14] != b"\x08\x00" or ip[9] != 6 or ip[12:16] != socket.inet_aton(CLIENT):
            continue
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
        sp, _, seq, ack = struct.unpack("!HHII", tcp[:12])
        if sp == sport:
            plen = len(tcp) - (tcp[12] >> 4) * 4
            found = (pkt[:14], seq + plen, ack)


async def main(exp):
    enter(S)
    listener = socket.socket()
    listener.bind((SERVER, PORT))
    listener.listen()
    enter(C)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sniff.bind(("wttl-c0", 0))
    sniff.setblocking(False)
    sock = socket.socket()
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (SERVER, PORT))
    sport = sock.getsockname()[1]
    rec = exp.open(fmt_addr(sock.getsockname()), f"{SERVER}:{PORT}")
    async with serve(ws_echo_handler(exp), sock=listener, compression=None, ping_interval=None):
        kw = dict(compression=None, ping_interval=None, proxy=None, open_timeout=5)
        async with connect(f"ws://{SERVER}:{PORT}/", sock=sock, **kw) as ws:
            rec.handshake(ws.response.status_code, ws.subprotocol)
            for i, text in enumerate(MESSAGES):
                if i == 1:
                    await asyncio.sleep(0.1)
                    eth, seq, ack = last_client_segment(sniff, sport)
                    sniff.send(forged(eth, sport, seq, ack, 0x14))  # RST, ACK
                    await asyncio.sleep(0.05)
                    sniff.send(forged(eth, sport, seq, ack, 0x11))  # FIN, ACK
                    await asyncio.sleep(0.05)
                rec.message("c2s", text)
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), 5) == text, "echo differs"
            await ws.close(1000, "")
            ws_close_sent(ws, "c2s", rec)
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    setup()
    try:
        exp = Expected()
        with Capture(NAME + ".pcap", ["-i", "wttl-c0"], f"tcp port {PORT}", netns=C):
            asyncio.run(asyncio.wait_for(main(exp), 30))
        exp.write(NAME, "low-ttl.pcap", "low-ttl.gen.py",
                  "a router between the ends; a RST and a FIN forged with TTL 1 expire there",
                  extra={"tcp_rules": ["tcp-control-ignored"], "end": "fin"})
    finally:
        teardown()
