import re
from urllib.parse import urlparse

HTML = "<html><body><p>Hello</p></body></html>"
APPLE_MPP = "Mozilla/5.0"
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def inject(client, auth, body, campaign_id="nov-news"):
    return client.post(f"/api/v1/campaigns/{campaign_id}/inject", json=body, headers=auth)


def fetch_pixel(client, message, user_agent=DESKTOP):
    return client.get(urlparse(message["pixel_url"]).path, headers={"User-Agent": user_agent})


def test_stats_give_the_estimated_open_rate(client, auth, campaign, flush):
    body = {"html": HTML, "recipients": ["a@x", "b@x", "mpp1@x", "mpp2@x"]}
    messages = {m["recipient"]: m for m in inject(client, auth, body).get_json()["messages"]}
    fetch_pixel(client, messages["a@x"], DESKTOP)
    fetch_pixel(client, messages["mpp1@x"], APPLE_MPP)
    fetch_pixel(client, messages["mpp2@x"], APPLE_MPP)
    flush()
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert stats["human_open_rate"] == 0.25
    assert stats["open_rate"] == 0.75
    estimate = stats["estimated_open_rate"]
    # One of two visible recipients opened; the two hidden ones are taken to open alike.
    assert estimate["value"] == 0.5
    assert 0.25 <= estimate["low"] < 0.5 < estimate["high"] <= 0.75
    assert estimate["method"] == "visible_extrapolation_wilson"
    assert "estimated_open_rate" in stats["definitions"]


def test_an_empty_campaign_has_no_estimate(client, auth, campaign):
    stats = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()
    assert stats["estimated_open_rate"]["value"] is None
    assert stats["estimated_open_rate"]["low"] is None


def test_the_campaign_page_shows_the_estimate_as_a_rate(app, client, auth, campaign, flush):
    from app import dashboard

    dashboard.init_app(app)
    body = {"html": HTML, "recipients": ["a@x", "b@x", "mpp1@x", "mpp2@x"]}
    messages = {m["recipient"]: m for m in inject(client, auth, body).get_json()["messages"]}
    fetch_pixel(client, messages["a@x"], DESKTOP)
    fetch_pixel(client, messages["mpp1@x"], APPLE_MPP)
    fetch_pixel(client, messages["mpp2@x"], APPLE_MPP)
    flush()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "ann@example.com"], input="pw-long-enough-1\n" * 2
    )
    assert result.exit_code == 0, result.output
    login = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = {"email": "ann@example.com", "password": "pw-long-enough-1", "csrf_token": token}
    assert client.post("/dashboard/login", data=form).status_code == 302
    page = client.get("/dashboard/campaigns/nov-news").get_data(as_text=True)
    card = page[page.index('id="figure-estimated_open_rate"') :]
    card = card[: card.index("</p>")]
    assert "Estimated open rate" in card
    assert "50.0%" in card
    assert "95% interval" in card


def test_a_hidden_recipient_seen_opening_elsewhere_is_a_known_opener(
    client, auth, campaign, flush, store
):
    body = {"html": HTML, "recipients": ["a@x", "b@x", "mpp1@x", "mpp2@x"]}
    messages = {m["recipient"]: m for m in inject(client, auth, body).get_json()["messages"]}
    fetch_pixel(client, messages["a@x"], DESKTOP)
    fetch_pixel(client, messages["mpp1@x"], APPLE_MPP)
    fetch_pixel(client, messages["mpp1@x"], DESKTOP)
    fetch_pixel(client, messages["mpp2@x"], APPLE_MPP)
    flush()
    assert store.opened_signals("nov-news") == {"hidden_opened": 1, "visible_opened_clicked": 0}
    estimate = client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()[
        "estimated_open_rate"
    ]
    # Visible: a (opened), b; hidden: mpp1 (known opener), mpp2 (opens at the visible 1/2).
    assert estimate["value"] == (1 + 1 + 0.5) / 4
