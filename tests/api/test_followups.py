"""Follow-up campaigns: created from a parent's non-openers, with their combined reach."""

import csv
import io

import pytest

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


@pytest.fixture
def parent(client, auth, campaign, flush):
    """nov-news sent to four: ann opened, bob only through Apple MPP, cat and dan did not."""
    body = {
        "html": "<body>x</body>",
        "recipients": ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"],
    }
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    for message, agent in zip(messages[:2], [IPHONE, "Mozilla/5.0"], strict=True):
        client.get("/o/" + message["pixel_url"].split("/o/")[1], headers={"User-Agent": agent})
    flush()
    return messages


def follow_up(client, auth, **body):
    return client.post("/api/v1/campaigns/nov-news/follow-ups", json=body, headers=auth)


def test_follow_up_goes_to_the_non_openers(client, auth, parent, flush):
    response = follow_up(client, auth, id="nov-resend", name="Resend")
    assert response.status_code == 201
    result = response.get_json()
    assert result["parent_id"] == "nov-news" and result["states"] == ["not_opened"]
    assert result["campaign"]["id"] == "nov-resend" and result["campaign"]["sent"] == 0
    assert sorted(r["recipient"] for r in result["recipients"]) == ["cat@x.org", "dan@x.org"]
    with_unknown = follow_up(client, auth, id="nov-resend-2", include_unknown=True).get_json()
    assert len(with_unknown["recipients"]) == 3

    # cat opens the parent after the follow-up was created: she is left out from now on.
    client.get("/o/" + parent[2]["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
    flush()
    url = "/api/v1/campaigns/nov-resend/follow-up-recipients"
    now = client.get(url, headers=auth).get_json()
    assert [r["recipient"] for r in now["recipients"]] == ["dan@x.org"]
    rows = list(csv.DictReader(io.StringIO(client.get(url + "?format=csv", headers=auth).text)))
    assert [row["recipient"] for row in rows] == ["dan@x.org"]

    # dan opens the follow-up: the follow-up's stats show the combined reach.
    inject = {"html": "<body>again</body>", "recipient": "dan@x.org"}
    sent = client.post("/api/v1/campaigns/nov-resend/inject", json=inject, headers=auth).get_json()
    client.get("/o/" + sent["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
    flush()
    stats = client.get("/api/v1/campaigns/nov-resend/stats", headers=auth).get_json()
    assert stats["opened"] == 1
    combined = stats["follow_up"]["combined"]
    assert (combined["opened"], combined["recipients"]) == (3, 4)
    assert combined["human_open_rate"] == 0.75
    assert stats["follow_up"]["parent"]["opened"] == 2
    parent_stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert parent_stats["follow_ups"] == ["nov-resend", "nov-resend-2"]


def test_min_age_hours_leaves_out_recent_sends(client, auth, parent):
    result = follow_up(client, auth, id="later", min_age_hours=48).get_json()
    assert result["recipients"] == [] and result["min_age_hours"] == 48


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "Bad Id"}, "id"),
        ({"id": "ok", "include_unknown": "yes"}, "include_unknown"),
        ({"id": "ok", "min_age_hours": -1}, "min_age_hours"),
        ({"id": "ok", "min_age_hours": "48"}, "min_age_hours"),
        ({"id": "ok", "name": ""}, "name"),
    ],
)
def test_invalid_follow_ups_name_the_field(client, auth, parent, body, field):
    response = follow_up(client, auth, **body)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["error"]["message"]


def test_follow_up_errors(client, auth, parent):
    assert follow_up(client, auth, id="nov-news").status_code == 409
    missing = client.post("/api/v1/campaigns/nope/follow-ups", json={"id": "x"}, headers=auth)
    assert missing.status_code == 404
    not_one = client.get("/api/v1/campaigns/nov-news/follow-up-recipients", headers=auth)
    assert (
        not_one.status_code == 404 and "not a follow-up" in not_one.get_json()["error"]["message"]
    )
