#!/usr/bin/env python3
"""Time what the estimated open rate adds to a campaign's stats, on either engine.

Usage:
    .venv/bin/python scripts/bench_estimate.py [--messages 300000] [--database URL]

Fills one campaign with --messages messages (40% with an Apple MPP fetch, 30% of the rest
opened, 5% clicked) and times, in the same run, ``Store.opened_signals`` (the two counts the
estimate needs beyond the campaign's other counters, now campaign counters themselves, filled
here by the migration's statement and checked against a scan) against a baseline of
``Store.count_recipients`` (one count over the same campaign's index), against the read of
every opened message it replaced, and against the full scan before that. Prints milliseconds
per call and the ratios. With --database
(a postgresql:// URL of an empty database), runs there; otherwise in a fresh SQLite file.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.store import Store  # noqa: E402
from app.store.rebuild import FILL_SIGNALS  # noqa: E402

FULL_SCAN = (
    "SELECT count(*) FILTER (WHERE mpp_opens = 0) AS visible, "
    "count(*) FILTER (WHERE mpp_opens = 0 AND state = 'opened') AS visible_opened, "
    "count(*) FILTER (WHERE mpp_opens > 0) AS hidden, "
    "count(*) FILTER (WHERE mpp_opens > 0 AND state = 'opened') AS hidden_opened "
    "FROM messages WHERE campaign_id = ? AND state != 'untracked'"
)

# What opened_signals read before its counters: every opened message of the campaign.
OPENED_SCAN = (
    "SELECT count(*) FILTER (WHERE mpp_opens > 0) AS hidden_opened, "
    "count(*) FILTER (WHERE mpp_opens = 0 AND human_clicks > 0) AS visible_opened_clicked "
    "FROM messages WHERE campaign_id = ? AND state = 'opened'"
)


def fill(store: Store, count: int) -> None:
    """Register one campaign's messages with the states and signals of a real mailing."""
    store.create_campaign("big", "Big")
    rng = random.Random(16)
    rows = []
    for index in range(count):
        hidden = rng.random() < 0.4
        clicked = rng.random() < 0.05
        opened = clicked or (not hidden and rng.random() < 0.3)
        state = "opened" if opened else ("unknown" if hidden else "not_opened")
        rows.append(
            (
                f"m{index}",
                "big",
                f"r{index}@example.com",
                "2026-01-01T00:00:00.000Z",
                state,
                int(hidden),
                int(clicked),
            )
        )
    with store.db.write() as conn:
        conn.executemany(
            "INSERT INTO messages (id, campaign_id, recipient, injected_at, state, mpp_opens, "
            "human_clicks) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        # The messages went in without their opens: count their signals as the migration does.
        conn.execute(FILL_SIGNALS)


def per_call_ms(call, repeat: int = 5) -> float:
    """Return the best of ``repeat`` timings of one call, in milliseconds."""
    call()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    database = args.database or os.path.join(tempfile.mkdtemp(), "bench.db")
    store = Store(database)
    store.migrate()
    fill(store, args.messages)
    if store.db.engine == "postgresql":
        store.db.execute("ANALYZE messages")
    scanned = dict(store.db.execute(OPENED_SCAN, ["big"]).fetchone())
    assert store.opened_signals("big") == scanned, (store.opened_signals("big"), scanned)
    signals = per_call_ms(lambda: store.opened_signals("big"))
    opened_scan = per_call_ms(lambda: store.db.execute(OPENED_SCAN, ["big"]).fetchone())
    baseline = per_call_ms(lambda: store.count_recipients("big"))
    scan = per_call_ms(lambda: store.db.execute(FULL_SCAN, ["big"]).fetchone())
    print(f"{store.db.engine}, {args.messages:,} messages in one campaign")
    print(f"opened_signals        {signals:8.2f} ms")
    print(f"count_recipients      {baseline:8.2f} ms  (baseline)")
    print(f"opened messages read  {opened_scan:8.2f} ms  (before the counters)")
    print(f"full scan (replaced)  {scan:8.2f} ms")
    print(f"opened_signals / baseline  {signals / baseline:5.2f}")
    print(f"opened_signals / opened messages read {signals / opened_scan:5.3f}")
    print(f"opened_signals / full scan {signals / scan:5.3f}")
    store.close()


if __name__ == "__main__":
    main()
