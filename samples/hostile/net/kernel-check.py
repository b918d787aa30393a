#!/usr/bin/python3
"""What a real Linux receiver does with the fragment tricks of gen.py: a Python websockets 17
server in one network namespace, and a hand-made client (scapy) in another, joined by a veth
pair. For each trick the client opens a TCP connection, sends an upgrade request whose path
names the trick, cut into fragments in the trick's way, and waits for the 101. For the tricks
Linux must drop, it then retransmits the same TCP segment unfragmented, as a real client
would. The server logs every request it receives (its own record is the truth).

Run as root from the repository: samples/hostile/net/kernel-check.sh (it makes the namespaces
and writes kernel-check.log).

    kernel-check.py server LOG          (in the server namespace, target/py-venv's python)
    kernel-check.py client SERVER_MAC   (in the client namespace, Debian's python3-scapy)
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PORT = 8765
CLIENT4, SERVER4 = "10.77.0.9", "10.77.0.2"  # 10.77.0.9 is no address of the client's kernel,
CLIENT6, SERVER6 = "fd77::9", "fd77::2"      # so it cannot answer the server with a RST
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def server(log):
    import asyncio
    from websockets.asyncio.server import serve

    def process_request(conn, request):
        with open(log, "a") as f:
            f.write(json.dumps({"peer": list(conn.remote_address[:2]), "path": request.path}) + "\n")
        return None

    async def echo(ws):
        async for m in ws:
            await ws.send(m)

    async def main():
        # No open_timeout: the late-fragment trick waits 40 s before the request arrives.
        async with serve(echo, None, PORT, process_request=process_request, open_timeout=None):
            await asyncio.get_running_loop().create_future()

    asyncio.run(main())


def client(server_mac):
    from scapy.all import IP, IPv6, TCP, Ether, AsyncSniffer, Raw, conf, get_if_hwaddr, sendp
    from fragtricks import (decoy_across_runs, decoy_inside_a_run, reorder, v4_fragment_at,
                            v4_fragments, v6_fragment_at, v6_fragments)
    conf.verb = 0
    iface = "vcli"
    mac = get_if_hwaddr(iface)
    got = []
    sniffer = AsyncSniffer(iface=iface, store=False, prn=got.append,
                           lfilter=lambda p: TCP in p and p[TCP].sport == PORT)
    sniffer.start()
    time.sleep(0.5)

    def ether():
        return Ether(src=mac, dst=server_mac)

    def wait_for(sport, pred, secs=2.0):
        end = time.time() + secs
        while time.time() < end:
            for p in list(got):
                if p[TCP].dport == sport and pred(p):
                    return p
            time.sleep(0.02)
        return None

    class Conn:
        def __init__(self, v6, sport):
            self.v6, self.sport, self.seq = v6, sport, 1000
            self.ip = (IPv6(src=CLIENT6, dst=SERVER6, hlim=64) if v6
                       else IP(src=CLIENT4, dst=SERVER4, ttl=64, id=sport))
            sendp(ether() / self.ip / TCP(sport=sport, dport=PORT, flags="S", seq=self.seq,
                                          options=[("MSS", 1400)]), iface=iface)
            synack = wait_for(sport, lambda p: p[TCP].flags.S and p[TCP].flags.A)
            assert synack is not None, "no SYN-ACK"
            self.seq += 1
            self.ack = synack[TCP].seq + 1
            sendp(ether() / self.ip / self.tcp("A"), iface=iface)

        def tcp(self, flags):
            return TCP(sport=self.sport, dport=PORT, flags=flags, seq=self.seq, ack=self.ack,
                       window=502)

        def request(self, path):
            text = (f"GET {path} HTTP/1.1\r\nHost: server\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
                    f"Sec-WebSocket-Version: 13\r\n\r\n").encode()
            # The whole packet, so the TCP checksum covers the whole segment.
            return self.ip / self.tcp("PA") / Raw(text)

        def answered(self, secs=1.5):
            # Only answers that arrive from now on: forget what came before.
            seen = {id(p) for p in got}
            p = wait_for(self.sport, lambda p: id(p) not in seen
                         and bytes(p[TCP].payload).startswith(b"HTTP/1.1 "), secs)
            return None if p is None else bytes(p[TCP].payload).split(b"\r\n")[0].decode()

        def send(self, packets):
            for p in packets:
                sendp(ether() / p, iface=iface)
                time.sleep(0.005)

        def close(self):
            sendp(ether() / self.ip / TCP(sport=self.sport, dport=PORT, flags="R",
                                          seq=self.seq + 4096), iface=iface)

    results = []
    sport = [41000]

    only = os.environ.get("KC_ONLY")

    def case(name, v6, make, retransmit=False, wait_before_last=0):
        sport[0] += 1
        if only and only not in name:
            return
        c = Conn(v6, sport[0])
        pkt = c.request("/" + name)
        frags = make(pkt)
        if wait_before_last:
            c.send(frags[:-1])
            time.sleep(wait_before_last)
            c.send(frags[-1:])
        else:
            c.send(frags)
        first = c.answered()
        second = None
        if retransmit:
            if not v6:
                pkt[IP].id = (pkt[IP].id + 1000) & 0xffff
            c.send([pkt])
            second = c.answered()
        c.close()
        results.append({"case": name, "answer to the fragments": first,
                        "answer to the retransmission": second})
        print(json.dumps(results[-1]), flush=True)

    v4 = lambda size, order: lambda p: reorder(v4_fragments(p, size), order)  # noqa: E731
    v6 = lambda size, order, i: lambda p: reorder(v6_fragments(p, size, i), order)  # noqa: E731

    case("ipv4-in-order", False, v4(32, "in-order"))
    case("ipv4-reversed", False, v4(32, "reversed"))
    case("ipv4-first-twice", False, v4(32, "duplicate"))
    case("ipv4-interleaved", False, v4(32, "interleaved"))

    def overlap_decoy(p):
        f = v4_fragments(p, 32)
        decoy = v4_fragment_at(p, 40, b"GET /decoy HTTP/1.1\r\nX: " + b"y" * 16)
        return f[:2] + [decoy] + f[2:]
    case("ipv4-overlap-decoy", False, overlap_decoy, retransmit=True)

    case("ipv4-decoy-inside-a-run", False, decoy_inside_a_run)

    case("ipv4-decoy-across-runs", False, decoy_across_runs, retransmit=True)

    case("ipv4-last-40s-late", False, v4(32, "in-order"), retransmit=True, wait_before_last=40)

    case("ipv6-last-first", True, v6(56, "last-first", 1))
    case("ipv6-reversed", True, v6(56, "reversed", 2))
    case("ipv6-interleaved", True, v6(56, "interleaved", 3))

    def v6_overlap(p):
        f = v6_fragments(p, 56, 4)
        decoy = v6_fragment_at(p, 48, b"GET /decoy HTTP/1.1\r\nX: " + b"y" * 16, 4)
        return f[:1] + [decoy] + f[1:]
    case("ipv6-overlap-decoy", True, v6_overlap, retransmit=True)

    # 8-byte fragments: the first holds only 8 bytes of the TCP header. Linux drops it
    # (ipv6frag_thdr_truncated, RFC 8200 §4.5), so the datagram never completes.
    case("ipv6-first-fragment-without-tcp-header", True, v6(8, "in-order", 5), retransmit=True)

    sniffer.stop()
    return results


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        client(sys.argv[2])
