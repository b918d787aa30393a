#!/usr/bin/env python3
"""tfo.pcap: real TCP Fast Open, without and with a cookie, carrying WebSocket upgrades.

In a network namespace of its own (so its net.ipv4.tcp_fastopen does not touch the host), a
Python websockets server listens with TCP_FASTOPEN and three clients connect with
TCP_FASTOPEN_CONNECT, so the upgrade request goes out on the SYN:
  1. tcp_fastopen = 0x7 (client, server, client without cookie): the request rides on the SYN
     with no cookie option; the server drops it (its SYN-ACK acknowledges only the SYN) and
     the client sends it again after the handshake;
  2. tcp_fastopen = 0x3: no cookie cached yet, so the SYN asks for one (no data); the SYN-ACK
     brings it;
  3. the same: the request rides on the SYN with the cookie, and the server takes it.
Each session: two text messages each way, close 1000. Truth: tfo.expected.json (what both
programs logged). Run as root: `target/py-venv/bin/python samples/hostile/tcp/tfo.gen.py`.
"""
import asyncio
import ctypes
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
from pyws import Capture, Expected, fmt_addr, ws_close_sent, ws_echo_handler
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME = "hostile/tcp/tfo"
NS = "wsd-tfo"
HOST, PORT = "127.0.0.1", 18793
TCP_FASTOPEN, TCP_FASTOPEN_CONNECT = 23, 30
CLONE_NEWNET = 0x40000000


def fastopen(mode):
    subprocess.run(["ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv4.tcp_fastopen={mode}"],
                   check=True)


def enter(ns):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


async def session(exp, texts):
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
    sock.connect((HOST, PORT))  # returns at once: the SYN leaves with the first write
    sock.setblocking(False)
    rec = exp.open(fmt_addr(sock.getsockname()), f"{HOST}:{PORT}")
    kw = dict(compression=None, ping_interval=None, proxy=None, open_timeout=5)
    async with connect(f"ws://{HOST}:{PORT}/", sock=sock, **kw) as ws:
        rec.handshake(ws.response.status_code, ws.subprotocol)
        for text in texts:
            rec.message("c2s", text)
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == text, "echo differs"
        await ws.close(1000, "")
        ws_close_sent(ws, "c2s", rec)
    await asyncio.sleep(0.2)


async def main(exp):
    enter(NS)
    listener = socket.socket()
    listener.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
    listener.bind((HOST, PORT))
    listener.listen()
    async with serve(ws_echo_handler(exp), sock=listener, compression=None, ping_interval=None):
        fastopen(0x7)
        await session(exp, ["SYN data without a cookie", "is sent again"])
        fastopen(0x3)
        await session(exp, ["asks for a cookie", "gets one"])
        await session(exp, ["SYN data with the cookie", "is taken"])
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
        exp = Expected()
        with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT}", netns=NS):
            asyncio.run(asyncio.wait_for(main(exp), 30))
        exp.write(NAME, "tfo.pcap", "tfo.gen.py",
                  "TCP Fast Open: SYN data without a cookie (dropped), a cookie request, "
                  "SYN data with the cookie (taken)",
                  extra={"tcp_rules": ["tcp-syn-data-dropped"], "end": "fin"})
    finally:
        subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
