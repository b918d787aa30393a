"""Shared helpers for the py-* capture generators.

Everything here is deliberately small:
  * Capture     - run tcpdump around an exchange (start, wait until listening, stop with SIGINT)
  * Expected    - the senders' own log of what went over each WebSocket connection,
                  written out as NAME.expected.json
  * payload helpers (exact-size UTF-8 text, seeded random binary)
  * socket helpers (pre-connected client sockets, so the client knows its
    ephemeral port even when the handshake is rejected)
"""

import asyncio
import hashlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time

SAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------- capture

class Capture:
    """`with Capture("py-x.pcap", ["-i", "lo"], "tcp port 8765"):` runs tcpdump.

    -s 0 (full packets), -U (packet-buffered output), a big kernel buffer (-B)
    so bursts of 64 KiB loopback segments are not dropped, -Z root so the
    file stays owned by root instead of the tcpdump user.  On exit we wait a
    little so the last packets (FIN/ACK) are in, then SIGINT tcpdump and check
    that it reports no kernel drops.
    """

    def __init__(self, pcap, iface_args, bpf, extra=(), netns=None, ready_timeout=10):
        self.pcap = os.path.join(SAMPLES, pcap)
        cmd = ["tcpdump", "-n", "-Z", "root", "-s", "0", "-U", "-B", "16384", *iface_args, *extra,
               "-w", self.pcap, bpf]
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        self.cmd = cmd
        self.ready_timeout = ready_timeout
        self.stderr = b""

    def __enter__(self):
        if os.path.exists(self.pcap):
            os.unlink(self.pcap)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait for "listening on ..." so no packet of the exchange is missed.
        deadline = time.monotonic() + self.ready_timeout
        buf = b""
        while b"listening on" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError(f"tcpdump did not start: {self.cmd} {buf!r}")
            r, _, _ = select.select([self.proc.stderr], [], [], left)
            if r:
                buf += os.read(self.proc.stderr.fileno(), 4096)
        self.stderr = buf
        time.sleep(0.3)  # libpcap is ready once it printed; a short grace period anyway
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.stderr += err
        text = self.stderr.decode(errors="replace")
        sys.stderr.write(text)
        for line in text.splitlines():
            if "dropped by kernel" in line and not line.startswith("0 "):
                raise RuntimeError(f"tcpdump dropped packets: {line}")
        return False


# --------------------------------------------------------------------------- expected log

def fmt_addr(sockaddr):
    """('127.0.0.1', 5) -> '127.0.0.1:5';  ('::1', 5, 0, 0) -> '[::1]:5'."""
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Conn:
    """One WebSocket connection as seen by the two pieces of code that used it."""

    def __init__(self, client, server):
        self.d = {"client": client, "server": server, "status": None, "subprotocol": None,
                  "extensions": [], "messages": [], "closes": [], "pings": []}

    def message(self, direction, data, compressed=None):
        """Log a text (str) or binary (bytes) message just before it is sent."""
        if isinstance(data, str):
            opcode, payload = 1, data.encode("utf-8")
        else:
            opcode, payload = 2, bytes(data)
        m = {"dir": direction, "opcode": opcode, "len": len(payload), "sha256": sha256(payload)}
        if compressed is not None:
            m["compressed"] = compressed
        self.d["messages"].append(m)

    def close(self, direction, code, reason):
        """code None = close frame without payload."""
        self.d["closes"].append({"dir": direction, "code": code, "reason": reason})

    def ping(self, direction, payload):
        self.d["pings"].append({"dir": direction, "len": len(payload)})

    def handshake(self, status, subprotocol=None, extensions=()):
        self.d["status"] = status
        self.d["subprotocol"] = subprotocol
        self.d["extensions"] = list(extensions)


class Expected:
    """Connections keyed by the client's address, so server code can find the
    record the client code opened (both run in the same process)."""

    def __init__(self):
        self.conns = []
        self.by_client = {}

    def open(self, client, server):
        c = Conn(client, server)
        self.conns.append(c)
        self.by_client[client] = c
        return c

    def __getitem__(self, client):
        return self.by_client[client]

    def write(self, name, capture, generator, description, extra=None):
        doc = {"capture": capture, "generator": generator, "description": description}
        if extra:
            doc.update(extra)
        doc["connections"] = [c.d for c in self.conns]
        path = os.path.join(SAMPLES, name + ".expected.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        return path


def ws_close_sent(conn, direction, record):
    """Log the close frame a `websockets` connection says it sent.

    protocol.close_sent is the library's own record of the frame it wrote.
    websockets represents an empty close payload as code 1005 (never valid on
    the wire), which we map to code null.
    """
    cs = conn.protocol.close_sent
    if cs is None:
        return
    code = None if cs.code == 1005 else int(cs.code)
    record.close(direction, code, cs.reason)
    # Both sides log after the closing handshake; put the initiator's frame first.
    if not conn.protocol.close_rcvd_then_sent:
        closes = record.d["closes"]
        closes.insert(0, closes.pop())


def ws_extensions(response):
    """Sec-WebSocket-Extensions values of a websockets handshake Response."""
    return response.headers.get_all("Sec-WebSocket-Extensions")


# --------------------------------------------------------------------------- payloads

TEXT_UNIT = "héllo ☃ 🎉 "  # 1-, 2-, 3- and 4-byte UTF-8 sequences


def text_payload(n, unit=TEXT_UNIT):
    """A str whose UTF-8 encoding is exactly n bytes.

    Repeats `unit`, cut at a character boundary, then pads with ASCII '.'."""
    out, size = [], 0
    reps = unit * (n // max(1, len(unit.encode())) + 2)
    for ch in reps:
        b = len(ch.encode())
        if size + b > n:
            break
        out.append(ch)
        size += b
    s = "".join(out) + "." * (n - size)
    assert len(s.encode("utf-8")) == n
    return s


def binary_payload(n, rng):
    return rng.randbytes(n)


def seeded(seed):
    return random.Random(seed)


# --------------------------------------------------------------------------- sockets

async def connected_socket(host, port, family=socket.AF_INET):
    """A connected non-blocking TCP socket (handed to the WS library via sock=).

    Connecting ourselves means we know the ephemeral port before the
    WebSocket handshake, so even rejected handshakes get a client address."""
    loop = asyncio.get_running_loop()
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    await asyncio.wait_for(loop.sock_connect(s, (host, port)), 5)
    return s


# --------------------------------------------------------------------------- small exchanges

def ws_echo_handler(exp, reply=lambda m: m):
    """websockets server handler: answer every message with reply(msg), log it."""
    from websockets.exceptions import ConnectionClosed

    async def handler(ws):
        rec = exp[fmt_addr(ws.remote_address)]
        try:  # iteration raises ConnectionClosedError for codes other than 1000/1001
            async for msg in ws:
                out = reply(msg)
                rec.message("s2c", out)
                await ws.send(out)
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        ws_close_sent(ws, "s2c", rec)
    return handler


async def ws_client_run(exp, host, port, messages, path="/", family=socket.AF_INET,
                        close=(1000, ""), connect_kwargs=None, pause=0.0):
    """Connect with websockets, send each message and await one reply to it
    (then sleep `pause` s), then close with `close` (unless the server closes first)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    sock = await connected_socket(host, port, family)
    srv = fmt_addr((host, port))
    rec = exp.open(fmt_addr(sock.getsockname()), srv)
    uri = f"ws://{srv}{path}"
    kw = dict(compression=None, ping_interval=None, proxy=None, open_timeout=5, close_timeout=5)
    kw.update(connect_kwargs or {})
    async with connect(uri, sock=sock, **kw) as ws:
        rec.handshake(ws.response.status_code, ws.subprotocol, ws_extensions(ws.response))
        try:
            for m in messages:
                rec.message("c2s", m)
                await ws.send(m)
                await asyncio.wait_for(ws.recv(), 10)
                await asyncio.sleep(pause)
            await ws.close(*close)
        except ConnectionClosed:
            pass  # server-initiated close; websockets echoed it already
        await ws.wait_closed()
        ws_close_sent(ws, "c2s", rec)
    return rec


def small_exchange(name, iface_args, port, messages, reply, description,
                   host="127.0.0.1", extra_tcpdump=(), close=(1000, "")):
    """One websockets connection, capture, expected.json.  Used by the small
    link-type / timestamp-format samples."""
    from websockets.asyncio.server import serve
    exp = Expected()

    async def main():
        async with serve(ws_echo_handler(exp, reply), host, port,
                         compression=None, ping_interval=None):
            await ws_client_run(exp, host, port, messages, close=close)
            await asyncio.sleep(0.2)

    with Capture(name + ".pcap", iface_args, f"tcp port {port}", extra=extra_tcpdump):
        asyncio.run(asyncio.wait_for(main(), 30))
    exp.write(name, name + ".pcap", name + ".gen.py", description)
    check(name)
    return exp


def check(name):
    """Run the tshark cross-check (informational)."""
    subprocess.run([sys.executable, os.path.join(SAMPLES, "lib", "check.py"),
                    os.path.join(SAMPLES, name + ".expected.json")], timeout=300)
