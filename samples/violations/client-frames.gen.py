#!/usr/bin/env python3
"""violations/client-frames.pcap: one connection per client-side frame violation.

A raw-socket client completes a real RFC 6455 handshake with a real `websockets` server
(17.x, asyncio API, compression off, echo handler) on 127.0.0.1:18801, then sends hand-made
frames that break one rule each. The server's reaction (close 1002/1007/1009, echo, ...)
is in the capture too; expected.json records it from the server's own state
(protocol.close_sent / parser_exc). Run as root (tcpdump): python3 client-frames.gen.py
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vlib import (OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Capture,  # noqa: E402
                  RawClient, ServerLog, close_payload, frame, write_expected)
from websockets.asyncio.server import serve  # noqa: E402
import websockets  # noqa: E402

NAME = "client-frames"
HOST, PORT = "127.0.0.1", 18801

# name, rules that must fire, allowed extra error rules, frames to send,
# replies to await before closing normally (None = the violation is fatal: just wait for
# the server's close), whether the client already sent a close, whether to echo the
# server's close.
CASES = [
    ("client-frame-unmasked", ["client-frame-unmasked"], [],
     [frame(OP_TEXT, "unmasked hello", mask=False)], None, False, True),
    ("rsv-without-extension", ["rsv-without-extension"], [],
     [frame(OP_TEXT, "rsv1 without extension", rsv1=True)], None, False, True),
    ("reserved-opcode-data-0x3", ["reserved-opcode"], [],
     [frame(0x3, "opcode 3")], None, False, True),
    ("reserved-opcode-control-0xB", ["reserved-opcode"], [],
     [frame(0xB, "opcode B")], None, False, True),
    ("control-frame-too-long", ["control-frame-too-long"], [],
     [frame(OP_PING, b"p" * 126)], None, False, True),
    ("control-frame-fragmented", ["control-frame-fragmented"], [],
     [frame(OP_PING, "fragmented ping", fin=False)], None, False, True),
    ("continuation-without-start", ["continuation-without-start"], [],
     [frame(OP_CONT, "orphan continuation")], None, False, True),
    ("new-message-while-fragmented", ["new-message-while-fragmented"], [],
     [frame(OP_TEXT, "first part of a fragmented message", fin=False),
      frame(OP_TEXT, "a new message")], None, False, True),
    ("invalid-utf8-text", ["invalid-utf8-text"], [],
     [frame(OP_TEXT, b"bad \xff utf-8")], None, False, True),
    ("invalid-utf8-text-split", ["invalid-utf8-text"], [],
     [frame(OP_TEXT, "valid first fragment ", fin=False),
      frame(OP_CONT, b"second \xff fragment")], None, False, True),
    ("invalid-utf8-close-reason", ["invalid-utf8-close-reason"], [],
     [frame(OP_CLOSE, close_payload(1000, b"bye \xff\xfe"))], None, True, False),
    ("length-msb-set", ["length-msb-set"], [],
     [frame(OP_BIN, b"12345", form=64, length=0x8000000000000005)], None, False, False),
    ("length-not-minimal-16bit", ["length-not-minimal"], [],
     [frame(OP_TEXT, "hello", form=16)], 1, False, True),
    ("length-not-minimal-64bit", ["length-not-minimal"], [],
     [frame(OP_BIN, bytes(range(200)), form=64)], 1, False, True),
    ("close-payload-one-byte", ["close-payload-one-byte"], [],
     [frame(OP_CLOSE, b"\x03")], None, True, False),
    ("close-code-1005", ["close-code-not-on-wire"], [],
     [frame(OP_CLOSE, close_payload(1005))], None, True, False),
    ("close-code-999", ["close-code-invalid"], [],
     [frame(OP_CLOSE, close_payload(999))], None, True, False),
    ("close-code-2000", ["close-code-invalid"], [],
     [frame(OP_CLOSE, close_payload(2000))], None, True, False),
    ("data-after-close", ["data-after-close"], [],
     [frame(OP_CLOSE, close_payload(1000, "bye")) + frame(OP_TEXT, "text after close")],
     None, True, False),
    ("pong-unsolicited", ["pong-unsolicited"], [],
     [frame(OP_PONG, "unsolicited heartbeat"), frame(OP_TEXT, "after the pong")], 1, False,
     True),
]

SENT = {
    "client-frame-unmasked": "text frame 'unmasked hello' with MASK=0",
    "rsv-without-extension": "masked text frame with RSV1=1, no extension negotiated",
    "reserved-opcode-data-0x3": "masked frame with opcode 0x3 (reserved data opcode)",
    "reserved-opcode-control-0xB": "masked frame with opcode 0xB (reserved control opcode)",
    "control-frame-too-long": "masked ping with a 126-byte payload (16-bit length)",
    "control-frame-fragmented": "masked ping with FIN=0",
    "continuation-without-start": "masked continuation frame (FIN=1) with no message open",
    "new-message-while-fragmented": "text FIN=0, then a new text frame FIN=1",
    "invalid-utf8-text": "masked text frame containing byte 0xFF",
    "invalid-utf8-text-split": "text FIN=0 (valid ASCII), continuation FIN=1 containing 0xFF "
                               "(the bad byte is only in the 2nd fragment)",
    "invalid-utf8-close-reason": "close 1000 with reason bytes 'bye \\xff\\xfe'",
    "length-msb-set": "binary frame, 64-bit length 0x8000000000000005, 5 payload bytes",
    "length-not-minimal-16bit": "text 'hello' (5 bytes) with a 16-bit length; then close 1000",
    "length-not-minimal-64bit": "binary 200 bytes with a 64-bit length; then close 1000",
    "close-payload-one-byte": "close frame with the 1-byte payload 0x03",
    "close-code-1005": "close frame with code 1005",
    "close-code-999": "close frame with code 999",
    "close-code-2000": "close frame with code 2000",
    "data-after-close": "close 1000 'bye' and, in the same segment, a text frame",
    "pong-unsolicited": "pong 'unsolicited heartbeat' (no ping was sent), then a text "
                        "message (echoed), then close 1000",
}


def run_case(case, port=PORT, eof_timeout=3):
    name, rules, allowed, frames, replies, close_sent, echo = case
    c = RawClient(HOST, port)
    status = c.handshake()
    assert status == 101, (name, status)
    for f in frames:
        c.send(f)
    if replies:
        c.recv_frames(replies)
        c.send(frame(OP_CLOSE, close_payload(1000, "done")))
        close_sent = True
    log = c.finish(close_sent, echo_close=echo, eof_timeout=eof_timeout)
    return {"name": name, "client": c.client, "server": c.server, "sent": SENT[name],
            "dir": "c2s", "rules": rules, "allowed_extra": allowed, "client_log": log}


async def main():
    slog = ServerLog(f"websockets {websockets.__version__} server")
    out = []
    async with serve(slog.handler(), HOST, PORT, compression=None, ping_interval=None,
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
        import time
        time.sleep(1)
    write_expected(NAME, "raw client -> websockets server: one client-side frame violation per "
                   "connection", {"server": f"websockets {websockets.__version__}",
                                  "client": "raw Python socket"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["reaction"])
