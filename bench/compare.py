#!/usr/bin/env python3
"""Commands timed side by side: each round runs every command once, in a shuffled order, so a
drift in the machine's speed (a shared or virtual machine) falls on all of them alike. Prints,
per command, the median wall-clock and CPU time, the CPUs it kept busy (CPU time over wall
time) and its speed-up over the first command, paired (the median of each round's own ratio).
Outputs go to /dev/null. See docs/performance.md.

    bench/compare.py ROUNDS 'CMD' 'CMD' ...
    bench/compare.py 25 'target/release/wsdissect -j 1 --format json X.pcap' \\
                        'target/release/wsdissect -j 2 --format json X.pcap'
"""
import random
import resource
import shlex
import statistics
import subprocess
import sys
import time


def run(cmd):
    """Wall-clock and CPU seconds (user + system, the command and its threads) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    texts = sys.argv[2:]
    cmds = [shlex.split(t) for t in texts]
    walls = [[] for _ in cmds]
    cpus = [[] for _ in cmds]
    ratios = [[] for _ in cmds]
    for _ in range(rounds):
        order = list(range(len(cmds)))
        random.shuffle(order)
        this_round = {}
        for k in order:
            wall, cpu = run(cmds[k])
            walls[k].append(wall)
            cpus[k].append(cpu)
            this_round[k] = wall
        for k in range(len(cmds)):
            ratios[k].append(this_round[0] / this_round[k])
    med = statistics.median
    print(f"| command, median of {rounds} | wall s | CPU s | CPUs busy | speed-up, paired |")
    print("|---|--:|--:|--:|--:|")
    for k, text in enumerate(texts):
        busy = med(c / w for c, w in zip(cpus[k], walls[k]))
        print(f"| `{text}` | {med(walls[k]):.3f} | {med(cpus[k]):.3f} | {busy:.2f} | {med(ratios[k]):.2f}× |")


if __name__ == "__main__":
    main()
