"""Consent and minimal storage: untracked messages, opt-outs, storage modes, purge, erasure."""

import glob
import re
from pathlib import Path

import pytest

from app import create_app
from app.rules.storage import StoragePolicy

HTML = "<html><body>Hi <a href='{{ optout_url }}'>stop tracking</a></body></html>"
DESKTOP = "Thunderbird/115.0 (X11; Linux x86_64)"


def inject(client, auth, body, campaign_id="nov-news"):
    response = client.post(f"/api/v1/campaigns/{campaign_id}/inject", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(client, message, headers=None, ip="203.0.113.77"):
    path = "/o/" + message["pixel_url"].split("/o/")[1]
    return client.get(
        path, headers={"User-Agent": DESKTOP, **(headers or {})}, environ_base={"REMOTE_ADDR": ip}
    )


def numbers(client, auth, campaign_id="nov-news"):
    return client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).get_json()


def test_untracked_message_gets_its_html_back_untouched(client, auth, campaign):
    plain = "<html><body>Hi</body></html>"
    message = inject(client, auth, {"recipient": "a@x", "html": plain, "track": False})
    assert message["tracked"] is False
    assert message["pixel_url"] is None
    assert message["html"] == plain


def test_untracked_messages_are_out_of_every_rate_and_export(client, auth, campaign, flush):
    body = {
        "html": "<body>x</body>",
        "recipients": ["t1@x", "t2@x", {"recipient": "u1@x", "track": False}],
    }
    t1, t2, u1 = inject(client, auth, body)["messages"]
    assert (t1["tracked"], u1["tracked"]) == (True, False)
    fetch(client, t1)
    flush()
    stats = numbers(client, auth)
    assert (stats["sent"], stats["tracked"], stats["untracked"]) == (3, 2, 1)
    assert stats["not_opened"] == 1
    assert stats["human_open_rate"] == 0.5
    assert stats["rates"]["human_open_rate"] == {"count": 1, "of": 2}
    export = client.get("/api/v1/campaigns/nov-news/non-openers?include_unknown=true", headers=auth)
    assert [row["recipient"] for row in export.get_json()["recipients"]] == ["t2@x"]
    detail = client.get(f"/api/v1/messages/{u1['message_id']}", headers=auth).get_json()
    assert detail["state"] == "untracked"


def test_campaign_default_can_switch_tracking_off(client, auth):
    response = client.post("/api/v1/campaigns", json={"id": "quiet", "track": False}, headers=auth)
    assert response.get_json()["track"] is False
    message = inject(client, auth, {"recipient": "a@x", "html": "<body></body>"}, "quiet")
    assert message["tracked"] is False
    forced = inject(
        client, auth, {"recipient": "b@x", "html": "<body></body>", "track": True}, "quiet"
    )
    assert forced["tracked"] is True


@pytest.mark.parametrize("value", ["no", 0, "false", None.__class__.__name__])
def test_track_must_be_a_boolean(client, auth, campaign, value):
    response = client.post(
        "/api/v1/campaigns/nov-news/inject",
        json={"recipient": "a@x", "html": "", "track": value},
        headers=auth,
    )
    assert response.status_code == 400
    assert "'track'" in response.get_json()["error"]["message"]


def test_suppressed_recipients_are_injected_untracked_and_no_longer_recorded(
    client, auth, campaign, store, flush
):
    before = inject(client, auth, {"recipient": "ann@x", "html": "<body></body>"})
    response = client.post("/api/v1/suppressions", json={"recipients": ["ANN@x"]}, headers=auth)
    assert response.status_code == 201
    assert response.get_json()["added"] == 1
    fetch(client, before)
    flush()
    assert store.count_events() == 0
    client.post("/api/v1/campaigns", json={"id": "dec"}, headers=auth)
    after = inject(client, auth, {"recipient": "ann@x", "html": "<body></body>"}, "dec")
    assert after["tracked"] is False
    listed = client.get("/api/v1/suppressions", headers=auth).get_json()["suppressions"]
    assert [row["recipient"] for row in listed] == ["ann@x"]
    assert client.delete("/api/v1/suppressions/ann@x", headers=auth).status_code == 200
    assert client.delete("/api/v1/suppressions/ann@x", headers=auth).status_code == 404
    client.post("/api/v1/campaigns", json={"id": "jan"}, headers=auth)
    assert inject(client, auth, {"recipient": "ann@x", "html": ""}, "jan")["tracked"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "recipients"),
        ({"recipients": []}, "recipients"),
        ({"recipients": [""]}, "recipients[0]"),
    ],
)
def test_suppressions_bad_input(client, auth, body, field):
    response = client.post("/api/v1/suppressions", json=body, headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["error"]["message"]


def test_optout_link_asks_on_get_and_acts_on_post(client, auth, campaign, store):
    message = inject(client, auth, {"recipient": "bob@x", "html": HTML})
    assert message["optout_url"].startswith("http://localhost/optout/")
    assert message["optout_url"] in message["html"]
    assert "{{ optout_url }}" not in message["html"]
    path = message["optout_url"].removeprefix("http://localhost")
    page = client.get(path)
    assert page.status_code == 200
    assert b'method="post"' in page.data
    assert b"<script" not in page.data
    assert store.suppressed(["bob@x"]) == set()
    done = client.post(path)
    assert done.status_code == 200
    assert b"no longer tracked" in done.data
    assert store.suppressed(["bob@x"]) == {"bob@x"}
    assert b"no longer tracked" in client.get(path).data


@pytest.mark.parametrize("token", ["nonsense", "a.b", ""])
def test_tampered_optout_link_changes_nothing(client, token, store):
    response = client.post(f"/optout/{token}")
    assert response.status_code in (404, 405)
    assert store.list_suppressions() == []


def test_pixel_token_is_not_an_optout_token(client, auth, campaign, store):
    message = inject(client, auth, {"recipient": "bob@x", "html": HTML})
    pixel_token = message["pixel_url"].split("/o/")[1].removesuffix(".gif")
    assert client.post(f"/optout/{pixel_token}").status_code == 404
    assert store.suppressed(["bob@x"]) == set()


@pytest.mark.parametrize(
    ("mode", "ip", "stored"),
    [
        ("full", "203.0.113.77", "203.0.113.77"),
        ("truncated", "203.0.113.77", "203.0.113.0"),
        ("truncated", "2001:db8:aa:bb::1", "2001:db8:aa::"),
        ("none", "203.0.113.77", None),
    ],
)
def test_store_ip_modes(tmp_path, mode, ip, stored):
    event = {"ip": ip, "user_agent": DESKTOP, "x_requested_with": None, "sec_purpose": None}
    assert StoragePolicy(ip=mode).apply(dict(event))["ip"] == stored


def test_store_user_agent_parsed_keeps_the_parsed_client():
    event = {"ip": "1.2.3.4", "user_agent": DESKTOP, "x_requested_with": "x", "sec_purpose": None}
    event.update(client="Thunderbird", os="Linux", device="desktop", reason="r")
    stored = StoragePolicy(user_agent="parsed").apply(event)
    assert stored["user_agent"] is None and stored["x_requested_with"] is None
    assert stored["client"] == "Thunderbird"


def test_unknown_storage_mode_is_refused():
    with pytest.raises(ValueError, match="OPENTRACK_STORE_IP"):
        StoragePolicy(ip="some")


def make_app(tmp_path, **config):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **config})
    key = app.test_cli_runner().invoke(args=["keys", "create", "k"]).stdout.strip()
    auth = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    client.post("/api/v1/campaigns", json={"id": "nov-news"}, headers=auth)
    return app, client, auth


@pytest.mark.parametrize("header", [{"Sec-GPC": "1"}, {"DNT": "1"}])
def test_gpc_and_dnt_make_the_open_a_count_only(tmp_path, header):
    app, client, auth = make_app(tmp_path, STORE_IP="full")
    message = inject(client, auth, {"recipient": "a@x", "html": ""})
    fetch(client, message, header)
    app.extensions["opentrack"].recorder.stop()
    event = app.extensions["opentrack"].store.get_message(message["message_id"])["events"][0]
    assert event["ip"] is None and event["user_agent"] is None
    assert event["client"] == "unknown" and event["country"] is None
    assert event["verdict"] == "human"
    assert "Sec-GPC" in event["reason"]
    assert numbers(client, auth)["opened"] == 1


def test_gpc_is_ignored_when_switched_off(tmp_path):
    app, client, auth = make_app(tmp_path, STORE_IP="full", HONOR_GPC=False)
    message = inject(client, auth, {"recipient": "a@x", "html": ""})
    fetch(client, message, {"Sec-GPC": "1"})
    app.extensions["opentrack"].recorder.stop()
    event = app.extensions["opentrack"].store.get_message(message["message_id"])["events"][0]
    assert event["ip"] == "203.0.113.77"


def test_purge_strips_raw_details_and_keeps_the_numbers(client, auth, campaign, runner, flush):
    messages = inject(client, auth, {"html": "", "recipients": ["a@x", "b@x"]})["messages"]
    fetch(client, messages[0])
    fetch(client, messages[1], {"User-Agent": "Mozilla/5.0"})
    flush()
    before = numbers(client, auth)
    assert runner.invoke(args=["purge"]).exit_code != 0  # no retention set, no --days
    result = runner.invoke(args=["purge", "--days", "0"])
    assert result.exit_code == 0, result.output
    assert "2 events" in result.stdout
    event = client.get(f"/api/v1/messages/{messages[0]['message_id']}", headers=auth).get_json()
    event = event["events"][0]
    assert (event["ip"], event["user_agent"]) == (None, None)
    assert event["client"] == "Thunderbird" and event["verdict"] == "human"
    assert numbers(client, auth) == before
    # Reclassifying cannot re-judge what was purged, so nothing changes.
    assert "0 changed" in runner.invoke(args=["reclassify"]).stdout
    assert numbers(client, auth) == before


def database_bytes(app) -> bytes:
    """Return what is stored: the database file and its WAL as bytes on disk (on PostgreSQL,
    every row of every table of the schema as text), and the pixel spool's files."""
    spooled = glob.glob(app.config["SPOOL_DIR"] + "/*")
    if app.config["DATABASE"].startswith("postgresql://"):
        stored = table_text(app.config["DATABASE"])
    else:
        stored = b"".join(
            Path(path).read_bytes()
            for path in glob.glob(app.config["DATABASE"] + "*")
            if Path(path).is_file()
        )
    return stored + b"".join(Path(path).read_bytes() for path in spooled if Path(path).is_file())


def table_text(url: str) -> bytes:
    """Return every row of every table in the database's schema, as text."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        ]
        rows = [
            row[0] or ""
            for table in tables
            for row in conn.execute(
                sql.SQL("SELECT string_agg(t::text, chr(10)) FROM {} t").format(
                    sql.Identifier(table)
                )
            )
        ]
    return "\n".join(rows).encode()


def test_erasure_leaves_no_trace_and_keeps_the_totals(tmp_path):
    app, client, auth = make_app(tmp_path, STORE_IP="full", WEBHOOK_ALLOW_PRIVATE=True)
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["open", "click"]}
    assert client.post("/api/v1/webhooks", json=hook, headers=auth).status_code == 201
    client.post("/api/v1/campaigns", json={"id": "dec"}, headers=auth)
    address = "erase.me@example.org"
    html = (
        '<body><a href="https://example.com/offer">Offer</a>'
        '<a href="https://example.com/prefs?who=erase.me%40example.org">Preferences</a></body>'
    )
    first = inject(
        client,
        auth,
        {"recipient": address, "html": html, "metadata": {"name": "Erin"}, "track_clicks": True},
    )
    second = inject(client, auth, {"recipient": address, "html": ""}, "dec")
    inject(client, auth, {"recipient": "keep@example.org", "html": ""})
    fetch(client, first, ip="198.51.100.123")
    fetch(client, second, ip="198.51.100.123")
    click_path = re.search(r'href="http://localhost(/c/[^"]+)"', first["html"]).group(1)
    clicked = client.get(
        click_path, headers={"User-Agent": DESKTOP}, environ_base={"REMOTE_ADDR": "198.51.100.124"}
    )
    assert clicked.status_code == 302
    app.extensions["opentrack"].recorder.flush()
    client.post("/api/v1/suppressions", json={"recipient": address}, headers=auth)
    held = client.get(f"/api/v1/recipients/{address}", headers=auth).get_json()
    assert len(held["messages"]) == 2
    assert held["messages"][0]["events"][0]["ip"] == "198.51.100.123"
    assert held["messages"][0]["clicks"][0]["url"] == "https://example.com/offer"
    assert held["opted_out"]["source"] == "api"
    totals = [numbers(client, auth, c) for c in ("nov-news", "dec")]
    assert address.encode() in database_bytes(app)

    response = client.delete(f"/api/v1/recipients/{address}", headers=auth)
    assert response.status_code == 200
    erased = response.get_json()["erased"]
    assert erased["messages"] == 2 and erased["suppressions"] == 1
    assert erased["events"] >= 3  # two opens and a click (a click may add an implied open)
    assert erased["webhook_deliveries"] >= 2

    raw = database_bytes(app)
    for secret in (address, "erase.me", "198.51.100.123", "198.51.100.124", "Erin"):
        assert secret.encode() not in raw, secret
    after = [numbers(client, auth, c) for c in ("nov-news", "dec")]
    # Every number stays; only the personalised link's URL is gone from the per-link counts.
    assert [link["url"] for link in after[0]["links"]] == ["https://example.com/offer", "erased:2"]
    for stats in totals + after:
        for link in stats["links"]:
            link.pop("url")
    assert after == totals
    # The erased messages are tracked no more, and no export offers their placeholders.
    fetch(client, first, ip="198.51.100.125")
    app.extensions["opentrack"].recorder.flush()
    assert b"198.51.100.125" not in database_bytes(app)
    export = client.get("/api/v1/campaigns/nov-news/non-openers?include_unknown=true", headers=auth)
    assert [row["recipient"] for row in export.get_json()["recipients"]] == ["keep@example.org"]
    # The personalised link is gone; the shared one still redirects.
    click_paths = re.findall(r'href="http://localhost(/c/[^"]+)"', first["html"])
    assert [client.get(path).status_code for path in click_paths] == [302, 404]
    assert client.get(f"/api/v1/recipients/{address}", headers=auth).get_json()["messages"] == []
    audit = app.extensions["opentrack"].store.erasures()
    assert audit[0]["messages"] == 2 and audit[0]["actor"] == "api:k"
    # The opt-out outlives the address: a new message to it is still untracked.
    client.post("/api/v1/campaigns", json={"id": "jan"}, headers=auth)
    assert inject(client, auth, {"recipient": address, "html": ""}, "jan")["tracked"] is False
    app.extensions["opentrack"].recorder.stop()


def test_erase_command(runner, client, auth, campaign):
    inject(client, auth, {"recipient": "cli@x", "html": ""})
    result = runner.invoke(args=["erase", "CLI@x"])
    assert result.exit_code == 0
    assert '"messages": 1' in result.stdout


def test_suppressions_commands(runner, store):
    assert runner.invoke(args=["suppressions", "add", "A@x", "b@x"]).exit_code == 0
    assert store.suppressed(["a@x", "b@x"]) == {"a@x", "b@x"}
    listed = runner.invoke(args=["suppressions", "list"]).stdout
    assert re.search(r"^a@x\tcli\t", listed, re.M)
    assert runner.invoke(args=["suppressions", "remove", "a@x"]).exit_code == 0
    assert runner.invoke(args=["suppressions", "remove", "a@x"]).exit_code != 0


def test_worker_purges_on_its_first_round_and_then_daily(client, auth, campaign, store, flush):
    from app.worker import DeliveryWorker

    message = inject(client, auth, {"recipient": "a@x", "html": ""})
    fetch(client, message)
    flush()
    worker = DeliveryWorker(store, retention_days=0)
    assert worker.purge_if_due() == 1
    fetch(client, message)
    flush()
    assert worker.purge_if_due() == 0  # not a day later yet
    assert DeliveryWorker(store, retention_days=None).purge_if_due() == 0
    worker.pool.shutdown()


def test_reclassify_keeps_untracked_messages_untracked(client, auth, campaign, runner, flush):
    body = {"html": "", "recipients": ["a@x", {"recipient": "u@x", "track": False}]}
    inject(client, auth, body)
    client.post("/api/v1/suppressions", json={"recipient": "o@x"}, headers=auth)
    inject(client, auth, {"recipient": "o@x", "html": ""})
    before = numbers(client, auth)
    assert runner.invoke(args=["reclassify"]).exit_code == 0
    assert numbers(client, auth) == before
    export = client.get("/api/v1/campaigns/nov-news/non-openers", headers=auth).get_json()
    assert [row["recipient"] for row in export["recipients"]] == ["a@x"]


def test_reclassify_does_not_rejudge_events_whose_ip_was_not_kept(tmp_path):
    app, client, auth = make_app(tmp_path, STORE_IP="none", SCANNER_WINDOW_SECONDS=3600)
    message = inject(client, auth, {"recipient": "a@x", "html": ""})
    # A browser-like fetch right after sending from a datacenter network: a gateway's scan.
    fetch(client, message, {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120"}, "3.5.140.2")
    app.extensions["opentrack"].recorder.flush()
    event = app.extensions["opentrack"].store.get_message(message["message_id"])["events"][0]
    assert (event["ip"], event["verdict"], event["source"]) == (None, "machine", "scanner")
    result = app.test_cli_runner().invoke(args=["reclassify"])
    assert "0 changed" in result.stdout
    assert numbers(client, auth)["opened"] == 0
    app.extensions["opentrack"].recorder.stop()
