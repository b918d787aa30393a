#!/usr/bin/env python3
"""violations/handshakes.pcap: opening-handshake violations, both sides.

Client side (raw-socket client -> real `websockets` 17.x server on 127.0.0.1:18821):
  1. handshake-key-invalid: Sec-WebSocket-Key that is not base64 of 16 bytes
  2. handshake-version: Sec-WebSocket-Version: 8
  The server rejects both (its status is recorded from its own process_response hook).
Server side (raw-socket server on 127.0.0.1:18822 -> real `websockets` 17.x client):
  3. handshake-accept-mismatch: 101 with a Sec-WebSocket-Accept computed for another key
  4. handshake-accept-missing: 101 without Sec-WebSocket-Accept
  5. handshake-subprotocol-not-offered: client offers chat.v1, server selects chat.v9
  6. handshake-extension-not-offered: client offers no extension (compression=None),
     server answers Sec-WebSocket-Extensions: permessage-deflate
  The client fails the handshake and drops TCP; the exception it raised is recorded.
Run as root (tcpdump): python3 handshakes.gen.py
"""
import asyncio
import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from pyws import connected_socket  # noqa: E402
from vlib import (Capture, RawClient, RawServer, ServerLog, accept_for, client_reaction,  # noqa: E402
                  fmt_addr, raw_server_handshake, read_until_eof, response_101,
                  write_expected)
import websockets  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

NAME = "handshakes"
HOST, WS_PORT, RAW_PORT = "127.0.0.1", 18821, 18822
BY = f"websockets {websockets.__version__} client"

RAW_CLIENT_CASES = [
    ("handshake-key-invalid", ["handshake-key-invalid", "handshake-rejected"],
     {"key": "not-a-valid-key!"},
     "upgrade request with Sec-WebSocket-Key: not-a-valid-key! (not base64 of 16 bytes)"),
    ("handshake-key-invalid-short", ["handshake-key-invalid", "handshake-rejected"],
     {"key": base64.b64encode(b"ten bytes!").decode()},
     "upgrade request with Sec-WebSocket-Key = base64 of 10 bytes (valid base64, wrong size)"),
    ("handshake-version", ["handshake-version", "handshake-rejected"],
     {"version": "8"}, "upgrade request with Sec-WebSocket-Version: 8"),
]


def bad_101(make):
    def behave(conn):
        headers, rest = raw_server_handshake(conn, make)
        data, how = read_until_eof(conn, rest)
        return {"request_extensions": headers.get("sec-websocket-extensions", []),
                "request_protocols": headers.get("sec-websocket-protocol", []),
                "bytes_after_response": len(data), "client_ended_with": how}
    return behave


RAW_SERVER_CASES = [
    ("handshake-accept-mismatch", ["handshake-accept-mismatch"],
     bad_101(lambda key, h: response_101(key, accept=accept_for("dGhlIHNhbXBsZSBub25jZQ=="))),
     {}, "101 whose Sec-WebSocket-Accept is computed for the RFC's sample key, not the "
     "client's"),
    ("handshake-accept-missing", ["handshake-accept-missing"],
     bad_101(lambda key, h: response_101(key, accept=False)), {},
     "101 without a Sec-WebSocket-Accept header"),
    ("handshake-subprotocol-not-offered", ["handshake-subprotocol-not-offered"],
     bad_101(lambda key, h: response_101(key, extra=["Sec-WebSocket-Protocol: chat.v9"])),
     {"subprotocols": ["chat.v1"]},
     "client offers chat.v1; the 101 selects Sec-WebSocket-Protocol: chat.v9"),
    ("handshake-extension-not-offered", ["handshake-extension-not-offered"],
     bad_101(lambda key, h: response_101(key,
                                         extra=["Sec-WebSocket-Extensions: permessage-deflate"])),
     {}, "client offers no extension; the 101 accepts Sec-WebSocket-Extensions: "
     "permessage-deflate"),
]


def raw_client(name, rules, kw, sent):
    c = RawClient(HOST, WS_PORT)
    status = c.handshake(**kw)
    body, how = read_until_eof(c.sock, c.buf)
    c.sock.close()
    return {"name": name, "client": c.client, "server": c.server, "sent": sent,
            "dir": "c2s", "rules": rules,
            "allowed_extra": [], "client_log": {"status_received": status,
                                                "tcp_end_seen_by_client": how,
                                                "body": body.decode(errors="replace")}}


async def ws_client(kw):
    sock = await connected_socket(HOST, RAW_PORT)
    me = fmt_addr(sock.getsockname())
    try:
        async with connect(f"ws://{HOST}:{RAW_PORT}/", sock=sock, proxy=None, compression=None,
                           ping_interval=None, open_timeout=5, close_timeout=3, **kw):
            raise AssertionError("handshake unexpectedly succeeded")
    except AssertionError:
        raise
    except Exception as exc:  # the library's own verdict on the bad 101
        return me, client_reaction(exc, BY)


async def main():
    slog = ServerLog(f"websockets {websockets.__version__} server")
    out = []
    async with serve(slog.handler(), HOST, WS_PORT, compression=None, ping_interval=None,
                     process_response=slog.process_response()):
        for case in RAW_CLIENT_CASES:
            out.append(await asyncio.to_thread(raw_client, *case))
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
    for c in out:
        c["reaction"] = slog.by_client.get(c["client"], {})
    srv = RawServer(HOST, RAW_PORT)
    try:
        for name, rules, behave, kw, sent in RAW_SERVER_CASES:
            served = asyncio.create_task(asyncio.to_thread(srv.serve_one, behave))
            me, reaction = await ws_client(kw)
            peer, rlog = await served
            assert peer == me, (peer, me)
            out.append({"name": name, "client": me, "server": srv.addr, "sent": sent, "dir": "s2c",
                        "rules": rules, "allowed_extra": [], "raw_server_log": rlog,
                        "reaction": reaction})
            await asyncio.sleep(0.1)
    finally:
        srv.close()
    return out


if __name__ == "__main__":
    with Capture(os.path.join("violations", NAME + ".pcap"), ["-i", "lo"],
                 f"tcp port {WS_PORT} or tcp port {RAW_PORT}", extra=["--immediate-mode"]):
        conns = asyncio.run(asyncio.wait_for(main(), 60))
        time.sleep(1)
    write_expected(NAME, "opening-handshake violations: raw client -> websockets server, and "
                   "raw server -> websockets client",
                   {"websockets": websockets.__version__, "raw": "Python socket"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["reaction"])
