#!/usr/bin/env python3
"""Build the fuzz seed corpora from ../samples into corpus/<target>/ (git-ignored).

pcap_mutate   [link selector][flags][records]   first ~48 KiB of records of each .pcap, plus a
              window from the middle of the big ones (mid-stream: frames without a handshake)
capture_bytes [flags][file bytes]               first 16 KiB of each .pcap/.pcapng
http_handshake[split hi][split lo][req][resp]   the handshakes found in the samples
frame_decoder [keep][8 cut bytes][stream]       RFC 6455 §5.7 examples and edge headers
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

for path in sorted(glob.glob(os.path.join(samples, '*.pcap'))):
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    magic = raw[:4]
    le = magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    nanos = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    link = struct.unpack('<I' if le else '>I', raw[20:24])[0]
    if link not in LINKS:
        continue
    sel = LINKS.index(link) | (0x80 if nanos else 0)
    recs = records(raw, le)
    for flags in (0x40, 0x41, 0x03):
        out('pcap_mutate', f'{name}-{flags:02x}', bytes([sel, flags]) + window(recs, 0, 48 << 10))
    if len(recs) > 40:
        out('pcap_mutate', f'{name}-mid', bytes([sel, 0x40]) + window(recs, len(recs) // 2, 32 << 10))

for path in sorted(glob.glob(os.path.join(samples, '*.pcap*'))):
    name = os.path.basename(path)
    raw = open(path, 'rb').read()
    out('capture_bytes', name, bytes([0x40]) + raw[:16 << 10])
    out('capture_bytes', name + '-chunky', bytes([0x10]) + raw[:4 << 10])
    # http: request and response heads found in the raw capture bytes
    reqs = re.findall(rb'GET [^\r\n]* HTTP/1\.1\r\n.*?\r\n\r\n', raw, re.S)
    resps = re.findall(rb'HTTP/1\.1 \d{3} [^\r\n]*\r\n.*?\r\n\r\n', raw, re.S)
    for i, (q, s) in enumerate(zip(reqs[:2], resps[:2])):
        out('http_handshake', f'{name}-{i}', struct.pack('>H', len(q)) + q + s)

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
print('seeds written to', os.path.join(here, 'corpus'))
