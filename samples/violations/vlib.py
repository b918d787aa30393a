"""Helpers shared by the violations/*.gen.py generators.

  * raw frame building / parsing (any bits, any length form, masked or not)
  * a raw WebSocket client (blocking socket) that does a real RFC 6455 handshake against a
    real server, sends hand-made frames and logs what the server answered
  * a raw WebSocket server (blocking socket, one connection at a time) that answers a real
    client library with hand-made handshake responses and frames
  * a log of the websockets server's own view of each connection (close frame it sent,
    the exception its parser raised, the handshake status it answered)
  * the expected.json writer

The capture wrapper (tcpdump) comes from ../lib/pyws.py.
"""

import base64
import hashlib
import json
import os
import random
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from pyws import Capture, fmt_addr  # noqa: E402,F401  (re-exported)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

_rng = random.Random(6455)  # deterministic mask keys and handshake keys


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def new_key():
    return base64.b64encode(_rng.randbytes(16)).decode()


# --------------------------------------------------------------------------- frames

def frame(opcode, payload=b"", fin=True, rsv1=False, rsv2=False, rsv3=False, mask=True,
          form=None, length=None):
    """One frame, exactly as asked.

    form: 7, 16 or 64 (default: the minimal one); length: the declared length (default:
    len(payload)), so a header can lie about the payload."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) \
        | (0x10 if rsv3 else 0) | opcode
    m = 0x80 if mask else 0
    if form == 7:
        hdr = bytes([b0, m | n])
    elif form == 16:
        hdr = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not mask:
        return hdr + payload
    key = _rng.randbytes(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def parse_frames(buf):
    """Complete frames at the start of buf -> ([frame dict], rest). Unmasks."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, pos = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, pos = struct.unpack("!Q", buf[2:10])[0], 10
        key = None
        if b1 & 0x80:
            if len(buf) < pos + 4:
                break
            key, pos = buf[pos:pos + 4], pos + 4
        if len(buf) < pos + n:
            break
        payload = buf[pos:pos + n]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        f = {"fin": bool(b0 & 0x80), "rsv1": bool(b0 & 0x40), "opcode": b0 & 0x0F,
             "masked": bool(key), "len": n, "payload": payload}
        if f["opcode"] == OP_CLOSE:
            f["code"] = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            f["reason"] = payload[2:].decode(errors="replace")
        out.append(f)
        buf = buf[pos + n:]
    return out, buf


def describe(f):
    """A frame dict, for the logs (no payload bytes)."""
    d = {"opcode": f["opcode"], "fin": f["fin"], "len": f["len"]}
    if f["rsv1"]:
        d["rsv1"] = True
    if f["masked"]:
        d["masked"] = True
    if f["opcode"] == OP_CLOSE:
        d["code"], d["reason"] = f["code"], f["reason"]
    return d


# --------------------------------------------------------------------------- HTTP

def read_head(sock, buf=b"", timeout=5):
    """Read up to the end of an HTTP head -> (head str, leftover bytes)."""
    sock.settimeout(timeout)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"EOF inside HTTP head: {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def parse_head(head):
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], headers


def read_until_eof(sock, buf=b"", timeout=3):
    """Read until the peer closes (or timeout / reset) -> (bytes, how it ended)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return buf, "timeout"
        except ConnectionResetError:
            return buf, "rst"
        if not chunk:
            return buf, "fin"
        buf += chunk
    return buf, "timeout"


# --------------------------------------------------------------------------- raw client

class RawClient:
    """A hand-driven WebSocket client on a blocking socket."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.client = fmt_addr(self.sock.getsockname())
        self.server = fmt_addr((host, port))
        self.buf = b""
        self.received = []  # frames from the server, described
        self.closed_by_server = None

    def handshake(self, key=None, version="13", extensions=None, protocols=None):
        key = key or new_key()
        req = [f"GET /violations HTTP/1.1", f"Host: {self.server}", "Upgrade: websocket",
               "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
               f"Sec-WebSocket-Version: {version}"]
        if extensions:
            req.append(f"Sec-WebSocket-Extensions: {extensions}")
        if protocols:
            req.append(f"Sec-WebSocket-Protocol: {protocols}")
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        head, self.buf = read_head(self.sock)
        status_line, headers = parse_head(head)
        self.status = int(status_line.split(" ", 2)[1])
        self.headers = headers
        return self.status

    def send(self, data):
        self.sock.sendall(data)

    def finish(self, close_sent, echo_close=True, timeout=3, eof_timeout=3):
        """Read server frames until its close frame (echoing it unless we already sent one),
        then wait for the server to drop TCP. Returns a log dict."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        server_close = None
        while time.monotonic() < deadline and server_close is None:
            frames, self.buf = parse_frames(self.buf)
            for f in frames:
                self.received.append(describe(f))
                if f["opcode"] == OP_CLOSE and server_close is None:
                    server_close = f
            if server_close is not None:
                break
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            self.buf += chunk
        echoed = None
        if server_close is not None and not close_sent and echo_close:
            p = server_close["payload"][:2]
            self.send(frame(OP_CLOSE, p))
            echoed = server_close["code"]
        _, how = read_until_eof(self.sock, b"", eof_timeout)
        self.sock.close()
        return {"frames_from_server": self.received, "client_echoed_close": echoed,
                "tcp_end_seen_by_client": how}

    def recv_frames(self, count, timeout=3):
        """Read `count` frames from the server (e.g. an echo) into self.received."""
        self.sock.settimeout(timeout)
        got = []
        while len(got) < count:
            frames, self.buf = parse_frames(self.buf)
            for f in frames:
                self.received.append(describe(f))
                got.append(f)
            if len(got) >= count:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        return got


# --------------------------------------------------------------------------- websockets server log

class ServerLog:
    """What a `websockets` server did with each connection, from its own state."""

    def __init__(self, name):
        self.name = name
        self.by_client = {}

    def entry(self, client):
        return self.by_client.setdefault(client, {"by": self.name})

    def handler(self):
        from websockets.exceptions import ConnectionClosed

        async def handler(ws):
            e = self.entry(fmt_addr(ws.remote_address))
            e["handshake_status"] = 101
            msgs = []
            try:
                async for m in ws:
                    msgs.append({"opcode": 1 if isinstance(m, str) else 2, "len": len(m)})
                    await ws.send(m)  # echo
            except ConnectionClosed:
                pass
            await ws.wait_closed()
            self.record_close(e, ws)
            if msgs:
                e["echoed_messages"] = msgs
        return handler

    @staticmethod
    def record_close(e, ws):
        p = ws.protocol
        if p.close_sent is not None:
            code = int(p.close_sent.code)
            e["close_sent"] = {"code": None if code == 1005 else code, "reason": p.close_sent.reason}
        if p.close_rcvd is not None:
            code = int(p.close_rcvd.code)
            e["close_received"] = {"code": None if code == 1005 else code,
                                   "reason": p.close_rcvd.reason}
        if p.parser_exc is not None:
            e["error"] = f"{type(p.parser_exc).__name__}: {p.parser_exc}"

    def process_response(self):
        def process_response(connection, request, response):
            e = self.entry(fmt_addr(connection.remote_address))
            e["handshake_status"] = response.status_code
            exc = connection.protocol.handshake_exc
            if exc is not None:
                e["error"] = f"{type(exc).__name__}: {exc}"
                if exc.__cause__ is not None:
                    e["error"] += f" ({type(exc.__cause__).__name__}: {exc.__cause__})"
            return None
        return process_response


# --------------------------------------------------------------------------- raw server

def raw_server_handshake(conn, respond):
    """Read the client's upgrade request; `respond(key, headers) -> bytes` makes the answer."""
    head, rest = read_head(conn)
    _, headers = parse_head(head)
    key = headers.get("sec-websocket-key", [""])[0]
    conn.sendall(respond(key, headers))
    return headers, rest


def response_101(key, accept=None, extra=()):
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    if accept is not False:
        lines.append(f"Sec-WebSocket-Accept: {accept or accept_for(key)}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_server_finish(conn, buf, timeout=3):
    """Read client frames until its close frame, echo that close (unmasked), close TCP."""
    conn.settimeout(timeout)
    deadline = time.monotonic() + timeout
    seen = []
    close = None
    while time.monotonic() < deadline and close is None:
        frames, buf = parse_frames(buf)
        for f in frames:
            seen.append(describe(f))
            if f["opcode"] == OP_CLOSE:
                close = f
                break
        if close is not None:
            break
        try:
            chunk = conn.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        buf += chunk
    if close is not None:
        conn.sendall(frame(OP_CLOSE, close["payload"][:2], mask=False))
    time.sleep(0.05)
    conn.close()
    return seen


# --------------------------------------------------------------------------- expected.json

def write_expected(name, description, tools, conns):
    doc = {"capture": name + ".pcap", "generator": name + ".gen.py", "description": description,
           "tools": tools,
           "format": ("connections[] in order of first packet: name, client, server, sent (what "
                      "the hand-made side sent), dir (direction of the violating bytes), rules (must fire on this connection), "
                      "allowed_extra ({rule, reason}: error rules that may also fire because the "
                      "violation implies them), reaction (what the real library did, from its "
                      "own state/log)"),
           "connections": conns}
    path = os.path.join(HERE, name + ".expected.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


class RawServer:
    """A listening socket; `serve_one(behave)` accepts one connection and runs
    `behave(conn) -> log dict` on it (call it via asyncio.to_thread)."""

    def __init__(self, host, port):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(4)
        self.lsock.settimeout(10)
        self.addr = fmt_addr((host, port))

    def serve_one(self, behave):
        conn, peer = self.lsock.accept()
        try:
            log = behave(conn)
        finally:
            conn.close()
        return fmt_addr(peer), log

    def close(self):
        self.lsock.close()


def client_reaction(ws_or_exc, by):
    """What a websockets client did: the exception it raised and/or the close it sent."""
    e = {"by": by}
    if isinstance(ws_or_exc, BaseException):
        exc = ws_or_exc
        e["error"] = f"{type(exc).__name__}: {exc}"
        if exc.__cause__ is not None:
            e["error"] += f" ({type(exc.__cause__).__name__}: {exc.__cause__})"
        return e
    ServerLog.record_close(e, ws_or_exc)
    return e
