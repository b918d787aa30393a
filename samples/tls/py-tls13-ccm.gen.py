#!/usr/bin/env python3
"""py-tls13-ccm.pcap: websockets client+server over TLS 1.3, TLS_AES_128_CCM_SHA256 (0x1304).

Same OPENSSL_CONF trick as py-tls13-aes128 (system_default `Ciphersuites = TLS_AES_128_CCM_SHA256`,
the only TLS 1.3 suite of both ends; OpenSSL 3.0 does not enable the CCM suites by default, and
Python's `!AESCCM` in its default cipher string only concerns TLS 1.2). SNI wsd.test, ALPN
http/1.1. The messages are the full set, logged by the senders as usual: this capture is for a
dissector that may not implement AES-CCM, to check that it names the suite it cannot decrypt.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, one_connection  # noqa: E402

SUITE = "TLS_AES_128_CCM_SHA256"

if __name__ == "__main__":
    sys.exit(one_connection(
        "py-tls13-ccm", 8475,
        f"websockets 17.4 client+server, wss://wsd.test:8475/echo over TLS 1.3 {SUITE} (the only "
        f"suite: OPENSSL_CONF system_default Ciphersuites), SNI wsd.test, ALPN http/1.1. 1 conn: "
        f"{FULL_SET}; client close 1000 'bye over tls', echoed.",
        suite=SUITE, expect_cipher=SUITE))
