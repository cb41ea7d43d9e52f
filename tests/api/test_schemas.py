"""Request bodies checked against their declared models: unknown fields, paths, messages."""

import pytest


def error_message(response) -> str:
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field"
    return error["message"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            "/api/v1/campaigns",
            {"id": "x", "colour": "red"},
            "'colour' is not a field of a new campaign; use id, name, track, track_clicks, attr",
        ),
        (
            "/api/v1/campaigns/nov-news/inject",
            {"recipeint": "a@x.org", "html": "<p>"},
            "'recipeint' is not a field of an inject request",
        ),
        (
            "/api/v1/campaigns/nov-news/inject",
            {"messages": [{"recipient": "a@x.org", "html": "<p>", "metdata": {}}]},
            "'messages[0].metdata' is not a field of a message; use recipient, html, metadata",
        ),
        (
            "/api/v1/campaigns/nov-news/inject",
            {"recipients": ["a@x.org", {"recipient": "b@x.org", "html": "<p>"}], "html": "<p>"},
            "'recipients[1].html' is not a field of a recipients entry",
        ),
        (
            "/api/v1/campaigns/nov-news/follow-ups",
            {"id": "again", "min_age": 3},
            "'min_age' is not a field of a new follow-up",
        ),
        ("/api/v1/suppressions", {"recipients": ["a@x.org"], "why": "asked"}, "'why' is not"),
        ("/api/v1/webhooks", {"url": "https://example.com/", "secret": "x"}, "'secret' is not"),
    ],
)
def test_unknown_fields_are_named(client, auth, campaign, path, body, words):
    assert words in error_message(client.post(path, json=body, headers=auth))


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (
            {"messages": [{"recipient": "a@x.org", "html": "<p>"}, {"html": "<p>"}]},
            "'messages[1].recipient' is required",
        ),
        (
            {"messages": [{"recipient": "a@x.org", "html": 5}]},
            "'messages[0].html' is required and must be a string",
        ),
        ({"messages": ["a@x.org"]}, "'messages[0]' must be a JSON object"),
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"messages": "a@x.org"}, "'messages' must be a list"),
        ({"recipients": ["a@x.org", ""], "html": "<p>"}, "'recipients[1]' is required"),
        (
            {"recipients": [{"recipient": "a@x.org", "track": "no"}], "html": "<p>"},
            "'recipients[0].track' must be true or false",
        ),
        ({"recipient": "a@x.org"}, "'html' is required"),
        ({"recipients": ["a@x.org"], "html": "<p>", "metadata": {}}, "'metadata' cannot be shared"),
        ({"html": "<p>"}, "'recipient' is required"),
    ],
)
def test_inject_errors_name_the_field_as_sent(client, auth, campaign, store, body, start):
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert error_message(response).startswith(start)
    assert store.get_campaign("nov-news")["sent"] == 0


def test_entries_keep_their_own_switches_and_metadata(client, auth, campaign):
    body = {
        "recipients": ["a@x.org", {"recipient": "B@x.org", "metadata": {"n": 2}, "track": False}],
        "html": "<body></body>",
    }
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 201
    first, second = response.get_json()["messages"]
    assert (first["recipient"], first["tracked"], first["metadata"]) == ("a@x.org", True, None)
    assert (second["recipient"], second["tracked"], second["metadata"]) == (
        "b@x.org",
        False,
        {"n": 2},
    )


def test_query_arguments_are_checked_by_their_model(client, auth, campaign):
    response = client.get("/api/v1/webhooks/none/deliveries?status=lost", headers=auth)
    assert error_message(response).startswith("'status' must be 'pending', 'delivered'")
    response = client.get("/api/v1/campaigns?limit=1001", headers=auth)
    assert error_message(response) == "'limit' must be between 1 and 1000."
    response = client.get("/api/v1/campaigns?limit=2&unrelated=1", headers=auth)
    assert response.status_code == 200 and response.get_json()["limit"] == 2


def test_the_answer_is_checked_against_its_model_under_tests(app, client, auth, campaign):
    from app.api import campaigns

    original = campaigns.campaign_summary
    campaigns.campaign_summary = lambda row: {**original(row), "sent": "many"}
    try:
        response = client.get("/api/v1/campaigns/nov-news", headers=auth)
    finally:
        campaigns.campaign_summary = original
    assert response.status_code == 500


def test_a_campaign_id_with_a_trailing_newline_is_refused(client, auth):
    # Python's "$" also matches before a final newline; the id must match as a whole.
    response = client.post("/api/v1/campaigns", json={"id": "abc\n"}, headers=auth)
    assert error_message(response).startswith("'id' must be a slug")


def test_null_means_left_out_where_it_did_before(client, auth, app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    body = {"url": "http://10.0.0.1/", "description": None, "include_machine": None}
    response = client.post("/api/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 201
    assert response.get_json()["description"] is None
    assert response.get_json()["include_machine"] is True
    response = client.post("/api/v1/campaigns", json={"id": "n", "name": None}, headers=auth)
    assert response.status_code == 201 and response.get_json()["name"] == "n"
