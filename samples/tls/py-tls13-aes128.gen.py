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
import pytls  # noqa: E402
from pytls import (Endpoints, Expected, asyncio, burst_messages, capture, finish,  # noqa: E402
                   full_messages, port_free, run_connection, self_signed, ssl, start_server,
                   tempfile, tls13_suites_in_effect, with_tls13_suites)

NAME = "py-tls13-aes128"
PORT = 8461
SUITE = "TLS_AES_128_GCM_SHA256"


def main():
    with_tls13_suites(SUITE)
    assert tls13_suites_in_effect() == [SUITE], tls13_suites_in_effect()
    port_free(PORT)
    exp = Expected()
    with tempfile.TemporaryDirectory() as tmp:
        eps = Endpoints(tmp, *self_signed(tmp))

        async def run():
            async with start_server(exp, eps, PORT):
                ctx = eps.client(min_version=ssl.TLSVersion.TLSv1_3)
                await run_connection(exp, eps, ctx, PORT, full_messages(8461), burst_messages(8462),
                                     close=(1000, "bye over tls"))

        with capture(tmp, NAME, PORT):
            asyncio.run(asyncio.wait_for(run(), 60))
        return finish(NAME, tmp, eps, exp, PORT,
                      "websockets 17.4 client+server, wss://wsd.test:8461/echo over TLS 1.3 "
                      f"{SUITE} (forced with OPENSSL_CONF Ciphersuites), ALPN http/1.1. "
                      "1 conn: text/binary echo of 14, 0, 0, 125, 125, 126, 126, 65536 (binary) and "
                      "102400 (text) bytes, then a burst of 5 small messages sent without waiting "
                      "(several TLS records per TCP segment); server ping 'srv-ping' after its first "
                      "echo, client ping 'ping'; client close 1000 'bye over tls', echoed.")


if __name__ == "__main__":
    sys.exit(main())
