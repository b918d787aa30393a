#!/usr/bin/env python3
"""Seed corpora for decode_stomp, decode_graphql and decode_jsonrpc (corpus/<target>/, git-ignored)
from the senders' logs in ../samples/apps: each session's messages, in the order sent, encoded
as fuzz_targets/decode_stompgql_common.rs reads them ([mode] then [flags][len u16][bytes]...),
once named (mode 0) and once recognised (mode 1); graphql-ws with mode 2."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "..", "samples", "apps")


def encode(mode, msgs):
    out = bytearray([mode])
    for server, data in msgs:
        data = data[:0xFFFF]
        out += bytes([(1 if server else 0) | (2 << 3)]) + struct.pack(">H", len(data)) + data
    return bytes(out)


def lines(path):
    with open(os.path.join(APPS, path), encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def write(target, name, blob):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def stomp():
    sessions = {}
    for r in lines("stomp/stomp.log"):
        t = r["line"]
        if t == ">>> PING":
            sessions.setdefault(r["session"], []).append((False, b"\n"))
        elif t.startswith(">>> ") or (t.startswith("<<< ") and t != "<<< PONG"):
            sessions.setdefault(r["session"], []).append((t.startswith("<<<"), t[4:].encode()))
    for s, msgs in sessions.items():
        for mode in (0, 1):
            write("decode_stomp", f"session{s}-mode{mode}", encode(mode, msgs))


def sent(path, key=None):
    out = {}
    for r in lines(path):
        if r["dir"] == "sent":
            out.setdefault(r.get(key, ""), []).append((r["side"] == "server", r["text"].encode()))
    return out


def graphql():
    for proto, msgs in sent("graphql/graphql.log", "proto").items():
        old = proto == "graphql-ws"
        for mode in (0, 1):
            write("decode_graphql", f"{proto}-mode{mode}", encode(mode | (2 if old else 0), msgs))


def jsonrpc():
    for _, msgs in sent("jsonrpc/jsonrpc.log").items():
        for mode in (0, 1):
            write("decode_jsonrpc", f"exchange-mode{mode}", encode(mode, msgs))


stomp()
graphql()
jsonrpc()
