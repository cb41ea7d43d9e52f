#!/usr/bin/env python3
"""Time the inactive segments and per-recipient engagement at scale, against the non-opener export.

Usage:
    .venv/bin/python scripts/bench_segments.py [--recipients 1000000] [--campaigns 50]
        [--last 5] [--database PATH | postgresql://...] [--reuse]

Builds a store (a SQLite file, or a PostgreSQL database, which must be empty) of --recipients
recipients, each sent every one of --campaigns campaigns (a day apart; 25 % open each message,
40 % of recipients are Apple MPP users whose messages are `unknown`, 3 % bounced, a few
clicks) with one statement per campaign, counts the recipients' engagement counters from those
rows (what the `recipient_engagement` migration does), then times, in the same run:

- the baseline: streaming the non-opener export of the latest campaign (one campaign's messages,
  the export senders already use);
- the segments, streamed to the end as the API streams them: `campaigns=1`, `campaigns=--last`,
  `days=--last` and `mpp_only=true` over the last --last campaigns;
- the same `campaigns=--last` segment read the way it was before the counters (one grouped
  query over the selected campaigns' messages), for comparison;
- 1,000 engagement look-ups of random recipients, from the counters and, before, from every
  message of theirs.

Prints each time, rows, and its ratio to the baseline of the same number of rows (the export's
time scaled to the segment's rows). The target is a segment within about 1.5x that, whatever
the number of campaigns selected or in the history. The default is the full scale of the issue
(50 million messages: about 17 minutes to build on SQLite and 10 GB); run smaller on a busy machine.
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

from app.core import engagement  # noqa: E402
from app.core.times import now_iso, to_iso  # noqa: E402
from app.store import Store, is_server_database  # noqa: E402
from app.store.engagement_counters import REBUILD  # noqa: E402

# One campaign's messages in one statement: SQLite's recursive CTE makes the rows without
# Python in the loop. random() decides each message's fate; the recipient number decides who is
# an MPP user (n % 5 < 2) and who bounced (n % 33 == 0).
ROWS = """
INSERT INTO messages (id, campaign_id, recipient, injected_at, tracked, state, human_opens,
  mpp_opens, human_clicks, delivery_status, bounce_type, opens)
SELECT :campaign || '-' || i, :campaign, 'r' || i || '@example.com', :at, {true},
  CASE WHEN i % 5 < 2 THEN (CASE WHEN roll < 3 THEN 'opened' ELSE 'unknown' END)
       WHEN roll < 25 THEN 'opened' ELSE 'not_opened' END,
  CASE WHEN i % 5 >= 2 AND roll < 25 THEN 1 WHEN i % 5 < 2 AND roll < 3 THEN 1 ELSE 0 END,
  CASE WHEN i % 5 < 2 THEN 1 ELSE 0 END,
  CASE WHEN roll < 3 THEN 1 ELSE 0 END,
  CASE WHEN i % 33 = 0 THEN 'bounced' ELSE 'delivered' END,
  CASE WHEN i % 33 = 0 THEN 'hard' END,
  CASE WHEN i % 5 < 2 OR roll < 25 THEN 1 ELSE 0 END
FROM fate
"""
FILL = (
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count),\n"
    "  fate AS (SELECT i, abs(random()) % 100 AS roll FROM n)" + ROWS.format(true="1")
)
# The same rows on PostgreSQL.
FILL_PG = (
    "WITH fate AS (SELECT i, floor(random() * 100)::int AS roll "
    "FROM generate_series(0, :count - 1) i)" + ROWS.format(true="TRUE")
)
# The inactive segment of some campaigns as it was read before the counters.
GROUPED = """
SELECT recipient || '' AS recipient, count(*), max(injected_at), sum(mpp_opens),
  sum(human_clicks) FROM messages
WHERE tracked AND delivery_status NOT IN ('bounced', 'complained') AND unsubscribed_at IS NULL
  AND campaign_id IN ({places})
GROUP BY 1 HAVING count(*) FILTER (WHERE state = 'opened' OR human_clicks > 0) = 0 ORDER BY 1
"""


def build(store: Store, recipients: int, campaigns: int) -> list[str]:
    """Fill the store; return the campaign ids, oldest first."""
    ids = []
    start = time.time() - campaigns * 86400
    postgres = store.db.engine != "sqlite"
    # Rows go in without the messages' secondary indexes, which are then built by sorting
    # once: the same indexes the migrations made, much faster than row by row.
    if postgres:
        found = store.db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' "
            "AND schemaname = current_schema() "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        found = store.db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' "
            "AND sql IS NOT NULL"
        )
    indexes = [(row[0], row[1]) for row in found]
    for name, _ in indexes:
        store.db.execute(f"DROP INDEX {name}")
    for c in range(campaigns):
        campaign_id = f"c{c:03d}"
        at = to_iso(start + c * 86400)
        with store.db.write() as conn:
            conn.execute(
                "INSERT INTO campaigns (id, name, created_at, first_injected_at, sent) "
                "VALUES (?, ?, ?, ?, ?)",
                [campaign_id, campaign_id, at, at, recipients],
            )
            conn.execute(
                FILL_PG if postgres else FILL,
                {"count": recipients, "campaign": campaign_id, "at": at},
            )
        ids.append(campaign_id)
        print(f"  built {campaign_id}: {(c + 1) * recipients:,} messages", file=sys.stderr)
    print("  building the indexes", file=sys.stderr)
    for _, sql in indexes:
        store.db.execute(sql)
    store.db.execute("ANALYZE")
    begin = time.perf_counter()
    print("  counting the recipients' engagement", file=sys.stderr)
    with store.db.write() as conn:
        conn.execute("DELETE FROM engagement")
        conn.execute(REBUILD)
    store.db.execute("ANALYZE")
    print(f"  counted in {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    return ids


def timed(rows) -> tuple[float, int]:
    """Return the seconds it took to read an iterator to its end, and its length."""
    begin = time.perf_counter()
    count = sum(1 for _ in rows)
    return time.perf_counter() - begin, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--last", type=int, default=5, help="N of campaigns=N and days=N")
    parser.add_argument("--database", help="a SQLite file to build in (default: a temp one)")
    parser.add_argument(
        "--reuse", action="store_true", help="time the store --database already holds"
    )
    args = parser.parse_args()
    if not (1 <= args.last <= args.campaigns):
        parser.error("need 1 <= --last <= --campaigns")
    database = args.database or os.path.join(tempfile.mkdtemp(), "segments.db")
    store = Store(database)
    store.migrate()
    where = "PostgreSQL" if is_server_database(database) else database
    if args.reuse:
        ids = store.latest_campaign_ids(args.campaigns)[::-1]
        print(f"timing the {len(ids)} campaigns already in {where}")
    else:
        print(f"building {args.recipients:,} recipients x {args.campaigns} campaigns in {where}")
        begin = time.perf_counter()
        ids = build(store, args.recipients, args.campaigns)
        print(f"built in {time.perf_counter() - begin:.0f} s")

    now = time.time()
    # Best of two: the first read after a build also pays for the cache (and on PostgreSQL
    # for setting the new rows' hint bits).
    base_s, base_rows = min(
        timed(store.iter_non_openers(ids[-1], ("not_opened",), now_iso())) for _ in range(2)
    )
    print(f"baseline  non-opener export of one campaign: {base_s:.2f} s, {base_rows:,} rows")
    per_row = base_s / base_rows

    def report(label, seconds, count):
        ratio = seconds / (per_row * count) if count else float("nan")
        print(
            f"{label:<40} {seconds:7.2f} s  {count:>9,} rows  "
            f"{ratio:5.2f}x the export of as many rows"
        )

    def segment(label, campaigns, days, mpp_only):
        head, rows = engagement.inactive_segment(store, campaigns, days, mpp_only, now)
        report(label, *timed(rows))

    segment("segment campaigns=1", 1, None, False)
    segment(f"segment campaigns={args.last}", args.last, None, False)
    segment(f"segment days={args.last}", None, args.last + 0.5, False)
    segment("segment mpp_only", None, None, True)
    segment(f"segment mpp_only, campaigns={args.last}", args.last, None, True)
    latest = store.latest_campaign_ids(args.last)
    grouped = GROUPED.format(places=", ".join("?" * len(latest)))
    report(f"before: campaigns={args.last}, grouped", *timed(store.db.stream(grouped, latest)))

    rng = random.Random(1)
    sample = [f"r{rng.randrange(args.recipients)}@example.com" for _ in range(1000)]
    begin = time.perf_counter()
    for recipient in sample:
        engagement.engagement_of(store, recipient, now)
    counted = time.perf_counter() - begin
    begin = time.perf_counter()
    for recipient in sample:
        messages = store.recipient_messages(recipient)
        activity = store.last_human_activity([m["id"] for m in messages])
        engagement.recipient_engagement(messages, activity, now)
    before = time.perf_counter() - begin
    print(
        f"engagement look-ups: {counted / len(sample) * 1000:.2f} ms each from the counters, "
        f"{before / len(sample) * 1000:.2f} ms from the messages ({args.campaigns} per recipient)"
    )


if __name__ == "__main__":
    main()
