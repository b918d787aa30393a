#!/usr/bin/env python3
"""py-ipv6-subproto.pcap: aiohttp server and client over [::1]:9443 (lo).

The server offers protocols ("chat.v2", "chat.v1"), the client asks for
("chat.v1", "chat.v2"); aiohttp picks the first of the client's list that the
server supports.  A few text/binary messages each way, then the server closes
with 4000 "custom close" and the client answers with 1000 "".
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from aiohttp import ClientSession, WSMsgType, web
from pyws import Capture, Expected, check, fmt_addr

NAME = "py-ipv6-subproto"
HOST, PORT = "::1", 9443

exp = Expected()
C2S = ["hello over IPv6", b"\x00\xffbinary\x7f", "ünïcode ✓ " * 20, b"\xab" * 1000]


async def handler(request):
    # compress=False: no permessage-deflate; heartbeat=None (default): no pings
    ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"), compress=False, heartbeat=None)
    await ws.prepare(request)
    peer = fmt_addr(request.transport.get_extra_info("peername"))
    for _ in C2S:
        msg = await ws.receive(timeout=10)
        rec = exp[peer]  # the client registers itself right after its handshake
        out = (f"got {len(msg.data)} chars" if msg.type == WSMsgType.TEXT
               else bytes(reversed(msg.data)))
        rec.message("s2c", out)
        await (ws.send_str(out) if isinstance(out, str) else ws.send_bytes(out))
    rec.close("s2c", 4000, "custom close")
    await ws.close(code=4000, message=b"custom close")
    return ws


async def main():
    app = web.Application()
    app.router.add_get("/chat", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, HOST, PORT).start()
    try:
        async with ClientSession() as session:
            ws = await session.ws_connect(f"http://[{HOST}]:{PORT}/chat", protocols=("chat.v1", "chat.v2"),
                                          compress=0, autoclose=False, autoping=True, heartbeat=None)
            rec = exp.open(fmt_addr(ws.get_extra_info("sockname")), f"[{HOST}]:{PORT}")
            rec.handshake(ws._response.status, ws.protocol,
                          ws._response.headers.getall("Sec-WebSocket-Extensions", []))
            for m in C2S:
                rec.message("c2s", m)
                await (ws.send_str(m) if isinstance(m, str) else ws.send_bytes(m))
                reply = await ws.receive(timeout=10)
                assert reply.type in (WSMsgType.TEXT, WSMsgType.BINARY), reply
            msg = await ws.receive(timeout=10)
            assert msg.type == WSMsgType.CLOSE and msg.data == 4000, msg
            # autoclose=False so that the reply close is sent (and logged) here
            rec.close("c2s", 1000, "")
            await ws.close(code=1000, message=b"")
        await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    with Capture(NAME + ".pcap", ["-i", "lo"], f"ip6 and tcp port {PORT}"):
        asyncio.run(asyncio.wait_for(main(), 30))
    exp.write(NAME, NAME + ".pcap", NAME + ".gen.py",
              "aiohttp over IPv6 [::1]:9443, subprotocol negotiated (chat.v1), text+binary both ways, "
              "server close 4000 'custom close', client replies 1000")
    check(NAME)
