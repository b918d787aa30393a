# Shared shell helpers for the samples/tls/*.gen.sh generators (sourced, bash).
# Expects: NAME, PORT (the TLS WebSocket port) and tmp (a temp dir removed by the caller).

port_free() { # refuse to capture foreign traffic
  if ss -Htan exclude time-wait "( sport = :$1 or dport = :$1 )" | grep -q .; then
    echo "$NAME: port $1 busy; refusing to capture foreign traffic" >&2; exit 1
  fi
}

make_cert() { # self-signed RSA-2048 for wsd.test (+ localhost, 127.0.0.1) -> $tmp/cert.pem, $tmp/key.pem
  timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj /CN=wsd.test \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -addext "subjectAltName=DNS:wsd.test,DNS:localhost,IP:127.0.0.1" 2>/dev/null
}

start_tcpdump() { # $1 = BPF filter; writes $tmp/$NAME.pcap
  timeout 300 tcpdump -n -i lo -s 0 -U --immediate-mode -B 16384 -Z root -w "$tmp/$NAME.pcap" "$1" \
    2>"$tmp/tcpdump.err" &
  td=$!
  for _ in $(seq 100); do grep -q 'listening on' "$tmp/tcpdump.err" && break; sleep 0.1; done
  grep -q 'listening on' "$tmp/tcpdump.err" || { cat "$tmp/tcpdump.err" >&2; exit 1; }
  sleep 0.3
}

stop_tcpdump() {
  sleep 1  # --immediate-mode: nothing left in the ring-buffer block at SIGINT
  kill -INT "$td"; wait "$td" || true
  cat "$tmp/tcpdump.err" >&2
  grep -q '^0 packets dropped by kernel' "$tmp/tcpdump.err" || { echo "tcpdump dropped packets" >&2; exit 1; }
}

# Every TCP connection to $PORT in the capture is one the expected file lists, each captured to its
# end (FIN from both sides, or FIN + RST), the ClientHello randoms are the expected client_randoms in order, and
# the key log in $2 names them (except connections marked "keyed": false).
verify_capture() { # $1 = capture, $2 = key log, $3 = expected.json
  timeout 120 python3 - "$1" "$2" "$3" "$PORT" <<'PY'
import json, subprocess, sys
cap, keys, expf, port = sys.argv[1:]
exp = json.load(open(expf))
def tshark(flt, *fields):
    cmd = ["tshark", "-r", cap, "-d", f"tcp.port=={port},tls", "-Y", flt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines() if l.strip()]
conns = exp["connections"]
want = sorted(c["client"].rsplit(":", 1)[1] for c in conns)
got = sorted(r[0] for r in tshark(f"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport=={port}", "tcp.srcport"))
assert want == got, f"capture/expected connection mismatch: {got} vs {want}"
fins = {(r[0], r[1]) for r in tshark(f"tcp.flags.fin==1 && tcp.port=={port}", "tcp.srcport", "tcp.dstport")}
rsts = {r[0] for r in tshark(f"tcp.flags.reset==1 && tcp.port=={port}", "tcp.srcport")} | \
       {r[0] for r in tshark(f"tcp.flags.reset==1 && tcp.port=={port}", "tcp.dstport")}
for p in want:
    # captured to its end: a FIN from both sides, or a FIN from one side and then a RST
    # (Go: the side that closes second sends close_notify to a closed socket and gets a RST)
    both = (p, port) in fins and (port, p) in fins
    one = ((p, port) in fins or (port, p) in fins) and p in rsts
    assert both or one, f"connection from port {p} not captured to its end"
# ClientHello randoms per TCP stream, in the order of the connections in the file
hello = {}
for sport, rnd in tshark(f"tls.handshake.type==1 && tcp.dstport=={port}", "tcp.srcport", "tls.handshake.random"):
    hello.setdefault(sport, rnd.replace(":", "").lower())
for c in conns:
    p = c["client"].rsplit(":", 1)[1]
    assert hello.get(p) == c["tls"]["client_random"], f"{c['client']}: ClientHello random {hello.get(p)} vs {c['tls']['client_random']}"
logged = {l.split()[1].lower() for l in open(keys) if l.strip() and not l.startswith("#")}
for c in conns:
    assert (c["tls"]["client_random"] in logged) == c["tls"].get("keyed", True), c["client"]
print(f"capture ok: {len(conns)} connections, ClientHello randoms match the key log")
PY
}
