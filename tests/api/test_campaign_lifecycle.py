"""The campaign lifecycle through the API: rename, switches, archive and delete."""

import re

import pytest

DESKTOP = "Thunderbird/115.0 (X11; Linux x86_64)"
HTML = '<html><body><a href="https://shop.example/offer">Offer</a></body></html>'


def patch(client, auth, body, campaign_id="nov-news"):
    return client.patch(f"/api/v1/campaigns/{campaign_id}", json=body, headers=auth)


def listed(client, auth, query=""):
    return client.get(f"/api/v1/campaigns{query}", headers=auth).get_json()


def test_rename_and_switches(client, auth, campaign):
    response = patch(client, auth, {"name": "  November news  ", "track_clicks": True})
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "November news" and body["track_clicks"] is True
    assert body["track"] is True and body["id"] == "nov-news"
    body = patch(client, auth, {"track": False}).get_json()
    assert body["track"] is False and body["name"] == "November news"
    shown = client.get("/api/v1/campaigns/nov-news", headers=auth).get_json()
    assert shown["track"] is False and shown["track_clicks"] is True


def test_archive_hides_from_the_list_until_asked(client, auth, campaign):
    client.post("/api/v1/campaigns", json={"id": "dec"}, headers=auth)
    assert patch(client, auth, {"archived": True}).status_code == 200
    plain = listed(client, auth)
    assert [c["id"] for c in plain["campaigns"]] == ["dec"] and plain["total"] == 1
    every = listed(client, auth, "?archived=true")
    assert {c["id"] for c in every["campaigns"]} == {"dec", "nov-news"} and every["total"] == 2
    assert listed(client, auth, "?archived=false")["total"] == 1
    # Still readable by id.
    assert client.get("/api/v1/campaigns/nov-news", headers=auth).status_code == 200
    assert patch(client, auth, {"archived": True}).status_code == 200  # twice is fine
    assert patch(client, auth, {"archived": False}).status_code == 200
    assert listed(client, auth)["total"] == 2


def test_archived_query_argument_must_be_a_boolean(client, auth, campaign):
    response = client.get("/api/v1/campaigns?archived=maybe", headers=auth)
    assert response.status_code == 400
    assert "'archived'" in response.get_json()["error"]["message"]


def test_archive_keeps_the_first_time(store, client, auth, campaign):
    patch(client, auth, {"archived": True})
    first = store.get_campaign("nov-news")["archived_at"]
    assert first
    patch(client, auth, {"archived": True})
    assert store.get_campaign("nov-news")["archived_at"] == first
    patch(client, auth, {"archived": False})
    assert store.get_campaign("nov-news")["archived_at"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"x": 1}, "'x' is not a field of a campaign update; use name, track, track_clicks"),
        ({"name": "ok", "colour": "red"}, "'colour' is not a field"),
        ({}, "empty"),
        ({"name": ""}, "'name'"),
        ({"name": "x" * 201}, "'name' must be at most 200"),
        ({"track": "yes"}, "'track' must be true or false"),
        ({"archived": None}, "'archived' must be true or false"),
        ({"track_clicks": 1}, "'track_clicks'"),
    ],
)
def test_bad_updates_are_400_naming_the_field(client, auth, campaign, body, words):
    response = patch(client, auth, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field"
    assert words in error["message"]
    assert client.get("/api/v1/campaigns/nov-news", headers=auth).get_json()["name"] == "Nov"


def test_a_body_that_is_not_an_object_is_400(client, auth, campaign):
    response = client.patch("/api/v1/campaigns/nov-news", json=[1], headers=auth)
    assert response.status_code == 400


def test_unknown_campaign_is_404(client, auth):
    assert patch(client, auth, {"name": "x"}, "nope").status_code == 404
    response = client.delete("/api/v1/campaigns/nope", headers=auth)
    assert response.status_code == 404
    assert "'nope'" in response.get_json()["error"]["message"]


def test_delete_needs_a_key(client, campaign):
    assert client.delete("/api/v1/campaigns/nov-news").status_code == 401


def test_delete_removes_everything_stored_for_the_campaign(app, client, auth, store, flush):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["open", "first_open", "click"]}
    webhook = client.post("/api/v1/webhooks", json=hook, headers=auth).get_json()
    client.post("/api/v1/campaigns", json={"id": "nov-news"}, headers=auth)
    client.post("/api/v1/campaigns", json={"id": "keep"}, headers=auth)
    body = {"recipient": "ann@example.org", "html": HTML, "track_clicks": True}
    message = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()
    kept = client.post(
        "/api/v1/campaigns/keep/inject",
        json={"recipient": "bo@example.org", "html": HTML},
        headers=auth,
    ).get_json()
    pixel = "/o/" + message["pixel_url"].split("/o/")[1]
    environ = {"REMOTE_ADDR": "203.0.113.77"}
    assert (
        client.get(pixel, headers={"User-Agent": DESKTOP}, environ_base=environ).status_code == 200
    )
    kept_pixel = "/o/" + kept["pixel_url"].split("/o/")[1]
    client.get(kept_pixel, headers={"User-Agent": DESKTOP}, environ_base=environ)
    click_path = re.search(r'href="http://localhost(/c/[^"]+)"', message["html"]).group(1)
    clicked = client.get(click_path, headers={"User-Agent": DESKTOP}, environ_base=environ)
    assert clicked.status_code == 302
    flush()
    message_id = message["message_id"]
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth).get_json()["events"]
    deliveries = client.get(
        f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=auth
    ).get_json()["deliveries"]
    campaigns_of = {d["payload"]["campaign_id"] for d in deliveries}
    assert campaigns_of == {"nov-news", "keep"}

    response = client.delete("/api/v1/campaigns/nov-news", headers=auth)
    assert response.status_code == 204 and response.data == b""

    assert client.get("/api/v1/campaigns/nov-news/stats", headers=auth).status_code == 404
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth).status_code == 404
    for table in ("messages", "events", "clicks", "links", "campaign_hours", "campaign_breakdowns"):
        count = store.db.execute(
            f"SELECT count(*) FROM {table} WHERE campaign_id = ?", ["nov-news"]
        ).fetchone()[0]
        assert count == 0, table
    deliveries = client.get(
        f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=auth
    ).get_json()["deliveries"]
    assert deliveries and {d["payload"]["campaign_id"] for d in deliveries} == {"keep"}
    # The other campaign keeps everything.
    assert client.get(f"/api/v1/messages/{kept['message_id']}", headers=auth).get_json()["events"]
    assert client.get("/api/v1/campaigns/keep", headers=auth).get_json()["sent"] == 1

    # The old pixel still answers a GIF, and nothing is stored for it.
    again = client.get(pixel, headers={"User-Agent": DESKTOP}, environ_base=environ)
    assert again.status_code == 200 and again.mimetype == "image/gif"
    # A click on an old link records nothing either (this process may still redirect it from
    # its cache of link targets; the store no longer knows the link).
    client.get(click_path, headers={"User-Agent": DESKTOP}, environ_base=environ)
    flush()
    for table in ("events", "clicks"):
        count = store.db.execute(
            f"SELECT count(*) FROM {table} WHERE message_id = ?", [message_id]
        ).fetchone()[0]
        assert count == 0, table
    assert store.get_campaign("nov-news") is None

    [audit] = store.campaign_deletions()
    assert audit["campaign_id"] == "nov-news" and audit["actor"] == "api:tests"
    assert audit["messages"] == 1 and audit["events"] >= 1 and audit["clicks"] == 1
    assert audit["at"]


def test_a_follow_up_of_a_deleted_campaign_stays_as_a_campaign(client, auth, store, campaign):
    client.post(
        "/api/v1/campaigns/nov-news/inject",
        json={"recipient": "ann@example.org", "html": HTML},
        headers=auth,
    )
    response = client.post(
        "/api/v1/campaigns/nov-news/follow-ups",
        json={"id": "nov-resend", "name": "Resend"},
        headers=auth,
    )
    assert response.status_code == 201
    assert store.get_follow_up("nov-resend") is not None
    assert client.delete("/api/v1/campaigns/nov-news", headers=auth).status_code == 204
    shown = client.get("/api/v1/campaigns/nov-resend", headers=auth)
    assert shown.status_code == 200 and shown.get_json()["name"] == "Resend"
    stats = client.get("/api/v1/campaigns/nov-resend/stats", headers=auth)
    assert stats.status_code == 200
    assert store.get_follow_up("nov-resend") is None
    assert [c["id"] for c in listed(client, auth)["campaigns"]] == ["nov-resend"]


def test_deleting_a_follow_up_keeps_its_parent(client, auth, store, campaign):
    client.post("/api/v1/campaigns/nov-news/follow-ups", json={"id": "nov-resend"}, headers=auth)
    assert client.delete("/api/v1/campaigns/nov-resend", headers=auth).status_code == 204
    assert store.get_follow_up("nov-resend") is None
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth)
    assert stats.status_code == 200
