#!/usr/bin/env python3
"""py-rejected.pcap: failed handshakes next to a successful one.

  (a) websockets client -> GET /forbidden; the server's process_request
      answers 403 Forbidden (client gets InvalidStatus)
  (b) raw-socket client sending a handshake with Sec-WebSocket-Version: 8;
      websockets rejects it (status read from the raw response)
  (c) normal websockets connection, 1 message each way, client close 1000
All against the same websockets server on 127.0.0.1:18769.
"""
import asyncio
import base64
import os
import sys
from http import HTTPStatus

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import (Capture, Expected, check, connected_socket, fmt_addr, ws_client_run,
                  ws_echo_handler, ws_extensions)
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

NAME = "py-rejected"
HOST, PORT = "127.0.0.1", 18769
SERVER = f"{HOST}:{PORT}"

exp = Expected()


def process_request(connection, request):
    if request.path == "/forbidden":
        return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
    return None  # continue with the normal handshake


async def forbidden():
    sock = await connected_socket(HOST, PORT)
    rec = exp.open(fmt_addr(sock.getsockname()), SERVER)
    try:
        async with connect(f"ws://{SERVER}/forbidden", sock=sock, proxy=None,
                           compression=None, ping_interval=None, open_timeout=5):
            raise AssertionError("handshake unexpectedly succeeded")
    except InvalidStatus as exc:
        rec.handshake(exc.response.status_code, None, ws_extensions(exc.response))


async def old_version():
    """Hand-written handshake; websockets only speaks version 13."""
    loop = asyncio.get_running_loop()
    sock = await connected_socket(HOST, PORT)
    rec = exp.open(fmt_addr(sock.getsockname()), SERVER)
    key = base64.b64encode(b"py-rejected-v8!!").decode()
    req = (f"GET /chat HTTP/1.1\r\nHost: {SERVER}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 8\r\n\r\n")
    await loop.sock_sendall(sock, req.encode())
    resp = b""
    while True:  # read until the server closes the connection
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
        if not chunk:
            break
        resp += chunk
    sock.close()
    status = int(resp.split(b" ", 2)[1])
    rec.handshake(status)
    return resp.split(b"\r\n", 1)[0].decode()


async def main():
    async with serve(ws_echo_handler(exp, lambda m: "ok: " + m), HOST, PORT,
                     process_request=process_request, compression=None, ping_interval=None):
        await forbidden()
        line = await old_version()
        print("version 8 handshake answered with:", line)
        await ws_client_run(exp, HOST, PORT, ["after the rejections"], path="/chat")
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    with Capture(NAME + ".pcap", ["-i", "lo"], f"tcp port {PORT}"):
        asyncio.run(asyncio.wait_for(main(), 30))
    s = [c.d["status"] for c in exp.conns]
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              f"websockets server: 403 from process_request for /forbidden (status {s[0]}), "
              f"raw handshake with Sec-WebSocket-Version: 8 (status {s[1]}), then a normal "
              "connection with 1 text message each way")
    check(NAME)
