#!/usr/bin/env python3
"""Benchmark wsdissect against tshark (and tcpdump as the floor) on bench/data/*.pcap.

Run through bench/run.sh (which builds the release binary first). For every capture and
command: wall time from hyperfine (mean ± σ over RUNS runs, stdout to /dev/null, after one
warm-up so the file is in the page cache; tshark without), max RSS from `/usr/bin/time -f %M` (one run),
throughput (from the mean) in MB/s of capture file (1 MB = 10^6 B) and in messages/s (the generator's count),
and how many messages each tool reports against the generator's own count.

Environment: RUNS (default 5; wsdissect and tcpdump), TSHARK_RUNS (default 3),
CAPTURES (space-separated names, default all), TOOLS (any of
tcpdump wsdissect tshark; default all), WSDISSECT (binary, default target/release).
Writes the tables to stdout and to bench/data/results.md.
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
CAPTURES = os.environ.get(
    "CAPTURES", "small-messages large-messages deflate small-messages-10mb"
).split()
TOOLS = os.environ.get("TOOLS", "tcpdump wsdissect tshark").split()


def commands(f):
    return [
        ("tcpdump", "`tcpdump -r CAP -w /dev/null` (floor: read + write every packet)",
         ["tcpdump", "-r", f, "-w", "/dev/null"]),
        ("wsdissect", "`wsdissect --format json CAP`", [W, "--format", "json", f]),
        ("wsdissect", "`wsdissect CAP` (text)", [W, f]),
        ("tshark", "`tshark -r CAP -Y websocket`", ["tshark", "-r", f, "-Y", "websocket"]),
        ("tshark", "`tshark -r CAP -Y websocket -T json`",
         ["tshark", "-r", f, "-Y", "websocket", "-T", "json"]),
        ("tshark", "`tshark -r CAP -Y websocket -T fields -e websocket.opcode -e websocket.payload_length`",
         ["tshark", "-r", f, "-Y", "websocket", "-T", "fields",
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


def count_wsdissect_json(f):
    p = subprocess.Popen([W, "--format", "json", f], stdout=subprocess.PIPE)
    n = sum(1 for line in p.stdout if line.startswith(b'{"type":"message"'))
    if p.wait() != 0:
        raise SystemExit(f"wsdissect --format json {f} exited {p.returncode}")
    return n


TEXT_END = re.compile(rb"^  conn \d+ ended .*?c2s \d+ frames, (\d+) messages,.*?s2c \d+ frames, (\d+) messages,")


def count_wsdissect_text(f):
    p = subprocess.Popen([W, f], stdout=subprocess.PIPE)
    n = 0
    for line in p.stdout:
        m = TEXT_END.match(line)
        if m:
            n += int(m.group(1)) + int(m.group(2))
    if p.wait() != 0:
        raise SystemExit(f"wsdissect {f} exited {p.returncode}")
    return n


def count_tshark(f):
    # data frames (text, binary, continuation) with FIN set = completed messages; a packet can
    # hold several WebSocket frames, so fields come as comma-separated lists
    out = subprocess.run(
        ["tshark", "-r", f, "-Y", "websocket.opcode == 0 || websocket.opcode == 1 || websocket.opcode == 2",
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
    for name in CAPTURES:
        f = os.path.join(DATA, name + ".pcap")
        if not os.path.exists(f):
            raise SystemExit(f"{f} missing: run bench/make-captures.sh")
        size = os.path.getsize(f)
        cf = os.path.join(DATA, name + ".count")
        sent = int(open(cf).read()) if os.path.exists(cf) else None
        found = {
            "tcpdump": None,
            "wsdissect json": count_wsdissect_json(f),
            "wsdissect text": count_wsdissect_text(f),
            "tshark": count_tshark(f) if "tshark" in TOOLS else None,
        }
        # without a generator count (the cut), messages/s uses wsdissect's count
        msgs = sent if sent is not None else found["wsdissect json"]
        for tool, label, argv in commands(f):
            if tool not in TOOLS:
                continue
            # tshark runs are long: no warm-up (the file is in the page cache by then)
            mean, sd, tmin, cpu = hyperfine(argv, TSHARK_RUNS if tool == "tshark" else RUNS,
                                    0 if tool == "tshark" else 1)
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
            emit(f"| {name} | {size / 1e6:.1f} MB | {label.replace('CAP', name + '.pcap')} | "
                 f"{mean:.3f} ± {sd:.3f} | {tmin:.3f} | {cpu:.3f} | {size / 1e6 / mean:.0f} | {msgs / mean:,.0f} | "
                 f"{rss / 1024:.1f} MiB | {cnt} |")
    emit()
    emit("CPU s = mean user + system time per run (hyperfine); less sensitive than wall time to "
         "other load on the machine.")
    emit(f"hyperfine: {RUNS} runs after 1 warm-up (wsdissect, tcpdump), {TSHARK_RUNS} runs (tshark); "
         "max RSS from one more run under /usr/bin/time.")
    with open(os.path.join(DATA, "results.md"), "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
