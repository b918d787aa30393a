#!/usr/bin/env python3
"""Ask the running Linux kernel what a receiver does with the packets of the tricks here.

Two sockets talk over 127.0.0.1; packets are forged in the client's name and injected on
`lo` through an AF_PACKET socket (as root). Injected frames reach TCP with no checksum
offload mark, so the kernel checks their checksums like packets from a wire. Each check
prints what the receiving (server) socket saw. README.md quotes the output.

    python3 samples/hostile/tcp/kernel-check.py
"""
import fcntl
import socket
import struct
import termios
import time

PORT = 18791
LO = "127.0.0.1"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(w for (w,) in struct.iter_unpack("!H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(sport, dport, seq, ack, flags, payload=b"", bad=False, ttl=64):
    bits = sum(b for c, b in zip("FSRPAU", [1, 2, 4, 8, 16, 32]) if c in flags)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      bits, 65535, 0, 0) + payload
    src = dst = socket.inet_aton(LO)
    c = csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c ^ (0x5A5A if bad else 0)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, ttl, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + tcp


class Link:
    """Sniff and inject on lo."""

    def __init__(self):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.s.bind(("lo", 0))
        self.s.setblocking(False)

    def last_from(self, sport):
        """(seq after it, ack) of the last segment seen from port `sport`."""
        found = None
        while True:
            try:
                pkt = self.s.recv(65535)
            except BlockingIOError:
                return found
            ip = pkt[14:]
            if pkt[12:14] != b"\x08\x00" or ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:total]
            sp, dp, seq, ack = struct.unpack("!HHII", tcp[:12])
            if sp != sport:
                continue
            plen = len(tcp) - (tcp[12] >> 4) * 4
            fin = tcp[13] & 1
            found = (seq + plen + fin, ack)

    def send(self, f):
        self.s.send(f)


def readable(sock):
    return struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]


def recv_within(sock, t=0.3):
    sock.settimeout(t)
    try:
        return sock.recv(100)
    except socket.timeout:
        return None


def main():
    link = Link()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((LO, PORT))
    srv.listen()
    cli = socket.create_connection((LO, PORT))
    conn, _ = srv.accept()
    cport = cli.getsockname()[1]

    def state():
        time.sleep(0.1)
        seq, ack = link.last_from(cport)
        return seq, ack

    def alive(tag):
        cli.send(tag)
        return recv_within(conn) == tag

    cli.send(b"hello")
    assert conn.recv(100) == b"hello"
    seq, ack = state()
    link.send(frame(cport, PORT, seq, ack, "PA", b"BAD", bad=True))
    print("data with a bad TCP checksum, at the next sequence number: server reads",
          recv_within(conn))
    link.send(frame(cport, PORT, seq, ack, "RA", bad=True))
    print("RST with a bad TCP checksum, at the next sequence number: connection alive:",
          alive(b"after-rst-1"))
    seq, ack = state()
    link.send(frame(cport, PORT, seq + 100, ack, "RA"))
    print("RST with a right checksum, 100 into the window: connection alive:",
          alive(b"after-rst-2"))
    seq, ack = state()
    link.send(frame(cport, PORT, seq, ack, "FA", bad=True))
    print("FIN with a bad TCP checksum, at the next sequence number: server reads",
          recv_within(conn), "then alive:", alive(b"after-fin"))
    seq, ack = state()
    link.send(frame(cport, PORT, seq + 1000, ack, "FA"))
    print("FIN with a right checksum, 1000 ahead: server reads", recv_within(conn),
          "then alive:", alive(b"after-fin-2"))
    cli.shutdown(socket.SHUT_WR)
    print("the client's real FIN: server reads", recv_within(conn))
    seq, ack = state()
    link.send(frame(cport, PORT, seq, ack, "PA", b"AFTER"))
    link.send(frame(cport, PORT, seq - 1, ack, "PA", b"SLOT"))
    time.sleep(0.1)
    print("data one past the FIN and at the FIN's own number: bytes readable:",
          readable(conn), "read:", recv_within(conn))
    # A right-checksum RST at exactly the next number ends it (the control for the above).
    link.send(frame(cport, PORT, seq, ack, "RA"))
    time.sleep(0.1)
    try:
        conn.send(b"x")
        time.sleep(0.1)
        conn.send(b"y")
        print("RST at exactly the next sequence number: connection still open")
    except OSError as e:
        print("RST at exactly the next sequence number: server socket says", e.strerror)


if __name__ == "__main__":
    main()
