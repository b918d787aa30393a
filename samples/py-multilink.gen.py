#!/usr/bin/env python3
"""py-multilink.pcapng: one pcapng with two interfaces of different link types.

Two websockets connections run at the same time and are captured by two
tcpdumps: port 18772 on lo (EN10MB, DLT 1) and port 18773 on "any" as
LINUX_SLL (DLT 113).  mergecap interleaves them chronologically into a pcapng
with two Interface Description Blocks (interface 0 = Ethernet, 1 = SLL).
libpcap refuses such a file ("... different from the type of the first
interface"), tshark reads it.
"""
import asyncio
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pyws import SAMPLES, Capture, Expected, check, ws_client_run, ws_echo_handler
from websockets.asyncio.server import serve

NAME = "py-multilink"
HOST, PORT_ETH, PORT_SLL = "127.0.0.1", 18772, 18773

exp = Expected()


async def main():
    handler = ws_echo_handler(exp, lambda m: "echo " + m if isinstance(m, str) else m[::-1])
    opts = dict(compression=None, ping_interval=None)
    async with serve(handler, HOST, PORT_ETH, **opts), serve(handler, HOST, PORT_SLL, **opts):
        eth = ["eth 1", b"\x01\x02eth-binary", "eth 3 ✓", "eth 4"]
        sll = ["sll 1", "sll 2 ünïcode", b"\xfe" * 300, "sll 4"]

        async def run(port, msgs, delay):
            await asyncio.sleep(delay)
            await ws_client_run(exp, HOST, port, msgs, path=f"/{port}", pause=0.01)

        # the eth connection starts first, the SLL one 5 ms later; with 10 ms
        # pauses between messages the packets of the two interleave in time
        await asyncio.gather(run(PORT_ETH, eth, 0), run(PORT_SLL, sll, 0.005))
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="py-multilink-")
    eth_part, sll_part = os.path.join(tmp, "eth.pcap"), os.path.join(tmp, "sll.pcap")
    with Capture(eth_part, ["-i", "lo"], f"tcp port {PORT_ETH}"), \
         Capture(sll_part, ["-i", "any", "-y", "LINUX_SLL"], f"tcp port {PORT_SLL}"):
        asyncio.run(asyncio.wait_for(main(), 30))
    out = os.path.join(SAMPLES, NAME + ".pcapng")
    subprocess.run(["mergecap", "-F", "pcapng", "-w", out, eth_part, sll_part], check=True, timeout=30)
    for f in (eth_part, sll_part):
        os.unlink(f)
    os.rmdir(tmp)

    # the point of this sample: libpcap refuses mixed link types, tshark does not
    r = subprocess.run(["tcpdump", "-r", out], capture_output=True, text=True, timeout=30)
    assert "different from the type of the first interface" in r.stderr, r.stderr
    print("tcpdump -r:", r.stderr.strip().splitlines()[-1])
    subprocess.run(["tshark", "-r", out, "-c", "1"], check=True, timeout=30, capture_output=True)
    exp.write(NAME, NAME + ".pcapng", NAME + ".gen.py",
              "mergecap of a lo capture (Ethernet, IDB 0, port 18772) and a -i any -y LINUX_SLL "
              "capture (IDB 1, port 18773) of two concurrent websockets connections, 4 messages "
              "each way per connection; packets of both interleave")
    check(NAME)
