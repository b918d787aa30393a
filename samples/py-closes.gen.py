#!/usr/bin/env python3
"""py-closes.pcap: one connection per close variant, in sequence.

Each connection sends one text message, gets it echoed, then closes:
  client 1000 ""               client 1001 "going away"
  SERVER 1008 "policy"         client 1011 "internal error"
  client 3000 "app"            client 4999 "private"
  client 4001 "über-schluss"   (non-ASCII UTF-8 reason)
  raw-socket client: close frame with NO payload (code null); websockets echoes
  the empty payload.
The peer always echoes the close code/reason (websockets behaviour).
"""
import asyncio
import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import (Capture, Expected, check, connected_socket, fmt_addr, seeded,
                  ws_client_run, ws_close_sent)
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

NAME = "py-closes"
HOST, PORT = "127.0.0.1", 18770
SERVER = f"{HOST}:{PORT}"

CLIENT_CLOSES = [(1000, ""), (1001, "going away"), None, (1011, "internal error"),
                 (3000, "app"), (4999, "private"), (4001, "über-schluss")]
SERVER_CLOSE = (1008, "policy")  # used where CLIENT_CLOSES has None

exp = Expected()


async def handler(ws):
    rec = exp[fmt_addr(ws.remote_address)]
    try:  # iteration raises ConnectionClosedError for codes other than 1000/1001
        async for msg in ws:
            rec.message("s2c", msg)
            await ws.send(msg)
            if ws.request.path == "/server-closes":
                await ws.close(*SERVER_CLOSE)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    ws_close_sent(ws, "s2c", rec)


def masked_frame(opcode, payload, mask):
    """Client frame (FIN set, masked); payload < 126 bytes is enough here."""
    assert len(payload) < 126
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def raw_empty_close():
    """Real handshake + one message over a raw socket, then a close frame with
    an empty payload, which the websockets client API cannot produce."""
    loop = asyncio.get_running_loop()
    rng = seeded(18770)
    sock = await connected_socket(HOST, PORT)
    rec = exp.open(fmt_addr(sock.getsockname()), SERVER)
    key = base64.b64encode(rng.randbytes(16)).decode()
    req = (f"GET /raw HTTP/1.1\r\nHost: {SERVER}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 13\r\n\r\n")
    await loop.sock_sendall(sock, req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
    head, buf = buf.split(b"\r\n\r\n", 1)
    rec.handshake(int(head.split(b" ", 2)[1]))

    async def read_frame():
        nonlocal buf
        while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7F):
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
            if not chunk:
                raise EOFError
            buf += chunk
        n = buf[1] & 0x7F  # server frames are unmasked and short here
        frame, buf = (buf[0] & 0x0F, buf[2:2 + n]), buf[2 + n:]
        return frame

    text = "raw client says hi"
    rec.message("c2s", text)
    await loop.sock_sendall(sock, masked_frame(0x1, text.encode(), rng.randbytes(4)))
    assert await read_frame() == (0x1, text.encode())

    rec.close("c2s", None, "")
    await loop.sock_sendall(sock, masked_frame(0x8, b"", rng.randbytes(4)))
    assert await read_frame() == (0x8, b"")  # websockets echoes the empty close
    while await asyncio.wait_for(loop.sock_recv(sock, 4096), 5):
        pass  # server closes TCP first (as RFC 6455 asks)
    sock.close()


async def main():
    async with serve(handler, HOST, PORT, compression=None, ping_interval=None):
        for i, close in enumerate(CLIENT_CLOSES):
            path = "/server-closes" if close is None else f"/client-closes-{i}"
            await ws_client_run(exp, HOST, PORT, [f"message before close #{i}"], path=path,
                                close=close or (1000, ""))
        await raw_empty_close()
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT}"):
        asyncio.run(asyncio.wait_for(main(), 30))
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              "8 websockets connections, 1 text message each way, each closed differently: client "
              "1000 '', 1001, server 1008, client 1011, 3000, 4999, 4001 'über-schluss' (UTF-8), "
              "and a raw client close frame with empty payload (code null)")
    check(NAME)
