#!/usr/bin/env python3
"""py-h2c.pcap: WebSocket over cleartext HTTP/2 (h2c, prior knowledge), RFC 8441.

Server: hypercorn (ASGI, its h2 + wsproto WebSocket stream) on 127.0.0.1:8601 running
h2lib.echo_app (echo; `/hello`, `/status` 200, anything else 404; `please close` -> the app
closes with 4001). hypercorn's `websocket_ping_interval` makes it ping once per WebSocket
right after accepting it (the next ping would be 600 s later).

Client: h2lib.H2WSClient (Python `h2` for HTTP/2, `wsproto` for WebSocket framing; masks its
frames) on a socket connected by this script. ONE TCP connection:

  stream 1   WebSocket /echo      (no extensions)
  stream 3   GET /hello           -> 200
  stream 5   WebSocket /deflate   offers `permessage-deflate; client_max_window_bits`
  stream 7   WebSocket /chat      offers subprotocols chat.v2, chat.v1
  stream 9   GET /status          -> 200
  stream 11  GET /nope            -> 404

Messages go A, B, C, A, ... (each waits for its echo), then a 65536-byte binary on stream 1 and
a 20000-byte text on stream 7 are sent at the same time, their DATA frames alternating
(16384-byte DATA frames: 1, 7, 1, 7, ...), then small messages on all three without waiting.
Closes: stream 1 client 1000 "bye A", stream 5 client 1001 "going away B" (hypercorn echoes
both); stream 7 the server closes with 4001 "server closes" after echoing `please close`, the
client echoes it. The client ends its half of each stream with END_STREAM after the closing
handshake; the server's side is whatever hypercorn does (logged from its h2 connection).
Finally the client sends GOAWAY(NO_ERROR) and shuts down its socket.

Truth: c2s from the client's own log (what it handed to wsproto), s2c from hypercorn's own log
(every wsproto event its WSStream sent, via a wrapper of WSStream._send_wsproto_event), the
response HEADERS and END_STREAM/RST_STREAM/GOAWAY as hypercorn asked its h2 connection to send
them. The ASGI app's own log (what it passed to send) is checked against hypercorn's.
"""
import json
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2lib  # noqa: E402
from h2lib import (HERE, AppLog, Capture, H2WSClient, Hypercorn, binary_payload, check_h2_streams,  # noqa: E402
                   check_tcp, cross_check, echo_app, fmt_addr, port_free, request_truth, text_payload,
                   ws_truth, SERVER_LOG)
import wsproto.events as wse  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from pyws import seeded  # noqa: E402

NAME = "py-h2c"
PORT = 8601


def main():
    port_free(PORT)
    h2lib.hard_timeout(240)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    rng = seeded(8601)
    applog = AppLog()
    app = echo_app(applog)
    pcap = os.path.join(tmp, NAME + ".pcap")
    with Hypercorn(app, bind=[f"127.0.0.1:{PORT}"], websocket_ping_interval=600):
        with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
            sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
            client = fmt_addr(sock.getsockname())
            c = H2WSClient(sock, f"localhost:{PORT}", "http", deadline=120)
            c.conn.initiate_connection()
            c.flush()
            c.wait(lambda: c.remote_settings, "server SETTINGS")
            assert c.conn.remote_settings.enable_connect_protocol == 1
            A = c.ws_open("/echo")
            hello = c.request("GET", "/hello")
            B = c.ws_open("/deflate", extensions="permessage-deflate; client_max_window_bits")
            C = c.ws_open("/chat", subprotocols=["chat.v2", "chat.v1"])
            assert A.status == B.status == C.status == 200
            count = {A.id: 0, B.id: 0, C.id: 0}

            def send(st, m, wait=True):
                c.send(st, m)
                count[st.id] += 1
                if wait:
                    c.wait_messages(st, count[st.id])

            # interleaved, one message at a time: A, B, C, A, B, C ...
            send(A, "")
            send(B, text_payload(125))
            send(C, binary_payload(126, rng))
            send(A, binary_payload(125, rng))
            send(B, text_payload(126))
            send(C, "hi C")
            send(A, text_payload(126))
            send(B, binary_payload(0, rng))
            send(C, text_payload(125))
            status = c.request("GET", "/status")
            c.ws_send(A, wse.Ping(payload=b"cping"))
            # two big messages at once, their DATA frames alternate between streams 1 and 7
            c.send_interleaved([(A, binary_payload(65536, rng)), (C, text_payload(20000))])
            count[A.id] += 1
            count[C.id] += 1
            c.wait_messages(A, count[A.id])
            c.wait_messages(C, count[C.id])
            # compressed: random (incompressible) 65536 bytes -> several DATA frames; then a
            # compressible 30000-byte text
            send(B, binary_payload(65536, rng))
            send(B, "deflate me " * 2728)
            nope = c.request("GET", "/nope")
            # small ones, sent back to back without waiting
            for st, m in [(A, "a1"), (B, "b1"), (C, "c1"), (A, b"a2"), (B, b"\x00b2"), (C, "c2")]:
                send(st, m, wait=False)
            for st in (A, B, C):
                c.wait_messages(st, count[st.id])
            c.wait(lambda: sum(1 for r in A.received if r["kind"] == "pong") == 1, "pong")
            # closes
            c.close(A, 1000, "bye A", end_stream=True)
            c.close(B, 1001, "going away B", end_stream=True)
            send(C, "please close")
            c.end_after_close(A)
            c.end_after_close(B)
            c.wait(lambda: C.closed, "server close on C")
            c.settle(0.5)   # give hypercorn the chance to end/reset its halves
            c.conn.close_connection()
            c.flush()
            goaway_c2s = {"error_code": 0, "last_stream_id": 0}
            sock.shutdown(socket.SHUT_WR)
            c.deadline = __import__("time").monotonic() + 10
            c.settle(5)
            assert c.eof, "server did not close the TCP connection"
            sock.close()
    SERVER_LOG_ITEMS = SERVER_LOG.items
    for st in (A, B, C):
        print(f"stream {st.id}: server sent {[r['kind'] for r in SERVER_LOG.where(client=client, stream=st.id)]}; "
              f"DATA after the close: {st.after_close}; client saw END_STREAM {st.remote_ended}, RST {st.reset}")
    # ---- truth
    for st in (A, B, C):
        cross_check(client, st, applog)
    ws = [ws_truth(client, st, "http") for st in (A, B, C)]
    reqs = [request_truth(client, r) for r in (hello, status, nope)]
    srv_goaway = [r for r in SERVER_LOG_ITEMS if r["kind"] == "goaway" and r["client"] == client]
    doc = {
        "capture": NAME + ".pcap", "generator": NAME + ".gen.py",
        "description": "hypercorn (ASGI) server and an h2+wsproto client over h2c with prior knowledge: one TCP "
                       "connection, 3 interleaved RFC 8441 WebSocket streams (1 /echo, 5 /deflate with "
                       "permessage-deflate, 7 /chat with subprotocol chat.v1) and 3 GETs (3 /hello 200, 9 /status 200, "
                       "11 /nope 404); DATA frames of streams 1 and 7 alternate while a 65536 B and a 20000 B message "
                       "are in flight; server pings once per WebSocket; client closes 1 and 5, the server closes 7",
        "keylog": None,
        "versions": h2lib.versions(),
        "connections": [{
            "client": client, "server": f"127.0.0.1:{PORT}", "h2": "prior-knowledge",
            "server_enable_connect_protocol": True, "tls": None,
            "server_settings": c.remote_settings_frames[0],
            "websockets": ws, "requests": reqs,
            "goaway": {"c2s": goaway_c2s,
                       "s2c": ({"error_code": srv_goaway[0]["code"]} if srv_goaway else None)},
        }],
    }
    exp = os.path.join(tmp, NAME + ".expected.json")
    with open(exp, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # ---- capture checks
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    port = int(client.rsplit(":", 1)[1])
    check_tcp(pcap, PORT, [port])
    check_h2_streams(pcap, ["-d", f"tcp.port=={PORT},http2"], PORT, doc["connections"])
    size = os.path.getsize(pcap)
    assert size < 2_000_000, size
    h2lib.install([NAME + ".pcap", NAME + ".expected.json"], tmp)
    print(f"{NAME}: ok, {size} bytes, client {client}; streams ws {[w['stream'] for w in ws]} "
          f"requests {[r['stream'] for r in reqs]}; ends {[w['end'] for w in ws]}")


if __name__ == "__main__":
    main()
