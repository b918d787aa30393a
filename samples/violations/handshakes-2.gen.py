#!/usr/bin/env python3
"""violations/handshakes-2.pcap: more opening-handshake violations, and a frame cut off by FIN.

Client side (raw-socket client -> real `websockets` 17.x server on 127.0.0.1:18851):
  1. handshake-not-get: `POST /violations HTTP/1.1` with every upgrade header (server: 405)
  2. handshake-host-missing: a GET upgrade request without Host (the server accepts it; the
     client sends one text message, gets the echo, and closes 1000)
  3. frame-incomplete: a real handshake, then a binary frame whose header declares 1000
     payload bytes, only 10 of them, and a FIN (shutdown(SHUT_WR))
  The server's status / close / parser error is recorded from its own state.
Server side (raw-socket server on 127.0.0.1:18852 -> real `websockets` 17.x client):
  4. handshake-upgrade-headers: 101 with a correct Sec-WebSocket-Accept and
     `Connection: Upgrade`, but no `Upgrade: websocket`
  5. handshake-malformed (status line): `HTTP/1.1 1O1 Switching Protocols` (letter O)
  6. handshake-malformed (garbage): a non-HTTP banner (`SSH-2.0-OpenSSH_9.6`) instead of a
     response
  7. handshake-no-response: the raw server reads the request and closes (FIN), no response
  The client fails the handshake and drops TCP; the exception it raised is recorded.
Run as root (tcpdump): python3 handshakes-2.gen.py
"""
import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from pyws import connected_socket  # noqa: E402
from vlib import (OP_BIN, OP_CLOSE, OP_TEXT, Capture, RawClient, RawServer, ServerLog,  # noqa: E402
                  accept_for, client_reaction, close_payload, fmt_addr, frame, new_key,
                  parse_head, read_head, read_until_eof, write_expected)
import websockets  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

NAME = "handshakes-2"
HOST, WS_PORT, RAW_PORT = "127.0.0.1", 18851, 18852
BY = f"websockets {websockets.__version__} client"


# --------------------------------------------------------------------------- raw client cases

def send_request(c, method="GET", host=True):
    """A hand-made upgrade request; returns the status the server answered."""
    key = new_key()
    req = [f"{method} /violations HTTP/1.1"]
    if host:
        req.append(f"Host: {c.server}")
    req += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13"]
    c.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
    head, c.buf = read_head(c.sock)
    status_line, headers = parse_head(head)
    c.status = int(status_line.split(" ", 2)[1])
    c.headers = headers
    if c.status == 101:
        assert headers.get("sec-websocket-accept") == [accept_for(key)], headers
    return c.status


def case_not_get(c):
    status = send_request(c, method="POST")
    body, how = read_until_eof(c.sock, c.buf)
    c.sock.close()
    return {"status_received": status, "allow": c.headers.get("allow", []),
            "tcp_end_seen_by_client": how, "body": body.decode(errors="replace")}


def case_host_missing(c):
    status = send_request(c, host=False)
    assert status == 101, status
    c.send(frame(OP_TEXT, "no host header"))
    c.recv_frames(1)
    c.send(frame(OP_CLOSE, close_payload(1000)))
    log = c.finish(close_sent=True)
    log["status_received"] = status
    return log


def case_frame_incomplete(c):
    status = send_request(c)
    assert status == 101, status
    # Header: binary, FIN, masked, 16-bit length 1000; then only 10 payload bytes.
    c.send(frame(OP_BIN, b"0123456789", length=1000, form=16))
    time.sleep(0.2)
    c.sock.shutdown(socket.SHUT_WR)  # FIN in the middle of the frame
    data, how = read_until_eof(c.sock, c.buf)
    c.sock.close()
    return {"status_received": status, "payload_bytes_sent": 10, "declared_length": 1000,
            "bytes_from_server_after_fin": len(data), "tcp_end_seen_by_client": how}


RAW_CLIENT_CASES = [
    ("handshake-not-get", ["handshake-not-get", "handshake-rejected"], case_not_get,
     "upgrade request `POST /violations HTTP/1.1` with Host, Upgrade, Connection, a valid "
     "Sec-WebSocket-Key and Sec-WebSocket-Version: 13"),
    ("handshake-host-missing", ["handshake-host-missing"], case_host_missing,
     "GET upgrade request without a Host header (otherwise valid); then text `no host header`, "
     "close 1000"),
    ("frame-incomplete", ["frame-incomplete"], case_frame_incomplete,
     "valid handshake; then a masked binary frame header declaring 1000 payload bytes "
     "(16-bit form), 10 payload bytes, and FIN"),
]


def raw_client(name, rules, run, sent):
    c = RawClient(HOST, WS_PORT)
    log = run(c)
    return {"name": name, "client": c.client, "server": c.server, "sent": sent,
            "dir": "c2s", "rules": rules, "allowed_extra": [], "client_log": log}


# --------------------------------------------------------------------------- raw server cases

def answer(make):
    """Read the upgrade request, send `make(key)` (None: nothing), then either wait for the
    client to drop TCP or (make is None) close at once."""
    def behave(conn):
        head, rest = read_head(conn)
        _, headers = parse_head(head)
        key = headers.get("sec-websocket-key", [""])[0]
        if make is None:
            conn.shutdown(socket.SHUT_WR)  # FIN, no response
            data, how = read_until_eof(conn, rest)
            return {"response_bytes": 0, "bytes_after_request": len(data),
                    "client_ended_with": how}
        resp = make(key)
        conn.sendall(resp)
        data, how = read_until_eof(conn, rest)
        return {"response": resp.decode("latin-1"), "bytes_after_response": len(data),
                "client_ended_with": how}
    return behave


def crlf(*lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


RAW_SERVER_CASES = [
    ("handshake-upgrade-headers", ["handshake-upgrade-headers"],
     answer(lambda key: crlf("HTTP/1.1 101 Switching Protocols", "Connection: Upgrade",
                             f"Sec-WebSocket-Accept: {accept_for(key)}")),
     "101 with Connection: Upgrade and a correct Sec-WebSocket-Accept, but no Upgrade header"),
    ("handshake-malformed-status", ["handshake-malformed"],
     answer(lambda key: crlf("HTTP/1.1 1O1 Switching Protocols", "Upgrade: websocket",
                             "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept_for(key)}")),
     "status line `HTTP/1.1 1O1 Switching Protocols` (letter O in the code), otherwise a valid "
     "101 head"),
    ("handshake-malformed-garbage", ["handshake-malformed"],
     answer(lambda key: b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
     "a non-HTTP answer: `SSH-2.0-OpenSSH_9.6` CRLF CRLF"),
    ("handshake-no-response", ["handshake-no-response"], answer(None),
     "the raw server reads the whole request and closes (FIN) without any response"),
]


async def ws_client():
    sock = await connected_socket(HOST, RAW_PORT)
    me = fmt_addr(sock.getsockname())
    try:
        async with connect(f"ws://{HOST}:{RAW_PORT}/", sock=sock, proxy=None, compression=None,
                           ping_interval=None, open_timeout=5, close_timeout=3):
            raise AssertionError("handshake unexpectedly succeeded")
    except AssertionError:
        raise
    except Exception as exc:  # the library's own verdict on the bad response
        return me, client_reaction(exc, BY)


async def main():
    slog = ServerLog(f"websockets {websockets.__version__} server")
    out = []
    async with serve(slog.handler(), HOST, WS_PORT, compression=None, ping_interval=None,
                     close_timeout=3, process_response=slog.process_response()):
        for case in RAW_CLIENT_CASES:
            out.append(await asyncio.to_thread(raw_client, *case))
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.5)
    for c in out:
        c["reaction"] = slog.by_client.get(c["client"], {})
    srv = RawServer(HOST, RAW_PORT)
    try:
        for name, rules, behave, sent in RAW_SERVER_CASES:
            served = asyncio.create_task(asyncio.to_thread(srv.serve_one, behave))
            me, reaction = await ws_client()
            peer, rlog = await served
            assert peer == me, (peer, me)
            out.append({"name": name, "client": me, "server": srv.addr, "sent": sent,
                        "dir": "s2c", "rules": rules, "allowed_extra": [],
                        "raw_server_log": rlog, "reaction": reaction})
            await asyncio.sleep(0.1)
    finally:
        srv.close()
    return out


if __name__ == "__main__":
    with Capture(os.path.join("violations", NAME + ".pcap"), ["-i", "lo"],
                 f"tcp port {WS_PORT} or tcp port {RAW_PORT}", extra=["--immediate-mode"]):
        conns = asyncio.run(asyncio.wait_for(main(), 60))
        time.sleep(1)
    write_expected(NAME, "more opening-handshake violations (POST, no Host, 101 without Upgrade, "
                   "malformed / garbage / no response) and a frame cut off by FIN",
                   {"websockets": websockets.__version__, "raw": "Python socket"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["reaction"])
