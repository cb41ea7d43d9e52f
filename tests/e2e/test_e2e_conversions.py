"""End to end: a click through real gunicorn hands the landing page an ot, the thank-you page's
conversion pixel hands it back, and the campaign's stats attribute the revenue."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from gunicorn_server import Server, wait_for

pytestmark = pytest.mark.slow

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
HTML = '<html><body><a href="https://shop.example/p?sku=9#buy">Buy</a></body></html>'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Clicks a second after sending are people's here, not a security scanner's.
    instance = tmp_path_factory.mktemp("e2e-conversions") / "instance"
    server = Server(instance, {"OPENTRACK_SCANNER_WINDOW_SECONDS": "0"})
    yield server
    server.stop()


def test_click_to_conversion_to_revenue(server):
    key = server.cli("keys", "create", "shop").stdout.strip()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    campaign = {"id": "shop", "name": "Shop", "track_clicks": True, "attribution": True}
    assert http.post(server.url + "/api/v1/campaigns", json=campaign).status_code == 201
    patch = {"cost": "50.00", "cost_currency": "USD"}
    assert http.patch(server.url + "/api/v1/campaigns/shop", json=patch).status_code == 200
    inject = {"html": HTML, "recipients": ["ann@example.com", "bob@example.com"]}
    messages = http.post(server.url + "/api/v1/campaigns/shop/inject", json=inject).json()
    html = messages["messages"][0]["html"]
    start = html.index('href="') + len('href="')
    click_url = html[start : html.index('"', start)]

    landing = requests.get(
        click_url, headers={"User-Agent": FIREFOX}, allow_redirects=False, timeout=30
    )
    assert landing.status_code == 302
    location = landing.headers["Location"]
    assert location.startswith("https://shop.example/p?sku=9&ot=")
    assert location.endswith("#buy")
    assert "ann" not in location
    ot = parse_qs(urlparse(location).query)["ot"][0]

    query = {"ot": ot, "value": "149.00", "currency": "USD", "order": "abc123"}
    for _ in range(3):  # a reloaded thank-you page is still one conversion
        pixel = requests.get(server.url + "/t/myshop/conversion.gif", params=query, timeout=30)
        assert pixel.status_code == 200
        assert pixel.headers["Content-Type"] == "image/gif"
        assert len(pixel.content) == 43
        assert "Set-Cookie" not in pixel.headers

    # The click settles once no burst it belongs to can still grow; the worker settles it.
    time.sleep(2.5)

    def attributed():
        assert server.cli("worker", "--once").returncode == 0
        stats = http.get(server.url + "/api/v1/campaigns/shop/stats").json()
        return stats["conversions"] if stats["conversions"]["conversions"] else None

    conversions = wait_for(attributed, 30)
    assert conversions["conversions"] == 1
    assert conversions["revenue"] == {"USD": "149.00"}
    assert conversions["conversion_rate"]["over_clickers"] == 1.0
    assert conversions["conversion_rate"]["over_messages"] == 0.5
    assert conversions["roas"] == 2.98
    assert conversions["links"][0]["url"] == "https://shop.example/p?sku=9#buy"

    bad = requests.get(server.url + "/t/myshop/conversion.gif?ot=forged&order=x", timeout=30)
    assert bad.status_code == 200 and len(bad.content) == 43
