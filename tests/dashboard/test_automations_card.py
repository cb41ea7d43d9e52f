"""The follow-up rules card on a campaign's page, over Flask's test client."""

import csv
import html
import io
import re
from urllib.parse import urlsplit

import pytest

from app import dashboard
from app.core import automations as rules

PASSWORD = "a long password"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
PAGE = "/dashboard/campaigns/nov-news"


@pytest.fixture
def app(app):
    """The app with the dashboard."""
    dashboard.init_app(app)
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


@pytest.fixture
def sent(client, auth, campaign, flush):
    """nov-news sent to three; ann opened."""
    body = {"html": "<body>x</body>", "recipients": ["ann@x.org", "bob@x.org", "cat@x.org"]}
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    pixel = "/o/" + messages[0]["pixel_url"].split("/o/")[1]
    client.get(pixel, headers={"User-Agent": IPHONE})
    flush()
    return messages


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path, data):
    token = csrf_of(client.get(PAGE).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def test_add_preview_cancel_and_download(signed_in, sent, store, app):
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert 'id="automations"' in page
    # The preview: how many each audience would take now (two did not open).
    assert "not_opened: 2 now" in page and "not_opened_or_unknown: 2 now" in page
    assert "would take 2 recipients now" in page

    form = {"audience": "not_opened", "after_hours": "48", "follow_up_id": "nov-auto"}
    response = post(signed_in, "/dashboard/campaigns/nov-news/automations", form)
    assert response.status_code == 302 and response.location.endswith("#automations")
    other = {**form, "follow_up_id": "nov-later", "notify": "on"}
    assert post(signed_in, "/dashboard/campaigns/nov-news/automations", other).status_code == 302
    first, second = store.list_automations("nov-news")
    assert (first["after_hours"], first["notify"], second["notify"]) == (48.0, False, True)
    assert first["created_by"] == "dashboard:ann@example.com"

    cancel = f"/dashboard/campaigns/nov-news/automations/{second['id']}/cancel"
    assert post(signed_in, cancel, {}).status_code == 302
    assert store.get_automation(second["id"])["state"] == "cancelled"

    rules.fire_due(store, rules.due_at(first) + 1, "w1", rules.list_links(app.config))
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert "cancelled" in page and "fired" in page
    link = html.unescape(re.search(r'<a href="([^"]+\.csv)">CSV</a>', page).group(1))
    signed_in.get("/dashboard/logout")  # the address needs no sign-in
    got = signed_in.get(urlsplit(link).path)
    assert got.status_code == 200
    got_rows = csv.DictReader(io.StringIO(got.text))
    assert sorted(row["recipient"] for row in got_rows) == ["bob@x.org", "cat@x.org"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"audience": "everyone", "after_hours": "48", "follow_up_id": "a"}, "audience"),
        ({"audience": "not_opened", "after_hours": "0", "follow_up_id": "a"}, "after_hours"),
        ({"audience": "not_opened", "after_hours": "soon", "follow_up_id": "a"}, "after_hours"),
        ({"audience": "not_opened", "after_hours": "48", "follow_up_id": "Bad"}, "follow_up.id"),
        ({"audience": "not_opened", "after_hours": "48", "follow_up_id": "nov-news"}, "taken"),
    ],
)
def test_bad_forms_say_what_is_wrong(signed_in, sent, store, form, message):
    response = post(signed_in, "/dashboard/campaigns/nov-news/automations", form)
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert store.list_automations("nov-news") == []


def test_an_untracked_campaign_shows_why_it_has_no_form(signed_in, client, auth):
    client.post("/api/v1/campaigns", json={"id": "quiet", "track": False}, headers=auth)
    page = signed_in.get("/dashboard/campaigns/quiet").get_data(as_text=True)
    assert "is not tracked" in page and "Add rule" not in page
    form = {"audience": "not_opened", "after_hours": "48", "follow_up_id": "q2"}
    token = csrf_of(page)
    response = signed_in.post(
        "/dashboard/campaigns/quiet/automations", data={**form, "csrf_token": token}
    )
    assert response.status_code == 422
