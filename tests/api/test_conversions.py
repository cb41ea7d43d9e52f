import json
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from app.api.conversions import (
    AttributionFields,
    Conversion,
    ConversionNumbers,
    EstimatedOpenRate,
)
from app.core.times import to_iso
from app.tracking.writer import settle

HTML = '<html><body><a href="https://shop.example/p?x=1#top">Buy</a></body></html>'
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def shop(client, auth, store):
    """A campaign with click tracking and attribution, and two messages sent an hour ago."""
    body = {"id": "shop", "name": "Shop", "track_clicks": True, "attribution": True}
    assert client.post("/api/v1/campaigns", json=body, headers=auth).status_code == 201
    inject = {"recipients": ["ann@example.com", "bob@example.com"], "html": HTML}
    response = client.post("/api/v1/campaigns/shop/inject", json=inject, headers=auth)
    assert response.status_code == 201, response.get_json()
    # Sent an hour ago: a click seconds after sending would be judged a scanner's.
    store.backdate_campaign("shop", 3600)
    return {m["recipient"]: m for m in response.get_json()["messages"]}


def click_url(message):
    start = message["html"].index('href="') + len('href="')
    return message["html"][start : message["html"].index('"', start)]


def click(client, message):
    path = urlparse(click_url(message)).path
    response = client.get(path, headers={"User-Agent": DESKTOP})
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.fixture
def settled(flush, store):
    """A function that stores spooled clicks and gives them their final verdict."""

    def run():
        flush()
        settle(store, now=time.time() + 10)

    return run


def ot_of(location):
    return parse_qs(urlparse(location).query)["ot"][0]


def stats(client, auth, campaign="shop"):
    return client.get(f"/api/v1/campaigns/{campaign}/stats", headers=auth).get_json()


def test_the_redirect_adds_ot_and_keeps_query_and_fragment(client, shop):
    location = click(client, shop["ann@example.com"])
    assert location.startswith("https://shop.example/p?x=1&ot=")
    assert location.endswith("#top")
    assert "ann" not in location


def test_no_ot_for_a_browser_sending_gpc(client, shop):
    path = urlparse(click_url(shop["ann@example.com"])).path
    response = client.get(path, headers={"User-Agent": DESKTOP, "Sec-GPC": "1"})
    assert response.headers["Location"] == "https://shop.example/p?x=1#top"


def test_no_ot_without_attribution(client, auth):
    body = {"id": "plain", "name": "Plain", "track_clicks": True}
    client.post("/api/v1/campaigns", json=body, headers=auth)
    inject = {"recipient": "ann@example.com", "html": HTML}
    message = client.post("/api/v1/campaigns/plain/inject", json=inject, headers=auth).get_json()
    assert click(client, message) == "https://shop.example/p?x=1#top"


def test_an_inject_call_can_ask_for_attribution(client, auth):
    body = {"id": "plain", "name": "Plain", "track_clicks": True}
    client.post("/api/v1/campaigns", json=body, headers=auth)
    inject = {"recipient": "ann@example.com", "html": HTML, "attribution": True}
    message = client.post("/api/v1/campaigns/plain/inject", json=inject, headers=auth).get_json()
    assert "ot=" in click(client, message)


def test_pixel_conversion_is_attributed_to_the_human_click(client, auth, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    query = {"ot": ot, "value": "149.00", "currency": "USD", "order": "abc123", "event": "purchase"}
    for _ in range(2):  # a reloaded thank-you page is one conversion
        response = client.get("/t/myshop/conversion.gif", query_string=query)
        assert response.status_code == 200
        assert response.mimetype == "image/gif"
        assert "Set-Cookie" not in response.headers
    report = stats(client, auth)["conversions"]
    assert report["conversions"] == 1
    assert report["revenue"] == {"USD": "149.00"}
    assert report["conversion_rate"]["over_clickers"] == 1.0
    assert report["conversion_rate"]["over_messages"] == 0.5
    assert report["conversion_rate"]["of"] == "tracked"
    assert report["revenue_per_email"] == {"USD": "74.5000"}
    assert report["roas"] is None
    assert report["links"][0]["url"] == "https://shop.example/p?x=1#top"
    assert report["links"][0]["conversions"] == 1
    assert report["unattributed"]["conversions"] == 0


def test_roas_with_a_patched_cost(client, auth, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    body = {"ot": ot, "value": 300, "currency": "eur", "order": "o-1", "site": "myshop"}
    response = client.post("/api/v1/conversions", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["attribution"] == "click"
    patch = {"cost": "120.00", "cost_currency": "EUR"}
    response = client.patch("/api/v1/campaigns/shop", json=patch, headers=auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["cost"] == "120.00"
    report = stats(client, auth)["conversions"]
    assert report["revenue"] == {"EUR": "300.00"}
    assert report["roas"] == 2.5
    again = client.post("/api/v1/conversions", json=body, headers=auth)
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True


def test_recipient_conversion_needs_a_human_click(client, auth, shop, settled):
    click(client, shop["ann@example.com"])
    settled()
    for order, recipient in (("o-ann", "ann@example.com"), ("o-bob", "bob@example.com")):
        body = {
            "site": "myshop",
            "order": order,
            "recipient": recipient,
            "campaign": "shop",
            "value": "10",
            "currency": "JPY",
        }
        assert client.post("/api/v1/conversions", json=body, headers=auth).status_code == 201
    report = stats(client, auth)["conversions"]
    assert report["conversions"] == 1
    assert report["revenue"] == {"JPY": "10"}
    assert report["unattributed"] == {"conversions": 1, "revenue": {"JPY": "10"}}


def test_machine_clicks_never_attribute(client, auth, shop, settled):
    path = urlparse(click_url(shop["ann@example.com"])).path
    location = client.head(path, headers={"User-Agent": DESKTOP}).headers["Location"]
    settled()
    body = {"site": "myshop", "order": "o-1", "ot": ot_of(location)}
    assert client.post("/api/v1/conversions", json=body, headers=auth).status_code == 201
    report = stats(client, auth)["conversions"]
    assert report["conversions"] == 0
    assert report["unattributed"]["conversions"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order": "o"}, "site"),
        ({"site": "Bad Site!", "order": "o", "ot": "x"}, "site"),
        ({"site": "s", "ot": "x"}, "order"),
        ({"site": "s", "order": "o", "ot": "forged"}, "ot"),
        ({"site": "s", "order": "o"}, "ot"),
        ({"site": "s", "order": "o", "recipient": "ann@example.com"}, "campaign"),
        ({"site": "s", "order": "o", "recipient": "a@x", "campaign": "nope"}, "campaign"),
        (
            {"site": "s", "order": "o", "campaign": "shop", "recipient": "a@x", "value": "1"},
            "currency",
        ),
        (
            {
                "site": "s",
                "order": "o",
                "campaign": "shop",
                "recipient": "a@x",
                "value": "1.001",
                "currency": "USD",
            },
            "value",
        ),
        (
            {
                "site": "s",
                "order": "o",
                "campaign": "shop",
                "recipient": "a@x",
                "value": "-1",
                "currency": "USD",
            },
            "value",
        ),
        (
            {
                "site": "s",
                "order": "o",
                "campaign": "shop",
                "recipient": "a@x",
                "value": "1",
                "currency": "XYZ",
            },
            "currency",
        ),
        (
            {
                "site": "s",
                "order": "o",
                "campaign": "shop",
                "recipient": "a@x",
                "value": "1",
                "currency": "XAU",
            },
            "currency",
        ),
        (
            {"site": "s", "order": "o", "campaign": "shop", "recipient": "a@x", "colour": "red"},
            "colour",
        ),
        ({"site": "s", "order": 5, "ot": "x"}, "order"),
    ],
)
def test_bad_reports_are_refused_naming_the_field(client, auth, shop, body, field):
    response = client.post("/api/v1/conversions", json=body, headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["error"]["message"]


def test_bad_pixel_reports_are_counted_not_stored(app, client, auth, shop, settled):
    for query in ("order=o1", "ot=forged&order=o2", "ot=x&order=o3&value=abc&currency=USD"):
        response = client.get(f"/t/myshop/conversion.gif?{query}")
        assert response.status_code == 200
        assert response.mimetype == "image/gif"
    settled()
    metrics = app.extensions["opentrack"].store.metrics()
    assert metrics.get("conversion_rejected") == 3
    assert stats(client, auth)["conversions"]["unattributed"]["conversions"] == 0


def test_gpc_conversions_are_only_counted(app, client, auth, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    headers = {"Sec-GPC": "1"}
    client.get(f"/t/myshop/conversion.gif?ot={ot}&order=o1", headers=headers)
    settled()
    assert app.extensions["opentrack"].store.metrics().get("conversion_gpc") == 1
    assert stats(client, auth)["conversions"]["conversions"] == 0


def test_conversions_need_an_api_key(client):
    response = client.post("/api/v1/conversions", json={"site": "s", "order": "o"})
    assert response.status_code == 401


def test_erasure_keeps_conversions_as_anonymous_counts(client, auth, store, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    body = {"site": "myshop", "order": "ann-order-1", "ot": ot, "value": "5", "currency": "USD"}
    client.post("/api/v1/conversions", json=body, headers=auth)
    data = client.get("/api/v1/recipients/ann@example.com", headers=auth).get_json()
    assert data["messages"][0]["conversions"][0]["order_id"] == "ann-order-1"
    response = client.delete("/api/v1/recipients/ann@example.com", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["erased"]["conversions"] == 1
    assert store.get_conversion("myshop", "ann-order-1") is None
    report = stats(client, auth)["conversions"]
    assert report["conversions"] == 1
    assert report["revenue"] == {"USD": "5.00"}


def test_retention_purges_order_ids(client, auth, store, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    body = {"site": "myshop", "order": "o-1", "ot": ot}
    client.post("/api/v1/conversions", json=body, headers=auth)
    assert store.purge_raw_details("9999-01-01T00:00:00.000Z") >= 1
    assert store.get_conversion("myshop", "o-1") is None
    assert stats(client, auth)["conversions"]["conversions"] == 1


def test_deleting_a_campaign_deletes_its_conversions(client, auth, store, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    client.post("/api/v1/conversions", json={"site": "s", "order": "o", "ot": ot}, headers=auth)
    assert client.delete("/api/v1/campaigns/shop", headers=auth).status_code == 204
    assert store.get_conversion("s", "o") is None


def test_view_through_is_reported_apart_when_asked(client, auth, shop, flush):
    pixel = urlparse(shop["bob@example.com"]["pixel_url"]).path
    client.get(pixel, headers={"User-Agent": DESKTOP})
    flush()
    body = {"site": "s", "order": "o", "recipient": "bob@example.com", "campaign": "shop"}
    client.post("/api/v1/conversions", json=body, headers=auth)
    report = stats(client, auth)["conversions"]
    assert report["view_through"] is None
    assert report["unattributed"]["conversions"] == 1
    client.patch("/api/v1/campaigns/shop", json={"view_through": True}, headers=auth)
    report = stats(client, auth)["conversions"]
    assert report["view_through"]["conversions"] == 1
    assert report["conversions"] == 0
    assert report["unattributed"]["conversions"] == 0


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"cost": "10"}, "cost_currency"),
        ({"cost_currency": "USD"}, "cost"),
        ({"cost": "ten", "cost_currency": "USD"}, "cost"),
        ({"cost": "1", "cost_currency": "usd1"}, "cost_currency"),
        ({"attribution_window_days": 0}, "attribution_window_days"),
        ({"attribution_window_days": 91}, "attribution_window_days"),
        ({"attribution": "yes"}, "attribution"),
    ],
)
def test_bad_attribution_settings_are_refused(client, auth, shop, patch, field):
    response = client.patch("/api/v1/campaigns/shop", json=patch, headers=auth)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["error"]["message"]


def test_the_window_is_a_campaign_setting(client, auth, shop):
    response = client.patch(
        "/api/v1/campaigns/shop", json={"attribution_window_days": 1.5}, headers=auth
    )
    assert response.get_json()["attribution_window_days"] == 1.5
    assert stats(client, auth)["conversions"]["attribution_window_days"] == 1.5


def test_a_conversion_webhook_is_queued_once(client, auth, store, shop, settled):
    hook = {"url": "https://93.184.216.34/hook", "events": ["conversion"]}
    response = client.post("/api/v1/webhooks", json=hook, headers=auth)
    assert response.status_code == 201, response.get_json()
    webhook_id = response.get_json()["id"]
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    body = {"site": "s", "order": "o", "ot": ot, "value": "9.99", "currency": "GBP"}
    for _ in range(2):
        client.post("/api/v1/conversions", json=body, headers=auth)
    deliveries = store.list_deliveries(webhook_id)
    assert [d["event_type"] for d in deliveries] == ["conversion"]
    payload = deliveries[0]["payload"]
    assert payload["type"] == "conversion"
    assert (payload["value"], payload["currency"], payload["order"]) == ("9.99", "GBP", "o")
    assert payload["attribution"] == "click"
    assert payload["campaign_id"] == "shop"
    assert "ann" not in json.dumps(payload)


def test_the_campaign_page_has_a_revenue_card(app, client, auth, shop, settled):
    from app import dashboard

    dashboard.init_app(app)
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    body = {"site": "s", "order": "o", "ot": ot, "value": "149.00", "currency": "USD"}
    client.post("/api/v1/conversions", json=body, headers=auth)
    password = "pw-long-enough-1"
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ann@example.org"], input=f"{password}\n" * 2
    )
    assert result.exit_code == 0, result.output
    login = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = {"email": "ann@example.org", "password": password, "csrf_token": token}
    assert client.post("/dashboard/login", data=form).status_code == 302
    page = client.get("/dashboard/campaigns/shop").get_data(as_text=True)
    card = page[page.index('id="revenue"') :]
    assert "149.00" in card
    assert "Conversions per link" in card
    assert "https://shop.example/p?x=1#top" in card


def test_a_click_older_than_the_window_does_not_attribute(client, auth, store, shop, settled):
    client.patch("/api/v1/campaigns/shop", json={"attribution_window_days": 1}, headers=auth)
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    # The click happened long before the one-day window.
    with store.db.write() as conn:
        conn.execute("UPDATE clicks SET at = ?", ["2000-01-01T00:00:00.000Z"])
    body = {"site": "s", "order": "o", "ot": ot, "value": "1", "currency": "USD"}
    assert client.post("/api/v1/conversions", json=body, headers=auth).status_code == 201
    report = stats(client, auth)["conversions"]
    assert report["conversions"] == 0
    assert report["unattributed"]["conversions"] == 1


def test_head_of_the_conversion_pixel_records_nothing(client, auth, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    response = client.head(f"/t/myshop/conversion.gif?ot={ot}&order=o1")
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    assert stats(client, auth)["conversions"]["conversions"] == 0


def test_answers_match_their_declared_models(client, auth, shop, settled):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    client.patch("/api/v1/campaigns/shop", json={"cost": "1", "cost_currency": "USD"}, headers=auth)
    body = {"site": "s", "order": "o", "ot": ot, "value": "2", "currency": "USD"}
    answer = client.post("/api/v1/conversions", json=body, headers=auth).get_json()
    Conversion.model_validate(answer, strict=True)
    report = stats(client, auth)
    ConversionNumbers.model_validate(report["conversions"], strict=True)
    EstimatedOpenRate.model_validate(report["estimated_open_rate"], strict=True)
    fields = {key: report[key] for key in AttributionFields.model_fields}
    AttributionFields.model_validate(fields, strict=True)


def test_a_conversion_the_store_refused_is_kept_and_replayed(
    app, client, auth, store, shop, settled, monkeypatch
):
    ot = ot_of(click(client, shop["ann@example.com"]))
    settled()
    record = store.conversions.record_conversion

    def down(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(store.conversions, "record_conversion", down)
    query = f"ot={ot}&order=o1&value=10&currency=USD"
    response = client.get(f"/t/myshop/conversion.gif?{query}")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert store.get_conversion("myshop", "o1") is None
    monkeypatch.setattr(store.conversions, "record_conversion", record)
    client.get(f"/t/myshop/conversion.gif?ot={ot}&order=o2&value=5&currency=USD")
    first, second = store.get_conversion("myshop", "o1"), store.get_conversion("myshop", "o2")
    assert first is not None and first["at"] <= second["at"]
    assert stats(client, auth)["conversions"]["revenue"] == {"USD": "15.00"}
    app.extensions["opentrack"].recorder.flush()
    assert store.metrics().get("conversion_record_errors") == 1


@pytest.fixture
def sale(client, auth, store):
    """A second campaign with attribution, sent to ann too."""
    body = {"id": "sale", "name": "Sale", "track_clicks": True, "attribution": True}
    assert client.post("/api/v1/campaigns", json=body, headers=auth).status_code == 201
    inject = {"recipient": "ann@example.com", "html": HTML}
    response = client.post("/api/v1/campaigns/sale/inject", json=inject, headers=auth)
    assert response.status_code == 201, response.get_json()
    store.backdate_campaign("sale", 3600)
    return response.get_json()


def click_days_ago(store, campaign, days):
    """Move a campaign's clicks back in time by a number of days."""
    with store.db.write() as conn:
        conn.execute(
            "UPDATE clicks SET at = ? WHERE campaign_id = ?",
            [to_iso(time.time() - days * 86400), campaign],
        )


def convert(client, auth, ot, order="o-1", value="20.00"):
    body = {"site": "s", "order": order, "ot": ot, "value": value, "currency": "USD"}
    response = client.post("/api/v1/conversions", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_later_human_click_on_another_campaign_takes_the_conversion(
    client, auth, store, shop, sale, settled
):
    ot = ot_of(click(client, shop["ann@example.com"]))
    click(client, sale)
    settled()
    click_days_ago(store, "shop", 3)
    click_days_ago(store, "sale", 1)
    answer = convert(client, auth, ot)
    assert answer["attribution"] == "click"
    assert (answer["campaign_id"], answer["message_id"]) == ("sale", sale["message_id"])
    report = stats(client, auth, "sale")["conversions"]
    assert report["conversions"] == 1
    assert report["converted_recipients"] == 1
    assert report["revenue"] == {"USD": "20.00"}
    assert report["links"][0]["conversions"] == 1
    shop_report = stats(client, auth)["conversions"]
    assert shop_report["conversions"] == 0
    assert shop_report["unattributed"]["conversions"] == 0
    assert shop_report["links"] == []


def test_a_machine_click_on_another_campaign_does_not_take_it(
    client, auth, store, shop, sale, settled
):
    ot = ot_of(click(client, shop["ann@example.com"]))
    client.head(urlparse(click_url(sale)).path, headers={"User-Agent": DESKTOP})
    settled()
    click_days_ago(store, "shop", 3)
    click_days_ago(store, "sale", 1)
    answer = convert(client, auth, ot)
    assert (answer["attribution"], answer["campaign_id"]) == ("click", "shop")
    assert stats(client, auth)["conversions"]["conversions"] == 1
    assert stats(client, auth, "sale")["conversions"]["conversions"] == 0


def test_a_click_outside_its_own_campaigns_window_does_not_take_it(
    client, auth, store, shop, sale, settled
):
    client.patch("/api/v1/campaigns/shop", json={"attribution_window_days": 10}, headers=auth)
    ot = ot_of(click(client, shop["ann@example.com"]))
    click(client, sale)
    settled()
    # Later than shop's click, but outside sale's seven-day window.
    click_days_ago(store, "shop", 9)
    click_days_ago(store, "sale", 8)
    answer = convert(client, auth, ot)
    assert (answer["attribution"], answer["campaign_id"]) == ("click", "shop")
    assert stats(client, auth)["conversions"]["conversions"] == 1
    assert stats(client, auth, "sale")["conversions"]["conversions"] == 0


def test_another_campaigns_click_keeps_the_conversion_through_erasure_and_deletion(
    client, auth, store, shop, sale, settled
):
    ot = ot_of(click(client, shop["ann@example.com"]))
    click(client, sale)
    settled()
    click_days_ago(store, "shop", 3)
    click_days_ago(store, "sale", 1)
    convert(client, auth, ot, order="o-1")
    convert(client, auth, ot, order="o-2", value="5.00")
    assert client.delete("/api/v1/campaigns/shop", headers=auth).status_code == 204
    assert store.get_conversion("s", "o-1")["campaign_id"] == "sale"
    response = client.delete("/api/v1/recipients/ann@example.com", headers=auth)
    assert response.get_json()["erased"]["conversions"] == 2
    report = stats(client, auth, "sale")["conversions"]
    assert report["conversions"] == 2
    assert report["revenue"] == {"USD": "25.00"}
