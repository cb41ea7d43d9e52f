"""Several processes record the same ESP events at once: each stored once, counters exact."""

import multiprocessing

import pytest

from app.core.delivery import DeliveryEvent
from app.store import Store

pytestmark = pytest.mark.slow
PROCESSES = 4


def post_events(database: str, message_ids: list[str], index: int) -> dict:
    """Record every message's events, as a provider retrying its posts would send them."""
    store = Store(database)
    totals = dict.fromkeys(("stored", "duplicates"), 0)
    for round_ in range(3):
        events = []
        for n, message_id in enumerate(message_ids):
            kinds = [("deferred", None), ("delivered", None)]
            if n % 4 == 0:
                kinds.append(("bounced", "hard"))
            if n % 5 == 0:
                kinds.append(("complained", None))
            for kind, bounce in kinds:
                events.append(
                    DeliveryEvent(
                        provider="generic", event=kind, bounce_type=bounce,
                        at=f"2026-12-01T10:0{len(events) % 10}:00.000Z",
                        provider_event_id=f"{message_id}:{kind}",
                        message_id=message_id,
                    )
                )  # fmt: skip
        # Each process sends them in its own order, as parallel retries arrive.
        events = events[index::] + events[:index] if round_ % 2 else events[::-1]
        result = store.record_delivery_events(events, suppress=True)
        for key in totals:
            totals[key] += result[key]
    store.close()
    return totals


def test_concurrent_posts_store_each_event_once(app, store):
    store.create_campaign("busy", "Busy")
    messages = store.register_messages("busy", [(f"r{n}@x.org", None, True) for n in range(40)])
    ids = [m["id"] for m in messages]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(post_events, [(app.config["DATABASE"], ids, i) for i in range(4)])
    distinct = 40 * 2 + 10 + 8
    assert sum(r["stored"] for r in results) == distinct
    assert store.count_delivery_events() == {"matched": distinct, "unmatched": 0}
    campaign = store.get_campaign("busy")
    # complained: every fifth; bounced hard: every fourth but not fifth; the rest delivered.
    assert campaign["complained"] == 8
    assert campaign["hard_bounced"] == 10 - 2
    assert campaign["delivered"] == 40 - 8 - 8
    assert (campaign["deferred"], campaign["soft_bounced"]) == (0, 0)
    assert len(store.list_suppressions(limit=100)) == 16
