#!/usr/bin/env python3
"""py-any-sll.pcap: small websockets exchange captured with
`tcpdump -i any -y LINUX_SLL` (cooked v1, link type 113)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import small_exchange

NAME = "py-any-sll"
PORT = 18768

if __name__ == "__main__":
    small_exchange(
        NAME, ["-i", "any", "-y", "LINUX_SLL"], PORT,
        ["sll hello", "sll " + "x" * 300, b"\xff" * 200],
        lambda m: (m.upper() if isinstance(m, str) else bytes(b ^ 0x55 for b in m)),
        "tcpdump -i any -y LINUX_SLL (DLT 113): 3 messages each way, client close 1001 'done'",
        close=(1001, "done"))
