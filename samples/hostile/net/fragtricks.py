"""IP fragmentation and link-layer tricks shared by gen.py (captures) and kernel-check.py (a
real Linux receiver). Plain scapy (Debian python3-scapy 2.5); no randomness."""
from scapy.all import IP, IPv6, IPv6ExtHdrFragment, Raw


def v4_fragments(ip, size, ident=None):
    """The IPv4 packet `ip` cut into fragments holding `size` bytes of its payload each
    (a multiple of 8), in order. DF is cleared, as a sender that fragments must."""
    assert size % 8 == 0
    payload = bytes(ip.payload)
    ident = ip.id if ident is None else ident
    out = []
    for off in range(0, len(payload), size):
        chunk = payload[off:off + size]
        more = off + size < len(payload)
        out.append(IP(src=ip.src, dst=ip.dst, ttl=ip.ttl, id=ident, proto=ip.proto,
                      flags="MF" if more else 0, frag=off // 8) / Raw(chunk))
    return out


def v4_fragment_at(ip, offset, data, more=True, ident=None):
    """One IPv4 fragment of `ip`'s datagram with arbitrary bytes at `offset` (a decoy)."""
    ident = ip.id if ident is None else ident
    return IP(src=ip.src, dst=ip.dst, ttl=ip.ttl, id=ident, proto=ip.proto,
              flags="MF" if more else 0, frag=offset // 8) / Raw(data)


def v6_fragments(ip6, size, ident):
    """The IPv6 packet `ip6` (no extension headers) cut into fragments with a Fragment header
    (RFC 8200 §4.5), `size` bytes of payload each (a multiple of 8), in order."""
    assert size % 8 == 0
    payload = bytes(ip6.payload)
    out = []
    for off in range(0, len(payload), size):
        chunk = payload[off:off + size]
        more = off + size < len(payload)
        out.append(IPv6(src=ip6.src, dst=ip6.dst, hlim=ip6.hlim, fl=ip6.fl)
                   / IPv6ExtHdrFragment(nh=ip6.nh, offset=off // 8, m=int(more), id=ident)
                   / Raw(chunk))
    return out


def v6_fragment_at(ip6, offset, data, ident, more=True):
    return (IPv6(src=ip6.src, dst=ip6.dst, hlim=ip6.hlim, fl=ip6.fl)
            / IPv6ExtHdrFragment(nh=ip6.nh, offset=offset // 8, m=int(more), id=ident)
            / Raw(data))


def reorder(frags, pattern):
    """Fragments in one of the orders the captures use."""
    if pattern == "in-order":
        return list(frags)
    if pattern == "reversed":
        return list(reversed(frags))
    if pattern == "last-first":
        return frags[-1:] + frags[:-1]
    if pattern == "duplicate":
        # The first fragment twice in a row, byte for byte (a network duplicate).
        return frags[:1] + frags[:1] + frags[1:]
    if pattern == "interleaved":
        return frags[1::2] + frags[0::2]
    raise ValueError(pattern)


def vlan_tags(frame, tags):
    """An Ethernet frame with `tags` VLAN tags pushed after the MAC addresses: the outermost
    an 802.1ad service tag (0x88a8), the rest 802.1Q (0x8100), VLAN ids 100, 101, …"""
    out = frame[:12]
    for i in range(tags):
        tpid = 0x88a8 if i == 0 else 0x8100
        out += tpid.to_bytes(2, "big") + (100 + i).to_bytes(2, "big")
    return out + frame[12:]


def with_fcs(frame):
    """The frame followed by its Ethernet FCS (CRC-32, least significant byte first)."""
    import zlib
    return frame + zlib.crc32(frame).to_bytes(4, "little")


def decoy_inside_a_run(ip):
    """32-byte fragments [0,32) and [32,64) arrive in order: one run [0,64). A decoy at
    [40,56) lies wholly inside it: a duplicate for the kernel, whatever its bytes, so the
    first copy wins (inet_frag_queue_insert: IPFRAG_DUP)."""
    f = v4_fragments(ip, 32)
    decoy = v4_fragment_at(ip, 40, b"/DECOYDECOYDECOY")
    return f[:2] + [decoy] + f[2:]


def decoy_across_runs(ip):
    """16-byte fragments, [16,32) first and then [0,16): two runs (the second did not extend
    the highest one), so a decoy at [8,24) straddles them: an overlap, and the kernel drops
    the datagram (IPFRAG_OVERLAP). The fragments after it start a datagram of their own that
    never completes."""
    f = v4_fragments(ip, 16)
    decoy = v4_fragment_at(ip, 8, b"DECOYDECOYDECOY!")
    return [f[1], f[0], decoy] + f[2:]
