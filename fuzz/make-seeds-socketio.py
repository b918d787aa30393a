#!/usr/bin/env python3
"""Seeds for the decode_socketio fuzz target, into corpus/decode_socketio/ (git-ignored).

From the peers' logs of samples/apps/socketio: each Engine.IO packet either side sent over the
WebSocket, in time order, as one message record [ctl][len u16 le][bytes] (ctl bit 0: server to
client, bit 1: text, bits 3-7: ms since the previous message); binary data is logged by length,
so it is rebuilt as that many bytes. The open packet, the upgrade probe and the upgrade packet
are added as the WebSocket carried them. Also each session cut into windows of 12 messages.
"""
import json, os, struct

here = os.path.dirname(os.path.abspath(__file__))
apps = os.path.join(here, '..', 'samples', 'apps', 'socketio')
out = os.path.join(here, 'corpus', 'decode_socketio')
os.makedirs(out, exist_ok=True)
TYPES = {'open': '0', 'close': '1', 'ping': '2', 'pong': '3', 'message': '4', 'upgrade': '5', 'noop': '6'}
OPEN = '0{"sid":"Sz9Lkvu9k0R8fgOLAAAA","upgrades":[],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}'


def record(s2c, text, data, gap_ms=1):
    ctl = (1 if s2c else 0) | (2 if text else 0) | (min(gap_ms, 31) << 3)
    return bytes([ctl]) + struct.pack('<H', len(data)) + data


def session(name):
    recs = []
    for side in ('client', 'server'):
        for line in open(os.path.join(apps, f'{name}.{side}.jsonl')):
            r = json.loads(line)
            if r.get('layer') != 'engine.io' or r.get('dir') != 'sent' or r.get('transport') != 'websocket':
                continue
            d = r.get('data')
            if isinstance(d, dict):
                recs.append((r['t_ms'], side == 'server', False, bytes(i % 251 for i in range(d['binary']))))
            else:
                recs.append((r['t_ms'], side == 'server', True, (TYPES[r['type']] + (d or '')).encode()))
    recs.sort(key=lambda r: r[0])
    first = [(0, False, True, b'2probe'), (0, True, True, b'3probe'), (0, False, True, b'5')] \
        if name == 'deflate' else [(0, True, True, OPEN.encode())]
    return [record(s2c, text, data) for _, s2c, text, data in first + recs]


n = 0
for name in ('plain', 'deflate'):
    msgs = session(name)
    for flags in (0, 1):
        open(os.path.join(out, f'{name}-{flags}'), 'wb').write(bytes([flags]) + b''.join(msgs))
        n += 1
    for i in range(0, len(msgs), 6):
        open(os.path.join(out, f'{name}-w{i}'), 'wb').write(b'\0' + b''.join(msgs[i:i + 12]))
        n += 1
print(n, 'seeds written to', out)
