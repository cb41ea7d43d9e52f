"""The estimated open rate's counters (Store.opened_signals) against a scan of the messages."""

import time

import pytest

from app.core.times import to_iso
from app.store.rebuild import FILL_SIGNALS
from app.tracking.reclassify import reclassify
from app.tracking.writer import settle

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MPP = "Mozilla/5.0"
HTML = '<html><body><a href="https://shop.example/a">A</a></body></html>'


@pytest.fixture
def app_settings():
    """The scanner window off, so that a click right after injection is a person's."""
    return {"SCANNER_WINDOW_SECONDS": 0}


def scanned(store, campaign_id="nov-news") -> dict:
    """The counts as the old full read of the campaign's opened messages gave them."""
    row = store.db.execute(
        "SELECT count(*) FILTER (WHERE mpp_opens > 0) AS hidden_opened, "
        "count(*) FILTER (WHERE mpp_opens = 0 AND human_clicks > 0) AS visible_opened_clicked "
        "FROM messages WHERE campaign_id = ? AND state = 'opened'",
        [campaign_id],
    ).fetchone()
    return {key: row[key] or 0 for key in ("hidden_opened", "visible_opened_clicked")}


def late_open(message: dict, agent: str, seconds_after_injection: float) -> dict:
    """An open stamped before the ones already stored, arriving now (a replayed spool)."""
    from app.core.times import from_iso

    at = from_iso(message["injected_at"]) + seconds_after_injection
    verdict, source = ("machine", "apple_mpp") if agent == MPP else ("human", "direct")
    return {
        "event_key": f"late-{message['message_id']}-{at}",
        "message_id": message["message_id"],
        "at": to_iso(at),
        "ip": "192.0.2.10",
        "user_agent": agent,
        "method": "GET",
        "verdict": verdict,
        "source": source,
    }


def test_counters_match_a_scan_through_opens_clicks_late_opens_and_reclassify(
    client, auth, campaign, store, flush, monkeypatch
):
    body = {"html": HTML, "recipients": [f"r{i}@x.org" for i in range(9)], "track_clicks": True}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    messages = response.get_json()["messages"]

    def pixel(n, agent, method="GET"):
        path = "/o/" + messages[n]["pixel_url"].split("/o/")[1]
        client.open(path, method=method, headers={"User-Agent": agent})

    def link(n, agent=FIREFOX):
        html = messages[n]["html"]
        path = html.split('href="http://localhost')[1].split('"')[0]
        client.get(path, headers={"User-Agent": agent})

    def settled():
        flush()
        settle(store, now=time.time() + 10)

    def check(expected=None):
        counted = store.opened_signals("nov-news")
        assert counted == scanned(store)
        if expected is not None:
            assert counted == expected

    check({"hidden_opened": 0, "visible_opened_clicked": 0})
    pixel(0, IPHONE)  # 0: opened by a person, clicks later: visible, clicked
    pixel(1, MPP)  # 1: an MPP fetch, then a person's open: hidden
    pixel(1, FIREFOX)
    pixel(2, MPP)  # 2: MPP only (unknown), then a click implies the open: hidden
    pixel(3, FIREFOX, "HEAD")  # 3: a machine prefetch, then a click implies the open
    pixel(4, IPHONE)  # 4: opened, never clicked
    pixel(5, IPHONE)  # 5: opened and clicked, then a late MPP fetch makes it hidden
    pixel(7, IPHONE)  # 7: opened; a bot's click does not count
    flush()
    check({"hidden_opened": 1, "visible_opened_clicked": 0})
    for n in (0, 2, 3, 5):
        link(n)
    link(7, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    settled()
    check({"hidden_opened": 2, "visible_opened_clicked": 3})
    link(0)  # a second click of a clicker moves nothing
    settled()
    check({"hidden_opened": 2, "visible_opened_clicked": 3})
    # Late opens: an MPP fetch of 5 stamped before its first open, and a person's open of 8
    # (no pixel fetch so far) and of 6 (an MPP fetch now, its human open stamped earlier).
    pixel(6, MPP)
    flush()
    store.record_opens(
        [
            late_open(messages[5], MPP, 30),
            late_open(messages[8], IPHONE, 40),
            late_open(messages[6], IPHONE, 50),
        ]
    )
    check({"hidden_opened": 4, "visible_opened_clicked": 2})

    reclassify(store, None, 0)
    check()
    assert store.opened_signals("nov-news")["hidden_opened"] > 0

    import app.tracking.reclassify
    from app.rules.classify import Verdict

    def everything_is_a_bot(fetch, networks=None, window=60):
        return Verdict("unknown", None, "unknown", "unknown", "machine", "bot", "test rule")

    monkeypatch.setattr(app.tracking.reclassify, "classify", everything_is_a_bot)
    reclassify(store, None, 0)
    # Reclassify judges the stored clicks again by the same rules, so every click is a bot's
    # too: no open is left, and no opener who clicked.
    check({"hidden_opened": 0, "visible_opened_clicked": 0})


def test_the_migration_fill_counts_what_a_scan_counts(client, auth, campaign, store, flush):
    body = {"html": HTML, "recipients": [f"r{i}@x.org" for i in range(4)], "track_clicks": True}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    messages = response.get_json()["messages"]
    for n, agents in enumerate([[MPP, IPHONE], [IPHONE], [MPP], []]):
        for agent in agents:
            client.get(
                "/o/" + messages[n]["pixel_url"].split("/o/")[1], headers={"User-Agent": agent}
            )
    flush()
    expected = scanned(store)
    assert expected == {"hidden_opened": 1, "visible_opened_clicked": 0}
    with store.db.write() as conn:
        conn.execute("UPDATE campaigns SET hidden_opened = 0, visible_opened_clicked = 7")
        conn.execute(FILL_SIGNALS)
    assert store.opened_signals("nov-news") == expected
    assert store.opened_signals("no-such-campaign") == {
        "hidden_opened": 0,
        "visible_opened_clicked": 0,
    }
