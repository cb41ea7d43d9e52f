"""Webhook payloads and signatures (pure), and registering endpoints through the API."""

import time
from pathlib import Path

import pytest

from app.core import webhooks
from app.core.webhooks import backoff_seconds, public_address, retryable, sign, url_problem, verify


def test_signature_verifies_and_tampering_fails():
    body = b'{"id":"evt_1"}'
    header = sign("whsec_x", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify("whsec_x", header, body, now=1_700_000_010)
    assert not verify("whsec_y", header, body, now=1_700_000_010)
    assert not verify("whsec_x", header, body + b" ", now=1_700_000_010)
    assert not verify("whsec_x", header, body, now=1_700_001_000)  # too old: a replay
    assert not verify("whsec_x", "nonsense", body, now=1_700_000_010)


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("not-an-ip", False),
        # IPv6 forms that carry 127.0.0.1 or a private IPv4 address reach it.
        ("::7f00:1", False),
        ("::127.0.0.1", False),
        ("2002:7f00:1::1", False),
        ("2002:a01:203::1", False),
        ("64:ff9b::7f00:1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
        ("::ffff:10.0.0.1", False),
        ("2002:5db8:d822::1", True),  # 6to4 of the public 93.184.216.34
    ],
)
def test_public_address(ip, public):
    assert public_address(ip) is public


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/opentrack", True),
        ("http://hooks.example.com:8080/x?y=1", True),
        ("ftp://hooks.example.com/", False),
        ("https://user:pw@hooks.example.com/", False),
        ("https:///path", False),
        ("https://hooks.example.com:99999/", False),
        ("https://hooks.example.com/a b", False),
        ("", False),
        (None, False),
    ],
)
def test_url_problem(url, ok):
    assert (url_problem(url) is None) is ok


def test_backoff_doubles_with_jitter_and_is_capped():
    assert backoff_seconds(1, rng=lambda: 0.0) == 1.0
    assert backoff_seconds(3, rng=lambda: 1.0) == 12.0
    assert backoff_seconds(40, rng=lambda: 0.5) == 3600.0
    # Retries stop by time (OPENTRACK_WEBHOOK_RETRY_HOURS), not by count: even at the least
    # jitter, 60 tries span more than a day.
    assert sum(backoff_seconds(n, rng=lambda: 0.0) for n in range(1, 61)) > 24 * 3600


def test_retryable_answers():
    assert retryable(None) and retryable(500) and retryable(503) and retryable(429)
    assert not retryable(400) and not retryable(404) and not retryable(410)


def test_event_ids_are_stable_per_event_and_type():
    assert webhooks.event_id("open", "k1") == webhooks.event_id("open", "k1")
    assert webhooks.event_id("open", "k1") != webhooks.event_id("first_open", "k1")
    assert webhooks.open_types("human", True) == ["open", "first_open"]
    assert webhooks.open_types("machine", False) == ["machine_open"]


def create(client, auth, **body):
    return client.post("/api/v1/webhooks", json=body, headers=auth)


def test_private_addresses_are_refused_by_default(client, auth):
    for url in (
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://169.254.169.254/",
        "http://[::1]/",
    ):
        response = create(client, auth, url=url, events=["open"])
        assert response.status_code == 400, url
        error = response.get_json()["error"]
        assert error["code"] == "invalid_field" and "'url'" in error["message"]
        assert "OPENTRACK_WEBHOOK_ALLOW_PRIVATE" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "gopher://x/"}, "url"),
        ({"url": "http://10.0.0.1/", "events": []}, "events"),
        ({"url": "http://10.0.0.1/", "events": ["opened"]}, "events[0]"),
        ({"url": "http://10.0.0.1/", "events": "open"}, "events"),
        ({"url": "http://10.0.0.1/", "include_machine": "no"}, "include_machine"),
        ({"url": "http://10.0.0.1/", "description": ""}, "description"),
    ],
)
def test_invalid_registrations_name_the_field(app, client, auth, body, field):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    response = create(client, auth, **body)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["error"]["message"]


def test_register_list_show_and_delete(app, client, auth):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    response = create(client, auth, url="http://10.0.0.1/hook", events=["click", "first_open"])
    assert response.status_code == 201
    webhook = response.get_json()
    assert webhook["secret"].startswith("whsec_")
    assert webhook["events"] == ["click", "first_open"] and webhook["include_machine"] is True
    listed = client.get("/api/v1/webhooks", headers=auth).get_json()["webhooks"]
    assert [w["id"] for w in listed] == [webhook["id"]] and "secret" not in listed[0]
    shown = client.get(f"/api/v1/webhooks/{webhook['id']}", headers=auth).get_json()
    assert shown["recent_deliveries"] == [] and shown["deliveries"]["pending"] == 0
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=auth).status_code == 404
    assert client.get("/api/v1/webhooks").status_code == 401
    missing = client.get("/api/v1/webhooks/wh_nope/deliveries", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_the_docs_snippet_verifies_our_signatures():
    page = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = page.split("## Payloads and signatures")[1].split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own docs
    body = b'{"id":"evt_1"}'
    header = sign("whsec_x", int(time.time()), body)
    assert namespace["verify"]("whsec_x", header, body)
    assert not namespace["verify"]("whsec_x", header, body + b"x")
