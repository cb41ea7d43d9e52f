import csv
import io
import json
from urllib.parse import urlparse

import pytest

HTML = "<html><body><p>Hello</p></body></html>"
APPLE_MPP = "Mozilla/5.0"
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def inject(client, auth, body, campaign_id="nov-news"):
    return client.post(f"/api/v1/campaigns/{campaign_id}/inject", json=body, headers=auth)


def fetch_pixel(client, message, user_agent=DESKTOP, method="GET"):
    path = urlparse(message["pixel_url"]).path
    return client.open(path, method=method, headers={"User-Agent": user_agent})


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return body["error"]


# Authentication


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer x"},
    ],
)
def test_api_needs_a_valid_key(client, headers):
    response = client.get("/api/v1/campaigns", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_refused(client, runner, auth):
    assert client.get("/api/v1/campaigns", headers=auth).status_code == 200
    assert runner.invoke(args=["keys", "revoke", "tests"]).exit_code == 0
    assert client.get("/api/v1/campaigns", headers=auth).status_code == 401


# Campaigns


def test_create_and_show_campaign(client, auth, campaign):
    assert campaign["id"] == "nov-news"
    assert campaign["name"] == "Nov"
    assert campaign["sent"] == 0
    shown = client.get("/api/v1/campaigns/nov-news", headers=auth).get_json()
    assert shown["id"] == "nov-news"
    listed = client.get("/api/v1/campaigns", headers=auth).get_json()
    assert [c["id"] for c in listed["campaigns"]] == ["nov-news"]
    assert listed["total"] == 1


def test_duplicate_campaign_is_409(client, auth, campaign):
    response = client.post("/api/v1/campaigns", json={"id": "nov-news"}, headers=auth)
    assert response.status_code == 409
    assert "nov-news" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "id"),
        ({"id": ""}, "id"),
        ({"id": "Has Spaces"}, "id"),
        ({"id": "UPPER"}, "id"),
        ({"id": "-leading"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"id": 5}, "id"),
        ({"id": "ok", "name": ""}, "name"),
        ({"id": "ok", "name": 7}, "name"),
        ({"id": "ok", "name": "x" * 201}, "name"),
    ],
)
def test_invalid_campaign_fields(client, auth, body, field):
    response = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]


@pytest.mark.parametrize("data", ["{bad json", "[1, 2]", '"text"', "", "\xff"])
def test_malformed_json_is_400(client, auth, data):
    response = client.post(
        "/api/v1/campaigns", data=data, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_unknown_campaign_is_404(client, auth):
    for path in ("", "/stats", "/non-openers"):
        response = client.get(f"/api/v1/campaigns/nope{path}", headers=auth)
        assert response.status_code == 404
        assert "nope" in error_of(response)["message"]
    response = inject(client, auth, {"recipient": "a@x", "html": HTML}, "nope")
    assert response.status_code == 404


def test_unknown_route_and_method_are_json(client, auth):
    response = client.get("/api/v1/nothing", headers=auth)
    assert response.status_code == 404
    error_of(response)
    response = client.delete("/api/v1/campaigns", headers=auth)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    error_of(response)


def test_body_over_the_limit_is_413(tmp_path):
    from app import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "MAX_REQUEST_BYTES": 1000})
    runner = app.test_cli_runner()
    key = runner.invoke(args=["keys", "create", "k"]).stdout.strip()
    client = app.test_client()
    response = client.post(
        "/api/v1/campaigns",
        json={"id": "big", "name": "x" * 2000},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 413
    assert "1000" in error_of(response)["message"]
    app.extensions["opentrack"].recorder.stop()


def test_default_limit_admits_1000_messages_of_60kb(app):
    assert app.config["MAX_CONTENT_LENGTH"] > 1000 * 60 * 1024 * 1.05


# Injection


def test_inject_one(client, auth, campaign):
    response = inject(
        client, auth, {"recipient": "Ann@Example.com", "html": HTML, "metadata": {"n": 1}}
    )
    assert response.status_code == 201
    message = response.get_json()
    assert message["recipient"] == "ann@example.com"
    assert message["metadata"] == {"n": 1}
    assert message["pixel_url"].startswith("http://localhost/o/")
    assert message["html"].count(message["pixel_url"]) == 1
    assert message["html"].endswith("</p>" + message["html"][len("<html><body><p>Hello</p>") :])
    assert "ann" not in message["pixel_url"].lower()


def test_inject_is_idempotent(client, auth, campaign):
    first = inject(client, auth, {"recipient": "ann@example.com", "html": HTML}).get_json()
    again = inject(client, auth, {"recipient": "ANN@example.com", "html": HTML}).get_json()
    assert again["message_id"] == first["message_id"]
    assert again["pixel_url"] == first["pixel_url"]
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert stats["sent"] == 1


def test_inject_messages_batch_keeps_order(client, auth, campaign):
    body = {
        "messages": [
            {"recipient": f"r{i}@example.com", "html": f"<body>{i}</body>", "metadata": {"i": i}}
            for i in range(5)
        ]
    }
    messages = inject(client, auth, body).get_json()["messages"]
    assert [m["recipient"] for m in messages] == [f"r{i}@example.com" for i in range(5)]
    assert [m["metadata"]["i"] for m in messages] == list(range(5))
    assert all(m["html"].startswith(f"<body>{i}<img") for i, m in enumerate(messages))


def test_inject_shared_html_with_recipients(client, auth, campaign):
    body = {
        "html": HTML,
        "recipients": [
            "a@example.com",
            {"recipient": "b@example.com", "metadata": {"x": 1}},
            "sub-42",
        ],
    }
    messages = inject(client, auth, body).get_json()["messages"]
    assert [m["recipient"] for m in messages] == ["a@example.com", "b@example.com", "sub-42"]
    assert len({m["pixel_url"] for m in messages}) == 3
    assert messages[1]["metadata"] == {"x": 1}


def test_inject_1000_in_one_call(client, auth, campaign):
    body = {"html": HTML, "recipients": [f"user{i}@example.com" for i in range(1000)]}
    response = inject(client, auth, body)
    assert response.status_code == 201
    assert len(response.get_json()["messages"]) == 1000
    assert client.get("/api/v1/campaigns/nov-news", headers=auth).get_json()["sent"] == 1000


def test_inject_more_than_the_batch_limit_is_400(client, auth, campaign):
    body = {"html": HTML, "recipients": [f"u{i}" for i in range(1001)]}
    response = inject(client, auth, body)
    assert response.status_code == 400
    assert "1000" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "recipient"),
        ({"recipient": "", "html": HTML}, "recipient"),
        ({"recipient": "a\nb", "html": HTML}, "recipient"),
        ({"recipient": "x" * 321, "html": HTML}, "recipient"),
        ({"recipient": "a@x"}, "html"),
        ({"recipient": "a@x", "html": 5}, "html"),
        ({"recipient": "a@x", "html": HTML, "metadata": [1]}, "metadata"),
        ({"messages": []}, "messages"),
        ({"messages": "x"}, "messages"),
        ({"messages": [{"recipient": "a", "html": HTML}, 3]}, "messages[1]"),
        ({"messages": [{"recipient": "a"}]}, "messages[0].html"),
        ({"messages": [{"html": HTML}]}, "messages[0].recipient"),
        ({"recipients": ["a"]}, "html"),
        ({"html": HTML, "recipients": []}, "recipients"),
        ({"html": HTML, "recipients": ["a", 7]}, "recipients[1]"),
        (
            {"html": HTML, "recipients": [{"recipient": "a", "metadata": 1}]},
            "recipients[0].metadata",
        ),
    ],
)
def test_inject_invalid_fields_are_named(client, auth, campaign, body, field):
    response = inject(client, auth, body)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]
    assert client.get("/api/v1/campaigns/nov-news", headers=auth).get_json()["sent"] == 0


def test_base_url_setting_is_used(tmp_path):
    from app import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "BASE_URL": "https://t.example.com/"})
    key = app.test_cli_runner().invoke(args=["keys", "create", "k"]).stdout.strip()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    client.post("/api/v1/campaigns", json={"id": "c"}, headers=auth)
    message = inject(client, auth, {"recipient": "a", "html": HTML}, "c").get_json()
    assert message["pixel_url"].startswith("https://t.example.com/o/")
    app.extensions["opentrack"].recorder.stop()


# Pixel, messages and stats


def test_pixel_fetches_become_events_and_states(client, auth, campaign, flush):
    body = {"html": HTML, "recipients": ["human@x", "mpp@x", "none@x", "both@x"]}
    human, mpp, none, both = inject(client, auth, body).get_json()["messages"]
    assert fetch_pixel(client, human).status_code == 200
    fetch_pixel(client, human)
    fetch_pixel(client, mpp, APPLE_MPP)
    fetch_pixel(client, both, APPLE_MPP)
    fetch_pixel(client, both, DESKTOP)
    flush()
    states = {
        m["recipient"]: client.get(f"/api/v1/messages/{m['message_id']}", headers=auth).get_json()
        for m in (human, mpp, none, both)
    }
    assert states["human@x"]["state"] == "opened"
    assert states["mpp@x"]["state"] == "unknown"
    assert states["none@x"]["state"] == "not_opened"
    assert states["both@x"]["state"] == "opened"
    events = states["human@x"]["events"]
    assert len(events) == 2
    assert events[0]["verdict"] == "human"
    assert events[0]["user_agent"] == DESKTOP
    assert events[0]["ip"] == "127.0.0.0"  # truncated to its /24 by default
    assert events[0]["os"] == "Windows"
    mpp_event = states["mpp@x"]["events"][0]
    assert (mpp_event["verdict"], mpp_event["source"]) == ("machine", "apple_mpp")
    assert mpp_event["reason"]
    assert states["human@x"]["first_open_at"] == events[0]["at"]

    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    expected = {
        "sent": 4,
        "opened": 2,
        "unknown": 1,
        "not_opened": 1,
        "fetched": 3,
        "total_opens": 5,
        "human_opens": 3,
        "machine_opens": 2,
        "open_rate": 0.75,
        "human_open_rate": 0.5,
        "visible_open_rate": 0.6667,
    }
    assert {name: stats[name] for name in expected} == expected
    assert stats["first_open_at"] <= stats["last_open_at"]
    assert sum(hour["human"] for hour in stats["opens_per_hour"]) == 3
    assert sum(hour["machine"] for hour in stats["opens_per_hour"]) == 2
    assert stats["opens_per_hour"][0]["hours_since_send"] == 0


@pytest.mark.parametrize(
    "path",
    ["/o/", "/o/garbage.gif", "/o/a.b.gif", "/o/%00.gif", "/o/" + "x" * 5000 + ".gif", "/ping.gif"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_pixel_always_answers_the_gif(client, path, method):
    response = client.open(path, method=method, headers={"User-Agent": "<script>", "Cookie": "x"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["Content-Length"] == "43"
    assert response.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, private"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Expires"] == "0"
    assert response.data == (b"" if method == "HEAD" else response.data)
    if method == "GET":
        assert response.data.startswith(b"GIF89a") and len(response.data) == 43


def test_bad_tokens_are_counted_not_recorded(client, store, flush):
    client.get("/o/forged.gif")
    client.get("/o/forged.also.gif")
    flush()
    assert store.count_events() == 0
    assert store.metrics()["pixel_bad_token"] == 2


def test_pixel_of_deleted_key_rotation_still_records(tmp_path):
    from app import create_app

    first = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEYS": "old"})
    key = first.test_cli_runner().invoke(args=["keys", "create", "k"]).stdout.strip()
    auth = {"Authorization": f"Bearer {key}"}
    client = first.test_client()
    client.post("/api/v1/campaigns", json={"id": "c"}, headers=auth)
    message = inject(client, auth, {"recipient": "a", "html": HTML}, "c").get_json()
    first.extensions["opentrack"].recorder.stop()

    rotated = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEYS": "old,new"})
    client = rotated.test_client()
    fetch_pixel(client, message)
    rotated.extensions["opentrack"].recorder.flush()
    assert rotated.extensions["opentrack"].store.count_events() == 1
    again = inject(client, auth, {"recipient": "a", "html": HTML}, "c").get_json()
    assert again["message_id"] == message["message_id"]
    assert again["pixel_url"] != message["pixel_url"]
    rotated.extensions["opentrack"].recorder.stop()


def test_unknown_message_is_404(client, auth):
    response = client.get("/api/v1/messages/nope", headers=auth)
    assert response.status_code == 404


# Non-openers


def make_mixed_campaign(client, auth, flush):
    body = {
        "html": HTML,
        "recipients": [
            "opened@x",
            "mpp@x",
            {"recipient": "=evil()@x", "metadata": {"plan": "pro"}},
            "quiet@x",
        ],
    }
    opened, mpp, _, _ = inject(client, auth, body).get_json()["messages"]
    fetch_pixel(client, opened)
    fetch_pixel(client, mpp, APPLE_MPP)
    flush()


def test_non_openers_csv(client, auth, campaign, flush):
    make_mixed_campaign(client, auth, flush)
    response = client.get("/api/v1/campaigns/nov-news/non-openers?format=csv", headers=auth)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(row["recipient"] for row in rows) == ["'=evil()@x", "quiet@x"]
    assert {row["state"] for row in rows} == {"not_opened"}
    evil = next(row for row in rows if row["recipient"].startswith("'"))
    assert json.loads(evil["metadata"]) == {"plan": "pro"}


def test_non_openers_json_with_unknown(client, auth, campaign, flush):
    make_mixed_campaign(client, auth, flush)
    response = client.get(
        "/api/v1/campaigns/nov-news/non-openers?include_unknown=true", headers=auth
    )
    document = response.get_json()
    assert sorted(row["recipient"] for row in document["recipients"]) == [
        "=evil()@x",
        "mpp@x",
        "quiet@x",
    ]


def test_non_openers_min_age_hours(client, auth, campaign, flush):
    make_mixed_campaign(client, auth, flush)
    response = client.get("/api/v1/campaigns/nov-news/non-openers?min_age_hours=1", headers=auth)
    assert response.get_json()["recipients"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("min_age_hours=abc", "min_age_hours"),
        ("min_age_hours=-1", "min_age_hours"),
        ("min_age_hours=nan", "min_age_hours"),
        ("include_unknown=maybe", "include_unknown"),
    ],
)
def test_non_openers_bad_arguments(client, auth, campaign, query, field):
    response = client.get(f"/api/v1/campaigns/nov-news/non-openers?{query}", headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=x", "limit"), ("offset=-1", "offset")]
)
def test_campaign_list_bad_arguments(client, auth, query, field):
    response = client.get(f"/api/v1/campaigns?{query}", headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]


@pytest.mark.slow
def test_non_openers_export_of_100000_rows_is_streamed(client, auth, campaign, store):
    import tracemalloc

    for start in range(0, 100_000, 10_000):
        batch = [(f"reader{n:06d}@example.com", None, True) for n in range(start, start + 10_000)]
        store.register_messages("nov-news", batch)
    tracemalloc.start()
    response = client.get(
        "/api/v1/campaigns/nov-news/non-openers?format=csv", headers=auth, buffered=False
    )
    assert response.is_streamed
    size = lines = 0
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count("\n") if isinstance(chunk, str) else chunk.count(b"\n")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    response.close()
    assert lines == 100_001
    # The rows went out a piece at a time: never more than a fraction of them in memory.
    assert peak < size / 4


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/campaigns?offset=99999999999999999999", "offset"),
        ("/api/v1/campaigns?limit=²", "limit"),
        ("/api/v1/suppressions?offset=99999999999999999999", "offset"),
    ],
)
def test_odd_numbers_in_query_arguments_are_400(client, auth, path, field):
    response = client.get(path, headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]


def test_deeply_nested_json_is_400(client, auth):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/api/v1/campaigns", data=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"recipient": "\\ud800@x.com", "html": ""}', "recipient"),
        ('{"recipient": "a@x", "html": "", "metadata": {"v": NaN}}', "metadata"),
        ('{"recipient": "a@x", "html": "", "metadata": {"v": Infinity}}', "metadata"),
    ],
)
def test_lone_surrogates_and_nan_are_400(client, auth, campaign, body, field):
    response = client.post(
        "/api/v1/campaigns/nov-news/inject",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert f"'{field}'" in error_of(response)["message"]


def test_campaign_name_with_a_lone_surrogate_is_400(client, auth):
    response = client.post(
        "/api/v1/campaigns",
        data='{"id": "x", "name": "\\udfff"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_pixel_answers_even_when_the_spool_cannot_be_written(app, client, auth, campaign):
    import os

    message = inject(client, auth, {"recipient": "a@x", "html": HTML}).get_json()
    recorder = app.extensions["opentrack"].recorder
    # The spool folder cannot be created: every append and every count fails to start.
    blocker = recorder.spool_dir
    if os.path.isdir(blocker):
        os.rmdir(blocker)
    with open(blocker, "w") as file:
        file.write("not a folder")
    for path in (urlparse(message["pixel_url"]).path, "/o/forged.gif"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.data[:6] == b"GIF89a"
    # The valid fetch waits in memory until the spool can be written; the forged one is counted.
    assert recorder.counts["pixel_record_errors"] == 0
    assert recorder.counts["spool_write_errors"] >= 1
    assert recorder.counts["pixel_bad_token"] == 1
    os.remove(blocker)
    recorder.flush()
    assert app.extensions["opentrack"].store.count_events() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient": "a@x.org", "recipients": ["b@x.org"], "html": "<p>"}, "recipients"),
        ({"recipient": "a@x.org", "messages": [], "html": "<p>"}, "messages"),
        ({"recipients": ["b@x.org"], "messages": [], "html": "<p>"}, "messages"),
        ({"messages": [{"recipient": "a@x.org", "html": "<p>"}], "html": "<p>"}, "html"),
    ],
)
def test_mixed_inject_forms_are_refused(client, auth, campaign, store, body, field):
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith(f"'{field}'")
    assert store.get_campaign("nov-news")["sent"] == 0


def test_a_batch_too_large_names_the_field_sent(client, auth, campaign):
    body = {"html": "<p>", "recipients": [f"r{n}@x.org" for n in range(1001)]}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("'recipients'")


def test_a_link_that_cannot_be_encoded_stays_untracked(client, auth, campaign, store):
    html = '<body><a href="https://example.com/\ud800x">odd</a><a href="https://ok.example/">ok</a></body>'
    body = {"recipient": "ann@example.com", "html": html, "track_clicks": True}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 201
    [link] = store.link_counts("nov-news")
    assert link["url"] == "https://ok.example/"
    assert 'href="https://example.com/' in response.get_json()["html"]


def test_inject_is_all_or_nothing(client, auth, campaign, store, monkeypatch):
    from app.core import injection

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(injection.inject, "add_pixel", broken)
    body = {"recipients": ["a@x.org", "b@x.org"], "html": "<body></body>"}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 500
    assert store.get_campaign("nov-news")["sent"] == 0
    assert store.count_non_openers("nov-news", ("not_opened",), "9999") == 0
