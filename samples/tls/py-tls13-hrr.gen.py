#!/usr/bin/env python3
"""py-tls13-hrr.pcap: websockets client+server over TLS 1.3 with a HelloRetryRequest.

The server context is restricted to one group, P-256: `set_ecdh_curve('prime256v1')` (OpenSSL 3.0
turns this into the server's supported-groups list). The client is a default OpenSSL 3.0 client:
it offers x25519, secp256r1, x448, secp521r1, secp384r1 but sends a key share for x25519 only, so
the server answers the first ClientHello with a HelloRetryRequest (a ServerHello whose random is
SHA-256("HelloRetryRequest"), key_share selected_group secp256r1), and the client sends a second
ClientHello (same random, a secp256r1 key share, after a dummy ChangeCipherSpec). TLS 1.3 suites:
OpenSSL's default list (TLS_AES_256_GCM_SHA384 is chosen). SNI wsd.test, ALPN http/1.1.

Python does not report that a HelloRetryRequest happened; "hrr": true in expected.json is what the
generator set up, checked against the capture: handshake messages of the connection, in order,
are ClientHello, ServerHello with the HRR random and selected_group 23, ClientHello with the same
random and a secp256r1 key share, ServerHello with another random.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import FULL_SET, HRR_RANDOM, connections, ssl, tshark_fields  # noqa: E402

PORT = 8473
SUITE = "TLS_AES_256_GCM_SHA384"


def verify(cap, exp, _keys):
    rows = tshark_fields(cap, "tls.handshake.type==1 || tls.handshake.type==2", "tcp.stream",
                         "tls.handshake.type", "tls.handshake.random",
                         "tls.handshake.extensions_key_share_group",
                         "tls.handshake.extensions_key_share_selected_group",
                         opts=["-d", f"tcp.port=={PORT},tls", "-E", "occurrence=a", "-E", "aggregator=,"])
    rnd = lambda r: r[2].replace(":", "").lower()  # noqa: E731
    assert len(rows) == 4 and len({r[0] for r in rows}) == 1, rows
    assert [r[1] for r in rows] == ["1", "2", "1", "2"], rows
    cr = exp.conns[0].d["tls"]["client_random"]
    assert rnd(rows[0]) == cr and rnd(rows[2]) == cr, rows
    assert rnd(rows[1]) == HRR_RANDOM, f"first ServerHello random {rnd(rows[1])} is not the HRR random"
    assert rnd(rows[3]) != HRR_RANDOM, rows
    assert rows[0][3] == "29", f"first ClientHello key shares {rows[0][3]} (want x25519 only)"
    assert rows[1][4] == "23", f"HRR selected_group {rows[1][4]} (want secp256r1)"
    assert rows[2][3] == "23" and rows[3][3] == "23", rows
    print("capture ok: ClientHello (x25519 share), HelloRetryRequest (secp256r1), ClientHello (secp256r1), "
          "ServerHello")


if __name__ == "__main__":
    sys.exit(connections(
        "py-tls13-hrr", PORT,
        "websockets 17.4 client+server, wss://wsd.test:8473/echo over TLS 1.3 "
        f"{SUITE} (OpenSSL default list), SNI wsd.test, ALPN http/1.1, with a HelloRetryRequest: the "
        "server only accepts secp256r1 (set_ecdh_curve('prime256v1')), the client's first key share is "
        "x25519, so the server asks for secp256r1 and the client sends a second ClientHello. 1 conn: "
        f"{FULL_SET}; client close 1000 'bye #1', echoed.",
        {"default": lambda eps: eps.client(min_version=ssl.TLSVersion.TLSv1_3)},
        [{"ctx": "default", "msgs": "full", "expect": {"version": "TLSv1.3", "cipher": SUITE},
          "tls_extra": {"hrr": True, "group": "secp256r1"}}],
        server_setup=lambda ctx: ctx.set_ecdh_curve("prime256v1"), verify=verify,
        extra={"hrr_note": "\"hrr\"/\"group\" = what the generator set up (server groups P-256 only, client "
                           "key share x25519 first), checked against the handshake messages in the capture"}))
