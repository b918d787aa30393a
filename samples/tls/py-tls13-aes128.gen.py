#!/usr/bin/env python3
"""py-tls13-aes128.pcap: websockets client+server over TLS 1.3, TLS_AES_128_GCM_SHA256.

Python 3.11's ssl module cannot set TLS 1.3 cipher suites, so the script re-execs itself with
OPENSSL_CONF pointing at a config whose system_default section says
`Ciphersuites = TLS_AES_128_GCM_SHA256` (client and server then offer/accept only that suite).
SNI wsd.test, ALPN http/1.1, self-signed RSA certificate made with the openssl CLI.
Key log: the client context's keylog_filename (the server's, written too, must be identical).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, one_connection  # noqa: E402

SUITE = "TLS_AES_128_GCM_SHA256"

if __name__ == "__main__":
    sys.exit(one_connection(
        "py-tls13-aes128", 8461,
        f"websockets 17.4 client+server, wss://wsd.test:8461/echo over TLS 1.3 {SUITE} (the only "
        f"suite: OPENSSL_CONF system_default Ciphersuites), SNI wsd.test, ALPN http/1.1. 1 conn: "
        f"{FULL_SET}; client close 1000 'bye over tls', echoed.",
        suite=SUITE, expect_cipher=SUITE))
