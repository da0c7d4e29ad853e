#!/usr/bin/env python3
"""The steady one-to-one table of docs/BENCHMARKS.md in one run: `make bench` (QUICK=1: shorter).

Runs bench/steady.py once per row (a fresh node and data directory each time) and prints a
Markdown table: offered and delivered rates, latency, loss, the CPU and context switches per
delivered message of the node and of the bots. With --baseline=OTHER_BUILD the same rows run
against that build's tidings-node too (the bots always come from --build), interleaved, so
both are measured on the same machine in the same minutes.

Then (not with --quick) the knee search of issue 12, per durability: the highest offered rate
at which nothing is lost, the node keeps up (delivers at least 95 % of what is offered) and p99
send->received stays under 100 ms, and the same under 10 ms. Offered rates double from 1,000/s
until one fails, then the gap between the highest passing and the lowest failing rate is
halved (geometrically) until they are within 10 % of each other or the runs run out; every
measured point is kept and reused by the other bound. With --doc the result is written to the
`knee` section of that Markdown file.

    bench/matrix.py --build=build [--quick] [--baseline=/path/to/old/build] [--json=FILE]
                    [--doc=docs/BENCHMARKS.md] [--no-knee | --knee-only]
"""

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from versus import fmt, loadavg, machine, replace_section  # noqa: E402

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


KNEE_BOUNDS_MS = (100, 10)
KNEE_START, KNEE_TOP = 1000, 64000  # offered messages per second
KNEE_RESOLUTION = 0.10              # stop when the failing rate is within 10 % of the passing
KNEE_MAX_RUNS = 12                  # per durability, both bounds together
KNEE_HOLD_S = 15


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


def durability(sync):
    return "sync" if sync == "true" else "no sync"


def row(r):
    def f(key, spec="{:,.0f}"):
        return fmt(r.get(key), spec)
    return (f"| {r.get('label','')} | {durability(r.get('sync'))} "
            f"| {f('offered_per_s')} | {f('delivered_per_s')} | {f('p50_recv_ms', '{:,.1f}')} "
            f"| {f('p99_recv_ms', '{:,.1f}')} | {f('lost')} | {f('node_us_per_msg', '{:,.0f}')} "
            f"| {f('bots_us_per_msg', '{:,.0f}')} | {f('node_ctxsw_per_msg', '{:,.1f}')} "
            f"| {'pass' if r.get('pass') else 'FAIL'} |")


def knee_passes(r, bound_ms):
    """A point passes a bound: the run passed, nothing lost, the node kept up, p99 within."""
    p99, offered = r.get("p99_recv_ms"), r.get("offered_per_s") or 0
    return (bool(r.get("pass")) and r.get("lost") == 0 and isinstance(p99, (int, float))
            and p99 <= bound_ms and (r.get("delivered_per_s") or 0) >= 0.95 * offered)


def bracket(points, bound_ms):
    """(highest passing rate, lowest failing rate above it): None where there is none. A failing
    point below a passing one is noise (this machine is shared) and is reported as such."""
    passing = [rate for rate, r in points.items() if knee_passes(r, bound_ms)]
    lo = max(passing) if passing else None
    failing = [rate for rate, r in points.items()
               if not knee_passes(r, bound_ms) and (lo is None or rate > lo)]
    return lo, (min(failing) if failing else None)


def noisy(points, bound_ms):
    """Failing rates below the knee: the search's bracket ignores them."""
    lo, _ = bracket(points, bound_ms)
    return sorted(rate for rate, r in points.items()
                  if lo is not None and rate < lo and not knee_passes(r, bound_ms))


def next_rate(points, bound_ms):
    """The next offered rate to measure for this bound, or None when the knee is found."""
    lo, hi = bracket(points, bound_ms)
    if lo is None and hi is None:
        return KNEE_START
    if hi is None:
        return None if lo >= KNEE_TOP else min(KNEE_TOP, lo * 2)
    if lo is None:
        return None if hi <= 100 else max(100, hi // 2)
    if hi <= lo * (1 + KNEE_RESOLUTION):
        return None
    mid = int(round(math.sqrt(lo * hi) / 100.0) * 100)
    return mid if lo < mid < hi else None


def knee_search(build, sync, hold, say):
    points, runs = {}, 0
    for bound in KNEE_BOUNDS_MS:
        while runs < KNEE_MAX_RUNS:
            rate = next_rate(points, bound)
            if rate is None or rate in points:
                break
            r = run(build, None, sync, rate, hold, "knee")
            points[rate], runs = r, runs + 1
            say(f"knee {durability(sync)} {rate:,}/s: delivered "
                f"{r.get('delivered_per_s', 0):,.0f}/s, p99 {r.get('p99_recv_ms', float('nan')):,.1f} ms,"
                f" lost {r.get('lost')}")
    return points


def knee_markdown(searches, hold, command, started, elapsed_s, load_before, load_after, commit):
    out = [f"Run {started} UTC, commit `{commit}`, {machine()}; load average {load_before} "
           f"before, {load_after} after. Command: `{command}` ({elapsed_s / 60:.1f} min; "
           f"the knee search is the part of `make bench` after the table of rows). 1,000 bots, "
           f"≈ 100-byte texts, every message acknowledged, half read, {hold} s steady phase per "
           f"point, a fresh node each; a point passes a bound when nothing is lost, the node "
           f"delivers ≥ 95 % of the offered rate and p99 send→received is within the bound.",
           "",
           "| durability | p99 bound | knee: highest passing offered/s | its p99 ms "
           "| lowest failing offered/s above | its p99 ms · delivered/s "
           "| failing points below the knee (noise) |",
           "|---|---|---|---|---|---|---|"]
    for sync, points in searches:
        for bound in KNEE_BOUNDS_MS:
            lo, hi = bracket(points, bound)
            def cell(rate, key, spec):
                return fmt(points[rate].get(key) if rate else None, spec)
            fail = (f"{cell(hi, 'p99_recv_ms', '{:,.1f}')} · {cell(hi, 'delivered_per_s', '{:,.0f}')}"
                    if hi else "–")
            out.append(f"| {durability(sync)} | {bound} ms "
                       f"| {f'{lo:,}' if lo else 'none (below 100/s)'} "
                       f"| {cell(lo, 'p99_recv_ms', '{:,.1f}')} | {f'{hi:,}' if hi else '–'} | {fail} "
                       f"| {', '.join(f'{x:,}' for x in noisy(points, bound)) or '–'} |")
    out += ["", "Every point measured:", "",
            "| durability | offered/s | delivered/s | p50 ms | p99 ms | lost | node µs/msg "
            "| bots µs/msg |", "|---|---|---|---|---|---|---|---|"]
    for sync, points in searches:
        for rate in sorted(points):
            def f(key, spec="{:,.0f}", r=points[rate]):
                return fmt(r.get(key), spec)
            out.append(f"| {durability(sync)} | {rate:,} "
                       f"| {f('delivered_per_s')} | {f('p50_recv_ms', '{:,.1f}')} "
                       f"| {f('p99_recv_ms', '{:,.1f}')} | {f('lost')} | {f('node_us_per_msg')} "
                       f"| {f('bots_us_per_msg')} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--baseline", help="another build folder whose tidings-node runs the same rows")
    ap.add_argument("--quick", action="store_true", help="10 s per row instead of 30 s")
    ap.add_argument("--json", help="write every row's figures here")
    ap.add_argument("--doc", help="write the knee search's section of this Markdown file")
    ap.add_argument("--no-knee", action="store_true", help="only the rows, no knee search")
    ap.add_argument("--knee-only", action="store_true", help="only the knee search, no rows")
    args = ap.parse_args()
    hold = 10 if args.quick else 30
    results = []
    print("| build | durability | offered/s | delivered/s | p50 send→receive ms "
          "| p99 ms | lost | node µs/msg | bots µs/msg | node ctx switches/msg | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sync, rate in ([] if args.knee_only else QUICK_ROWS if args.quick else ROWS):
        builds = [("now", None)]
        if args.baseline:
            builds.append(("before", os.path.join(args.baseline, "tools", "tidings-node")))
        for label, node in builds:
            r = run(args.build, node, sync, rate, hold, label)
            results.append(r)
            print(row(r), flush=True)
    searches = []
    if not args.quick and not args.no_knee:
        started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
        load_before, t0 = loadavg(), time.monotonic()
        say = lambda msg: print(msg, file=sys.stderr, flush=True)
        for sync in ("false", "true"):
            searches.append((sync, knee_search(args.build, sync, KNEE_HOLD_S, say)))
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        text = knee_markdown(searches, KNEE_HOLD_S, " ".join(["bench/matrix.py"] + sys.argv[1:]),
                             started, time.monotonic() - t0, load_before, loadavg(), commit)
        print(text)
        if args.doc:
            replace_section(args.doc, "knee", text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": results,
                       "knee": [{"sync": s_, "points": [points[r] for r in sorted(points)]}
                                for s_, points in searches]}, f, indent=1)


if __name__ == "__main__":
    main()
