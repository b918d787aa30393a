#!/usr/bin/env python3
"""py-tls12-gcm.pcap: websockets client+server over TLS 1.2 (client maximum_version TLSv1_2),
two connections: ECDHE-RSA-AES128-GCM-SHA256 (full message set), then
ECDHE-RSA-AES256-GCM-SHA384 (small set). The client's cipher list is one suite each time
(SSLContext.set_ciphers). SNI wsd.test, ALPN http/1.1. Key log: client keylog_filename.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, connections, ssl  # noqa: E402

TLS12 = ssl.TLSVersion.TLSv1_2
AES128 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
AES256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"

if __name__ == "__main__":
    sys.exit(connections(
        "py-tls12-gcm", 8464,
        "websockets 17.4 client+server, wss://wsd.test:8464/echo over TLS 1.2, SNI wsd.test, ALPN "
        f"http/1.1. Conn 1: {AES128} (client cipher list ECDHE-RSA-AES128-GCM-SHA256 only), {FULL_SET}; "
        "client close 1000 'bye #1', echoed. Conn 2: "
        f"{AES256} (client list ECDHE-RSA-AES256-GCM-SHA384 only): text 'hello #2', binary 16 B, "
        "text 300 B, binary 1000 B echoed, pings as conn 1, client close 1000 'bye #2', echoed.",
        {"aes128": lambda eps: eps.client(max_version=TLS12, ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
         "aes256": lambda eps: eps.client(max_version=TLS12, ciphers="ECDHE-RSA-AES256-GCM-SHA384")},
        [{"ctx": "aes128", "msgs": "full", "expect": {"version": "TLSv1.2", "cipher": AES128}},
         {"ctx": "aes256", "expect": {"version": "TLSv1.2", "cipher": AES256}}]))
