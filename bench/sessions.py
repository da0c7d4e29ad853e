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
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import steady  # noqa: E402  (free_port, node_metrics)
from versus import loadavg, machine, replace_section, stop_process  # noqa: E402

ONE_NODE_MAX = 19_000    # sessions one node can hold here (20,000 descriptors, hard)
PER_NODE = 17_000        # share of each node of a cluster, at most
PER_BOTS = 10_000        # connections of one bots process, at most
CONNECT_RATE = 2_000     # sessions per second, all bots processes together
FULL = [1_000, 5_000, 10_000, 19_000, 50_000, 100_000]
QUICK = [1_000, 5_000, 10_000]


class Stop(Exception):
    """SIGINT or SIGTERM: clean up and leave."""


def on_signal(signo, _frame):
    raise Stop(f"signal {signo}")


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def layout(n, one_node_max=ONE_NODE_MAX, per_node=PER_NODE):
    """(nodes, shares per node, bots processes per node) for n sessions."""
    nodes = 1 if n <= one_node_max else math.ceil(n / per_node)
    shares = [n // nodes + (1 if i < n % nodes else 0) for i in range(nodes)]
    return nodes, shares, [math.ceil(s / PER_BOTS) for s in shares]


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class Node:
    def __init__(self, binary, index, data_dir, cluster_args, log):
        self.binary, self.index, self.data_dir = binary, index, data_dir
        self.host = f"127.0.0.{11 + index}"
        self.cluster_args, self.log = cluster_args, log
        self.proc, self.port = None, None

    def start(self, deadline_s=60):
        cmd = [self.binary, "--port=0", f"--bind={self.host}", f"--data-dir={self.data_dir}",
               "--storage.sync=false", "--net.max-connections=0",
               "--limits.rate=100000", "--limits.burst=100000",
               "--auth.argon2-ops=1", "--auth.argon2-mem-kib=64"] + self.cluster_args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        found = {}

        def read():
            for line in self.proc.stdout:  # drained to the end: the node never blocks on it
                if line.startswith("listening on ") and "port" not in found:
                    found["port"] = int(line.rsplit(":", 1)[1])
                self.log.write(line)
        threading.Thread(target=read, daemon=True).start()
        end = time.monotonic() + deadline_s
        while "port" not in found:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"node {self.index} did not start (see the log)")
            time.sleep(0.05)
        self.port = found["port"]

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def rss(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        stop_process(self.proc)


class Bots:
    """One tidings-bots process: its users, its node, its source addresses."""

    def __init__(self, binary, index, count, node, work, log):
        self.binary, self.index, self.count, self.node = binary, index, count, node
        self.sources = f"127.0.0.{100 + 2 * index},127.0.0.{101 + 2 * index}"
        self.users_file = os.path.join(work, f"users{index}.txt")
        self.work, self.log = work, log
        self.proc, self.ready_rss, self.ready = None, None, threading.Event()

    def scenario(self, connect, hold_s, rate):
        phases = [{"name": "idle", "action": "hold", "duration_s": hold_s}]
        if connect:
            phases.insert(0, {"name": "log in", "action": "connect", "rate": rate,
                              "timeout_s": self.count / rate + 180})
        return {"name": "idle-sessions", "seed": 12 + self.index, "user_prefix": f"s{self.index}x",
                "prepare_parallel": 8, "drain_timeout_s": 30,
                "groups": [{"name": "idle", "bots": self.count, "contacts": 0,
                            "behaviour": {"think_ms": None}}],
                "phases": phases}

    def start(self, connect, hold_s, rate):
        path = os.path.join(self.work, f"scenario{self.index}-{int(connect)}.json")
        with open(path, "w") as f:
            json.dump(self.scenario(connect, hold_s, rate), f)
        self.ready.clear()
        self.proc = subprocess.Popen(
            [self.binary, f"--url={self.node.url}", f"--scenario={path}", "--no-progress",
             f"--users-file={self.users_file}", f"--source={self.sources}",
             f"--json={os.path.join(self.work, f'report{self.index}.json')}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)

        def read():
            for line in self.proc.stderr:
                if line.startswith("users ready"):
                    self.ready_rss = rss_kib(self.proc.pid)
                    self.ready.set()
                self.log.write(f"[bots {self.index}] {line}")
        threading.Thread(target=read, daemon=True).start()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self):
        stop_process(self.proc, signal.SIGINT)  # skip to the drain, report, exit

    def prepared(self):
        try:
            with open(self.users_file) as f:
                return sum(1 for line in f if len(line.split()) >= 3)
        except OSError:
            return 0


def wait_until(what, check, deadline_s, step=0.2):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(step)
    raise SystemExit(f"timed out ({deadline_s:.0f} s) waiting for {what}")


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
    n_nodes, shares, bots_per_node = layout(n, args.one_node_max, args.per_node)
    work = tempfile.mkdtemp(prefix=f"sessions-{n}-")
    nodes, bots = [], []
    try:
        cluster_ports = [steady.free_port() for _ in range(n_nodes)]
        peers = ",".join(f"n{i + 1}@127.0.0.{11 + i}:{p}" for i, p in enumerate(cluster_ports))
        for i in range(n_nodes):
            extra = [] if n_nodes == 1 else [
                f"--cluster.node-id=n{i + 1}", f"--cluster.bind=127.0.0.{11 + i}",
                f"--cluster.port={cluster_ports[i]}", f"--cluster.peers={peers}"]
            nodes.append(Node(node_bin, i, os.path.join(work, f"data{i}"), extra, log))

        def start_nodes():
            for node in nodes:
                node.start()
            if n_nodes > 1:
                wait_until("the cluster to form", lambda: all(
                    steady.node_metrics(x.port, x.host).get("tidings_cluster_peers_up") == n_nodes - 1
                    for x in nodes), 60)

        start_nodes()
        for i, node in enumerate(nodes):
            for count in split(shares[i], bots_per_node[i]):
                bots.append(Bots(bots_bin, len(bots), count, node, work, log))
        # Users: registered and logged in once; the tokens are kept in the users files.
        t0 = time.monotonic()
        for b in bots:
            b.start(connect=False, hold_s=0.1, rate=1)
        for b in bots:
            b.wait(timeout=600)
        missing = [(b.index, b.count - b.prepared()) for b in bots if b.prepared() < b.count]
        if missing:
            raise SystemExit(f"users not prepared (bots process, missing): {missing}")
        prepare_s = time.monotonic() - t0
        say(f"{n}: {n} users ready in {prepare_s:.0f} s on {n_nodes} node(s)")

        # A clean heap: the nodes start again on the same data, then settle.
        for node in nodes:
            node.stop()
        start_nodes()
        settle(nodes, 20)
        before = [n_.rss() for n_ in nodes]

        rate = max(1, CONNECT_RATE // len(bots))
        t0 = time.monotonic()
        for b in bots:
            b.start(connect=True, hold_s=hold_s + 600, rate=rate)  # stopped by us after the hold
        for b in bots:
            if not b.ready.wait(timeout=120):
                raise SystemExit(f"bots process {b.index} did not get its users ready")

        def authenticated():
            return [steady.node_metrics(x.port, x.host).get("tidings_sessions_authenticated", 0) for x in nodes]
        deadline = n / CONNECT_RATE + 300
        wait_until(f"{n} sessions authenticated", lambda: sum(authenticated()) >= n, deadline, 1)
        connect_s = time.monotonic() - t0
        say(f"{n}: all authenticated after {connect_s:.0f} s; holding {hold_s:.0f} s")
        # Held: any session closed meanwhile shows as a lower count at the end.
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            if any(b.proc.poll() is not None for b in bots):
                raise SystemExit("a bots process ended during the hold (see the log)")
        held = authenticated()
        rss_with = [x.rss() for x in nodes]
        bots_with = [rss_kib(b.proc.pid) for b in bots]
        live = [steady.node_metrics(x.port, x.host).get("tidings_sessions_live", 0) for x in nodes]
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
        for b in bots:
            b.stop()
        for node in nodes:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- report --------------------------------------------------------------------------------

def mib(kib):
    return f"{kib / 1024:,.1f}"


def markdown(res):
    out = [f"Run {res['started']} UTC, commit `{res['commit']}`, {res['machine']}; load average "
           f"{res['load_before']} before, {res['load_after']} after. Command: `{res['command']}` "
           f"({res['elapsed_min']:.1f} min). Sessions held {res['hold_s']:.0f} s after the last "
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

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t_start = time.monotonic()
    log_path = args.log or tempfile.mktemp(prefix="sessions-", suffix=".log")
    log = open(log_path, "w", buffering=1)

    def say(msg):
        sys.stderr.write(f"[{time.monotonic() - t_start:5.0f}s] {msg}\n")

    say(f"log: {log_path}")
    res = {"started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip(),
           "machine": machine(), "load_before": loadavg(), "hold_s": hold,
           "command": "bench/sessions.py " + " ".join(sys.argv[1:]), "points": []}
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
    res["load_after"] = loadavg()
    res["elapsed_min"] = (time.monotonic() - t_start) / 60
    compare = None
    if args.compare:
        with open(args.compare) as f:
            compare = json.load(f)
    if args.plot:
        res["plot"] = plot(res, args.plot, compare)
    text = markdown(res)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.doc:
        replace_section(args.doc, "sessions", text)
    ok = all(p.get("ok") for p in res["points"])
    log.close()
    if ok and not args.log:
        os.unlink(log_path)  # kept (and named above) only when something failed
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
