#!/usr/bin/env bash
# The project's one test command (README.md; .ci/run calls it). Installs what the tests need on
# Debian when run as root, then: format check, clippy, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null || need+=(tshark)
[ -e /usr/include/pcap.h ] || need+=(libpcap-dev)
command -v tcpdump >/dev/null || need+=(tcpdump)
# The live wss test makes a throwaway certificate with the openssl command.
command -v openssl >/dev/null || need+=(openssl)
# The memory bounds in the CLI tests are measured with GNU time.
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} — run: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
fi

# The live-capture tests drive a real Python websockets peer over loopback.
if ! python3 -c 'import websockets' 2>/dev/null; then
  python3 -m pip install -q 'websockets==17.4' || echo "note: websockets not installed; live tests will be skipped" >&2
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet
