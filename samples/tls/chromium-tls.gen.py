#!/usr/bin/env python3
"""chromium-tls.pcap: headless Chromium's WebSocket over TLS to a Python websockets server.

A plain-HTTP page server on 127.0.0.1:8490 (http.server in a thread; NOT captured) serves
chromium-tls.page.html and receives the page's log (POST /log). The page opens
wss://localhost:8491/echo and then wss://localhost:8491/again; the websockets 17.4 server on
127.0.0.1:8491 (Python ssl, self-signed certificate for wsd.test/localhost/127.0.0.1, ALPN
http/1.1) echoes every message and pings once. Chromium runs with --ignore-certificate-errors,
a throwaway --user-data-dir, --host-resolver-rules "MAP localhost 127.0.0.1" (only IPv4, so no
refused [::1] attempt in the capture) and SSLKEYLOGFILE: its key log is chromium-tls.keys (the
server's own key log must hold the same secrets).

Truth: c2s messages and closes from the page's own log (what it passed to WebSocket.send /
close), s2c from the server (what the handler passed to send, the close frame websockets
recorded in close_sent, its ping). The TLS facts are what the server's ssl_object reported
(the page cannot see them); the client random is the one that appeared in the server's key log
while the connection was being made. The browser's automatic pongs are not listed (pings[]
lists pings only).
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytls  # noqa: E402
from pytls import (HERE, Endpoints, Expected, KeyLog, asyncio, capture, finish, fmt_addr,  # noqa: E402
                   port_free, self_signed, tempfile, tls_facts, ws_close_sent, COMMON)

NAME = "chromium-tls"
HTTP_PORT, PORT = 8490, 8491
PAGE = os.path.join(HERE, f"{NAME}.page.html")


def page_server(got_log):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/":
                body = open(PAGE, "rb").read()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            data = self.rfile.read(n)
            self.send_response(204)
            self.end_headers()
            if self.path == "/log":
                got_log(json.loads(data))

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    port_free(PORT)
    port_free(HTTP_PORT)
    exp = Expected()
    with tempfile.TemporaryDirectory() as tmp:
        eps = Endpoints(tmp, *self_signed(tmp))
        server_keys = KeyLog(eps.server_keys)
        assigned = set()
        log_box = {}
        done = threading.Event()

        def got_log(log):
            log_box["log"] = log
            done.set()
        web = page_server(got_log)

        from websockets.asyncio.server import serve
        from websockets.exceptions import ConnectionClosed

        async def handler(ws):
            client = fmt_addr(ws.remote_address)
            rec = exp.open(client, fmt_addr(ws.local_address))
            rec.handshake(101, ws.subprotocol, [])
            rec.path = ws.request.path
            rec.client_offered_extensions = ws.request.headers.get("Sec-WebSocket-Extensions")
            obj = ws.transport.get_extra_info("ssl_object")
            t = tls_facts(eps.server, obj)
            new = [r for r in server_keys.randoms() if r not in assigned]
            if len(new) != 1:
                raise RuntimeError(f"{client}: expected one new client random, got {new}")
            assigned.add(new[0])
            rec.d["tls"] = {"version": t["version"], "cipher": t["cipher"], "sni": eps.sni_seen.get(id(obj)),
                            "alpn": t["alpn"], "resumed": t["resumed"], "keyed": True, "client_random": new[0]}
            n = 0
            try:
                async for msg in ws:
                    rec.message("s2c", msg)
                    await ws.send(msg)
                    n += 1
                    if n == 1:
                        rec.ping("s2c", b"srv-ping")
                        await ws.ping(b"srv-ping")
            except ConnectionClosed:
                pass
            await ws.wait_closed()
            ws_close_sent(ws, "s2c", rec)

        async def run():
            async with serve(handler, "127.0.0.1", PORT, ssl=eps.server, **COMMON):
                profile = tempfile.mkdtemp(prefix="chromium-tls-", dir=tmp)
                env = dict(os.environ, SSLKEYLOGFILE=eps.client_keys)
                chrome = subprocess.Popen(
                    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
                     "--ignore-certificate-errors", "--host-resolver-rules=MAP localhost 127.0.0.1",
                     "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}",
                     f"http://127.0.0.1:{HTTP_PORT}/"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
                try:
                    t0 = time.monotonic()
                    while not done.is_set():
                        if time.monotonic() - t0 > 60:
                            raise RuntimeError("page log timeout")
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(0.5)
                finally:
                    try:
                        os.killpg(chrome.pid, signal.SIGTERM)
                        chrome.wait(timeout=5)
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        try:
                            os.killpg(chrome.pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                        chrome.wait(timeout=5)
                    err = chrome.stderr.read().decode(errors="replace")
                    for line in err.splitlines():
                        if "CONSOLE" in line:
                            print("chromium:", line[line.find("CONSOLE"):])

        with capture(tmp, NAME, PORT):
            asyncio.run(asyncio.wait_for(run(), 120))
        web.shutdown()
        log = log_box["log"]
        if log.get("error"):
            raise RuntimeError(f"page: {log['error']}")

        # merge the page's log (c2s) with the server's (s2c)
        if len(exp.conns) != len(log["sockets"]):
            raise RuntimeError(f"server saw {len(exp.conns)} connections, page {len(log['sockets'])}")
        for rec, ps in zip(exp.conns, log["sockets"]):
            if rec.path != ps["path"]:
                raise RuntimeError("connection order mismatch")
            sent = ps["sent"] + ps["burst_sent"]
            if ps["echoes_ok"] != len(sent):
                raise RuntimeError(f"{ps['path']}: page saw {ps['echoes_ok']}/{len(sent)} good echoes")
            s2c = rec.d["messages"]
            if [(m["opcode"], m["len"], m["sha256"]) for m in s2c] != \
               [(m["opcode"], m["len"], m["sha256"]) for m in sent]:
                raise RuntimeError(f"{ps['path']}: the server's echoes are not the page's messages")
            k = len(ps["sent"])
            rec.d["messages"] = ([m for pair in zip(ps["sent"], s2c[:k]) for m in pair]
                                 + ps["burst_sent"] + s2c[k:])
            rec.d["closes"] = ps["closes_sent"] + rec.d["closes"]
            rec.d["client_offered_extensions"] = rec.client_offered_extensions
            rec.d["extensions_seen_by_page"] = ps["extensions_seen_by_page"]
            rec.d["page_close_event"] = ps["close_event"]
        version = subprocess.run(["chromium", "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()

        # Chromium's key log (SSLKEYLOGFILE) must hold the server's secrets for these connections
        ck = set(KeyLog(eps.client_keys).lines())
        sk = set(KeyLog(eps.server_keys).lines())
        labels = {ln.split()[0] for ln in ck}
        if {ln for ln in sk if ln.split()[0] in labels} - ck:
            raise RuntimeError("Chromium's key log lacks secrets the server logged")
        eps.server_keys = eps.client_keys  # finish() compares the two files; done above
        return finish(NAME, tmp, eps, exp, PORT,
                      f"Headless {version} ({log['userAgent']}) loads http://127.0.0.1:{HTTP_PORT}/ (plain HTTP, "
                      "not captured) and opens two WebSockets one after the other: wss://localhost:8491/echo and "
                      "wss://localhost:8491/again (localhost mapped to 127.0.0.1; certificate errors ignored). Server: "
                      "websockets 17.4 on Python ssl (OpenSSL), ALPN http/1.1, compression off. /echo: the page sends "
                      "ASCII text, empty text, empty ArrayBuffer, text 125, binary 125, text 126, binary 126, "
                      "binary 65536, binary 102400, text 70000, each waiting for its echo, then 5 messages (1, 2, 30, "
                      "200, 7 B) back to back; closes 1000 'done over tls'. /again: text 'hello #2', binary 16, "
                      "text 300, binary 1000, close 4000 'second socket done'. The server echoes every message, "
                      "sends one ping 'srv-ping' after its first echo (the browser's pong is not listed) and echoes "
                      "the close. c2s from the page's log, s2c from the server's; TLS facts from the server's "
                      "ssl_object; key log from Chromium's SSLKEYLOGFILE.",
                      extra={"tls_facts_from": "server (Python ssl_object)", "client": version})


if __name__ == "__main__":
    sys.exit(main())
