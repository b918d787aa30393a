#!/usr/bin/env bash
# Benchmarks wsdissect against tshark and tcpdump on the captures made by bench/make-captures.sh,
# then the unmask fast path against the byte loop. Prints markdown tables (also written to
# bench/data/results.md and bench/data/unmask.md). See docs/performance.md.
#   bench/make-captures.sh && bench/run.sh
# Environment: RUNS, TSHARK_RUNS, CAPTURES (see bench/run.py); WSDISSECT=BINARY skips the build.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v tshark >/dev/null || need+=(tshark)
command -v tcpdump >/dev/null || need+=(tcpdump)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi
[ -s data/small-messages.pcap ] || { echo "no captures: run bench/make-captures.sh first" >&2; exit 1; }

if [ -z "${WSDISSECT:-}" ]; then
  (cd .. && cargo build --release --quiet)
  # run a private copy: target/release may be rebuilt by someone else during a long run
  cp ../target/release/wsdissect data/wsdissect
  export WSDISSECT=$PWD/data/wsdissect
fi  # else: the given binary, as it is
echo "## machine"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"
echo "- RAM: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "- kernel: $(uname -r)"
if [ "$WSDISSECT" = "$PWD/data/wsdissect" ]; then
  echo "- wsdissect: built from the work tree at $(git -C .. rev-parse --short HEAD 2>/dev/null || echo '?') ($(rustc --version))"
else
  echo "- wsdissect: the given binary $WSDISSECT ($(stat -c %y "$WSDISSECT" | cut -d. -f1))"
fi
echo "- $(tshark -v 2>/dev/null | head -1)"
echo "- $(tcpdump --version 2>&1 | head -1), $(hyperfine --version)"
echo
echo "## captures vs tools"
echo
python3 run.py
echo
echo "## unmask: apply_mask vs apply_mask_bytewise"
echo
(cd unmask && cargo build --release --quiet && ./target/release/wsdissect-bench-unmask) | tee data/unmask.md
