#!/usr/bin/env python3
"""Show that a slow or dead webhook receiver never slows the pixel, and that no open is lost.

Usage:
    .venv/bin/python scripts/bench_webhooks.py [--seconds 10] [--warmup 2] [--delay 5]
        [--workers 4] [--concurrency 200] [--messages 1000] [--procs 2] [--networks 64]

Starts both lines of the Procfile on a temp instance: gunicorn (`web:`, a free port) and
`opentrack worker` (`worker:`), with OPENTRACK_WEBHOOK_ALLOW_PRIVATE=true so that receivers on
127.0.0.1 may be registered. Then bench_pixel.py's load processes fetch the recording pixel
(after a --warmup run) for --seconds in each of three conditions, each on a campaign of its
own with --messages messages:

    none   no webhook registered;
    slow   a webhook for `open` and `machine_open` to tests/webhook_receiver.py (threaded, on
           127.0.0.1), answering each request after --delay seconds;
    dead   the slow webhook deleted, and one to a 127.0.0.1 port that refuses connections
           (a socket bound there but never listening).

After each run it waits for the writers and reads the outbox: rows, delivered, pending, and
retrying (pending after a failed attempt). At the end it stops the worker, stops gunicorn with
SIGTERM, runs `opentrack flush` and checks, per campaign, that every 200 was stored and that
each stored open has exactly one outbox row (of the two types subscribed, an open raises one).
Exits 1 when an event is lost, an outbox row is missing or extra, or a request failed.
"""

import argparse
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))
import bench_pixel  # noqa: E402
import benchlib  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

EVENTS = ["open", "machine_open"]


def start_worker(server: benchlib.Server) -> subprocess.Popen:
    """Start the Procfile's worker line on the server's instance, logging to its temp folder."""
    with open(os.path.join(server.tmp, "worker.log"), "wb") as log:
        return subprocess.Popen(
            benchlib.procfile_line("worker", server.port),
            cwd=benchlib.ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop it with SIGTERM
        )


def stop(proc: subprocess.Popen | None) -> int | None:
    """Stop a process with SIGTERM, killing its group after 30 s; return its exit code."""
    if proc is None or proc.poll() is not None:
        return proc and proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except BaseException as error:  # too slow, or Ctrl-C while waiting
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            return None
        raise


def outbox(server: benchlib.Server, webhook_id: str) -> dict:
    """Return one endpoint's outbox rows: all of them, delivered, pending and retrying."""
    path = Path(server.env["OPENTRACK_INSTANCE_PATH"], "opentrack.db")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        row = db.execute(
            "SELECT count(*), total(status = 'delivered'), total(status = 'pending'), "
            "total(status = 'pending' AND attempts > 0) FROM webhook_deliveries "
            "WHERE webhook_id = ?",
            [webhook_id],
        ).fetchone()
    return dict(zip(["rows", "delivered", "pending", "retrying"], map(int, row), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--warmup", type=float, default=2.0, help="pixel run before measuring")
    parser.add_argument("--delay", type=float, default=5.0, help="slow receiver's answer time")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=1000, help="messages per campaign")
    parser.add_argument("--procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--networks", type=int, default=64, help="client /24s (127.0.N.1)")
    args = parser.parse_args()
    args.keep_alive = False  # gunicorn's sync workers close every connection anyway
    if not (0 < args.seconds <= 3600 and 0 <= args.warmup <= 600 and 0 <= args.delay <= 60):
        parser.error("--seconds must be in (0, 3600], --warmup in [0, 600], --delay in [0, 60]")
    if min(args.workers, args.concurrency, args.procs, args.messages, args.networks) < 1:
        parser.error("--workers, --concurrency, --messages, --procs, --networks must be > 0")
    if args.procs > 64 or args.networks > 250:
        parser.error("--procs must be <= 64 and --networks <= 250")
    benchlib.raise_on_sigterm()
    names = {
        "warm-up": "warm-up, no webhook (cold workers)",
        "none": "(a) no webhook",
        "slow": f"(b) slow receiver ({args.delay:g} s an answer)",
        "dead": "(c) dead receiver (connection refused)",
    }
    runs = [("warm-up", args.warmup)] if args.warmup else []
    runs += [("none", args.seconds), ("slow", args.seconds), ("dead", args.seconds)]
    phases, hooks, worker, receiver = {}, {}, None, None
    env = {"OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true"}
    with benchlib.Server(args.workers, env) as server, socket.socket() as dead:
        try:
            dead.bind((benchlib.HOST, 0))  # bound, never listening: every connect is refused
            receiver = Receiver(delay=args.delay)
            urls = {
                "slow": receiver.url,
                "dead": f"http://{benchlib.HOST}:{dead.getsockname()[1]}/",
            }
            worker = start_worker(server)
            print("web:   ", " ".join(benchlib.procfile_command(server.port, args.workers)))
            print("worker:", " ".join(benchlib.procfile_line("worker", server.port)))
            paths = {name: bench_pixel.inject(server, name, args.messages) for name, _ in runs}
            print(
                f"{args.messages} messages a campaign; {args.concurrency} connections from "
                f"{args.procs} load processes in {args.networks} /24 networks"
            )
            with multiprocessing.get_context("spawn").Pool(args.procs) as pool:
                for name, seconds in runs:
                    if name == "dead":  # its pending deliveries are cancelled
                        status, _ = server.request("DELETE", f"/api/v1/webhooks/{hooks['slow']}")
                        if status != 204:
                            raise SystemExit(f"deleting the slow webhook answered {status}")
                    if name in urls:
                        body = {"url": urls[name], "events": EVENTS, "description": name}
                        hooks[name] = server.api("POST", "/webhooks", body, expect=201)["id"]
                    if worker.poll() is not None:
                        raise SystemExit(f"opentrack worker exited with {worker.returncode}")
                    phase = bench_pixel.run_phase(pool, server, paths[name], seconds, args)
                    phase["answered"] = phase["statuses"].get(200, 0)
                    phase["live"] = bench_pixel.wait_for_writers(server, name, phase["answered"])
                    phase["server_cpu"] = server.cpu_seconds() - phase["cpu_before"]
                    if name in hooks:  # the outbox as the run left it
                        phase["outbox"] = outbox(server, hooks[name])
                    phases[name] = phase
            print(f"slow receiver got {len(receiver.all_ids())} requests in all")
            worker_exit = stop(worker)
        finally:
            stop(worker)
            if receiver is not None:
                receiver.close()
        exit_code = server.stop()
        flushed = server.cli("flush").stderr.strip()
        for name, phase in phases.items():
            stats = json.loads(server.cli("stats", name, "--json").stdout)
            phase["stored"] = stats["total_opens"]
            phase["rows"] = outbox(server, hooks[name])["rows"] if name in hooks else 0

    print(f"worker exit code: {worker_exit}; gunicorn exit code after SIGTERM: {exit_code}")
    print(f"opentrack flush: {flushed} (all campaigns)")
    for name, phase in phases.items():
        print(
            f"{name}: statuses {phase['statuses']}, connection errors {phase['errors']}, "
            f"stored before SIGTERM {phase['live']} of {phase['stored']}"
        )
    print(
        f"\n{args.workers} sync workers and one delivery worker, {args.concurrency} concurrent "
        f"connections, {args.seconds:g} s a run, {os.cpu_count()} CPUs shared with the load\n"
    )
    headers = ["run", "requests", "req/s", "p50 ms", "p99 ms", "server CPU ms/req"]
    headers += ["client CPU ms/req", "failed"]
    rows = [bench_pixel.table_row(names[name], phase) for name, phase in phases.items()]
    benchlib.print_table(headers, rows)

    print()
    headers = ["run", "200s", "stored", "lost", "outbox rows", "delivered", "pending", "retrying"]
    rows, lost, mismatched = [], 0, 0
    for name, phase in phases.items():
        box = phase.get("outbox", {"delivered": 0, "pending": 0, "retrying": 0})
        missing = max(0, phase["answered"] - phase["stored"])
        lost += missing
        # No webhook: no row; otherwise one row per stored open (open or machine_open).
        mismatched += phase["rows"] != (phase["stored"] if name in hooks else 0)
        row = [names[name], phase["answered"], phase["stored"], missing, phase["rows"]]
        rows.append(row + [box["delivered"], box["pending"], box["retrying"]])
    benchlib.print_table(headers, rows)

    none, slow, dead = phases["none"], phases["slow"], phases["dead"]
    p99 = {name: benchlib.percentile(phases[name]["latencies"], 0.99) for name in urls}
    p99_none = max(benchlib.percentile(none["latencies"], 0.99), 1e-9)
    failed = sum(phase["failed"] for phase in phases.values())
    print(
        f"\nreq/s slow/none: {slow['rps'] / none['rps']:.2f}, dead/none: "
        f"{dead['rps'] / none['rps']:.2f}; p99 slow/none: {p99['slow'] / p99_none:.2f}, "
        f"dead/none: {p99['dead'] / p99_none:.2f}"
    )
    print(
        f"lost events: {lost}; campaigns whose outbox rows differ from their stored opens: "
        f"{mismatched}; failed requests: {failed}"
    )
    return 1 if lost or mismatched or failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
