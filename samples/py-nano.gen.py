#!/usr/bin/env python3
"""py-nano.pcap: small websockets text exchange captured with
--time-stamp-precision=nano, i.e. a nanosecond pcap (magic a1b23c4d)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import small_exchange

NAME = "py-nano"
PORT = 18766

if __name__ == "__main__":
    small_exchange(
        NAME, ["-i", "lo"], PORT,
        ["nano one", "nano two ⏱", "nano three"],
        lambda m: "ack: " + m,
        "nanosecond-resolution pcap (magic a1b23c4d) on lo: 3 text messages each way, client close 1000",
        extra_tcpdump=["--time-stamp-precision=nano"])
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), NAME + ".pcap"), "rb") as f:
        magic = f.read(4)
    # written in host byte order by libpcap: 4d 3c b2 a1 on little-endian
    assert magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"), magic.hex()
    print("magic", magic.hex(), "(nanosecond pcap)")
