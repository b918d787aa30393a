#!/usr/bin/env python3
"""py-any.pcap: small websockets exchange captured with `tcpdump -i any`,
which libpcap >= 1.10 writes as LINUX_SLL2 (link type 276)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import small_exchange

NAME = "py-any"
PORT = 18767

if __name__ == "__main__":
    small_exchange(
        NAME, ["-i", "any"], PORT,
        ["any: first", b"\x00\x01\x02\x03any-binary", "any: last ✓"],
        lambda m: m[::-1],  # reply with the reversed message
        "tcpdump -i any (LINUX_SLL2, DLT 276): 3 messages each way (text, binary, text), client close 1000")
