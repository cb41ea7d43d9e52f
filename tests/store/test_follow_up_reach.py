"""The combined reach of a follow-up and its parent: a counter kept with each open."""

from app.core.times import to_iso
from app.store.rebuild import BOTH_OPENED

PEOPLE = [f"p{n}@x.org" for n in range(8)]


def opened_both(store, follow_up_id: str) -> int:
    """Return the recipients who opened both campaigns, counted from the messages."""
    return store.db.execute(
        f"SELECT {BOTH_OPENED} FROM follow_ups WHERE campaign_id = ?", [follow_up_id]
    ).fetchone()[0]


def counter(store, follow_up_id: str) -> int:
    return store.db.execute(
        "SELECT both_opened FROM follow_ups WHERE campaign_id = ?", [follow_up_id]
    ).fetchone()[0]


def open_event(message: dict, key: str, verdict: str = "human", source: str = "direct") -> dict:
    return {
        "event_key": key,
        "message_id": message["id"],
        "at": to_iso(1_900_000_000),
        "verdict": verdict,
        "source": source,
        "user_agent": "Thunderbird",
    }


def test_the_counter_follows_opens_in_any_order_and_equals_a_recount(store):
    store.create_campaign("nov", "Nov")
    parent = {
        m["recipient"]: m for m in store.register_messages("nov", [(p, None, True) for p in PEOPLE])
    }
    store.create_follow_up("nov-again", "Nov again", store.get_campaign("nov"), False, 0, "9999")
    again = store.register_messages("nov-again", [(p, None, True) for p in PEOPLE[:6]])
    follow_up = {m["recipient"]: m for m in again}
    # p0: parent, then follow-up. p1: follow-up, then parent. p2: both in one batch.
    # p3: follow-up only. p4: parent only. p5: an MPP fetch of the parent (not an opener).
    store.record_opens([open_event(parent["p0@x.org"], "a")])
    store.record_opens([open_event(follow_up["p0@x.org"], "b")])
    store.record_opens([open_event(follow_up["p1@x.org"], "c")])
    store.record_opens([open_event(parent["p1@x.org"], "d")])
    store.record_opens(
        [open_event(parent["p2@x.org"], "e"), open_event(follow_up["p2@x.org"], "f")]
    )
    store.record_opens([open_event(follow_up["p3@x.org"], "g")])
    store.record_opens([open_event(parent["p4@x.org"], "h")])
    store.record_opens([open_event(parent["p5@x.org"], "i", "machine", "apple_mpp")])
    store.record_opens([open_event(follow_up["p5@x.org"], "j")])
    # A second open of someone already counted moves nothing.
    store.record_opens(
        [open_event(parent["p0@x.org"], "k"), open_event(follow_up["p1@x.org"], "l")]
    )
    assert counter(store, "nov-again") == opened_both(store, "nov-again") == 3
    # Parent openers p0, p1, p2, p4, plus follow-up openers not among them: p3, p5.
    assert store.combined_opened("nov", "nov-again") == 6
    store.rebuild_counters("nov")
    assert counter(store, "nov-again") == 3
    store.db.execute("UPDATE follow_ups SET both_opened = 0")
    store.rebuild_counters("nov-again")
    assert counter(store, "nov-again") == 3
    assert store.combined_opened("nov", "nov-again") == 6


def test_other_campaigns_leave_the_counter_alone(store):
    store.create_campaign("nov", "Nov")
    store.create_campaign("dec", "Dec")
    [nov] = store.register_messages("nov", [("ann@x.org", None, True)])
    [dec] = store.register_messages("dec", [("ann@x.org", None, True)])
    store.create_follow_up("nov-again", "Nov again", store.get_campaign("nov"), False, 0, "9999")
    store.record_opens([open_event(nov, "a"), open_event(dec, "b")])
    assert counter(store, "nov-again") == 0
    assert store.combined_opened("nov", "nov-again") == 1
