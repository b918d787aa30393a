#!/usr/bin/env python3
"""Seed corpus/decode_mqtt/ (git-ignored) from samples/apps/mqtt/mqtt.pcap.

decode_mqtt [mode][records: [len][flags][len bytes]]   each connection's messages, exported by
            `wsdissect --export` (build it first: cargo build): once client messages only (mode
            1, the split oracle), once both directions alternating (mode 0), once recognised
            (mode 2). A message over 255 bytes becomes several records, so several messages.
"""
import pathlib
import subprocess
import tempfile

here = pathlib.Path(__file__).resolve().parent
root = here.parent
out = here / "corpus" / "decode_mqtt"
out.mkdir(parents=True, exist_ok=True)


def records(msgs):
    b = bytearray()
    for flags, data in msgs:
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        for c in chunks:
            b += bytes([len(c), flags]) + c
    return bytes(b)


with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(
        [root / "target/debug/wsdissect", "--full-payload", "--export", tmp,
         root / "samples/apps/mqtt/mqtt.pcap"],
        check=True, stdout=subprocess.DEVNULL)
    files = sorted(pathlib.Path(tmp).iterdir())
    conns = sorted({f.name.split("-")[0] for f in files})
    n = 0
    for conn in conns:
        c2s = [f.read_bytes() for f in files if f.name.startswith(conn + "-c2s")]
        s2c = [f.read_bytes() for f in files if f.name.startswith(conn + "-s2c")]
        both = []
        for i in range(max(len(c2s), len(s2c))):
            if i < len(c2s):
                both.append((0, c2s[i]))
            if i < len(s2c):
                both.append((1, s2c[i]))
        for mode, msgs in [(1, [(0, m) for m in c2s]), (0, both), (2, both)]:
            (out / f"{conn}-mode{mode}").write_bytes(bytes([mode]) + records(msgs))
            n += 1
print(f"{n} seeds in {out}")
