#!/usr/bin/env python3
"""Benchmark wsdissect against tshark (and tcpdump as the floor) on bench/data/*.pcap.

Run through bench/run.sh (which builds the release binary first). For every capture and
command: wall time from hyperfine (mean ± σ over RUNS runs, stdout to /dev/null, after one
warm-up so the file is in the page cache; tshark without), max RSS from `/usr/bin/time -f %M` (one run),
throughput (from the mean) in MB/s of capture file (1 MB = 10^6 B) and in messages/s (the generator's count),
and how many messages each tool reports against the generator's own count.

A capture with a key log next to it (NAME.keys: the -tls captures) is wss: wsdissect gets
`--tls-keylog NAME.keys`, tshark `-o tls.keylog_file:NAME.keys`, tcpdump nothing (it does not
decrypt: its floor is reading the file). For every NAME-tls run whose plaintext twin NAME is in the
same run, a second table gives the ratio TLS / plaintext of CPU and wall time per command.

A capture named *-h2* is WebSocket over HTTP/2 (RFC 8441, h2c prior knowledge; bench/gen-h2.js):
tshark gets `-d tcp.port==PORT,http2` (PORT from NAME.count.json, or from the uncut capture's)
and, since tshark 4.0 shows WebSocket inside HTTP/2 only as DATA, its commands select `http2`
instead of `websocket` and its message count is "—". wsdissect must report exactly the
generator's count on an -h2 capture (JSON and text), or the run stops. For every NAME-h2 run
whose HTTP/1.1 twin NAME is in the same run, a table gives CPU per message and the ratio.

Environment: RUNS (default 5; wsdissect and tcpdump), TSHARK_RUNS (default 3),
TSHARK_TLS_RUNS (default 1: tshark decrypting is slow), CAPTURES (space-separated names, default
all), TOOLS (any of tcpdump wsdissect tshark; default all), WSDISSECT (binary, default
target/release). Writes the tables to stdout and to bench/data/results.md.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
DATA = os.path.join(BENCH, "data")
W = os.environ.get("WSDISSECT", os.path.join(ROOT, "target", "release", "wsdissect"))
RUNS = int(os.environ.get("RUNS", "5"))
TSHARK_RUNS = int(os.environ.get("TSHARK_RUNS", "3"))
TSHARK_TLS_RUNS = int(os.environ.get("TSHARK_TLS_RUNS", "1"))
CAPTURES = os.environ.get(
    "CAPTURES",
    "small-messages large-messages deflate small-messages-10mb small-messages-tls large-messages-tls small-messages-h2",
).split()
TOOLS = os.environ.get("TOOLS", "tcpdump wsdissect tshark").split()


def keylog_of(f):
    """The key log next to a capture (NAME.keys), if there is one."""
    k = f[: -len(".pcap")] + ".keys"
    return k if os.path.exists(k) else None


def wsd_keys(keys):
    return ["--tls-keylog", keys] if keys else []


def tshark_keys(keys):
    return ["-o", f"tls.keylog_file:{keys}"] if keys else []


def h2_port(name):
    """The server port of an -h2 capture (for tshark's decode-as), else None."""
    if "-h2" not in name:
        return None
    base = name.split("-h2")[0] + "-h2"
    info = json.load(open(os.path.join(DATA, base + ".count.json")))
    return int(info["port"])


def commands(f, keys, h2port=None):
    """(tool, id, label, argv); in labels CAP is the capture, KEYS its key log."""
    wk = "--tls-keylog KEYS " if keys else ""
    tk = "-o tls.keylog_file:KEYS " if keys else ""
    if h2port is not None:
        da = ["-d", f"tcp.port=={h2port},http2"]
        tk = f"-d tcp.port=={h2port},http2 "
        return [
            ("tcpdump", "floor", "`tcpdump -r CAP -w /dev/null` (floor: read + write every packet)",
             ["tcpdump", "-r", f, "-w", "/dev/null"]),
            ("wsdissect", "json", "`wsdissect --format json CAP`", [W, "--format", "json", f]),
            ("wsdissect", "text", "`wsdissect CAP` (text)", [W, f]),
            ("tshark", "one-line", f"`tshark {tk}-r CAP -Y http2`", ["tshark"] + da + ["-r", f, "-Y", "http2"]),
            ("tshark", "json", f"`tshark {tk}-r CAP -Y http2 -T json`",
             ["tshark"] + da + ["-r", f, "-Y", "http2", "-T", "json"]),
            ("tshark", "fields", f"`tshark {tk}-r CAP -Y http2 -T fields -e http2.streamid -e http2.length`",
             ["tshark"] + da + ["-r", f, "-Y", "http2", "-T", "fields", "-e", "http2.streamid", "-e", "http2.length"]),
        ]
    return [
        ("tcpdump", "floor", "`tcpdump -r CAP -w /dev/null` (floor: read + write every packet)",
         ["tcpdump", "-r", f, "-w", "/dev/null"]),
        ("wsdissect", "json", f"`wsdissect {wk}--format json CAP`", [W] + wsd_keys(keys) + ["--format", "json", f]),
        ("wsdissect", "text", f"`wsdissect {wk}CAP` (text)", [W] + wsd_keys(keys) + [f]),
        ("tshark", "one-line", f"`tshark {tk}-r CAP -Y websocket`",
         ["tshark"] + tshark_keys(keys) + ["-r", f, "-Y", "websocket"]),
        ("tshark", "json", f"`tshark {tk}-r CAP -Y websocket -T json`",
         ["tshark"] + tshark_keys(keys) + ["-r", f, "-Y", "websocket", "-T", "json"]),
        ("tshark", "fields",
         f"`tshark {tk}-r CAP -Y websocket -T fields -e websocket.opcode -e websocket.payload_length`",
         ["tshark"] + tshark_keys(keys) + ["-r", f, "-Y", "websocket", "-T", "fields",
                                           "-e", "websocket.opcode", "-e", "websocket.payload_length"]),
    ]


def hyperfine(argv, runs, warmup):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
             "--export-json", out.name, shlex.join(argv)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = json.load(open(out.name))["results"][0]
    return r["mean"], r["stddev"] or 0.0, r["min"], r["user"] + r["system"]


def max_rss_kib(argv):
    with tempfile.NamedTemporaryFile(suffix=".txt") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return int(open(out.name).read().split()[-1])


def count_wsdissect_json(f, keys):
    p = subprocess.Popen([W] + wsd_keys(keys) + ["--format", "json", f], stdout=subprocess.PIPE)
    n = sum(1 for line in p.stdout if line.startswith(b'{"type":"message"'))
    if p.wait() != 0:
        raise SystemExit(f"wsdissect --format json {f} exited {p.returncode}")
    return n


TEXT_END = re.compile(rb"^  conn \d+ ended .*?c2s \d+ frames, (\d+) messages,.*?s2c \d+ frames, (\d+) messages,")


def count_wsdissect_text(f, keys):
    p = subprocess.Popen([W] + wsd_keys(keys) + [f], stdout=subprocess.PIPE)
    n = 0
    for line in p.stdout:
        m = TEXT_END.match(line)
        if m:
            n += int(m.group(1)) + int(m.group(2))
    if p.wait() != 0:
        raise SystemExit(f"wsdissect {f} exited {p.returncode}")
    return n


def count_tshark(f, keys):
    # data frames (text, binary, continuation) with FIN set = completed messages; a packet can
    # hold several WebSocket frames, so fields come as comma-separated lists
    out = subprocess.run(
        ["tshark"] + tshark_keys(keys) + ["-r", f, "-Y", "websocket.opcode == 0 || websocket.opcode == 1 || websocket.opcode == 2",
         "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
         "-e", "websocket.fin", "-e", "websocket.opcode"],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    n = 0
    for line in out.splitlines():
        fins, ops = (line.split("\t") + [""])[:2]
        for fin, op in zip(fins.split(","), ops.split(",")):
            if fin in ("1", "True") and op in ("0", "1", "2"):
                n += 1
    return n


def main():
    lines = []

    def emit(s=""):
        print(s, flush=True)
        lines.append(s)

    emit("| capture | size | command | wall s (mean ± σ) | min s | CPU s | MB/s | messages/s | max RSS | messages found / sent |")
    emit("|---|---|---|---|---|---|---|---|---|---|")
    results = {}  # (capture, tool, id) -> (mean wall s, CPU s)
    counts = {}  # capture -> messages (generator's count, else wsdissect's)
    for name in CAPTURES:
        f = os.path.join(DATA, name + ".pcap")
        if not os.path.exists(f):
            raise SystemExit(f"{f} missing: run bench/make-captures.sh")
        size = os.path.getsize(f)
        keys = keylog_of(f)
        cf = os.path.join(DATA, name + ".count")
        sent = int(open(cf).read()) if os.path.exists(cf) else None
        h2port = h2_port(name)
        found = {
            "tcpdump": None,
            "wsdissect json": count_wsdissect_json(f, keys),
            "wsdissect text": count_wsdissect_text(f, keys),
            # tshark 4.0 does not dissect WebSocket inside HTTP/2: nothing to count
            "tshark": count_tshark(f, keys) if "tshark" in TOOLS and h2port is None else None,
        }
        if h2port is not None and sent is not None:
            for k in ("wsdissect json", "wsdissect text"):
                if found[k] != sent:
                    raise SystemExit(f"{name}: {k} reports {found[k]} messages, the generator sent {sent}")
        counts[name] = sent if sent is not None else found["wsdissect json"]
        # without a generator count (the cut), messages/s uses wsdissect's count
        msgs = sent if sent is not None else found["wsdissect json"]
        for tool, cid, label, argv in commands(f, keys, h2port):
            if tool not in TOOLS:
                continue
            # tshark runs are long: no warm-up (the file is in the page cache by then)
            runs = RUNS
            if tool == "tshark":
                runs = TSHARK_TLS_RUNS if keys else TSHARK_RUNS
            mean, sd, tmin, cpu = hyperfine(argv, runs, 0 if tool == "tshark" else 1)
            results[(name, tool, cid)] = (mean, cpu)
            rss = max_rss_kib(argv)
            key = tool
            if tool == "wsdissect":
                key = "wsdissect json" if "json" in argv else "wsdissect text"
            n = found[key]
            if n is None:
                cnt = "—"
            else:
                ok = "" if sent is None or n == sent else " **≠**"
                cnt = f"{n} / {sent if sent is not None else '—'}{ok}"
            label = label.replace("CAP", name + ".pcap").replace("KEYS", name + ".keys")
            emit(f"| {name} | {size / 1e6:.1f} MB | {label} | "
                 f"{mean:.3f} ± {sd:.3f} | {tmin:.3f} | {cpu:.3f} | {size / 1e6 / mean:.0f} | {msgs / mean:,.0f} | "
                 f"{rss / 1024:.1f} MiB | {cnt} |")
    emit()
    emit("CPU s = mean user + system time per run (hyperfine); less sensitive than wall time to "
         "other load on the machine.")
    emit(f"hyperfine: {RUNS} runs after 1 warm-up (wsdissect, tcpdump), {TSHARK_RUNS} runs (tshark), "
         f"{TSHARK_TLS_RUNS} for tshark decrypting; max RSS from one more run under /usr/bin/time.")
    pairs = [(n[: -len("-tls")], n) for n in CAPTURES if n.endswith("-tls") and n[: -len("-tls")] in CAPTURES]
    if pairs:
        emit()
        emit("wss against the same traffic in plaintext: TLS capture / plaintext capture, same command.")
        emit()
        emit("| captures | command | CPU s plain → TLS | CPU ratio | wall s plain → TLS | wall ratio |")
        emit("|---|---|---|---|---|---|")
        for plain, tls in pairs:
            for tool, cid, label, _ in commands("CAP", None):
                a, b = results.get((plain, tool, cid)), results.get((tls, tool, cid))
                if a is None or b is None:
                    continue
                emit(f"| {plain} → {tls} | {label.replace('CAP', '…')} | {a[1]:.3f} → {b[1]:.3f} | "
                     f"{b[1] / a[1]:.2f}× | {a[0]:.3f} → {b[0]:.3f} | {b[0] / a[0]:.2f}× |")
    pairs = [(n.replace("-h2", "", 1), n) for n in CAPTURES if "-h2" in n and n.replace("-h2", "", 1) in CAPTURES]
    if pairs:
        emit()
        emit("WebSocket over HTTP/2 against the same traffic over HTTP/1.1: CPU time per message "
             "(CPU s / messages), HTTP/1.1 capture → HTTP/2 capture. tshark's commands differ "
             "(`-Y websocket` → `-Y http2`, not dissecting WebSocket), so only wsdissect and tcpdump are paired.")
        emit()
        # ratios per message: the cuts hold different numbers of messages
        emit("| captures | command | CPU s HTTP/1.1 → HTTP/2 | CPU µs/message HTTP/1.1 → HTTP/2 | CPU ratio per message | wall s HTTP/1.1 → HTTP/2 | wall ratio per message |")
        emit("|---|---|---|---|---|---|---|")
        for h1, h2 in pairs:
            for tool, cid, label, _ in commands("CAP", None):
                if tool == "tshark":
                    continue
                a, b = results.get((h1, tool, cid)), results.get((h2, tool, cid))
                if a is None or b is None:
                    continue
                ua, ub = a[1] / counts[h1] * 1e6, b[1] / counts[h2] * 1e6
                emit(f"| {h1} → {h2} | {label.replace('CAP', '…')} | {a[1]:.3f} → {b[1]:.3f} | "
                     f"{ua:.2f} → {ub:.2f} | {ub / ua:.2f}× | {a[0]:.3f} → {b[0]:.3f} | "
                     f"{(b[0] / counts[h2]) / (a[0] / counts[h1]):.2f}× |")
    with open(os.path.join(DATA, "results.md"), "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
