#!/usr/bin/env python3
"""tls13-keyupdate.pcap: websockets client+server over TLS 1.3 with KeyUpdates in the middle.

Python 3.11's ssl has no key-update call, so the client calls OpenSSL's SSL_key_update() itself
through ctypes on the SSL* of its connection: asyncio's ssl_object is an ssl.SSLObject whose
`_sslobj` is CPython's PySSLSocket, laid out as {PyObject_HEAD; PyObject *Socket; SSL *ssl; ...}
(Modules/_ssl.c), so the SSL* is the pointer 3 words into the object. The generator refuses to
use it unless SSL_get_SSL_CTX(ssl) is the client SSLContext's SSL_CTX* (PySSLContext =
{PyObject_HEAD; SSL_CTX *ctx; ...}), SSL_version() is TLS 1.3, SSL_is_server() is 0 and
SSL_get_client_random() is the random the key log got for this connection. libssl is the one
already loaded by Python's _ssl (libssl.so.3). SSL_key_update() only queues the message: OpenSSL
sends the KeyUpdate record just before the next application data, i.e. in front of the message
sent next.

Connection (one, the full message set + burst):
  * before c2s message 3 (text 125 B): client SSL_key_update(SSL_KEY_UPDATE_REQUESTED) -> the
    client's KeyUpdate(update_requested) then message 3 under the client's next traffic key; the
    server's OpenSSL answers with its own KeyUpdate(update_not_requested) and switches its sending
    key, so the echo of message 3 and everything after it s2c is under the server's next key;
  * before c2s message 7 (binary 65536 B): client SSL_key_update(SSL_KEY_UPDATE_NOT_REQUESTED) ->
    only the client's key changes again (third c2s generation); the server sends no KeyUpdate.
TLS 1.3 suite: OpenSSL's default list (TLS_AES_256_GCM_SHA384). Besides the usual 5 lines, this
libssl (Debian's OpenSSL 3.0.19) logs one `CLIENT_TRAFFIC_SECRET_N` / `SERVER_TRAFFIC_SECRET_N` line
(the label literally ends in "_N", no generation number) each time a key is updated, sent or
received, holding the new secret; both ends log the same three lines. They are kept, as written.
The generator checks that they are the chain HKDF-Expand-Label(secret, "traffic upd", "",
Hash.length) from *_TRAFFIC_SECRET_0, in order, which is all a reader needs to derive them itself.

"key_updates" in the connection's "tls": what the client did (c2s, from its own calls) and the
server's answer (s2c, OpenSSL's documented reaction to update_requested); the generator checks the
capture (tshark with the key log): KeyUpdate handshake messages c2s [requested, not requested],
s2c [not requested], each in front of the data that follows it.
"""
import ctypes
import hashlib
import hmac
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, KeyLog, connections, ssl, tshark_fields  # noqa: E402

PORT = 8474
SUITE = "TLS_AES_256_GCM_SHA384"
SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED = 0, 1

libssl = ctypes.CDLL("libssl.so.3")
libssl.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]
libssl.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
libssl.SSL_get_SSL_CTX.restype = ctypes.c_void_p
libssl.SSL_version.argtypes = [ctypes.c_void_p]
libssl.SSL_is_server.argtypes = [ctypes.c_void_p]
libssl.SSL_get_client_random.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
libssl.SSL_get_client_random.restype = ctypes.c_size_t
PTR = ctypes.sizeof(ctypes.c_void_p)

KEY_UPDATES = []  # filled by the hooks, goes into the connection's "tls"
CLIENT_KEYS = []  # path of the client key log (set in client())


def ssl_ptr(sslobj):
    """SSL* of an ssl.SSLObject, checked against everything OpenSSL can tell about it."""
    py_ssl_socket = sslobj._sslobj
    ssl_p = ctypes.c_void_p.from_address(id(py_ssl_socket) + 3 * PTR).value
    ctx_p = ctypes.c_void_p.from_address(id(sslobj.context) + 2 * PTR).value
    assert ssl_p and libssl.SSL_get_SSL_CTX(ssl_p) == ctx_p, "not the SSL* of this context"
    assert libssl.SSL_version(ssl_p) == 0x0304 and libssl.SSL_is_server(ssl_p) == 0
    buf = ctypes.create_string_buffer(32)
    assert libssl.SSL_get_client_random(ssl_p, buf, 32) == 32
    assert buf.raw.hex() == KeyLog(CLIENT_KEYS[0]).randoms()[-1], "client random is not the key log's last"
    return ssl_p


def key_update(kind):
    def hook(ws, sslobj, rec):
        n = sum(1 for m in rec.d["messages"] if m["dir"] == "c2s")
        if libssl.SSL_key_update(ssl_ptr(sslobj), kind) != 1:
            raise RuntimeError("SSL_key_update failed")
        KEY_UPDATES.append({"dir": "c2s", "update_requested": kind == SSL_KEY_UPDATE_REQUESTED,
                            "before_message": n, "by": "client SSL_key_update()"})
        if kind == SSL_KEY_UPDATE_REQUESTED:
            KEY_UPDATES.append({"dir": "s2c", "update_requested": False, "before_message": n,
                                "by": "server OpenSSL, answering update_requested"})
    return hook


def client(eps):
    CLIENT_KEYS.append(eps.client_keys)
    return eps.client(min_version=ssl.TLSVersion.TLSv1_3)


def expand_label(secret, label, length, hash_fn=hashlib.sha384):
    """HKDF-Expand-Label(secret, label, "", length) of RFC 8446 7.1."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hash_fn).digest()
        out, i = out + t, i + 1
    return out[:length]


def check_keylog_updates(keys, exp):
    """The *_TRAFFIC_SECRET_N lines OpenSSL wrote: one per KeyUpdate of that direction, each the
    "traffic upd" successor of the previous secret."""
    secrets = {}
    for ln in open(keys):
        if ln.strip() and not ln.startswith("#"):
            label, _, sec = ln.split()
            secrets.setdefault(label, []).append(bytes.fromhex(sec))
    ku = exp.conns[0].d["tls"]["key_updates"]
    for side, d in (("CLIENT", "c2s"), ("SERVER", "s2c")):
        chain = secrets.get(f"{side}_TRAFFIC_SECRET_N", [])
        if len(chain) != sum(1 for k in ku if k["dir"] == d):
            raise RuntimeError(f"{side}_TRAFFIC_SECRET_N lines: {len(chain)}, key updates {d}: {ku}")
        cur = secrets[f"{side}_TRAFFIC_SECRET_0"][0]
        for n, nxt in enumerate(chain, 1):
            if expand_label(cur, b"traffic upd", len(cur)) != nxt:
                raise RuntimeError(f"{side}_TRAFFIC_SECRET_N #{n} is not the next generation")
            cur = nxt


def verify(cap, exp, keys):
    """Decrypted with the key log: the KeyUpdates are where the client put them, and each is
    followed by WebSocket data that tshark decodes with the next key."""
    check_keylog_updates(keys, exp)
    port = str(PORT)
    rows = tshark_fields(cap, "tls.handshake.type==24 || websocket", "frame.number", "tcp.srcport",
                         "tls.handshake.type", "tls.handshake.key_update.request_update",
                         "websocket.opcode",
                         opts=["-o", f"tls.keylog_file:{keys}", "-d", f"tcp.port=={port},tls",
                               "-E", "occurrence=a", "-E", "aggregator=,"])
    seen = {"c2s": [], "s2c": []}
    data = {"c2s": 0, "s2c": 0}
    for _, sport, hs, req, ops in rows:
        d = "s2c" if sport == port else "c2s"
        for o in (ops.split(",") if ops else []):
            if o in ("1", "2"):
                data[d] += 1
        # a KeyUpdate and the frames after it can share a packet: count the KeyUpdate first,
        # at the number of data messages seen before this packet
        if "24" in hs.split(","):
            n_before = data[d] - sum(1 for o in (ops.split(",") if ops else []) if o in ("1", "2"))
            seen[d].append((req == "1", n_before))
    exp_ku = exp.conns[0].d["tls"]["key_updates"]
    for d in ("c2s", "s2c"):
        want = [(k["update_requested"], k["before_message"]) for k in exp_ku if k["dir"] == d]
        if [s[0] for s in seen[d]] != [w[0] for w in want]:
            raise RuntimeError(f"{d}: KeyUpdates in the capture {seen[d]}, expected {want}")
        for (_, at), (_, before) in zip(seen[d], want):
            if at != before:
                raise RuntimeError(f"{d}: KeyUpdate after {at} data messages, expected before message {before}")
    want_msgs = {d: sum(1 for m in exp.conns[0].d["messages"] if m["dir"] == d) for d in data}
    if data != want_msgs:
        raise RuntimeError(f"tshark decoded {data} data messages, expected {want_msgs}")
    print(f"capture ok: KeyUpdates c2s {seen['c2s']}, s2c {seen['s2c']} (requested, data messages before); "
          f"tshark decodes all data messages {data}")


if __name__ == "__main__":
    sys.exit(connections(
        "tls13-keyupdate", PORT,
        "websockets 17.4 client+server, wss://wsd.test:8474/echo over TLS 1.3 "
        f"{SUITE} (OpenSSL default list), SNI wsd.test, ALPN http/1.1, with KeyUpdates: before its "
        "message 3 (text 125 B) the client calls SSL_key_update(SSL_KEY_UPDATE_REQUESTED) (ctypes) -> "
        "client KeyUpdate(update_requested), the server answers with KeyUpdate(update_not_requested) "
        "in front of its echo of message 3; before its message 7 (binary 65536 B) the client calls "
        "SSL_key_update(SSL_KEY_UPDATE_NOT_REQUESTED) -> a second client KeyUpdate only. 1 conn: "
        f"{FULL_SET}; client close 1000 'bye #1', echoed.",
        {"default": client},
        [{"ctx": "default", "msgs": "full", "expect": {"version": "TLSv1.3", "cipher": SUITE},
          "hooks": {3: key_update(SSL_KEY_UPDATE_REQUESTED), 7: key_update(SSL_KEY_UPDATE_NOT_REQUESTED)},
          "tls_extra": {"key_updates": KEY_UPDATES}}],
        verify=verify,
        extra={"key_update_note": "KeyUpdate sent by the client through ctypes SSL_key_update() on its SSL*; "
                                  "\"key_updates\": dir, update_requested, before_message = index of the "
                                  "first data message of that direction sent under the new key"}))
