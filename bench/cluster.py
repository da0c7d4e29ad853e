"""Nodes and bots processes for the many-session benchmarks (bench/sessions.py, bench/storm.py).

A run of N sessions uses one node up to `ONE_NODE_MAX` sessions, else a cluster of
ceil(N / PER_NODE) nodes (the open-file limit of this machine is 20,000, hard: one process holds
at most ≈ 19,900 sockets), node i listening on 127.0.0.(11+i) for clients and peers. Each node's
share is served by bots processes of at most PER_BOTS connections, each bound to two source
addresses of its own, 127.0.0.(100+2j) and 127.0.0.(101+2j); the bots of node i connect to node
i only, their users homed all over the cluster. Users are registered and logged in once by a
bots run that never connects; their tokens stay in one users file per bots process.

Every wait has a deadline; `Cluster.stop()` stops every process it started (call it from a
`finally`); SIGINT and SIGTERM raise `Stop` once `catch_signals()` was called.
"""

import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

import steady  # free_port, node_metrics
from versus import loadavg, machine, replace_section, stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ONE_NODE_MAX = 19_000    # sessions one node can hold here (20,000 descriptors, hard)
PER_NODE = 17_000        # share of each node of a cluster, at most
PER_BOTS = 10_000        # connections of one bots process, at most
CHEAP_ARGON2 = ["--auth.argon2-ops=1", "--auth.argon2-mem-kib=64"]


class Stop(Exception):
    """SIGINT or SIGTERM: clean up and leave."""


def on_signal(signo, _frame):
    raise Stop(f"signal {signo}")


def catch_signals():
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def cpu_s(pid):
    """User + system CPU seconds of a process so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, IndexError):
        return None


def layout(n, one_node_max=ONE_NODE_MAX, per_node=PER_NODE):
    """(nodes, shares per node, bots processes per node) for n sessions."""
    nodes = 1 if n <= one_node_max else math.ceil(n / per_node)
    shares = split(n, nodes)
    return nodes, shares, [math.ceil(s / PER_BOTS) for s in shares]


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def wait_until(what, check, deadline_s, step=0.2):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(step)
    raise SystemExit(f"timed out ({deadline_s:.0f} s) waiting for {what}")


class Node:
    def __init__(self, binary, index, data_dir, cluster_args, log, extra=None):
        self.binary, self.index, self.data_dir = binary, index, data_dir
        self.host = f"127.0.0.{11 + index}"
        self.cluster_args, self.log = cluster_args, log
        self.extra = CHEAP_ARGON2 if extra is None else extra
        self.proc, self.port = None, None

    def start(self, deadline_s=60):
        cmd = [self.binary, "--port=0", f"--bind={self.host}", f"--data-dir={self.data_dir}",
               "--storage.sync=false", "--net.max-connections=0",
               "--limits.rate=100000", "--limits.burst=100000"] + self.extra + self.cluster_args
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

    def metrics(self):
        return steady.node_metrics(self.port, self.host)

    def rss(self):
        return rss_kib(self.proc.pid)

    def cpu(self):
        return cpu_s(self.proc.pid)

    def stop(self):
        stop_process(self.proc)


class Bots:
    """One tidings-bots process: its users, its node, its source addresses."""

    def __init__(self, binary, index, count, node, work, log):
        self.binary, self.index, self.count, self.node = binary, index, count, node
        self.sources = f"127.0.0.{100 + 2 * index},127.0.0.{101 + 2 * index}"
        self.users_file = os.path.join(work, f"users{index}.txt")
        self.report_file = os.path.join(work, f"report{self.index}.json")
        self.work, self.log = work, log
        self.proc, self.ready_rss, self.ready = None, None, threading.Event()

    def scenario(self, name, phases):
        """Idle bots (pings every 20 s, nothing else) going through `phases`."""
        return {"name": name, "seed": 12 + self.index, "user_prefix": f"s{self.index}x",
                "prepare_parallel": 8, "drain_timeout_s": 30,
                "groups": [{"name": "idle", "bots": self.count, "contacts": 0,
                            "behaviour": {"think_ms": None}}],
                "phases": phases}

    def start(self, scenario, tag):
        path = os.path.join(self.work, f"scenario{self.index}-{tag}.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        self.ready.clear()
        if os.path.exists(self.report_file):
            os.unlink(self.report_file)
        self.proc = subprocess.Popen(
            [self.binary, f"--url={self.node.url}", f"--scenario={path}", "--no-progress",
             f"--users-file={self.users_file}", f"--source={self.sources}",
             f"--json={self.report_file}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)

        def read():
            for line in self.proc.stderr:
                if line.startswith("users ready"):
                    self.ready_rss = rss_kib(self.proc.pid)
                    self.ready.set()
                self.log.write(f"[bots {self.index}] {line}")
        threading.Thread(target=read, daemon=True).start()

    def prepare(self):
        """Registers and logs in this process's users (a run that never connects)."""
        self.start(self.scenario("prepare", [{"name": "idle", "action": "hold",
                                              "duration_s": 0.1}]), "prepare")

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def report(self):
        try:
            with open(self.report_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def signal(self, signo):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signo)

    def stop(self):
        stop_process(self.proc, signal.SIGINT)  # skip to the drain, report, exit

    def prepared(self):
        try:
            with open(self.users_file) as f:
                return sum(1 for line in f if len(line.split()) >= 3)
        except OSError:
            return 0


class Cluster:
    """The nodes and bots processes of one run of n sessions (see the module's comment)."""

    def __init__(self, node_bin, bots_bin, n, work, log, one_node_max=ONE_NODE_MAX,
                 per_node=PER_NODE):
        self.n = n
        n_nodes, self.shares, bots_per_node = layout(n, one_node_max, per_node)
        ports = [steady.free_port() for _ in range(n_nodes)]
        peers = ",".join(f"n{i + 1}@127.0.0.{11 + i}:{p}" for i, p in enumerate(ports))
        self.nodes, self.bots = [], []
        for i in range(n_nodes):
            extra = [] if n_nodes == 1 else [
                f"--cluster.node-id=n{i + 1}", f"--cluster.bind=127.0.0.{11 + i}",
                f"--cluster.port={ports[i]}", f"--cluster.peers={peers}"]
            self.nodes.append(Node(node_bin, i, os.path.join(work, f"data{i}"), extra, log))
        for i, node in enumerate(self.nodes):
            for count in split(self.shares[i], bots_per_node[i]):
                self.bots.append(Bots(bots_bin, len(self.bots), count, node, work, log))

    def start_nodes(self):
        for node in self.nodes:
            node.start()
        if len(self.nodes) > 1:
            wait_until("the cluster to form", lambda: all(
                x.metrics().get("tidings_cluster_peers_up") == len(self.nodes) - 1
                for x in self.nodes), 60)

    def restart_nodes(self):
        for node in self.nodes:
            node.stop()
        self.start_nodes()

    def prepare_users(self, timeout_s=600):
        """Registers and logs in every user once; returns the seconds it took."""
        t0 = time.monotonic()
        for b in self.bots:
            b.prepare()
        for b in self.bots:
            b.wait(timeout=timeout_s)
        missing = [(b.index, b.count - b.prepared()) for b in self.bots if b.prepared() < b.count]
        if missing:
            raise SystemExit(f"users not prepared (bots process, missing): {missing}")
        return time.monotonic() - t0

    def wait_ready(self, timeout_s=120):
        for b in self.bots:
            if not b.ready.wait(timeout=timeout_s):
                raise SystemExit(f"bots process {b.index} did not get its users ready")

    def authenticated(self):
        return [x.metrics().get("tidings_sessions_authenticated", 0) for x in self.nodes]

    def stop(self):
        for b in self.bots:
            b.stop()
        for node in self.nodes:
            node.stop()


class Script:
    """What a benchmark script does around its runs: SIGINT/SIGTERM raise Stop, the open-file
    limit is raised to its hard limit (inherited by the nodes and bots), the processes' output
    goes to a log (`log_path`, or a temporary file kept only if the run failed), progress lines
    go to stderr with the seconds since the start."""

    def __init__(self, name, log_path):
        catch_signals()
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.t_start = time.monotonic()
        self.keep_log = bool(log_path)
        self.log_path = log_path or tempfile.mktemp(prefix=f"{name}-", suffix=".log")
        self.log = open(self.log_path, "w", buffering=1)
        self.say(f"log: {self.log_path}")

    def say(self, msg):
        sys.stderr.write(f"[{time.monotonic() - self.t_start:5.0f}s] {msg}\n")

    def identity(self, script):
        """When, which commit, which machine, which command."""
        return {"started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                         capture_output=True, text=True).stdout.strip(),
                "machine": machine(), "load_before": loadavg(),
                "command": f"bench/{script} " + " ".join(sys.argv[1:])}

    def ended(self, res):
        """Adds the load average at the end and the minutes the script took to `res`."""
        res["load_after"] = loadavg()
        res["elapsed_min"] = (time.monotonic() - self.t_start) / 60

    @staticmethod
    def header(res):
        """The first sentences of a results section: when, commit, machine, load, command."""
        return (f"Run {res['started']} UTC, commit `{res['commit']}`, {res['machine']}; load "
                f"average {res['load_before']} before, {res['load_after']} after. Command: "
                f"`{res['command']}` ({res['elapsed_min']:.1f} min).")

    def publish(self, res, text, ok, json_path=None, doc=None, section=None):
        """Prints the Markdown `text`, writes `res` to `json_path` and `text` into the section
        `section` of `doc` (if given), then exits with 0 if `ok`, else 1."""
        print(text)
        if json_path:
            with open(json_path, "w") as f:
                json.dump(res, f, indent=1)
        if doc:
            replace_section(doc, section, text)
        self.log.close()
        if ok and not self.keep_log:
            os.unlink(self.log_path)  # kept (and named above) only when something failed
        sys.exit(0 if ok else 1)
