#!/usr/bin/env python3
"""firefox-h2.pcap: headless Firefox ESR's WebSockets over HTTP/2 (RFC 8441) to hypercorn over TLS.

hypercorn on 127.0.0.1:8605 (captured): TLS (throwaway self-signed CA:FALSE certificate for
wsd.test/localhost/127.0.0.1, imported into the throwaway Firefox profile as a trust anchor, as in
../tls/firefox-tls.gen.py), ALPN h2 + http/1.1 (hypercorn's default), ENABLE_CONNECT_PROTOCOL=1,
h2lib.echo_app serving firefox-h2.page.html at `/` and echoing WebSocket messages, one server
ping per WebSocket right after accepting it (websocket_ping_interval).

Firefox (`firefox-esr --headless`, profile prefs from ../tls/firefox-tls.gen.py; the pref
`network.http.http2.websockets` is left at its default) loads https://localhost:8605/ (over
HTTP/2: ALPN h2), and the page opens wss://localhost:8605/echo and wss://localhost:8605/chat
(offering chat.v2, chat.v1) — RFC 8441 streams on the same HTTP/2 connection. The page sends
messages alternately on the two, waits for each echo, then closes /echo with 1000 "done over h2"
and /chat with 4000 "second socket done". It logs what it passed to send()/close() and POSTs
the log to a plain-HTTP server on 127.0.0.1:8606 (not captured). SSLKEYLOGFILE = firefox-h2.keys.

Truth: c2s messages and closes from the page's log; s2c from hypercorn's own log (every wsproto
event its WSStream sent, incl. the ping and the close echoes; END_STREAM/RST_STREAM it sent);
the HTTP/2 stream ids, the browser's request headers (as hypercorn received them: what Firefox
sent in its extended CONNECT) and ordinary requests (the page, favicon) from hypercorn's log;
TLS facts from hypercorn's ssl_object. The browser's automatic pongs are not listed (a page cannot
log them). Whether each c2s message was compressed (RSV1) is what hypercorn's wsproto parsed. How Firefox ends each stream is read from the capture
(tshark, with the key log) and recorded as `end_c2s_seen_in_capture` (no sender log can say it).
"""
import http.server
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2lib  # noqa: E402
from h2lib import (HERE, AppLog, Capture, Hypercorn, SERVER_LOG, echo_app, port_free, tshark,  # noqa: E402
                   check_h2_streams)

NAME = "firefox-h2"
PORT, HTTP_PORT = 8605, 8606
FIREFOX = "firefox-esr"
LINGER = 4.0

spec = importlib.util.spec_from_file_location("fftls", os.path.join(os.path.dirname(HERE), "tls", "firefox-tls.gen.py"))
fftls = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fftls)
PREFS = dict(fftls.PREFS)
EXTRA_PREFS = json.loads(os.environ.get("FIREFOX_H2_PREFS", "{}"))  # for experiments only
PREFS.update(EXTRA_PREFS)


def log_server(box, done):
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            data = self.rfile.read(n)
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            if self.path == "/log":
                if "log" not in box:
                    box["log"] = json.loads(data)
                    box["via"] = "POST"
                done.set()

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def make_profile(profile, cert):
    os.makedirs(profile)
    db = f"sql:{profile}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True, timeout=30)
    subprocess.run(["certutil", "-A", "-n", "wsd", "-t", "C,,", "-i", cert, "-d", db], check=True, timeout=30)
    with open(os.path.join(profile, "user.js"), "w") as f:
        for k, v in PREFS.items():
            f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")


INBOUND = {}  # (client, stream) -> [rsv1 of each data message's first frame as hypercorn's wsproto parsed it]


def patch_inbound_rsv1():
    """Whether each c2s message was compressed: the page cannot know, so take it from the receiver,
    hypercorn's wsproto PerMessageDeflate, which sees RSV1 of every frame (only called once
    permessage-deflate is enabled on the stream; otherwise nothing can be compressed)."""
    from hypercorn.protocol import ws_stream
    from wsproto.extensions import PerMessageDeflate
    from wsproto.frame_protocol import Opcode
    o_accept = ws_stream.WSStream._accept

    async def _accept(self, message):
        r = await o_accept(self, message)
        lst = INBOUND.setdefault((h2lib.fmt_addr(self.client), self.stream_id), [])
        for e in self.connection._proto.extensions:
            e._wsd_inbound = lst
        return r
    ws_stream.WSStream._accept = _accept
    o_hdr = PerMessageDeflate.frame_inbound_header

    def frame_inbound_header(self, proto, opcode, rsv, payload_length):
        if opcode in (Opcode.TEXT, Opcode.BINARY) and hasattr(self, "_wsd_inbound"):
            self._wsd_inbound.append(bool(rsv[0]))
        return o_hdr(self, proto, opcode, rsv, payload_length)
    PerMessageDeflate.frame_inbound_header = frame_inbound_header


def main():
    patch_inbound_rsv1()
    port_free(PORT, HTTP_PORT)
    h2lib.hard_timeout(280)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    cert, key = h2lib.make_cert(tmp, ca=False)
    keys = os.path.join(tmp, NAME + ".keys")
    pcap = os.path.join(tmp, NAME + ".pcap")
    applog = AppLog()
    app = echo_app(applog)
    app.page = open(os.path.join(HERE, NAME + ".page.html"), "rb").read()
    box, done = {}, threading.Event()
    web = log_server(box, done)
    console = []
    with Hypercorn(app, bind=[f"127.0.0.1:{PORT}"], certfile=cert, keyfile=key, websocket_ping_interval=600) as hc:
        with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
            profile = os.path.join(tmp, "profile")
            make_profile(profile, cert)
            home = os.path.join(tmp, "home")
            os.makedirs(home)
            env = dict(os.environ, SSLKEYLOGFILE=keys, HOME=home, MOZ_CRASHREPORTER_DISABLE="1", MOZ_CRASHREPORTER="0")
            env.pop("DISPLAY", None)
            env.pop("WAYLAND_DISPLAY", None)
            ff = subprocess.Popen([FIREFOX, "--headless", "--no-remote", "--new-instance", "--profile", profile,
                                   f"https://localhost:{PORT}/"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

            def reader():
                for line in ff.stdout:
                    line = line.decode(errors="replace").rstrip("\n")
                    console.append(line)
                    if line.startswith('console.log: "WSD-LOG ') and "log" not in box:
                        try:  # console.log prints the string as a JSON string literal
                            box["log"] = json.loads(json.loads(line.split("console.log: ", 1)[1])[len("WSD-LOG "):])
                            box["via"] = "console"
                            done.set()
                        except ValueError:
                            pass
            rt = threading.Thread(target=reader, daemon=True)
            rt.start()
            try:
                t0 = time.monotonic()
                while not done.is_set():
                    if time.monotonic() - t0 > 90:
                        raise RuntimeError("page log timeout")
                    if ff.poll() is not None:
                        raise RuntimeError(f"firefox exited with {ff.returncode}")
                    time.sleep(0.1)
                time.sleep(LINGER)  # Firefox idle with both WebSockets closed, before it is told to quit
                t_term = time.monotonic()
            finally:
                fftls.stop(ff)
                rt.join(timeout=10)
                for line in console:
                    if "WSD-" in line or "rror" in line:
                        print("firefox:", line[:300])
            time.sleep(0.5)
    web.shutdown()
    log = box["log"]
    if log.get("error"):
        raise RuntimeError(f"page: {log['error']}")
    version = subprocess.run([FIREFOX, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()

    # ---- truth from the page's log (c2s) and hypercorn's (s2c, stream ids, request headers)
    items = SERVER_LOG.items
    conns = []
    for tc in [i for i in items if i["kind"] == "tcp-connection"]:
        client = tc["client"]
        mine = [i for i in items if i.get("client") == client]
        reqs = [i for i in mine if i["kind"] == "request"]
        websockets, requests = [], []
        for rq in reqs:
            hd = dict(rq["headers"])
            sid = rq["stream"]
            resp = [i for i in mine if i["kind"] == "headers" and i["stream"] == sid]
            status = int(dict(resp[0]["headers"])[":status"]) if resp else None
            if hd.get(":method") == "CONNECT":
                page = [s for s in log["sockets"] if s["path"] == hd[":path"]]
                assert len(page) == 1, (hd, log["sockets"])
                ps = page[0]
                srv = [i for i in mine if i["stream"] == sid]
                s2c = [dict(dir="s2c", opcode=i["opcode"], len=i["len"], sha256=i["sha256"], compressed=i["compressed"])
                       for i in srv if i["kind"] == "message"]
                rsv1 = INBOUND.get((client, sid), [])
                assert len(rsv1) in (0, len(ps["sent"])), (rsv1, ps["sent"])
                c2s = [dict(m, compressed=rsv1[k] if rsv1 else False) for k, m in enumerate(ps["sent"])]
                # the server echoes every message: its log must be the page's messages
                assert [(m["opcode"], m["len"], m["sha256"]) for m in s2c] == \
                       [(m["opcode"], m["len"], m["sha256"]) for m in c2s], f"{hd[':path']}: echoes differ"
                assert ps["echoes_ok"] == len(c2s), ps
                ends = [i for i in srv if i["kind"] in ("end_stream", "rst_stream")]
                rhd = dict(resp[0]["headers"])
                websockets.append({
                    "stream": sid, "path": hd[":path"], "authority": hd.get(":authority"), "scheme": hd.get(":scheme"),
                    "status": status, "subprotocol": rhd.get("sec-websocket-protocol"),
                    "extensions": [rhd["sec-websocket-extensions"]] if "sec-websocket-extensions" in rhd else [],
                    "request_headers": rq["headers"], "response_headers": resp[0]["headers"],
                    "messages": c2s + s2c,
                    "closes": ps["closes_sent"] + [dict(dir="s2c", code=i["code"], reason=i["reason"])
                                                   for i in srv if i["kind"] == "close"],
                    "pings": [dict(dir="s2c", len=i["len"]) for i in srv if i["kind"] == "ping"],
                    "end": {"c2s": None, "s2c": ends[0]["kind"] if ends else "none"},
                    "page_close_event": ps["close_event"], "extensions_seen_by_page": ps["extensions"],
                    "protocol_seen_by_page": ps["protocol"],
                })
            else:
                requests.append({"stream": sid, "method": hd.get(":method"), "path": hd.get(":path"), "status": status})
        conns.append({"client": client, "server": f"127.0.0.1:{PORT}",
                      "h2": "alpn" if tc.get("tls", {}).get("alpn") == "h2" else "none (HTTP/1.1)",
                      "server_enable_connect_protocol": True, "tls": dict(tc.get("tls") or {}, sni="localhost"),
                      "websockets": websockets, "requests": requests})
    # key log: one client random per connection, in order; ClientHello randoms and ALPN offer from the capture
    opts = ["-o", f"tls.keylog_file:{keys}", "-d", f"tcp.port=={PORT},tls"]
    hellos = tshark(pcap, f"tls.handshake.type==1 && tcp.dstport=={PORT}",
                    ["tcp.srcport", "tls.handshake.random", "tls.handshake.extensions_alpn_str"], opts)
    by_port = {r[0]: (r[1].replace(":", ""), r[2].split("|")) for r in hellos}
    logged = {l.split()[1].lower() for l in open(keys) if l.strip() and not l.startswith("#")}
    for c in conns:
        rnd, alpn = by_port[c["client"].rsplit(":", 1)[1]]
        assert rnd in logged, f"{c['client']}: no key log line"
        c["tls"]["client_random"] = rnd
        c["tls"]["client_alpn_offered"] = alpn
    assert logged == {c["tls"]["client_random"] for c in conns}, "key log has other connections"
    t_term_epoch = time.time() - (time.monotonic() - t_term)
    rst_codes = tshark(pcap, f"http2.type==3 && tcp.dstport=={PORT}", ["http2.streamid", "http2.rst_stream.error"], opts)
    # how Firefox ended each WebSocket stream: read from the capture (no sender log can say it)
    frames = tshark(pcap, f"http2 && tcp.dstport=={PORT}",
                    ["tcp.srcport", "http2.streamid", "http2.type", "http2.flags", "frame.time_epoch"], opts)
    for c in conns:
        cport = c["client"].rsplit(":", 1)[1]
        for w in c["websockets"]:
            how = []
            for r in frames:
                if r[0] != cport:
                    continue
                for s, t, f in zip(r[1].split("|"), r[2].split("|"), r[3].split("|")):
                    if int(s) == w["stream"] and ((t == "0" and int(f, 16) & 1) or t == "3"):
                        how.append({"frame": "DATA with END_STREAM" if t == "0" else "RST_STREAM",
                                    "seconds_before_firefox_was_told_to_quit": round(t_term_epoch - float(r[4]), 3)})
            w["end"]["c2s"] = ("end_stream" if how[0]["frame"].startswith("DATA") else "rst_stream") if how else "none"
            w["end_c2s_seen_in_capture"] = how
            w["rst_stream_error_c2s"] = [int(e) for row in rst_codes for sid_, e in zip(row[0].split("|"), row[1].split("|"))
                                         if int(sid_) == w["stream"]]
    doc = {"capture": NAME + ".pcap", "generator": NAME + ".gen.py + " + NAME + ".page.html",
           "description": f"Headless {version} loads https://localhost:{PORT}/ from hypercorn over TLS + ALPN h2 and "
                          "opens wss://localhost:8605/echo and /chat as RFC 8441 extended CONNECT streams on that "
                          "HTTP/2 connection; alternating echoes, page closes 1000 and 4000",
           "keylog": NAME + ".keys", "versions": h2lib.versions(firefox=version),
           "firefox_prefs_set": {k: PREFS[k] for k in EXTRA_PREFS}, "page_log_via": box.get("via"),
           "connections": conns}
    with open(os.path.join(tmp, NAME + ".expected.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # ---- checks
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    syns = sorted(r[0] for r in tshark(pcap, f"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport=={PORT}", ["tcp.srcport"]))
    assert syns == sorted(c["client"].rsplit(":", 1)[1] for c in conns), (syns, conns)
    fins = {(r[0], r[1]) for r in tshark(pcap, f"tcp.flags.fin==1 && tcp.port=={PORT}", ["tcp.srcport", "tcp.dstport"])}
    rsts = {(r[0], r[1]) for r in tshark(pcap, f"tcp.flags.reset==1 && tcp.port=={PORT}", ["tcp.srcport", "tcp.dstport"])}
    for p in syns:
        a, b = (p, str(PORT)), (str(PORT), p)
        assert (a in fins or a in rsts) and (b in fins or b in rsts) and (a in fins or b in fins), f"{p} not captured to its end"
    check_h2_streams(pcap, opts, PORT, conns)
    assert any(c["websockets"] for c in conns), "no WebSocket over HTTP/2 in the capture"
    size = os.path.getsize(pcap)
    assert size < 2_000_000, size
    h2lib.install([NAME + ".pcap", NAME + ".expected.json", NAME + ".keys"], tmp)
    for c in conns:
        print(f"{NAME}: conn {c['client']} h2={c['h2']} ws streams {[(w['stream'], w['path'], w['end']) for w in c['websockets']]} "
              f"requests {[(r['stream'], r['path'], r['status']) for r in c['requests']]}")
    print(f"{NAME}: ok, {size} bytes")


if __name__ == "__main__":
    main()
