"""The delivery worker against a real HTTP receiver on 127.0.0.1."""

import time

import pytest
from webhook_receiver import Receiver

from app.core.webhooks import verify
from app.tracking.writer import settle
from app.worker import DeliveryWorker

pytestmark = pytest.mark.slow

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
HTML = '<body><a href="https://shop.example/x">x</a></body>'


@pytest.fixture
def app_settings():
    """An app that may call a receiver on 127.0.0.1, with no scanner window."""
    return {"WEBHOOK_ALLOW_PRIVATE": True, "SCANNER_WINDOW_SECONDS": 0}


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def register(client, auth, url, **options):
    body = {"url": url, "events": ["open", "first_open", "click", "machine_open"], **options}
    response = client.post("/api/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def opens(client, auth, flush, agents):
    """Inject one message per user agent and fetch each pixel with it."""
    body = {"html": HTML, "recipients": [f"r{i}@x.org" for i in range(len(agents))]}
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    for message, agent in zip(messages, agents, strict=True):
        client.get("/o/" + message["pixel_url"].split("/o/")[1], headers={"User-Agent": agent})
    flush()
    return messages


def drain(store, **options):
    worker = DeliveryWorker(store, timeout=5, allow_private=True, backoff=lambda n: 0, **options)
    for _ in range(50):
        if not worker.run_once() and not store.claim_owners(""):
            pending = store.db.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
            ).fetchone()[0]
            if not pending:
                break
    worker.pool.shutdown()
    return worker


def test_signed_ordered_deliveries_retried_after_500s(client, auth, campaign, store, flush):
    receiver = Receiver(fail_first=2)
    try:
        webhook = register(client, auth, receiver.url)
        messages = opens(client, auth, flush, [IPHONE, "Mozilla/5.0", IPHONE])
        client.get("/o/" + messages[0]["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
        flush()
        drain(store)
        outbox = store.list_deliveries(webhook["id"], limit=100)[::-1]
        assert [d["event_type"] for d in outbox] == [
            "open",
            "first_open",
            "machine_open",
            "open",
            "first_open",
            "open",
        ]
        assert all(d["status"] == "delivered" for d in outbox)
        # The first event failed twice and came again, with the same id, before any other.
        ids = [d["event_id"] for d in outbox]
        assert receiver.all_ids() == [ids[0], ids[0], *ids]
        assert outbox[0]["attempts"] == 3 and outbox[0]["last_status"] == 200
        answered = receiver.answered()
        assert [body["id"] for body in answered] == ids  # in order, each once
        now = time.time()
        for headers, body, _ in receiver.requests:
            assert verify(webhook["secret"], headers["Opentrack-Signature"], body, now)
            assert headers["Content-Type"] == "application/json"
        first = answered[1]
        assert first["type"] == "first_open" and first["recipient"] == "r0@x.org"
        assert first["campaign_id"] == "nov-news"
        assert first["message_id"] == messages[0]["message_id"]
        assert (first["verdict"], first["source"], first["client"]) == (
            "human",
            "direct",
            "Apple Mail",
        )
        assert {"os", "device", "country", "at", "created_at"} <= set(first)
        assert answered[2]["verdict"] == "machine" and answered[2]["source"] == "apple_mpp"
    finally:
        receiver.close()


def test_machine_events_can_be_left_out(client, auth, campaign, store, flush, receiver):
    register(client, auth, receiver.url, include_machine=False)
    register(client, auth, receiver.url, events=["first_open"])
    opens(client, auth, flush, [IPHONE, "Mozilla/5.0"])
    drain(store)
    assert sorted(body["type"] for body in receiver.answered()) == [
        "first_open",
        "first_open",
        "open",
    ]


def test_a_click_is_delivered_with_its_url(client, auth, campaign, store, flush, receiver):
    register(client, auth, receiver.url, events=["click", "first_open"])
    body = {"html": HTML, "recipient": "ann@x.org", "track_clicks": True}
    message = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()
    path = message["html"].split('href="http://localhost')[1].split('"')[0]
    assert client.get(path, headers={"User-Agent": IPHONE}).status_code == 302
    flush()
    settle(store, now=time.time() + 10)
    drain(store)
    first_open, click = receiver.answered()
    assert (first_open["type"], first_open["source"]) == ("first_open", "click")
    assert (click["type"], click["url"], click["verdict"]) == (
        "click",
        "https://shop.example/x",
        "human",
    )


def test_other_4xx_gives_up_and_redeliver_sends_again(client, auth, campaign, store, flush):
    receiver = Receiver(fail_first=1, fail_status=410)
    try:
        webhook = register(client, auth, receiver.url, events=["first_open"])
        opens(client, auth, flush, [IPHONE])
        drain(store)
        url = f"/api/v1/webhooks/{webhook['id']}/deliveries"
        [failed] = client.get(url + "?status=failed", headers=auth).get_json()["deliveries"]
        assert (failed["attempts"], failed["last_status"]) == (1, 410)
        shown = client.get(f"/api/v1/webhooks/{webhook['id']}", headers=auth).get_json()
        assert (
            shown["deliveries"]["failed"] == 1 and shown["recent_failures"][0]["id"] == failed["id"]
        )
        again = client.post(f"{url}/{failed['id']}/redeliver", headers=auth)
        assert again.status_code == 202 and again.get_json()["status"] == "pending"
        assert client.post(f"{url}/999/redeliver", headers=auth).status_code == 404
        assert client.post(f"{url}/x/redeliver", headers=auth).status_code == 404
        drain(store)
        ids = receiver.all_ids()
        assert len(ids) == 2 and ids[0] == ids[1]
        assert store.list_deliveries(webhook["id"])[0]["status"] == "delivered"
        bad = client.get(url + "?status=odd", headers=auth)
        assert bad.status_code == 400 and "'status'" in bad.get_json()["error"]["message"]
    finally:
        receiver.close()


def test_retries_stop_when_the_window_is_over(client, auth, campaign, store, flush):
    receiver = Receiver(fail_first=100)
    try:
        webhook = register(client, auth, receiver.url, events=["first_open"])
        opens(client, auth, flush, [IPHONE])
        worker = DeliveryWorker(store, timeout=5, allow_private=True, retry_hours=0)
        worker.run_once()
        worker.pool.shutdown()
        [delivery] = store.list_deliveries(webhook["id"])
        assert (delivery["status"], delivery["last_status"]) == ("failed", 500)
    finally:
        receiver.close()


def test_timeouts_and_refused_addresses(client, auth, campaign, store, flush):
    slow = Receiver(delay=1.0)
    try:
        webhook = register(client, auth, slow.url, events=["first_open"])
        opens(client, auth, flush, [IPHONE])
        worker = DeliveryWorker(store, timeout=0.2, allow_private=True, backoff=lambda n: 60)
        worker.run_once()
        [delivery] = store.list_deliveries(webhook["id"])
        assert delivery["status"] == "pending" and "timed out" in delivery["last_error"]
        assert delivery["next_attempt_at"] > time.time() + 30
        # A worker not allowed private addresses refuses to send at all.
        store.redeliver(webhook["id"], delivery["id"])
        strict = DeliveryWorker(store, timeout=5, allow_private=False)
        strict.run_once()
        [delivery] = store.list_deliveries(webhook["id"])
        assert delivery["status"] == "failed" and "private address" in delivery["last_error"]
        assert len(slow.requests) == 1
    finally:
        slow.close()


def test_outbox_rows_share_the_events_transaction(client, auth, campaign, store, flush, receiver):
    register(client, auth, receiver.url)
    original = store.webhooks._enqueue

    def broken(items):
        original(items)
        raise RuntimeError("disk full")

    store.webhooks._enqueue = broken
    with pytest.raises(RuntimeError):
        opens(client, auth, flush, [IPHONE])
    assert store.count_events() == 0
    assert store.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0] == 0
    del store.webhooks._enqueue
    flush()  # the spool kept the fetch: now it is stored with its deliveries
    assert store.count_events() == 1
    assert store.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0] == 2


def test_a_dead_workers_leases_are_taken_over(client, auth, campaign, store, flush, receiver):
    register(client, auth, receiver.url, events=["first_open"])
    opens(client, auth, flush, [IPHONE])
    # A worker on some host claimed the delivery and died; its lease runs out.
    [claimed] = store.claim_deliveries("worker-dead", lease_seconds=0.5)
    worker = DeliveryWorker(store, allow_private=True)
    assert worker.run_once() == 0  # still leased to the dead worker
    time.sleep(0.6)
    assert worker.run_once() == 1  # the lease expired: taken over and sent
    worker.pool.shutdown()
    assert receiver.all_ids() == [claimed["event_id"]]
