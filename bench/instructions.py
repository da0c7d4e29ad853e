#!/usr/bin/env python3
"""What one message costs the node, in figures that do not depend on the machine's load.

Runs a fixed small steady one-to-one scenario (default 100 bots, 20 messages/s offered, 20 s)
against a fresh node and measures a window that starts once every bot is connected and ends
once the bots have finished (hold, ramp-down, drain). Divided by the messages stored in that
window:

  --tool=callgrind (default): the node runs under `valgrind --tool=callgrind`; instructions
      (Ir) and calls to malloc/calloc/realloc (every `new` is one) per message, and the top
      symbols by exclusive instructions. Slow (valgrind runs the node ~50x slower, on one
      thread at a time), so keep the rate low; the figures are exact counts and barely move
      with the machine's load.
  --tool=none: the node runs natively; CPU µs and context switches (voluntary + involuntary,
      every thread, /proc/PID/task/*/status) per message.
  --target=bots: the same figures of the bots process instead (the node runs natively), from
      the moment every bot is connected until the bots exit.

Both report the node's storage counters per message (/metrics): RocksDB writes (WAL appends,
fsyncs in sync mode), keys put and deleted (memtable inserts), point reads and iterators.

    bench/instructions.py --build=build [--node=OTHER/tidings-node] [--tool=callgrind|none]
                          [--bots=100] [--rate=20] [--hold=20] [--sync=true] [--top=25]

Prints a human summary, then one JSON line. Every process it starts is stopped; the data
directory is removed (the callgrind file is kept with --keep=DIR).
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steady  # noqa: E402  (the scenario, node start-up and /metrics reader)

COUNTERS = {
    "stored": "tidings_messages_stored_total",
    "receipts": "tidings_receipts_stored_total",
    "acked": "tidings_items_acked_total",
    "frames": "tidings_frames_received_total",
    "group_writes": "tidings_storage_writes_total",
    "group_batches": "tidings_storage_batches_total",
    "db_writes": "tidings_db_writes_total",
    "db_puts": "tidings_db_puts_total",
    "db_deletes": "tidings_db_deletes_total",
    "db_gets": "tidings_db_gets_total",
    "db_iterators": "tidings_db_iterators_total",
}

ALLOC_FUNCTIONS = {"malloc", "calloc", "realloc"}


def control(command, pid):
    """callgrind_control `command` (-z: zero, -d: dump) for `pid`; it exits 0 even when it finds
    no such run, so its answer is checked."""
    out = subprocess.run(["callgrind_control", command, str(pid)], capture_output=True, text=True)
    if "OK" not in out.stdout:
        raise SystemExit(f"callgrind_control {command} {pid}: {out.stdout}{out.stderr}")


def snapshot(port):
    m = steady.node_metrics(port)
    return {k: m.get(name, 0.0) for k, name in COUNTERS.items()}


def wait_sessions(port, bots, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if steady.node_metrics(port).get("tidings_sessions_live", 0) >= bots:
            return True
        time.sleep(0.2)
    return False


def parse_callgrind(path):
    """(total Ir, calls of malloc/calloc/realloc) of one callgrind output file."""
    names, total, allocs = {}, 0, 0
    callee = None
    name_re = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                m = name_re.match(line.rstrip("\n"))
                if m:
                    if m.group(2) is not None:
                        names[m.group(1)] = m.group(2)
                    if line.startswith("cfn="):
                        callee = names.get(m.group(1), "")
                continue
            if line.startswith("calls="):
                if callee in ALLOC_FUNCTIONS:
                    allocs += int(line[6:].split()[0])
                continue
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total, allocs


def top_symbols(path, n):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((float(m.group(2)), m.group(3)))
    # Threads' entry frames (clone, std::thread's _M_run) carry the cost of the frames active
    # when the counters were zeroed: not functions of their own.
    entry = ("clone.S:clone", "_State_impl", "start_thread")
    rows = [r for r in rows if r[0] < 100.0 and not any(e in r[1] for e in entry)][:n]
    return [f"{pct:5.2f}%  {name[:150]}" for pct, name in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--node", help="tidings-node binary (default BUILD/tools/tidings-node)")
    ap.add_argument("--bots-binary", help="tidings-bots binary (default BUILD/bots/tidings-bots)")
    ap.add_argument("--tool", default="callgrind", choices=["callgrind", "none"])
    ap.add_argument("--target", default="node", choices=["node", "bots"],
                    help="the process measured (the other runs natively)")
    ap.add_argument("--bots", type=int, default=100)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--hold", type=float, default=20)
    ap.add_argument("--body", type=int, default=100)
    ap.add_argument("--sync", default="true")
    ap.add_argument("--node-arg", action="append", default=[])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--keep", help="copy the callgrind output into this folder")
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    node_bin = args.node or os.path.join(args.build, "tools", "tidings-node")
    bots_bin = args.bots_binary or os.path.join(args.build, "bots", "tidings-bots")
    work = tempfile.mkdtemp(prefix="tidings-instr-")
    cg_out = os.path.join(work, "callgrind.out")
    prefix = []
    if args.tool == "callgrind":
        prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg_out}",
                  f"--log-file={os.path.join(work, 'valgrind.log')}"]
    node_prefix = prefix if args.target == "node" else []
    bots_prefix = prefix if args.target == "bots" else []
    node = None
    try:
        conf = os.path.join(work, "node.ini")
        with open(conf, "w") as f:
            f.write(f"[storage]\nsync={args.sync}\n")
        node, port = steady.start_node(node_bin, os.path.join(work, "data"),
                                       [f"--config-file={conf}"] + args.node_arg, node_prefix)
        scen = steady.scenario(args.bots, args.rate, args.hold, args.body)
        scen["phases"][0]["timeout_s"] = 300
        scen_path = os.path.join(work, "scenario.json")
        with open(scen_path, "w") as f:
            json.dump(scen, f)
        report = os.path.join(work, "report.json")
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        bots = subprocess.Popen(
            bots_prefix + [bots_bin, f"--url=http://127.0.0.1:{port}", f"--scenario={scen_path}",
             f"--json={report}", "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not wait_sessions(port, args.bots, 300):
            bots.kill()
            raise SystemExit("the bots did not all connect within 300 s")
        before = snapshot(port)
        target = node.pid if args.target == "node" else bots.pid
        cpu0 = steady.proc_cpu(target)
        if args.tool == "callgrind":
            control("-z", target)
        _, bots_err = bots.communicate()
        cpu1 = steady.proc_cpu(node.pid) if args.target == "node" else None
        if args.tool == "callgrind" and args.target == "node":
            control("-d", target)
        after = snapshot(port)
        if args.target == "bots":  # their whole life, less what they had used at the zero
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu1 = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                    r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw)
        ok = bots.returncode == 0
        with open(report) as f:
            rep = json.load(f)
    finally:
        if node is not None:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=120)
            except subprocess.TimeoutExpired:
                node.kill()
    try:
        delta = {k: after[k] - before[k] for k in COUNTERS}
        msgs = max(1.0, delta["stored"])
        out = {"label": args.label, "tool": args.tool, "sync": args.sync, "bots": args.bots,
               "offered_per_s": args.rate, "messages": int(delta["stored"]),
               "lost": rep["messages"]["lost"], "pass": ok}
        for k in ("receipts", "acked", "frames", "group_writes", "group_batches", "db_writes",
                  "db_puts", "db_deletes", "db_gets", "db_iterators"):
            out[f"{k}_per_msg"] = round(delta[k] / msgs, 3)
        out["memtable_ops_per_msg"] = round((delta["db_puts"] + delta["db_deletes"]) / msgs, 2)
        lines = []
        if args.tool == "callgrind":
            # The node's dump at the window's end; the bots' final dump when they exit.
            dumps = sorted(p for p in os.listdir(work) if p.startswith("callgrind.out."))
            dump = os.path.join(work, dumps[0] if args.target == "node" else "callgrind.out")
            ir, allocs = parse_callgrind(dump)
            out["instructions_per_msg"] = round(ir / msgs)
            out["allocs_per_msg"] = round(allocs / msgs, 1)
            lines = top_symbols(dump, args.top)
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copy(dump, os.path.join(args.keep, f"callgrind.{args.label or 'out'}"))
        else:
            out[f"{args.target}_us_per_msg"] = round(1e6 * (cpu1[0] - cpu0[0]) / msgs, 1)
            out["ctxsw_per_msg"] = round((cpu1[1] + cpu1[2] - cpu0[1] - cpu0[2]) / msgs, 2)
        for k, v in out.items():
            if k != "label":
                print(f"{k:24} {v}")
        if lines:
            print("top symbols (exclusive Ir):")
            for line in lines:
                print("  " + line)
        if not ok:
            sys.stderr.write(bots_err[-2000:])
        print(json.dumps(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
