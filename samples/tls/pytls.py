"""Shared helpers for the samples/tls/py-* generators (wss:// over loopback).

Builds on ../lib/pyws.py (tcpdump wrapper, expected-log recorder, payloads):

  * self_signed()         - a throwaway RSA certificate for wsd.test (openssl CLI) in a temp dir
  * with_tls13_suites()   - re-exec the generator with OPENSSL_CONF pointing at a config whose
                            system_default section sets `Ciphersuites` (Python 3.11's ssl module
                            has no set_ciphersuites(); OpenSSL applies system_default to every
                            SSL_CTX the process creates, and Python never touches the TLS 1.3
                            suites itself)
  * contexts()            - client + server SSLContexts (ALPN http/1.1, key logs, SNI recorder)
  * run_connection()      - one websockets client connection against the echo server, with the
                            full or the small message set; records the TLS facts both endpoints
                            reported after the handshake
  * KeyLog                - the key log file written by OpenSSL: which client randoms appeared
                            while a given connection was being made
  * finish()              - checks (tcpdump drops, SYN/FIN per connection, client and server key
                            logs identical), then copies capture + keys + expected into samples/tls
"""

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SAMPLES, "lib"))

from pyws import (Capture, Expected, binary_payload, connected_socket, fmt_addr,  # noqa: E402
                  seeded, text_payload, ws_close_sent, ws_extensions)

SNI = "wsd.test"
ALPN = ["http/1.1"]
COMMON = dict(compression=None, ping_interval=None, max_size=None)

# OpenSSL cipher name -> IANA name (only the suites these samples use; checked against the
# 16-bit id OpenSSL reports, see iana_cipher()).
IANA = {
    "TLS_AES_128_GCM_SHA256": (0x1301, "TLS_AES_128_GCM_SHA256"),
    "TLS_AES_256_GCM_SHA384": (0x1302, "TLS_AES_256_GCM_SHA384"),
    "TLS_CHACHA20_POLY1305_SHA256": (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    "ECDHE-RSA-AES128-GCM-SHA256": (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    "ECDHE-RSA-AES256-GCM-SHA384": (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    "ECDHE-RSA-CHACHA20-POLY1305": (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    "TLS_AES_128_CCM_SHA256": (0x1304, "TLS_AES_128_CCM_SHA256"),
    "ECDHE-RSA-AES128-SHA": (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    "ECDHE-RSA-AES128-SHA256": (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    "ECDHE-RSA-AES256-SHA384": (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
}

# ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"


def iana_cipher(ctx, openssl_name):
    code, iana = IANA[openssl_name]
    ids = {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}
    if openssl_name in ids and ids[openssl_name] != code:
        raise RuntimeError(f"{openssl_name}: OpenSSL id {ids[openssl_name]:#x}, table says {code:#x}")
    return iana


# --------------------------------------------------------------------------- setup

def with_tls13_suites(suites):
    """Make sure this process runs with OpenSSL's TLS 1.3 suites limited to `suites`.

    The config must be in place before libssl initialises, so the generator re-execs itself
    with OPENSSL_CONF set (the file is removed by the re-executed process at the end)."""
    if os.environ.get("WSD_TLS13_SUITES") == suites:
        return
    fd, path = tempfile.mkstemp(prefix="wsd-openssl-", suffix=".cnf")
    with os.fdopen(fd, "w") as f:
        f.write("openssl_conf = openssl_init\n\n"
                "[openssl_init]\nssl_conf = ssl_sect\n\n"
                "[ssl_sect]\nsystem_default = system_default_sect\n\n"
                f"[system_default_sect]\nCiphersuites = {suites}\n")
    env = dict(os.environ, OPENSSL_CONF=path, WSD_TLS13_SUITES=suites, WSD_OPENSSL_CONF_TMP=path)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def tls13_suites_in_effect():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"]


def self_signed(tmp):
    """RSA-2048 self-signed certificate for wsd.test (also localhost / 127.0.0.1)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", "2", "-subj", f"/CN={SNI}", "-keyout", key, "-out", cert,
                    "-addext", f"subjectAltName=DNS:{SNI},DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Endpoints:
    """Server context + a factory for client contexts, all logging keys into tmp."""

    def __init__(self, tmp, cert, key, max_version=None, server_options=0):
        self.tmp, self.cert = tmp, cert
        self.server_keys = os.path.join(tmp, "server.keys")
        self.client_keys = os.path.join(tmp, "client.keys")
        self.sni_seen = {}  # id(SSLObject) -> server name the server got
        s = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        s.load_cert_chain(cert, key)
        s.set_alpn_protocols(ALPN)
        s.keylog_filename = self.server_keys
        s.options |= server_options
        if max_version:
            s.maximum_version = max_version

        def sni_cb(sslobj, name, _ctx):
            self.sni_seen[id(sslobj)] = name
        s.sni_callback = sni_cb
        self.server = s

    def client(self, max_version=None, ciphers=None, options=0, min_version=None):
        c = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(self.cert)  # verify the self-signed cert and the name wsd.test
        c.set_alpn_protocols(ALPN)
        c.keylog_filename = self.client_keys
        if max_version:
            c.maximum_version = max_version
        if min_version:
            c.minimum_version = min_version
        if ciphers:
            c.set_ciphers(ciphers)
        c.options |= options
        return c


class ResumingContext(ssl.SSLContext):
    """asyncio's SSL transport calls wrap_bio() without a session; this context hands the
    session set in `.next_session` (once) to the next SSLObject it makes."""
    next_session = None

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        session, self.next_session = self.next_session or session, None
        return super().wrap_bio(incoming, outgoing, server_side=server_side,
                                server_hostname=server_hostname, session=session)


class KeyLog:
    """Client randoms in a key log file, in order of first appearance."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]

    def randoms(self):
        out = []
        for ln in self.lines():
            r = ln.split()[1].lower()
            if r not in out:
                out.append(r)
        return out


def tls_facts(ctx, sslobj):
    name = sslobj.cipher()[0]
    return {"version": sslobj.version(), "cipher": iana_cipher(ctx, name), "cipher_openssl": name,
            "alpn": sslobj.selected_alpn_protocol(), "resumed": bool(sslobj.session_reused)}


# --------------------------------------------------------------------------- exchange

def full_messages(seed):
    """Sizes around the WebSocket length encodings plus records that span TCP segments."""
    rng = seeded(seed)
    return [text_payload(14, "hello over tls "),
            "", b"",
            text_payload(125), binary_payload(125, rng),
            text_payload(126), binary_payload(126, rng),
            binary_payload(65536, rng),
            text_payload(102400)]  # 100 KiB: 7 TLS records, several TCP segments


def burst_messages(seed):
    """Sent back to back without waiting: several TLS records in one TCP segment."""
    rng = seeded(seed)
    return [text_payload(1, "x"), binary_payload(2, rng), text_payload(30), binary_payload(200, rng),
            text_payload(7, "burst. ")]


def small_messages(seed, n):
    rng = seeded(seed)
    return [f"hello #{n}", binary_payload(16, rng), text_payload(300), binary_payload(1000, rng)]


def echo_handler(exp, eps, server_pings=True):
    """websockets server handler: echo every message, ping once after the first, log it all,
    and the TLS facts the server saw."""
    from websockets.exceptions import ConnectionClosed

    async def handler(ws):
        rec = exp[fmt_addr(ws.remote_address)]
        obj = ws.transport.get_extra_info("ssl_object")
        srv = tls_facts(eps.server, obj)
        srv["sni"] = eps.sni_seen.get(id(obj))
        rec.server_tls = srv
        n = 0
        try:
            async for msg in ws:
                rec.message("s2c", msg)
                await ws.send(msg)
                n += 1
                if n == 1 and server_pings:
                    rec.ping("s2c", b"srv-ping")
                    await ws.ping(b"srv-ping")  # pong handled by the library
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        ws_close_sent(ws, "s2c", rec)
    return handler


async def run_connection(exp, eps, ctx, port, msgs, burst=(), close=(1000, "bye"),
                         keylog=None, host="127.0.0.1", hooks=None):
    """One wss:// connection to wsd.test (the socket is connected to host:port by us).

    hooks: {i: fn(ws, ssl_object, rec)} called (awaited if it returns an awaitable) just before
    message i of msgs is logged and sent."""
    from websockets.asyncio.client import connect
    before = KeyLog(keylog or eps.client_keys).randoms()
    sock = await connected_socket(host, port)
    rec = exp.open(fmt_addr(sock.getsockname()), fmt_addr((host, port)))
    async with connect(f"wss://{SNI}:{port}/echo", sock=sock, ssl=ctx, server_hostname=SNI,
                       proxy=None, open_timeout=5, close_timeout=5, **COMMON) as ws:
        rec.handshake(ws.response.status_code, ws.subprotocol, ws_extensions(ws.response))
        obj = ws.transport.get_extra_info("ssl_object")
        cli = tls_facts(ctx, obj)
        cli["sni"] = obj.server_hostname
        for i, m in enumerate(msgs):
            if hooks and i in hooks:
                r = hooks[i](ws, obj, rec)
                if asyncio.iscoroutine(r):
                    await r
            rec.message("c2s", m)
            await ws.send(m)
            assert await asyncio.wait_for(ws.recv(), 10) == m
        if burst:
            for m in burst:
                rec.message("c2s", m)
            await asyncio.gather(*(ws.send(m) for m in burst))
            for m in burst:
                assert await asyncio.wait_for(ws.recv(), 10) == m
        rec.ping("c2s", b"ping")
        await asyncio.wait_for(await ws.ping(b"ping"), 5)
        session = obj.session
        await ws.close(*close)
        ws_close_sent(ws, "c2s", rec)
    await asyncio.sleep(0.2)  # let the server handler log its close
    new = [r for r in KeyLog(keylog or eps.client_keys).randoms() if r not in before]
    if len(new) != 1:
        raise RuntimeError(f"expected one new client random in the key log, got {new}")
    srv = rec.server_tls
    del rec.server_tls
    for k in ("version", "cipher", "alpn", "resumed", "sni"):
        if cli[k] != srv[k]:
            raise RuntimeError(f"client and server disagree on {k}: {cli[k]} vs {srv[k]}")
    rec.d["tls"] = {"version": cli["version"], "cipher": cli["cipher"], "sni": cli["sni"],
                    "alpn": cli["alpn"], "resumed": cli["resumed"], "keyed": True,
                    "client_random": new[0]}
    return rec, session


def start_server(exp, eps, port, host="127.0.0.1"):
    from websockets.asyncio.server import serve
    return serve(echo_handler(exp, eps), host, port, ssl=eps.server, **COMMON)


# --------------------------------------------------------------------------- checks and output

def port_free(port):
    out = subprocess.run(["ss", "-Htan", "exclude", "time-wait",
                          f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    if out.strip():
        raise SystemExit(f"port {port} busy; refusing to capture foreign traffic:\n{out}")


def tshark_fields(cap, flt, *fields, opts=()):
    cmd = ["tshark", "-r", cap, *opts, "-Y", flt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [ln.split("\t") for ln in out.splitlines() if ln.strip()]


def verify_capture(cap, exp, port):
    """Every SYN to the port is a logged connection, each captured to its end (FIN both ways)."""
    want = sorted(c.d["client"].rsplit(":", 1)[1] for c in exp.conns)
    got = sorted(r[0] for r in tshark_fields(
        cap, f"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport=={port}", "tcp.srcport"))
    if want != got:
        raise RuntimeError(f"capture/expected connection mismatch: {got} vs {want}")
    fins = {(r[0], r[1]) for r in tshark_fields(cap, f"tcp.flags.fin==1 && tcp.port=={port}",
                                                 "tcp.srcport", "tcp.dstport")}
    for p in want:
        if (p, str(port)) not in fins or (str(port), p) not in fins:
            raise RuntimeError(f"connection from port {p} not captured to its end")
    # The ClientHello randoms in the capture are the ones the key log names, in order (the first
    # ClientHello of each TCP stream: after a HelloRetryRequest the second one has the same random).
    hello, streams = [], set()
    for stream, rnd in tshark_fields(cap, "tls.handshake.type==1", "tcp.stream", "tls.handshake.random",
                                     opts=["-d", f"tcp.port=={port},tls"]):
        if stream not in streams:
            streams.add(stream)
            hello.append(rnd.replace(":", "").lower())
    logged = [c.d["tls"]["client_random"] for c in exp.conns]
    if hello != logged:
        raise RuntimeError(f"ClientHello randoms {hello} != key log randoms {logged}")
    # The ServerHello cipher suites in the capture are the ones the libraries reported.
    code = {iana: c for c, iana in IANA.values()}
    shello = [int(r[0], 16) for r in tshark_fields(
        cap, "tls.handshake.type==2", "tls.handshake.ciphersuite", "tls.handshake.random",
        opts=["-d", f"tcp.port=={port},tls"]) if r[1].replace(":", "").lower() != HRR_RANDOM]
    want = [code[c.d["tls"]["cipher"]] for c in exp.conns]
    if shello != want:
        raise RuntimeError(f"ServerHello suites {shello} != reported {want}")


def same_keys(eps):
    a, b = sorted(KeyLog(eps.client_keys).lines()), sorted(KeyLog(eps.server_keys).lines())
    if a != b:
        raise RuntimeError("client and server key logs differ")


def finish(name, tmp, eps, exp, port, description, keys_filter=None, extra=None, ext="pcap",
           verify=None):
    """Checks, then write samples/tls/NAME.{pcap,keys,expected.json} and run lib/check.py.

    verify: fn(capture path, exp, client key log path), extra checks (raise to refuse)."""
    cap_tmp = os.path.join(tmp, f"{name}.{ext}")
    verify_capture(cap_tmp, exp, port)
    if verify:
        verify(cap_tmp, exp, eps.client_keys)
    same_keys(eps)
    keys = open(eps.client_keys).read()
    if keys_filter:
        keys = keys_filter(keys)
    shutil.copy(cap_tmp, os.path.join(HERE, f"{name}.{ext}"))
    with open(os.path.join(HERE, f"{name}.keys"), "w") as f:
        f.write(keys)
    doc = {"keylog": f"{name}.keys",
           "tls_library": f"Python {sys.version.split()[0]} ssl, {ssl.OPENSSL_VERSION}",
           "tls13_ciphersuites_config": os.environ.get("WSD_TLS13_SUITES")}
    doc.update(extra or {})
    exp.write(f"tls/{name}", f"{name}.{ext}", f"{name}.gen.py", description, extra=doc)
    tmpconf = os.environ.get("WSD_OPENSSL_CONF_TMP")
    if tmpconf and os.path.exists(tmpconf):
        os.unlink(tmpconf)
    r = subprocess.run([sys.executable, os.path.join(SAMPLES, "lib", "check.py"),
                        os.path.join(HERE, f"{name}.expected.json")], timeout=300)
    return r.returncode


def capture(tmp, name, port, ext="pcap"):
    """tcpdump on lo into tmp (Capture joins SAMPLES with the path; an absolute path wins)."""
    return Capture(os.path.join(tmp, f"{name}.{ext}"), ["-i", "lo"], f"tcp port {port}",
                   extra=["--immediate-mode"])


__all__ = ["Endpoints", "Expected", "KeyLog", "capture", "finish", "full_messages",
           "burst_messages", "small_messages", "run_connection", "start_server", "port_free",
           "self_signed", "with_tls13_suites", "tls13_suites_in_effect", "ssl", "socket", "asyncio",
           "tempfile", "SNI"]


# --------------------------------------------------------------------------- one-connection samples

def one_connection(name, port, description, suite=None, tls12_ciphers=None, expect_cipher=None,
                   close=(1000, "bye over tls")):
    """A capture with one connection carrying the full message set + burst.

    suite: force the TLS 1.3 suite (OPENSSL_CONF), None = OpenSSL's default list.
    tls12_ciphers: use TLS 1.2 (client maximum_version) with this OpenSSL cipher string."""
    if suite:
        with_tls13_suites(suite)
        assert tls13_suites_in_effect() == [suite], tls13_suites_in_effect()
    port_free(port)
    exp = Expected()
    with tempfile.TemporaryDirectory() as tmp:
        eps = Endpoints(tmp, *self_signed(tmp))

        async def run():
            async with start_server(exp, eps, port):
                if tls12_ciphers:
                    ctx = eps.client(max_version=ssl.TLSVersion.TLSv1_2, ciphers=tls12_ciphers)
                else:
                    ctx = eps.client(min_version=ssl.TLSVersion.TLSv1_3)
                await run_connection(exp, eps, ctx, port, full_messages(port), burst_messages(port + 1),
                                     close=close)

        with capture(tmp, name, port):
            asyncio.run(asyncio.wait_for(run(), 60))
        got = exp.conns[0].d["tls"]["cipher"]
        if expect_cipher and got != expect_cipher:
            raise RuntimeError(f"negotiated {got}, wanted {expect_cipher}")
        return finish(name, tmp, eps, exp, port, description)


FULL_SET = ("text/binary echo of 14, 0, 0, 125, 125, 126, 126, 65536 (binary) and 102400 (text) bytes, "
            "then a burst of 5 small messages (1, 2, 30, 200, 7 B) sent without waiting (several TLS "
            "records in one TCP segment); server ping 'srv-ping' after its first echo, client ping 'ping'")


# --------------------------------------------------------------------------- several connections

def connections(name, port, description, contexts, plans, suite=None, unkeyed=(), extra=None,
                server_setup=None, verify=None):
    """Connections one after the other to one server.

    contexts: {label: lambda eps: SSLContext}; each label's context is made once and shared by
              the plans naming it (a session can only be resumed with the context that made it).
    plans:    [{"ctx": label, "msgs": "full"|"small", "resume": index of an earlier plan or None,
                "close": (code, reason), "expect": {key: value of the tls facts},
               "tls_extra": {key: value added to the connection's "tls" object},
               "hooks": {i: fn(ws, ssl_object, rec)} (see run_connection)}]
    unkeyed:  indexes of connections whose key log lines are left out of NAME.keys.
    server_setup: fn(server SSLContext), called once before the server starts.
    verify:   extra capture checks, see finish()."""
    if suite:
        with_tls13_suites(suite)
        assert tls13_suites_in_effect() == [suite], tls13_suites_in_effect()
    port_free(port)
    exp = Expected()
    with tempfile.TemporaryDirectory() as tmp:
        eps = Endpoints(tmp, *self_signed(tmp))
        if server_setup:
            server_setup(eps.server)

        async def run():
            ctxs = {k: f(eps) for k, f in contexts.items()}
            sessions = []
            async with start_server(exp, eps, port):
                for i, p in enumerate(plans):
                    ctx = ctxs[p["ctx"]]
                    if p.get("resume") is not None:
                        ctx.next_session = sessions[p["resume"]]
                    if p.get("msgs", "small") == "full":
                        msgs, burst = full_messages(port + i), burst_messages(port + 100 + i)
                    else:
                        msgs, burst = small_messages(port + i, i + 1), ()
                    _, sess = await run_connection(exp, eps, ctx, port, msgs, burst,
                                                   close=p.get("close", (1000, f"bye #{i + 1}")),
                                                   hooks=p.get("hooks"))
                    sessions.append(sess)

        with capture(tmp, name, port):
            asyncio.run(asyncio.wait_for(run(), 90))
        for i, p in enumerate(plans):
            t = exp.conns[i].d["tls"]
            for k, v in p.get("expect", {}).items():
                if t[k] != v:
                    raise RuntimeError(f"connection {i + 1}: {k} = {t[k]!r}, wanted {v!r}")
            t.update(p.get("tls_extra", {}))
        drop = {exp.conns[i].d["tls"]["client_random"] for i in unkeyed}
        for i in unkeyed:
            exp.conns[i].d["tls"]["keyed"] = False

        def keys_filter(text):
            return "".join(ln for ln in text.splitlines(True)
                           if ln.startswith("#") or len(ln.split()) < 2 or ln.split()[1].lower() not in drop)
        return finish(name, tmp, eps, exp, port, description, keys_filter=keys_filter, extra=extra,
                      verify=verify)
