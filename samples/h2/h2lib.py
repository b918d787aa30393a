"""Shared helpers for the samples/h2 generators (WebSocket over HTTP/2, RFC 8441).

  * port_free / Capture          - refuse busy ports; tcpdump around the exchange (../lib/pyws.py)
  * Hypercorn                    - hypercorn (ASGI) in a thread, with its sends logged:
                                   every WebSocket frame hypercorn's WSStream hands to wsproto
                                   (messages, pings, pongs, closes, per TCP connection and stream)
                                   and every END_STREAM / RST_STREAM / GOAWAY its h2 connection sends
  * H2WSClient                   - a synchronous RFC 8441 client built from the `h2` and `wsproto`
                                   libraries on a socket we connect ourselves; it logs what it sends
  * tshark_h2 / check_capture    - HTTP/2-level checks of the capture (tshark 4.0 does not decode
                                   WebSocket inside HTTP/2, so only HEADERS/flags are compared)

The truth (NAME.expected.json) is built from the two logs (client code + hypercorn's own sends),
never from the capture.
"""
import asyncio
import base64
import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from pyws import Capture, fmt_addr, sha256, text_payload, binary_payload  # noqa: E402,F401

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
import wsproto  # noqa: E402
import wsproto.connection  # noqa: E402
import wsproto.events as wse  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402
from wsproto.handshake import client_extensions_handshake  # noqa: E402


def versions(**extra):
    from importlib.metadata import version
    v = {"python": sys.version.split()[0], "h2": version("h2"), "hpack": version("hpack"),
         "hyperframe": version("hyperframe"), "wsproto": version("wsproto")}
    try:
        v["hypercorn"] = version("hypercorn")
    except Exception:
        pass
    v["openssl"] = ssl.OPENSSL_VERSION
    v["tcpdump"] = subprocess.run(["tcpdump", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    v["tshark"] = subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    v.update(extra)
    return v


def port_free(*ports):
    for p in ports:
        out = subprocess.run(["ss", "-Htan", "exclude", "time-wait", f"( sport = :{p} or dport = :{p} )"],
                             capture_output=True, text=True, timeout=10).stdout
        if out.strip():
            sys.exit(f"port {p} busy; refusing to capture foreign traffic:\n{out}")


def hard_timeout(seconds):
    """The whole generator is bounded, whatever happens in threads."""
    def boom():
        sys.stderr.write(f"generator exceeded {seconds}s, aborting\n")
        os._exit(3)
    t = threading.Timer(seconds, boom)
    t.daemon = True
    t.start()


def make_cert(tmp, ca=False):
    """Self-signed RSA-2048 for wsd.test (+ localhost, 127.0.0.1). ca=False -> CA:FALSE leaf
    (what Firefox accepts as an imported trust anchor, see ../tls/firefox-tls.gen.py)."""
    key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    ext = ["-addext", "subjectAltName=DNS:wsd.test,DNS:localhost,IP:127.0.0.1"]
    if not ca:
        ext += ["-addext", "basicConstraints=critical,CA:FALSE",
                "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                "-addext", "extendedKeyUsage=serverAuth"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
                    "-subj", "/CN=wsd.test", "-keyout", key, "-out", cert, *ext],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# --------------------------------------------------------------------------- server-side log

class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, **kw):
        kw["t"] = time.monotonic()
        with self.lock:
            self.items.append(kw)

    def where(self, **kw):
        with self.lock:
            return [i for i in self.items if all(i.get(k) == v for k, v in kw.items())]


SERVER_LOG = Log()


def ws_event_record(event, compressed):
    """A wsproto event about to be sent -> a log record (payload uncompressed)."""
    r = _ws_event_record(event, compressed)
    r["t"] = time.monotonic()
    return r


def _ws_event_record(event, compressed):
    if isinstance(event, wse.TextMessage):
        p = event.data.encode()
        return {"kind": "message", "opcode": 1, "len": len(p), "sha256": sha256(p), "compressed": compressed,
                "fin": event.message_finished}
    if isinstance(event, wse.BytesMessage):
        p = bytes(event.data)
        return {"kind": "message", "opcode": 2, "len": len(p), "sha256": sha256(p), "compressed": compressed,
                "fin": event.message_finished}
    if isinstance(event, wse.Ping):
        return {"kind": "ping", "len": len(event.payload)}
    if isinstance(event, wse.Pong):
        return {"kind": "pong", "len": len(event.payload)}
    if isinstance(event, wse.CloseConnection):
        return {"kind": "close", "code": event.code, "reason": event.reason or ""}
    return {"kind": type(event).__name__}


def deflate_enabled(wsconn):
    return any(isinstance(e, PerMessageDeflate) and e.enabled() for e in wsconn._proto.extensions)


def patch_hypercorn():
    """Log what hypercorn itself sends: WebSocket frames (through wsproto) and h2 stream endings."""
    from hypercorn.protocol import ws_stream, h2 as hh2
    from hypercorn.protocol.events import Data
    from wsproto.utilities import LocalProtocolError

    async def _send_wsproto_event(self, event):
        try:
            data = self.connection.send(event)
        except LocalProtocolError:
            SERVER_LOG.add(side="server", client=fmt_addr(self.client), stream=self.stream_id,
                           kind="not-sent", what=type(event).__name__)
        else:
            rec = ws_event_record(event, deflate_enabled(self.connection))
            SERVER_LOG.add(side="server", client=fmt_addr(self.client), stream=self.stream_id, **rec)
            await self.send(Data(stream_id=self.stream_id, data=data))
    ws_stream.WSStream._send_wsproto_event = _send_wsproto_event

    orig_init = hh2.H2Protocol.__init__

    def __init__(self, *a, **kw):
        orig_init(self, *a, **kw)
        self.connection._wsd_client = fmt_addr(self.client) if self.client else None
    hh2.H2Protocol.__init__ = __init__

    orig_create = hh2.H2Protocol._create_stream

    async def _create_stream(self, request):
        hd = [(k.decode(), v.decode(errors="replace")) for k, v in request.headers]
        SERVER_LOG.add(side="server", client=fmt_addr(self.client), stream=request.stream_id, kind="request",
                       headers=hd)
        return await orig_create(self, request)
    hh2.H2Protocol._create_stream = _create_stream

    from hypercorn.asyncio import tcp_server
    orig_run = tcp_server.TCPServer.run

    async def run(self):
        sock = self.writer.get_extra_info("socket")
        obj = self.writer.get_extra_info("ssl_object")
        rec = {"side": "server", "client": fmt_addr(sock.getpeername()), "stream": 0, "kind": "tcp-connection"}
        if obj is not None:
            rec["tls"] = {"version": obj.version(), "cipher": obj.cipher()[0], "alpn": obj.selected_alpn_protocol(),
                          "resumed": obj.session_reused}
        SERVER_LOG.add(**rec)
        return await orig_run(self)
    tcp_server.TCPServer.run = run
    patch_h2_connection()


_H2_PATCHED = False


def patch_h2_connection():
    """Log, for server-side H2Connections (those hypercorn made), END_STREAM, RST_STREAM, GOAWAY
    and response HEADERS as h2 is asked to send them."""
    global _H2_PATCHED
    if _H2_PATCHED:
        return
    _H2_PATCHED = True
    C = h2.connection.H2Connection

    def who(self):
        return getattr(self, "_wsd_client", None)

    o_send_headers, o_send_data, o_end_stream, o_reset, o_close = (
        C.send_headers, C.send_data, C.end_stream, C.reset_stream, C.close_connection)

    def send_headers(self, stream_id, headers, end_stream=False, **kw):
        r = o_send_headers(self, stream_id, headers, end_stream=end_stream, **kw)
        if who(self):
            hd = [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                  for k, v in headers]
            SERVER_LOG.add(side="server", client=who(self), stream=stream_id, kind="headers", headers=hd,
                           end_stream=end_stream)
            if end_stream:
                SERVER_LOG.add(side="server", client=who(self), stream=stream_id, kind="end_stream", how="headers")
        return r

    def send_data(self, stream_id, data, end_stream=False, **kw):
        r = o_send_data(self, stream_id, data, end_stream=end_stream, **kw)
        if who(self) and end_stream:
            SERVER_LOG.add(side="server", client=who(self), stream=stream_id, kind="end_stream", how="data")
        return r

    def end_stream(self, stream_id):
        r = o_end_stream(self, stream_id)
        if who(self):
            SERVER_LOG.add(side="server", client=who(self), stream=stream_id, kind="end_stream", how="empty data")
        return r

    def reset_stream(self, stream_id, error_code=0):
        r = o_reset(self, stream_id, error_code)
        if who(self):
            SERVER_LOG.add(side="server", client=who(self), stream=stream_id, kind="rst_stream", code=int(error_code))
        return r

    def close_connection(self, error_code=0, additional_data=None, last_stream_id=None):
        r = o_close(self, error_code, additional_data, last_stream_id)
        if who(self):
            SERVER_LOG.add(side="server", client=who(self), stream=0, kind="goaway", code=int(error_code))
        return r

    C.send_headers, C.send_data, C.end_stream, C.reset_stream, C.close_connection = (
        send_headers, send_data, end_stream, reset_stream, close_connection)


class Hypercorn:
    """hypercorn.asyncio.serve(app) in a thread; stop() triggers its graceful shutdown."""

    def __init__(self, app, **cfg):
        from hypercorn.config import Config
        patch_hypercorn()
        self.config = Config()
        self.config.accesslog = None
        self.config.errorlog = "-"
        self.config.loglevel = "WARNING"
        self.config.graceful_timeout = 2
        for k, v in cfg.items():
            setattr(self.config, k, v)
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.stop_ev = None
        self.started = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from hypercorn.asyncio import serve
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_ev = asyncio.Event()
            self.loop.call_later(0.5, self.started.set)
            await serve(self.app, self.config, shutdown_trigger=self.stop_ev.wait)
        try:
            self.loop.run_until_complete(main())
        except BaseException as e:  # noqa: BLE001
            self.error = e
            self.started.set()

    def __enter__(self):
        self.thread.start()
        if not self.started.wait(10) or self.error:
            raise RuntimeError(f"hypercorn did not start: {self.error}")
        return self

    def stop(self):
        if self.stop_ev is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_ev.set)
        self.thread.join(15)
        if self.thread.is_alive():
            raise RuntimeError("hypercorn did not stop")

    def __exit__(self, *exc):
        self.stop()
        return False


class AppLog:
    """The ASGI app's own log of what it passed to send()."""

    def __init__(self):
        self.items = []

    def add(self, **kw):
        self.items.append(kw)


def echo_app(applog, close_on="please close", server_close=(4001, "server closes"), subprotocol="chat.v1"):
    """ASGI app: /hello -> 200, /status -> 200 JSON, anything else over HTTP -> 404;
    WebSocket: accept (subprotocol `subprotocol` if offered), echo every message; when it receives
    the text `close_on` it echoes it and then closes with `server_close`."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                if m["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif m["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        client = fmt_addr(scope["client"])
        if scope["type"] == "http":
            while True:
                m = await receive()
                if not m.get("more_body"):
                    break
            path = scope["path"]
            if path == "/hello":
                status, body, ctype = 200, b"hello over h2\n", b"text/plain"
            elif path == "/status":
                status, body, ctype = 200, json.dumps({"ok": True, "proto": scope["http_version"]}).encode(), b"application/json"
            elif path in ("/", "/page.html") and getattr(app, "page", None) is not None:
                status, body, ctype = 200, app.page, b"text/html; charset=utf-8"
            else:
                status, body, ctype = 404, b"not found\n", b"text/plain"
            applog.add(client=client, path=path, http_version=scope["http_version"], method=scope["method"],
                       kind="http", status=status, len=len(body))
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "websocket":
            return
        path = scope["path"]
        m = await receive()
        assert m["type"] == "websocket.connect", m
        sub = subprotocol if subprotocol in scope.get("subprotocols", []) else None
        applog.add(client=client, path=path, kind="accept", subprotocol=sub, http_version=scope["http_version"],
                   scheme=scope["scheme"], headers=[(k.decode(), v.decode()) for k, v in scope["headers"]])
        await send({"type": "websocket.accept", "subprotocol": sub})
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                applog.add(client=client, path=path, kind="disconnect", code=m.get("code"))
                return
            if m.get("text") is not None:
                data = m["text"]
                applog.add(client=client, path=path, kind="send", opcode=1, len=len(data.encode()),
                           sha256=sha256(data.encode()))
                await send({"type": "websocket.send", "text": data})
            else:
                data = m["bytes"]
                applog.add(client=client, path=path, kind="send", opcode=2, len=len(data), sha256=sha256(data))
                await send({"type": "websocket.send", "bytes": data})
            if m.get("text") == close_on:
                applog.add(client=client, path=path, kind="close", code=server_close[0], reason=server_close[1])
                await send({"type": "websocket.close", "code": server_close[0], "reason": server_close[1]})
    app.page = None
    return app


# --------------------------------------------------------------------------- client

def payload_bytes(data):
    return (1, data.encode()) if isinstance(data, str) else (2, bytes(data))


class WSStreamState:
    def __init__(self, stream_id, path):
        self.id = stream_id
        self.path = path
        self.ws = None            # wsproto Connection once accepted
        self.status = None
        self.resp_headers = None
        self.req_headers = None
        self.sent = []            # log records of what the client sent (c2s)
        self.received = []        # what wsproto delivered (s2c), for cross-checks
        self.partial = None
        self.remote_ended = False
        self.local_ended = False
        self.reset = None
        self.extensions = []
        self.subprotocol = None
        self.end_c2s = "none"
        self.end_c2s_detail = None
        self.after_close = []

    @property
    def closed(self):
        return self.ws is not None and self.ws.state == wsproto.connection.ConnectionState.CLOSED


class H2WSClient:
    """A synchronous HTTP/2 client (h2) that runs RFC 8441 WebSockets (wsproto) and ordinary
    requests over one connection, logging everything it sends."""

    def __init__(self, sock, authority, scheme="http", h2_config=None, deadline=60):
        self.sock = sock
        self.sock.setblocking(True)
        self.authority = authority
        self.scheme = scheme
        self.conn = h2.connection.H2Connection(
            config=h2_config or h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.streams = {}
        self.requests = {}
        self.remote_settings = None
        self.remote_settings_frames = []
        self.events_log = []
        self.eof = False
        self.deadline = time.monotonic() + deadline
        self.goaway_received = None

    # ---- plumbing
    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout=0.05):
        if time.monotonic() > self.deadline:
            raise TimeoutError("client deadline exceeded")
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        data = self.sock.recv(1 << 16)
        if not data:
            self.eof = True
            return False
        for ev in self.conn.receive_data(data):
            self.handle(ev)
        self.flush()
        return True

    def wait(self, pred, what, timeout=15):
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise TimeoutError(f"waiting for {what}")
            self.pump(0.05)
            if self.eof and not pred():
                raise ConnectionError(f"EOF while waiting for {what}")

    def handle(self, ev):
        self.events_log.append(type(ev).__name__)
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.remote_settings_frames.append({int(k): v.new_value for k, v in ev.changed_settings.items()})
            self.remote_settings = True
        elif isinstance(ev, h2.events.ResponseReceived):
            hd = [(k.decode(), v.decode()) for k, v in ev.headers]
            st = self.streams.get(ev.stream_id) or self.requests.get(ev.stream_id)
            st.resp_headers = hd
            st.status = int(dict(hd)[":status"])
            if isinstance(st, WSStreamState) and st.status == 200:
                self._accepted(st, dict(hd))
        elif isinstance(ev, h2.events.DataReceived):
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            st = self.streams.get(ev.stream_id)
            if st is not None and st.ws is not None:
                if st.closed:
                    # bytes after the WebSocket closing handshake: keep them for the record
                    st.after_close.append(bytes(ev.data))
                    return
                st.ws.receive_data(ev.data)
                self._ws_events(st)
            elif ev.stream_id in self.requests:
                self.requests[ev.stream_id].body += ev.data
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id) or self.requests.get(ev.stream_id)
            if st is not None:
                st.remote_ended = True
        elif isinstance(ev, h2.events.StreamReset):
            st = self.streams.get(ev.stream_id) or self.requests.get(ev.stream_id)
            if st is not None:
                st.reset = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway_received = {"error_code": int(ev.error_code), "last_stream_id": ev.last_stream_id}

    def _accepted(self, st, hd):
        exts = []
        if "sec-websocket-extensions" in hd:
            exts = client_extensions_handshake([hd["sec-websocket-extensions"]], [PerMessageDeflate()])
            st.extensions = [hd["sec-websocket-extensions"]]
        st.subprotocol = hd.get("sec-websocket-protocol")
        st.ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.CLIENT, extensions=exts)

    def _ws_events(self, st):
        for e in st.ws.events():
            if isinstance(e, wse.Message):
                if st.partial is None:
                    st.partial = [1 if isinstance(e, wse.TextMessage) else 2, b""]
                st.partial[1] += e.data.encode() if isinstance(e, wse.TextMessage) else bytes(e.data)
                if e.message_finished:
                    op, p = st.partial
                    st.received.append({"kind": "message", "opcode": op, "len": len(p), "sha256": sha256(p)})
                    st.partial = None
            elif isinstance(e, wse.Ping):
                st.received.append({"kind": "ping", "len": len(e.payload)})
                self.ws_send(st, e.response())  # automatic pong, as libraries do (logged as a pong)
            elif isinstance(e, wse.Pong):
                st.received.append({"kind": "pong", "len": len(e.payload)})
            elif isinstance(e, wse.CloseConnection):
                st.received.append({"kind": "close", "code": e.code, "reason": e.reason or ""})
                if st.ws.state == wsproto.connection.ConnectionState.REMOTE_CLOSING:
                    # echo the peer's close (code and reason), and end our half of the stream with it
                    self.ws_send(st, e.response(), end_stream=True)

    # ---- sending
    def send_stream_data(self, stream_id, data, end_stream=False):
        """Send respecting flow control and the peer's max frame size."""
        view = memoryview(data)
        while True:
            n = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if len(view) and n <= 0:
                self.wait(lambda: self.conn.local_flow_control_window(stream_id) > 0, "WINDOW_UPDATE")
                continue
            chunk, view = view[:n], view[n:]
            last = not len(view)
            self.conn.send_data(stream_id, bytes(chunk), end_stream=end_stream and last)
            self.flush()
            if last:
                return

    def ws_send(self, st, event, end_stream=False, log=True):
        rec = ws_event_record(event, deflate_enabled(st.ws))
        data = st.ws.send(event)
        if log:
            st.sent.append(rec)
        self.send_stream_data(st.id, data, end_stream=end_stream)
        if end_stream:
            st.local_ended = True
            st.end_c2s = "end_stream"
            st.end_c2s_detail = f"END_STREAM on the DATA frame carrying the client's {rec['kind']} frame"

    def send(self, st, data):
        self.ws_send(st, wse.TextMessage(data=data) if isinstance(data, str) else wse.BytesMessage(data=data))

    def send_interleaved(self, items, chunk=16384):
        """Send several WebSocket messages on different streams at once: their encoded frames are
        cut into DATA frames of `chunk` bytes and sent round-robin (stream A, B, A, B ...)."""
        pending = []
        for st, data in items:
            ev = wse.TextMessage(data=data) if isinstance(data, str) else wse.BytesMessage(data=data)
            rec = ws_event_record(ev, deflate_enabled(st.ws))
            st.sent.append(rec)
            pending.append([st, memoryview(st.ws.send(ev))])
        while pending:
            for item in list(pending):
                st, view = item
                n = min(chunk, self.conn.local_flow_control_window(st.id), self.conn.max_outbound_frame_size)
                if n <= 0:
                    self.pump(0.05)
                    continue
                self.conn.send_data(st.id, bytes(view[:n]))
                self.flush()
                item[1] = view[n:]
                if not len(item[1]):
                    pending.remove(item)

    def ws_open(self, path, extensions=None, subprotocols=None, extra_headers=(), wait=True):
        sid = self.conn.get_next_available_stream_id()
        st = WSStreamState(sid, path)
        hdrs = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", self.scheme),
                (":path", path), (":authority", self.authority), ("sec-websocket-version", "13")]
        if extensions:
            hdrs.append(("sec-websocket-extensions", extensions))
        if subprotocols:
            hdrs.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        hdrs += list(extra_headers)
        st.req_headers = hdrs
        self.streams[sid] = st
        self.conn.send_headers(sid, [(k.encode(), v.encode()) for k, v in hdrs])
        self.flush()
        if wait:
            self.wait(lambda: st.status is not None, f"response on stream {sid}")
        return st

    class Req:
        def __init__(self, sid, method, path):
            self.id, self.method, self.path = sid, method, path
            self.status = None
            self.resp_headers = None
            self.body = b""
            self.remote_ended = False
            self.reset = None

    def request(self, method, path, wait=True):
        sid = self.conn.get_next_available_stream_id()
        r = self.Req(sid, method, path)
        self.requests[sid] = r
        hdrs = [(":method", method), (":scheme", self.scheme), (":path", path), (":authority", self.authority),
                ("user-agent", "wsdissect-h2-sample")]
        self.conn.send_headers(sid, [(k.encode(), v.encode()) for k, v in hdrs], end_stream=True)
        self.flush()
        if wait:
            self.wait(lambda: r.remote_ended or r.reset is not None, f"response to {path}")
        return r

    def echo(self, st, n=1):
        """Wait until `n` more messages came back on st."""
        have = sum(1 for r in st.received if r["kind"] == "message")
        return have

    def wait_messages(self, st, count, timeout=15):
        self.wait(lambda: sum(1 for r in st.received if r["kind"] == "message") >= count,
                  f"{count} messages on stream {st.id}", timeout)

    def close(self, st, code, reason, end_stream=False):
        """end_stream=True: END_STREAM on the DATA frame that carries the close frame."""
        self.ws_send(st, wse.CloseConnection(code=code, reason=reason), end_stream=end_stream)

    def end_after_close(self, st, timeout=15):
        """After our close: wait for the peer's close, then END_STREAM with an empty DATA frame."""
        self.wait(lambda: st.closed, f"close echo on stream {st.id}", timeout)
        if not st.local_ended:
            self.conn.end_stream(st.id)
            self.flush()
            st.local_ended = True
            st.end_c2s = "end_stream"
            st.end_c2s_detail = "END_STREAM on an empty DATA frame after the close handshake"

    def settle(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.eof:
            self.pump(0.05)


def client_closes_order(sent, received):
    """closes[] for expected.json: initiator's close first."""
    c = [dict(dir="c2s", code=r["code"], reason=r["reason"]) for r in sent if r["kind"] == "close"]
    s = [dict(dir="s2c", code=r["code"], reason=r["reason"]) for r in received if r["kind"] == "close"]
    return c, s


# --------------------------------------------------------------------------- capture checks

def tshark(cap, filt, fields, opts=()):
    cmd = ["tshark", "-r", cap, *opts, "-Y", filt, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [l.split("\t") for l in out.splitlines() if l.strip()]


def check_tcp(cap, port, clients):
    """Connections to `port` in the capture == `clients` (ports), each with FIN both ways."""
    syns = sorted(r[0] for r in tshark(cap, f"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport=={port}",
                                       ["tcp.srcport"]))
    assert syns == sorted(str(c) for c in clients), f"connections in capture {syns} vs truth {clients}"
    fins = {(r[0], r[1]) for r in tshark(cap, f"tcp.flags.fin==1 && tcp.port=={port}", ["tcp.srcport", "tcp.dstport"])}
    for c in clients:
        assert (str(c), str(port)) in fins and (str(port), str(c)) in fins, f"conn {c} not captured to its end"


def h2_headers(cap, opts):
    """[(srcport, dstport, [stream ids], [(name, value) ...], flags)] for every HEADERS frame."""
    rows = tshark(cap, "http2.type == 1", ["tcp.srcport", "tcp.dstport", "http2.type", "http2.streamid",
                                           "http2.header.name", "http2.header.value", "http2.flags"], opts)
    out = []
    for r in rows:
        # several HTTP/2 frames in one packet: pick the HEADERS ones
        types, sids = r[2].split("|"), r[3].split("|")
        names, values = r[4].split("|") if r[4] else [], r[5].split("|") if r[5] else []
        out.append((r[0], r[1], [int(s) for t, s in zip(types, sids) if t == "1"], list(zip(names, values))))
    return out


def check_h2_streams(cap, opts, port, conns):
    """tshark sees, per connection, extended CONNECTs with :protocol websocket on the WebSocket
    streams and the requests' :path on theirs."""
    rows = tshark(cap, f"http2.type == 1 && tcp.dstport == {port}",
                  ["tcp.srcport", "http2.streamid", "http2.type", "http2.header.name", "http2.header.value"], opts)
    seen = {}
    for r in rows:
        sport = r[0]
        types, sids = r[2].split("|"), r[1].split("|")
        hsids = [int(s) for t, s in zip(types, sids) if t == "1"]
        names, values = (r[3].split("|") if r[3] else []), (r[4].split("|") if r[4] else [])
        # header name/value lists are concatenated over the HEADERS frames of the packet; split by ':method'
        blocks, cur = [], None
        for n, v in zip(names, values):
            if n == ":method":
                cur = {}
                blocks.append(cur)
            if cur is not None:
                cur[n] = v
        for sid, b in zip(hsids, blocks):
            seen.setdefault(sport, {})[sid] = b
    for c in conns:
        cport = c["client"].rsplit(":", 1)[1]
        got = seen.get(cport, {})
        for w in c["websockets"]:
            b = got.get(w["stream"])
            assert b, f"{c['client']}: no request HEADERS on stream {w['stream']} (tshark saw {sorted(got)})"
            assert b.get(":method") == "CONNECT" and b.get(":protocol") == "websocket" and b.get(":path") == w["path"], \
                f"stream {w['stream']}: {b}"
        for q in c["requests"]:
            if q.get("upgrade"):
                continue  # the HTTP/1.1 request that became stream 1
            b = got.get(q["stream"])
            assert b and b.get(":method") == q["method"] and b.get(":path") == q["path"], f"stream {q['stream']}: {b}"
        want = {w["stream"] for w in c["websockets"]} | {q["stream"] for q in c["requests"] if not q.get("upgrade")}
        assert set(got) == want, f"{c['client']}: tshark request streams {sorted(got)} vs truth {sorted(want)}"
    # responses
    rows = tshark(cap, f"http2.type == 1 && tcp.srcport == {port}",
                  ["tcp.dstport", "http2.streamid", "http2.type", "http2.headers.status"], opts)
    st = {}
    for r in rows:
        types, sids = r[2].split("|"), r[1].split("|")
        hsids = [int(s) for t, s in zip(types, sids) if t == "1"]
        stats = r[3].split("|") if r[3] else []
        for sid, s in zip(hsids, stats):
            st.setdefault(r[0], {})[sid] = int(s)
    for c in conns:
        cport = c["client"].rsplit(":", 1)[1]
        for x in c["websockets"] + c["requests"]:
            assert st.get(cport, {}).get(x["stream"]) == x["status"], \
                f"{c['client']} stream {x['stream']}: status {st.get(cport, {}).get(x['stream'])} vs {x['status']}"
    return seen


def h2_frame_summary(cap, opts, port):
    """Every HTTP/2 frame tshark decodes: (dir, stream, type, flags) in order (for README notes)."""
    rows = tshark(cap, "http2", ["tcp.srcport", "http2.streamid", "http2.type", "http2.flags", "http2.length"], opts)
    out = []
    for r in rows:
        d = "s2c" if r[0] == str(port) else "c2s"
        for sid, t, f, ln in zip(r[1].split("|"), r[2].split("|"), r[3].split("|"), r[4].split("|")):
            out.append((d, int(sid), int(t), int(f, 16) if f.startswith("0x") else int(f), int(ln)))
    return out


def tcpdump_ok(stderr_text):
    assert "0 packets dropped by kernel" in stderr_text, stderr_text


def install(files, tmp):
    """Move the checked files from tmp into samples/h2 (only after all checks passed)."""
    for f in files:
        shutil.copyfile(os.path.join(tmp, f), os.path.join(HERE, f))
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- truth

def _strip(rec, *keys):
    return {k: v for k, v in rec.items() if k not in keys}


def ws_truth(client, st, scheme):
    """expected.json entry of one WebSocket stream from the client's log (c2s) and hypercorn's (s2c)."""
    srv = [r for r in SERVER_LOG.where(side="server", client=client, stream=st.id)]
    hdr = [r for r in srv if r["kind"] == "headers"]
    assert len(hdr) == 1, hdr
    hd = dict(hdr[0]["headers"])
    msgs = [dict(dir="c2s", **_strip(r, "kind", "t", "fin")) for r in st.sent if r["kind"] == "message"] + \
           [dict(dir="s2c", **_strip(r, "kind", "t", "fin", "side", "client", "stream"))
            for r in srv if r["kind"] == "message"]
    assert all(r.get("fin", True) for r in st.sent + srv)
    closes = sorted([dict(r, dir="c2s") for r in st.sent if r["kind"] == "close"] +
                    [dict(r, dir="s2c") for r in srv if r["kind"] == "close"], key=lambda r: r["t"])
    pings = [dict(dir="c2s", len=r["len"]) for r in st.sent if r["kind"] == "ping"] + \
            [dict(dir="s2c", len=r["len"]) for r in srv if r["kind"] == "ping"]
    pongs = [dict(dir="c2s", len=r["len"]) for r in st.sent if r["kind"] == "pong"] + \
            [dict(dir="s2c", len=r["len"]) for r in srv if r["kind"] == "pong"]
    ends = [r for r in srv if r["kind"] in ("end_stream", "rst_stream")]
    assert len(ends) <= 1, ends
    s2c_end = ends[0]["kind"] if ends else "none"
    status = int(hd[":status"])
    return {
        "stream": st.id, "path": st.path, "authority": dict(st.req_headers)[":authority"], "scheme": scheme,
        "request_headers": st.req_headers,
        "status": status,
        "subprotocol": hd.get("sec-websocket-protocol"),
        "extensions": [hd["sec-websocket-extensions"]] if "sec-websocket-extensions" in hd else [],
        "response_headers": hdr[0]["headers"],
        "messages": msgs,
        "closes": [{"dir": r["dir"], "code": r["code"], "reason": r["reason"]} for r in closes],
        "pings": pings,
        "pongs": pongs,
        "end": {"c2s": st.end_c2s, "s2c": s2c_end},
        "end_detail": {"c2s": st.end_c2s_detail,
                       "s2c": (f"{ends[0]['kind']} ({ends[0].get('how', ends[0].get('code'))})" if ends else
                               "hypercorn never ended its half of the stream")},
    }


def cross_check(client, st, applog):
    """What each side received == what the other logged it sent; the app's sends == hypercorn's."""
    srv = SERVER_LOG.where(side="server", client=client, stream=st.id)
    s_sent = [(r["opcode"], r["len"], r["sha256"]) for r in srv if r["kind"] == "message"]
    c_recv = [(r["opcode"], r["len"], r["sha256"]) for r in st.received if r["kind"] == "message"]
    assert s_sent == c_recv, f"stream {st.id}: server sent {s_sent} client got {c_recv}"
    app_sent = [(r["opcode"], r["len"], r["sha256"]) for r in applog.items
                if r["client"] == client and r["path"] == st.path and r["kind"] == "send"]
    assert app_sent == s_sent, f"stream {st.id}: app log vs hypercorn log"
    s_close = [(r["code"], r["reason"]) for r in srv if r["kind"] == "close"]
    c_rclose = [(r["code"], r["reason"]) for r in st.received if r["kind"] == "close"]
    assert s_close == c_rclose, (s_close, c_rclose)


def request_truth(client, r):
    srv = SERVER_LOG.where(side="server", client=client, stream=r.id)
    hdr = [x for x in srv if x["kind"] == "headers"]
    assert len(hdr) == 1 and int(dict(hdr[0]["headers"])[":status"]) == r.status
    return {"stream": r.id, "method": r.method, "path": r.path, "status": r.status, "response_body_len": len(r.body)}
