#!/usr/bin/env python3
"""alternate.py: time commands alternately, for A/B figures on a noisy machine.

Usage: python3 integration/bench/alternate.py N CMD1... [-- CMD2... [-- ...]]
Each command runs N times, the commands taking turns, so a busy spell of the
machine slows them alike; it prints each one's median and minimum wall time.
A command may start with NAME=VALUE words, set in its environment
(e.g. FLEETPROF_HUGEHEAP=0 bin/fleetprof trim ...). Output is discarded; a
command that fails is reported and stops the run.
"""
import os
import statistics
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3 or not argv[1].isdigit() or int(argv[1]) < 1:
        sys.exit(__doc__)
    n = int(argv[1])
    cmds, cur = [], []
    for a in argv[2:]:
        if a == "--":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    if any(not c for c in cmds):
        sys.exit("alternate.py: an empty command (two -- in a row?)")
    runs = []
    for c in cmds:
        env, args = dict(os.environ), list(c)
        while args and "=" in args[0] and not args[0].startswith(("/", ".")):
            k, v = args.pop(0).split("=", 1)
            env[k] = v
        runs.append((env, args, []))
    for _ in range(n):
        for env, args, t in runs:
            s = time.perf_counter()
            r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            t.append((time.perf_counter() - s) * 1000)
            if r.returncode != 0:
                sys.exit(f"alternate.py: {' '.join(args)} exited {r.returncode}")
    for c, (_, _, t) in zip(cmds, runs):
        print(f"median {statistics.median(t):8.1f} ms  min {min(t):8.1f} ms  {' '.join(c)}")


if __name__ == "__main__":
    main(sys.argv)
