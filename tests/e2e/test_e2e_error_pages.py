"""Error pages through real gunicorn: a forged click link and an unknown address."""

import base64
import hashlib
import re

import pytest
import requests
from gunicorn_server import Server

pytestmark = pytest.mark.slow


def test_forged_click_links_and_unknown_addresses_get_styled_pages(tmp_path):
    server = Server(tmp_path / "instance")
    try:
        for path in ("/c/abc.1.forged", "/c/" + "x" * 3000):
            response = requests.get(server.url + path, allow_redirects=False, timeout=10)
            assert response.status_code == 404
            assert "Location" not in response.headers
            assert "<h1>Link not found</h1>" in response.text
            style = re.search(r"<style>(.*?)</style>", response.text, re.S).group(1)
            digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
            policy = response.headers["Content-Security-Policy"]
            assert policy.startswith("default-src 'none'; ")
            assert f"style-src 'sha256-{digest}'" in policy
        page = requests.get(server.url + "/no/such/page", timeout=10)
        assert page.status_code == 404 and "<h1>Page not found</h1>" in page.text
        nonce = re.search(r'<style nonce="([^"]+)">', page.text).group(1)
        assert f"'nonce-{nonce}'" in page.headers["Content-Security-Policy"]
        api = requests.get(server.url + "/api/v1/nothing-here", timeout=10)
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    finally:
        server.stop()
