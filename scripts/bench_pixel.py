#!/usr/bin/env python3
"""Load-test the recording pixel against bare GIF endpoints, and check that no open is lost.

Usage:
    .venv/bin/python scripts/bench_pixel.py [--seconds 10] [--warmup 2] [--workers 4]
        [--concurrency 200] [--messages 1000] [--procs 2] [--networks 64] [--keep-alive]
        [--database postgresql://...]

Starts Opentrack under gunicorn with the Procfile's command line (a free port, a temp instance
folder) and injects --messages messages. Then --procs separate load processes (a selector loop
on non-blocking sockets each, --concurrency connections in all, from --networks loopback /24s)
fetch random pixel URLs with real mail clients' user agents: a --warmup run while the workers
are cold, the measured run of --seconds, and then for as long each of the two bare endpoints
that only return the GIF: /bare.gif, a plain Flask route (the baseline of the target: the
recording pixel at >= 0.7 of its throughput), and /ping.gif, answered by the same WSGI fast
path as the pixel before Flask (the stricter baseline, shown too). Gunicorn's sync
workers close the connection after every response whatever the client asks, so by default each
request opens a new connection and says `Connection: close`; --keep-alive asks to reuse them.

Requests in flight at the deadline are finished and counted. After the pixel runs it waits for
the writers, stops gunicorn with SIGTERM, runs `opentrack flush` and compares the campaign's
stored opens with the 200s answered for valid tokens. Exits 1 when an event is lost, a request
failed or anything but 200 came back.
"""

import argparse
import json
import multiprocessing
import os
import random
import resource
import secrets
import selectors
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0",  # Apple Mail Privacy Protection
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
]
# Requests still unanswered this long after the end of a run count as failures.
GRACE_SECONDS = 60


class Connection:
    """One client: sends a request, reads the response, then starts the next request."""

    def __init__(self, load: "Load"):
        self.load = load
        self.sock = None
        self.start = 0.0
        self.data = b""

    def begin(self) -> None:
        """Start a request: connect first when no connection is open."""
        self.start, self.data = time.perf_counter(), b""
        if self.sock is not None:
            self.send()
            return
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.sock.bind((random.choice(self.load.sources), 0))
        if self.sock.connect_ex((benchlib.HOST, self.load.port)) == 0:
            self.send()  # loopback connects often complete at once
        else:
            self.load.selector.register(self.sock, selectors.EVENT_WRITE, self)

    def send(self, connecting: bool = False) -> None:
        """Send the request (the connection is up); wait for the answer."""
        if connecting:
            error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))
        self.sock.sendall(self.load.request())  # small enough for an empty send buffer
        if connecting:
            self.load.selector.modify(self.sock, selectors.EVENT_READ, self)
        else:
            self.load.selector.register(self.sock, selectors.EVENT_READ, self)

    def receive(self) -> None:
        """Read what arrived; once the whole response is in, hand it to the load."""
        chunk = self.sock.recv(65536)
        self.data += chunk
        head, found, body = self.data.partition(b"\r\n\r\n")
        if found:
            lines = head.decode("latin-1").lower().split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            if len(body) >= int(fields.get("content-length", 0)):
                self.load.done(self, int(lines[0].split()[1]), fields.get("connection") != "close")
                return
        if not chunk:
            raise ConnectionError("connection closed before the whole response")

    def close(self) -> None:
        """Close the connection, if one is open."""
        if self.sock is not None:
            if self.sock in self.load.selector.get_map():
                self.load.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None


class Load:
    """One load process: many connections on one selector, no threads."""

    def __init__(self, paths, port, keep_alive, networks):
        self.paths, self.port, self.keep_alive = paths, port, keep_alive
        # Loopback addresses in different /24s: the app tells clients' networks apart.
        self.sources = [f"127.0.{i}.1" for i in range(networks)]
        self.selector = selectors.DefaultSelector()
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.errors = 0
        self.running = True

    def request(self) -> bytes:
        """Return the bytes of a request for a random path with a random user agent."""
        return (
            f"GET {random.choice(self.paths)} HTTP/1.1\r\nHost: {benchlib.HOST}:{self.port}\r\n"
            f"User-Agent: {random.choice(USER_AGENTS)}\r\nAccept: image/*\r\n"
            f"Connection: {'keep-alive' if self.keep_alive else 'close'}\r\n\r\n"
        ).encode()

    def done(self, conn: Connection, status: int, reusable: bool) -> None:
        """Count a finished request and start the next one while the run lasts."""
        self.latencies.append(time.perf_counter() - conn.start)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if reusable and self.running:
            self.selector.unregister(conn.sock)
        else:
            conn.close()
        if self.running:
            conn.begin()

    def run(self, connections: int, seconds: float) -> float:
        """Run until the deadline, then let requests in flight finish; return the time taken."""
        started = time.monotonic()
        deadline, hard_deadline = started + seconds, started + seconds + GRACE_SECONDS
        for _ in range(connections):
            self.start_safely(Connection(self))
        while self.selector.get_map() and time.monotonic() < hard_deadline:
            self.running = time.monotonic() < deadline
            for key, _ in self.selector.select(timeout=0.5):
                conn = key.data
                try:
                    if key.events & selectors.EVENT_WRITE:
                        conn.send(connecting=True)
                    else:
                        conn.receive()
                except OSError:
                    self.errors += 1
                    conn.close()
                    if self.running:
                        self.start_safely(conn)
        # Anything still open got no answer in time.
        self.errors += len(self.selector.get_map())
        return time.monotonic() - started

    def start_safely(self, conn: Connection) -> None:
        """Begin a request on conn, counting a failure to connect or send as an error."""
        try:
            conn.begin()
        except OSError:
            self.errors += 1
            conn.close()


def load(paths, port, connections, start_at, seconds, keep_alive, networks) -> dict:
    """Run `connections` clients in this process; return their counts and latencies."""
    time.sleep(max(0.0, start_at - time.time()))
    runner = Load(paths, port, keep_alive, networks)
    before = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = runner.run(connections, seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "errors": runner.errors,
        "statuses": runner.statuses,
        "latencies": runner.latencies,
        "elapsed": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
    }


def run_phase(pool, server, paths, seconds: float, args) -> dict:
    """Drive paths from the load processes for some seconds; return the merged results."""
    procs = args.procs
    share = [args.concurrency // procs + (i < args.concurrency % procs) for i in range(procs)]
    start_at = time.time() + 1.0  # lets every load process get ready before the clock runs
    jobs = [
        (paths, server.port, n, start_at, seconds, args.keep_alive, args.networks)
        for n in share
        if n
    ]
    cpu_before = server.cpu_seconds()
    parts = pool.starmap(load, jobs)
    phase = {"errors": 0, "statuses": {}, "latencies": [], "client_cpu": 0.0}
    for part in parts:
        phase["errors"] += part["errors"]
        phase["latencies"] += part["latencies"]
        phase["client_cpu"] += part["cpu"]
        for status, n in part["statuses"].items():
            phase["statuses"][status] = phase["statuses"].get(status, 0) + n
    phase["latencies"].sort()
    phase["rps"] = len(phase["latencies"]) / max(part["elapsed"] for part in parts)
    phase["failed"] = phase["errors"] + sum(
        n for status, n in phase["statuses"].items() if status != 200
    )
    phase["cpu_before"] = cpu_before
    return phase


def table_row(name: str, phase: dict) -> list:
    """Return the summary table row of a phase."""
    lat, count = phase["latencies"], max(len(phase["latencies"]), 1)
    return [
        name,
        len(lat),
        f"{phase['rps']:,.0f}",
        f"{benchlib.percentile(lat, 0.50) * 1000:.1f}",
        f"{benchlib.percentile(lat, 0.99) * 1000:.1f}",
        f"{phase['server_cpu'] / count * 1000:.3f}",
        f"{phase['client_cpu'] / count * 1000:.3f}",
        phase["failed"],
    ]


def wait_for_writers(server, campaign: str, expected: int) -> int:
    """Poll the campaign's total_opens until it reaches expected or stops moving (max 30 s)."""
    stored, last_change, deadline = -1, time.monotonic(), time.monotonic() + 30
    while time.monotonic() < deadline and time.monotonic() - last_change < 3:
        now = server.api("GET", f"/campaigns/{campaign}/stats")["total_opens"]
        if now != stored:
            stored, last_change = now, time.monotonic()
        if stored >= expected:
            break
        time.sleep(0.2)
    return stored


def inject(server, campaign: str, count: int) -> list[str]:
    """Create a campaign with count messages; return their pixel paths."""
    server.api("POST", "/campaigns", {"id": campaign, "name": "Bench"}, expect=201)
    paths = []
    for first in range(0, count, 1000):
        recipients = [f"reader{i}@example.com" for i in range(first, min(first + 1000, count))]
        body = {"html": "<html><body><p>Hello</p></body></html>", "recipients": recipients}
        answer = server.api("POST", f"/campaigns/{campaign}/inject", body, expect=201)
        paths += [urlsplit(message["pixel_url"]).path for message in answer["messages"]]
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--warmup", type=float, default=2.0, help="pixel run before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=1000, help="messages to inject")
    parser.add_argument("--procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--keep-alive", action="store_true", help="ask to reuse connections")
    parser.add_argument(
        "--database",
        help="store in this database instead of a fresh SQLite file: a postgresql:// URL of an "
        "empty database (what the run stores is left there)",
    )
    parser.add_argument(
        "--networks", type=int, default=64, help="client /24 networks (127.0.N.1), 1-250"
    )
    args = parser.parse_args()
    if not (0 < args.seconds <= 3600 and 0 <= args.warmup <= 600):
        parser.error("--seconds must be in (0, 3600] and --warmup in [0, 600]")
    if min(args.workers, args.concurrency, args.procs, args.messages, args.networks) < 1:
        parser.error("--workers, --concurrency, --messages, --procs, --networks must be > 0")
    if args.procs > 64 or args.networks > 250:
        parser.error("--procs must be <= 64 and --networks <= 250")
    benchlib.raise_on_sigterm()
    campaign, phases = "bench", {}
    env = {}
    if args.database:
        env = {
            "OPENTRACK_DATABASE": args.database,
            "OPENTRACK_SECRET_KEYS": os.environ.get("OPENTRACK_SECRET_KEYS")
            or secrets.token_hex(16),
        }
    with benchlib.Server(args.workers, env) as server:
        print("database:", "PostgreSQL" if args.database else "SQLite")
        print("gunicorn:", " ".join(benchlib.procfile_command(server.port, args.workers)))
        paths = inject(server, campaign, args.messages)
        print(
            f"injected {len(paths)} messages; {args.concurrency} connections from "
            f"{args.procs} load processes in {args.networks} /24 networks; "
            f"keep-alive asked: {args.keep_alive}"
        )
        runs = [("pixel, warm-up (cold workers)", paths, args.warmup)] if args.warmup else []
        runs += [("pixel `/o/<token>.gif`", paths, args.seconds)]
        with multiprocessing.get_context("spawn").Pool(args.procs) as pool:
            for name, run_paths, seconds in runs:
                phases[name] = run_phase(pool, server, run_paths, seconds, args)
            answered = sum(phase["statuses"].get(200, 0) for phase in phases.values())
            before_stop = wait_for_writers(server, campaign, answered)
            # Each run's server CPU lasts until the next run starts; the writers' work after the
            # last pixel run counts towards it.
            marks = [phase["cpu_before"] for phase in phases.values()]
            for phase, end in zip(phases.values(), [*marks[1:], server.cpu_seconds()], strict=True):
                phase["server_cpu"] = end - phase["cpu_before"]
            phases["bare Flask route `/bare.gif`"] = bare = run_phase(
                pool, server, ["/bare.gif"], args.seconds, args
            )
            bare["server_cpu"] = server.cpu_seconds() - bare["cpu_before"]
            phases["bare WSGI fast path `/ping.gif`"] = ping = run_phase(
                pool, server, ["/ping.gif"], args.seconds, args
            )
            ping["server_cpu"] = server.cpu_seconds() - ping["cpu_before"]
        exit_code = server.stop()
        flushed = server.cli("flush").stderr.strip()
        stored = json.loads(server.cli("stats", campaign, "--json").stdout)["total_opens"]

    pixel = phases["pixel `/o/<token>.gif`"]
    failed = sum(phase["failed"] for phase in phases.values())
    lost, unconfirmed = max(0, answered - stored), max(0, stored - answered)
    for name, phase in phases.items():
        print(f"{name}: statuses {phase['statuses']}, connection errors {phase['errors']}")
    print(f"gunicorn exit code after SIGTERM: {exit_code}; opentrack flush: {flushed}")
    print(f"stored events: {before_stop} before SIGTERM, {stored} after stop and flush")
    print(f"200s for valid tokens: {answered}; lost: {lost}; stored without a 200: {unconfirmed}")
    print(
        f"\n{args.workers} sync workers, {args.concurrency} concurrent connections, "
        f"{args.seconds:g} s per run, {os.cpu_count()} CPUs shared with the load generator\n"
    )
    headers = [
        "run",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "client CPU ms/req",
        "failed",
    ]
    benchlib.print_table(headers, [table_row(name, phase) for name, phase in phases.items()])
    print(
        f"\npixel / bare Flask route: {pixel['rps'] / bare['rps']:.2f} (req/s; the target is "
        f">= 0.7); pixel / bare WSGI ping: {pixel['rps'] / ping['rps']:.2f}; "
        f"200s for valid tokens {answered}, stored {stored}, lost {lost}, failed {failed}"
    )
    return 1 if lost or failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
