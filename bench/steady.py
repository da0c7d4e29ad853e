#!/usr/bin/env python3
"""One steady one-to-one run at a chosen rate: a fresh node, the project's bots, one JSON line.

Starts `tidings-node` on a loopback port with a fresh data directory, writes a steady-1to1
scenario whose think time gives the offered rate, runs `tidings-bots` against it and prints one
JSON object: offered and delivered rates, loss, latency percentiles, the CPU seconds and context
switches of the node and of the bots, and CPU microseconds per delivered message.

    bench/steady.py --build=build --rate=5000 --sync=true --hold=30 [--bots=1000] [--label=X]
    bench/steady.py --node=OTHER/tidings-node ...   # measure another build in the same run
    bench/steady.py --nodes=3 ...   # a cluster of 3 nodes on this machine, one bots process each

With --nodes=N > 1 the nodes form one cluster (loopback cluster ports); each node gets its own
bots process with 1/N of the bots and of the rate and its own user names, so every bot talks
to one node while its users' homes are spread over all N (most sends cross a node). Counts
and CPU are summed; latency percentiles are the worst of the N processes.

Every process it starts is stopped before it returns; the data directory is removed.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def proc_cpu(pid):
    """(user+system CPU seconds, voluntary, involuntary context switches) of every thread."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    vol = invol = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol += int(line.split()[1])
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return cpu, vol, invol


def scenario(bots, rate, hold_s, body_bytes):
    think_ms = 1000.0 * bots / rate
    return {
        "name": f"steady-{rate}",
        "description": f"steady-1to1 with think_ms lowered: {bots} bots, about {rate} messages/s",
        "seed": 1,
        "user_prefix": "bench",
        "prepare_parallel": 16,
        "drain_timeout_s": 120,
        "groups": [{
            "name": "chatters", "bots": bots, "contacts": 5,
            "behaviour": {
                "think_ms": {"dist": "exponential", "mean": think_ms, "max": think_ms * 10},
                "message_bytes": {"dist": "exponential", "mean": body_bytes, "max": 4000},
                "peer": "zipf", "zipf_s": 1.0,
                "read_share": 0.5,
                "read_delay_ms": {"dist": "exponential", "mean": 3000, "max": 30000},
                "ack_delay_ms": 20,
                "max_inflight": 64,
            },
        }],
        "phases": [
            {"name": "ramp-up", "action": "connect", "rate": 0, "timeout_s": 60},
            {"name": "steady", "action": "hold", "duration_s": hold_s},
            {"name": "ramp-down", "action": "disconnect", "rate": 0},
        ],
    }


def node_metrics(port, host="127.0.0.1"):
    """The node's counters from /metrics (name -> value; labelled series are skipped)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_cluster(ports, deadline_s=30):
    """Until every node reports all its peers up (polling the nodes' own gauge, bounded)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if all(node_metrics(p).get("tidings_cluster_peers_up") == len(ports) - 1 for p in ports):
            return
        time.sleep(0.1)
    raise SystemExit("the cluster did not form within %d s" % deadline_s)


def start_node(binary, data_dir, extra, prefix=()):
    """Starts a node (under `prefix`, e.g. valgrind, if given); returns (process, port)."""
    cmd = list(prefix) + [binary, "--port=0", "--bind=127.0.0.1", f"--data-dir={data_dir}",
           "--limits.rate=100000", "--limits.burst=100000",
           "--auth.argon2-ops=1", "--auth.argon2-mem-kib=64"] + extra
    node = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    seen = []
    for line in node.stdout:  # cluster lines may come first
        if line.startswith("listening on "):
            # Keep draining stdout, so the node never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in node.stdout], daemon=True).start()
            return node, int(line.rsplit(":", 1)[1])
        seen.append(line)
        if len(seen) > 100:
            break
    node.kill()
    raise SystemExit(f"node did not start: {''.join(seen)!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--node", help="tidings-node binary (default BUILD/tools/tidings-node)")
    ap.add_argument("--bots-binary", help="tidings-bots binary (default BUILD/bots/tidings-bots)")
    ap.add_argument("--rate", type=float, required=True, help="offered messages per second")
    ap.add_argument("--bots", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=30)
    ap.add_argument("--body", type=int, default=100, help="mean body bytes")
    ap.add_argument("--sync", default="true", help="true | false (the node's storage.sync)")
    ap.add_argument("--node-arg", action="append", default=[], help="extra node option")
    ap.add_argument("--bots-arg", action="append", default=[], help="extra tidings-bots option")
    ap.add_argument("--label", default="")
    ap.add_argument("--report", help="keep the bots' full JSON report here (one node only)")
    ap.add_argument("--nodes", type=int, default=1, help="nodes in a cluster on this machine")
    args = ap.parse_args()

    node_bin = args.node or os.path.join(args.build, "tools", "tidings-node")
    bots_bin = args.bots_binary or os.path.join(args.build, "bots", "tidings-bots")
    work = tempfile.mkdtemp(prefix="tidings-bench-")
    n = max(1, args.nodes)
    nodes, ports, reports, usages, status_ok = [], [], [], [], True
    try:
        conf = os.path.join(work, "node.ini")
        with open(conf, "w") as f:
            f.write(f"[storage]\nsync={args.sync}\n")
        cluster_ports = [free_port() for _ in range(n)]
        peers = ",".join(f"n{i + 1}@127.0.0.1:{p}" for i, p in enumerate(cluster_ports))
        try:
            for i in range(n):
                extra = [f"--config-file={conf}"] + args.node_arg
                if n > 1:
                    extra += [f"--cluster.node-id=n{i + 1}", "--cluster.bind=127.0.0.1",
                              f"--cluster.port={cluster_ports[i]}", f"--cluster.peers={peers}"]
                node, port = start_node(node_bin, os.path.join(work, f"data{i}"), extra)
                nodes.append(node)
                ports.append(port)
            if n > 1:
                wait_cluster(ports)
            cpu0 = [proc_cpu(node.pid) for node in nodes]
            t0 = time.monotonic()
            bots = []
            for i in range(n):
                scen = scenario(args.bots // n, args.rate / n, args.hold, args.body)
                scen["user_prefix"] = f"bench{i}"
                scen_path = os.path.join(work, f"scenario{i}.json")
                with open(scen_path, "w") as f:
                    json.dump(scen, f)
                report = (args.report if n == 1 and args.report
                          else os.path.join(work, f"report{i}.json"))
                reports.append(report)
                bots.append(subprocess.Popen(
                    [bots_bin, f"--url=http://127.0.0.1:{ports[i]}", f"--scenario={scen_path}",
                     f"--json={report}", "--no-progress"] + args.bots_arg,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            for b in bots:
                _, status, usage = os.wait4(b.pid, 0)
                status_ok = status_ok and os.waitstatus_to_exitcode(status) == 0
                usages.append(usage)
            elapsed = time.monotonic() - t0
            cpu1 = [proc_cpu(node.pid) for node in nodes]
            metrics = [node_metrics(p) for p in ports]
        finally:
            for node in nodes:
                node.send_signal(signal.SIGTERM)
            for node in nodes:
                try:
                    node.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node.kill()
        rs = []
        for report in reports:
            with open(report) as f:
                rs.append(json.load(f))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def total(get):
        return sum(get(x) for x in rs)

    def worst(get):
        return max(get(x) for x in rs)

    def steady_of(x):
        return next(p for p in x["phases"] if p["name"] == "steady")

    delivered = total(lambda x: x["messages"]["received"])
    node_cpu = sum(c1[0] - c0[0] for c0, c1 in zip(cpu0, cpu1))
    ctxsw = sum(c1[1] + c1[2] - c0[1] - c0[2] for c0, c1 in zip(cpu0, cpu1))
    bots_cpu = sum(u.ru_utime + u.ru_stime for u in usages)
    writes = sum(m.get("tidings_storage_writes_total", 0) for m in metrics)
    batches = sum(m.get("tidings_storage_batches_total", 0) for m in metrics)
    out = {
        "label": args.label, "sync": args.sync, "bots": args.bots, "nodes": n,
        "offered_per_s": args.rate,
        "sent_per_s": round(total(lambda x: steady_of(x)["sent_per_s"]), 1),
        "delivered_per_s": round(total(lambda x: steady_of(x)["received_per_s"]), 1),
        "sent": total(lambda x: x["messages"]["sent"]), "received": delivered,
        "lost": total(lambda x: x["messages"]["lost"]),
        "duplicates": total(lambda x: x["messages"]["duplicates"]),
        "repeats": total(lambda x: x["messages"]["repeats"]),
        "receipts_missing": total(lambda x: x["receipts"].get("missing", 0)),
        "errors": [x["errors"] for x in rs] if n > 1 else rs[0]["errors"],
        "p50_sent_ms": worst(lambda x: x["latency_ms"]["send_to_sent"]["p50"]),
        "p99_sent_ms": worst(lambda x: x["latency_ms"]["send_to_sent"]["p99"]),
        "p50_recv_ms": worst(lambda x: x["latency_ms"]["send_to_receive"]["p50"]),
        "p99_recv_ms": worst(lambda x: x["latency_ms"]["send_to_receive"]["p99"]),
        "node_cpu_s": round(node_cpu, 2), "bots_cpu_s": round(bots_cpu, 2),
        "node_us_per_msg": round(1e6 * node_cpu / max(1, delivered), 1),
        "bots_us_per_msg": round(1e6 * bots_cpu / max(1, delivered), 1),
        "node_ctxsw_per_msg": round(ctxsw / max(1, delivered), 2),
        "elapsed_s": round(elapsed, 1), "pass": status_ok,
        "storage_writes": writes or None,
        "batches_per_write": round(batches / max(1, writes), 1) if writes else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
