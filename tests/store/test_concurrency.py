"""Several writer processes on one database: every write path stays exact.

On SQLite one writer goes at a time; on PostgreSQL the store takes row locks in id order,
claims rows with SKIP LOCKED and counts in single statements. Each test would fail on a
read-then-write store: counts lost, clicks settled twice, deliveries leased twice.
"""

import multiprocessing
import time
import uuid

import pytest

from app.core.times import now_iso
from app.rules import clicks as click_rules
from app.store import Store

pytestmark = pytest.mark.slow
PROCESSES = 4


def run_all(target, *args) -> list:
    """Run target(database, index, *args) in PROCESSES fresh processes; return their results."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        return pool.starmap(target, [(*args, index) for index in range(PROCESSES)])


def record_open_events(database: str, message_ids: list[str], rounds: int, index: int) -> int:
    """Record one open of every message per round, each with a key of its own."""
    store = Store(database)
    for _ in range(rounds):
        events = [
            {
                "event_key": uuid.uuid4().hex,
                "message_id": message_id,
                "at": now_iso(),
                "verdict": "human" if index % 2 else "machine",
                "source": "direct" if index % 2 else "scanner",
                # One client: an opener counts under the client of their first human open,
                # and writers racing each other store opens of one moment in any order.
                "client": "Apple Mail",
            }
            for message_id in message_ids
        ]
        store.record_opens(events)
    store.close()
    return rounds * len(message_ids)


def test_counters_stay_exact_with_concurrent_writers(app, store):
    store.create_campaign("busy", "Busy")
    messages = store.register_messages("busy", [(f"r{n}@x.org", None, True) for n in range(20)])
    ids = [message["id"] for message in messages]
    written = sum(run_all(record_open_events, app.config["DATABASE"], ids, 25))
    campaign = store.get_campaign("busy")
    assert campaign["total_opens"] == written == store.count_events("busy")
    before = dict(campaign), store.breakdown_counts("busy"), store.hourly_opens("busy")
    store.rebuild_counters("busy")
    after = dict(store.get_campaign("busy")), store.breakdown_counts("busy")
    assert after == before[:2]
    assert store.hourly_opens("busy") == before[2]
    assert campaign["opened"] == 20


def settle_clicks(database: str, index: int) -> int:
    """Settle every due click, as a worker or web process does."""
    store = Store(database)
    settled = 0
    while count := store.settle_clicks(
        now_iso(), click_rules.settle, click_rules.BURST_SECONDS, limit=20
    ):
        settled += count
    store.close()
    return settled


def test_each_click_is_settled_once(app, store):
    store.create_campaign("clicky", "Clicky")
    messages = store.register_messages("clicky", [(f"c{n}@x.org", None, True) for n in range(60)])
    link = store.register_links("clicky", ["https://shop.example/"])["https://shop.example/"]
    clicks = [
        {
            "event_key": uuid.uuid4().hex,
            "message_id": message["id"],
            "link_id": link,
            "at": "2026-01-01T00:00:00.000Z",
            "verdict": "human",
            "source": "click",
            "reason": "a person",
            "seconds_since_send": 100.0,
            **dict.fromkeys(click_rules.OPEN_FIELDS),
        }
        for message in messages
        for _ in range(3)
    ]
    assert store.store_clicks(clicks) == 180
    assert sum(run_all(settle_clicks, app.config["DATABASE"])) == 180
    campaign = store.get_campaign("clicky")
    assert (campaign["clicks"], campaign["clickers"]) == (180, 60)
    assert store.count_unsettled_clicks() == 0
    assert store.link_counts("clicky")[0]["clicks"] == 180


def claim_deliveries(database: str, index: int) -> list[int]:
    """Lease deliveries until none is left, finishing each one."""
    store = Store(database)
    owner = f"worker-{index}"
    taken = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        claimed = store.claim_deliveries(owner, lease_seconds=60, limit=5)
        if not claimed:
            break
        for delivery in claimed:
            taken.append(delivery["id"])
            assert store.finish_delivery(delivery["id"], owner, "delivered", 200, None)
    store.close()
    return taken


def test_no_delivery_is_leased_twice(app, store):
    webhooks = [
        store.create_webhook(f"https://hook{n}.example/", ["open"], True, None) for n in range(40)
    ]
    store.create_campaign("hooked", "Hooked")
    [message] = store.register_messages("hooked", [("h@x.org", None, True)])
    events = [
        {
            "event_key": uuid.uuid4().hex,
            "message_id": message["id"],
            "at": now_iso(),
            "verdict": "human",
            "source": "direct",
        }
        for _ in range(5)
    ]
    store.record_opens(events)
    expected = 5 * len(webhooks)
    taken = [
        delivery
        for result in run_all(claim_deliveries, app.config["DATABASE"])
        for delivery in result
    ]
    assert len(taken) == len(set(taken)) == expected


def fail_sign_ins(database: str, rounds: int, index: int) -> int:
    """Count failed sign-ins against one shared key."""
    store = Store(database)
    for _ in range(rounds):
        store.record_failure(["email:ann@example.com"], time.time())
    store.close()
    return rounds


def test_failed_sign_ins_are_all_counted(app, store):
    total = sum(run_all(fail_sign_ins, app.config["DATABASE"], 25))
    row = store.db.execute(
        "SELECT failures FROM sign_in_failures WHERE key = ?", ["email:ann@example.com"]
    ).fetchone()
    assert row[0] == total
