#!/usr/bin/env python3
"""What tshark sees in the samples/tls captures (informational, for README.md).

usage: python3 survey.py NAME.expected.json [...]

Per capture: WebSocket data frames per direction that tshark decodes with the key log (and the
number the expected file implies: sum of "fragments", default 1, over keyed connections), TLS
records, handshake messages after the handshake (NewSessionTicket, KeyUpdate), HelloRetryRequest,
early data, TCP segments with several TLS records, TLS records spanning several TCP segments.
"""
import json
import os
import subprocess
import sys

HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"


def tshark(cap, opts, flt, *fields):
    cmd = ["tshark", "-r", cap, *opts, "-Y", flt, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    return [ln.split("\t") for ln in out.splitlines() if ln.strip()]


def survey(exp_path):
    base = os.path.dirname(os.path.abspath(exp_path))
    e = json.load(open(exp_path))
    cap = os.path.join(base, e["capture"])
    ports = sorted({int(c["server"].rsplit(":", 1)[1]) for c in e["connections"]})
    opts = []
    for p in ports:
        opts += ["-d", f"tcp.port=={p},tls"]
    opts += ["-o", "http.tls.port:" + ",".join(map(str, ports))]
    if e.get("keylog"):
        opts += ["-o", f"tls.keylog_file:{os.path.join(base, e['keylog'])}"]
    servers = {c["server"].rsplit(":", 1)[1] for c in e["connections"]}
    frames = {"c2s": 0, "s2c": 0}
    for src, ops in tshark(cap, opts, "websocket", "tcp.srcport", "websocket.opcode"):
        d = "s2c" if src in servers else "c2s"
        frames[d] += sum(1 for o in ops.split(",") if o in ("0", "1", "2"))
    want = {d: sum(m.get("fragments", 1) for c in e["connections"] if c.get("tls", {}).get("keyed", True)
                   for m in c["messages"] if m["dir"] == d) for d in ("c2s", "s2c")}
    recs = tshark(cap, opts, "tls.record", "tcp.stream", "tls.record.content_type", "tls.handshake.type",
                  "tls.handshake.random")
    n_records = sum(len(r[1].split(",")) for r in recs)
    multi = sum(1 for r in recs if len(r[1].split(",")) > 1)
    hs = [t for r in recs if len(r) > 2 for t in r[2].split(",") if t]
    hrr = sum(1 for r in recs if len(r) > 3 and HRR_RANDOM in r[3].replace(":", ""))
    spanning = len(tshark(cap, opts, "tls.record and tcp.segments", "frame.number"))
    early = len(tshark(cap, opts, "tls.handshake.extension.type==42", "frame.number"))
    print(f"{e['capture']}: ws data frames tshark c2s {frames['c2s']} s2c {frames['s2c']} "
          f"(expected c2s {want['c2s']} s2c {want['s2c']}); TLS records {n_records}; "
          f"segments with >1 record {multi}; packets completing a record reassembled from >1 segment {spanning}; "
          f"NewSessionTicket {hs.count('4')}; KeyUpdate {hs.count('24')}; HelloRetryRequest {hrr}; "
          f"early_data ext {early}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        survey(p)
