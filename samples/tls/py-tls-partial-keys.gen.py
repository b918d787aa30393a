#!/usr/bin/env python3
"""py-tls-partial-keys.pcap: three TLS 1.3 connections (TLS_AES_128_GCM_SHA256 forced with
OPENSSL_CONF Ciphersuites), but py-tls-partial-keys.keys holds only the lines of connections 1
and 3: the script drops every key log line whose client random is connection 2's (the random
that appeared in OpenSSL's key log while connection 2 was made; the generator also checks it
against the ClientHello randoms in the capture). Connection 2 is marked "keyed": false.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import connections, ssl  # noqa: E402

SUITE = "TLS_AES_128_GCM_SHA256"
TLS13 = ssl.TLSVersion.TLSv1_3

if __name__ == "__main__":
    sys.exit(connections(
        "py-tls-partial-keys", 8468,
        f"websockets 17.4 client+server, wss://wsd.test:8468/echo over TLS 1.3 {SUITE}, SNI wsd.test, "
        "ALPN http/1.1; 3 conns one after the other (full handshakes, each a new client context, no "
        "resumption). Conn 1: full message set (14, 0, 0, 125, 125, 126, 126, 65536, 102400 B + a burst "
        "of 5). Conns 2 and 3: text 'hello #N', binary 16 B, text 300 B, binary 1000 B. All echoed, "
        "server ping 'srv-ping', client ping 'ping', client close 1000 'bye #N' echoed. The key log "
        "has no line for conn 2 (keyed: false): its WebSocket traffic cannot be decrypted.",
        {"c1": lambda eps: eps.client(min_version=TLS13), "c2": lambda eps: eps.client(min_version=TLS13),
         "c3": lambda eps: eps.client(min_version=TLS13)},
        [{"ctx": "c1", "msgs": "full", "expect": {"resumed": False}},
         {"ctx": "c2", "expect": {"resumed": False}},
         {"ctx": "c3", "expect": {"resumed": False}}],
        suite=SUITE, unkeyed=[1]))
