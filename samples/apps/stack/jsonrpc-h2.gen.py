#!/usr/bin/env python3
"""jsonrpc-h2.pcap: JSON-RPC 2.0 over WebSocket over HTTP/2 (RFC 8441) over TLS, with a key log.

Server: hypercorn (samples/h2/h2lib.Hypercorn) on 127.0.0.1:8620 with a throwaway self-signed
certificate (openssl CLI), ALPN h2. Its ASGI app accepts a WebSocket on /rpc with subprotocol
`jsonrpc` when offered and hands every text message to jsonrpcserver's async_dispatch
(methods add, greet, log, subscribe); after answering `subscribe` it sends two
server-to-client notifications `tick` of its own.
Client: h2lib.H2WSClient over Python ssl (TLS 1.3, ALPN h2, SSLContext.keylog_filename =
jsonrpc-h2.keys), requests built with jsonrpcclient. One TCP connection, two WebSockets:
stream 1 on /rpc (offers `jsonrpc`, gets it) and stream 3 on /rpc-b (offers no subprotocol,
so a dissector must recognise JSON-RPC from the messages). Their ids collide on purpose:

  stream 1 add [2, 3] id 1 and stream 3 greet ["b"] id 1, both sent before either answer
  stream 3 add [7, 8] id 2, then stream 3 closes 1000 "b done"
then on stream 1, in order, each waiting for what it expects back:

  greet {"name": ...}            request, id 2 (named params)
  log {...}                      notification (no answer)
  greet {"name": 30000 x}        request, id 3, 30 kB sent as three WebSocket fragments (so it
                                 spans DATA frames and TLS records); the answer is as big
  [add, greet, log, add]         batch: three requests (ids 4, 5, 6) + a notification
  no_such_method                 request, id 7 -> error -32601 Method not found
  subscribe {"topic": "ticks"}   request, id "sub-1" (a string id) -> result, then the server
                                 sends two notifications `tick`
  close 1000 "done"              the client closes, hypercorn echoes

Truth: jsonrpc-h2.client.jsonl (every text the client sent and received, in order, with its
stream) and jsonrpc-h2.server.jsonl (every text the app received and sent, in order, with its
path); the generator checks that on each stream each side received exactly what the other
sent. Regenerate (root):
  PY=/tmp/stack-venv/bin/python; $PY samples/apps/stack/jsonrpc-h2.gen.py
with the venv of requirements.txt (hypercorn, h2, wsproto, jsonrpcserver, jsonrpcclient).
"""
import asyncio
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "h2"))
import h2lib  # noqa: E402
from h2lib import Capture, H2WSClient, Hypercorn, fmt_addr, port_free  # noqa: E402
import wsproto.events as wse  # noqa: E402
from jsonrpcclient import notification, notification_json, request, request_json  # noqa: E402
from jsonrpcserver import Error, Result, Success, async_dispatch, method  # noqa: E402

NAME = "jsonrpc-h2"
PORT = 8620
H1 = "jsonrpc-h1"
PORT_H1 = 8621   # the same exchange over plain HTTP/1.1 WebSocket, for comparison


def first_call():
    return request_json("add", params=[2, 3], id=1)


def later_calls():
    """(text, answers to wait for, WebSocket fragments) sent on stream 1 after its first call,
    and over HTTP/1.1 after the same first call. Ids are explicit so both runs send the same
    bytes."""
    return [
        (request_json("greet", params={"name": "json-rpc over h2"}, id=2), 1, 1),
        (notification_json("log", params={"text": "a notification: no answer"}), 0, 1),
        # 30 kB in three fragments: it spans HTTP/2 DATA frames (16 kB at most) and TLS
        # records; the answer is as big.
        (request_json("greet", params={"name": "x" * 30000}, id=3), 1, 3),
        (json.dumps([request("add", params=[1, 1], id=4), request("greet", params={"name": "batch"}, id=5),
                     notification("log", params={"text": "in a batch"}),
                     request("add", params=[40, 2], id=6)]), 1, 1),
        (request_json("no_such_method", params=[], id=7), 1, 1),
        (request_json("subscribe", params={"topic": "ticks"}, id="sub-1"), 3, 1),
    ]


def pieces(text, n):
    step = -(-len(text) // n)
    return [text[i:i + step] for i in range(0, len(text), step)]


@method
async def add(a, b) -> Result:
    return Success(a + b)


@method
async def greet(name) -> Result:
    return Success(f"hello, {name}")


@method(name="log")
async def log_line(text) -> Result:
    return Success(None)


@method
async def subscribe(topic) -> Result:
    if topic != "ticks":
        return Error(1, "unknown topic", topic)
    return Success({"subscribed": topic})


def rpc_app(server_log):
    """ASGI: WebSocket /rpc -> jsonrpcserver; `subscribe` is followed by two `tick` notifications."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                if m["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif m["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "websocket":
            return
        m = await receive()
        assert m["type"] == "websocket.connect", m
        sub = "jsonrpc" if "jsonrpc" in scope.get("subprotocols", []) else None
        path = scope["path"]
        server_log.append({"event": "accept", "subprotocol": sub, "http_version": scope["http_version"],
                           "path": path})
        await send({"type": "websocket.accept", "subprotocol": sub})

        async def send_text(text):
            server_log.append({"path": path, "dir": "sent", "text": text})
            await send({"type": "websocket.send", "text": text})

        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                server_log.append({"path": path, "event": "disconnect", "code": m.get("code")})
                return
            text = m.get("text")
            server_log.append({"path": path, "dir": "received", "text": text})
            answer = await async_dispatch(text)
            if answer:
                await send_text(answer)
            if '"subscribe"' in text:
                for n in (1, 2):
                    await send_text(notification_json("tick", params={"topic": "ticks", "n": n}))

    return app


class Client(H2WSClient):
    """H2WSClient that also keeps the text of every message it receives."""

    def _ws_events(self, st):
        for e in st.ws.events():
            if isinstance(e, wse.TextMessage):
                st.partial_text = getattr(st, "partial_text", "") + e.data
                if e.message_finished:
                    st.received.append({"kind": "message", "opcode": 1, "text": st.partial_text})
                    st.partial_text = ""
            elif isinstance(e, wse.CloseConnection):
                st.received.append({"kind": "close", "code": e.code, "reason": e.reason or ""})
                if st.ws.state.name == "REMOTE_CLOSING":
                    self.ws_send(st, e.response(), end_stream=True)
            elif isinstance(e, wse.Ping):
                st.received.append({"kind": "ping", "len": len(e.payload)})
                self.ws_send(st, e.response())


def main():
    port_free(PORT, PORT_H1)
    h2lib.hard_timeout(120)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    cert, key = h2lib.make_cert(tmp, ca=True)
    keys = os.path.join(tmp, NAME + ".keys")
    pcap = os.path.join(tmp, NAME + ".pcap")
    server_log, client_log = [], []
    ctx = ssl.create_default_context(cafile=cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    ctx.keylog_filename = keys
    h1_log = []
    pcap_h1 = os.path.join(tmp, H1 + ".pcap")
    with Hypercorn(rpc_app(server_log), bind=[f"127.0.0.1:{PORT}"], insecure_bind=[f"127.0.0.1:{PORT_H1}"],
                   certfile=cert, keyfile=key, websocket_ping_interval=600):
        with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
            raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
            sock = ctx.wrap_socket(raw, server_hostname="localhost")
            tls = {"version": sock.version(), "cipher": sock.cipher()[0], "alpn": sock.selected_alpn_protocol()}
            assert tls["alpn"] == "h2", tls
            c = Client(sock, f"localhost:{PORT}", "https", deadline=90)
            c.conn.initiate_connection()
            c.flush()
            c.wait(lambda: c.remote_settings, "server SETTINGS")
            st = c.ws_open("/rpc", subprotocols=["jsonrpc"])
            assert st.status == 200 and st.subprotocol == "jsonrpc", (st.status, st.subprotocol)
            # A second WebSocket on the same connection, offering no subprotocol, whose ids
            # collide with the first one's: answers must be matched per stream.
            other = c.ws_open("/rpc-b")
            assert other.status == 200 and other.subprotocol is None, (other.status, other.subprotocol)
            for s in (st, other):
                client_log.append({"event": "open", "stream": s.id, "path": s.path, "subprotocol": s.subprotocol,
                                   "tls": tls, "client": fmt_addr(sock.getsockname())})

            def texts(s):
                return [r["text"] for r in s.received if r["kind"] == "message"]

            def call(text, expect, fragments=1, s=st):
                """Send `text` on s, wait until `expect` more messages came back, log both."""
                have = len(texts(s))
                client_log.append({"stream": s.id, "dir": "sent", "text": text, "fragments": fragments})
                parts = pieces(text, fragments)
                for i, part in enumerate(parts):
                    c.ws_send(s, wse.TextMessage(data=part, message_finished=i == len(parts) - 1))
                c.wait(lambda: len(texts(s)) >= have + expect, f"{expect} answers to {text[:40]}")
                if expect == 0:
                    c.settle(0.2)
                for t in texts(s)[have:]:
                    client_log.append({"stream": s.id, "dir": "received", "text": t})

            # ids 1 on both streams, both questions out before either answer is read
            first_a, first_b = first_call(), request_json("greet", params=["b"], id=1)
            for s, text in ((st, first_a), (other, first_b)):
                client_log.append({"stream": s.id, "dir": "sent", "text": text, "fragments": 1})
                c.send(s, text)
            c.wait(lambda: len(texts(st)) == 1 and len(texts(other)) == 1, "both answers to id 1")
            for s in (st, other):
                client_log.append({"stream": s.id, "dir": "received", "text": texts(s)[0]})
            call(request_json("add", params=[7, 8], id=2), 1, s=other)
            # END_STREAM on the close frame itself, as py-h2-tls does: hypercorn 0.18 forgets a
            # stream once it echoed the close and fails (KeyError) on a later empty END_STREAM.
            c.close(other, 1000, "b done", end_stream=True)
            c.wait(lambda: other.closed, "close echo on stream 3")
            for text, expect, fragments in later_calls():
                call(text, expect, fragments)
            c.close(st, 1000, "done", end_stream=True)
            c.wait(lambda: st.closed, "close echo on stream 1")
            client_log.append({"event": "closed", "received": [r for r in st.received if r["kind"] == "close"]})
            c.settle(0.3)
            c.conn.close_connection()
            c.flush()
            sock.settimeout(5)
            try:
                plain = sock.unwrap()
            except (ssl.SSLError, OSError):
                plain = sock
            try:
                plain.shutdown(socket.SHUT_WR)
                while plain.recv(65536):
                    pass
            except OSError:
                pass
            plain.close()
        with Capture(pcap_h1, ["-i", "lo"], f"tcp port {PORT_H1}", extra=("--immediate-mode",)) as cap_h1:
            run_h1(h1_log)
    # ---- cross-checks: each side received exactly what the other sent
    def of(log, key, val, d):
        return [r["text"] for r in log if r.get(key) == val and r.get("dir") == d]
    for log, key, sid, path in (("client", "stream", st.id, st.path), ("client", "stream", other.id, other.path),
                                ("h1", "path", "/rpc-h1", "/rpc-h1")):
        clog = client_log if log == "client" else h1_log
        assert of(clog, key, sid, "sent") == of(server_log, "path", path, "received"), sid
        assert of(server_log, "path", path, "sent") == of(clog, key, sid, "received"), sid
    # over HTTP/1.1, stream 1's exchange exactly
    assert of(h1_log, "path", "/rpc-h1", "sent") == of(client_log, "stream", st.id, "sent")
    assert of(h1_log, "path", "/rpc-h1", "received") == of(client_log, "stream", st.id, "received")
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    assert "0 packets dropped by kernel" in cap_h1.stderr.decode()
    assert sum(1 for l in open(keys) if l.startswith("CLIENT_TRAFFIC_SECRET_0")) == 1
    h1_server = [r for r in server_log if r.get("path") == "/rpc-h1"]
    h2_server = [r for r in server_log if r.get("path") != "/rpc-h1"]
    for name, items in ((NAME + ".client", client_log), (NAME + ".server", h2_server),
                        (H1 + ".client", h1_log), (H1 + ".server", h1_server)):
        with open(os.path.join(tmp, f"{name}.jsonl"), "w") as f:
            for r in items:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(tmp, f"{NAME}.versions.json"), "w") as f:
        json.dump(h2lib.versions(jsonrpcserver=_v("jsonrpcserver"), jsonrpcclient=_v("jsonrpcclient"),
                                 websockets=_v("websockets")), f, indent=1)
        f.write("\n")
    for n in (".pcap", ".keys", ".client.jsonl", ".server.jsonl", ".versions.json"):
        shutil.copy(os.path.join(tmp, NAME + n), os.path.join(HERE, NAME + n))
    for n in (".pcap", ".client.jsonl", ".server.jsonl"):
        shutil.copy(os.path.join(tmp, H1 + n), os.path.join(HERE, H1 + n))
    shutil.rmtree(tmp)
    print(f"{NAME}: ok, {os.path.getsize(os.path.join(HERE, NAME + '.pcap'))} bytes, {tls}")


def run_h1(log):
    """Stream 1's exchange again, over plain HTTP/1.1 WebSocket (websockets' sync client; its
    fragmented send adds an empty final fragment)."""
    from websockets.sync.client import connect
    with connect(f"ws://127.0.0.1:{PORT_H1}/rpc-h1", subprotocols=["jsonrpc"], compression=None,
                 open_timeout=10, close_timeout=5) as ws:
        assert ws.subprotocol == "jsonrpc", ws.subprotocol
        log.append({"event": "open", "path": "/rpc-h1", "subprotocol": ws.subprotocol,
                    "client": fmt_addr(ws.socket.getsockname())})
        for text, expect, fragments in [(first_call(), 1, 1)] + later_calls():
            log.append({"path": "/rpc-h1", "dir": "sent", "text": text, "fragments": fragments})
            ws.send(text if fragments == 1 else pieces(text, fragments))
            for _ in range(expect):
                log.append({"path": "/rpc-h1", "dir": "received", "text": ws.recv(timeout=10)})
        ws.close(1000, "done")
    log.append({"event": "closed"})


def _v(pkg):
    from importlib.metadata import version
    return version(pkg)


if __name__ == "__main__":
    main()
