#!/usr/bin/env python3
"""violations/deflate.pcap: permessage-deflate (RFC 7692) violations.

A raw-socket client offers `permessage-deflate; client_max_window_bits` to a real
`websockets` 17.x server (compression="deflate", its defaults: it answers
server_max_window_bits=12; client_max_window_bits=12) on 127.0.0.1:18831. On each
connection the client first sends one valid compressed text message (RSV1, raw deflate,
window 2^12, context takeover) and reads the server's compressed echo, then:
  1. deflate-rsv1-misplaced: a compressed text message in 2 fragments with RSV1 set on the
     continuation frame too (the deflate data itself is valid)
  2. deflate-rsv1-misplaced-ping: a ping with RSV1 set
  3. deflate-error: a text frame with RSV1 whose payload is not deflate data (first byte
     0xFF: BFINAL=1, BTYPE=11, a reserved block type)
The server's reaction is recorded from its own state. Run as root: python3 deflate.gen.py
"""
import asyncio
import os
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vlib import (OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Capture, RawClient,  # noqa: E402
                  ServerLog, close_payload, frame, write_expected)
import websockets  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

NAME = "deflate"
HOST, PORT = "127.0.0.1", 18831
OFFER = "permessage-deflate; client_max_window_bits"
TAIL = b"\x00\x00\xff\xff"


class Deflater:
    def __init__(self, wbits):
        self.z = zlib.compressobj(wbits=-wbits)

    def part(self, data, last):
        out = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        if last:
            assert out.endswith(TAIL)
            out = out[:-4]
        return out


def window_bits(ext_header):
    for p in ext_header.split(";"):
        k, _, v = p.strip().partition("=")
        if k == "client_max_window_bits" and v:
            return int(v)
    return 15


def rsv1_on_continuation(d):
    return [frame(OP_TEXT, d.part(b"first fragment, compressed; ", False), fin=False, rsv1=True),
            frame(OP_CONT, d.part(b"second fragment with RSV1 set again", True), rsv1=True)]


def rsv1_on_ping(d):
    return [frame(OP_PING, "ping with rsv1", rsv1=True)]


def garbage(d):
    return [frame(OP_TEXT, b"\xff\xfe\xfd\xfc\xfb not deflate", rsv1=True)]


CASES = [
    ("deflate-rsv1-misplaced", ["deflate-rsv1-misplaced"], rsv1_on_continuation,
     "after one valid compressed message: compressed text in 2 fragments, RSV1 set on both "
     "the text frame and the continuation frame"),
    ("deflate-rsv1-misplaced-ping", ["deflate-rsv1-misplaced"], rsv1_on_ping,
     "after one valid compressed message: a ping frame with RSV1=1"),
    ("deflate-error", ["deflate-error"], garbage,
     "after one valid compressed message: text frame, RSV1=1, payload ff fe fd fc fb + "
     "' not deflate' (invalid deflate block type)"),
]


def run_case(case):
    name, rules, make, sent = case
    c = RawClient(HOST, PORT)
    status = c.handshake(extensions=OFFER)
    assert status == 101, (name, status)
    ext = c.headers.get("sec-websocket-extensions", [""])[0]
    d = Deflater(window_bits(ext))
    c.send(frame(OP_TEXT, d.part(b"a valid compressed message " * 3, True), rsv1=True))
    echo = c.recv_frames(1)[0]
    assert echo["rsv1"], echo
    for f in make(d):
        c.send(f)
    log = c.finish(close_sent=False)
    return {"name": name, "client": c.client, "server": c.server, "offered": OFFER,
            "negotiated": ext, "sent": sent, "dir": "c2s", "rules": rules, "allowed_extra": [],
            "client_log": log}


async def main():
    slog = ServerLog(f"websockets {websockets.__version__} server (compression=deflate)")
    out = []
    async with serve(slog.handler(), HOST, PORT, compression="deflate", ping_interval=None,
                     close_timeout=2):
        for case in CASES:
            out.append(await asyncio.to_thread(run_case, case))
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    for c in out:
        c["reaction"] = slog.by_client.get(c["client"], {})
    return out


if __name__ == "__main__":
    with Capture(os.path.join("violations", NAME + ".pcap"), ["-i", "lo"], f"tcp port {PORT}",
                 extra=["--immediate-mode"]):
        conns = asyncio.run(asyncio.wait_for(main(), 60))
        time.sleep(1)
    write_expected(NAME, "raw client -> websockets server with permessage-deflate negotiated: "
                   "RFC 7692 violations", {"server": f"websockets {websockets.__version__}",
                                           "client": "raw Python socket + zlib"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["negotiated"], c["reaction"])
