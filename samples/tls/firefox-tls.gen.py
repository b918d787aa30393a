#!/usr/bin/env python3
"""firefox-tls.pcap: headless Firefox ESR's WebSocket over TLS to a Python websockets server.

Made like chromium-tls.pcap. A plain-HTTP page server on 127.0.0.1:8492 (http.server in a
thread; NOT captured) serves firefox-tls.page.html and receives the page's log (POST /log). The
page opens wss://localhost:8493/echo and then wss://localhost:8493/again; the websockets 17.4
server on 127.0.0.1:8493 (Python ssl, self-signed certificate for wsd.test/localhost/127.0.0.1,
ALPN http/1.1 only, so no WebSocket over HTTP/2) echoes every message and pings once.

Firefox (Debian firefox-esr, its own bundled NSS) runs with --headless in a throwaway profile:
  * the certificate is imported into the profile's NSS database with certutil (libnss3-tools)
    as a trust anchor ("C,,"). The pytls.self_signed() certificate does not work that way: it is
    CA:TRUE (what `openssl req -x509` makes by default), and Firefox refused it even as an
    imported anchor (both WebSockets failed, the server saw no connection; mozilla::pkix does not
    accept a CA certificate as the server's own certificate). So this generator's certificate
    says CA:FALSE (keyUsage/extendedKeyUsage for a TLS server; otherwise like self_signed());
  * user.js turns off what makes network noise (telemetry, updates, captive portal and
    connectivity checks, safe browsing, remote settings, prefetch/speculative connections, DoH)
    and IPv6 (localhost must resolve to 127.0.0.1 only: no refused [::1] attempt in the capture);
  * SSLKEYLOGFILE: NSS writes the key log, which is firefox-tls.keys (the server's own key log
    must hold the same secrets).

Truth: c2s messages and closes from the page's own log (what it passed to WebSocket.send /
close), s2c from the server (what the handler passed to send, the close frame websockets
recorded in close_sent, its ping). The TLS facts are what the server's ssl_object reported
(the page cannot see them); the client random is the one that appeared in the server's key log
while the connection was being made. The ALPN list Firefox offered is read from the ClientHellos
in the capture (tshark) and recorded as "client_alpn_offered" (it is not a sender's log). The
browser's automatic pongs are not listed (pings[] lists pings only).
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
from pytls import (HERE, SNI, Endpoints, Expected, KeyLog, asyncio, capture, finish, fmt_addr,  # noqa: E402
                   port_free, tempfile, tls_facts, tshark_fields, ws_close_sent, COMMON)

NAME = "firefox-tls"
HTTP_PORT, PORT = 8492, 8493
PAGE = os.path.join(HERE, f"{NAME}.page.html")
FIREFOX = "firefox-esr"

# Prefs for the throwaway profile: nothing but the page and its WebSockets on the network.
PREFS = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.ping-centre.telemetry": False,
    "browser.tabs.warnOnClose": False,
    "browser.sessionstore.resume_from_crash": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.coverage.endpoint.base": "",
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.update.disabledForTesting": True,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "browser.search.update": False,
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "services.settings.server": "http://127.0.0.1:1/",
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "security.OCSP.enabled": 0,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.trr.mode": 5,
    "network.dns.disableIPv6": True,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.predictor.enabled": False,
    "network.http.speculative-parallel-limit": 0,
    "network.http.http3.enable": False,
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False,
    "geo.provider.network.url": "",
    "identity.fxaccounts.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "browser.discovery.enabled": False,
    "devtools.console.stdout.content": True,  # the page's console.log on stdout
}


def firefox_cert(tmp):
    """Like pytls.self_signed(), but CA:FALSE (see the module docstring)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    conf = os.path.join(tmp, "req.cnf")
    with open(conf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
                f"[dn]\nCN = {SNI}\n"
                "[ext]\nbasicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectKeyIdentifier = hash\n"
                f"subjectAltName = DNS:{SNI}, DNS:localhost, IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-x509", "-config", conf, "-newkey", "rsa:2048", "-nodes",
                    "-sha256", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def make_profile(profile, cert):
    os.makedirs(profile)
    db = f"sql:{profile}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True, timeout=30)
    subprocess.run(["certutil", "-A", "-n", "wsd", "-t", "C,,", "-i", cert, "-d", db],
                   check=True, timeout=30)
    with open(os.path.join(profile, "user.js"), "w") as f:
        for k, v in PREFS.items():
            f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")


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


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def main():
    port_free(PORT)
    port_free(HTTP_PORT)
    exp = Expected()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = firefox_cert(tmp)
        eps = Endpoints(tmp, cert, key)
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

        console = []

        async def run():
            async with serve(handler, "127.0.0.1", PORT, ssl=eps.server, **COMMON):
                profile = os.path.join(tmp, "profile")
                make_profile(profile, cert)
                home = os.path.join(tmp, "home")
                os.makedirs(home)
                env = dict(os.environ, SSLKEYLOGFILE=eps.client_keys, HOME=home,
                           MOZ_CRASHREPORTER_DISABLE="1", MOZ_CRASHREPORTER="0")
                env.pop("DISPLAY", None)
                env.pop("WAYLAND_DISPLAY", None)
                ff = subprocess.Popen(
                    [FIREFOX, "--headless", "--no-remote", "--new-instance", "--profile", profile,
                     f"http://127.0.0.1:{HTTP_PORT}/"],
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
                reader = threading.Thread(target=lambda: console.extend(
                    ff.stdout.read().decode(errors="replace").splitlines()), daemon=True)
                reader.start()
                try:
                    t0 = time.monotonic()
                    while not done.is_set():
                        if time.monotonic() - t0 > 90:
                            raise RuntimeError("page log timeout")
                        if ff.poll() is not None:
                            raise RuntimeError(f"firefox exited with {ff.returncode}")
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(0.5)
                finally:
                    stop(ff)
                    reader.join(timeout=10)
                    for line in console:
                        if "console.log" in line or "JavaScript" in line or "error" in line.lower():
                            print("firefox:", line)

        with capture(tmp, NAME, PORT):
            asyncio.run(asyncio.wait_for(run(), 150))
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
        version = subprocess.run([FIREFOX, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()

        # What Firefox offered in ALPN, from the ClientHellos in the capture (one per connection)
        cap_tmp = os.path.join(tmp, f"{NAME}.pcap")
        offered = {}
        for stream, rnd, alpn in tshark_fields(cap_tmp, "tls.handshake.type==1", "tcp.stream",
                                               "tls.handshake.random", "tls.handshake.extensions_alpn_str",
                                               opts=["-d", f"tcp.port=={PORT},tls"]):
            offered.setdefault(rnd.replace(":", "").lower(), alpn.split(","))
        for rec in exp.conns:
            rec.d["tls"]["client_alpn_offered"] = offered.get(rec.d["tls"]["client_random"])

        # Firefox's key log (SSLKEYLOGFILE) must hold the server's secrets for these connections,
        # and nothing else (no other TLS connection was made)
        ck = set(KeyLog(eps.client_keys).lines())
        sk = set(KeyLog(eps.server_keys).lines())
        labels = {ln.split()[0] for ln in ck}
        if {ln for ln in sk if ln.split()[0] in labels} - ck:
            raise RuntimeError("Firefox's key log lacks secrets the server logged")
        extra_randoms = set(KeyLog(eps.client_keys).randoms()) - assigned
        if extra_randoms:
            raise RuntimeError(f"Firefox's key log has other connections: {sorted(extra_randoms)}")
        if labels - {ln.split()[0] for ln in sk}:
            print("note: Firefox's key log has labels the server's has not:",
                  sorted(labels - {ln.split()[0] for ln in sk}))
        eps.server_keys = eps.client_keys  # finish() compares the two files; done above
        return finish(NAME, tmp, eps, exp, PORT,
                      f"Headless {version} ({log['userAgent']}) loads http://127.0.0.1:{HTTP_PORT}/ (plain HTTP, "
                      "not captured) and opens two WebSockets one after the other: wss://localhost:8493/echo and "
                      "wss://localhost:8493/again (IPv6 off in the profile, so localhost is 127.0.0.1 only; the "
                      "self-signed certificate imported into the throwaway profile's NSS database as a trust "
                      "anchor). Server: websockets 17.4 on Python ssl (OpenSSL), ALPN http/1.1 only, compression "
                      "off. /echo: the page sends ASCII text, empty text, empty ArrayBuffer, text 125, binary 125, "
                      "text 126, binary 126, binary 65536, binary 102400, text 70000, each waiting for its echo, "
                      "then 5 messages (1, 2, 30, 200, 7 B) back to back; closes 1000 'done over tls'. /again: "
                      "text 'hello #2', binary 16, text 300, binary 1000, close 4000 'second socket done'. The "
                      "server echoes every message, sends one ping 'srv-ping' after its first echo (the browser's "
                      "pong is not listed) and echoes the close. c2s from the page's log, s2c from the server's; "
                      "TLS facts from the server's ssl_object (tls.client_alpn_offered from the ClientHello in "
                      "the capture); key log from Firefox's SSLKEYLOGFILE (NSS).",
                      extra={"tls_facts_from": "server (Python ssl_object)", "client": version})


if __name__ == "__main__":
    sys.exit(main())
