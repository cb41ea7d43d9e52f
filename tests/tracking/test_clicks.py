"""Click tracking through the app: rewriting at injection, redirects, verdicts and numbers."""

import time

import pytest

from app.core.tokens import click_serializer, mint_click_token
from app.rules.clicks import click_verdict, settle_verdict
from app.tracking.clicks import ClickMiddleware
from app.tracking.reclassify import reclassify
from app.tracking.writer import settle

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
HTML = (
    '<html><body><a href="https://shop.example/a?x=1&amp;y=2">A</a> '
    '<a href="https://shop.example/b">B</a> <a href="mailto:help@shop.example">mail</a> '
    '<a href="javascript:alert(1)">js</a> <a href="https://shop.example/c" data-opentrack="off">'
    "c</a></body></html>"
)


@pytest.fixture
def app_settings():
    """The scanner window off, so that a click right after injection is a person's."""
    return {"SCANNER_WINDOW_SECONDS": 0}


def inject(client, auth, recipients, **options):
    body = {"html": HTML, "recipients": recipients, **options}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["messages"]


def click_paths(message):
    html = message["html"]
    return [part.split('"')[0] for part in html.split('href="http://localhost')[1:]]


def click(client, path, agent=FIREFOX, method="GET"):
    return client.open(path, method=method, headers={"User-Agent": agent})


def settled(flush, store):
    flush()
    settle(store, now=time.time() + 10)


def test_links_become_signed_click_urls_and_the_rest_stays(client, auth, campaign):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    paths = click_paths(message)
    assert len(paths) == 2 and all(path.startswith("/c/") for path in paths)
    html = message["html"]
    for path in paths:
        html = html.replace("http://localhost" + path, "URL", 1)
    pixel = html[html.index("<img") : html.index("</body>")]
    expected = HTML.replace("https://shop.example/a?x=1&amp;y=2", "URL")
    assert html.replace(pixel, "") == expected.replace("https://shop.example/b", "URL")
    response = click(client, paths[0])
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/a?x=1&y=2"
    assert response.headers["Cache-Control"] == "no-store"
    head = click(client, paths[1], method="HEAD")
    assert head.status_code == 302 and head.data == b""


def test_campaign_default_and_injection_override(client, auth):
    response = client.post(
        "/api/v1/campaigns", json={"id": "nov-news", "track_clicks": True}, headers=auth
    )
    assert response.get_json()["track_clicks"] is True
    assert len(click_paths(inject(client, auth, ["a@x.org"])[0])) == 2
    assert click_paths(inject(client, auth, ["b@x.org"], track_clicks=False)[0]) == []
    bad = client.post(
        "/api/v1/campaigns/nov-news/inject",
        json={"html": HTML, "recipient": "c@x.org", "track_clicks": "yes"},
        headers=auth,
    )
    assert bad.status_code == 400 and "track_clicks" in bad.get_json()["error"]["message"]


def test_untracked_messages_keep_their_links(client, auth, campaign):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True, track=False)
    assert message["html"] == HTML


def test_reinjecting_wraps_nothing_twice(client, auth, campaign):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    again = client.post(
        "/api/v1/campaigns/nov-news/inject",
        json={"html": message["html"], "recipient": "ann@x.org", "track_clicks": True},
        headers=auth,
    ).get_json()
    assert again["html"] == message["html"]


def test_open_redirect_attempts_get_a_plain_404(app, client, auth, campaign, store):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    path = click_paths(message)[0]
    token = path[len("/c/") :]
    serializer = click_serializer(["someone-elses-secret"])
    pixel_token = message["pixel_url"].split("/o/")[1].removesuffix(".gif")
    ours = app.extensions["opentrack"].signers.click
    # A javascript: URL can only be in the database by tampering with it: still no redirect.
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO links (id, campaign_id, url, created_at) "
            "VALUES (999, 'nov-news', 'javascript:alert(1)', 'x')"
        )
    message_id, link_id, tag = token.split(".")
    attempts = [
        path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"),  # a changed signature
        "/c/" + token[:5] + token[6:],  # a changed message id
        f"/c/{message_id}.{int(link_id) + 1}.{tag}",  # the message's other link, unsigned
        "/c/" + mint_click_token(serializer, message["message_id"], 1),  # a foreign key
        "/c/" + serializer.dumps([message["message_id"], 1]),  # the old form, a foreign key
        "/c/" + pixel_token,  # a pixel token: another salt
        "/c/" + mint_click_token(ours, message["message_id"], 12345),  # an unknown link
        "/c/" + mint_click_token(ours, message["message_id"], 999),
        "/c/" + ours.dumps([message["message_id"], 999]),  # the old form
        "/c/" + ours.dumps([message["message_id"], 12345]),
        "/c/",
        "/c/" + "x" * 5000,
    ]
    for attempt in attempts:
        response = client.get(attempt)
        assert response.status_code == 404, attempt
        assert "Location" not in response.headers
        assert response.mimetype == "text/html"
    assert client.post(path).status_code == 405


def test_a_persons_click_opens_the_message(client, auth, campaign, store, flush):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    click(client, click_paths(message)[1])
    flush()
    assert store.count_unsettled_clicks() == 1
    settle(store, now=time.time() + 10)
    detail = client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
    assert detail["state"] == "opened"
    [event] = detail["events"]
    assert event["source"] == "click" and event["verdict"] == "human"
    assert detail["first_open_at"] == event["at"]
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert (stats["opened"], stats["clicks"], stats["human_clicks"], stats["clickers"]) == (
        1,
        1,
        1,
        1,
    )
    assert stats["click_rate"] == 1.0 and stats["click_to_open_rate"] == 1.0
    assert stats["rates"]["click_to_open_rate"] == {"count": 1, "of": 1}
    assert "click_rate" in stats["definitions"]
    by_url = {link["url"]: link for link in stats["links"]}
    assert by_url["https://shop.example/b"]["clickers"] == 1
    assert by_url["https://shop.example/a?x=1&y=2"]["clicks"] == 0


def test_a_click_is_spooled_once_its_landing_is_looked_up(app, client, auth, campaign, monkeypatch):
    """The landing's lookup (a query per message, for attribution) comes before the click is
    spooled, not between the spooled click and its answer: a worker killed while it waits
    leaves no spooled click that the person's second try would double."""
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    middleware = app.wsgi_app
    while not isinstance(middleware, ClickMiddleware):
        middleware = middleware.app
    order = []
    tag, record = middleware.tag_landing, middleware.record
    monkeypatch.setattr(middleware, "tag_landing", lambda *a: order.append("landing") or tag(*a))
    monkeypatch.setattr(middleware, "record", lambda *a: order.append("spooled") or record(*a))
    assert click(client, click_paths(message)[1]).status_code == 302
    assert order == ["landing", "spooled"]


def test_a_click_after_the_pixel_adds_no_open(client, auth, campaign, store, flush):
    [message] = inject(client, auth, ["ann@x.org", "bob@x.org"], track_clicks=True)[:1]
    client.get("/o/" + message["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
    flush()
    path = click_paths(message)[0]
    click(client, path)
    settled(flush, store)
    click(client, path)  # the same person again, a while later
    settled(flush, store)
    detail = client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
    assert [event["source"] for event in detail["events"]] == ["direct"]
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert (stats["human_opens"], stats["clicks"], stats["clickers"]) == (1, 2, 1)
    assert stats["click_rate"] == 0.5
    [link] = [link for link in stats["links"] if link["clicks"]]
    assert (link["human_clicks"], link["clickers"]) == (2, 1)


def test_a_scanner_following_every_link_does_not_open(client, auth, campaign, store, flush):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    for path in click_paths(message):
        click(client, path)
    settled(flush, store)
    detail = client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
    assert detail["state"] == "not_opened" and detail["events"] == []
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert (stats["clicks"], stats["machine_clicks"], stats["clickers"]) == (2, 2, 0)
    reasons = {c["reason"] for c in store.message_clicks(message["message_id"])}
    assert all("links of this message" in reason for reason in reasons)


def test_head_requests_and_bots_are_machine_clicks(client, auth, campaign, store, flush):
    first, second = inject(client, auth, ["ann@x.org", "bob@x.org"], track_clicks=True)
    click(client, click_paths(first)[0], method="HEAD")
    click(client, click_paths(second)[0], agent="Mozilla/5.0 (compatible; Googlebot/2.1)")
    settled(flush, store)
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert (stats["opened"], stats["machine_clicks"], stats["clickers"]) == (0, 2, 0)
    assert store.message_clicks(first["message_id"])[0]["source"] == "prefetch"


@pytest.mark.parametrize(
    ("pixel", "method", "since", "expected"),
    [
        ({"verdict": "human", "source": "direct", "client": "Firefox"}, "GET", 3600, "click"),
        ({"verdict": "human", "source": "direct"}, "GET", 12, "scanner"),
        ({"verdict": "human", "source": "direct"}, "HEAD", 3600, "prefetch"),
        ({"verdict": "machine", "source": "bot"}, "GET", 3600, "bot"),
        ({"verdict": "machine", "source": "scanner"}, "GET", 3600, "scanner"),
    ],
)
def test_click_verdict(pixel, method, since, expected):
    verdict, source, reason = click_verdict({"reason": "r", **pixel}, method, since, 60)
    assert source == expected
    assert verdict == ("human" if expected == "click" else "machine") and reason


def test_settle_verdict_turns_a_burst_into_a_scanner():
    person = ("human", "click", "r")
    assert settle_verdict(person, 1) == person
    assert settle_verdict(person, 3)[:2] == ("machine", "scanner")
    assert settle_verdict(("machine", "bot", "r"), 3) == ("machine", "bot", "r")


def test_reclassify_keeps_opens_implied_by_clicks(client, auth, campaign, store, flush):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    click(client, click_paths(message)[0])
    settled(flush, store)
    result = reclassify(store, None, 0)
    assert result["changed"] == 0
    detail = client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
    assert detail["state"] == "opened" and detail["events"][0]["source"] == "click"
    [stored] = detail["clicks"]
    assert stored["url"] == "https://shop.example/a?x=1&y=2" and stored["verdict"] == "human"


def test_non_ascii_links_redirect_percent_encoded_and_control_characters_are_not_tracked(
    client, auth, campaign
):
    urls = [
        "https://example.com/café",
        "https://example.com/中",
        "https://über.example/x?q=ü",
        "https://example.com/a\x0bb",
        "https://example.com/a\x7fb",
    ]
    html = "<body>" + "".join(f'<a href="{url}">x</a>' for url in urls) + "</body>"
    body = {"recipient": "a@x", "html": html, "track_clicks": True}
    message = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()
    paths = click_paths(message)
    assert len(paths) == 3
    assert "a\x0bb" in message["html"] and "a\x7fb" in message["html"]
    locations = [click(client, path).headers["Location"] for path in paths]
    assert locations == [
        "https://example.com/caf%C3%A9",
        "https://example.com/%E4%B8%AD",
        "https://xn--ber-goa.example/x?q=%C3%BC",
    ]
    assert all(location.isascii() for location in locations)


def test_a_link_of_another_campaign_never_redirects(app, client, auth, campaign, store):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    store.create_campaign("other", "Other")
    [other_link] = store.register_links("other", ["https://other.example/"]).values()
    ours = app.extensions["opentrack"].signers.click
    # Signed by us, but naming a link the message's campaign never had (say, an id SQLite
    # gave again after a deleted campaign's links): a 404, not the other campaign's URL.
    response = client.get("/c/" + mint_click_token(ours, message["message_id"], other_link))
    assert response.status_code == 404
    assert client.get(click_paths(message)[0]).status_code == 302


def test_links_sent_with_old_tokens_still_redirect_and_count(
    app, client, auth, campaign, store, flush
):
    [message] = inject(client, auth, ["ann@x.org"], track_clicks=True)
    ours = app.extensions["opentrack"].signers.click
    link_id = int(click_paths(message)[1].split(".")[1])
    # What an email sent before the compact tokens carries: itsdangerous over the pair.
    old_path = "/c/" + ours.dumps([message["message_id"], link_id])
    response = click(client, old_path)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/b"
    settled(flush, store)
    [stored] = store.message_clicks(message["message_id"])
    assert stored["url"] == "https://shop.example/b"
