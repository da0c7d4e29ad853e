#!/usr/bin/env python3
"""The steady one-to-one table of docs/BENCHMARKS.md in one run: `make bench` (QUICK=1: shorter).

Runs bench/steady.py once per row (a fresh node and data directory each time) and prints a
Markdown table: offered and delivered rates, latency, loss, the CPU and context switches per
delivered message of the node and of the bots. With --baseline=OTHER_BUILD the same rows run
against that build's tidings-node too (the bots always come from --build), interleaved, so
both are measured on the same machine in the same minutes.

    bench/matrix.py --build=build [--quick] [--baseline=/path/to/old/build] [--json=FILE]
"""

import argparse
import json
import os
import subprocess
import sys

ROWS = [  # (storage.sync, offered messages per second)
    ("true", 1000),
    ("true", 5000),
    ("false", 5000),
    ("true", 8000),
    ("false", 10000),
    ("false", 20000),
]
# QUICK=1 keeps `make bench` under 5 minutes: the rows bench/versus.py does not run (sync, and
# past the no-sync knee); versus.py's own Tidings rows cover 300-2,000/s without sync.
QUICK_ROWS = [("true", 5000), ("false", 20000)]


def run(build, node, sync, rate, hold, label):
    cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "steady.py"),
           f"--build={build}", f"--rate={rate}", f"--sync={sync}", f"--hold={hold}",
           f"--label={label}"]
    if node:
        cmd.append(f"--node={node}")
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.stderr.write(out.stderr)
        return {"label": label, "sync": sync, "offered_per_s": rate, "pass": False}
    return json.loads(lines[-1])


def row(r):
    def f(key, fmt="{:,.0f}"):
        v = r.get(key)
        return fmt.format(v) if isinstance(v, (int, float)) else "–"
    return (f"| {r.get('label','')} | {'sync' if r.get('sync') == 'true' else 'no sync'} "
            f"| {f('offered_per_s')} | {f('delivered_per_s')} | {f('p50_recv_ms', '{:,.1f}')} "
            f"| {f('p99_recv_ms', '{:,.1f}')} | {f('lost')} | {f('node_us_per_msg', '{:,.0f}')} "
            f"| {f('bots_us_per_msg', '{:,.0f}')} | {f('node_ctxsw_per_msg', '{:,.1f}')} "
            f"| {'pass' if r.get('pass') else 'FAIL'} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--baseline", help="another build folder whose tidings-node runs the same rows")
    ap.add_argument("--quick", action="store_true", help="10 s per row instead of 30 s")
    ap.add_argument("--json", help="write every row's figures here")
    args = ap.parse_args()
    hold = 10 if args.quick else 30
    results = []
    print("| build | durability | offered/s | delivered/s | p50 send→receive ms "
          "| p99 ms | lost | node µs/msg | bots µs/msg | node ctx switches/msg | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sync, rate in (QUICK_ROWS if args.quick else ROWS):
        builds = [("now", None)]
        if args.baseline:
            builds.append(("before", os.path.join(args.baseline, "tools", "tidings-node")))
        for label, node in builds:
            r = run(args.build, node, sync, rate, hold, label)
            results.append(r)
            print(row(r), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
