#!/usr/bin/env python3
"""A real WebSocket server and client (python `websockets`) on loopback, for wsdissect's live
capture tests (tests/integration/live.rs) and benchmark (bench/live.sh).

    peer.py serve PORT                 echo server on 127.0.0.1:PORT, driven by commands on stdin
    peer.py serve PORT --tls KEYLOG    the same over TLS (wss, a throwaway self-signed
                                       certificate); the client appends its secrets to KEYLOG
                                       as each connection is made, as a browser does
    peer.py flood PORT RATE SECS SIZE  one connection sending SIZE-byte text messages at RATE/s
                                       (0 = as fast as possible) for SECS seconds; prints a summary

`serve` prints one JSON object per line on stdout: first {"event":"listening"}, then one per
command. Every message sent is logged as {"dir","opcode","len","sha256"[,"fragments"]}, the echo
(server to client) included. Commands, one per line on stdin:

    probe K          new connection, text "probe-K", echo, close        -> {"event":"probed"}
    exchange         the full scenario below                            -> {"event":"exchanged","sent":[...]}
    open             persistent connection (no compression), one text   -> {"event":"opened","sent":[...]}
    send TEXT        TEXT on the persistent connection                  -> {"event":"sent","t":epoch,"sent":[...]}
    more N           N messages on the persistent connection, then close-> {"event":"more","sent":[...]}
    soak N M SECS    N short connections of M messages each, spread evenly over SECS (10 at a
                     time), plus one long connection sending every 20 ms -> {"event":"soaked",...}
    quit

The exchange: connection 1 without compression (text, binary, fragmented text, fragmented
binary, non-ASCII text, ping, close 1000); connection 2 with permessage-deflate (compressed
text, compressed binary, compressed fragmented text, a small text, ping, close 1000 "bye").
"""

import asyncio
import hashlib
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

LOG = []
# TLS: keyword arguments for connect() and serve() (empty for plain ws://).
CLIENT_KW = {}
SERVER_KW = {}


def tls_contexts(keylog):
    """A self-signed certificate for 127.0.0.1, a server context with it, and a client context
    that trusts it and writes the NSS key log."""
    import os
    import ssl
    import subprocess
    import tempfile

    d = tempfile.mkdtemp(prefix="wsd-peer-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=30)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    client.check_hostname = False
    client.keylog_filename = keylog
    return server, client


def out(obj):
    print(json.dumps(obj), flush=True)


def record(direction, msg, fragments=None):
    if isinstance(msg, str):
        data, opcode = msg.encode(), 1
    else:
        data, opcode = bytes(msg), 2
    entry = {
        "dir": direction,
        "opcode": opcode,
        "len": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if fragments is not None:
        entry["fragments"] = fragments
    LOG.append(entry)


async def echo(ws):
    quiet = ws.request.path == "/quiet"
    async for msg in ws:
        if not quiet:
            record("s2c", msg)
            await ws.send(msg)


async def sink(ws):
    async for _ in ws:
        pass


async def send(ws, msg, fragments=None):
    """Send (a list is sent fragmented: one frame per element, then websockets ends the message
    with an empty final continuation frame) and wait for the echo."""
    await ws.send(msg)
    whole = ("" if isinstance(msg[0], str) else b"").join(msg) if isinstance(msg, list) else msg
    record("c2s", whole, fragments)
    reply = await ws.recv()
    assert reply == whole, "echo mismatch"


async def exchange(url):
    async with connect(url, compression=None, **CLIENT_KW) as ws:
        await send(ws, "hello live")
        await send(ws, bytes(range(256)) * 4)
        await send(ws, ["frag-one ", "frag-two ", "frag-three"], fragments=4)
        await send(ws, [b"\x00" * 100, b"\x01" * 200], fragments=3)
        await send(ws, "h\u00e9llo w\u00f6rld \u2713")
        await (await ws.ping(b"ping-1"))
        await ws.close(1000)
    async with connect(url, **CLIENT_KW) as ws:  # permessage-deflate negotiated by default
        await send(ws, "compress me " * 500)
        await send(ws, bytes([7, 7, 7, 9]) * 1000)
        await send(ws, ["a" * 1000, "b" * 1000, "c" * 10], fragments=4)
        await send(ws, "small")
        await (await ws.ping(b"ping-2"))
        await ws.close(1000, "bye")


async def short_conn(url, k, m):
    async with connect(url, compression=None, **CLIENT_KW) as ws:
        for i in range(m):
            await ws.send(f"soak {k} {i}")
            await ws.recv()


async def soak(url, n, m, secs):
    stop = asyncio.Event()
    long_sent = 0

    async def long_conn():
        nonlocal long_sent
        async with connect(url, compression=None, **CLIENT_KW) as ws:
            while not stop.is_set():
                await ws.send(f"long {long_sent}")
                await ws.recv()
                long_sent += 1
                await asyncio.sleep(0.02)

    long_task = asyncio.create_task(long_conn())
    k = 0
    start = time.monotonic()
    while k < n and time.monotonic() < start + secs + 10:
        batch = range(k, min(n, k + 10))
        await asyncio.gather(*(short_conn(url, j, m) for j in batch))
        k += len(batch)
        # Paced: connection k starts no earlier than k/n of the way through.
        ahead = start + secs * k / n - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    stop.set()
    await long_task
    return {
        "event": "soaked",
        "connections": k,
        "messages": k * m + long_sent,
        "long_messages": long_sent,
        "seconds": round(time.monotonic() - start, 3),
    }


async def serve_main(port):
    scheme = "wss" if CLIENT_KW else "ws"
    url = f"{scheme}://127.0.0.1:{port}/"
    persistent = None
    async with serve(echo, "127.0.0.1", port, **SERVER_KW):
        out({"event": "listening", "port": port})
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
        )
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                break
            cmd, *args = line.split(" ", 1)
            LOG.clear()
            if cmd == "probe":
                async with connect(url, compression=None, **CLIENT_KW) as ws:
                    await send(ws, f"probe-{args[0]}")
                out({"event": "probed"})
            elif cmd == "exchange":
                await exchange(url)
                out({"event": "exchanged", "sent": LOG})
            elif cmd == "open":
                persistent = await connect(url, compression=None, **CLIENT_KW)
                await send(persistent, "before capture")
                out({"event": "opened", "sent": LOG})
            elif cmd == "send":
                t = time.time()
                await persistent.send(args[0])
                record("c2s", args[0])
                await persistent.recv()
                out({"event": "sent", "t": t, "sent": LOG})
            elif cmd == "more":
                for i in range(int(args[0])):
                    await send(persistent, f"after capture {i}")
                await persistent.close(1000)
                out({"event": "more", "sent": LOG})
            elif cmd == "soak":
                n, m, secs = args[0].split()
                out(await soak(url, int(n), int(m), float(secs)))
            else:
                out({"event": "error", "detail": f"unknown command {cmd!r}"})


async def flood_main(port, rate, secs, size):
    async with serve(sink, "127.0.0.1", port):
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            payload = "x" * size
            sent = 0
            start = time.monotonic()
            end = start + secs
            while (now := time.monotonic()) < end:
                if rate > 0:
                    due = int((now - start) * rate) - sent
                    if due <= 0:
                        await asyncio.sleep(0.001)
                        continue
                else:
                    due = 256
                for _ in range(due):
                    await ws.send(payload)
                sent += due
            elapsed = time.monotonic() - start
    out({"event": "flooded", "messages": sent, "seconds": round(elapsed, 3),
         "rate": round(sent / elapsed)})


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        if len(sys.argv) == 5 and sys.argv[3] == "--tls":
            server, client = tls_contexts(sys.argv[4])
            SERVER_KW["ssl"], CLIENT_KW["ssl"] = server, client
        asyncio.run(serve_main(int(sys.argv[2])))
    elif len(sys.argv) == 6 and sys.argv[1] == "flood":
        asyncio.run(flood_main(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]),
                               int(sys.argv[5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
