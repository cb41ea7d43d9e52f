"""`opentrack automations list|run-due`."""

import json
import time

from app.core.times import to_iso


def test_list_and_run_due(runner, client, auth, campaign, store):
    body = {"html": "<body>x</body>", "recipients": ["a@x.org", "b@x.org"]}
    client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    empty = runner.invoke(args=["automations", "list"])
    assert empty.exit_code == 0 and "No follow-up rules" in empty.output
    rule = {"after_hours": 2, "follow_up": {"id": "nov-auto"}}
    created = client.post("/api/v1/campaigns/nov-news/automations", json=rule, headers=auth)
    assert created.status_code == 201

    listed = runner.invoke(args=["automations", "list"])
    assert listed.exit_code == 0 and "scheduled" in listed.output and "nov-auto" in listed.output
    nothing = runner.invoke(args=["automations", "run-due"])
    assert nothing.exit_code == 0 and "0 rules fired" in nothing.output
    assert store.get_campaign("nov-auto") is None

    # Sent three hours ago, by the sender's own clock: due an hour ago, so fired late.
    store.set_sent_at("nov-news", to_iso(time.time() - 3 * 3600))
    fired = runner.invoke(args=["automations", "run-due"])
    assert fired.exit_code == 0, fired.output
    assert "fired nov-auto for nov-news with 2 recipients" in fired.output
    assert "seconds late" in fired.output and "1 rules fired" in fired.output
    shown = json.loads(runner.invoke(args=["automations", "list", "--json"]).stdout)
    assert shown[0]["state"] == "fired" and shown[0]["download"]["csv"].endswith(".csv")
    only = runner.invoke(args=["automations", "list", "--state", "scheduled", "--json"])
    assert json.loads(only.stdout) == []
    again = runner.invoke(args=["automations", "run-due"])
    assert "0 rules fired" in again.output


def test_list_of_an_unknown_campaign_fails(runner):
    result = runner.invoke(args=["automations", "list", "--campaign", "nope"])
    assert result.exit_code != 0 and "no campaign with id 'nope'" in result.output
