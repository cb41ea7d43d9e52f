"""End to end: the sender a campaign names, set by the API and the CLI, on a real gunicorn's
opt-out page, escaped."""

from urllib.parse import urlsplit

import pytest
import requests
from gunicorn_server import Server

pytestmark = pytest.mark.slow

HTML = "<html><body><a href='{{ optout_url }}'>stop tracking</a></body></html>"


def test_the_optout_page_names_the_sender_as_text(tmp_path):
    server = Server(tmp_path / "instance")
    try:
        key = server.cli("keys", "create", "e2e")
        assert key.returncode == 0, key.stderr
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key.stdout.strip()}"
        api = server.url + "/api/v1"
        body = {"id": "dec", "name": "Dec", "sender_name": "<img src=x onerror=alert(1)>"}
        assert http.post(api + "/campaigns", json=body, timeout=10).status_code == 201
        message = http.post(
            api + "/campaigns/dec/inject", json={"recipient": "a@x.org", "html": HTML}, timeout=10
        ).json()
        page_url = server.url + urlsplit(message["optout_url"]).path
        page = requests.get(page_url, timeout=10)
        assert page.status_code == 200
        assert "<img" not in page.text
        assert (
            "You are opting out of mail from <strong>&lt;img src=x onerror=alert(1)&gt;</strong>"
            in page.text
        )
        too_long = http.patch(api + "/campaigns/dec", json={"sender_name": "x" * 201}, timeout=10)
        assert (
            too_long.status_code == 400 and "'sender_name'" in too_long.json()["error"]["message"]
        )
        assert server.cli("campaigns", "set-sender", "dec", "Acme Shop").returncode == 0
        page = requests.get(page_url, timeout=10).text
        assert "You are opting out of mail from <strong>Acme Shop</strong>" in page
        cleared = http.patch(api + "/campaigns/dec", json={"sender_name": None}, timeout=10)
        assert cleared.json()["sender_name"] is None
        assert "mail from <strong>Dec</strong>" in requests.get(page_url, timeout=10).text
    finally:
        server.stop()
