#!/usr/bin/env python3
"""py-echo.pcap: websockets (asyncio API) echo over 127.0.0.1:8765 on lo.

Text and binary messages around every payload-length encoding boundary
(0, 1, 125 | 126, 127 | 65535 | 65536) plus one 1.5 MiB text message
(64-bit length, many TCP segments, UTF-8 sequences split across segments).
One client ping "ping", then client close 1000 "bye", echoed by the server.
permessage-deflate is off so frame payload length == message length.
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import (Capture, Expected, binary_payload, check, connected_socket, fmt_addr,
                  seeded, text_payload, ws_close_sent)
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME = "py-echo"
HOST, PORT = "127.0.0.1", 8765
SIZES = [0, 1, 125, 126, 127, 65535, 65536]
BIG = 1572864  # 1.5 MiB, text only: keeps the capture ~3 MB (binary 64-bit length is covered by 65536)
COMMON = dict(compression=None, ping_interval=None, max_size=None)

exp = Expected()


async def echo(ws):
    rec = exp[fmt_addr(ws.remote_address)]
    async for msg in ws:          # str -> text frame, bytes -> binary frame
        rec.message("s2c", msg)
        await ws.send(msg)
    await ws.wait_closed()
    ws_close_sent(ws, "s2c", rec)


async def main():
    rng = seeded(8765)
    payloads = []
    for n in SIZES:
        payloads.append(text_payload(n))
        payloads.append(binary_payload(n, rng))
    payloads.append(text_payload(BIG))

    async with serve(echo, HOST, PORT, **COMMON):
        sock = await connected_socket(HOST, PORT)
        rec = exp.open(fmt_addr(sock.getsockname()), f"{HOST}:{PORT}")
        async with connect(f"ws://{HOST}:{PORT}/echo", sock=sock, proxy=None, **COMMON) as ws:
            rec.handshake(ws.response.status_code, ws.subprotocol)
            for p in payloads:
                rec.message("c2s", p)
                await ws.send(p)
                assert await ws.recv() == p
            rec.ping("c2s", b"ping")
            await asyncio.wait_for(await ws.ping(b"ping"), 5)
            await ws.close(1000, "bye")
            ws_close_sent(ws, "c2s", rec)
        await asyncio.sleep(0.2)  # let the server handler log its close


if __name__ == "__main__":
    with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT} and host {HOST}"):
        asyncio.run(asyncio.wait_for(main(), 60))
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              "websockets echo on lo (Ethernet): text+binary of sizes 0,1,125,126,127,65535,65536 "
              "and 1.5 MiB text; one ping; client close 1000 'bye' echoed by server")
    check(NAME)
