#!/usr/bin/env python3
"""Print the memory of each gunicorn process once the geo data is in use: RSS, PSS, shared.

Usage:
    .venv/bin/python scripts/worker_rss.py [--workers 4] [--fetches 2000]

Starts gunicorn twice on a temp instance: first without app/gunicorn_conf.py (each worker
loads geoip2fast's tables itself on its first open, as before), then with the Procfile's
command (the master loads them once before forking; the workers share the pages). Each time
it sends --fetches valid pixel fetches from distinct public addresses (X-Forwarded-For, one
trusted proxy hop), waits until all are stored (so every worker's writer looked up geo data),
and reads /proc/<pid>/smaps_rollup for the master and each worker. PSS (proportional set
size) is what a process really costs: pages shared by n processes count 1/n in each, so the
PSS of all of gunicorn's processes together is its memory footprint.
"""

import argparse
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
CONFIG = ["-c", "python:app.gunicorn_conf"]


def memory(pid: int) -> dict[str, float]:
    """Return a process's smaps_rollup fields in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            values[name] = int(rest.split()[0]) / 1024
    return values


def children(pid: int) -> list[int]:
    """Return the pids of a process's children."""
    return [int(each) for each in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class Server(benchlib.Server):
    """The Procfile's gunicorn, or the same command without the config module."""

    def __init__(self, workers: int, with_config: bool):
        super().__init__(workers, env={"OPENTRACK_PROXY_HOPS": "1"})
        self.with_config = with_config

    def start(self) -> None:
        original = benchlib.procfile_command
        if not self.with_config:

            def without_config(port: int, workers: int) -> list[str]:
                args = original(port, workers)
                index = args.index(CONFIG[0])
                assert args[index : index + 2] == CONFIG, args
                return args[:index] + args[index + 2 :]

            benchlib.procfile_command = without_config
        try:
            super().start()
        finally:
            benchlib.procfile_command = original


def public_ip(rng: random.Random) -> str:
    """Return a random address outside the private and reserved ranges."""
    while True:
        first = rng.randint(1, 223)
        if first not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def load(server: Server, fetches: int) -> float:
    """Send valid pixel fetches from many addresses; return seconds until all are stored."""
    server.api("POST", "/campaigns", {"id": "rss", "name": "RSS"}, expect=201)
    body = {"html": "<body>Hi</body>", "recipients": [f"r{i}@x.org" for i in range(100)]}
    messages = server.api("POST", "/campaigns/rss/inject", body, expect=201)["messages"]
    paths = [m["pixel_url"].removeprefix(server.url()) for m in messages]
    rng = random.Random(11)
    addresses = [public_ip(rng) for _ in range(fetches)]
    start = time.perf_counter()
    pending = list(range(fetches))
    lock = threading.Lock()

    def client():
        while True:
            with lock:
                if not pending:
                    return
                n = pending.pop()
            conn = benchlib.http.client.HTTPConnection(benchlib.HOST, server.port, timeout=30)
            try:
                conn.request(
                    "GET",
                    paths[n % len(paths)],
                    headers={
                        "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
                        "X-Forwarded-For": addresses[n],
                    },
                )
                assert conn.getresponse().status == 200
            finally:
                conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.api("GET", "/campaigns/rss/stats")["total_opens"] >= fetches:
            return time.perf_counter() - start
        time.sleep(0.2)
    raise SystemExit(f"not every fetch was stored:\n{server.log_tail()}")


def measure(workers: int, fetches: int, with_config: bool) -> list[list]:
    """Run one server, load it, and return a row per process plus a total."""
    name = "Procfile (geo loaded in the master)" if with_config else "no config (geo per worker)"
    with Server(workers, with_config) as server:
        seconds = load(server, fetches)
        master = server.proc.pid
        pids = [master, *children(master)]
        rows, total = [], {field: 0.0 for field in FIELDS}
        for pid in pids:
            values = memory(pid)
            for field in FIELDS:
                total[field] += values.get(field, 0.0)
            role = "master" if pid == master else "worker"
            rows.append(
                [
                    name,
                    f"{role} {pid}",
                    *(f"{values.get(f, 0):.0f}" for f in FIELDS[:2]),
                    f"{values['Shared_Clean'] + values['Shared_Dirty']:.0f}",
                    f"{values['Private_Clean'] + values['Private_Dirty']:.0f}",
                    "",
                ]
            )
        rows.append(
            [
                name,
                f"all {len(pids)} processes",
                f"{total['Rss']:.0f}",
                f"{total['Pss']:.0f}",
                f"{total['Shared_Clean'] + total['Shared_Dirty']:.0f}",
                f"{total['Private_Clean'] + total['Private_Dirty']:.0f}",
                f"{seconds:.1f}",
            ]
        )
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--fetches", type=int, default=2000, help="pixel fetches per server")
    args = parser.parse_args()
    if not 1 <= args.workers <= 64 or not 1 <= args.fetches <= 1_000_000:
        parser.error("--workers is 1 to 64, --fetches 1 to 1,000,000")
    if not Path("/proc/self/smaps_rollup").exists():
        raise SystemExit("needs Linux's /proc/<pid>/smaps_rollup")
    benchlib.raise_on_sigterm()
    rows = measure(args.workers, args.fetches, with_config=False)
    rows += measure(args.workers, args.fetches, with_config=True)
    print(f"\n{args.workers} gunicorn sync workers, {args.fetches:,} fetches each, MB\n")
    benchlib.print_table(
        ["command", "process", "RSS", "PSS", "shared", "private", "s to store all"], rows
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
