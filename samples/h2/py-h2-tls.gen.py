#!/usr/bin/env python3
"""py-h2-tls.pcap: WebSocket over HTTP/2 over TLS (ALPN h2), RFC 8441, with the client's key log.

Server: hypercorn on 127.0.0.1:8602 with a throwaway self-signed certificate (openssl CLI,
RSA-2048, wsd.test + localhost + 127.0.0.1), ALPN `h2, http/1.1` (hypercorn's default),
h2lib.echo_app, one ping per WebSocket right after accepting it.
Client: h2lib.H2WSClient over Python ssl (TLS 1.3, ALPN `h2` only, SNI localhost, the
certificate as its only trust anchor) with SSLContext.keylog_filename = py-h2-tls.keys
(NSS key log format, written by OpenSSL). ONE TCP connection:

  stream 1  WebSocket /echo   (offers no extension)
  stream 3  GET /hello        -> 200
  stream 5  WebSocket /chat   (offers chat.v2, chat.v1; gets chat.v1)

Messages alternate 1, 5, 1, 5 (each waits for its echo); a 20000-byte binary on stream 1 spans
two DATA frames (16384 + rest) and several TLS records. Stream 1: client close 1000
"bye over tls" (END_STREAM on the DATA frame carrying it), echoed by hypercorn. Stream 5: the
server closes 4001 "server closes" after echoing `please close`; the client echoes it, with
END_STREAM. Then client GOAWAY(NO_ERROR), close_notify, FIN.

Truth as in py-h2c.gen.py (client's log for c2s, hypercorn's own sends for s2c). TLS facts are
what the client's ssl object reported; client_random is the one in the key log, checked against
the ClientHello in the capture.
"""
import json
import os
import socket
import ssl
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

NAME = "py-h2-tls"
PORT = 8602


def main():
    port_free(PORT)
    h2lib.hard_timeout(240)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    cert, key = h2lib.make_cert(tmp, ca=True)
    keys = os.path.join(tmp, NAME + ".keys")
    rng = seeded(8602)
    applog = AppLog()
    app = echo_app(applog)
    pcap = os.path.join(tmp, NAME + ".pcap")
    ctx = ssl.create_default_context(cafile=cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    ctx.keylog_filename = keys
    with Hypercorn(app, bind=[f"127.0.0.1:{PORT}"], certfile=cert, keyfile=key, websocket_ping_interval=600):
        with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
            raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
            client = fmt_addr(raw.getsockname())
            sock = ctx.wrap_socket(raw, server_hostname="localhost")
            tls = {"version": sock.version(), "cipher": sock.cipher()[0], "alpn": sock.selected_alpn_protocol(),
                   "sni": "localhost", "resumed": sock.session_reused}
            assert tls["alpn"] == "h2", tls
            c = H2WSClient(sock, f"localhost:{PORT}", "https", deadline=120)
            c.conn.initiate_connection()
            c.flush()
            c.wait(lambda: c.remote_settings, "server SETTINGS")
            assert c.conn.remote_settings.enable_connect_protocol == 1
            A = c.ws_open("/echo")
            hello = c.request("GET", "/hello")
            B = c.ws_open("/chat", subprotocols=["chat.v2", "chat.v1"])
            assert A.status == B.status == 200
            count = {A.id: 0, B.id: 0}

            def send(st, m, wait=True):
                c.send(st, m)
                count[st.id] += 1
                if wait:
                    c.wait_messages(st, count[st.id])

            send(A, "hello over h2 and tls")
            send(B, binary_payload(125, rng))
            send(A, text_payload(126))
            send(B, "")
            send(A, binary_payload(20000, rng))
            send(B, text_payload(300))
            c.wait(lambda: all(any(r["kind"] == "ping" for r in s.received) for s in (A, B)), "server pings")
            c.close(A, 1000, "bye over tls", end_stream=True)
            c.wait(lambda: A.closed, "close echo on 1")
            send(B, "please close")
            c.wait(lambda: B.closed, "server close on 5")
            c.settle(0.5)
            c.conn.close_connection()
            c.flush()
            c.deadline = time.monotonic() + 10
            sock.settimeout(5)
            try:
                plain = sock.unwrap()   # close_notify, then wait for the server's
            except (ssl.SSLError, OSError) as e:
                print("unwrap:", e)
                plain = sock
            plain.shutdown(socket.SHUT_WR)
            plain.settimeout(5)
            try:
                while plain.recv(65536):
                    pass
            except OSError:
                pass
            plain.close()
    for st in (A, B):
        cross_check(client, st, applog)
    ws = [ws_truth(client, st, "https") for st in (A, B)]
    reqs = [request_truth(client, hello)]
    randoms = [l.split()[1].lower() for l in open(keys) if l.startswith("CLIENT_HANDSHAKE_TRAFFIC_SECRET")]
    assert len(randoms) == 1, randoms
    tls["client_random"] = randoms[0]
    srv_goaway = [r for r in SERVER_LOG.items if r["kind"] == "goaway" and r["client"] == client]
    doc = {
        "capture": NAME + ".pcap", "generator": NAME + ".gen.py",
        "description": "hypercorn over TLS 1.3 (ALPN h2) and an h2+wsproto client with a key log: one TCP connection, "
                       "RFC 8441 WebSocket streams 1 (/echo, client close) and 5 (/chat, subprotocol chat.v1, server "
                       "close 4001), GET /hello on stream 3",
        "keylog": NAME + ".keys",
        "versions": h2lib.versions(),
        "connections": [{
            "client": client, "server": f"127.0.0.1:{PORT}", "h2": "alpn",
            "server_enable_connect_protocol": True, "tls": tls,
            "server_settings": c.remote_settings_frames[0],
            "websockets": ws, "requests": reqs,
            "goaway": {"c2s": {"error_code": 0, "last_stream_id": 0},
                       "s2c": ({"error_code": srv_goaway[0]["code"]} if srv_goaway else None)},
        }],
    }
    with open(os.path.join(tmp, NAME + ".expected.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # ---- capture checks
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    port = int(client.rsplit(":", 1)[1])
    check_tcp(pcap, PORT, [port])
    opts = ["-o", f"tls.keylog_file:{keys}", "-d", f"tcp.port=={PORT},tls"]
    hello_rnd = tshark(pcap, f"tls.handshake.type==1 && tcp.dstport=={PORT}", ["tls.handshake.random"], opts)
    assert [r[0].replace(":", "") for r in hello_rnd] == [tls["client_random"]], hello_rnd
    sh = tshark(pcap, "tls.handshake.type==2", ["tls.handshake.ciphersuite"], opts)
    print("ServerHello cipher suite:", sh, "reported", tls["cipher"])
    check_h2_streams(pcap, opts, PORT, doc["connections"])
    size = os.path.getsize(pcap)
    assert size < 2_000_000, size
    h2lib.install([NAME + ".pcap", NAME + ".expected.json", NAME + ".keys"], tmp)
    print(f"{NAME}: ok, {size} bytes, client {client}, {tls}; ws streams {[w['stream'] for w in ws]} "
          f"requests {[r['stream'] for r in reqs]}; ends {[w['end'] for w in ws]}")


if __name__ == "__main__":
    main()
