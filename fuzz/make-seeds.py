#!/usr/bin/env python3
"""Build the fuzz seed corpora from ../samples into corpus/<target>/ (git-ignored).

pcap_mutate   [link selector][flags][records]   first ~48 KiB of records of each .pcap, plus a
              window from the middle of the big ones (mid-stream: frames without a handshake)
capture_bytes [flags][file bytes]               first 16 KiB of each .pcap/.pcapng
http_handshake[split hi][split lo][req][resp]   the handshakes found in the samples, and each
              side's whole stream of the samples/hostile/http captures
frame_decoder [keep][8 cut bytes][stream]       RFC 6455 §5.7 examples and edge headers
ws_session    [mode][limits][split hi][split lo][8 cut bytes][client bytes][server bytes]
              RFC 6455 §5.7 and RFC 7692 §7.2.3 examples, and the first WebSocket bytes of
              each direction of the upgraded connections in the classic .pcap samples
tls_keylog    [key log text]                    the samples/tls key logs and crafted lines
tls_connection[mode][8 cut bytes][key log len u16][key log][segments: [side<<15|len u16][bytes]]
              each connection of the samples/tls .pcap captures (up to 3): its TCP payload
              segments in capture order (in-order ones only; ~24 KiB, and ~6 KiB), with the key
              log lines of its client random (and once without)
h2_connection [mode][gap mask][segments: [side<<15|len u16][bytes]]
              each connection of the cleartext samples/h2 captures (up to 4): its TCP payload
              segments in capture order (~24 KiB, ~6 KiB per config, with gaps, and without the
              client's first segment)
h2_hpack      [op][args]...                     RFC 7541 C.3-C.5 blocks, with lost() and allow()
ip_frag       [mode][fragments or a cover]      a datagram cut in order, reversed, with duplicates,
              overlaps, a late fragment and IPv6 (free mode), and exact covers of 1-4000 bytes
The captures of samples/hostile/net (IP fragments, VLAN tags, FCS) also seed pcap_mutate (the
Ethernet ones) and capture_bytes.
The TLS captures (samples/tls) also seed pcap_mutate (first ~48 KiB of records, with and
without their key log: link selector bit 0x40 = [key log len u16][key log] after the flags)
and capture_bytes (first ~48 KiB of each .pcap/.pcapng; the pcapng carries its secrets).
"""
import os, struct, glob, re

here = os.path.dirname(os.path.abspath(__file__))
samples = os.path.join(here, '..', 'samples')
LINKS = [1, 113, 276, 0, 101, 108, 228, 229]

def out(target, name, data):
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

def records(raw, le):
    at, recs = 24, []
    fmt = '<IIII' if le else '>IIII'
    while at + 16 <= len(raw):
        s, u, cap, orig = struct.unpack(fmt, raw[at:at+16])
        if at + 16 + cap > len(raw):
            break
        recs.append(struct.pack('<IIII', s, u, cap, orig) + raw[at+16:at+16+cap])
        at += 16 + cap
    return recs

def window(recs, start, budget):
    buf = b''
    for r in recs[start:]:
        if len(buf) + len(r) > budget and buf:
            break
        buf += r
    return buf

# Crafted damaged and hostile captures (samples/hostile/<area>/) seed the whole-pipeline targets.
hostile = sorted(glob.glob(os.path.join(samples, 'hostile', '*', '*.pcap*')))

for path in sorted(glob.glob(os.path.join(samples, '*.pcap'))) + [h for h in hostile if h.endswith('.pcap')]:
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    magic = raw[:4]
    le = magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    nanos = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    link = struct.unpack('<I' if le else '>I', raw[20:24])[0]
    # Selector bit 0x20: libpcap's FCS bits (0x24000000); bit 0x10: netANALYZER (240).
    fcs = 0x20 if link & 0xffff0000 == 0x24000000 else 0
    link &= 0xffff
    if link == 240:
        sel = 0x10
    elif link in LINKS:
        sel = LINKS.index(link)
    else:
        continue
    sel |= fcs | (0x80 if nanos else 0)
    recs = records(raw, le)
    for flags in (0x40, 0x41, 0x03):
        out('pcap_mutate', f'{name}-{flags:02x}', bytes([sel, flags]) + window(recs, 0, 48 << 10))
    if len(recs) > 40:
        out('pcap_mutate', f'{name}-mid', bytes([sel, 0x40]) + window(recs, len(recs) // 2, 32 << 10))

for path in sorted(glob.glob(os.path.join(samples, '*.pcap*'))) + hostile:
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    out('capture_bytes', name, bytes([0x40]) + raw[:16 << 10])
    out('capture_bytes', name + '-chunky', bytes([0x10]) + raw[:4 << 10])
    # http: request and response heads found in the raw capture bytes
    reqs = re.findall(rb'GET [^\r\n]* HTTP/1\.1\r\n.*?\r\n\r\n', raw, re.S)
    resps = re.findall(rb'HTTP/1\.1 \d{3} [^\r\n]*\r\n.*?\r\n\r\n', raw, re.S)
    for i, (q, s) in enumerate(zip(reqs[:2], resps[:2])):
        out('http_handshake', f'{name}-{i}', struct.pack('>H', len(q)) + q + s)

def tcp_streams(raw, le):
    """Each side's TCP payload, concatenated in capture order: (client, server). For clean
    Ethernet/IPv4 loopback captures of one connection (samples/hostile/http)."""
    sides, server = [b'', b''], None
    for r in records(raw, le):
        pkt = r[16:]
        if pkt[12:14] != b'\x08\x00':
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 0x0f) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, dport = struct.unpack('>HH', tcp[:4])
        flags = tcp[13]
        if flags & 0x02 and not flags & 0x10:
            server = dport
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload and server is not None:
            sides[0 if dport == server else 1] += payload
    return sides

# http_handshake, the whole-stack part: each side's stream of the HTTP tricks (keep-alive,
# 100 Continue, 401 and a retry, leading CRLF...), whole and without the client's first bytes.
for path in sorted(glob.glob(os.path.join(samples, 'hostile', 'http', '*.pcap'))):
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    c, s = tcp_streams(raw, raw[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'))
    c, s = c[:16 << 10], s[:16 << 10]
    out('http_handshake', f'stack-{name}', struct.pack('>H', len(c)) + c + s)

rfc = [
    bytes([0x81, 0x05]) + b'Hello',
    bytes([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    bytes([0x01, 0x03]) + b'Hel' + bytes([0x80, 0x02]) + b'lo',
    bytes([0x89, 0x05]) + b'Hello' + bytes([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    bytes([0x82, 0x7e, 0x01, 0x00]) + bytes(256),
    bytes([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]) + bytes(64),
    bytes([0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
    bytes([0x88, 0x02, 0x03, 0xe8, 0x81, 0x00, 0xc1, 0x80, 1, 2, 3, 4]),
]
for i, s in enumerate(rfc):
    for keep in (1, 3, 0x83):
        out('frame_decoder', f'rfc-{i}-{keep}', bytes([keep, 10, 40, 80, 120, 160, 200, 230, 250]) + s * 3)

# ws_session: [mode][limits][split hi][split lo][8 cuts][client stream][server stream]
# mode bits 0-1: 0 no deflate, 1 deflate with takeover, 2 no_context_takeover, 3 mixed;
# limits: frame keep (bits 0-1), message keep (2-3), inflate limit (4-5).
CUTS = bytes([10, 40, 81, 120, 161, 200, 230, 250])  # odd ones become gaps in the gappy run
NOGAP = bytes([10, 40, 80, 120, 160, 200, 230, 250])
KEY = b'\x37\xfa\x21\x3d'

def frame(first, payload, masked):
    n, m = len(payload), 0x80 if masked else 0
    if n < 126:
        hdr = bytes([first, n | m])
    elif n < 65536:
        hdr = bytes([first, 126 | m]) + struct.pack('>H', n)
    else:
        hdr = bytes([first, 127 | m]) + struct.pack('>Q', n)
    if not masked:
        return hdr + payload
    return hdr + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))

def session_seed(name, client, server, modes=(0,), limits=(0x3f, 0x25, 0x00)):
    for m in modes:
        for lim in limits:
            for tag, cuts in (('n', NOGAP), ('g', CUTS)):
                out('ws_session', f'{name}-m{m}-l{lim:02x}-{tag}',
                    bytes([m, lim]) + struct.pack('>H', len(client)) + cuts + client + server)

# RFC 6455 §5.7: the client's frames masked, the server's not.
session_seed('rfc6455-text', frame(0x81, b'Hello', True), frame(0x81, b'Hello', False))
session_seed('rfc6455-fragments', frame(0x01, b'Hel', True) + frame(0x80, b'lo', True),
             bytes([0x01, 0x03]) + b'Hel' + bytes([0x80, 0x02]) + b'lo')
session_seed('rfc6455-ping-pong', frame(0x89, b'Hello', True),
             frame(0x8a, b'Hello', False) + frame(0x89, b'Hello', False))
session_seed('rfc6455-binary', frame(0x82, bytes(range(256)), True),
             frame(0x82, bytes(70000), False), limits=(0x3f, 0x25))
session_seed('rfc6455-close', frame(0x81, b'bye', True) + frame(0x88, b'\x03\xe8done', True),
             frame(0x88, b'\x03\xe8', False) + frame(0x81, b'late', False))
# RFC 7692 §7.2.3: "Hello" compressed (shared window, stored block, two blocks, BFINAL set,
# fragmented), then a ping and an empty compressed binary message.
d_hello = bytes([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
d_again = bytes([0xf2, 0x00, 0x11, 0x00, 0x00])
d_stored = bytes([0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00])
d_two = bytes([0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00])
d_final = bytes([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00])
for masked, who in ((True, 'c'), (False, 's')):
    stream = b''.join(frame(0xc1, d, masked) for d in (d_hello, d_again, d_stored, d_two, d_final))
    stream += frame(0x41, d_hello[:3], masked) + frame(0x80, d_hello[3:], masked)
    stream += frame(0x89, b'', masked) + frame(0xc2, bytes([0x00]), masked)
    client, server = (stream, b'') if masked else (b'', stream)
    session_seed(f'rfc7692-{who}', client, server, modes=(1, 2, 3), limits=(0x3f, 0x05, 0x15))
session_seed('rfc7692-both', frame(0xc1, d_hello, True) + frame(0xc1, d_again, True),
             frame(0xc1, d_hello, False) + frame(0xc1, d_again, False), modes=(0, 1, 2, 3))

# The samples: reassemble each TCP connection that upgrades (in-order segments only) and keep
# the first WebSocket bytes of each direction.
def link_offset(link, pkt):
    if link == 1:
        off, et = 14, struct.unpack('>H', pkt[12:14])[0]
        while et == 0x8100 and len(pkt) >= off + 4:
            et = struct.unpack('>H', pkt[off + 2:off + 4])[0]
            off += 4
        return off
    return {113: 16, 276: 20, 0: 4, 108: 4, 101: 0, 228: 0, 229: 0}.get(link)

def tcp_segments(raw, le, link):
    fmt = '<IIII' if le else '>IIII'
    at = 24
    while at + 16 <= len(raw):
        _, _, cap, _ = struct.unpack(fmt, raw[at:at+16])
        pkt = raw[at+16:at+16+cap]
        at += 16 + cap
        off = link_offset(link, pkt) if len(pkt) >= 14 else None
        if off is None or len(pkt) < off + 40:
            continue
        ip = pkt[off:]
        if ip[0] >> 4 == 4:
            ihl, proto = (ip[0] & 15) * 4, ip[9]
            total = struct.unpack('>H', ip[2:4])[0]
            src, dst, l4 = ip[12:16], ip[16:20], ip[ihl:total]
        elif ip[0] >> 4 == 6:
            proto, plen = ip[6], struct.unpack('>H', ip[4:6])[0]
            src, dst, l4 = ip[8:24], ip[24:40], ip[40:40+plen]
        else:
            continue
        if proto != 6 or len(l4) < 20:
            continue
        sport, dport, seq = struct.unpack('>HHI', l4[:8])
        yield (src, sport, dst, dport), seq, l4[13], l4[(l4[12] >> 4) * 4:]

def ws_streams(raw, le, link):
    streams, nxt = {}, {}
    for key, seq, flags, data in tcp_segments(raw, le, link):
        if flags & 0x02:  # SYN
            nxt[key], streams[key] = (seq + 1) & 0xffffffff, bytearray()
            continue
        if key not in nxt or not data or seq != nxt[key] or len(streams[key]) > (64 << 10):
            continue
        streams[key] += data
        nxt[key] = (seq + len(data)) & 0xffffffff
    for (src, sport, dst, dport), sbytes in streams.items():
        if not sbytes.startswith(b'HTTP/1.1 101'):
            continue
        cbytes = streams.get((dst, dport, src, sport), b'')
        chead, shead = cbytes.find(b'\r\n\r\n'), sbytes.find(b'\r\n\r\n')
        if chead < 0 or shead < 0:
            continue
        head = bytes(sbytes[:shead]).lower()
        mode = 0
        if b'permessage-deflate' in head:
            both = b'server_no_context_takeover' in head and b'client_no_context_takeover' in head
            mode = 2 if both else 1
        yield mode, bytes(cbytes[chead+4:]), bytes(sbytes[shead+4:])

for path in sorted(glob.glob(os.path.join(samples, '*.pcap'))):
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    le = raw[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    link = struct.unpack('<I' if le else '>I', raw[20:24])[0]
    conns = [c for c in ws_streams(raw, le, link) if c[1] or c[2]]
    for i, (mode, client, server) in enumerate(conns[:3]):
        client, server = client[:3 << 10], server[:3 << 10]
        session_seed(f'{name}-{i}', client, server, modes=(mode,), limits=(0x3f, 0x05))
        if len(client) + len(server) > 384:
            session_seed(f'{name}-{i}-small', client[:200], server[:184], modes=(mode,),
                         limits=(0x3f,))

# --- TLS (samples/tls) ---
tls_dir = os.path.join(samples, 'tls')

def tls_conns(raw, le, link):
    """Each TCP connection's payload segments in capture order, in-order ones only, as
    (side, bytes) with side 0 the SYN sender (the client)."""
    conns, nxt = {}, {}
    for key, seq, flags, data in tcp_segments(raw, le, link):
        rkey = (key[2], key[3], key[0], key[1])
        if flags & 0x12 == 0x02:  # SYN: a new connection, this endpoint the client
            conns[key] = []
            nxt[key] = (seq + 1) & 0xffffffff
            continue
        if flags & 0x12 == 0x12:  # SYN-ACK
            nxt[key] = (seq + 1) & 0xffffffff
            continue
        if key in conns:
            side, ck = 0, key
        elif rkey in conns:
            side, ck = 1, rkey
        else:
            continue
        if not data or nxt.get(key) != seq:
            continue
        nxt[key] = (seq + len(data)) & 0xffffffff
        conns[ck].append((side, bytes(data)))
    return list(conns.values())

def tls_seed(segs, keylog, mode, budget, cuts=NOGAP):
    body, total = b'', 0
    for side, data in segs:
        data = data[:max(0, budget - total)]
        total += len(data)
        for i in range(0, len(data), 0x7fff):
            part = data[i:i + 0x7fff]
            body += struct.pack('>H', (side << 15) | len(part)) + part
        if total >= budget:
            break
    return bytes([mode]) + cuts + struct.pack('>H', len(keylog)) + keylog + body

keylog_lines = []
for path in sorted(glob.glob(os.path.join(tls_dir, '*.keys'))):
    text = open(path, 'rb').read()
    keylog_lines += text.splitlines()
    out('tls_keylog', os.path.basename(path), text)
    out('tls_keylog', os.path.basename(path) + '-crlf', text.replace(b'\n', b'\r\n')[:2048])
R = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'
out('tls_keylog', 'crafted', ('# c\n\nCLIENT_RANDOM %s %s\nCLIENT_RANDOM %s 00\n'
    'CLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s\r\nSERVER_TRAFFIC_SECRET_0 %s\nRSA aa bb\n'
    'NEW %s 00\nCLIENT_RANDOM %s zz\n  CLIENT_TRAFFIC_SECRET_0  %s  %s  \n' % (
    R, '11' * 48, R, R, '22' * 32, R, R, R[:-2], R, '33' * 48)).encode())

for path in sorted(glob.glob(os.path.join(tls_dir, '*.pcap*'))):
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    out('capture_bytes', 'tls-' + name, bytes([0x40]) + raw[:48 << 10])
    out('capture_bytes', 'tls-' + name + '-chunky', bytes([0x20]) + raw[:12 << 10])
    if not name.endswith('.pcap'):
        continue
    keys = open(path[:-len('.pcap')] + '.keys', 'rb').read()
    le = raw[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    nanos = raw[:4] in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    link = struct.unpack('<I' if le else '>I', raw[20:24])[0]
    # Selector bit 0x20: libpcap's FCS bits (0x24000000); bit 0x10: netANALYZER (240).
    fcs = 0x20 if link & 0xffff0000 == 0x24000000 else 0
    link &= 0xffff
    if link == 240:
        sel = 0x10
    elif link in LINKS:
        sel = LINKS.index(link)
    else:
        continue
    sel |= fcs | (0x80 if nanos else 0)
    recs = records(raw, le)
    w = window(recs, 0, 48 << 10)
    for flags in (0x40, 0x41):
        out('pcap_mutate', f'tls-{name}-{flags:02x}', bytes([sel, flags]) + w)
        out('pcap_mutate', f'tls-{name}-{flags:02x}-keys',
            bytes([sel | 0x40, flags]) + struct.pack('>H', len(keys[:0xffff])) + keys[:0xffff] + w)
    for i, segs in enumerate(tls_conns(raw, le, link)[:3]):
        client = b''.join(d for s, d in segs if s == 0)
        if len(client) < 43:
            continue
        random = client[11:43].hex().encode()
        mine = b"".join(l + b"\n" for l in dict.fromkeys(keylog_lines) if random in l)
        out('tls_connection', f'{name}-{i}-nokeys', tls_seed(segs, b'', 0x00, 6 << 10))
        out('tls_connection', f'{name}-{i}', tls_seed(segs, mine, 0x02, 24 << 10))
        out('tls_connection', f'{name}-{i}-small', tls_seed(segs, mine, 0x11, 6 << 10))
        out('tls_connection', f'{name}-{i}-gaps', tls_seed(segs, mine, 0x0b, 24 << 10, CUTS))

# --- HTTP/2 (samples/h2, cleartext captures) ---
# h2_connection: [mode][gap mask][segments: [side<<15|len u16][bytes]], side 0 the client.
# mode bit 2: no preface prepended (set for the h2c upgrade, which starts with HTTP/1.1);
# bit 3: a run with gaps (segments whose mask bit is set); bits 6-7: the config.
h2_dir = os.path.join(samples, 'h2')

def h2_seed(segs, mode, mask, budget):
    body, total = b'', 0
    for side, data in segs:
        data = data[:max(0, budget - total)]
        total += len(data)
        for i in range(0, len(data), 0x7fff):
            part = data[i:i + 0x7fff]
            body += struct.pack('>H', (side << 15) | len(part)) + part
        if total >= budget:
            break
    return bytes([mode, mask]) + body

for name in ('py-h2c.pcap', 'node-h2c.pcap', 'py-h2c-upgrade.pcap', 'py-h2-violations.pcap'):
    path = os.path.join(h2_dir, name)
    if not os.path.exists(path):
        continue
    raw = open(path, 'rb').read()
    le = raw[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    link = struct.unpack('<I' if le else '>I', raw[20:24])[0]
    base = 0x04 if 'upgrade' in name else 0x00
    for i, segs in enumerate(tls_conns(raw, le, link)[:4]):
        if not segs:
            continue
        tag = f'{name}-{i}'
        out('h2_connection', tag, h2_seed(segs, base, 0, 24 << 10))
        out('h2_connection', tag + '-small', h2_seed(segs, base | 0x01, 0, 6 << 10))
        out('h2_connection', tag + '-teach', h2_seed(segs, base | 0xc2, 0, 6 << 10))
        out('h2_connection', tag + '-keep0', h2_seed(segs, base | 0x83, 0, 6 << 10))
        out('h2_connection', tag + '-gaps', h2_seed(segs, base | 0x0a, 0x24, 24 << 10))
        # Without the client's first segment: the preface is prepended, the rest as captured.
        out('h2_connection', tag + '-late', h2_seed(segs[1:], 0x4a, 0x10, 6 << 10))

# h2_hpack: [op][args]... (see fuzz_targets/h2_hpack.rs): RFC 7541 C.3-C.6 blocks.
def hpack_block(b):
    return bytes([0]) + struct.pack('>H', len(b)) + b
c3 = [b'\x82\x86\x84\x41\x0fwww.example.com', b'\x82\x86\x84\xbe\x58\x08no-cache',
      b'\x82\x87\x85\xbf\x40\x0acustom-key\x0ccustom-value']
c4 = [bytes.fromhex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), bytes.fromhex('828684be5886a8eb10649cbf'),
      bytes.fromhex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf')]
c5 = [bytes.fromhex('4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d'),
      bytes.fromhex('4803333037c1c0bf'),
      bytes.fromhex('88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31')]
out('h2_hpack', 'rfc7541-c3', b''.join(map(hpack_block, c3)))
out('h2_hpack', 'rfc7541-c4', b''.join(map(hpack_block, c4)))
out('h2_hpack', 'rfc7541-c3-lost', hpack_block(c3[0]) + bytes([2]) + b''.join(map(hpack_block, c3[1:])))
# C.5 with its 256-byte table: a size update in front of the first block, so entries are evicted.
c5_256 = [b'\x3f\xe1\x01' + c5[0]] + c5[1:]
out('h2_hpack', 'rfc7541-c5-256', bytes([3]) + b''.join(map(hpack_block, c5_256)))
out('h2_hpack', 'rfc7541-c5-allow', bytes([1, 0, 0, 0x20, 0]) + b''.join(map(hpack_block, c5)))

# ip_frag (see fuzz_targets/ip_frag.rs). Free mode: [flags][offset u16, 8-byte units][seconds]
# [len][bytes]; flags bit 0 IPv6, bit 1 MF, bits 2-3 the datagram, bit 4 a clock tick.
def frag_op(flags, offset_bytes, secs, data):
    return bytes([flags]) + struct.pack('>H', offset_bytes // 8) + bytes([secs, len(data)]) + data
tcp = bytes(12) + b'\x50' + bytes(7)
body = tcp + bytes(range(100))
pieces = [(o, body[o:o + 32]) for o in range(0, len(body), 32)]
def ops(order, v6=0, ident=0, secs=0):
    return b''.join(frag_op(v6 | (2 if o + 32 < len(body) else 0) | ident << 2, o, secs, d)
                    for o, d in order)
out('ip_frag', 'v4-in-order', bytes([0]) + ops(pieces))
out('ip_frag', 'v4-reversed', bytes([0]) + ops(pieces[::-1]))
out('ip_frag', 'v6-interleaved', bytes([0]) + ops(pieces[1::2] + pieces[0::2], v6=1))
out('ip_frag', 'v4-duplicate', bytes([0]) + ops(pieces[:1] + pieces))
out('ip_frag', 'v4-overlap', bytes([0]) + ops(pieces[:2]) + frag_op(2, 16, 0, b'D' * 32) + ops(pieces[2:]))
out('ip_frag', 'v4-late', bytes([0]) + ops(pieces[:-1]) + frag_op(0x10, 0, 31, b'') + ops(pieces[-1:]))
out('ip_frag', 'two-datagrams-tiny', bytes([2]) + ops(pieces, ident=1) + ops(pieces[::-1], v6=1, ident=2))
for n, (v6, ln, cuts, order) in enumerate([(0, 100, b'\x01\x03', b'\x05\x81\x02'),
                                           (4, 4000, bytes(range(0, 60, 7)), bytes(range(0xff, 0, -13))),
                                           (0, 9, b'', b''), (4, 64, b'\x00', b'\x80\x80')]):
    out('ip_frag', f'cover-{n}', bytes([1 | v6]) + struct.pack('>H', ln - 1) + bytes([len(cuts)]) + cuts + order)

print('seeds written to', os.path.join(here, 'corpus'))
