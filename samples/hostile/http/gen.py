#!/usr/bin/env python3
"""Regenerate the HTTP tricks of samples/hostile/http/ (root: tcpdump on lo).

Each capture is one TCP connection over 127.0.0.1, between a real peer and a raw socket that
plays the other side byte by byte:

  leading-crlf      raw client -> Node http + ws   an empty line (its own segment) before the GET
  double-space      raw client -> Node http + ws   `GET  /echo  HTTP/1.1`
  many-headers      raw client -> Node http + ws   300 header lines in the upgrade request
  keep-alive        raw client -> Node http + ws   GET /plain (200, Content-Length), POST
                                                   /chunked with a body (200, chunked), then
                                                   the upgrade, on one connection
  retry-401         raw client -> Node http + ws   upgrade without Authorization -> 401 (keep-
                                                   alive), then the same upgrade with it -> 101
  target-control    raw client -> websockets 17    `GET /echo\\x01\\x7f HTTP/1.1`
  continue-100      Node ws client -> raw server   `100 Continue`, then `101`
  no-upgrade-header raw client -> raw server       a 101 to a GET without Upgrade/Connection

The truth is each real peer's own log (Node's parser and ws; websockets' parser), written with
the raw side's log into NAME.expected.json. Messages are listed as the sender logged them.
lost-request.pcap and lost-101.pcap are made by edit.sh from samples/py-echo.pcap.

    sudo target/py-venv/bin/python samples/hostile/http/gen.py [NAME...]
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SAMPLES, "violations"))

from vlib import (Capture, OP_BIN, OP_CLOSE, OP_TEXT, accept_for, close_payload,  # noqa: E402
                  frame, new_key, parse_frames)

HOST = "127.0.0.1"
NODE_PORT, PY_PORT, RAW_PORT = 18611, 18612, 18613
VENV_PY = os.path.join(os.path.dirname(SAMPLES), "target", "py-venv", "bin", "python")


def sha256(b):
    return hashlib.sha256(b).hexdigest()


class Peer:
    """A real peer run as a child process that logs JSON lines on stdout."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, cwd=HERE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        first = json.loads(self.proc.stdout.readline())
        assert first["event"] == "listening", first
        self.log = []

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=5)
        self.log = [json.loads(line) for line in out.splitlines() if line.strip()]
        self.log = [e for e in self.log if e["event"] != "exit"]
        return self.log


class RawClient:
    """A blocking socket that sends what it is told and logs what it sent and read."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addr = "%s:%d" % self.sock.getsockname()[:2]
        self.buf = b""
        self.messages = []
        self.log = []

    def send(self, data, note=None):
        self.sock.sendall(data)
        if note:
            self.log.append({"sent": note})
        time.sleep(0.05)  # one segment per send

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF")
        self.buf += chunk

    def response(self):
        """Read one HTTP response (head and body) -> (status, head)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head = head.decode("latin-1")
        status = int(head.split(" ", 2)[1])
        lower = head.lower()
        if "transfer-encoding: chunked" in lower:
            while b"0\r\n\r\n" not in self.buf:
                self._fill()
            body, self.buf = self.buf.split(b"0\r\n\r\n", 1)
        else:
            n = 0
            for line in lower.split("\r\n"):
                if line.startswith("content-length:"):
                    n = int(line.split(":")[1])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        self.log.append({"response": status, "body_len": len(body)})
        return status, head

    def upgraded(self, key):
        status, head = self.response()
        assert status == 101, head
        assert accept_for(key) in head, head

    def ws_message(self, opcode, payload):
        self.messages.append({"dir": "c2s", "opcode": opcode, "len": len(payload),
                              "sha256": sha256(payload)})
        self.send(frame(opcode, payload, mask=True))

    def ws_read(self, count):
        """Read `count` frames from the server, logging data messages."""
        got = []
        while len(got) < count:
            frames, self.buf = parse_frames(self.buf)
            got.extend(frames)
            if len(got) < count:
                self._fill()
        for f in got:
            if f["opcode"] in (OP_TEXT, OP_BIN):
                self.messages.append({"dir": "s2c", "opcode": f["opcode"], "len": f["len"],
                                      "sha256": sha256(f["payload"])})
            elif f["opcode"] == OP_CLOSE:
                self.log.append({"close_received": f["code"], "reason": f["reason"]})
        return got

    def echo_session(self, words):
        """A text and a binary message, each echoed, then a close handshake."""
        self.ws_message(OP_TEXT, f"hello {words}".encode())
        self.ws_message(OP_BIN, bytes(range(256)) + bytes(44))
        self.ws_read(2)
        self.send(frame(OP_CLOSE, close_payload(1000, "done"), mask=True), "close 1000")
        self.ws_read(1)
        self.sock.close()

    def address(self):
        return self.addr


def upgrade_request(path="/echo", line=None, extra=(), prefix=b"", key=None):
    key = key or new_key()
    line = line or f"GET {path} HTTP/1.1".encode()
    fields = [f"Host: {HOST}", "Upgrade: websocket", "Connection: Upgrade",
              f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *extra]
    head = line + b"\r\n" + "\r\n".join(fields).encode() + b"\r\n\r\n"
    return prefix + head, key


def write_expected(name, trick, client, peer_log, peer):
    out = {
        "capture": f"{name}.pcap",
        "generator": "gen.py",
        "trick": trick,
        "client": client.address() if isinstance(client, RawClient) else client,
        "real_peer": peer,
        "real_peer_log": peer_log,
        "raw_side_log": client.log if isinstance(client, RawClient) else [],
        "messages": client.messages if isinstance(client, RawClient) else [],
    }
    with open(os.path.join(HERE, f"{name}.expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def node_scenario(name, trick, drive, env=None):
    """Run `drive(client)` against Node's server under tcpdump."""
    with Capture(f"hostile/http/{name}.pcap", ["-i", "lo"], f"tcp port {NODE_PORT}"):
        node = Peer(["node", "server.js", str(NODE_PORT)], env)
        client = RawClient(NODE_PORT)
        try:
            drive(client)
        finally:
            log = node.stop()
    write_expected(name, trick, client, log, "Node " + subprocess.check_output(
        ["node", "--version"], text=True).strip() + " http + ws 8.23.0")
    return log


UPGRADE_NOW = {"UPGRADE_FROM_START": "1"}


def leading_crlf(c):
    c.send(b"\r\n", "an empty line alone")
    req, key = upgrade_request()
    c.send(req, "the upgrade request")
    c.upgraded(key)
    c.echo_session("after a leading CRLF")


def double_space(c):
    req, key = upgrade_request(line=b"GET  /echo  HTTP/1.1")
    c.send(req, "GET  /echo  HTTP/1.1 (two spaces twice)")
    c.upgraded(key)
    c.echo_session("after double spaces")


def many_headers(c):
    filler = [f"X-Filler-{i:03}: {'v' * 20}" for i in range(300)]
    req, key = upgrade_request(extra=filler)
    c.send(req, "an upgrade request with 305 header lines")
    c.upgraded(key)
    c.echo_session("after 305 headers")


def keep_alive(c):
    c.send(f"GET /plain HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), "GET /plain")
    c.response()
    body = b"name=value&x=1"
    c.send(f"POST /chunked HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: "
           f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode()
           + body, "POST /chunked with a 14-byte body")
    c.response()
    req, key = upgrade_request()
    c.send(req, "the upgrade request")
    c.upgraded(key)
    c.echo_session("after two keep-alive exchanges")


def retry_401(c):
    req, _ = upgrade_request()
    c.send(req, "the upgrade request without Authorization")
    status, _ = c.response()
    assert status == 401
    req, key = upgrade_request(extra=["Authorization: Bearer letmein"])
    c.send(req, "the same upgrade with Authorization")
    c.upgraded(key)
    c.echo_session("after a 401 and a retry")


def target_control():
    name = "target-control"
    with Capture(f"hostile/http/{name}.pcap", ["-i", "lo"], f"tcp port {PY_PORT}"):
        server = Peer([VENV_PY, "wsserver.py", str(PY_PORT)])
        c = RawClient(PY_PORT)
        try:
            req, key = upgrade_request(line=b"GET /echo\x01\x7f HTTP/1.1")
            c.send(req, "GET /echo\\x01\\x7f HTTP/1.1")
            c.upgraded(key)
            c.echo_session("after control bytes in the target")
        finally:
            log = server.stop()
    import websockets
    write_expected(name, "control bytes 0x01 and 0x7f in the request target", c, log,
                   f"Python websockets {websockets.version.version}")


def raw_server_scenario(name, trick, serve, client_argv=None, drive=None):
    """A raw server on RAW_PORT doing `serve(conn, log)`; the client is a real Node client
    (client_argv) or a raw one (drive)."""
    lsock = socket.create_server((HOST, RAW_PORT))
    log = []
    with Capture(f"hostile/http/{name}.pcap", ["-i", "lo"], f"tcp port {RAW_PORT}"):
        if client_argv:
            proc = subprocess.Popen(client_argv, cwd=HERE, stdout=subprocess.PIPE, text=True)
        else:
            client = RawClient(RAW_PORT)
        conn, _ = lsock.accept()
        conn.settimeout(5)
        if not client_argv:
            # The raw client runs here, the raw server beside it.
            server = threading.Thread(target=serve, args=(conn, log))
            server.start()
            drive(client)
            server.join()
            peer_log = []
        else:
            serve(conn, log)
        if client_argv:
            time.sleep(0.2)
            conn.close()  # the ws client waits for the server to end TCP after the close
            out, _ = proc.communicate(timeout=10)
            peer_log = [json.loads(line) for line in out.splitlines() if line.strip()]
        time.sleep(0.3)
        conn.close()
    lsock.close()
    return log, peer_log, (None if client_argv else client)


def read_request(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65536)
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return head


def continue_100():
    name = "continue-100"
    messages = []

    def serve(conn, log):
        head = read_request(conn)
        key = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
               if line.lower().startswith("sec-websocket-key:")][0]
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        log.append({"sent": "100 Continue"})
        time.sleep(0.05)
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_for(key)}\r\n\r\n")
                     .encode())
        log.append({"sent": "101"})
        buf = b""
        frames = []
        while not any(f["opcode"] == OP_CLOSE for f in frames):
            buf += conn.recv(65536)
            got, buf = parse_frames(buf)
            frames += got
            for f in got:
                if f["opcode"] != OP_TEXT:
                    continue
                messages.append({"dir": "c2s", "opcode": 1, "len": f["len"],
                                 "sha256": sha256(f["payload"])})
                reply = b"echo: " + f["payload"]
                conn.sendall(frame(OP_TEXT, reply, mask=False))
                messages.append({"dir": "s2c", "opcode": 1, "len": len(reply),
                                 "sha256": sha256(reply)})
                log.append({"received": "text", "len": f["len"]})
        close = [f for f in frames if f["opcode"] == OP_CLOSE][0]
        log.append({"close_received": close["code"], "reason": close["reason"]})
        conn.sendall(frame(OP_CLOSE, close_payload(1000, "done"), mask=False))

    log, peer_log, _ = raw_server_scenario(
        name, "100 Continue before the 101", serve,
        client_argv=["node", "client100.js", str(RAW_PORT)])
    assert any(e["event"] == "open" for e in peer_log), peer_log
    client = next(e["client"] for e in peer_log if e["event"] == "open")
    out = {"capture": f"{name}.pcap", "generator": "gen.py",
           "trick": "an interim 100 Continue before the 101", "client": client,
           "real_peer": "Node " + subprocess.check_output(["node", "--version"], text=True)
           .strip() + " ws 8.23.0 client",
           "real_peer_log": peer_log, "raw_side_log": log, "messages": messages}
    with open(os.path.join(HERE, f"{name}.expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def no_upgrade_header():
    name = "no-upgrade-header"

    def serve(conn, log):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n")
        log.append({"sent": "101 without Sec-WebSocket-Accept (there was no key)"})
        buf = b""
        frames = []
        while not any(f["opcode"] == OP_CLOSE for f in frames):
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
            got, buf = parse_frames(buf)
            frames += got
            for f in got:
                if f["opcode"] in (OP_TEXT, OP_BIN):
                    conn.sendall(frame(f["opcode"], f["payload"], mask=False))
                    log.append({"echoed": f["opcode"], "len": f["len"]})
        conn.sendall(frame(OP_CLOSE, close_payload(1000, "done"), mask=False))
        log.append({"sent": "close 1000"})

    def drive(c):
        c.send(f"GET /plain-101 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(),
               "GET /plain-101 with no upgrade header")
        status, _ = c.response()
        assert status == 101
        c.echo_session("after a 101 to a plain GET")

    log, _, client = raw_server_scenario(name, "", serve, drive=drive)
    write_expected(name, "a 101 answers a GET that has no Upgrade or Connection header",
                   client, log, "none: both sides are raw sockets (a crafted case)")


SCENARIOS = {
    "leading-crlf": lambda: node_scenario(
        "leading-crlf", "an empty line (CRLF, its own segment) before the request line",
        leading_crlf, UPGRADE_NOW),
    "double-space": lambda: node_scenario(
        "double-space", "two spaces between the parts of the request line", double_space,
        UPGRADE_NOW),
    "many-headers": lambda: node_scenario(
        "many-headers", "305 header lines in the upgrade request", many_headers, UPGRADE_NOW),
    "keep-alive": lambda: node_scenario(
        "keep-alive", "two plain exchanges (Content-Length, chunked) before the upgrade",
        keep_alive, UPGRADE_NOW),
    "retry-401": lambda: node_scenario(
        "retry-401", "a 401 to the upgrade, then a retry with Authorization on the same "
        "connection", retry_401),
    "target-control": target_control,
    "continue-100": continue_100,
    "no-upgrade-header": no_upgrade_header,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or SCENARIOS:
        SCENARIOS[name]()
        print(f"{name}: ok")
