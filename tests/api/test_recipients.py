"""Engagement across campaigns, inactive segments and send times, through the API."""

import csv
import io
from datetime import UTC, datetime

import pytest

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MPP = "Mozilla/5.0"


@pytest.fixture
def history(client, auth, flush):
    """Three campaigns to ann, bob, cat, dan: ann opens each, bob only through Apple's proxy,
    cat never opens, dan's second message bounced."""
    messages = {}
    for n in range(3):
        cid = f"c{n}"
        client.post("/api/v1/campaigns", json={"id": cid, "name": cid}, headers=auth)
        people = ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"]
        body = {"html": "<body>x</body>", "recipients": people}
        sent = client.post(f"/api/v1/campaigns/{cid}/inject", json=body, headers=auth).get_json()
        messages[cid] = {m["recipient"]: m for m in sent["messages"]}
        for who, agent in (("ann@x.org", IPHONE), ("bob@x.org", MPP)):
            pixel = messages[cid][who]["pixel_url"].split("/o/")[1]
            client.get("/o/" + pixel, headers={"User-Agent": agent})
    flush()
    bounce = {"message_id": messages["c1"]["dan@x.org"]["message_id"], "event": "bounced"}
    client.post("/api/v1/delivery-events/generic", json={"events": [bounce]}, headers=auth)
    return messages


def engagement(client, auth, who):
    return client.get(f"/api/v1/recipients/{who}/engagement", headers=auth)


def test_engagement_and_tiers(client, auth, history):
    ann = engagement(client, auth, "ann@x.org").get_json()
    assert (ann["campaigns_received"], ann["human_opens"], ann["tier"]) == (3, 3, "active")
    assert ann["last_human_open_at"] and not ann["mpp_only"]
    bob = engagement(client, auth, "bob@x.org").get_json()
    assert (bob["mpp_only"], bob["human_opens"], bob["tier"]) == (True, 0, "unknown")
    cat = engagement(client, auth, "cat@x.org").get_json()
    assert (cat["tier"], cat["last_human_open_at"]) == ("inactive", None)
    dan = engagement(client, auth, "Dan@x.org").get_json()
    assert (dan["bounced"], dan["tier"]) == (1, "unknown")
    assert engagement(client, auth, "nobody@x.org").status_code == 404


def test_inactive_segments(client, auth, history):
    url = "/api/v1/segments/inactive"
    last_two = client.get(url + "?campaigns=2", headers=auth).get_json()
    # dan: c1 bounced, but his c2 reached him and he did not open it.
    assert [r["recipient"] for r in last_two["recipients"]] == [
        "bob@x.org",
        "cat@x.org",
        "dan@x.org",
    ]
    assert last_two["campaigns"] == ["c2", "c1"]
    # messages: those that reached them since their last human open or click (dan's c0, c2).
    assert {r["recipient"]: r["messages"] for r in last_two["recipients"]}["dan@x.org"] == 2
    days = client.get(url + "?days=1&format=csv", headers=auth)
    rows = list(csv.DictReader(io.StringIO(days.text)))
    assert [row["recipient"] for row in rows] == ["bob@x.org", "cat@x.org", "dan@x.org"]
    assert rows[0]["messages"] == "3"
    mpp = client.get(url + "?mpp_only=true", headers=auth).get_json()
    assert [r["recipient"] for r in mpp["recipients"]] == ["bob@x.org"]
    assert client.get(url + "?days=0", headers=auth).get_json()["recipients"] == []
    for query, field in (("", "campaigns"), ("?campaigns=0", "campaigns"), ("?days=x", "days")):
        answer = client.get(url + query, headers=auth)
        assert answer.status_code == 400 and field in answer.get_json()["error"]["message"]


def test_send_times_learned_from_people_or_the_population(client, auth, history):
    day = datetime.now(UTC).date().isoformat()
    hour = datetime.now(UTC).hour
    ann = client.get(f"/api/v1/recipients/ann@x.org/send-time?day={day}", headers=auth).get_json()
    assert ann["source"] == "learned" and ann["reason"] == "learned from 3 opens"
    assert ann["observations"] == 3 and ann["hour_utc"] in (hour, (hour + 1) % 24)
    assert ann["suggested_at"].startswith(day + "T")
    # bob's opens all came through Apple's proxy: nothing learned, the population's hour.
    many = client.post(
        "/api/v1/send-times",
        json={"recipients": ["bob@x.org", "ann@x.org"], "day": day},
        headers=auth,
    ).get_json()
    bob = many["send_times"][0]
    assert (bob["recipient"], bob["source"], bob["observations"]) == ("bob@x.org", "population", 0)
    assert bob["reason"].startswith("population default")
    assert bob["hour_utc"] == ann["hour_utc"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "recipients"),
        ({"recipients": []}, "recipients"),
        ({"recipients": ["a@x"] * 10_001}, "recipients"),
        ({"recipients": ["a@x"], "day": "monday"}, "day"),
        ({"recipients": [""]}, "recipients[0]"),
        ({"recipients": ["a@x"], "hour": 3}, "hour"),
    ],
)
def test_send_times_bad_bodies(client, auth, body, field):
    answer = client.post("/api/v1/send-times", json=body, headers=auth)
    assert answer.status_code == 400 and field in answer.get_json()["error"]["message"]
