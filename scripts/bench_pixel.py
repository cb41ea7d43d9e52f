#!/usr/bin/env python3
"""Load-test the recording pixel against a bare Flask GIF route, in three user-agent modes.

Usage:
    .venv/bin/python scripts/bench_pixel.py [--seconds 5] [--warmup 2] [--workers 4]
        [--concurrency 64] [--messages 1000] [--procs 2] [--networks 64] [--keep-alive]
        [--modes one,mix,unique] [--no-ingest] [--database postgresql://...]
        [--load auto|wrk|python]

Starts Opentrack as the Procfile does (gunicorn with its `web:` command on a free port and the
`ingest:` line beside it; --no-ingest leaves the ingester out, so that each web worker stores
its own spool) on a temp instance folder, and injects --messages messages per mode. Then the
load generator keeps --concurrency connections busy fetching random pixel URLs, each mode into a
campaign of its own. The load generator is wrk (Debian's `apt-get install wrk`) with
scripts/bench_pixel.lua, --procs threads, when it is installed: written in C, it leaves more
of the cores to the server. Without it (or with --load python) it is --procs Python processes,
a selector loop on non-blocking sockets each, which take about twice wrk's CPU per request.
Either way each request says it comes from one of --networks /24 networks in an
X-Forwarded-For header, which the server trusts (OPENTRACK_PROXY_HOPS=1, for the bare route as
for the pixel), so that bursts are judged per network as behind a proxy. The modes:

- `one`: one user agent on every request (Apple Mail on iOS);
- `mix`: 5,000 distinct user agents, made from templates of Apple Mail (iOS, iPadOS, macOS),
  Apple's proxy, Outlook (Windows, Mac, iOS), Gmail's and Yahoo's image proxies, Thunderbird,
  and Chrome on Android and Windows, with varied versions, weighted roughly as mail opens are;
- `unique`: the same templates with a build number never used before on every request.

Before the first mode and after each one, the same load on `/bare.gif`, a plain Flask route
answering the same GIF under the same gunicorn (the baseline: each mode is set against the mean
of the two baseline runs beside it, as the machine's speed drifts). For each mode it prints
req/s over the baseline's (target >= 1.2 for `one` and `mix`, >= 1.0 for `unique`), p99 latency
(target < 20 ms at 64 connections), and how long after the load's end the backlog (fetches
answered but not yet stored) took to empty (target < 5 s). At the end it stops the server with
SIGTERM, runs `opentrack flush`, and compares each mode's stored opens with its 200s: `lost`
must be 0. Server CPU per request counts gunicorn's master and workers and the ingester
beside them (its share in a column of its own); for a pixel mode it runs from the load's start
until the mode's backlog is stored, so that the fetches the ingester stores after the load
(it runs at a lower priority) are paid for. Gunicorn's sync workers close the connection after
every response whatever the client asks, so by default each request opens a new connection and
says `Connection: close`; --keep-alive asks to reuse them. Exits 1 when an open is lost, a
request failed or anything but 200 came back.
"""

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import resource
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

# Requests still unanswered this long after the end of a run count as failures.
GRACE_SECONDS = 60
MODES = ("one", "mix", "unique")
MIX_SIZE = 5000
ONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
ANDROID_MODELS = ["SM-G991B", "SM-A536B", "Pixel 7", "Pixel 8 Pro", "moto g(60)", "K", "2201116SG"]


def _build(rng: random.Random, unique: int | None, low: int, high: int) -> int:
    return rng.randrange(low, high) if unique is None else unique


def _apple_build(rng: random.Random, unique: int | None) -> str:
    if unique is None:
        return f"{rng.randrange(15, 22)}{rng.choice('ABCDEFGH')}{rng.randrange(5, 400)}"
    return f"{15 + unique % 7}{'ABCDEFGH'[unique // 7 % 8]}{unique // 56}"


# (weight, template): each returns a user agent; `unique` puts a never-seen build number in it.
FAMILIES = [
    (
        24,
        lambda r, u: (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {r.randrange(14, 19)}_{r.randrange(0, 8)} like "
            f"Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/{_apple_build(r, u)}"
        ),
    ),
    (
        4,
        lambda r, u: (
            f"Mozilla/5.0 (iPad; CPU OS {r.randrange(14, 19)}_{r.randrange(0, 8)} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/{_apple_build(r, u)}"
        ),
    ),
    (
        10,
        lambda r, u: (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{r.randrange(0, 8)}) AppleWebKit/"
            f"{_build(r, u, 600, 620)}.{r.randrange(1, 9)}.{r.randrange(1, 40)} "
            "(KHTML, like Gecko)"
        ),
    ),
    (12, lambda r, u: "Mozilla/5.0" if u is None else f"Mozilla/5.0 (Apple {u})"),
    (
        14,
        lambda r, u: (
            f"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0."
            f"{_build(r, u, 10000, 18500)}; Pro)"
        ),
    ),
    (
        3,
        lambda r, u: (
            f"Outlook-iOS/709.{_build(r, u, 2000000, 3000000)}.prod.iphone "
            f"(4.{r.randrange(2300, 2450)}.0)"
        ),
    ),
    (
        2,
        lambda r, u: (
            f"Microsoft Outlook/16.{r.randrange(60, 90)}.{_build(r, u, 20000, 25000)} (Macintosh)"
        ),
    ),
    (
        14,
        lambda r, u: (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)" + ("" if u is None else f" {u}")
        ),
    ),
    (
        2,
        lambda r, u: (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
            + ("" if u is None else f" {u}")
        ),
    ),
    (
        4,
        lambda r, u: (
            f"Mozilla/5.0 ({r.choice(['Windows NT 10.0; Win64; x64', 'X11; Linux x86_64'])}; "
            f"rv:{(v := r.randrange(91, 129))}.0) Gecko/20100101 Thunderbird/{v}.{r.randrange(9)}"
            f".{_build(r, u, 0, 12)}"
        ),
    ),
    (
        6,
        lambda r, u: (
            f"Mozilla/5.0 (Linux; Android {r.randrange(9, 15)}; {r.choice(ANDROID_MODELS)}) "
            f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{r.randrange(100, 131)}.0."
            f"{_build(r, u, 4000, 6800)}.{r.randrange(40, 200)} Mobile Safari/537.36"
        ),
    ),
    (
        5,
        lambda r, u: (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{r.randrange(100, 131)}.0.{_build(r, u, 4000, 6800)}.{r.randrange(40, 200)}"
            " Safari/537.36"
        ),
    ),
]


def user_agent(rng: random.Random, unique: int | None = None) -> str:
    """Return a user agent of a family drawn by weight; with unique, one never made before."""
    (template,) = rng.choices([t for _, t in FAMILIES], [w for w, _ in FAMILIES])
    return template(rng, unique)


def agent_mix(size: int = MIX_SIZE, seed: int = 5) -> list[str]:
    """Return size distinct user agents drawn from the families (the `mix` mode's pool)."""
    rng, agents = random.Random(seed), {}
    while len(agents) < size:
        agents.setdefault(user_agent(rng), None)
    return list(agents)


class Agents:
    """The user agents of one load process in one mode."""

    def __init__(self, mode: str, pool: list[str], offset: int, step: int):
        self.mode, self.pool = mode, pool
        self.rng = random.Random(offset)
        # Builds from 10**7 up, interleaved across load processes: never seen in any mode.
        self.serial = itertools.count(10**7 + offset, step)

    def next(self) -> str:
        """Return the user agent of the next request."""
        if self.mode == "one":
            return ONE_AGENT
        if self.mode == "mix":
            return self.rng.choice(self.pool)
        return user_agent(self.rng, next(self.serial))


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

    def __init__(self, paths, port, keep_alive, networks, agents: Agents):
        self.paths, self.port, self.keep_alive, self.agents = paths, port, keep_alive, agents
        # Addresses in different /24s, sent as X-Forwarded-For: the app tells networks apart.
        self.networks = networks
        self.selector = selectors.DefaultSelector()
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.errors = 0
        self.running = True

    def request(self) -> bytes:
        """Return the bytes of a request for a random path with the mode's next user agent."""
        return (
            f"GET {random.choice(self.paths)} HTTP/1.1\r\nHost: {benchlib.HOST}:{self.port}\r\n"
            f"User-Agent: {self.agents.next()}\r\nAccept: image/*\r\n"
            f"X-Forwarded-For: 127.0.{random.randrange(self.networks)}.1\r\n"
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


def load(paths, port, connections, start_at, seconds, keep_alive, networks, agents) -> dict:
    """Run `connections` clients in this process; return their counts and latencies."""
    time.sleep(max(0.0, start_at - time.time()))
    runner = Load(paths, port, keep_alive, networks, agents)
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


def run_phase(pool, server, paths, seconds: float, args, mode: str, mix: list[str]) -> dict:
    """Drive paths from the load processes for some seconds; return the merged results."""
    procs = args.procs
    share = [args.concurrency // procs + (i < args.concurrency % procs) for i in range(procs)]
    start_at = time.time() + 1.0  # lets every load process get ready before the clock runs
    salt = random.randrange(1_000_000)
    jobs = [
        (
            paths,
            server.port,
            n,
            start_at,
            seconds,
            args.keep_alive,
            args.networks,
            Agents(mode, mix if mode == "mix" else [], i + salt * procs, procs),
        )
        for i, n in enumerate(share)
        if n
    ]
    cpu_before, ingest_before = server.cpu_seconds(), server.others_cpu_seconds()
    parts = pool.starmap(load, jobs)
    phase = {"errors": 0, "statuses": {}, "latencies": [], "client_cpu": 0.0}
    for part in parts:
        phase["errors"] += part["errors"]
        phase["latencies"] += part["latencies"]
        phase["client_cpu"] += part["cpu"]
        for status, n in part["statuses"].items():
            phase["statuses"][status] = phase["statuses"].get(status, 0) + n
    phase["ended"] = time.monotonic()
    phase["latencies"].sort()
    phase["requests"] = len(phase["latencies"])
    phase["rps"] = phase["requests"] / max(part["elapsed"] for part in parts)
    phase["p50"] = benchlib.percentile(phase["latencies"], 0.50)
    phase["p99"] = benchlib.percentile(phase["latencies"], 0.99)
    phase["failed"] = phase["errors"] + sum(
        n for status, n in phase["statuses"].items() if status != 200
    )
    phase["cpu"] = server.cpu_seconds() - cpu_before
    phase["ingest_cpu"] = server.others_cpu_seconds() - ingest_before
    phase["cpu_from"] = (cpu_before, ingest_before)
    return phase


class Wrk:
    """The wrk load generator: its files (paths and user agents) in a temp folder."""

    SCRIPT = Path(__file__).resolve().parent / "bench_pixel.lua"

    def __init__(self, folder: str, args, mix: list[str]):
        self.folder, self.args = folder, args
        # The file of each list of paths, by the paths it holds.
        self.files: dict[str, str] = {}
        self.agents = {
            "mix": self.write("agents-mix", mix),
            "one": self.write("agents-one", [ONE_AGENT]),
        }
        # Never-seen user agents, more than any run can take (past them a suffix keeps them new).
        count = int(min(args.seconds, 60) * 20_000) + 10_000
        rng = random.Random(random.randrange(1_000_000))
        self.agents["unique"] = self.write(
            "agents-unique", [user_agent(rng, 10**7 + n) for n in range(count)]
        )

    def write(self, name: str, lines: list[str]) -> str:
        """Write lines to a file of the folder; return its path."""
        path = os.path.join(self.folder, name)
        with open(path, "w") as file:
            file.write("\n".join(lines) + "\n")
        return path

    def run_phase(self, server, paths: list[str], seconds: float, mode: str) -> dict:
        """Run wrk on paths for some seconds in a mode; return its counts, CPU and latencies."""
        key = "\n".join(paths)
        if key not in self.files:
            self.files[key] = self.write(f"paths-{len(self.files)}", paths)
        connection = "keep-alive" if self.args.keep_alive else "close"
        threads = min(self.args.procs, self.args.concurrency)
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{self.args.concurrency}",
            f"-d{seconds:g}s",
            "--timeout",
            f"{GRACE_SECONDS}s",
            "-s",
            str(self.SCRIPT),
            server.url(),
            "--",
            self.files[key],
            self.agents[mode],
            "unique" if mode == "unique" else "mix",
            str(self.args.networks),
            connection,
            str(threads),
        ]
        cpu_before, children_before = server.cpu_seconds(), os.times()
        ingest_before = server.others_cpu_seconds()
        result = subprocess.run(command, capture_output=True, text=True)
        children = os.times()
        cpu = server.cpu_seconds() - cpu_before
        ingest_cpu = server.others_cpu_seconds() - ingest_before
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        if result.returncode != 0 or not lines:
            raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        found = {k: int(v) for k, v in (part.split("=") for part in lines[0].split()[1:])}
        requests, bad = found["requests"], found["status"]
        errors = found["connect"] + found["read"] + found["write"] + found["timeout"]
        return {
            "ended": time.monotonic(),
            "errors": errors,
            # wrk counts answers outside 2xx and 3xx; the pixel and the GIF route answer only 200.
            "statuses": {200: requests - bad, **({"other": bad} if bad else {})},
            "failed": errors + bad,
            "requests": requests,
            "rps": requests / (found["duration_us"] / 1e6),
            "p50": found["p50_us"] / 1e6,
            "p99": found["p99_us"] / 1e6,
            "cpu": cpu,
            "ingest_cpu": ingest_cpu,
            "cpu_from": (cpu_before, ingest_before),
            "client_cpu": children.children_user
            + children.children_system
            - children_before.children_user
            - children_before.children_system,
        }


def wait_for_backlog(server, campaign: str, expected: int, since: float) -> tuple[int, float]:
    """Poll the campaign's total_opens until it reaches expected or stops moving (max 60 s).

    Returns what was stored and the seconds from the load's end (since) to the last change.
    """
    stored, changed, deadline = -1, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline and time.monotonic() - changed < 5:
        now = server.api("GET", f"/campaigns/{campaign}/stats")["total_opens"]
        if now != stored:
            stored, changed = now, time.monotonic()
        if stored >= expected:
            break
        time.sleep(0.05)
    return stored, max(0.0, changed - since)


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


def table_row(name: str, phase: dict) -> list:
    """Return the summary table row of a phase (a pixel mode's ratio is over the mean of the
    baseline's runs before and after it)."""
    count = max(phase["requests"], 1)
    pixel = "lost" in phase
    return [
        name,
        phase["requests"],
        f"{phase['rps']:,.0f}",
        f"{phase['rps'] / phase['bare_rps']:.2f}" if pixel else "",
        f"{phase['p50'] * 1000:.1f}",
        f"{phase['p99'] * 1000:.1f}",
        f"{phase['cpu'] / count * 1000:.3f}",
        f"{phase['ingest_cpu'] / count * 1000:.3f}",
        f"{phase['client_cpu'] / count * 1000:.3f}",
        phase["failed"],
        phase["lost"] if pixel else "",
        f"{phase['drain']:.1f}" if pixel else "",
    ]


TARGETS = {"one": 1.2, "mix": 1.2, "unique": 1.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--warmup", type=float, default=2.0, help="pixel run before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=1000, help="messages to inject per mode")
    parser.add_argument(
        "--procs", type=int, default=2, help="load generator processes (wrk: threads)"
    )
    parser.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (apt-get install wrk), Python processes, or auto: wrk when "
        "installed",
    )
    parser.add_argument("--keep-alive", action="store_true", help="ask to reuse connections")
    parser.add_argument("--modes", default=",".join(MODES), help="user-agent modes to run")
    parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="run without the Procfile's ingest process: each web worker stores its own spool",
    )
    parser.add_argument(
        "--database",
        help="store in this database instead of a fresh SQLite file: a postgresql:// URL of an "
        "empty database (what the run stores is left there)",
    )
    parser.add_argument(
        "--networks", type=int, default=64, help="client /24 networks (127.0.N.1), 1-250"
    )
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes takes a comma-separated list of {', '.join(MODES)}")
    if not (0 < args.seconds <= 3600 and 0 <= args.warmup <= 600):
        parser.error("--seconds must be in (0, 3600] and --warmup in [0, 600]")
    if min(args.workers, args.concurrency, args.procs, args.messages, args.networks) < 1:
        parser.error("--workers, --concurrency, --messages, --procs, --networks must be > 0")
    if args.procs > 64 or args.networks > 250:
        parser.error("--procs must be <= 64 and --networks <= 250")
    load = args.load
    if load == "auto":
        load = "wrk" if shutil.which("wrk") else "python"
        if load == "python":
            print(
                "wrk is not installed (apt-get install wrk): the load comes from Python "
                "processes, which take as much CPU per request as the server",
                file=sys.stderr,
            )
    elif load == "wrk" and not shutil.which("wrk"):
        parser.error("--load wrk: wrk is not installed (apt-get install wrk), or use --load python")
    benchlib.raise_on_sigterm()
    # The load says where each request comes from in X-Forwarded-For, for both routes alike.
    env = {"OPENTRACK_PROXY_HOPS": "1"}
    if args.database:
        env |= {
            "OPENTRACK_DATABASE": args.database,
            "OPENTRACK_SECRET_KEYS": os.environ.get("OPENTRACK_SECRET_KEYS")
            or secrets.token_hex(16),
        }
    mix = agent_mix()
    load_name = (
        f"wrk ({args.procs} threads)" if load == "wrk" else f"{args.procs} Python load processes"
    )
    beside = () if args.no_ingest else ("ingest",)
    phases, campaigns = {}, {}
    with benchlib.Server(args.workers, env, beside=beside) as server:
        print("database:", "PostgreSQL" if args.database else "SQLite")
        print("gunicorn:", " ".join(benchlib.procfile_command(server.port, args.workers)))
        print("beside it:", ", ".join(beside) or "nothing (each web worker stores its spool)")
        paths = {mode: inject(server, f"bench-{mode}", args.messages) for mode in modes}
        warm = inject(server, "bench-warmup", args.messages) if args.warmup else []
        print(
            f"injected {args.messages} messages per mode; {args.concurrency} connections from "
            f"{load_name} in {args.networks} /24 networks; "
            f"keep-alive asked: {args.keep_alive}; mix of {len(mix)} distinct user agents"
        )
        with contextlib.ExitStack() as stack:
            if load == "wrk":
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-wrk-"))
                wrk = Wrk(folder, args, mix)

                def run(paths, seconds, mode):
                    return wrk.run_phase(server, paths, seconds, mode)
            else:
                pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(args.procs))

                def run(paths, seconds, mode):
                    return run_phase(pool, server, paths, seconds, args, mode, mix)

            if warm:
                phase = run(warm, args.warmup, "mix")
                wait_for_backlog(server, "bench-warmup", phase["statuses"].get(200, 0), 0)
            # The baseline runs before the first mode and after each one, and each mode is set
            # against the two runs beside it: this machine's speed drifts by a fifth or more
            # within a minute, which a baseline measured only at the start and the end hid.
            bare = [run(["/bare.gif"], args.seconds, "mix")]
            for mode in modes:
                phase = phases[f"pixel, {mode} UA"] = run(paths[mode], args.seconds, mode)
                campaigns[mode] = phase
                answered = phase["statuses"].get(200, 0)
                phase["stored_live"], phase["drain"] = wait_for_backlog(
                    server, f"bench-{mode}", answered, phase["ended"]
                )
                # The CPU a recorded fetch costs includes storing it, also when the ingester
                # stores the backlog after the load (it yields to the web workers meanwhile).
                cpu_before, ingest_before = phase["cpu_from"]
                phase["cpu"] = server.cpu_seconds() - cpu_before
                phase["ingest_cpu"] = server.others_cpu_seconds() - ingest_before
                bare.append(run(["/bare.gif"], args.seconds, "mix"))
                phase["bare_rps"] = (bare[-2]["rps"] + bare[-1]["rps"]) / 2
        exit_code = server.stop()
        flushed = server.cli("flush").stderr.strip()
        for mode, phase in campaigns.items():
            stats = json.loads(server.cli("stats", f"bench-{mode}", "--json").stdout)
            answered = phase["statuses"].get(200, 0)
            phase["stored"] = stats["total_opens"]
            phase["lost"] = max(0, answered - phase["stored"])

    names = ["first", *(f"after {mode}" for mode in modes)]
    phases.update(
        (f"bare Flask `/bare.gif`, {name}", phase) for name, phase in zip(names, bare, strict=True)
    )
    for name, phase in phases.items():
        print(f"{name}: statuses {phase['statuses']}, connection errors {phase['errors']}")
    print(f"gunicorn exit code after SIGTERM: {exit_code}; opentrack flush: {flushed}")
    for mode, phase in campaigns.items():
        print(
            f"{mode}: 200s for valid tokens {phase['statuses'].get(200, 0)}, stored "
            f"{phase['stored_live']} before SIGTERM and {phase['stored']} after stop and flush"
        )
    print(
        f"\n{args.workers} sync workers, {args.concurrency} concurrent connections, "
        f"{args.seconds:g} s per run, {os.cpu_count()} CPUs shared with the load generator "
        f"({load_name}); load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}\n"
    )
    headers = [
        "run",
        "requests",
        "req/s",
        "/ bare",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "of it ingester",
        "load CPU ms/req",
        "failed",
        "lost",
        "backlog s",
    ]
    benchlib.print_table(headers, [table_row(n, p) for n, p in phases.items()])
    print()
    ok = True
    for mode, phase in campaigns.items():
        ratio = phase["rps"] / phase["bare_rps"]
        p99 = phase["p99"] * 1000
        met = ratio >= TARGETS[mode] and p99 < 20 and phase["drain"] < 5 and not phase["lost"]
        print(
            f"{mode:>6} UA: pixel / bare Flask {ratio:.2f} (target >= {TARGETS[mode]}), p99 "
            f"{p99:.1f} ms (< 20), lost {phase['lost']} (0), backlog empty after "
            f"{phase['drain']:.1f} s (< 5): {'met' if met else 'NOT met'}"
        )
        ok = ok and not phase["lost"]
    failed = sum(phase["failed"] for phase in phases.values())
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
