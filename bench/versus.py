#!/usr/bin/env python3
"""Tidings and ejabberd side by side, in the same run: `make bench` (QUICK=1: shorter).

The same bots (tidings-bots; `--protocol=xmpp` for ejabberd), the same scenarios and the same
histograms against both servers, one after the other on this machine:

- idle sessions: N bots log in and stay idle; the server's resident memory with them minus
  its memory just before they connected, divided by N (memory per idle session);
- steady one-to-one chat at a few offered rates (bench/steady.py's scenario: ≈ 100-byte
  bodies, every message acknowledged by its recipient, half of them read): delivered/s,
  p50/p99 send→receive, server CPU per message;
- offline drain (bench/scenarios/offline-drain.json): recipients come online to full inboxes;
  the drain phase's received/s.

Then the ratios (Tidings over ejabberd): throughput at equal p99 (the best delivered/s of the
rows whose p99 send→receive stays under 100 ms, nothing lost), p99 over p99 at equal offered
load, memory per idle session. Prints Markdown; with --doc=docs/BENCHMARKS.md it replaces the
section between `<!-- versus:begin -->` and `<!-- versus:end -->`; with --plots=DIR it draws
with gnuplot, per run, the latency distribution (send→receive, both servers) and the
throughput over time (received/s), as PNG.

ejabberd is the Debian package, configured by bench/ejabberd/ejabberd.yml and started by
bench/ejabberd/start-ejabberd (a private instance on a free loopback port, files in a
temporary folder). Tidings runs with --storage.sync=false unless --tidings-sync=true:
ejabberd's offline store (Mnesia disc_only tables) does not fsync either.

    bench/versus.py --build=build [--quick] [--doc=docs/BENCHMARKS.md] [--plots=docs/bench]
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steady  # noqa: E402  (the scenario and the node start are shared)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
P99_BOUND_MS = 100.0


# -- servers -----------------------------------------------------------------------------

def stop_process(proc, signo=signal.SIGTERM, timeout=60):
    """Sends `signo` to a running `proc` and waits for it; kills it after `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signo)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """A running server: its name, pid, the URL the bots use and their extra options."""

    def __init__(self, name, proc, port, bots_args, workdir=None):
        self.name, self.proc, self.port = name, proc, port
        self.bots_args, self.workdir = bots_args, workdir

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        stop_process(self.proc)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_tidings(build, sync):
    work = tempfile.mkdtemp(prefix="versus-tidings-")
    conf = os.path.join(work, "node.ini")
    with open(conf, "w") as f:
        f.write(f"[storage]\nsync={sync}\n")
    node, port = steady.start_node(os.path.join(build, "tools", "tidings-node"),
                                   os.path.join(work, "data"), [f"--config-file={conf}"])
    return Server("tidings", node, port, [], work)


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_ejabberd(deadline_s=180):
    work = tempfile.mkdtemp(prefix="versus-ejabberd-")
    port = steady.free_port()
    out = open(os.path.join(work, "output.txt"), "w")
    proc = subprocess.Popen([os.path.join(HERE, "ejabberd", "start-ejabberd"), str(port), work],
                            stdout=out, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while not accepts(port):
        if proc.poll() is not None or time.monotonic() - t0 > deadline_s:
            proc.kill()
            with open(os.path.join(work, "output.txt")) as f:
                raise SystemExit(f"ejabberd did not start: {f.read()}")
        time.sleep(0.2)
    server = Server("ejabberd", proc, port, ["--protocol=xmpp", "--xmpp-domain=localhost"], work)
    server.start_s = round(time.monotonic() - t0, 1)
    return server


def established(port):
    """Established TCP connections whose local port is `port` (the server's side)."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


# -- one bots run ------------------------------------------------------------------------

def run_bots(build, server, scen, work, name, watch=None):
    """Runs tidings-bots against `server` with scenario `scen`; returns (report, figures)."""
    scen_path = os.path.join(work, f"{name}.json")
    report_path = os.path.join(work, f"{name}-report.json")
    with open(scen_path, "w") as f:
        json.dump(scen, f)
    cpu0 = steady.proc_cpu(server.pid)[0]
    t0 = time.monotonic()
    bots = subprocess.Popen([os.path.join(build, "bots", "tidings-bots"),
                             f"--url=http://127.0.0.1:{server.port}", f"--scenario={scen_path}",
                             f"--json={report_path}", "--no-progress"] + server.bots_args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watched = watch(bots) if watch else None
    _, status, usage = os.wait4(bots.pid, 0)
    elapsed = time.monotonic() - t0
    cpu1 = steady.proc_cpu(server.pid)[0]
    err = bots.stderr.read()
    try:
        with open(report_path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        sys.stderr.write(f"{server.name} {name}: no report\n{err}\n")
        report = None
    return report, {"server_cpu_s": cpu1 - cpu0, "bots_cpu_s": usage.ru_utime + usage.ru_stime,
                    "elapsed_s": elapsed, "exit": os.waitstatus_to_exitcode(status),
                    "watched": watched}


def phase(report, name):
    return next((p for p in report["phases"] if p["name"] == name), None)


# -- the three measurements --------------------------------------------------------------

def idle_memory(build, server, sessions, work, hold_s):
    """RSS per idle authenticated session, in KiB."""
    scen = {
        "name": f"idle-{sessions}", "seed": 5, "user_prefix": "idle",
        "prepare_parallel": 16, "drain_timeout_s": 60,
        "groups": [{"name": "idle", "bots": sessions, "contacts": 0,
                    "behaviour": {"think_ms": None}}],
        "phases": [{"name": "log in", "action": "connect",
                    "rate": min(2000, sessions), "timeout_s": 120},
                   {"name": "idle", "action": "hold", "duration_s": hold_s}],
    }
    samples = {}

    def watch(bots):
        def loop():
            before = server.rss_kib()
            while bots.poll() is None:
                n = established(server.port)
                if n <= 32:  # registrations and logins use a few short connections at a time
                    before = server.rss_kib()
                elif n >= sessions:
                    time.sleep(2)  # let the last logins settle
                    rss = []
                    for _ in range(5):
                        if established(server.port) >= sessions:
                            rss.append(server.rss_kib())
                        time.sleep(0.4)
                    if rss:
                        samples.update(before=before, during=statistics.median(rss))
                    return
                time.sleep(0.2)
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        return t

    report, fig = run_bots(build, server, scen, work, f"idle-{server.name}", watch)
    fig["watched"].join(timeout=30)
    if "during" not in samples:
        return {"server": server.name, "sessions": sessions, "ok": False}
    per = (samples["during"] - samples["before"]) / sessions
    return {"server": server.name, "sessions": sessions, "rss_before_kib": samples["before"],
            "rss_with_kib": samples["during"], "kib_per_session": round(per, 2),
            "connect_p99_ms": report["latency_ms"]["connect"]["p99"] if report else None,
            "ok": bool(report and report["connections"]["max_live"] >= sessions)}


def steady_row(build, server, rate, bots, hold_s, work, drain_timeout_s):
    scen = steady.scenario(bots, rate, hold_s, 100)
    scen["user_prefix"] = f"st{int(rate)}"
    scen["drain_timeout_s"] = drain_timeout_s
    name = f"steady-{int(rate)}-{server.name}"
    report, fig = run_bots(build, server, scen, work, name)
    if report is None:
        return {"server": server.name, "offered_per_s": rate, "ok": False}
    st = phase(report, "steady")
    lat = report["latency_ms"]
    delivered = report["messages"]["received"]
    return {"server": server.name, "offered_per_s": rate, "run": name,
            "delivered_per_s": round(st["received_per_s"], 1),
            "sent": report["messages"]["sent"], "lost": report["messages"]["lost"],
            "failed": report["messages"]["failed"],
            "receipts_missing": report["receipts"]["missing"],
            "p50_recv_ms": lat["send_to_receive"]["p50"],
            "p99_recv_ms": lat["send_to_receive"]["p99"],
            "p99_sent_ms": lat["send_to_sent"]["p99"],
            "p99_delivered_ms": lat["send_to_delivered"]["p99"],
            "server_us_per_msg": round(1e6 * fig["server_cpu_s"] / max(1, delivered)),
            "bots_us_per_msg": round(1e6 * fig["bots_cpu_s"] / max(1, delivered)),
            "ok": report["ok"], "report": report}


def drain_row(build, server, time_scale, work):
    with open(os.path.join(HERE, "scenarios", "offline-drain.json")) as f:
        scen = json.load(f)
    for p in scen["phases"]:
        if p["action"] == "hold":
            p["duration_s"] *= time_scale
    name = f"drain-{server.name}"
    report, fig = run_bots(build, server, scen, work, name)
    if report is None:
        return {"server": server.name, "ok": False}
    d = phase(report, "drain inboxes")
    return {"server": server.name, "run": name, "queued": report["messages"]["sent"],
            "drain_s": round(d["duration_s"], 2), "drain_per_s": round(d["received_per_s"]),
            "lost": report["messages"]["lost"],
            "receipts_missing": report["receipts"]["missing"],
            "p99_recv_ms": report["latency_ms"]["send_to_receive"]["p99"],
            "server_cpu_s": round(fig["server_cpu_s"], 1), "ok": report["ok"],
            "report": report}


# -- plots -------------------------------------------------------------------------------

def plot(rows, out_dir, title, stem):
    """Latency distribution (CDF of send→receive) and received/s over time, both servers."""
    if not shutil.which("gnuplot"):
        sys.stderr.write("gnuplot not found (apt-get install gnuplot-nox): no plots\n")
        return []
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="versus-plot-")
    cdf_plots, rate_plots = [], []
    for r in rows:
        rep = r.get("report")
        if not rep:
            continue
        h = rep["latency_ms"]["send_to_receive"]
        total = max(1, h["count"])
        cdf = os.path.join(work, f"{r['server']}-cdf.dat")
        with open(cdf, "w") as f:
            acc = 0
            for lo, hi, n in h["buckets"]:
                acc += n
                f.write(f"{max(hi, 0.001)} {100.0 * acc / total}\n")
        tl = os.path.join(work, f"{r['server']}-rate.dat")
        with open(tl, "w") as f:
            prev_t, prev_n = 0.0, 0
            for s in rep["timeline"]:
                dt = s["t_s"] - prev_t
                if dt > 0:
                    f.write(f"{s['t_s']} {(s['received'] - prev_n) / dt}\n")
                prev_t, prev_n = s["t_s"], s["received"]
        cdf_plots.append(f"'{cdf}' using 1:2 with steps lw 2 title '{r['server']}'")
        rate_plots.append(f"'{tl}' using 1:2 with lines lw 2 title '{r['server']}'")
    lat_png = os.path.join(out_dir, f"{stem}-latency.png")
    rate_png = os.path.join(out_dir, f"{stem}-throughput.png")
    script = f"""
set terminal pngcairo size 800,450 font ',10'
set grid
set key bottom right
set output '{lat_png}'
set title '{title}: send → received, distribution'
set logscale x
set xlabel 'latency (ms)'
set ylabel 'messages received within (%)'
set yrange [0:100]
plot {', '.join(cdf_plots)}
unset logscale x
set output '{rate_png}'
set title '{title}: messages received per second'
set key top right
set xlabel 'seconds since the bots started the scenario'
set ylabel 'received/s'
set autoscale y
set yrange [0:*]
plot {', '.join(rate_plots)}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    shutil.rmtree(work, ignore_errors=True)
    return [lat_png, rate_png]


# -- report ------------------------------------------------------------------------------

def fmt(v, spec="{:,.0f}"):
    return spec.format(v) if isinstance(v, (int, float)) else "–"


def ratio(a, b, spec="{:.2f}"):
    return spec.format(a / b) + "×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // (1024 * 1024)
    return f"{os.cpu_count()} cores ({model}), {mem} GiB"


def replace_section(path, name, text):
    """Replaces what stands between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in the
    Markdown file `path` with `text` (appends the markers and the text if they are missing)."""
    with open(path) as f:
        doc = f.read()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin) + len(begin)] + "\n" + text + "\n" + doc[doc.index(end):]
    else:
        doc += f"\n{begin}\n{text}\n{end}\n"
    with open(path, "w") as f:
        f.write(doc)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def markdown(res):
    out = []
    a = out.append
    a(f"Run {res['started']} UTC, commit `{res['commit']}`, {res['machine']}; load average "
      f"{res['load_before']} before, {res['load_after']} after (1, 5, 15 min). Command: "
      f"`{res['command']}` ({res['elapsed_min']:.1f} min). ejabberd {res['ejabberd']} started in "
      f"{res['ejabberd_start_s']} s. Tidings: `--storage.sync={res['tidings_sync']}`.")
    a("")
    a("| idle sessions | server | RSS before | RSS with them | per session | connect p99 |")
    a("|---|---|---|---|---|---|")
    for m in res["memory"]:
        a(f"| {fmt(m['sessions'])} | {m['server']} | {fmt(m.get('rss_before_kib', 0) / 1024, '{:,.1f}')} MiB "
          f"| {fmt(m.get('rss_with_kib', 0) / 1024, '{:,.1f}')} MiB | {fmt(m.get('kib_per_session'), '{:,.1f}')} KiB "
          f"| {fmt(m.get('connect_p99_ms'), '{:,.1f}')} ms |")
    a("")
    a("| steady, offered/s | server | delivered/s | p50 send→received ms | p99 ms | p99 send→sent ms "
      "| p99 send→delivered receipt ms | lost | server µs/msg | bots µs/msg | result |")
    a("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["steady"]:
        a(f"| {fmt(r['offered_per_s'])} | {r['server']} | {fmt(r.get('delivered_per_s'))} "
          f"| {fmt(r.get('p50_recv_ms'), '{:,.1f}')} | {fmt(r.get('p99_recv_ms'), '{:,.1f}')} "
          f"| {fmt(r.get('p99_sent_ms'), '{:,.1f}')} | {fmt(r.get('p99_delivered_ms'), '{:,.1f}')} "
          f"| {fmt(r.get('lost'))} | {fmt(r.get('server_us_per_msg'))} | {fmt(r.get('bots_us_per_msg'))} "
          f"| {'pass' if r.get('ok') else 'FAIL'} |")
    a("")
    a("| offline drain | server | messages queued | drain | drained/s | p99 send→received ms | lost | result |")
    a("|---|---|---|---|---|---|---|---|")
    for r in res["drain"]:
        a(f"| | {r['server']} | {fmt(r.get('queued'))} | {fmt(r.get('drain_s'), '{:,.2f}')} s "
          f"| {fmt(r.get('drain_per_s'))} | {fmt(r.get('p99_recv_ms'), '{:,.1f}')} | {fmt(r.get('lost'))} "
          f"| {'pass' if r.get('ok') else 'FAIL'} |")
    a("")
    rt = res["ratios"]
    a("| ratio, Tidings over ejabberd | value |")
    a("|---|---|")
    a(f"| throughput at equal p99 (best delivered/s with p99 send→received ≤ {P99_BOUND_MS:.0f} ms, nothing lost) "
      f"| {rt['throughput_at_p99']} ({fmt(rt['best_tidings'])}/s over {fmt(rt['best_ejabberd'])}/s) |")
    for rate, v in rt["p99_at_load"]:
        a(f"| p99 send→received at {fmt(rate)}/s offered | {v} |")
    a(f"| offline drain rate | {rt['drain']} |")
    for n, v in rt["memory"]:
        a(f"| memory per idle session ({fmt(n)} sessions) | {v} |")
    if res.get("plots"):
        a("")
        for p in res["plots"]:
            rel = os.path.relpath(p, os.path.join(ROOT, "docs"))
            a(f"![{os.path.basename(p)}]({rel})")
    return "\n".join(out)


def best_rate(rows, server):
    ok = [r["delivered_per_s"] for r in rows if r["server"] == server and r.get("ok")
          and r.get("lost") == 0 and r.get("p99_recv_ms", 1e9) <= P99_BOUND_MS]
    return max(ok) if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tidings-sync", default="false")
    ap.add_argument("--rates", help="comma-separated offered rates for the steady rows")
    ap.add_argument("--sessions", help="comma-separated idle session counts")
    ap.add_argument("--bots", type=int, help="bots of the steady rows")
    ap.add_argument("--doc", help="replace the versus section of this Markdown file")
    ap.add_argument("--plots", help="write PNG plots into this folder")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    quick = args.quick
    rates = [float(x) for x in args.rates.split(",")] if args.rates else \
        ([300, 1000, 2000] if quick else [300, 1000, 2000, 4000, 6000, 8000])
    sessions = [int(x) for x in args.sessions.split(",")] if args.sessions else \
        ([2000] if quick else [1000, 5000, 10000])
    bots = args.bots or (500 if quick else 1000)
    hold = 10 if quick else 30
    drain_scale = 0.5 if quick else 1.0

    # Thousands of sessions: as many descriptors in the bots and in the servers (inherited).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t_start = time.monotonic()
    res = {"started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip(),
           "machine": machine(), "load_before": loadavg(),
           "command": "make bench" + (" QUICK=1" if quick else "") + "  # = bench/versus.py"
                      + (" --quick" if quick else ""),
           "tidings_sync": args.tidings_sync, "memory": [], "steady": [], "drain": [],
           "plots": []}
    try:
        res["ejabberd"] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ejabberd"],
                                         capture_output=True, text=True).stdout.strip()
    except OSError:
        res["ejabberd"] = "?"
    work = tempfile.mkdtemp(prefix="versus-")

    def log(msg):
        sys.stderr.write(f"[{time.monotonic() - t_start:6.0f}s] {msg}\n")

    try:
        # Idle memory: a fresh server per count, so earlier runs' garbage does not blur it.
        for n in sessions:
            for start in (lambda: start_tidings(args.build, args.tidings_sync), start_ejabberd):
                server = start()
                res.setdefault("ejabberd_start_s", getattr(server, "start_s", None)) \
                    if server.name == "ejabberd" else None
                try:
                    m = idle_memory(args.build, server, n, work, 8 if quick else 15)
                finally:
                    server.stop()
                log(f"idle {n} {server.name}: {m.get('kib_per_session')} KiB/session")
                res["memory"].append(m)
        # Steady rows and the drain: one server each, rows interleaved Tidings, ejabberd.
        for rate in rates:
            pair = []
            for start in (lambda: start_tidings(args.build, args.tidings_sync), start_ejabberd):
                server = start()
                try:
                    r = steady_row(args.build, server, rate, bots, hold, work,
                                   60 if quick else 120)
                finally:
                    server.stop()
                log(f"steady {rate:.0f}/s {server.name}: {r.get('delivered_per_s')}/s, "
                    f"p99 {r.get('p99_recv_ms')} ms")
                pair.append(r)
            res["steady"] += pair
            if args.plots:
                res["plots"] += plot(pair, args.plots, f"steady {rate:.0f}/s offered",
                                     f"versus-steady-{int(rate)}")
        pair = []
        for start in (lambda: start_tidings(args.build, args.tidings_sync), start_ejabberd):
            server = start()
            try:
                r = drain_row(args.build, server, drain_scale, work)
            finally:
                server.stop()
            log(f"drain {server.name}: {r.get('drain_per_s')}/s")
            pair.append(r)
        res["drain"] = pair
        if args.plots:
            res["plots"] += plot(pair, args.plots, "offline drain", "versus-drain")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    by = {(r["server"], r["offered_per_s"]): r for r in res["steady"]}
    best_t, best_e = best_rate(res["steady"], "tidings"), best_rate(res["steady"], "ejabberd")
    mem = {(m["server"], m["sessions"]): m.get("kib_per_session") for m in res["memory"]}
    dr = {r["server"]: r.get("drain_per_s") for r in res["drain"]}
    res["ratios"] = {
        "best_tidings": best_t, "best_ejabberd": best_e,
        "throughput_at_p99": ratio(best_t, best_e),
        "p99_at_load": [(rate, ratio(by.get(("tidings", rate), {}).get("p99_recv_ms"),
                                     by.get(("ejabberd", rate), {}).get("p99_recv_ms"), "{:.3f}"))
                        for rate in rates],
        "drain": ratio(dr.get("tidings"), dr.get("ejabberd")),
        "memory": [(n, ratio(mem.get(("tidings", n)), mem.get(("ejabberd", n)), "{:.3f}"))
                   for n in sessions],
    }
    res["load_after"] = loadavg()
    res["elapsed_min"] = (time.monotonic() - t_start) / 60
    text = markdown(res)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v for k, v in res.items()}, f, indent=1,
                      default=lambda o: None)
    if args.doc:
        replace_section(args.doc, "versus", text)


if __name__ == "__main__":
    main()
