#!/bin/sh
# Regenerate every wss:// capture in samples/tls (capture, key log, expected.json), each checked
# with tshark (../lib/check.py with the key log) as it is written; then a summary of what tshark
# decrypted and of the TLS records (survey.py). Needs root (tcpdump on lo), tcpdump, tshark/editcap,
# openssl, python3 with websockets 17 (pip, as for ../gen-all-py.sh), node/npm (ws from
# ../package.json), chromium, firefox-esr + certutil (libnss3-tools), and for go-tls Debian's golang +
# golang-github-gorilla-websocket-dev (go-tls.gen.sh installs them with apt-get if missing).
set -eu
cd "$(dirname "$0")"
for name in py-tls13-aes128 py-tls13-aes256 py-tls13-chacha py-tls13-ccm py-tls13-hrr \
            py-tls12-gcm py-tls12-chacha py-tls12-cbc py-tls12-resume py-tls13-resume \
            py-tls-partial-keys tls13-keyupdate chromium-tls firefox-tls; do
    echo "== $name"
    timeout 300 python3 "$name.gen.py"
done
echo "== py-tls13-dsb (from py-tls13-aes128)"
timeout 120 ./py-tls13-dsb.gen.sh
echo "== node-tls"
timeout 300 ./node-tls.gen.sh
echo "== go-tls"
timeout 1200 ./go-tls.gen.sh
echo "== tshark cross-check (all)"
python3 ../lib/check.py ./*.expected.json
echo "== survey"
python3 survey.py ./*.expected.json
