#!/usr/bin/env python3
"""py-tls13-resume.pcap: TLS 1.3 PSK resumption between websockets client and server
(TLS_AES_128_GCM_SHA256 forced with OPENSSL_CONF Ciphersuites, as py-tls13-aes128).

Conn 1: full handshake; the server sends two NewSessionTickets after the handshake (OpenSSL's
default). Conn 2: the client offers conn 1's session (SSLSession handed to wrap_bio, see
pytls.ResumingContext) as a pre_shared_key; the server accepts (psk_dhe_ke: a new key share
still, no certificate); `session_reused` is True on both ends. No early data.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import connections, ssl  # noqa: E402

SUITE = "TLS_AES_128_GCM_SHA256"
TLS13 = ssl.TLSVersion.TLSv1_3

if __name__ == "__main__":
    sys.exit(connections(
        "py-tls13-resume", 8467,
        f"websockets 17.4 client+server, wss://wsd.test:8467/echo over TLS 1.3 {SUITE} (OPENSSL_CONF "
        "Ciphersuites), SNI wsd.test, ALPN http/1.1; 2 conns. Conn 1: full handshake, full message set "
        "(14, 0, 0, 125, 125, 126, 126, 65536, 102400 B + a burst of 5), close 1000 'bye #1'. Conn 2: "
        "PSK resumption of conn 1's session (pre_shared_key with a new ECDHE share), text 'hello #2', "
        "binary 16 B, text 300 B, binary 1000 B echoed, close 1000 'bye #2'. Both: server ping "
        "'srv-ping', client ping 'ping', closes echoed.",
        {"c": lambda eps: eps.client(min_version=TLS13)},
        [{"ctx": "c", "msgs": "full", "expect": {"version": "TLSv1.3", "resumed": False}},
         {"ctx": "c", "resume": 0, "expect": {"version": "TLSv1.3", "resumed": True}}],
        suite=SUITE))
