"""The recipients, segments and delivery commands."""

import csv
import io
import json

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


def test_engagement_segments_send_time_and_unmatched(client, auth, runner, flush):
    for n in range(3):
        client.post("/api/v1/campaigns", json={"id": f"c{n}", "name": "c"}, headers=auth)
        body = {"html": "<body>x</body>", "recipients": ["ann@x.org", "bob@x.org"]}
        sent = client.post(f"/api/v1/campaigns/c{n}/inject", json=body, headers=auth).get_json()
        pixel = sent["messages"][0]["pixel_url"].split("/o/")[1]
        client.get("/o/" + pixel, headers={"User-Agent": IPHONE})
    flush()
    result = runner.invoke(args=["recipients", "engagement", "ANN@x.org"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tier"] == "active"
    assert runner.invoke(args=["recipients", "engagement", "nobody@x.org"]).exit_code != 0

    result = runner.invoke(args=["segments", "inactive", "--campaigns", "2"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # messages: bob's since his last human open or click, here all three.
    assert [(r["recipient"], r["messages"]) for r in rows] == [("bob@x.org", "3")]
    result = runner.invoke(args=["segments", "inactive", "--days", "1", "--format", "json"])
    assert [r["recipient"] for r in json.loads(result.stdout)["recipients"]] == ["bob@x.org"]
    assert runner.invoke(args=["segments", "inactive"]).exit_code != 0

    result = runner.invoke(args=["recipients", "send-time", "ann@x.org", "--day", "2026-12-07"])
    answer = json.loads(result.stdout)
    assert answer["source"] == "learned" and answer["suggested_at"].startswith("2026-12-07T")
    assert runner.invoke(args=["recipients", "send-time", "a@x", "--day", "Monday"]).exit_code != 0

    event = {"message_id": "unknown-id", "event": "delivered", "provider_event_id": "u1"}
    client.post("/api/v1/delivery-events/generic", json={"events": [event]}, headers=auth)
    result = runner.invoke(args=["delivery", "unmatched"])
    assert result.exit_code == 0 and json.loads(result.stdout)["message_id"] == "unknown-id"


def test_stats_show_delivery_numbers_once_events_arrive(client, auth, runner):
    client.post("/api/v1/campaigns", json={"id": "c0", "name": "c"}, headers=auth)
    body = {"html": "<body>x</body>", "recipients": ["ann@x.org", "bob@x.org"]}
    sent = client.post("/api/v1/campaigns/c0/inject", json=body, headers=auth).get_json()
    assert "delivered" not in runner.invoke(args=["stats", "c0"]).stdout
    events = [
        {"message_id": sent["messages"][0]["message_id"], "event": "delivered"},
        {"message_id": sent["messages"][1]["message_id"], "event": "bounced"},
    ]
    client.post("/api/v1/delivery-events/generic", json={"events": events}, headers=auth)
    shown = runner.invoke(args=["stats", "c0"]).stdout
    assert "  delivered          1" in shown and "  bounced            1" in shown
    assert "human_open_rate (delivered)" in shown and "(0 of 1)" in shown
