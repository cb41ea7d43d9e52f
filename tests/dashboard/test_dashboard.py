"""The dashboard over Flask's test client: sign-in, CSRF, throttle, escaping, headers, pages."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app, dashboard
from app.dashboard import auth

PASSWORD = "a long password"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


@pytest.fixture
def app(app):
    """The app with the dashboard registered."""
    dashboard.init_app(app)
    return app


@pytest.fixture
def user(runner):
    """A dashboard user made with the CLI; returns its email."""
    result = runner.invoke(args=["users", "create", "ann@example.com"], input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    return "ann@example.com"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, email, password, next_path=""):
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    form = {"email": email, "password": password, "csrf_token": token, "next": next_path}
    return client.post("/dashboard/login", data=form)


@pytest.fixture
def signed_in(client, user):
    """A test client signed in to the dashboard."""
    assert sign_in(client, user, PASSWORD).status_code == 302
    return client


def post_form(client, path, data, page="/dashboard/campaigns"):
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def inject(client, auth, campaign_id, recipients):
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/inject",
        json={"html": "<body>Hi</body>", "recipients": recipients},
        headers=auth,
    )
    assert response.status_code == 201
    return response.get_json()["messages"]


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/campaigns",
        "/dashboard/campaigns/nov-news",
        "/dashboard/campaigns/nov-news/non-openers.csv",
        "/dashboard/messages/abc",
        "/dashboard/keys",
    ],
)
def test_pages_require_sign_in(client, campaign, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/dashboard/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize(
    "path",
    ["/dashboard/campaigns", "/dashboard/keys", "/dashboard/keys/revoke", "/dashboard/logout"],
)
def test_actions_require_sign_in(client, path):
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token, "id": "x", "name": "x"}).status_code == 401


def test_sign_in_cookie_and_sign_out(client, user):
    wrong = sign_in(client, user, "not the password")
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    response = sign_in(client, "ANN@example.com", PASSWORD, "/dashboard/keys")
    assert response.status_code == 302 and response.location == "/dashboard/keys"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("opentrack_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/dashboard/campaigns").status_code == 200
    page = client.get("/dashboard/campaigns").get_data(as_text=True)
    assert client.post("/dashboard/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert client.get("/dashboard/campaigns").status_code == 302


def test_cookie_is_secure_over_https(app, user):
    client = app.test_client()
    token_page = client.get("/dashboard/login", base_url="https://localhost")
    assert "Secure" in token_page.headers["Set-Cookie"]
    form = {"email": user, "password": PASSWORD, "csrf_token": csrf_of(token_page.text)}
    response = client.post("/dashboard/login", data=form, base_url="https://localhost")
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_cookie_can_be_always_secure(app, client, user):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "Secure" in sign_in(client, user, PASSWORD).headers["Set-Cookie"]


def test_sessions_survive_adding_a_signing_secret(tmp_path):
    def app_with(secrets):
        config = {"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEYS": secrets}
        app = create_app(config)
        dashboard.init_app(app)
        return app

    old = app_with("old-secret")
    old.test_cli_runner().invoke(
        args=["users", "create", "bob@example.com"], input=f"{PASSWORD}\n" * 2
    )
    client = old.test_client()
    assert sign_in(client, "bob@example.com", PASSWORD).status_code == 302
    cookie = client.get_cookie("opentrack_session").value
    for secrets, status in (("old-secret,new-secret", 200), ("new-secret", 302)):
        app = app_with(secrets)
        rotated = app.test_client()
        rotated.set_cookie("opentrack_session", cookie)
        assert rotated.get("/dashboard/campaigns").status_code == status
        app.extensions["opentrack"].recorder.stop()
    old.extensions["opentrack"].recorder.stop()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "x"])
def test_sign_in_never_sends_you_to_another_site(client, user, target):
    response = sign_in(client, user, PASSWORD, target)
    assert response.location == "/dashboard/campaigns"


def test_forms_without_the_csrf_token_are_rejected(signed_in, store):
    assert signed_in.post("/dashboard/campaigns", data={"id": "a"}).status_code == 400
    forged = {"id": "a", "csrf_token": "forged"}
    assert signed_in.post("/dashboard/campaigns", data=forged).status_code == 400
    assert store.get_campaign("a") is None
    assert post_form(signed_in, "/dashboard/campaigns", {"id": "a"}).status_code == 302
    assert store.get_campaign("a") is not None


def test_sign_in_form_needs_its_csrf_token(client, user):
    client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={"email": user, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard/campaigns").status_code == 302


def test_five_wrong_passwords_slow_further_tries(client, user, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    for _ in range(5):
        assert sign_in(client, user, "wrong password").status_code == 401
    refused = sign_in(client, user, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "30"
    now[0] += 31
    assert sign_in(client, user, PASSWORD).status_code == 302


def test_the_throttle_counts_per_ip_too(client, user, monkeypatch):
    monkeypatch.setattr(auth, "clock", lambda: 2_000_000.0)
    for number in range(5):
        assert sign_in(client, f"guess{number}@example.com", "wrong password").status_code == 401
    assert sign_in(client, user, PASSWORD).status_code == 429
    other_ip = client.get("/dashboard/login", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    form = {"email": user, "password": PASSWORD, "csrf_token": csrf_of(other_ip.text)}
    response = client.post("/dashboard/login", data=form, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 302


def test_a_deleted_users_session_stops_working(signed_in, runner, user):
    assert signed_in.get("/dashboard/campaigns").status_code == 200
    assert runner.invoke(args=["users", "delete", user]).exit_code == 0
    assert signed_in.get("/dashboard/campaigns").status_code == 302


def test_security_headers(app, signed_in):
    anonymous = app.test_client()
    for response in (signed_in.get("/dashboard/campaigns"), anonymous.get("/dashboard/login")):
        policy = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "script-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        nonce = re.search(r"style-src 'nonce-([^']+)'", policy).group(1)
        assert f'<style nonce="{nonce}">' in response.get_data(as_text=True)
        assert "<script" not in response.get_data(as_text=True)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
    other = signed_in.get("/dashboard/campaigns").headers["Content-Security-Policy"]
    assert other != policy  # a fresh nonce each response


@pytest.mark.parametrize("hostile", XSS)
def test_outside_text_is_escaped(signed_in, client, auth, store, flush, hostile):
    created = client.post(
        "/api/v1/campaigns", json={"id": "xss", "name": f"Name {hostile}"}, headers=auth
    )
    assert created.status_code == 201
    [message] = inject(
        client, auth, "xss", [{"recipient": f"r{hostile}", "metadata": {"m": hostile}}]
    )
    client.get(message["pixel_url"], headers={"User-Agent": hostile})
    flush()
    pages = [
        signed_in.get("/dashboard/campaigns").get_data(as_text=True),
        signed_in.get("/dashboard/campaigns/xss").get_data(as_text=True),
        signed_in.get(f"/dashboard/messages/{message['message_id']}").get_data(as_text=True),
    ]
    escaped = hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace('"', "&#34;")
    for page in pages:
        assert hostile not in page
        assert "<script>alert" not in page and "<img src=x" not in page
    assert escaped in pages[2]  # the user agent, shown as text
    assert pages[2].count(escaped) >= 3  # recipient, metadata and user agent


def test_campaign_list_searches_and_pages_past_fifty(signed_in, store):
    for number in range(60):
        store.create_campaign(f"c{number:02d}", f"Issue {number}")
    first = signed_in.get("/dashboard/campaigns").get_data(as_text=True)
    assert first.count('href="/dashboard/campaigns/c') == 50
    assert "page 1 of 2" in first and 'rel="next"' in first
    second = signed_in.get("/dashboard/campaigns?page=2").get_data(as_text=True)
    assert second.count('href="/dashboard/campaigns/c') == 10
    shown = re.findall(r'href="/dashboard/campaigns/(c\d\d)"', first + second)
    assert sorted(shown) == [f"c{number:02d}" for number in range(60)]
    found = signed_in.get("/dashboard/campaigns?q=Issue 5").get_data(as_text=True)
    assert found.count('href="/dashboard/campaigns/c') == 11  # 5 and 50-59


def test_create_campaign_from_the_page(signed_in, store):
    response = post_form(signed_in, "/dashboard/campaigns", {"id": "dec-news", "name": "Dec"})
    assert response.location == "/dashboard/campaigns/dec-news"
    assert store.get_campaign("dec-news")["name"] == "Dec"
    bad = post_form(signed_in, "/dashboard/campaigns", {"id": "Bad Id!"})
    assert bad.status_code == 400 and "lower-case letters" in bad.get_data(as_text=True)
    again = post_form(signed_in, "/dashboard/campaigns", {"id": "dec-news"})
    assert again.status_code == 409 and "already exists" in again.get_data(as_text=True)


def test_empty_states_show_the_curl_command_with_the_base_url(app, signed_in, store):
    page = signed_in.get("/dashboard/campaigns").get_data(as_text=True)
    assert "No campaigns yet" in page
    assert "curl -s -X POST http://localhost/api/v1/campaigns/nov-news/inject" in page
    app.config["BASE_URL"] = "https://t.example.com"
    store.create_campaign("dec-news", "Dec")
    page = signed_in.get("/dashboard/campaigns/dec-news").get_data(as_text=True)
    assert "curl -s -X POST https://t.example.com/api/v1/campaigns/dec-news/inject" in page


def test_campaign_page_numbers_and_recipient_filters(signed_in, client, auth, campaign, flush):
    messages = inject(client, auth, "nov-news", ["ann@x.org", "bob@x.org", "cat@x.org"])
    client.get(messages[0]["pixel_url"], headers={"User-Agent": IPHONE_MAIL})
    client.get(messages[1]["pixel_url"], headers={"User-Agent": "Mozilla/5.0"})
    flush()
    page = signed_in.get("/dashboard/campaigns/nov-news").get_data(as_text=True)
    human_rate = re.search(r'id="figure-human_open_rate".*?class="value">([^<]+)<', page, re.S)
    assert human_rate.group(1) == "33.3%"
    assert "1 of 3" in page and "Apple Mail" in page
    assert "1 human" in page and "1 machine" in page
    opened = signed_in.get("/dashboard/campaigns/nov-news?state=opened").get_data(as_text=True)
    assert "ann@x.org" in opened and "bob@x.org" not in opened and "cat@x.org" not in opened
    unknown = signed_in.get("/dashboard/campaigns/nov-news?state=unknown").get_data(as_text=True)
    assert "bob@x.org" in unknown and "ann@x.org" not in unknown
    search = signed_in.get("/dashboard/campaigns/nov-news?q=CAT").get_data(as_text=True)
    assert "cat@x.org" in search and "ann@x.org" not in search
    assert "1 recipient<" in search
    assert signed_in.get("/dashboard/campaigns/nope").status_code == 404


def test_non_openers_csv(signed_in, client, auth, campaign, flush):
    messages = inject(client, auth, "nov-news", ["ann@x.org", "bob@x.org", "=cat@x.org"])
    client.get(messages[0]["pixel_url"], headers={"User-Agent": IPHONE_MAIL})
    client.get(messages[1]["pixel_url"], headers={"User-Agent": "Mozilla/5.0"})
    flush()

    def rows(query):
        response = signed_in.get(f"/dashboard/campaigns/nov-news/non-openers.csv?{query}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    assert [row["recipient"] for row in rows("include_unknown=false")] == ["'=cat@x.org"]
    both = rows("include_unknown=true&min_age_hours=0")
    assert sorted(row["recipient"] for row in both) == ["'=cat@x.org", "bob@x.org"]
    assert rows("include_unknown=true&min_age_hours=1") == []
    bad = signed_in.get("/dashboard/campaigns/nov-news/non-openers.csv?min_age_hours=soon")
    assert bad.status_code == 400
    # The API's bearer key does not open the dashboard's export.
    assert client.get("/dashboard/campaigns/nov-news/non-openers.csv", headers=auth).status_code


def test_message_page_lists_every_event(signed_in, client, auth, store, campaign, flush):
    [message] = inject(client, auth, "nov-news", ["ann@x.org"])
    client.get(message["pixel_url"], headers={"User-Agent": IPHONE_MAIL})
    client.head(message["pixel_url"], headers={"User-Agent": IPHONE_MAIL})
    flush()
    page = signed_in.get(f"/dashboard/messages/{message['message_id']}").get_data(as_text=True)
    assert "ann@x.org" in page and "Opened" in page
    assert "<title>ann@x.org · Opentrack</title>" in page and page.count('id="clicks"') == 1
    assert page.count('class="badge human"') == 1 and page.count('class="badge machine"') == 1
    assert "A HEAD request checks the image without showing it" in page
    assert "iOS" in page and "phone" in page
    stored_ip = store.get_message(message["message_id"])["events"][0]["ip"]
    assert f'<td class="mono">{stored_ip or "–"}</td>' in page
    assert signed_in.get("/dashboard/messages/nope").status_code == 404


def test_api_keys_page_creates_once_and_revokes(signed_in, client, store):
    created = post_form(signed_in, "/dashboard/keys", {"name": "sender"}, "/dashboard/keys")
    assert created.status_code == 201
    key = re.search(r'<code id="new-key">(otk_[^<]+)</code>', created.get_data(as_text=True))[1]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/campaigns", headers=headers).status_code == 200
    listing = signed_in.get("/dashboard/keys").get_data(as_text=True)
    assert "sender" in listing and key not in listing and key[:8] in listing
    taken = post_form(signed_in, "/dashboard/keys", {"name": "sender"}, "/dashboard/keys")
    assert taken.status_code == 409
    revoked = post_form(signed_in, "/dashboard/keys/revoke", {"name": "sender"}, "/dashboard/keys")
    assert revoked.status_code == 302
    assert client.get("/api/v1/campaigns", headers=headers).status_code == 401
    assert "revoked" in signed_in.get("/dashboard/keys").get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["?page=²", "?page=-1", "?page=99999999999", "?_method=POST", "?_anchor=x&page=2"]
)
def test_odd_query_arguments_still_render(signed_in, campaign, store, query):
    for n in range(55):  # enough for a second page, so the pager's links are drawn
        store.create_campaign(f"more-{n}", f"More {n}")
    for path in ("/dashboard/campaigns", "/dashboard/campaigns/nov-news"):
        response = signed_in.get(path + query)
        assert response.status_code == 200, (path, query)
        assert b"#x" not in response.data


def test_a_cookie_copied_before_sign_out_opens_nothing(app, signed_in):
    cookie = signed_in.get_cookie("opentrack_session").value
    thief = app.test_client()
    thief.set_cookie("opentrack_session", cookie)
    assert thief.get("/dashboard/campaigns").status_code == 200
    assert post_form(signed_in, "/dashboard/logout", {}).status_code == 302
    assert thief.get("/dashboard/campaigns").status_code == 302
    assert signed_in.get("/dashboard/campaigns").status_code == 302


def test_signing_out_everywhere_ends_every_session(app, client, user, runner):
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert sign_in(device, user, PASSWORD).status_code == 302
    assert post_form(laptop, "/dashboard/logout-everywhere", {}).status_code == 302
    assert phone.get("/dashboard/campaigns").status_code == 302
    assert sign_in(phone, user, PASSWORD).status_code == 302
    result = runner.invoke(args=["users", "sign-out", user])
    assert result.exit_code == 0 and "Ended 1 session" in result.output
    assert phone.get("/dashboard/campaigns").status_code == 302
    assert runner.invoke(args=["users", "sign-out", "nobody@example.com"]).exit_code != 0


def test_sessions_are_stored_as_hashes(app, signed_in, store):
    token = signed_in.get_cookie("opentrack_session").value
    [row] = store.db.execute("SELECT token_hash FROM sessions").fetchall()
    assert row[0] not in token and len(row[0]) == 64
