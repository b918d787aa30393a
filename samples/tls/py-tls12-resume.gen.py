#!/usr/bin/env python3
"""py-tls12-resume.pcap: TLS 1.2 session resumption, both kinds, four connections to one
websockets server (ECDHE-RSA-AES128-GCM-SHA256, client maximum_version TLSv1_2):

  1. full handshake, client context with ssl.OP_NO_TICKET (no SessionTicket extension, so the
     server caches the session under its session id and sends no ticket);
  2. resumes 1 by session id (the client passes conn 1's SSLSession to wrap_bio: asyncio does
     not take a session, so the client context subclass hands it over, see pytls.ResumingContext);
  3. full handshake, client context with tickets (the server sends a NewSessionTicket);
  4. resumes 3 by ticket.

`session_reused` is checked on both ends ("resumed" in expected.json). Resumed TLS 1.2
handshakes have no key exchange; the key log has a CLIENT_RANDOM line for every connection
(the master secret, the same for 1/2 and for 3/4).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytls import connections, ssl  # noqa: E402

TLS12 = ssl.TLSVersion.TLSv1_2
C = "ECDHE-RSA-AES128-GCM-SHA256"
IANA = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"

if __name__ == "__main__":
    sys.exit(connections(
        "py-tls12-resume", 8466,
        f"websockets 17.4 client+server, wss://wsd.test:8466/echo over TLS 1.2 {IANA}, SNI wsd.test, "
        "ALPN http/1.1; 4 conns one after the other, each: text 'hello #N', binary 16 B, text 300 B, "
        "binary 1000 B echoed (conn 1 instead the full set: 14, 0, 0, 125, 125, 126, 126, 65536, "
        "102400 B + a burst of 5), server ping 'srv-ping', client ping 'ping', client close 1000 "
        "'bye #N' echoed. Conn 1: full handshake, client OP_NO_TICKET (session id only). Conn 2: "
        "resumes conn 1's session by session id (abbreviated handshake). Conn 3: full handshake with "
        "a session ticket. Conn 4: resumes conn 3 by ticket.",
        {"noticket": lambda eps: eps.client(max_version=TLS12, ciphers=C, options=ssl.OP_NO_TICKET),
         "ticket": lambda eps: eps.client(max_version=TLS12, ciphers=C)},
        [{"ctx": "noticket", "msgs": "full", "expect": {"version": "TLSv1.2", "resumed": False}},
         {"ctx": "noticket", "resume": 0, "expect": {"version": "TLSv1.2", "resumed": True}},
         {"ctx": "ticket", "expect": {"version": "TLSv1.2", "resumed": False}},
         {"ctx": "ticket", "resume": 2, "expect": {"version": "TLSv1.2", "resumed": True}}],
        extra={"resumption": ["none", "session id (of conn 1)", "none (ticket issued)", "ticket (of conn 3)"]}))
