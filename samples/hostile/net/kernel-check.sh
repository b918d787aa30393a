#!/bin/sh
# Run kernel-check.py between two network namespaces (root; from the repository root).
# Writes samples/hostile/net/kernel-check.log: the kernel, its reassembly settings, what the
# client got back for each trick, and the server's own log of the requests it received.
set -eu
HERE=samples/hostile/net
OUT=$HERE/kernel-check.log
SLOG=$(mktemp)
cleanup() {
    [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null || true
    [ -n "${DUMP:-}" ] && kill "$DUMP" 2>/dev/null || true
    ip netns del wsd-cli 2>/dev/null || true
    ip netns del wsd-srv 2>/dev/null || true
    rm -f "$SLOG"
}
trap cleanup EXIT
ip netns add wsd-cli
ip netns add wsd-srv
ip link add vcli netns wsd-cli type veth peer name vsrv netns wsd-srv
ip -n wsd-cli link set lo up
ip -n wsd-srv link set lo up
ip -n wsd-cli addr add 10.77.0.1/24 dev vcli
ip -n wsd-srv addr add 10.77.0.2/24 dev vsrv
ip -n wsd-cli -6 addr add fd77::1/64 dev vcli nodad
ip -n wsd-srv -6 addr add fd77::2/64 dev vsrv nodad
ip -n wsd-cli link set vcli up
ip -n wsd-srv link set vsrv up
CLI_MAC=$(ip -n wsd-cli -br link show vcli | awk '{print $3}')
SRV_MAC=$(ip -n wsd-srv -br link show vsrv | awk '{print $3}')
# The client's addresses belong to no kernel: the server reaches them through fixed entries.
ip -n wsd-srv neigh add 10.77.0.9 lladdr "$CLI_MAC" dev vsrv
ip -n wsd-srv -6 neigh add fd77::9 lladdr "$CLI_MAC" dev vsrv
ip netns exec wsd-srv target/py-venv/bin/python $HERE/kernel-check.py server "$SLOG" &
SRV=$!
if [ -n "${KC_PCAP:-}" ]; then
    ip netns exec wsd-srv tcpdump -i vsrv -w "$KC_PCAP" -U 2>/dev/null &
    DUMP=$!
fi
sleep 2
{
    echo "# samples/hostile/net/kernel-check.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# kernel: $(uname -sr)"
    echo "# server namespace: net.ipv4.ipfrag_time=$(ip netns exec wsd-srv sysctl -n net.ipv4.ipfrag_time)" \
         "net.ipv6.ip6frag_time=$(ip netns exec wsd-srv sysctl -n net.ipv6.ip6frag_time)" \
         "net.ipv4.ipfrag_high_thresh=$(ip netns exec wsd-srv sysctl -n net.ipv4.ipfrag_high_thresh)"
    echo "# server: Python websockets $(target/py-venv/bin/python -c 'import websockets; print(websockets.__version__)')" \
         "on 10.77.0.2 and fd77::2 port 8765; client: scapy from 10.77.0.9 / fd77::9"
    echo "## what the client got back, per trick"
    ip netns exec wsd-cli /usr/bin/python3 $HERE/kernel-check.py client "$SRV_MAC"
    echo "## the server's log: every request it received (path = trick)"
    cat "$SLOG"
    echo "## the server's IP reassembly counters"
    ip netns exec wsd-srv nstat -az IpReasmReqds IpReasmOKs IpReasmFails Ip6ReasmReqds Ip6ReasmOKs Ip6ReasmFails Ip6ReasmTimeout IpExtReasmOverlaps 2>/dev/null | grep -v '^#' || true
} > "$OUT"
cat "$OUT"
