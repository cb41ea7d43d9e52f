"""End to end: a follow-up rule fired by real `opentrack worker`s, announced to a real receiver.

Real gunicorn and two worker processes from the Procfile on one database; the rule's delay is
short because the campaign's sent_at is set an hour back (rules wait at least an hour).
"""

import hashlib
import hmac
import signal
import subprocess
import time

import pytest
import requests
from gunicorn_server import Server, procfile_command, wait_for
from webhook_receiver import Receiver

from app.core.times import to_iso

pytestmark = pytest.mark.slow

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
RECIPIENTS = [f"r{i}@x.org" for i in range(6)]


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The signature check exactly as docs/webhooks.md gives it to receivers."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true", "OPENTRACK_SCANNER_WINDOW_SECONDS": "0"}
    server = Server(tmp_path_factory.mktemp("rules") / "instance", env)
    yield server
    server.stop()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def start_worker(server) -> subprocess.Popen:
    """Start the Procfile's worker process against the server's instance."""
    return subprocess.Popen(
        procfile_command("worker", server.port),
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_rule_fires_once_and_its_list_matches_the_api(server, receiver):
    api = server.url + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = "Bearer " + server.cli("keys", "create", "e2e").stdout.strip()
    secret = http.post(
        api + "/webhooks", json={"url": receiver.url, "events": ["follow_up_ready"]}
    ).json()["secret"]
    assert http.post(api + "/campaigns", json={"id": "dec-news"}).status_code == 201
    messages = http.post(
        api + "/campaigns/dec-news/inject",
        json={"html": "<body>Hello</body>", "recipients": RECIPIENTS},
    ).json()["messages"]
    for message in messages[:2]:
        assert requests.get(message["pixel_url"], headers={"User-Agent": IPHONE}).ok
    assert wait_for(lambda: http.get(api + "/campaigns/dec-news").json()["opened"] == 2)

    # Sent (by the sender's clock) an hour less three seconds ago: a one-hour rule is due soon.
    sent_at = to_iso(time.time() - 3600 + 3)
    assert http.patch(api + "/campaigns/dec-news", json={"sent_at": sent_at}).ok
    rule = http.post(
        api + "/campaigns/dec-news/automations",
        json={"after_hours": 1, "follow_up": {"id": "dec-news-resend", "name": "Again"}},
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["recipients_now"] == 4 and rule.json()["state"] == "scheduled"

    workers = [start_worker(server), start_worker(server)]
    try:
        assert wait_for(lambda: receiver.answered(), seconds=60)
        time.sleep(2)  # both workers have had rounds past the due time: still one event
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
    assert len(receiver.requests) == 1
    headers, body, _ = receiver.requests[0]
    assert verify(secret, headers["Opentrack-Signature"], body)
    [event] = receiver.answered()
    assert event["type"] == "follow_up_ready" and headers["Opentrack-Event-Type"] == event["type"]
    assert event["follow_up"] == {"id": "dec-news-resend", "name": "Again"}
    assert event["counts"]["recipients"] == 4 and event["counts"]["opened"] == 2
    assert event["late_seconds"] < 30

    # The list, fetched with no API key, is the API's follow-up recipients.
    listed = requests.get(event["download"]["csv"])
    assert listed.status_code == 200 and listed.headers["Content-Type"].startswith("text/csv")
    from_api = http.get(api + "/campaigns/dec-news-resend/follow-up-recipients?format=csv")
    assert listed.text == from_api.text
    assert len(listed.text.strip().splitlines()) == 1 + 4
    as_json = requests.get(event["download"]["json"]).json()["recipients"]
    api_json = http.get(api + "/campaigns/dec-news-resend/follow-up-recipients").json()
    assert as_json == api_json["recipients"]
    assert {r["recipient"] for r in as_json} == set(RECIPIENTS) - {
        m["recipient"] for m in messages[:2]
    }

    [shown] = http.get(api + "/campaigns/dec-news/automations").json()["automations"]
    assert shown["state"] == "fired" and shown["recipients"] == 4
    stats = http.get(api + "/campaigns/dec-news/stats").json()
    assert stats["follow_ups"] == ["dec-news-resend"]
