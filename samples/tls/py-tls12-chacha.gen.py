#!/usr/bin/env python3
"""py-tls12-chacha.pcap: websockets client+server over TLS 1.2 (client maximum_version
TLSv1_2), ECDHE-RSA-CHACHA20-POLY1305 (the client's only cipher, SSLContext.set_ciphers).
SNI wsd.test, ALPN http/1.1. Key log: client keylog_filename.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, one_connection  # noqa: E402

CIPHER = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"

if __name__ == "__main__":
    sys.exit(one_connection(
        "py-tls12-chacha", 8465,
        f"websockets 17.4 client+server, wss://wsd.test:8465/echo over TLS 1.2 {CIPHER} (client cipher "
        f"list ECDHE-RSA-CHACHA20-POLY1305 only), SNI wsd.test, ALPN http/1.1. 1 conn: {FULL_SET}; "
        "client close 1000 'bye over tls', echoed.",
        tls12_ciphers="ECDHE-RSA-CHACHA20-POLY1305", expect_cipher=CIPHER))
