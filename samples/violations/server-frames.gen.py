#!/usr/bin/env python3
"""violations/server-frames.pcap: server-side frame violations against a real client.

A raw-socket server on 127.0.0.1:18811 answers a real `websockets` client (17.x, asyncio
API, compression off) with a correct 101 and then sends hand-made frames:
  1. server-frame-masked: a masked text frame (servers must not mask)
  2. pong-unsolicited: an unsolicited pong (allowed, reported as info), then a text
     message; the client receives it and closes 1000.
The client's reaction (the close it sent, the exception it raised) is recorded from the
library's own state. Run as root (tcpdump): python3 server-frames.gen.py
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from pyws import connected_socket  # noqa: E402
from vlib import (OP_PONG, OP_TEXT, Capture, RawServer, client_reaction, fmt_addr,  # noqa: E402
                  frame, raw_server_finish, raw_server_handshake, response_101, write_expected)
import websockets  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

NAME = "server-frames"
HOST, PORT = "127.0.0.1", 18811
BY = f"websockets {websockets.__version__} client"


def masked_frame(conn):
    _, rest = raw_server_handshake(conn, lambda key, h: response_101(key))
    conn.sendall(frame(OP_TEXT, "masked frame from the server", mask=True))
    return {"frames_from_client": raw_server_finish(conn, rest)}


def unsolicited_pong(conn):
    _, rest = raw_server_handshake(conn, lambda key, h: response_101(key))
    conn.sendall(frame(OP_PONG, "server heartbeat", mask=False)
                 + frame(OP_TEXT, "hello after the pong", mask=False))
    return {"frames_from_client": raw_server_finish(conn, rest)}


CASES = [
    ("server-frame-masked", ["server-frame-masked"], masked_frame,
     "after a valid 101: a MASKED text frame 'masked frame from the server'; then echoes the "
     "client's close and closes TCP"),
    ("pong-unsolicited-s2c", ["pong-unsolicited"], unsolicited_pong,
     "after a valid 101: unmasked pong 'server heartbeat' (no ping was sent), then text "
     "'hello after the pong'; then echoes the client's close and closes TCP"),
]


async def client():
    sock = await connected_socket(HOST, PORT)
    me = fmt_addr(sock.getsockname())
    async with connect(f"ws://{HOST}:{PORT}/", sock=sock, proxy=None, compression=None,
                       ping_interval=None, open_timeout=5, close_timeout=3) as ws:
        got = None
        try:
            got = await asyncio.wait_for(ws.recv(), 5)
            await ws.close(1000, "got it")
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        r = client_reaction(ws, BY)
        if got is not None:
            r["received"] = got
    return me, r


async def main():
    srv = RawServer(HOST, PORT)
    out = []
    try:
        for name, rules, behave, sent in CASES:
            served = asyncio.create_task(asyncio.to_thread(srv.serve_one, behave))
            me, reaction = await client()
            peer, slog = await served
            assert peer == me, (peer, me)
            out.append({"name": name, "client": me, "server": srv.addr, "sent": sent, "dir": "s2c",
                        "rules": rules, "allowed_extra": [], "raw_server_log": slog,
                        "reaction": reaction})
            await asyncio.sleep(0.1)
    finally:
        srv.close()
    return out


if __name__ == "__main__":
    with Capture(os.path.join("violations", NAME + ".pcap"), ["-i", "lo"], f"tcp port {PORT}",
                 extra=["--immediate-mode"]):
        conns = asyncio.run(asyncio.wait_for(main(), 60))
        time.sleep(1)
    write_expected(NAME, "raw server -> websockets client: server-side frame violations",
                   {"client": f"websockets {websockets.__version__}",
                    "server": "raw Python socket"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["reaction"])
