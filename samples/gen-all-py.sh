#!/bin/sh
# Regenerate every py-* capture and its expected.json, then cross-check all of
# them with tshark.  Needs root (tcpdump; py-reorder creates network namespaces),
# tcpdump, tshark, mergecap, ethtool, iproute2 and
# `pip install websockets aiohttp`.
set -eu
cd "$(dirname "$0")"
for name in py-echo py-nano py-any py-any-sll py-ipv6-subproto py-rejected \
            py-closes py-deflate py-reorder py-multilink; do
    echo "== $name"
    timeout 300 python3 "$name.gen.py"
done
echo "== tshark cross-check"
python3 lib/check.py py-*.expected.json
