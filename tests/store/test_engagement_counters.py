"""The per-recipient engagement counters: kept with every change, equal to a recount from the
rows, and read by segments and the engagement endpoint with the answers of the messages."""

import time

import pytest

from app.core import engagement
from app.core.times import to_iso
from app.tracking.reclassify import reclassify
from app.tracking.writer import settle

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MPP = "Mozilla/5.0"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
HTML = '<html><body><a href="https://shop.example/a">A</a></body></html>'
PEOPLE = [f"p{n}@x.org" for n in range(12)]
# Who gets each campaign (oldest first): not everyone gets every one.
SENDS = {
    "c0": PEOPLE,
    "c1": PEOPLE[:9],
    "c2": PEOPLE[3:],
    "c3": PEOPLE,
    "c4": PEOPLE[::2],
}
DAY = 86400


@pytest.fixture
def app_settings():
    """The scanner window off, so that a click right after injection is a person's."""
    return {"SCANNER_WINDOW_SECONDS": 0}


def old_engagement(store, recipient):
    """The engagement endpoint's answer read from every message, as before the counters."""
    messages = store.recipient_messages(recipient)
    if not messages:
        return None
    activity = store.last_human_activity([m["id"] for m in messages])
    return engagement.recipient_engagement(messages, activity, time.time())


def old_segment(store, campaigns, days, mpp_only):
    """The members of a segment from the selected messages themselves, as before the counters."""
    latest = store.latest_campaign_ids(campaigns) if campaigns else None
    since = to_iso(time.time() - days * DAY) if days is not None else None
    members = []
    for recipient in everyone(store):
        chosen = [
            m
            for m in store.recipient_messages(recipient)
            if m["tracked"]
            and m["delivery_status"] not in ("bounced", "complained")
            and m["unsubscribed_at"] is None
            and (latest is None or m["campaign_id"] in latest)
            and (since is None or m["injected_at"] >= since)
        ]
        if not chosen:
            continue
        if mpp_only:
            seen = any(m["state"] == "opened" and m["human_clicks"] == 0 for m in chosen)
            if sum(m["mpp_opens"] for m in chosen) > 0 and not seen:
                members.append(recipient)
        elif not any(engagement.engaged(m) for m in chosen):
            members.append(recipient)
    return members


def everyone(store):
    rows = store.db.execute("SELECT DISTINCT recipient FROM messages ORDER BY recipient")
    return [row[0] for row in rows]


def counters(store):
    rows = store.db.execute("SELECT * FROM engagement ORDER BY recipient")
    return [dict(row) for row in rows]


def check(store):
    """Assert the kept counters equal a recount, and every reading the messages' answer."""
    kept = counters(store)
    store.rebuild_engagement()
    assert kept == counters(store)
    now = time.time()
    for recipient in everyone(store):
        old = old_engagement(store, recipient)
        new = engagement.engagement_of(store, recipient, now)
        assert new == old, recipient
    queries = [
        (campaigns, days, mpp_only)
        for campaigns in (None, 1, 2, 3, 6)
        for days in (None, 2.5, 6.5)
        for mpp_only in (False, True)
        if campaigns or days is not None or mpp_only
    ]
    for campaigns, days, mpp_only in queries:
        _, rows = engagement.inactive_segment(store, campaigns, days, mpp_only, now)
        got = [row["recipient"] for row in rows]
        assert got == old_segment(store, campaigns, days, mpp_only), (campaigns, days, mpp_only)


def address(message):
    """Return an IP of the message's own: one network fetching many messages is a burst."""
    person = int(message["recipient"][1:].split("@")[0])
    return {"REMOTE_ADDR": f"203.0.{person * 8 + int(message['campaign_id'][1:])}.1"}


def pixel(client, message, agent):
    path = "/o/" + message["pixel_url"].split("/o/")[1]
    client.get(path, headers={"User-Agent": agent}, environ_base=address(message))


def clicked(client, message):
    path = message["html"].split('href="http://localhost')[1].split('"')[0]
    client.get(path, headers={"User-Agent": FIREFOX}, environ_base=address(message))


def test_counters_follow_every_change_and_answer_as_the_messages_do(client, auth, store, flush):
    sent = {}
    for age, (cid, people) in zip((9, 7, 5, 3, 1), SENDS.items(), strict=True):
        created = client.post(
            "/api/v1/campaigns", json={"id": cid, "name": cid}, headers=auth
        ).status_code
        assert created == 201
        body = {"html": HTML, "recipients": people, "track_clicks": True}
        answer = client.post(f"/api/v1/campaigns/{cid}/inject", json=body, headers=auth)
        sent[cid] = {m["recipient"]: m for m in answer.get_json()["messages"]}
        store.backdate_campaign(cid, age * DAY)
    untracked = {"id": "quiet", "name": "q", "track": False}
    client.post("/api/v1/campaigns", json=untracked, headers=auth)
    body = {"html": HTML, "recipients": PEOPLE[:4]}
    client.post("/api/v1/campaigns/quiet/inject", json=body, headers=auth)
    check(store)

    # p0 opens everything; p1 and p2 only through Apple's proxy; p3 the newest only; p4 an
    # old campaign after a new one; p5 opens c2, then clicks it (a seen open becomes a
    # click's); p6 proxy opens and clicks.
    for cid in SENDS:
        if "p0@x.org" in sent[cid]:
            pixel(client, sent[cid]["p0@x.org"], IPHONE)
        for who in ("p1@x.org", "p2@x.org", "p6@x.org"):
            if who in sent[cid]:
                pixel(client, sent[cid][who], MPP)
    pixel(client, sent["c4"]["p4@x.org"], IPHONE)
    pixel(client, sent["c3"]["p3@x.org"], IPHONE)
    pixel(client, sent["c2"]["p5@x.org"], IPHONE)
    flush()
    check(store)
    p0 = engagement.engagement_of(store, "p0@x.org", time.time())
    assert (p0["human_opens"], p0["tier"]) == (4, "active")
    assert engagement.engagement_of(store, "p1@x.org", time.time())["mpp_only"]
    pixel(client, sent["c1"]["p4@x.org"], IPHONE)
    pixel(client, sent["c3"]["p7@x.org"], IPHONE)
    pixel(client, sent["c1"]["p7@x.org"], IPHONE)
    clicked(client, sent["c2"]["p5@x.org"])
    clicked(client, sent["c3"]["p6@x.org"])
    clicked(client, sent["c0"]["p8@x.org"])
    flush()
    # Stored, not yet settled: a person's click is their last human click already.
    check(store)
    settle(store, now=time.time() + 10)
    check(store)

    # Delivery: bounces, a complaint, an unsubscription.
    events = [
        {"message_id": sent["c4"]["p8@x.org"]["message_id"], "event": "bounced"},
        {"message_id": sent["c3"]["p9@x.org"]["message_id"], "event": "complained"},
        {"message_id": sent["c3"]["p0@x.org"]["message_id"], "event": "delivered"},
        {"message_id": sent["c4"]["p10@x.org"]["message_id"], "event": "unsubscribed"},
        {"message_id": sent["c3"]["p3@x.org"]["message_id"], "event": "bounced"},
    ]
    answer = client.post("/api/v1/delivery-events/generic", json={"events": events}, headers=auth)
    assert answer.status_code == 200
    check(store)

    reclassify(store, None, 0)
    check(store)
    assert client.delete("/api/v1/recipients/p2@x.org", headers=auth).status_code == 200
    assert client.delete("/api/v1/campaigns/c3", headers=auth).status_code == 204
    check(store)
    # The erased address is gone from the counters; the placeholders count as untracked.
    assert store.engagement_row("p2@x.org") is None
    assert engagement.engagement_of(store, "p2@x.org", time.time()) is None
