#!/usr/bin/env python3
"""py-deflate.pcap: websockets with permessage-deflate (RFC 7692) on lo.

Three connections to an echo server (127.0.0.1:18771) using websockets'
default server deflate settings (server_max_window_bits=12,
client_max_window_bits=12, context takeover allowed):
  1. default client offer            -> context takeover both ways
  2. client offers client_no_context_takeover
                                     -> c2s messages compressed independently,
                                        s2c still uses takeover
  3. client offers client_ and server_no_context_takeover -> no takeover at all
Messages: highly compressible text, small text, empty text, binary, and the
same message repeated (with takeover the repeats shrink to a few bytes).
websockets compresses every data frame once the extension is negotiated, so
every message is "compressed": true.  sha256/len are over the uncompressed
payload.
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import (Expected, Capture, check, connected_socket, fmt_addr, seeded,
                  text_payload, ws_close_sent, ws_extensions)
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      PerMessageDeflate)

NAME = "py-deflate"
HOST, PORT = "127.0.0.1", 18771
SERVER = f"{HOST}:{PORT}"

exp = Expected()


def deflating(ws):
    return any(isinstance(e, PerMessageDeflate) for e in ws.protocol.extensions)


def messages():
    rng = seeded(18771)
    repeated = '{"type":"tick","symbol":"WSD","price":1234.5,"seq":0}' * 4
    return [
        "hello " * 200,                       # 1200 bytes, compresses to a few dozen
        "hi",                                 # tiny
        "",                                   # empty message, still deflated
        text_payload(3000),                   # UTF-8 text with multibyte chars
        bytes(range(256)) * 16,               # compressible binary
        rng.randbytes(700),                   # incompressible binary (grows a little)
        repeated, repeated, repeated,         # takeover: 2nd/3rd nearly free
        "z" * 100_000,                        # large -> compressed frame still small
    ]


async def echo(ws):
    rec = exp[fmt_addr(ws.remote_address)]
    async for msg in ws:
        rec.message("s2c", msg, compressed=deflating(ws))
        await ws.send(msg)
    await ws.wait_closed()
    ws_close_sent(ws, "s2c", rec)


async def client(path, extensions=None):
    sock = await connected_socket(HOST, PORT)
    rec = exp.open(fmt_addr(sock.getsockname()), SERVER)
    async with connect(f"ws://{SERVER}{path}", sock=sock, proxy=None, ping_interval=None,
                       compression="deflate", extensions=extensions, max_size=None) as ws:
        rec.handshake(ws.response.status_code, ws.subprotocol, ws_extensions(ws.response))
        for m in messages():
            rec.message("c2s", m, compressed=deflating(ws))
            await ws.send(m)
            assert await asyncio.wait_for(ws.recv(), 10) == m
        await ws.close(1000, "deflate done")
    ws_close_sent(ws, "c2s", rec)


async def main():
    async with serve(echo, HOST, PORT, compression="deflate", ping_interval=None, max_size=None):
        await client("/default")
        # An explicit factory replaces the default offer (compress_settings as websockets' default).
        await client("/no-client-takeover", [ClientPerMessageDeflateFactory(
            client_no_context_takeover=True, compress_settings={"memLevel": 5})])
        await client("/no-takeover", [ClientPerMessageDeflateFactory(
            client_no_context_takeover=True, server_no_context_takeover=True,
            compress_settings={"memLevel": 5})])
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT}"):
        asyncio.run(asyncio.wait_for(main(), 30))
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              "websockets permessage-deflate echo: 3 connections (context takeover; "
              "client_no_context_takeover; client+server_no_context_takeover), 10 messages each "
              "way incl. empty, repeated and 100 kB text; sha256/len of uncompressed data")
    check(NAME)
