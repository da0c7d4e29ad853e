#!/usr/bin/env python3
"""Idle sessions: node memory per authenticated idle session, 1k to 100k (issue 12).

    bench/sessions.py --build=build [--quick] [--doc=docs/BENCHMARKS.md]
                      [--plot=docs/bench/sessions.png] [--json=FILE] [--compare=OLD.json]

For each count N (full: 1k, 5k, 10k, 19k, 50k, 100k; --quick: 1k, 5k, 10k with short holds):
1. starts the node(s): one node up to 19,000 sessions, else a cluster of ceil(N / 17,000)
   nodes (the open-file limit of this machine is 20,000, hard: one process holds at most
   ≈ 19,900 sockets), node i listening on 127.0.0.(11+i) for clients and peers;
2. registers and logs in the N users (tidings-bots with a scenario that never connects and a
   users file per bots process, so the tokens are kept);
3. restarts the nodes on the same data (a clean heap), waits for the cluster to form and for
   the RSS to settle, and reads each node's VmRSS (/proc/PID/status): "before";
4. starts the bots processes (at most 10,000 connections each, each bound to two source
   addresses of its own, 127.0.0.(100+2j) and 127.0.0.(101+2j)); the bots of node i connect
   to node i only, their users homed all over the cluster;
5. once every node reports its share authenticated (`tidings_sessions_authenticated` in its
   /metrics), holds them for 60 s (--quick: 10 s; --hold=S), then reads the RSS of every node
   and every bots process again: "with". Per node, (with - before) / its sessions; overall,
   the sum over the nodes divided by N. The bots' RSS per session is taken the same way, from
   the moment their users were ready (their "users ready" line) to the end of the hold.

Bots ping every 20 s (the node closes a session silent for 60 s), nothing else. Nodes run with
--storage.sync=false and the cheapest argon2id (registration speed is not measured here).
Every process it starts is stopped before it returns (SIGINT/SIGTERM included) and its
temporary folder removed; the nodes' and bots' output goes to a log (--log, or a temporary
file that is kept and named only if something failed); loopback only; every wait has a
deadline. --quick takes about 70 s here.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from cluster import ONE_NODE_MAX, PER_NODE, Cluster, Script, Stop, rss_kib, wait_until  # noqa: E402

CONNECT_RATE = 2_000     # sessions per second, all bots processes together
FULL = [1_000, 5_000, 10_000, 19_000, 50_000, 100_000]
QUICK = [1_000, 5_000, 10_000]


def settle(nodes, seconds):
    """Waits until no node's RSS moved by more than 1% over the last second (at most `seconds`)."""
    end = time.monotonic() + seconds
    last = [n.rss() for n in nodes]
    while time.monotonic() < end:
        time.sleep(1)
        now = [n.rss() for n in nodes]
        if all(abs(a - b) <= 0.01 * b for a, b in zip(now, last)):
            return
        last = now


def one_point(args, n, hold_s, log, say):
    """Runs one count; returns its figures."""
    node_bin = args.node or os.path.join(args.build, "tools", "tidings-node")
    bots_bin = args.bots or os.path.join(args.build, "bots", "tidings-bots")
    work = tempfile.mkdtemp(prefix=f"sessions-{n}-")
    cluster = None
    try:
        cluster = Cluster(node_bin, bots_bin, n, work, log, args.one_node_max, args.per_node)
        nodes, bots, n_nodes = cluster.nodes, cluster.bots, len(cluster.nodes)
        cluster.start_nodes()
        # Users: registered and logged in once; the tokens are kept in the users files.
        prepare_s = cluster.prepare_users()
        say(f"{n}: {n} users ready in {prepare_s:.0f} s on {n_nodes} node(s)")

        # A clean heap: the nodes start again on the same data, then settle.
        cluster.restart_nodes()
        settle(nodes, 20)
        before = [n_.rss() for n_ in nodes]

        rate = max(1, CONNECT_RATE // len(bots))
        t0 = time.monotonic()
        for b in bots:
            b.start(b.scenario("idle-sessions", [
                {"name": "log in", "action": "connect", "rate": rate,
                 "timeout_s": b.count / rate + 180},
                # stopped by us after the hold
                {"name": "idle", "action": "hold", "duration_s": hold_s + 600}]), "connect")
        cluster.wait_ready()
        deadline = n / CONNECT_RATE + 300
        wait_until(f"{n} sessions authenticated", lambda: sum(cluster.authenticated()) >= n,
                   deadline, 1)
        connect_s = time.monotonic() - t0
        say(f"{n}: all authenticated after {connect_s:.0f} s; holding {hold_s:.0f} s")
        # Held: any session closed meanwhile shows as a lower count at the end.
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            if any(b.proc.poll() is not None for b in bots):
                raise SystemExit("a bots process ended during the hold (see the log)")
        held = cluster.authenticated()
        rss_with = [x.rss() for x in nodes]
        bots_with = [rss_kib(b.proc.pid) for b in bots]
        live = [x.metrics().get("tidings_sessions_live", 0) for x in nodes]
        for b in bots:
            b.stop()
        per_node = [{"node": i + 1, "host": nodes[i].host, "sessions": int(held[i]),
                     "rss_before_kib": before[i], "rss_with_kib": rss_with[i],
                     "kib_per_session": round((rss_with[i] - before[i]) / max(1, held[i]), 2)}
                    for i in range(n_nodes)]
        bots_delta = sum(w - (b.ready_rss or 0) for w, b in zip(bots_with, bots))
        return {
            "sessions": n, "held": int(sum(held)), "live": int(sum(live)), "nodes": n_nodes,
            "bots_processes": len(bots), "hold_s": hold_s, "prepare_s": round(prepare_s, 1),
            "connect_s": round(connect_s, 1),
            "rss_before_kib": sum(before), "rss_with_kib": sum(rss_with),
            "kib_per_session": round((sum(rss_with) - sum(before)) / max(1, sum(held)), 2),
            "per_node": per_node,
            "bots_rss_kib": sum(bots_with),
            "bots_kib_per_session": round(bots_delta / max(1, sum(held)), 2),
            "ok": int(sum(held)) == n,
        }
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- report --------------------------------------------------------------------------------

def mib(kib):
    return f"{kib / 1024:,.1f}"


def markdown(res):
    out = [Script.header(res) + f" Sessions held {res['hold_s']:.0f} s after the last "
           f"one authenticated.", "",
           "| sessions | nodes | bots processes | RSS per node before → with (MiB) "
           "| KiB/session per node | KiB/session overall | bots KiB/session | held |",
           "|---|---|---|---|---|---|---|---|"]
    for p in res["points"]:
        if "per_node" not in p:
            out.append(f"| {p['sessions']:,} | – | – | – | – | – | – | FAIL: {p.get('error')} |")
            continue
        rss = ", ".join(f"{mib(x['rss_before_kib'])} → {mib(x['rss_with_kib'])}"
                        for x in p["per_node"])
        per = ", ".join(f"{x['kib_per_session']:.1f}" for x in p["per_node"])
        out.append(f"| {p['sessions']:,} | {p['nodes']} | {p['bots_processes']} | {rss} | {per} "
                   f"| **{p['kib_per_session']:.2f}** | {p['bots_kib_per_session']:.1f} "
                   f"| {p['held']:,}{'' if p['ok'] else ' (FAIL)'} |")
    if res.get("plot"):
        out += ["", f"![memory per idle session]({os.path.relpath(res['plot'], os.path.join(ROOT, 'docs'))})"]
    return "\n".join(out)


def plot(res, path, compare):
    if not shutil.which("gnuplot"):
        sys.stderr.write("gnuplot not found (apt-get install gnuplot-nox): no plot\n")
        return None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    work = tempfile.mkdtemp(prefix="sessions-plot-")
    try:
        series = []
        for label, r in ([("before (" + compare["commit"] + ")", compare)] if compare else []) + \
                [(("after (" if compare else "Tidings (") + res["commit"] + ")", res)]:
            dat = os.path.join(work, f"{len(series)}.dat")
            with open(dat, "w") as f:
                for p in r["points"]:
                    if "kib_per_session" in p:
                        f.write(f"{p['sessions']} {p['kib_per_session']}\n")
            series.append(f"'{dat}' using 1:2 with linespoints lw 2 pt 7 title '{label}'")
        series.append("8 with lines dt 2 lc rgb 'red' title 'target: 8 KiB'")
        script = f"""
set terminal pngcairo size 800,450 font ',10'
set output '{os.path.abspath(path)}'
set title 'Node resident memory per idle authenticated session'
set grid
set logscale x
set xrange [700:150000]
set xlabel 'idle sessions (1 node up to 19k, then clusters of ≤ 17k per node)'
set ylabel 'KiB per session'
set yrange [0:*]
set key bottom right
plot {', '.join(series)}
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--node", help="tidings-node binary (default BUILD/tools/tidings-node)")
    ap.add_argument("--bots", help="tidings-bots binary (default BUILD/bots/tidings-bots)")
    ap.add_argument("--quick", action="store_true", help="1k, 5k, 10k; 10 s holds")
    ap.add_argument("--sessions", help="comma-separated counts (default: see --quick)")
    ap.add_argument("--hold", type=float, help="seconds held after the last login")
    ap.add_argument("--one-node-max", type=int, default=ONE_NODE_MAX,
                    help="largest count on one node; above it a cluster")
    ap.add_argument("--per-node", type=int, default=PER_NODE, help="sessions per cluster node, at most")
    ap.add_argument("--doc", help="replace the sessions section of this Markdown file")
    ap.add_argument("--plot", help="write the curve here (PNG, gnuplot)")
    ap.add_argument("--compare", help="a previous --json to draw beside this run")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--log", help="the nodes' and bots' output (default: a temporary file)")
    args = ap.parse_args()
    counts = [int(x) for x in args.sessions.split(",")] if args.sessions else \
        (QUICK if args.quick else FULL)
    hold = args.hold if args.hold is not None else (10.0 if args.quick else 60.0)

    script = Script("sessions", args.log)
    log, say = script.log, script.say
    res = dict(script.identity("sessions.py"), hold_s=hold, points=[])
    try:
        for n in counts:
            try:
                p = one_point(args, n, hold, log, say)
            except SystemExit as e:
                p = {"sessions": n, "error": str(e), "ok": False}
            say(f"{n}: {json.dumps({k: v for k, v in p.items() if k != 'per_node'})}")
            res["points"].append(p)
    except Stop as e:
        say(f"stopped by {e}")
        raise SystemExit(130)
    script.ended(res)
    compare = None
    if args.compare:
        with open(args.compare) as f:
            compare = json.load(f)
    if args.plot:
        res["plot"] = plot(res, args.plot, compare)
    script.publish(res, markdown(res), all(p.get("ok") for p in res["points"]), args.json,
                   args.doc, "sessions")


if __name__ == "__main__":
    main()
