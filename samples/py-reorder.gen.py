#!/usr/bin/env python3
"""py-reorder.pcap: WebSocket traffic with real reordering, duplication and loss.

There is no netem qdisc, so the path goes through a user-space bridge:

  netns wsd-a                root netns                        netns wsd-b
  client 10.77.0.1 [a0]--veth--[wsd-ra] lib/impair.py [wsd-rb]--veth--[b0] 10.77.0.2:8765 server
                                        (seeded drop/dup/reorder)               ^ tcpdump -i b0

MTU 1000 and all offloads off, so the kernel emits real ~1000 byte segments
(and full checksums: the bridge cannot complete partial ones).  tcpdump runs
inside wsd-b on b0, so it sees client segments arriving out of order and
twice, and the server's own retransmissions of dropped segments.

Both WebSocket ends run in this one process: the listening socket is created
while the thread is in wsd-b and the client socket while it is in wsd-a
(setns(2)); a socket keeps the namespace it was created in.
Needs root.  Namespaces are removed on exit.
"""
import asyncio
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import (SAMPLES, Capture, Expected, binary_payload, check, fmt_addr, seeded,
                  text_payload, ws_close_sent)
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME = "py-reorder"
NS_A, NS_B = "wsd-a", "wsd-b"
CLIENT_IP, SERVER_IP, PORT = "10.77.0.1", "10.77.0.2", 8765
MTU = 1000
SEED = 20240607
# message sizes, client->server and server->client (~0.5 MB each way)
C2S_SIZES = [10, 125, 900, 1000, 1460, 3000, 8000, 20000, 65536, 200000,
             5, 126, 2048, 4096, 15000, 40000, 100000, 500, 7000, 30000]
S2C_SIZES = [200000, 50, 1200, 9000, 65535, 300, 12000, 2500, 99999, 700,
             33, 4000, 150000, 1, 16384, 600, 24000, 3100, 127, 45000]

exp = Expected()
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def sh(*cmd):
    subprocess.run(cmd, check=True, timeout=20, stdout=subprocess.DEVNULL)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def setup_network():
    teardown_network()
    for ns, ip, inner, outer in ((NS_A, CLIENT_IP, "a0", "wsd-ra"), (NS_B, SERVER_IP, "b0", "wsd-rb")):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outer, "mtu", str(MTU), "type", "veth", "peer", "name", inner,
           "mtu", str(MTU), "netns", ns)
        # less IPv6 chatter (no link-local addresses -> no ND/RS); the capture
        # filter keeps it out of the pcap anyway, so failures are ignored
        quiet = dict(timeout=20, stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "set", outer, "addrgenmode", "none"], **quiet)
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", inner, "addrgenmode", "none"],
                       **quiet)
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", inner)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "set", outer, "up")
        # real MTU-sized segments with complete checksums
        off = ["tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"]
        sh("ip", "netns", "exec", ns, "ethtool", "-K", inner, *off)
        sh("ethtool", "-K", outer, *off)
        assert MTU == int(open(f"/sys/class/net/{outer}/mtu").read())


def teardown_network():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, timeout=20)
    for dev in ("wsd-ra", "wsd-rb"):  # normally gone with the namespaces
        subprocess.run(["ip", "link", "del", dev], stderr=subprocess.DEVNULL, timeout=20)


async def handler(ws):
    """Reply to the i-th message with a message of S2C_SIZES[i] (alternating text/binary)."""
    rec = exp[fmt_addr(ws.remote_address)]
    rng = seeded(SEED + 1)
    i = 0
    async for _ in ws:
        n = S2C_SIZES[i]
        out = text_payload(n) if i % 2 else binary_payload(n, rng)
        rec.message("s2c", out)
        await ws.send(out)
        i += 1
    await ws.wait_closed()
    ws_close_sent(ws, "s2c", rec)


async def main():
    loop = asyncio.get_running_loop()
    root_ns = "/proc/self/ns/net"
    root_fd_path = f"/proc/{os.getpid()}/fd/{os.open(root_ns, os.O_RDONLY)}"

    setns(f"/run/netns/{NS_B}")
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((SERVER_IP, PORT))
    setns(f"/run/netns/{NS_A}")
    csock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    setns(root_fd_path)

    common = dict(compression=None, ping_interval=None, max_size=None, close_timeout=10)
    async with serve(handler, sock=lsock, **common):
        csock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(csock, (SERVER_IP, PORT)), 10)
        rec = exp.open(fmt_addr(csock.getsockname()), f"{SERVER_IP}:{PORT}")
        async with connect(f"ws://{SERVER_IP}:{PORT}/reorder", sock=csock, proxy=None,
                           open_timeout=10, **common) as ws:
            rec.handshake(ws.response.status_code, ws.subprotocol)
            rng = seeded(SEED)

            async def receiver():  # replies are read concurrently with sending
                for _ in S2C_SIZES:
                    await ws.recv()

            recv_task = asyncio.create_task(receiver())
            for i, n in enumerate(C2S_SIZES):
                m = text_payload(n) if i % 2 == 0 else binary_payload(n, rng)
                rec.message("c2s", m)
                await ws.send(m)
            await asyncio.wait_for(recv_task, 60)
            await ws.close(1000, "reorder done")
        ws_close_sent(ws, "c2s", rec)
        await asyncio.sleep(0.3)


def tshark_count(pcap, flt):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", flt], capture_output=True, timeout=120).stdout
    return len(out.splitlines())


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: below
    stats_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    fwd = None
    try:
        setup_network()
        fwd = subprocess.Popen([sys.executable, os.path.join(SAMPLES, "lib", "impair.py"),
                                "wsd-ra", "wsd-rb", "--seed", str(SEED), "--stats", stats_file],
                               stdout=subprocess.PIPE)
        assert fwd.stdout.readline().startswith(b"impair: ready")
        with Capture(NAME + ".pcap", ["-i", "b0"], f"tcp port {PORT}", netns=NS_B):
            asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        if fwd:
            fwd.terminate()
            fwd.wait(10)
        teardown_network()
    stats = json.load(open(stats_file))
    os.unlink(stats_file)
    pcap = os.path.join(SAMPLES, NAME + ".pcap")
    analysis = {k: tshark_count(pcap, f"tcp.analysis.{k}") for k in
                ("out_of_order", "retransmission", "fast_retransmission",
                 "spurious_retransmission", "duplicate_ack", "lost_segment")}
    analysis["any_of_ooo_retrans_dupack"] = tshark_count(
        pcap, "tcp.analysis.out_of_order or tcp.analysis.retransmission or tcp.analysis.duplicate_ack")
    # the capture is only useful if the impairments really show up
    assert analysis["out_of_order"] > 0 and analysis["retransmission"] > 0, analysis
    print("impair stats:", stats)
    print("tshark tcp.analysis counts:", analysis)
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              "websockets between two network namespaces through a seeded user-space bridge that "
              "drops, duplicates and reorders TCP segments (MTU 1000); captured on the server's "
              "veth; 20 messages each way up to 200 kB, sent concurrently")
    check(NAME)
