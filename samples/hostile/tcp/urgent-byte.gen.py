#!/usr/bin/env python3
"""urgent-byte.pcap: a real loopback session with urgent (out-of-band) data.

Python websockets server and client on 127.0.0.1:18790, captured by tcpdump on lo. The
client sends three text messages; the second one it writes itself, as one masked frame
split in two by `send(b"!", MSG_OOB)`: Linux sends the "!" inline with URG set and the
urgent pointer just past it. The server socket has no SO_OOBINLINE, so its kernel takes
that byte out of the stream: the server reads an intact frame and echoes the message, which
the client checks. Had the byte reached the server's stream, its frame parser would have
failed the connection. Truth: urgent-byte.expected.json (what both programs logged).

    python3 samples/hostile/tcp/urgent-byte.gen.py   (as root: tcpdump on lo)
"""
import asyncio
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
from pyws import Capture, Expected, connected_socket, fmt_addr, ws_close_sent, ws_echo_handler
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME = "hostile/tcp/urgent-byte"
HOST, PORT = "127.0.0.1", 18790
MESSAGES = ["before the urgent byte", "split by an urgent byte", "after it"]


def masked_text_frame(text, mask=b"\x11\x22\x33\x44"):
    payload = text.encode()
    assert len(payload) < 126
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def client(exp):
    sock = await connected_socket(HOST, PORT)
    rec = exp.open(fmt_addr(sock.getsockname()), f"{HOST}:{PORT}")
    kw = dict(compression=None, ping_interval=None, proxy=None, open_timeout=5)
    async with connect(f"ws://{HOST}:{PORT}/", sock=sock, **kw) as ws:
        rec.handshake(ws.response.status_code, ws.subprotocol)
        for i, text in enumerate(MESSAGES):
            rec.message("c2s", text)
            if i == 1:
                # The transport's buffer is empty (the last reply is in), so writing to the
                # socket directly keeps the byte order.
                frame = masked_text_frame(text)
                cut = len(frame) // 2
                sock.send(frame[:cut])
                await asyncio.sleep(0.05)
                sock.send(b"!", socket.MSG_OOB)
                await asyncio.sleep(0.05)
                sock.send(frame[cut:])
            else:
                await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == text, "echo differs"
        await ws.close(1000, "")
        ws_close_sent(ws, "c2s", rec)


async def main(exp):
    async with serve(ws_echo_handler(exp), HOST, PORT, compression=None, ping_interval=None):
        await client(exp)
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    exp = Expected()
    with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT}"):
        asyncio.run(asyncio.wait_for(main(exp), 30))
    exp.write(NAME, "urgent-byte.pcap", "urgent-byte.gen.py",
              "send(b'!', MSG_OOB) in the middle of a client frame; the server (no "
              "SO_OOBINLINE) reads the frame intact",
              extra={"tcp_rules": ["tcp-urgent-byte"], "end": "fin"})
