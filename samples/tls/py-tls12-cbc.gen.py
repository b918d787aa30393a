#!/usr/bin/env python3
"""py-tls12-cbc.pcap: websockets client+server over TLS 1.2 with AES-CBC suites, three connections:

  1. ECDHE-RSA-AES128-SHA     (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, HMAC-SHA1), encrypt-then-MAC
  2. ECDHE-RSA-AES256-SHA384  (TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, HMAC-SHA384), encrypt-then-MAC
  3. ECDHE-RSA-AES128-SHA256  (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, HMAC-SHA256), MAC-then-encrypt:
     the client context sets OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (0x00080000; Python 3.11 has no
     constant for it but `ctx.options |= 0x00080000` passes the bit to SSL_CTX_set_options), so the
     client offers no encrypt_then_mac extension and the server cannot select it.

OpenSSL negotiates encrypt_then_mac (RFC 7366, extension 22) by default when both sides offer it.
The client's cipher list is the one suite each time (set_ciphers); the server's list is the three
suites (Python's default server list has !SHA1, which would exclude ECDHE-RSA-AES128-SHA).
Python does not report whether EtM was negotiated, so "etm" in expected.json is what the generator
configured, and the generator checks it against the capture: the ServerHello carries extension 22
on connections 1 and 2 and not on 3 (and connection 3's ClientHello has none).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import connections, ssl, tshark_fields  # noqa: E402

TLS12 = ssl.TLSVersion.TLSv1_2
NO_ETM = 0x00080000  # SSL_OP_NO_ENCRYPT_THEN_MAC (openssl/ssl.h, OpenSSL 3.0)
PORT = 8472
SHA1 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
SHA384 = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
SHA256 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
ETM = 22


def server_setup(ctx):
    ctx.set_ciphers("ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")


def verify(cap, exp, _keys):
    """encrypt_then_mac in the Client/ServerHello of each connection == the "etm" we expect."""
    opts = ["-d", f"tcp.port=={PORT},tls", "-E", "occurrence=a", "-E", "aggregator=,"]
    streams = []
    for t, direction in ((1, "client"), (2, "server")):
        rows = tshark_fields(cap, f"tls.handshake.type=={t}", "tcp.stream", "tls.handshake.extension.type",
                             opts=opts)
        if t == 1:
            streams = [r[0] for r in rows]
            assert len(streams) == 3, rows
        assert [r[0] for r in rows] == streams, rows
        for c, r in zip(exp.conns, rows):
            has = str(ETM) in r[1].split(",")
            if has != c.d["tls"]["etm"]:
                raise RuntimeError(f"{c.d['client']}: {direction} hello encrypt_then_mac={has}, "
                                   f"expected {c.d['tls']['etm']}")
    print("capture ok: encrypt_then_mac in the hellos of conns 1 and 2, not in conn 3")


if __name__ == "__main__":
    sys.exit(connections(
        "py-tls12-cbc", PORT,
        "websockets 17.4 client+server, wss://wsd.test:8472/echo over TLS 1.2 with AES-CBC suites, SNI "
        "wsd.test, ALPN http/1.1; the client's cipher list is one suite per connection, the server "
        "allows the three. Conn 1: "
        f"{SHA1} (HMAC-SHA1) with encrypt-then-MAC (RFC 7366, OpenSSL's default), full message set "
        "(text/binary echo of 14, 0, 0, 125, 125, 126, 126, 65536 (binary) and 102400 (text) bytes, "
        "then a burst of 5 small messages (1, 2, 30, 200, 7 B) sent without waiting); server ping "
        "'srv-ping' after its first echo, client ping 'ping'; client close 1000 'bye #1', echoed. "
        f"Conn 2: {SHA384} (HMAC-SHA384) with encrypt-then-MAC: text 'hello #2', binary 16 B, text "
        "300 B, binary 1000 B echoed, pings as conn 1, close 1000 'bye #2'. Conn 3: "
        f"{SHA256} (HMAC-SHA256) WITHOUT encrypt-then-MAC (client SSL_OP_NO_ENCRYPT_THEN_MAC: "
        "MAC-then-encrypt, RFC 5246): small set as conn 2 ('hello #3'), close 1000 'bye #3'.",
        {"sha1": lambda eps: eps.client(max_version=TLS12, ciphers="ECDHE-RSA-AES128-SHA"),
         "sha384": lambda eps: eps.client(max_version=TLS12, ciphers="ECDHE-RSA-AES256-SHA384"),
         "sha256-mte": lambda eps: eps.client(max_version=TLS12, ciphers="ECDHE-RSA-AES128-SHA256",
                                              options=NO_ETM)},
        [{"ctx": "sha1", "msgs": "full", "expect": {"version": "TLSv1.2", "cipher": SHA1},
          "tls_extra": {"etm": True}},
         {"ctx": "sha384", "expect": {"version": "TLSv1.2", "cipher": SHA384}, "tls_extra": {"etm": True}},
         {"ctx": "sha256-mte", "expect": {"version": "TLSv1.2", "cipher": SHA256},
          "tls_extra": {"etm": False}}],
        server_setup=server_setup, verify=verify,
        extra={"etm_note": "\"etm\" = encrypt_then_mac configured (conn 3: client SSL_OP_NO_ENCRYPT_THEN_MAC), "
                           "checked against extension 22 in the ClientHello and ServerHello of the capture"}))
