"""End to end: signed ESP posts to a real gunicorn change statuses, numbers and exports."""

import hashlib
import json

import pytest
import requests
from esp_signing import (
    CERT_URL,
    sendgrid_headers,
    sendgrid_keys,
    ses_notification,
    sns_certificate,
)
from gunicorn_server import Server

pytestmark = pytest.mark.slow

SNS_KEY, SNS_PEM = sns_certificate()
SENDGRID_KEY, SENDGRID_PUBLIC = sendgrid_keys()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("delivery") / "instance"
    # The certificate is in the cache before the first post: the server has no network to
    # fetch it from, as an operator's host without outbound access would not.
    cache = instance / "sns-certs"
    cache.mkdir(parents=True)
    (cache / (hashlib.sha256(CERT_URL.encode()).hexdigest() + ".pem")).write_bytes(SNS_PEM)
    server = Server(
        instance,
        {"OPENTRACK_SENDGRID_PUBLIC_KEY": SENDGRID_PUBLIC, "OPENTRACK_SUPPRESS_BOUNCES": "true"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server):
    result = server.cli("keys", "create", "e2e")
    assert result.returncode == 0, result.stderr
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {result.stdout.strip()}"
    return session


def test_signed_posts_move_statuses_and_leave_exports(server, http):
    url = server.url + "/api/v1"
    assert http.post(url + "/campaigns", json={"id": "dec", "name": "Dec"}).status_code == 201
    body = {"html": "<body>x</body>", "recipients": ["a@x.org", "b@x.org", "c@x.org"]}
    messages = http.post(url + "/campaigns/dec/inject", json=body).json()["messages"]
    a, b, _ = messages

    notice = ses_notification(SNS_KEY, "Bounce", "a@x.org", a["message_id"])
    posted = requests.post(url + "/delivery-events/ses", data=json.dumps(notice), timeout=30)
    assert posted.status_code == 200, posted.text
    assert posted.json()["suppressed"] == 1
    forged = ses_notification(sns_certificate()[0], "Delivery", "c@x.org", None)
    assert (
        requests.post(url + "/delivery-events/ses", data=json.dumps(forged), timeout=30).status_code
        == 401
    )

    events = [{"email": "b@x.org", "event": "spamreport", "timestamp": 1764583200,
               "sg_event_id": "sg-9", "opentrack_message_id": b["message_id"]}]  # fmt: skip
    raw = json.dumps(events).encode()
    headers = sendgrid_headers(SENDGRID_KEY, raw, "1764583300")
    for _ in range(2):  # SendGrid retries: the second post is a duplicate.
        answer = requests.post(
            url + "/delivery-events/sendgrid", data=raw, headers=headers, timeout=30
        )
        assert answer.status_code == 200
    assert answer.json()["duplicates"] == 1

    stats = http.get(url + "/campaigns/dec/stats").json()
    assert (stats["bounced"], stats["complained"], stats["delivered"]) == (1, 1, 1)
    export = http.get(url + "/campaigns/dec/non-openers").json()
    assert [r["recipient"] for r in export["recipients"]] == ["c@x.org"]
    reasons = {
        s["recipient"]: s["reason"] for s in http.get(url + "/suppressions").json()["suppressions"]
    }
    assert reasons == {"a@x.org": "hard_bounce", "b@x.org": "complaint"}
