"""How opens move a recipient's engagement counters: the writer reads and writes back only the
columns core.engagement_counters names for it (OPEN_READ, OPEN_MOVED)."""

import random

from app.core import engagement_counters
from app.core.engagement_counters import COLUMNS, OPEN_MOVED, OPEN_READ
from app.core.stats import message_state


def random_row(rng: random.Random) -> dict:
    row = {}
    for column in COLUMNS:
        if column.endswith("_key"):
            row[column] = rng.choice(
                [None, "2026-01-01T00:00:00.000Z|a", "2026-06-01T00:00:00.000Z|b"]
            )
        elif column.endswith("_at"):
            row[column] = rng.choice([None, "2026-01-01T00:00:00.000Z", "2026-09-01T00:00:00.000Z"])
        else:
            row[column] = rng.randrange(0, 4)
    row["recipient"] = "r@example.com"
    # Any message counted here reached the recipient: the row has its latest campaign.
    row["reached_key"] = row["reached_key"] or "2026-06-01T00:00:00.000Z|b"
    return row


def opened(rng: random.Random, message: dict) -> dict:
    after = dict(message)
    after["human_opens"] += rng.randrange(0, 3)
    after["mpp_opens"] += rng.randrange(0, 2)
    after["state"] = message_state(after["human_opens"], after["mpp_opens"])
    return after


def test_opens_read_and_move_only_the_columns_the_writer_reads_and_writes_back():
    rng = random.Random(5)
    for _ in range(20_000):
        before = {
            "tracked": rng.random() > 0.1,
            "human_opens": (human := rng.randrange(0, 2)),
            "mpp_opens": (mpp := rng.randrange(0, 2)),
            "state": message_state(human, mpp),
            "human_clicks": rng.randrange(0, 2),
            "delivery_status": rng.choice(["unknown", "delivered", "bounced", "complained"]),
            "unsubscribed_at": rng.choice([None, None, "2026-02-01T00:00:00.000Z"]),
            "injected_at": rng.choice(["2026-01-01T00:00:00.000Z", "2026-09-01T00:00:00.000Z"]),
        }
        after = opened(rng, before)
        key = rng.choice(["2026-01-01T00:00:00.000Z|a", "2026-06-01T00:00:00.000Z|b", "2027|c"])
        event = {
            "verdict": rng.choice(["human", "machine"]),
            "source": rng.choice(["direct", "click", "apple_mpp"]),
            "at": rng.choice(["2026-03-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"]),
        }
        full = random_row(rng)
        narrow = {column: full[column] for column in OPEN_READ}
        # Only OPEN_READ's columns are read: the narrow row raises no KeyError and ends the same.
        answers = []
        for row in (full, narrow):
            answers.append(engagement_counters.add_message_change(row, before, after, key))
            engagement_counters.add_open(row, event)
        assert answers[0] == answers[1]
        assert narrow == {column: full[column] for column in OPEN_READ}
        assert len(narrow) == len(OPEN_READ)
        # Only OPEN_MOVED's columns move.
        original = random_row(random.Random(0))
        moved = dict(original)
        engagement_counters.add_message_change(moved, before, after, key)
        engagement_counters.add_open(moved, event)
        assert {c for c in COLUMNS if moved[c] != original[c]} <= set(OPEN_MOVED)
