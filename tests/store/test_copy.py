"""`opentrack db copy`: a SQLite instance copied into PostgreSQL answers exactly as before."""

import os
import re

import pytest

from app import create_app

DESKTOP = "Thunderbird/115.0 (X11; Linux x86_64)"
HTML = '<body><p>Hi</p><a href="https://example.com/offer">Offer</a></body>'
PASSWORD = "correct horse battery"


def sqlite_app(tmp_path, **config):
    """An app on a SQLite file of its own, whatever OPENTRACK_DATABASE says."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "src"),
            "DATABASE": str(tmp_path / "src.db"),
            **config,
        }
    )


def close(app):
    app.extensions["opentrack"].recorder.stop()
    app.extensions["opentrack"].store.close()


def new_key(app, name="tests"):
    result = app.test_cli_runner().invoke(args=["keys", "create", name])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def pixel_path(message):
    return "/o/" + message["pixel_url"].split("/o/")[1]


def fetch(client, message, ip="203.0.113.77"):
    response = client.get(
        pixel_path(message), headers={"User-Agent": DESKTOP}, environ_base={"REMOTE_ADDR": ip}
    )
    assert response.status_code == 200


def fill(app):
    """Store a bit of everything through the API and the CLI; return the key and messages."""
    client, runner = app.test_client(), app.test_cli_runner()
    auth = new_key(app)
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["open", "click"]}
    assert client.post("/api/v1/webhooks", json=hook, headers=auth).status_code == 201
    response = client.post(
        "/api/v1/campaigns", json={"id": "nov-news", "name": "Nov"}, headers=auth
    )
    assert response.status_code == 201
    assert client.post("/api/v1/campaigns", json={"id": "dec"}, headers=auth).status_code == 201
    response = client.post(
        "/api/v1/suppressions", json={"recipient": "gone@example.org"}, headers=auth
    )
    assert response.status_code in (200, 201)
    body = {
        "html": HTML,
        "track_clicks": True,
        "recipients": [
            "zed@example.org",
            "ann@example.org",
            "gone@example.org",
            {"recipient": "quiet@example.org", "track": False},
        ],
    }
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    messages = response.get_json()["messages"]
    response = client.post(
        "/api/v1/campaigns/dec/inject",
        json={"recipient": "bo@example.org", "html": ""},
        headers=auth,
    )
    messages.append(response.get_json())
    fetch(client, messages[0])
    fetch(client, messages[1], ip="198.51.100.9")
    fetch(client, messages[4])
    click = re.search(r'href="http://localhost(/c/[^"]+)"', messages[0]["html"]).group(1)
    clicked = client.get(
        click, headers={"User-Agent": DESKTOP}, environ_base={"REMOTE_ADDR": "198.51.100.124"}
    )
    assert clicked.status_code == 302
    app.extensions["opentrack"].recorder.flush()
    result = runner.invoke(
        args=["users", "create", "admin@example.org"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    return auth, messages


def answers(client, auth, messages):
    """What the API says about every campaign and message."""
    return {
        "campaigns": client.get("/api/v1/campaigns", headers=auth).get_json(),
        "stats": {
            campaign: client.get(f"/api/v1/campaigns/{campaign}/stats", headers=auth).get_json()
            for campaign in ("nov-news", "dec")
        },
        "messages": [
            client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
            for message in messages
        ],
        "webhooks": client.get("/api/v1/webhooks", headers=auth).get_json(),
        "suppressions": client.get("/api/v1/suppressions", headers=auth).get_json(),
    }


@pytest.mark.postgresql_only
def test_copy_to_postgresql_answers_the_same(tmp_path):
    source = sqlite_app(tmp_path, WEBHOOK_ALLOW_PRIVATE=True)
    try:
        auth, messages = fill(source)
        before = answers(source.test_client(), auth, messages)
        pages = [
            row["recipient"] for row in source.extensions["opentrack"].store.recipients("nov-news")
        ]
        result = source.test_cli_runner().invoke(
            args=["db", "copy", "--to", os.environ["OPENTRACK_DATABASE"]]
        )
        assert result.exit_code == 0, result.output
        assert "Verified: row counts and every campaign's numbers match." in result.stdout
        assert re.search(r"^messages\s+5$", result.stdout, re.MULTILINE), result.stdout
        assert re.search(r"^users\s+1$", result.stdout, re.MULTILINE), result.stdout
    finally:
        close(source)

    target = create_app({"INSTANCE_PATH": str(tmp_path / "dst")})
    try:
        client = target.test_client()
        assert before["stats"]["nov-news"]["total_opens"] >= 2
        # The click waits to be settled (its 0 became FALSE), and is on its message.
        assert [c["url"] for c in before["messages"][0]["clicks"]] == ["https://example.com/offer"]
        assert target.extensions["opentrack"].store.count_unsettled_clicks() == 1
        assert answers(client, auth, messages) == before
        store = target.extensions["opentrack"].store
        assert store.user_by_email("admin@example.org") is not None
        # The recipient pages walk messages in SQLite's rowid order.
        assert [row["recipient"] for row in store.recipients("nov-news")] == pages
        # The identity sequences were moved past the copied ids: new rows get new ids.
        new_key(target, "after-the-move")
        assert len(store.list_api_keys()) == 2
        # Tokens minted on SQLite still record on PostgreSQL.
        fetch(client, messages[1], ip="198.51.100.10")
        target.extensions["opentrack"].recorder.flush()
        stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
        assert stats["total_opens"] == before["stats"]["nov-news"]["total_opens"] + 1
    finally:
        close(target)


@pytest.mark.postgresql_only
def test_copy_refuses_a_database_with_rows(tmp_path):
    target = create_app({"INSTANCE_PATH": str(tmp_path / "dst")})
    source = sqlite_app(tmp_path)
    try:
        new_key(target, "already-here")
        auth = new_key(source)
        client = source.test_client()
        assert client.post("/api/v1/campaigns", json={"id": "nov"}, headers=auth).status_code == 201
        result = source.test_cli_runner().invoke(
            args=["db", "copy", "--to", os.environ["OPENTRACK_DATABASE"]]
        )
        assert result.exit_code != 0
        assert "already holds data" in result.output
        assert "api_keys" in result.output
        store = target.extensions["opentrack"].store
        assert store.campaign_ids() == []
        assert [key["name"] for key in store.list_api_keys()] == ["already-here"]
    finally:
        close(source)
        close(target)


def test_copy_needs_a_sqlite_source_and_a_postgresql_target(tmp_path):
    source = sqlite_app(tmp_path)
    try:
        runner = source.test_cli_runner()
        result = runner.invoke(args=["db", "copy", "--to", str(tmp_path / "other.db")])
        assert result.exit_code != 0
        assert "postgresql://" in result.output
        result = runner.invoke(args=["db", "copy"])
        assert result.exit_code != 0
        assert "--to" in result.output
    finally:
        close(source)


@pytest.mark.postgresql_only
def test_a_copy_that_differs_is_named_and_rolled_back(tmp_path):
    from app.store import Store
    from app.store.copy import copy_database
    from app.store.errors import CopyMismatch

    source = sqlite_app(tmp_path)
    target = Store(os.environ["OPENTRACK_DATABASE"])
    try:
        auth = new_key(source)
        client = source.test_client()
        assert client.post("/api/v1/campaigns", json={"id": "nov"}, headers=auth).status_code == 201
        target.migrate()
        seen = []

        def progress(table, rows):
            seen.append(table)
            if table == "webhooks":  # after campaigns: spoil the copy inside its transaction
                target.db.execute("UPDATE campaigns SET total_opens = 7")

        with pytest.raises(CopyMismatch, match="campaign nov: total_opens is 0 in SQLite, 7"):
            copy_database(source.extensions["opentrack"].store, target, progress)
        assert "campaigns" in seen
        assert target.campaign_ids() == [] and target.list_api_keys() == []
    finally:
        target.close()
        close(source)
