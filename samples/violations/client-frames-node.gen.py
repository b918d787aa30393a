#!/usr/bin/env python3
"""violations/client-frames-node.pcap: the client-frames.gen.py cases against Node `ws`.

The same raw-socket client and the same hand-made frames as client-frames.gen.py (one
connection per violation), but the real server is Node `ws` 8.x (samples/node_modules,
`npm ci` in samples/ if missing; perMessageDeflate off; echo handler) on 127.0.0.1:18841,
run as client-frames-node.server.js. Its reaction comes from its own log (the close frame it
wrote, the error it raised). Run as root (tcpdump): python3 client-frames-node.gen.py
"""
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vlib import Capture, write_expected  # noqa: E402

NAME = "client-frames-node"
PORT = 18841

spec = importlib.util.spec_from_file_location("client_frames", os.path.join(HERE, "client-frames.gen.py"))
cf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cf)


def ws_version():
    with open(os.path.join(os.path.dirname(HERE), "node_modules", "ws", "package.json")) as f:
        return json.load(f)["version"]


def reaction(events, by):
    r = {"by": by}
    for e in events:
        if e["ev"] == "close_sent" and "close_sent" not in r:
            r["close_sent"] = {"code": e["code"], "reason": e["reason"]}
        elif e["ev"] == "error":
            r["error"] = f'{e["code"]}: {e["message"]}'
        elif e["ev"] == "message":
            r.setdefault("echoed_messages", []).append(
                {"opcode": 2 if e["binary"] else 1, "len": e["len"]})
        elif e["ev"] == "pong":
            r["pong_received"] = e["len"]
        elif e["ev"] == "closed":
            r["close_event"] = {"code": e["code"], "reason": e["reason"]}
    return r


async def main(events):
    out = []
    for case in cf.CASES:
        out.append(await asyncio.to_thread(cf.run_case, case, PORT, 1))
        await asyncio.sleep(0.1)
    return out


if __name__ == "__main__":
    by = f"node ws {ws_version()} server"
    node = subprocess.Popen(["node", os.path.join(HERE, NAME + ".server.js"), str(PORT)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    events = []
    ready = threading.Event()

    def reader():
        for line in node.stdout:
            e = json.loads(line)
            events.append(e)
            if e["ev"] == "listening":
                ready.set()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        assert ready.wait(10), "node server did not start"
        with Capture(os.path.join("violations", NAME + ".pcap"), ["-i", "lo"],
                     f"tcp port {PORT}", extra=["--immediate-mode"]):
            conns = asyncio.run(asyncio.wait_for(main(events), 120))
            time.sleep(1)
    finally:
        node.stdin.close()
        try:
            node.wait(10)
        except subprocess.TimeoutExpired:
            node.kill()
    t.join(5)
    for c in conns:
        c["reaction"] = reaction([e for e in events if e.get("peer") == c["client"]], by)
    write_expected(NAME, "raw client -> Node ws server: one client-side frame violation per "
                   "connection (the cases of client-frames.gen.py)",
                   {"server": f"ws {ws_version()} (Node {subprocess.check_output(['node', '--version'], text=True).strip()})",
                    "client": "raw Python socket"}, conns)
    for c in conns:
        print(c["name"], c["client"], c["reaction"])
