#!/usr/bin/env python3
"""py-h2c-upgrade.pcap: HTTP/1.1 `Upgrade: h2c` (RFC 7540 section 3.2) accepted by hypercorn, then an
RFC 8441 WebSocket on the upgraded HTTP/2 connection.

Client (h2lib.H2WSClient, Python `h2`): `settings = H2Connection.initiate_upgrade_connection()`,
then by hand on its own socket

    GET /hello HTTP/1.1 / Host / Connection: Upgrade, HTTP2-Settings / Upgrade: h2c / HTTP2-Settings: <settings>

hypercorn (127.0.0.1:8603) answers `101 Switching Protocols` and then speaks HTTP/2: its
SETTINGS, and the response to GET /hello on stream 1 (the upgraded request, half-closed by the
client from the start). After the 101 the client sends the connection preface and its SETTINGS.
Then:

  stream 1  GET /hello (the HTTP/1.1 request that was upgraded) -> 200 over HTTP/2
  stream 3  WebSocket /echo (extended CONNECT), a few messages each way, server ping,
            client close 1000 "bye after upgrade" with END_STREAM, echoed
  stream 5  GET /status -> 200

then client GOAWAY and FIN. Truth as in py-h2c.gen.py.
"""
import json
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2lib  # noqa: E402
from h2lib import (HERE, AppLog, Capture, H2WSClient, Hypercorn, binary_payload, check_h2_streams,  # noqa: E402
                   check_tcp, cross_check, echo_app, fmt_addr, port_free, request_truth, text_payload,
                   tshark, ws_truth, SERVER_LOG)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from pyws import seeded  # noqa: E402

NAME = "py-h2c-upgrade"
PORT = 8603


def main():
    port_free(PORT)
    h2lib.hard_timeout(240)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    rng = seeded(8603)
    applog = AppLog()
    app = echo_app(applog)
    pcap = os.path.join(tmp, NAME + ".pcap")
    with Hypercorn(app, bind=[f"127.0.0.1:{PORT}"], websocket_ping_interval=600):
        with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
            sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
            client = fmt_addr(sock.getsockname())
            c = H2WSClient(sock, f"localhost:{PORT}", "http", deadline=120)
            settings = c.conn.initiate_upgrade_connection()
            req = (b"GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                   b"Upgrade: h2c\r\nHTTP2-Settings: %s\r\nUser-Agent: wsdissect-h2-sample\r\n\r\n") % (PORT, settings)
            sock.sendall(req)
            buf = b""
            end = time.monotonic() + 10
            while b"\r\n\r\n" not in buf:
                assert time.monotonic() < end, "no 101"
                d = sock.recv(65536)
                assert d, f"EOF before 101: {buf!r}"
                buf += d
            head, rest = buf.split(b"\r\n\r\n", 1)
            status_line = head.split(b"\r\n")[0].decode()
            assert status_line.split()[1] == "101", head
            up = H2WSClient.Req(1, "GET", "/hello")
            c.requests[1] = up
            c.flush()  # connection preface + SETTINGS
            if rest:
                for ev in c.conn.receive_data(rest):
                    c.handle(ev)
                c.flush()
            c.wait(lambda: c.remote_settings, "server SETTINGS")
            c.wait(lambda: up.remote_ended, "response on stream 1")
            assert c.conn.remote_settings.enable_connect_protocol == 1
            A = c.ws_open("/echo")
            n = 0
            for m in ["after the upgrade", binary_payload(126, rng), text_payload(125), binary_payload(20000, rng)]:
                c.send(A, m)
                n += 1
                c.wait_messages(A, n)
            status = c.request("GET", "/status")
            c.wait(lambda: any(r["kind"] == "ping" for r in A.received), "server ping")
            c.close(A, 1000, "bye after upgrade", end_stream=True)
            c.wait(lambda: A.closed, "close echo")
            c.settle(0.5)
            c.conn.close_connection()
            c.flush()
            sock.shutdown(socket.SHUT_WR)
            c.deadline = time.monotonic() + 10
            c.settle(5)
            assert c.eof, "server did not close the TCP connection"
            sock.close()
    cross_check(client, A, applog)
    ws = [ws_truth(client, A, "http")]
    r1 = request_truth(client, up)
    r1["upgrade"] = True
    r1["http1_request"] = req.decode()
    r1["http1_response_status_line"] = status_line
    reqs = [r1, request_truth(client, status)]
    srv_goaway = [r for r in SERVER_LOG.items if r["kind"] == "goaway" and r["client"] == client]
    doc = {
        "capture": NAME + ".pcap", "generator": NAME + ".gen.py",
        "description": "HTTP/1.1 GET /hello with Upgrade: h2c + HTTP2-Settings (h2's initiate_upgrade_connection), "
                       "hypercorn answers 101 and then HTTP/2 (stream 1 = the upgraded request, 200); RFC 8441 "
                       "WebSocket /echo on stream 3, GET /status on stream 5",
        "keylog": None,
        "versions": h2lib.versions(),
        "connections": [{
            "client": client, "server": f"127.0.0.1:{PORT}", "h2": "upgrade",
            "server_enable_connect_protocol": True, "tls": None,
            "client_settings_in_http2_settings_header": settings.decode(),
            "server_settings": c.remote_settings_frames[0],
            "websockets": ws, "requests": reqs,
            "goaway": {"c2s": {"error_code": 0, "last_stream_id": 0},
                       "s2c": ({"error_code": srv_goaway[0]["code"]} if srv_goaway else None)},
        }],
    }
    with open(os.path.join(tmp, NAME + ".expected.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    port = int(client.rsplit(":", 1)[1])
    check_tcp(pcap, PORT, [port])
    opts = ["-d", f"tcp.port=={PORT},http"]
    up_rows = tshark(pcap, "http.upgrade", ["tcp.srcport", "http.upgrade", "http.response.code"], opts)
    print("tshark HTTP/1.1 upgrade rows:", up_rows)
    check_h2_streams(pcap, opts, PORT, doc["connections"])
    size = os.path.getsize(pcap)
    assert size < 2_000_000, size
    h2lib.install([NAME + ".pcap", NAME + ".expected.json"], tmp)
    print(f"{NAME}: ok, {size} bytes, client {client}; ws streams {[w['stream'] for w in ws]} "
          f"requests {[r['stream'] for r in reqs]}; ends {[w['end'] for w in ws]}")


if __name__ == "__main__":
    main()
