#!/usr/bin/env python3
"""Time firing a follow-up rule against reading the same list, on either engine.

Usage:
    .venv/bin/python scripts/bench_follow_up_rules.py [--messages 100000] [--database URL]

Registers --messages messages on one campaign (a tenth of them opened), then times, in the
same run: (a) the baseline, streaming the follow-up's recipients as the follow-ups endpoint
does (``Store.iter_follow_up_recipients``), and (b) firing a rule over the same campaign
(``core.automations.fire``: lock the rule, create the follow-up, freeze the list, queue the
``follow_up_ready`` event, one transaction). Prints both, their ratio, and the preview count's
time (what the dashboard shows for each audience). While (b) runs, SQLite's other writers
wait: its time is how long. With --database (a postgresql:// URL of an empty database), runs
there; otherwise in a fresh SQLite file.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import automations  # noqa: E402
from app.core.stats import campaign_summary  # noqa: E402
from app.core.times import to_iso  # noqa: E402
from app.core.tokens import list_serializer  # noqa: E402
from app.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages on the campaign")
    parser.add_argument("--database", help="a postgresql:// URL of an empty database")
    args = parser.parse_args()
    if not 1000 <= args.messages <= 5_000_000:
        parser.error("need 1000 <= --messages <= 5000000")
    store = Store(args.database or os.path.join(tempfile.mkdtemp(), "bench.db"))
    store.migrate()
    store.create_campaign("bench", "Follow-up rule benchmark")
    for start in range(0, args.messages, 1000):
        end = min(start + 1000, args.messages)
        store.register_messages(
            "bench", [(f"r{n}@example.com", None, True) for n in range(start, end)]
        )
    # A tenth opened (their counter moved with them): they leave both lists alike.
    store.db.execute(
        "UPDATE messages SET state = 'opened' WHERE campaign_id = 'bench' AND recipient LIKE '%0@%'"
    )
    store.db.execute(
        "UPDATE campaigns SET opened = (SELECT count(*) FROM messages "
        "WHERE campaign_id = 'bench' AND state = 'opened') WHERE id = 'bench'"
    )
    store.create_webhook("https://hooks.example.com/x", ["follow_up_ready"], True, None)
    rule = store.create_automation(
        "bench", "not_opened", 1, "bench-auto", "x", True, "http://h", "b"
    )
    now = time.time() + 2 * 3600
    links = automations.ListLinks(list_serializer(["bench"]), None, 1)

    started = time.perf_counter()
    follow_up = {"parent_id": "bench", "include_unknown": False, "injected_before": to_iso(now)}
    streamed = sum(1 for _ in store.iter_follow_up_recipients(follow_up))
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    previewed = automations.preview(store, "bench", "not_opened", now)
    preview = time.perf_counter() - started

    started = time.perf_counter()
    quick = automations.quick_previews(store, campaign_summary(store.get_campaign("bench")), now)
    dashboard = time.perf_counter() - started

    started = time.perf_counter()
    firing = automations.fire(store, rule["id"], now, "bench", links)
    fired = time.perf_counter() - started
    store.close()

    assert firing.recipients == streamed == previewed == quick["not_opened"], (firing, quick)
    engine = "postgresql" if args.database else "sqlite"
    print(f"{engine}, {args.messages:,} messages, {streamed:,} in the list")
    print(f"  (a) stream the follow-up list   {baseline:8.2f} s")
    print(f"  (b) fire the rule (freeze it)   {fired:8.2f} s   {fired / baseline:.2f}x (a)")
    print(f"  preview, counted (API)          {preview * 1000:8.1f} ms")
    print(f"  previews, counters (dashboard)  {dashboard * 1000:8.1f} ms   all four audiences")


if __name__ == "__main__":
    main()
