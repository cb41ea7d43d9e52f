#!/usr/bin/env python3
"""Time the writer: spooled pixel fetches judged and stored, per second, on either engine.

Usage:
    .venv/bin/python scripts/bench_writer.py [--events 20000] [--batch 500] [--database URL]
        [--networks N]

Registers 2,000 messages, then hands the writer batches of --batch spool lines (the labelled
user agents of tests/data/user_agents.tsv, many IPs in 512 /24 networks, or in --networks of
them: few networks fetching many messages are bursts, as in bench_pixel) as the recorder does,
and times them in the same run against a baseline that only classifies the same lines without
storing them (both with the parsers' caches warm: a few hundred user agents, seen again and
again). Prints events/s and CPU µs per event for both and the share of the writer's CPU the
store takes.
Then the same number of new lines, written to four spool files as four web workers would, are
stored by the ingester (`opentrack ingest`'s loop: reading the files, one batch per round, the
same writer), to show what reading spools costs on top. With --database (a postgresql:// URL of
an empty database), stores there; otherwise in a fresh SQLite file.
"""

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rules.bursts import BurstTracker  # noqa: E402
from app.rules.classify import Fetch, classify  # noqa: E402
from app.store import Store  # noqa: E402
from app.tracking.ingest import Ingester  # noqa: E402
from app.tracking.spool import event_key  # noqa: E402
from app.tracking.writer import record_fetches  # noqa: E402


def user_agents() -> list[str]:
    """Return the labelled user agents of the test tables."""
    with open(ROOT / "tests" / "data" / "user_agents.tsv", newline="") as file:
        rows = csv.DictReader((line for line in file if not line.startswith("#")), delimiter="\t")
        return [row["user_agent"] for row in rows if row.get("user_agent")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="spool lines to store")
    parser.add_argument("--batch", type=int, default=500, help="lines per writer batch")
    parser.add_argument("--database", help="a postgresql:// URL of an empty database")
    parser.add_argument(
        "--networks", type=int, default=512, help="client /24 networks the IPs are in (1-512)"
    )
    args = parser.parse_args()
    if not (1 <= args.batch <= args.events <= 1_000_000):
        parser.error("need 1 <= --batch <= --events <= 1000000")
    if not 1 <= args.networks <= 512:
        parser.error("--networks must be in 1-512")
    database = args.database or os.path.join(tempfile.mkdtemp(), "bench.db")
    store = Store(database)
    store.migrate()
    campaign = "bench-" + uuid.uuid4().hex[:8]
    store.create_campaign(campaign, "Writer benchmark")
    messages = store.register_messages(
        campaign, [(f"w{n}@example.com", None, True) for n in range(2000)]
    )
    rng = random.Random(1)
    agents = user_agents()
    now = time.time()
    lines = [
        [
            event_key(now + n * 0.001),
            rng.choice(messages)["id"],
            now + n * 0.001,
            f"198.{18 + (net := rng.randrange(args.networks)) // 256}.{net % 256}."
            f"{rng.randrange(1, 255)}",
            rng.choice(agents),
            "GET",
            None,
            None,
        ]
        for n in range(args.events)
    ]
    batches = [lines[start : start + args.batch] for start in range(0, len(lines), args.batch)]

    def judge_all() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        for line in lines:
            classify(Fetch(user_agent=line[4], ip=line[3], seconds_since_send=600.0), None, 60)
        return time.perf_counter() - started, time.process_time() - cpu

    # Once to warm the parsers' caches for both runs (a few hundred user agents, seen often).
    judge_all()
    judge_only, judge_cpu = judge_all()

    tracker = BurstTracker()
    started, cpu = time.perf_counter(), time.process_time()
    stored = sum(record_fetches(store, batch, None, 60.0, tracker) for batch in batches)
    writer, writer_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert stored == args.events, (stored, args.events)

    spool = tempfile.mkdtemp()
    files = [open(os.path.join(spool, f"{n}-bench.spool"), "w") for n in range(4)]  # noqa: SIM115
    for n, line in enumerate(lines):
        line[0] = event_key(line[2])
        files[n % 4].write(json.dumps(line, separators=(",", ":")) + "\n")
    for file in files:
        file.close()
    host_tracker = BurstTracker()
    ingester = Ingester(spool, lambda batch: record_fetches(store, batch, None, 60.0, host_tracker))
    started, cpu = time.perf_counter(), time.process_time()
    while ingester.run_once():
        pass
    ingest, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu
    ingester.close()
    assert ingester.stored == args.events, (ingester.stored, args.events)
    store.close()
    engine = "PostgreSQL" if database.startswith("postgresql://") else "SQLite"
    print(f"{engine}: {args.events} events in batches of {args.batch}, {args.networks} networks")
    print("  (events/s of wall time; CPU of this process per event, steadier on a busy machine)")

    def rate(wall: float, cpu: float) -> str:
        return f"{args.events / wall:10,.0f} events/s, {cpu / args.events * 1e6:6.1f} µs CPU/event"

    print(f"  classify only (baseline):  {rate(judge_only, judge_cpu)}")
    print(f"  writer (classify + store): {rate(writer, writer_cpu)}")
    print(f"  the store's share of the writer's CPU: {1 - judge_cpu / writer_cpu:.0%}")
    print(
        f"  ingester (4 spool files, {ingester.stored // max(1, ingester.rounds)} lines a "
        f"batch): {rate(ingest, ingest_cpu)}"
    )


if __name__ == "__main__":
    main()
