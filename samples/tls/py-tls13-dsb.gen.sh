#!/usr/bin/env bash
# py-tls13-dsb.pcapng: py-tls13-aes128.pcap with its key log embedded as a pcapng Decryption
# Secrets Block (DSB, secrets type TLS Key Log 0x544c534b), by Wireshark's editcap:
#   editcap --inject-secrets tls,py-tls13-aes128.keys py-tls13-aes128.pcap py-tls13-dsb.pcapng
# Run after py-tls13-aes128.gen.py (it copies that capture's expected.json, changing only the
# file names and "keylog": null = the secrets are inside the capture).
# py-tls13-dsb.keys is a copy of the injected key log (what the DSB holds), for comparison only.
set -euo pipefail
cd "$(dirname "$0")"
SRC=py-tls13-aes128
NAME=py-tls13-dsb
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
timeout 60 editcap --inject-secrets "tls,$SRC.keys" "$SRC.pcap" "$tmp/$NAME.pcapng"
# the DSB must be there and hold exactly the key log
timeout 60 tshark -r "$tmp/$NAME.pcapng" -c 1 -T fields -e frame.number >/dev/null 2>&1
timeout 60 python3 - "$SRC" "$NAME" "$tmp" <<'PY'
import json, struct, sys
src, name, tmp = sys.argv[1:]
data = open(f"{tmp}/{name}.pcapng", "rb").read()
keys = open(f"{src}.keys", "rb").read()
off, dsb = 0, []
while off < len(data):
    btype, blen = struct.unpack_from("<II", data, off)
    if btype == 0x0000000A:  # Decryption Secrets Block
        stype, slen = struct.unpack_from("<II", data, off + 8)
        dsb.append((stype, data[off + 16:off + 16 + slen]))
    off += blen
assert len(dsb) == 1 and dsb[0] == (0x544C534B, keys), [(hex(t), len(s)) for t, s in dsb]
exp = json.load(open(f"{src}.expected.json"))
out = {"capture": f"{name}.pcapng", "generator": f"{name}.gen.sh",
       "description": f"{src}.pcap converted to pcapng by editcap --inject-secrets with {src}.keys: "
                      "one Decryption Secrets Block (TLS key log) before the first packet, so no key log file is "
                      "needed. Same packets and connections as " + src + ": " + exp["description"],
       "keylog": None, "secrets_in_capture": f"{name}.keys", "dsb_source": f"{src}.keys"}
for k, v in exp.items():
    if k not in ("capture", "generator", "description", "keylog"):
        out.setdefault(k, v)
json.dump(out, open(f"{tmp}/{name}.expected.json", "w"), indent=1, ensure_ascii=False)
open(f"{tmp}/{name}.expected.json", "a").write("\n")
print(f"DSB ok: {len(keys)} bytes of TLS key log")
PY
cp "$SRC.keys" "$tmp/$NAME.keys"
mv "$tmp/$NAME.pcapng" "$tmp/$NAME.expected.json" "$tmp/$NAME.keys" .
timeout 300 python3 ../lib/check.py "$NAME.expected.json"
