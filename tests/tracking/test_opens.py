"""Open events as the pixel path stores them, breakdowns, bursts and reclassification."""

import time

import pytest

from app.rules.bursts import BurstTracker
from app.rules.storage import truncate_ip
from app.tracking.reclassify import reclassify

HTML = "<body>x</body>"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("192.0.2.77", "192.0.2.0"),
        ("2001:db8:1:2::5", "2001:db8:1::"),
        ("::ffff:192.0.2.9", "192.0.2.0"),
        ("nonsense", None),
        (None, None),
    ],
)
def test_truncate_ip(ip, network):
    assert truncate_ip(ip) == network


def test_burst_needs_many_different_messages_from_one_network():
    tracker = BurstTracker(messages=3, seconds=5)
    assert not tracker.is_burst("192.0.2.1", "m1", 100.0)
    assert not tracker.is_burst("192.0.2.2", "m1", 100.1)
    assert not tracker.is_burst("192.0.2.3", "m2", 100.2)
    assert not tracker.is_burst("198.51.100.1", "m3", 100.3)
    assert tracker.is_burst("192.0.2.4", "m3", 100.4)
    # Long after, the same network is quiet again.
    assert not tracker.is_burst("192.0.2.4", "m4", 200.0)


@pytest.fixture
def opened_campaign(client, auth, campaign, flush):
    body = {"html": HTML, "recipients": [f"r{i}@x" for i in range(6)]}
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    agents = [IPHONE, IPHONE, OUTLOOK, GMAIL, "Mozilla/5.0", None]
    for message, agent in zip(messages, agents, strict=True):
        if agent:
            path = "/o/" + message["pixel_url"].split("/o/")[1]
            client.get(path, headers={"User-Agent": agent})
            client.get(path, headers={"User-Agent": agent})
    # A HEAD prefetch of an otherwise unopened message is a machine fetch.
    client.head("/o/" + messages[5]["pixel_url"].split("/o/")[1])
    flush()
    return messages


def stats(client, auth):
    return client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()


def test_breakdowns_count_opens_and_first_openers(client, auth, opened_campaign):
    breakdowns = stats(client, auth)["breakdowns"]
    clients = {row["value"]: row for row in breakdowns["client"]}
    assert clients["Apple Mail"]["openers"] == 2
    assert clients["Apple Mail"]["opens"] >= 4
    assert clients["Gmail"]["openers"] == 1
    sources = {row["value"]: row for row in breakdowns["source"]}
    assert sources["apple_mpp"]["machine_opens"] == 2
    assert sources["apple_mpp"]["openers"] == 0
    assert sources["prefetch"]["machine_opens"] == 1
    assert sources["gmail_proxy"]["human_opens"] == 2
    for rows in breakdowns.values():
        assert sum(row["opens"] for row in rows) == 11
        assert sum(row["share"] for row in rows) == pytest.approx(1, abs=0.001)
    devices = {row["value"] for row in breakdowns["device"]}
    assert "phone" in devices


def test_reclassify_rebuilds_exactly_what_the_pixel_path_counted(
    client, auth, store, opened_campaign
):
    before = stats(client, auth)
    messages_before = [store.get_message(m["message_id"]) for m in opened_campaign]
    result = reclassify(store, None, 60, "nov-news")
    assert (result["events"], result["changed"]) == (11, 0)
    after = stats(client, auth)
    assert after == before
    assert [store.get_message(m["message_id"]) for m in opened_campaign] == messages_before


def test_reclassify_applies_changed_rules(client, auth, store, opened_campaign, monkeypatch):
    import app.tracking.reclassify
    from app.rules.classify import Verdict

    def everything_is_a_bot(fetch, networks=None, window=60):
        return Verdict("unknown", None, "unknown", "unknown", "machine", "bot", "test rule")

    monkeypatch.setattr(app.tracking.reclassify, "classify", everything_is_a_bot)
    result = reclassify(store, None, 60)
    assert result["changed"] == 11
    numbers = stats(client, auth)
    assert (numbers["opened"], numbers["unknown"], numbers["not_opened"]) == (0, 0, 6)
    assert numbers["machine_opens"] == 11
    assert numbers["fetched"] == 6
    message = store.get_message(opened_campaign[0]["message_id"])
    assert message["state"] == "not_opened"
    assert message["first_open_at"] is None


def test_reclassify_command(runner, opened_campaign):
    result = runner.invoke(args=["reclassify", "nov-news"])
    assert result.exit_code == 0, result.output
    assert "11 events looked at" in result.stdout
    assert runner.invoke(args=["reclassify", "nope"]).exit_code != 0


def test_event_keeps_the_raw_facts(client, auth, store, opened_campaign):
    message = store.get_message(opened_campaign[0]["message_id"])
    event = message["events"][0]
    assert event["user_agent"] == IPHONE
    assert event["ip"] == "127.0.0.0"
    assert event["method"] == "GET"
    assert 0 <= event["seconds_since_send"] < time.time()
    assert event["client"] == "Apple Mail"
    assert event["device"] == "phone"


def test_a_broken_network_list_does_not_stop_recording(app, client, auth, campaign, store, flush):
    from app.rules.network_sources import SOURCES

    folder = app.instance_path + "/networks"
    import os

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, SOURCES["scanners"].filename), "wb") as broken:
        broken.write(b"\xff\xfe not a list \x00\n")
    body = {"recipient": "a@x", "html": HTML}
    message = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()
    client.get("/o/" + message["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
    flush()
    assert store.count_events() == 1


def test_a_burst_split_across_instances_is_seen_whole(store):
    from app.rules.bursts import BURST_MESSAGES
    from app.tracking.writer import record_fetches

    store.create_campaign("split", "Split")
    messages = store.register_messages(
        "split", [(f"s{n}@x.org", None, True) for n in range(BURST_MESSAGES)]
    )
    now = time.time()
    lines = [
        [f"key-{n}", m["id"], now + n * 0.1, f"203.0.113.{n + 1}", IPHONE, "GET", None, None]
        for n, m in enumerate(messages)
    ]
    # Two instances, each with its own tracker, get every other fetch of one network.
    first, second = BurstTracker(), BurstTracker()
    for n, line in enumerate(lines):
        record_fetches(store, [line], None, 0, first if n % 2 else second)
    sources = [store.get_message(m["id"])["events"][0]["source"] for m in messages]
    # Alone, neither instance saw the 10 messages a burst needs; together they did.
    assert sources[-1] == "scanner" and sources[:-1].count("scanner") == 0


def test_a_burst_only_counts_messages_seen_within_the_window():
    tracker = BurstTracker(messages=3, seconds=5)
    elsewhere = frozenset({"m1", "m2"})
    assert not tracker.is_burst("192.0.2.1", "m1", 100.0, elsewhere)
    assert tracker.is_burst("192.0.2.1", "m3", 100.1, elsewhere)


def test_only_networks_not_in_a_burst_here_are_asked_what_others_saw(store, monkeypatch):
    from app.rules.bursts import BURST_MESSAGES
    from app.tracking.writer import record_fetches

    store.create_campaign("asked", "Asked")
    messages = store.register_messages(
        "asked", [(f"a{n}@x.org", None, True) for n in range(BURST_MESSAGES + 3)]
    )
    asked = []
    recent_fetches = store.recent_fetches

    def spy(networks, since):
        asked.append(set(networks))
        return recent_fetches(networks, since)

    monkeypatch.setattr(store, "recent_fetches", spy)
    now, tracker = time.time(), BurstTracker()
    scanner = [
        [f"s-{n}", m["id"], now + n * 0.1, f"203.0.113.{n + 1}", IPHONE, "GET", None, None]
        for n, m in enumerate(messages)
    ]
    # The first batch makes the burst here: its network is asked about (its early fetches were
    # not in a burst on this process's own fetches yet).
    record_fetches(store, scanner[:BURST_MESSAGES], None, 0, tracker)
    assert asked == [{"203.0.113.0"}]
    # Later fetches of that network are in a burst here whatever others saw: only the other
    # network is asked about, and the verdicts are what the burst makes them.
    person = ["p-1", messages[0]["id"], now + 1.5, "198.51.100.7", IPHONE, "GET", None, None]
    record_fetches(store, [*scanner[BURST_MESSAGES:], person], None, 0, tracker)
    assert asked[1:] == [{"198.51.100.0"}]
    sources = [store.get_message(m["id"])["events"][-1]["source"] for m in messages]
    assert sources[BURST_MESSAGES - 1 :] == ["scanner"] * 4
    assert sources[: BURST_MESSAGES - 1].count("scanner") == 0
    assert store.count_events("asked") == len(messages) + 1
