"""Follow-up rules over the API, fired by the worker's use case with the time passed in."""

import csv
import io
import logging
import threading
import time
from urllib.parse import urlsplit

import pytest

from app.core import automations as rules
from app.core.stats import campaign_summary
from app.core.times import from_iso, to_iso
from app.core.tokens import list_serializer, mint_list_token
from app.store import Store
from app.tracking.writer import settle
from app.worker import DeliveryWorker

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
HOUR = 3600
URL = "/api/v1/campaigns/nov-news/automations"


@pytest.fixture
def links(app):
    """The download-address signer the worker would use."""
    return rules.list_links(app.config)


@pytest.fixture
def sent(client, auth, campaign, flush):
    """nov-news sent to four: ann opened, bob only through Apple MPP, cat and dan did not."""
    body = {
        "html": "<body>x</body>",
        "recipients": ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"],
    }
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    for message, agent in zip(messages[:2], [IPHONE, "Mozilla/5.0"], strict=True):
        open_pixel(client, message, agent)
    flush()
    return messages


def open_pixel(client, message, agent=IPHONE):
    client.get("/o/" + message["pixel_url"].split("/o/")[1], headers={"User-Agent": agent})


def add_rule(client, auth, after_hours=72, audience="not_opened", follow_up="nov-auto", **more):
    follow_up = follow_up if isinstance(follow_up, dict) else {"id": follow_up}
    body = {"after_hours": after_hours, "audience": audience, "follow_up": follow_up}
    return client.post(URL, json={**body, **more}, headers=auth)


def due(store, rule_id) -> float:
    return rules.due_at(store.get_automation(rule_id))


def download(client, address: str):
    """GET a download address by its path, with no API key."""
    return client.get(urlsplit(address).path)


def recipients(response) -> list[str]:
    return sorted(row["recipient"] for row in csv.DictReader(io.StringIO(response.text)))


def test_a_rule_fires_once_at_its_time_with_the_right_recipients(
    client, auth, sent, store, links, flush
):
    response = add_rule(client, auth, follow_up={"id": "nov-auto", "name": "Nov again"})
    assert response.status_code == 201, response.get_json()
    rule = response.get_json()
    assert rule["state"] == "scheduled" and rule["counts_from"] == "last_injection"
    assert rule["recipients_now"] == 2 and rule["follow_up"]["name"] == "Nov again"
    injected = store.get_campaign("nov-news")["last_injected_at"]
    assert from_iso(rule["due_at"]) == pytest.approx(from_iso(injected) + 72 * HOUR, abs=0.002)

    at = due(store, rule["id"])
    assert rules.fire_due(store, at - 1, "w1", links) == []
    assert store.get_campaign("nov-auto") is None
    fired = rules.fire_due(store, at + 1, "w1", links)
    assert [(f.state, f.recipients) for f in fired] == [("fired", 2)]
    assert rules.fire_due(store, at + 2, "w2", links) == []  # once only

    listed = client.get(URL, headers=auth).get_json()["automations"]
    assert [r["state"] for r in listed] == ["fired"]
    assert listed[0]["recipients"] == 2 and listed[0]["late_seconds"] == pytest.approx(1, abs=0.01)
    # The follow-up campaign, linked as the follow-ups endpoint links it.
    follow_up = store.get_follow_up("nov-auto")
    assert follow_up["parent_id"] == "nov-news" and follow_up["audience"] == "not_opened"
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert stats["follow_ups"] == ["nov-auto"]
    # The downloaded list is the follow-up's recipients, with no API key.
    got = download(client, listed[0]["download"]["csv"])
    assert got.status_code == 200 and recipients(got) == ["cat@x.org", "dan@x.org"]
    api = client.get("/api/v1/campaigns/nov-auto/follow-up-recipients?format=csv", headers=auth)
    assert recipients(got) == recipients(api)
    as_json = download(client, listed[0]["download"]["json"]).get_json()
    assert [r["recipient"] for r in as_json["recipients"]] == [
        r["recipient"] for r in csv.DictReader(io.StringIO(api.text))
    ]


def test_an_opener_before_the_due_time_is_left_out_and_the_list_stays_frozen(
    client, auth, sent, store, links, flush
):
    rule = add_rule(client, auth).get_json()
    open_pixel(client, sent[2])  # cat opens before the rule is due
    flush()
    fired = rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    assert fired[0].recipients == 1
    frozen = [row["recipient"] for row in store.iter_frozen_recipients(rule["id"])]
    assert frozen == ["dan@x.org"]
    open_pixel(client, sent[3])  # dan opens after: the frozen list keeps him, as it was sent
    flush()
    assert [row["recipient"] for row in store.iter_frozen_recipients(rule["id"])] == frozen


def test_two_workers_racing_fire_a_rule_once(app, client, auth, sent, store, links):
    ids = [add_rule(client, auth, follow_up=f"race-{n}").get_json()["id"] for n in range(4)]
    at = max(due(store, rule_id) for rule_id in ids) + 1
    # Two workers with stores of their own (their own connections), started together.
    stores = [Store(app.config["DATABASE"]) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list] = [[], []]

    def work(n):
        barrier.wait()
        results[n] = rules.fire_due(stores[n], at, f"w{n}", links)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in stores:
        other.close()
    fired = [f.automation_id for result in results for f in result]
    assert sorted(fired) == sorted(ids)  # each rule once, by one worker or the other
    for rule_id in ids:
        rule = store.get_automation(rule_id)
        assert rule["state"] == "fired" and rule["fired_by"] in ("w0", "w1")
        assert len(list(store.iter_frozen_recipients(rule_id))) == 2
    assert sorted(store.follow_up_ids("nov-news")) == [f"race-{n}" for n in range(4)]


@pytest.mark.postgresql_only
def test_a_rule_held_by_one_worker_is_skipped_by_another(client, auth, sent, store, links, app):
    rule = add_rule(client, auth).get_json()
    at = due(store, rule["id"]) + 1
    other = Store(app.config["DATABASE"])
    try:
        with store.atomic():
            assert store.lock_scheduled(rule["id"]) is not None
            started = time.monotonic()
            # SKIP LOCKED: the other worker passes at once instead of waiting for the lock.
            assert rules.fire(other, rule["id"], at, "w2", links) is None
            assert time.monotonic() - started < 5
    finally:
        other.close()
    assert rules.fire(store, rule["id"], at, "w1", links).state == "fired"


def test_a_worker_down_through_the_due_time_fires_on_start_and_says_how_late(
    client, auth, sent, store, links, caplog
):
    rule = add_rule(client, auth, after_hours=2).get_json()
    at = due(store, rule["id"]) + 5 * HOUR  # nothing ran for five hours after it was due
    worker = DeliveryWorker(store, timeout=1, list_links=links, clock=lambda: at)
    with caplog.at_level(logging.WARNING, logger="app.core.automations"):
        worker.run_once()
    worker.pool.shutdown()
    fired = client.get(f"{URL}/{rule['id']}", headers=auth).get_json()
    assert fired["state"] == "fired" and fired["late_seconds"] == pytest.approx(5 * HOUR, abs=1)
    assert "18000 seconds late" in caplog.text
    assert fired["due_at"] == to_iso(at - 5 * HOUR)


def test_a_cancelled_rule_never_fires(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    response = client.delete(f"{URL}/{rule['id']}", headers=auth)
    assert response.status_code == 204
    assert rules.fire_due(store, time.time() + 100 * 24 * HOUR, "w1", links) == []
    assert store.get_campaign("nov-auto") is None
    assert client.get(URL, headers=auth).get_json()["automations"][0]["state"] == "cancelled"
    assert client.delete(f"{URL}/{rule['id']}", headers=auth).status_code == 204  # idempotent
    # Its follow-up id is free again.
    assert add_rule(client, auth).status_code == 201


def test_a_fired_rule_cannot_be_cancelled(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    response = client.delete(f"{URL}/{rule['id']}", headers=auth)
    assert response.status_code == 409 and "fired" in response.get_json()["error"]["message"]
    assert client.delete(f"{URL}/au_nope", headers=auth).status_code == 404


def test_an_expired_download_address_is_refused(client, auth, sent, store, links, app):
    rule = add_rule(client, auth).get_json()
    now = due(store, rule["id"]) + 1
    rules.fire_due(store, now, "w1", links)
    fired = store.get_automation(rule["id"])
    address = links.for_rule(fired, time.time())["csv"]
    assert download(client, address).status_code == 200
    serializer = list_serializer(app.config["SECRET_KEYS"])
    expired = mint_list_token(serializer, rule["id"], int(time.time()) - 1)
    response = client.get(f"/follow-up-lists/{expired}.csv")
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "expired"
    # The address is signed: changing the rule id or the expiry breaks it.
    token = address.rsplit("/", 1)[1].removesuffix(".csv")
    assert client.get(f"/follow-up-lists/{token[:-2]}xx.csv").status_code == 404
    other = mint_list_token(list_serializer(["another secret"]), rule["id"], int(now) + 99)
    assert client.get(f"/follow-up-lists/{other}.csv").status_code == 404
    assert client.get(f"/follow-up-lists/{token}.xml").status_code == 404


def test_the_webhook_event_carries_counts_and_the_address(client, auth, sent, store, links):
    store.create_webhook("https://hooks.example.com/x", ["follow_up_ready"], True, None)
    rule = add_rule(client, auth).get_json()
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    webhook = store.list_webhooks()[0]
    [delivery] = store.list_deliveries(webhook["id"])
    body = delivery["payload"]
    assert body["type"] == "follow_up_ready" and body["automation_id"] == rule["id"]
    assert body["counts"]["recipients"] == 2 and body["counts"]["sent"] == 4
    assert body["counts"]["opened"] == 1 and body["counts"]["unknown"] == 1
    assert body["follow_up"] == {"id": "nov-auto", "name": "nov-auto"}
    assert recipients(download(client, body["download"]["csv"])) == ["cat@x.org", "dan@x.org"]


def test_notify_false_queues_no_event(client, auth, sent, store, links):
    store.create_webhook("https://hooks.example.com/x", ["follow_up_ready"], True, None)
    rule = add_rule(client, auth, notify=False).get_json()
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    assert store.list_deliveries(store.list_webhooks()[0]["id"]) == []


def test_unknown_audience_includes_mpp_recipients(client, auth, sent, store, links):
    rule = add_rule(client, auth, audience="not_opened_or_unknown").get_json()
    assert rule["recipients_now"] == 3
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    frozen = sorted(row["recipient"] for row in store.iter_frozen_recipients(rule["id"]))
    assert frozen == ["bob@x.org", "cat@x.org", "dan@x.org"]


def test_sent_at_set_by_patch_is_what_a_rule_counts_from(client, auth, sent, store):
    rule = add_rule(client, auth, after_hours=24).get_json()
    campaign = "/api/v1/campaigns/nov-news"
    response = client.patch(campaign, json={"sent_at": "2026-11-03T09:00:00+01:00"}, headers=auth)
    assert response.status_code == 200 and response.get_json()["sent_at"] == (
        "2026-11-03T08:00:00.000Z"
    )
    shown = client.get(f"{URL}/{rule['id']}", headers=auth).get_json()
    assert shown["due_at"] == "2026-11-04T08:00:00.000Z" and shown["counts_from"] == "sent_at"
    bad = client.patch(campaign, json={"sent_at": "yesterday"}, headers=auth)
    assert bad.status_code == 400 and "'sent_at'" in bad.get_json()["error"]["message"]
    naive = client.patch(campaign, json={"sent_at": "2026-11-03T09:00:00"}, headers=auth)
    assert naive.status_code == 400
    cleared = client.patch(campaign, json={"sent_at": None}, headers=auth).get_json()
    assert cleared["sent_at"] is None
    shown = client.get(f"{URL}/{rule['id']}", headers=auth).get_json()
    assert shown["counts_from"] == "last_injection"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"after_hours": 72, "audience": "everyone", "follow_up": {"id": "a"}}, "audience"),
        ({"after_hours": 0.5, "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": 2161, "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": "72", "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": True, "follow_up": {"id": "a"}}, "after_hours"),
        ({"follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": 72}, "follow_up"),
        ({"after_hours": 72, "follow_up": {"id": "Bad Id"}}, "follow_up.id"),
        ({"after_hours": 72, "follow_up": {"id": "a", "extra": 1}}, "follow_up.extra"),
        ({"after_hours": 72, "follow_up": {"id": "a", "name": ""}}, "follow_up.name"),
        ({"after_hours": 72, "follow_up": {"id": "a"}, "notify": "yes"}, "notify"),
        ({"after_hours": 72, "follow_up": {"id": "a"}, "when": 1}, "when"),
        ({"after_hours": 72, "follow_up": {"id": "nov-news"}}, "follow_up.id"),
    ],
)
def test_bad_rules_are_400s_naming_the_field(client, auth, sent, body, field):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 400, response.get_json()
    assert f"'{field}'" in response.get_json()["error"]["message"]
    assert client.get(URL, headers=auth).get_json()["automations"] == []


def test_a_follow_up_id_held_by_another_rule_is_taken(client, auth, sent):
    assert add_rule(client, auth).status_code == 201
    response = add_rule(client, auth, after_hours=96)
    assert (
        response.status_code == 400 and "'follow_up.id'" in response.get_json()["error"]["message"]
    )


def test_untracked_campaigns_and_click_audiences_without_clicks_are_refused(client, auth):
    client.post("/api/v1/campaigns", json={"id": "quiet", "track": False}, headers=auth)
    body = {"after_hours": 72, "follow_up": {"id": "quiet-again"}}
    response = client.post("/api/v1/campaigns/quiet/automations", json=body, headers=auth)
    assert response.status_code == 422 and "not tracked" in response.get_json()["error"]["message"]
    client.post("/api/v1/campaigns", json={"id": "plain"}, headers=auth)
    body = {**body, "audience": "not_clicked"}
    response = client.post("/api/v1/campaigns/plain/automations", json=body, headers=auth)
    assert response.status_code == 422 and "clicks" in response.get_json()["error"]["message"]
    missing = client.post("/api/v1/campaigns/nope/automations", json=body, headers=auth)
    assert missing.status_code == 404


def test_rules_need_an_api_key_but_the_list_does_not(client, sent):
    assert client.get(URL).status_code == 401


def test_a_rule_waits_until_the_campaign_is_sent(client, auth, campaign, store, links):
    rule = add_rule(client, auth).get_json()
    assert rule["due_at"] is None
    assert rules.fire_due(store, time.time() + 1000 * HOUR, "w1", links) == []


def test_a_follow_up_id_taken_meanwhile_fails_the_rule_with_a_reason(
    client, auth, sent, store, links
):
    rule = add_rule(client, auth).get_json()
    client.post("/api/v1/campaigns", json={"id": "nov-auto"}, headers=auth)
    [firing] = rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    assert firing.state == "failed"
    shown = client.get(f"{URL}/{rule['id']}", headers=auth).get_json()
    assert shown["state"] == "failed" and "nov-auto" in shown["error"]


def test_deleting_the_campaign_removes_its_rules(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    assert client.delete("/api/v1/campaigns/nov-news", headers=auth).status_code == 204
    assert store.get_automation(rule["id"]) is None
    assert list(store.iter_frozen_recipients(rule["id"])) == []


def test_erasing_a_recipient_takes_them_off_frozen_lists(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    store.erase_recipient("cat@x.org", "test")
    assert [r["recipient"] for r in store.iter_frozen_recipients(rule["id"])] == ["dan@x.org"]


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def clicked(app, client, auth, flush, store):
    """shop sent to four with a tracked link: ann clicked, bob opened only, cat and dan nothing."""
    app.config["SCANNER_WINDOW_SECONDS"] = 0
    client.post("/api/v1/campaigns", json={"id": "shop", "track_clicks": True}, headers=auth)
    body = {
        "html": '<body><a href="https://shop.example/sale">Sale</a></body>',
        "recipients": ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"],
    }
    messages = client.post("/api/v1/campaigns/shop/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    link = messages[0]["html"].split('href="http://localhost')[1].split('"')[0]
    assert client.get(link, headers={"User-Agent": FIREFOX}).status_code == 302
    open_pixel(client, messages[1])
    flush()
    settle(store, now=time.time() + 10)
    return messages


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("not_clicked", ["bob@x.org", "cat@x.org", "dan@x.org"]),
        ("opened_not_clicked", ["bob@x.org"]),
        ("not_opened", ["cat@x.org", "dan@x.org"]),
    ],
)
def test_click_audiences(client, auth, clicked, store, links, audience, expected):
    response = client.post(
        "/api/v1/campaigns/shop/automations",
        json={"after_hours": 24, "audience": audience, "follow_up": {"id": "shop-again"}},
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["recipients_now"] == len(expected)
    # The dashboard's previews, from the counters, agree with the count.
    quick = rules.quick_previews(store, campaign_summary(store.get_campaign("shop")), time.time())
    assert quick[audience] == len(expected)
    rule_id = response.get_json()["id"]
    rules.fire_due(store, due(store, rule_id) + 1, "w1", links)
    frozen = sorted(row["recipient"] for row in store.iter_frozen_recipients(rule_id))
    assert frozen == expected
    # The follow-up campaign's own recipients follow the same audience.
    api = client.get("/api/v1/campaigns/shop-again/follow-up-recipients", headers=auth).get_json()
    assert sorted(row["recipient"] for row in api["recipients"]) == expected
    assert set(api["states"]) == set(rules.AUDIENCES[audience].states)


def test_opted_out_recipients_are_left_out(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    client.post("/api/v1/suppressions", json={"recipient": "dan@x.org"}, headers=auth)
    assert add_rule(client, auth, follow_up="nov-2").get_json()["recipients_now"] == 1
    quick = rules.quick_previews(
        store, campaign_summary(store.get_campaign("nov-news")), time.time()
    )
    assert quick["not_opened"] == 1 and quick["not_opened_or_unknown"] == 2
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    assert [row["recipient"] for row in store.iter_frozen_recipients(rule["id"])] == ["cat@x.org"]


def test_bounced_and_complaining_recipients_are_left_out(client, auth, sent, store, links):
    rule = add_rule(client, auth).get_json()
    events = [
        {"message_id": sent[2]["message_id"], "event": "bounced", "bounce_type": "hard"},
        {"message_id": sent[3]["message_id"], "event": "delivered"},
    ]
    for number, event in enumerate(events):
        event["provider_event_id"] = f"esp-{number}"
    response = client.post("/api/v1/delivery-events/generic", json={"events": events}, headers=auth)
    assert response.status_code == 200, response.get_json()
    assert add_rule(client, auth, follow_up="nov-2").get_json()["recipients_now"] == 1
    rules.fire_due(store, due(store, rule["id"]) + 1, "w1", links)
    # cat bounced: the rule's list keeps only dan, who was delivered and did not open.
    assert [row["recipient"] for row in store.iter_frozen_recipients(rule["id"])] == ["dan@x.org"]
