#!/usr/bin/env python3
"""Cross-check a py-* capture against its expected.json using tshark.

usage: python3 lib/check.py NAME.expected.json [...]

This is an independent sanity check (tshark's WebSocket dissector vs. the
senders' logs), not part of how expected.json is produced.  Per connection it
compares: handshake status, data messages per direction (opcode + length; for
compressed messages only the opcode and the RSV1 bit, since the frame length is
the compressed length), close frames and pings.  Prints OK or the differences;
exit status 1 if anything differs.
"""
import json
import os
import subprocess
import sys


def layers_of(pkt, name):
    v = pkt["_source"]["layers"].get(name)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def frame_len(ws):
    for k in ("websocket.payload_length_ext_64", "websocket.payload_length_ext_16",
              "websocket.payload_length"):
        if k in ws:
            return int(ws[k])


def tshark_view(path, server_ports, keylog=None):
    cmd = ["tshark", "-r", path, "-T", "json", "--no-duplicate-keys",
           "-J", "ip ipv6 tcp http websocket", "-Y", "websocket || http.response"]
    # tshark 4.0 does not reassemble out-of-order TCP segments by default and then
    # loses WebSocket messages in py-reorder.pcap; turn it on (TSHARK_OPTS overrides).
    cmd[3:3] = os.environ.get("TSHARK_OPTS", "-o tcp.reassemble_out_of_order:TRUE").split()
    # wss:// captures (samples/tls): TLS on the port, decrypted with the key log, then HTTP
    # inside (tshark picks HTTP from ALPN, or from http.tls.port when there is no ALPN).
    if keylog is not None:
        ports = ",".join(str(p) for p in sorted(server_ports))
        cmd[3:3] = ["-o", f"http.tls.port:{ports}"]
        if keylog:  # "" = a pcapng with its own Decryption Secrets Block
            cmd[3:3] = ["-o", f"tls.keylog_file:{keylog}"]
    for p in sorted(server_ports):  # make sure the WebSocket ports are dissected as HTTP (or TLS)
        cmd[3:3] = ["-d", f"tcp.port=={p},{'http' if keylog is None else 'tls'}"]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=300).stdout
    return json.loads(out or b"[]")


def addr(pkt, which):
    ip = (layers_of(pkt, "ip") or [None])[0]
    if ip:
        return ip[f"ip.{which}"]
    return "[" + layers_of(pkt, "ipv6")[0][f"ipv6.{which}"] + "]"


def observed(path, expected):
    servers = {c["server"] for c in expected["connections"]}
    ports = {int(s.rsplit(":", 1)[1]) for s in servers}
    conns = {}
    keylog = expected.get("keylog")
    if keylog:
        keylog = os.path.join(os.path.dirname(path), keylog)
    elif "keylog" in expected:  # null: the secrets are inside the capture (pcapng DSB)
        keylog = ""
    for pkt in tshark_view(path, ports, keylog):
        tcp = layers_of(pkt, "tcp")[0]
        src = f"{addr(pkt, 'src')}:{tcp['tcp.srcport']}"
        dst = f"{addr(pkt, 'dst')}:{tcp['tcp.dstport']}"
        if dst in servers:
            client, d = src, "c2s"
        else:
            client, d = dst, "s2c"
        c = conns.setdefault(client, {"status": None, "messages": [], "closes": [], "pings": []})
        for http in layers_of(pkt, "http"):
            for k, v in http.items():  # the status line is a nested key
                if isinstance(v, dict) and "http.response.code" in v:
                    c["status"] = int(v["http.response.code"])
        for ws in layers_of(pkt, "websocket"):
            op = int(ws["websocket.opcode"])
            payload = ws.get("websocket.payload", {})
            if op in (1, 2):
                c["messages"].append({"dir": d, "opcode": op, "len": frame_len(ws),
                                      "compressed": ws.get("websocket.rsv") in ("0x04", "0x4")
                                      or ws.get("websocket.pmc") == "1", "fragments": 1})
                if ws.get("websocket.fin") == "0":  # first frame of a fragmented message
                    c.setdefault("open", {})[d] = c["messages"][-1]
            elif op == 0 and c.get("open", {}).get(d):  # continuation: add to the open message
                m = c["open"][d]
                m["len"] += frame_len(ws)
                m["fragments"] += 1
                if ws.get("websocket.fin") == "1":
                    c["open"][d] = None
            elif op == 8:
                cl = payload.get("websocket.payload.close", {}) if isinstance(payload, dict) else {}
                cl = cl if isinstance(cl, dict) else {}  # malformed close payload
                code = cl.get("websocket.payload.close.status_code")
                c["closes"].append({"dir": d, "code": int(code) if code else None,
                                    "reason": cl.get("websocket.payload.close.reason", "")})
            elif op == 9:
                c["pings"].append({"dir": d, "len": frame_len(ws)})
    return conns


def compare(exp_path):
    base = os.path.dirname(os.path.abspath(exp_path))
    expected = json.load(open(exp_path))
    got = observed(os.path.join(base, expected["capture"]), expected)
    problems = []
    seen = {"c2s": 0, "s2c": 0}
    for g in got.values():
        for m in g["messages"]:
            seen[m["dir"]] += 1
    for i, e in enumerate(expected["connections"]):
        g = got.pop(e["client"], None)
        tag = f"conn {i} {e['client']}"
        if e.get("tls", {}).get("keyed") is False:
            # no keys for this TLS connection: tshark must not decode anything in it
            if g is not None and (g["messages"] or g["closes"] or g["pings"] or g["status"]):
                problems.append(f"{tag}: not keyed, but tshark decoded WebSocket traffic in it")
            continue
        if g is None:
            problems.append(f"{tag}: not seen by tshark")
            continue
        if g["status"] != e["status"]:
            problems.append(f"{tag}: status tshark={g['status']} expected={e['status']}")
        for d in ("c2s", "s2c"):
            em = [m for m in e["messages"] if m["dir"] == d]
            gm = [m for m in g["messages"] if m["dir"] == d]
            if any(m.get("compressed") for m in em) or any(m["compressed"] for m in gm):
                ek = [(m["opcode"], m.get("compressed", True)) for m in em]
                gk = [(m["opcode"], m["compressed"]) for m in gm]
            else:
                ek = [(m["opcode"], m["len"]) for m in em]
                gk = [(m["opcode"], m["len"]) for m in gm]
            if ek != gk:
                problems.append(f"{tag} {d}: messages tshark={gk} expected={ek}")
            elif all("fragments" in m for m in em) and not any(m.get("compressed") for m in em):
                ef, gf = [m["fragments"] for m in em], [m["fragments"] for m in gm]
                if ef != gf:
                    problems.append(f"{tag} {d}: fragments tshark={gf} expected={ef}")
            ec = [(c["code"], c["reason"]) for c in e["closes"] if c["dir"] == d]
            gc = [(c["code"], c["reason"]) for c in g["closes"] if c["dir"] == d]
            if ec != gc:
                problems.append(f"{tag} {d}: closes tshark={gc} expected={ec}")
            ep = [p["len"] for p in e["pings"] if p["dir"] == d]
            gp = [p["len"] for p in g["pings"] if p["dir"] == d]
            if ep != gp:
                problems.append(f"{tag} {d}: pings tshark={gp} expected={ep}")
    for client in got:
        problems.append(f"tshark saw an unexpected connection from {client}")
    n_msgs = sum(len(c["messages"]) for c in expected["connections"])
    head = f"{expected['capture']}: {len(expected['connections'])} connections, {n_msgs} messages"
    if "keylog" in expected:
        e_dir = {d: sum(1 for c in expected["connections"] if c.get("tls", {}).get("keyed", True)
                        for m in c["messages"] if m["dir"] == d) for d in ("c2s", "s2c")}
        head += (f" (decryptable: c2s {e_dir['c2s']}, s2c {e_dir['s2c']});"
                 f" tshark data messages: c2s {seen['c2s']}, s2c {seen['s2c']}")
    if problems:
        print(head + " -- MISMATCH vs tshark:\n  " + "\n  ".join(problems))
        return False
    print(head + " -- tshark agrees")
    return True


if __name__ == "__main__":
    ok = all([compare(p) for p in sys.argv[1:]])
    sys.exit(0 if ok else 1)
