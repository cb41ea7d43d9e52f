"""Dashboard pages for webhooks, clicks and follow-ups, over Flask's test client."""

import csv
import io
import re
import time

import pytest

from app import dashboard
from app.tracking.writer import settle

PASSWORD = "a long password"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def app(app):
    """The app with the dashboard, no scanner window, and private webhook URLs allowed."""
    dashboard.init_app(app)
    app.config.update(SCANNER_WINDOW_SECONDS=0, WEBHOOK_ALLOW_PRIVATE=True)
    return app


@pytest.fixture
def signed_in(client, runner):
    """A test client signed in to the dashboard."""
    result = runner.invoke(args=["users", "create", "ann@example.com"], input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    page = client.get("/dashboard/login").get_data(as_text=True)
    form = {"email": "ann@example.com", "password": PASSWORD, "csrf_token": csrf_of(page)}
    assert client.post("/dashboard/login", data=form).status_code == 302
    return client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path, data, page="/dashboard/webhooks"):
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def test_pages_need_a_sign_in(client):
    assert client.get("/dashboard/webhooks").status_code == 302
    assert client.post("/dashboard/webhooks", data={}).status_code == 401


def test_add_a_webhook_see_deliveries_and_redeliver(signed_in, auth, campaign, store, flush):
    form = {
        "url": "http://10.0.0.1/hook",
        "events": ["first_open", "open"],
        "include_machine": "on",
    }
    created = post(signed_in, "/dashboard/webhooks", form)
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    [webhook] = store.list_webhooks()
    secret = store.get_webhook(webhook["id"], with_secret=True)["secret"]
    assert secret in page and "http://10.0.0.1/hook" in page
    assert secret not in signed_in.get("/dashboard/webhooks").get_data(as_text=True)
    bad = post(signed_in, "/dashboard/webhooks", {"url": "ftp://x", "events": ["open"]})
    assert bad.status_code == 400 and "&#39;url&#39;" in bad.get_data(as_text=True)

    body = {"html": "<body>x</body>", "recipient": "bob@x.org"}
    message = signed_in.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    signed_in.get(
        "/o/" + message.get_json()["pixel_url"].split("/o/")[1], headers={"User-Agent": FIREFOX}
    )
    flush()
    detail = f"/dashboard/webhooks/{webhook['id']}"
    page = signed_in.get(detail).get_data(as_text=True)
    assert page.count("bob@x.org") == 2 and "first_open" in page
    [delivery, _] = store.list_deliveries(webhook["id"])
    claimed = store.claim_deliveries("test:1", 60)
    store.finish_delivery(claimed[0]["id"], "test:1", "failed", 410, None)
    failed = signed_in.get(detail + "?status=failed").get_data(as_text=True)
    assert "HTTP 410" in failed
    again = post(signed_in, f"{detail}/deliveries/{claimed[0]['id']}/redeliver", {}, detail)
    assert again.status_code == 302
    assert store.list_deliveries(webhook["id"], "failed") == []
    assert post(signed_in, f"{detail}/delete", {}, detail).status_code == 302
    assert signed_in.get(detail).status_code == 404


def test_campaign_page_shows_clicks_and_follows_up(signed_in, auth, campaign, store, flush):
    html = '<body><a href="https://shop.example/sale">Sale</a></body>'
    body = {"html": html, "recipients": ["ann@x.org", "bob@x.org"], "track_clicks": True}
    messages = signed_in.post(
        "/api/v1/campaigns/nov-news/inject", json=body, headers=auth
    ).get_json()["messages"]
    link = messages[0]["html"].split('href="http://localhost')[1].split('"')[0]
    signed_in.get(link, headers={"User-Agent": FIREFOX})
    flush()
    settle(store, now=time.time() + 10)
    page = signed_in.get("/dashboard/campaigns/nov-news").get_data(as_text=True)
    assert "https://shop.example/sale" in page and "Follow up with non-openers" in page
    assert "1 recipient clicked" in page
    assert 'name="id" value="nov-news-resend"' in page  # a free id
    assert "at least 48 hours ago, it would go to 0 recipients who did not open" in page
    preview = signed_in.get("/dashboard/campaigns/nov-news?follow_up_age_hours=0").text
    assert "at least 0 hours ago, it would go to 1 recipient who did not open" in preview

    form = {"id": "nov-resend", "follow_up_age_hours": "0"}
    response = post(
        signed_in, "/dashboard/campaigns/nov-news/follow-ups", form, "/dashboard/campaigns/nov-news"
    )
    assert response.status_code == 302
    follow_up = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 recipient of nov-news has not opened it yet" in follow_up
    assert '<div class="value">50.0%</div>\n    <div class="detail">1 of 2</div>' in follow_up
    parent = signed_in.get("/dashboard/campaigns/nov-news").get_data(as_text=True)
    assert 'href="/dashboard/campaigns/nov-resend/follow-up"' in parent  # listed with its reach
    own = signed_in.get("/dashboard/campaigns/nov-resend").get_data(as_text=True)
    assert 'href="/dashboard/campaigns/nov-resend/follow-up">follow-up report' in own
    rows = csv.DictReader(
        io.StringIO(signed_in.get("/dashboard/campaigns/nov-resend/follow-up-recipients.csv").text)
    )
    assert [row["recipient"] for row in rows] == ["bob@x.org"]
    again = post(
        signed_in, "/dashboard/campaigns/nov-news/follow-ups", form, "/dashboard/campaigns/nov-news"
    )
    assert again.status_code == 409
    assert (
        'id="follow-up-error"' in again.text and "already exists; choose another id" in again.text
    )
    assert 'value="nov-resend"' in again.text  # the typed values stay in the form
    bad_age = post(
        signed_in,
        "/dashboard/campaigns/nov-news/follow-ups",
        {"id": "nov-2", "follow_up_age_hours": "soon"},
        "/dashboard/campaigns/nov-news",
    )
    assert bad_age.status_code == 400 and "The minimum age must be a number" in bad_age.text
    assert store.get_campaign("nov-2") is None
    assert signed_in.get("/dashboard/campaigns/nov-news/follow-up").status_code == 404


def test_webhook_health_badge_and_test_event(signed_in, store, monkeypatch):
    form = {"url": "http://10.0.0.2/hook", "events": ["first_open"]}
    assert post(signed_in, "/dashboard/webhooks", form).status_code == 201
    [webhook] = store.list_webhooks()
    detail = f"/dashboard/webhooks/{webhook['id']}"
    assert 'id="health">idle</span>' in signed_in.get(detail).text
    sent = post(signed_in, f"{detail}/test", {}, detail)
    assert sent.status_code == 302 and sent.headers["Location"].endswith("?tested=1")
    [test] = store.list_deliveries(webhook["id"])
    assert test["event_type"] == "test" and test["status"] == "pending"
    assert test["payload"]["type"] == "test" and test["payload"]["webhook_id"] == webhook["id"]
    page = signed_in.get(sent.headers["Location"]).text
    assert "A test event was queued" in page and 'id="health">healthy</span>' in page
    # Ten minutes later nobody has delivered it: the worker is not running.
    later = time.time() + 600
    monkeypatch.setattr(time, "time", lambda: later)
    assert 'id="health">stalled</span>' in signed_in.get(detail).text
    assert "pending for 10 minutes" in signed_in.get(detail).text
    [claimed] = store.claim_deliveries("test-worker", 30)
    store.finish_delivery(claimed["id"], "test-worker", "pending", 500, "HTTP 500", later + 60)
    listing = signed_in.get("/dashboard/webhooks").text
    assert "health-failing" in listing
