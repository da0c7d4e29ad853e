#!/usr/bin/env python3
"""Reconnect storm: N token logins and WebSocket authentications at once (issue 12).

    bench/storm.py --build=build [--quick] [--doc=docs/BENCHMARKS.md] [--json=FILE]
                   [--sessions=50000] [--one-node=19000] [--window-ms=2000] [--perf=DIR]

The target: 50,000 token logins and WebSocket authentications within 10 seconds, none failing
for a reason other than an explicit `overloaded` retry that then succeeds.

A "token login" is a WebSocket connection (`GET /v1/ws`) authenticated with a token the user
got earlier from `POST /v1/sessions`: what every client does when it comes back after a network
outage. Password logins (`POST /v1/sessions`) cost an argon2id hash each on purpose and are not
part of a reconnect storm; they are measured apart (`password` below).

Each run (bench/cluster.py lays out the nodes and the bots processes):
1. starts the node(s), registers and logs in the users once (tokens kept in users files);
2. starts the bots processes (≤ 10,000 connections each, own source addresses): they connect
   and authenticate at a moderate rate, then idle (a hold phase marked `until_signal`);
3. once every node reports its share authenticated, waits 2 s, then sends SIGUSR1 to every bots
   process at once: every bot drops its TCP connection (no close frame, as a network outage
   would) and comes back after a delay drawn uniformly from 0 to --window-ms (clients' jitter),
   reconnects and authenticates with its token. A bot whose upgrade the node refuses with
   `503 overloaded` (past --net.max-pending-auth) comes back after the answer's retry_ms
   (+0-10 %); a refusal is counted apart, not as a failure. A bot whose connection fails
   comes back after a jittered back-off (250 ms doubling to 8 s), never at once;
4. watches the nodes' /metrics (sessions opened, live, authenticated; 4 times a second) until
   every session is back: opened_total grew by N, live = authenticated = N. Deadline 120 s;
5. the same again with clean closes (close frame 1000) instead of drops;
6. ends the bots and reads their reports: per phase, each bot's authentications per 100 ms
   since the storm began, connect+auth latency, errors, closes, connection failures and
   `overloaded` refusals. A storm passes when every bot is back and nothing failed for a
   reason other than an `overloaded` refusal (error frames, unexpected closes, connections
   that failed or timed out, other refusals); the target also wants it back within 10 s.

"Back in" = from the storm (each bots process's reconnect phase start; SIGUSR1 reaches them
within a few ms of each other, the spread is reported) to the last authentication (`welcome`
received by the bot) of any bot. Connect+auth latency = from a bot opening its TCP connection
to its `welcome`, the offline wait not included. Node CPU: user+system seconds of each node
from the storm until all were back. Runs: N on a cluster of 3 nodes, and as many as one process
holds (≈ 19,000) on one node. With --perf=DIR the node (node 1 of a cluster) is recorded by
`perf record -g` during the drop storm; its top symbols are printed.

Nodes run with --storage.sync=false and the cheapest argon2id for the registrations; the
password-login figure uses a node with the default argon2id settings. Every process is stopped
before the script returns (SIGINT/SIGTERM included); every wait has a deadline; loopback only.
--quick: 6,000 sessions on 3 nodes, 4,000 on one, 16 password logins: about 1 min.
"""

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from cluster import ONE_NODE_MAX, Cluster, Node, Script, Stop, cpu_s, wait_until  # noqa: E402
from versus import stop_process  # noqa: E402

TARGET_S = 10.0
STORM_DEADLINE_S = 120
CONNECT_RATE = 2_500     # sessions per second before the storm, all bots processes together
MODES = ("drop", "close")


def storm_phases(count, window_ms, modes):
    phases = [{"name": "log in", "action": "connect", "rate": None, "timeout_s": None},
              {"name": "ready", "action": "hold", "duration_s": 1800, "until_signal": True}]
    for mode in modes:
        phases += [{"name": f"storm: {mode}", "action": "reconnect", "mode": mode,
                    "offline_ms": {"dist": "uniform", "min": 0, "max": window_ms}},
                   {"name": f"after {mode}", "action": "hold", "duration_s": STORM_DEADLINE_S + 60,
                    "until_signal": True}]
    return phases


# -- figures from the bots' reports ---------------------------------------------------------

def merged_percentiles(histograms):
    """p50/p90/p99/max (ms) of several bots histograms merged through their buckets."""
    buckets = sorted((b[1], b[2]) for h in histograms for b in h.get("buckets", []))
    total = sum(c for _, c in buckets)
    out = {"count": total, "max": max((h.get("max", 0) for h in histograms), default=0)}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        rank, cum = math.ceil(q * total), 0
        for upper, c in buckets:
            cum += c
            if cum >= rank:
                out[name] = min(upper, out["max"])
                break
        else:
            out[name] = 0
    return out


def add_counts(into, more):
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def storm_figures(reports, counts, mode):
    """One storm from every bots process's report: the reconnect phase and the hold after it."""
    per = []
    for r, count in zip(reports, counts):
        phases = r["phases"]
        i = next(k for k, p in enumerate(phases) if p["name"] == f"storm: {mode}")
        per.append((phases[i], phases[i + 1], count))
    origin = min(p[0]["start_unix_ms"] for p in per)
    bins, hists = [], []
    errors, closes, connect_errors, refused = {}, {}, {}, {}
    established, back_s, short = 0, 0.0, 0
    for storm, after, count in per:
        got = 0
        for ph in (storm, after):
            c = ph["connections"]
            got += c["established"]
            offset = round((ph["start_unix_ms"] - origin) / 100)
            for k, v in enumerate(c["per_100ms"]):
                while len(bins) <= offset + k:
                    bins.append(0)
                bins[offset + k] += v
            if c["last_auth_s"] >= 0:
                back_s = max(back_s, (ph["start_unix_ms"] - origin) / 1000 + c["last_auth_s"])
            hists.append(c["latency_ms"])
            add_counts(errors, c["errors"])
            add_counts(closes, c["closes"])
            add_counts(connect_errors, c["connect_errors"])
            add_counts(refused, c.get("refused", {}))
        established += got
        short += max(0, count - got)
    per_s = [sum(bins[k:k + 10]) for k in range(0, len(bins), 10)]
    # `overloaded` refusals: upgrades answered 503 (the bots count them apart, then retry after
    # the retry_ms) and error frames with that code.
    overloaded = refused.get("overloaded", 0) + errors.get("overloaded", 0)
    return {"mode": mode, "established": established, "bots_not_back": short,
            "back_in_s": round(back_s, 3),
            "skew_ms": max(p[0]["start_unix_ms"] for p in per) - origin,
            "per_s": per_s, "latency_ms": merged_percentiles(hists), "errors": errors,
            "closes": closes, "connect_errors": connect_errors, "refused": refused,
            "overloaded": overloaded}


# -- one run ---------------------------------------------------------------------------------

def perf_top(data, out_path):
    """The top symbols of a perf recording (self time), as text."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                        "--percent-limit", "1", "--sort", "dso,symbol"],
                       capture_output=True, text=True, timeout=300)
    lines = [l.rstrip()[:140] for l in r.stdout.splitlines() if l.strip() and not l.startswith("#")]
    with open(out_path, "w") as f:
        f.write(r.stdout)
    return lines[:30]


def watch_storm(cluster, n, opened_before, deadline_s, samples):
    """Polls the nodes until every session is back; returns the seconds it took (None: the
    deadline passed). Appends (t, authenticated, live) samples."""
    t0 = time.monotonic()
    end = t0 + deadline_s
    while time.monotonic() < end:
        ms = [x.metrics() for x in cluster.nodes]
        t = time.monotonic() - t0
        opened = sum(m.get("tidings_sessions_opened_total", 0) for m in ms)
        auth = sum(m.get("tidings_sessions_authenticated", 0) for m in ms)
        live = sum(m.get("tidings_sessions_live", 0) for m in ms)
        samples.append((round(t, 2), int(auth), int(live)))
        if opened - opened_before >= n and auth == n and live == n:
            return t
        time.sleep(0.25)
    return None


def one_run(args, label, n, per_node, one_node_max, log, say):
    node_bin = args.node or os.path.join(args.build, "tools", "tidings-node")
    bots_bin = args.bots or os.path.join(args.build, "bots", "tidings-bots")
    work = tempfile.mkdtemp(prefix=f"storm-{n}-")
    cluster = None
    perf = None
    try:
        cluster = Cluster(node_bin, bots_bin, n, work, log, one_node_max, per_node)
        nodes, bots = cluster.nodes, cluster.bots
        for node in nodes:
            node.cluster_args = node.cluster_args + args.node_arg
        cluster.start_nodes()
        prepare_s = cluster.prepare_users()
        say(f"{label}: {n} users ready in {prepare_s:.0f} s on {len(nodes)} node(s), "
            f"{len(bots)} bots processes")
        rate = max(1, CONNECT_RATE // len(bots))
        for b in bots:
            phases = storm_phases(b.count, args.window_ms, MODES)
            phases[0]["rate"], phases[0]["timeout_s"] = rate, b.count / rate + 300
            b.start(b.scenario("storm", phases), "storm")
        cluster.wait_ready()
        wait_until(f"{n} sessions authenticated", lambda: sum(cluster.authenticated()) >= n,
                   n / CONNECT_RATE + 300, 1)
        time.sleep(2)  # the logins' follow-up work (attaches, last-seen) settles
        storms = []
        for mode in MODES:
            ms = [x.metrics() for x in nodes]
            opened = sum(m.get("tidings_sessions_opened_total", 0) for m in ms)
            rss_before = [x.rss() for x in nodes]
            cpu_before = [x.cpu() for x in nodes]
            bots_cpu_before = sum(cpu_s(b.proc.pid) or 0 for b in bots)
            if args.perf and mode == "drop":
                os.makedirs(args.perf, exist_ok=True)
                data = os.path.join(args.perf, f"{label}.perf.data")
                perf = subprocess.Popen(["perf", "record", "-g", "-o", data, "-p",
                                         str(nodes[0].proc.pid)], stdout=log, stderr=log,
                                        start_new_session=True)
                time.sleep(0.5)
            say(f"{label}: storm ({mode}) of {n} sessions")
            for b in bots:
                b.signal(signal.SIGUSR1)  # ends `ready` / the previous `after`: the storm
            samples = []
            watched = watch_storm(cluster, n, opened, STORM_DEADLINE_S, samples)
            cpu_after = [x.cpu() for x in nodes]
            bots_cpu = sum(cpu_s(b.proc.pid) or 0 for b in bots) - bots_cpu_before
            rss_after = [x.rss() for x in nodes]
            if perf:
                stop_process(perf, signal.SIGINT)
                perf = None
                top = perf_top(data, os.path.join(args.perf, f"{label}.perf.txt"))
                say(f"{label}: perf top (self):\n  " + "\n  ".join(top))
            say(f"{label}: {mode}: nodes saw all back after "
                f"{watched if watched is None else round(watched, 2)} s")
            storms.append({"mode": mode, "nodes_back_s": watched, "samples": samples,
                           "node_cpu_s": [round(a - b, 2) for a, b in zip(cpu_after, cpu_before)],
                           "bots_cpu_s": round(bots_cpu, 2),
                           "node_rss_kib": [[a, b] for a, b in zip(rss_before, rss_after)]})
            time.sleep(1)  # the last welcomes reach the bots' reports
        for b in bots:
            b.signal(signal.SIGUSR1)  # ends the last hold: the bots report and leave
        for b in bots:
            b.wait(timeout=180)
        reports = [b.report() for b in bots]
        if any(r is None for r in reports):
            raise SystemExit("a bots process wrote no report (see the log)")
        for s in storms:
            s.update(storm_figures(reports, [b.count for b in bots], s["mode"]))
            # Every failure other than an explicit `overloaded` refusal counts against the run:
            # error frames, unexpected closes, connections that failed or timed out, refusals
            # with another code, bots not back.
            s["failures"] = (sum(v for k, v in s["errors"].items() if k != "overloaded")
                             + sum(v for k, v in s["closes"].items() if "unexpected" in k)
                             + sum(s["connect_errors"].values())
                             + sum(v for k, v in s["refused"].items() if k != "overloaded"))
            s["ok"] = (s["nodes_back_s"] is not None and s["bots_not_back"] == 0
                       and s["failures"] == 0)
            say(f"{label}: {s['mode']}: {json.dumps({k: v for k, v in s.items() if k != 'samples'})}")
        return {"label": label, "sessions": n, "nodes": len(nodes), "bots_processes": len(bots),
                "shares": cluster.shares, "prepare_s": round(prepare_s, 1), "storms": storms,
                "ok": all(s["ok"] for s in storms)}
    finally:
        if perf:
            stop_process(perf, signal.SIGINT)
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- password logins -------------------------------------------------------------------------

def post(url, body, timeout=60):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    for attempt in range(20):  # `overloaded` (503) is retried after its retry_ms, bounded
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as e:
            if e.code not in (429, 503):
                return e.code
            try:
                retry_ms = json.loads(e.read()).get("retry_ms", 500)
            except ValueError:
                retry_ms = 500
            time.sleep(min(retry_ms, 5000) / 1000 * (1 + 0.25 * attempt))
    return 503


def password_logins(args, count, log, say):
    """POST /v1/sessions per second on one node with its default argon2id settings."""
    node_bin = args.node or os.path.join(args.build, "tools", "tidings-node")
    work = tempfile.mkdtemp(prefix="storm-pw-")
    node = Node(node_bin, 0, os.path.join(work, "data"), [], log, extra=[])
    try:
        node.start()
        users = [f"pw{i}" for i in range(count)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda u: post(f"{node.url}/v1/accounts",
                                                 {"user": u, "password": "storm-password-1"}),
                                  users))
            if any(c != 201 for c in codes):
                raise SystemExit(f"registrations failed: {codes}")
            cpu0, t0 = node.cpu(), time.monotonic()
            codes = list(pool.map(lambda u: post(f"{node.url}/v1/sessions",
                                                 {"user": u, "password": "storm-password-1"}),
                                  users))
            elapsed, cpu = time.monotonic() - t0, node.cpu() - cpu0
        ok = sum(1 for c in codes if c == 200)
        say(f"password logins: {ok}/{count} in {elapsed:.2f} s ({ok / elapsed:.1f}/s), node CPU {cpu:.1f} s")
        return {"logins": count, "ok": ok, "seconds": round(elapsed, 2),
                "per_s": round(ok / elapsed, 1), "node_cpu_s": round(cpu, 2),
                "ms_cpu_per_login": round(1000 * cpu / max(1, ok), 1)}
    finally:
        node.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------

def fmt_counts(d):
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(d.items())) or "none"


def markdown(res):
    out = [Script.header(res) + f" Nodes, bots and script on the same 2 cores. Each "
           f"storm: every bot loses its connection at once and comes back after a uniform "
           f"0–{res['window_ms']} ms delay. **Target: {res['target_sessions']:,} token logins "
           f"within {TARGET_S:.0f} s.**", "",
           "| run | storm | back in (s) | nodes saw all back (s) | auth/s, mean over back-in "
           "| connect+auth p50 / p90 / p99 / max (ms) | CPU s: nodes; bots "
           "| node RSS MiB before → after | failures other than `overloaded` "
           "| `overloaded` refusals (retried) | every bot back | no failure | ≤ 10 s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in res["runs"]:
        if "storms" not in run:
            out.append(f"| {run['label']} | – | – | – | – | – | – | – | FAIL: {run.get('error')} "
                       f"| – | no | no | no |")
            continue
        for s in run["storms"]:
            lat = s["latency_ms"]
            rss = ", ".join(f"{a / 1024:,.0f} → {b / 1024:,.0f}" for a, b in s["node_rss_kib"])
            fails = []
            other_errors = {k: v for k, v in s["errors"].items() if k != "overloaded"}
            if other_errors:
                fails.append("errors " + fmt_counts(other_errors))
            bad_closes = {k: v for k, v in s["closes"].items() if "unexpected" in k}
            if bad_closes:
                fails.append("closes " + fmt_counts(bad_closes))
            if s["connect_errors"]:
                fails.append("connect failures " + fmt_counts(s["connect_errors"]))
            other_refusals = {k: v for k, v in s["refused"].items() if k != "overloaded"}
            if other_refusals:
                fails.append("refused " + fmt_counts(other_refusals))
            back = ("yes" if not s["bots_not_back"]
                    else f"**no**: {s['bots_not_back']:,} not back")
            out.append(
                f"| {run['label']}: {run['sessions']:,} on {run['nodes']} node(s), "
                f"{run['bots_processes']} bots processes | {s['mode']} "
                f"| **{s['back_in_s']:.2f}** | {s['nodes_back_s'] if s['nodes_back_s'] is None else round(s['nodes_back_s'], 1)} "
                f"| {s['established'] / max(s['back_in_s'], 0.001):,.0f} "
                f"| {lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} "
                f"| {', '.join(f'{c:.1f}' for c in s['node_cpu_s'])}; {s['bots_cpu_s']:.1f} | {rss} "
                f"| {'; '.join(fails) or 'none'} | {s['overloaded']:,} | {back} "
                f"| {'yes' if s['ok'] else '**no**'} "
                f"| {'yes' if s['ok'] and s['back_in_s'] <= TARGET_S else '**no**'} |")
    out += ["", "Authentications per second after the storm (all bots processes together; "
            "second 1 = the first second after the drop):", "",
            "| run | storm | " + " | ".join(f"{k + 1}" for k in range(res["max_seconds"])) + " |",
            "|---|---|" + "---|" * res["max_seconds"]]
    for run in res["runs"]:
        for s in run.get("storms", []):
            cells = [f"{v:,}" for v in s["per_s"]] + [""] * (res["max_seconds"] - len(s["per_s"]))
            out.append(f"| {run['label']} | {s['mode']} | " + " | ".join(cells[:res['max_seconds']]) + " |")
    pw = res.get("password")
    if pw:
        out += ["", f"Password logins (`POST /v1/sessions`, one argon2id hash each, the node's "
                f"default `--auth.argon2-ops=2 --auth.argon2-mem-kib=19456`, 8 clients at once, "
                f"one node): {pw['ok']}/{pw['logins']} in {pw['seconds']} s = **{pw['per_s']}/s**, "
                f"{pw['ms_cpu_per_login']} ms of node CPU each. Not part of a reconnect storm: "
                f"clients keep their token and log in with a password only on a new device."]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--node", help="tidings-node binary (default BUILD/tools/tidings-node)")
    ap.add_argument("--bots", help="tidings-bots binary (default BUILD/bots/tidings-bots)")
    ap.add_argument("--quick", action="store_true", help="6,000 sessions on 3 nodes, 4,000 on one")
    ap.add_argument("--sessions", type=int, help="sessions of the cluster run (default 50,000; 0: none)")
    ap.add_argument("--one-node", type=int, help="sessions of the one-node run (default 19,000; 0: none)")
    ap.add_argument("--window-ms", type=int, default=2000, help="bots come back within this")
    ap.add_argument("--password-logins", type=int, help="default 200 (--quick: 16; 0: none)")
    ap.add_argument("--perf", help="record the node during the drop storm into this folder")
    ap.add_argument("--doc", help="replace the storm section of this Markdown file")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--log", help="the nodes' and bots' output (default: a temporary file)")
    ap.add_argument("--node-arg", action="append", default=[],
                    help="one more option for every node (e.g. --node-arg=--net.max-pending-auth=256)")
    args = ap.parse_args()
    n = args.sessions if args.sessions is not None else (6_000 if args.quick else 50_000)
    one = args.one_node if args.one_node is not None else (4_000 if args.quick else ONE_NODE_MAX)
    pw_count = args.password_logins if args.password_logins is not None else (16 if args.quick else 200)

    script = Script("storm", args.log)
    log, say = script.log, script.say
    res = dict(script.identity("storm.py"), window_ms=args.window_ms, target_sessions=50_000,
               runs=[])
    plan = [("cluster", n, math.ceil(n / 3), 0)] if n else []  # 3 nodes
    if one:
        plan.append(("one node", one, one, one))
    try:
        for label, count, per_node, one_max in plan:
            try:
                run = one_run(args, label, count, per_node, one_max, log, say)
            except SystemExit as e:
                run = {"label": label, "sessions": count, "error": str(e), "ok": False}
                say(f"{label}: FAIL {e}")
            res["runs"].append(run)
        if pw_count:
            try:
                res["password"] = password_logins(args, pw_count, log, say)
            except SystemExit as e:
                say(f"password logins: FAIL {e}")
    except Stop as e:
        say(f"stopped by {e}")
        raise SystemExit(130)
    script.ended(res)
    res["max_seconds"] = min(20, max([len(s["per_s"]) for r in res["runs"]
                                      for s in r.get("storms", [])] or [1]))
    script.publish(res, markdown(res), all(r.get("ok") for r in res["runs"]), args.json,
                   args.doc, "storm")


if __name__ == "__main__":
    main()
