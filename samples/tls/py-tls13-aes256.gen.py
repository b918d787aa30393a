#!/usr/bin/env python3
"""py-tls13-aes256.pcap: websockets client+server over TLS 1.3, TLS_AES_256_GCM_SHA384.

No cipher configuration: TLS_AES_256_GCM_SHA384 is OpenSSL 3.0's default first choice (the client
offers TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256; the script
checks that the server picked the first).
SNI wsd.test, ALPN http/1.1, self-signed RSA certificate made with the openssl CLI.
Key log: the client context's keylog_filename (the server's, written too, must be identical).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, one_connection  # noqa: E402

SUITE = "TLS_AES_256_GCM_SHA384"

if __name__ == "__main__":
    sys.exit(one_connection(
        "py-tls13-aes256", 8462,
        f"websockets 17.4 client+server, wss://wsd.test:8462/echo over TLS 1.3 {SUITE} (OpenSSL's "
        f"default suite list and first choice, nothing configured), SNI wsd.test, ALPN http/1.1. 1 conn: "
        f"{FULL_SET}; client close 1000 'bye over tls', echoed.",
        expect_cipher=SUITE))
