"""Styled error pages outside the dashboard and the API: unknown addresses, bad links."""

import base64
import hashlib
import re

from werkzeug.exceptions import BadRequest

from app.core.tokens import click_serializer, mint_click_token
from app.error_pages import error_page


def style_of(page: str) -> str:
    return re.search(r"<style[^>]*>(.*?)</style>", page, re.S).group(1)


def assert_styled(response, status: int, title: str):
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"<h1>{title}</h1>" in page and "font-family" in style_of(page)
    assert "Werkzeug" not in page and "<script" not in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return page, policy


def test_an_unknown_address_gets_a_styled_404_with_its_nonce(client):
    page, policy = assert_styled(client.get("/no/such/page"), 404, "Page not found")
    nonce = re.search(r'<style nonce="([^"]+)">', page).group(1)
    assert f"style-src 'nonce-{nonce}'" in policy and "script-src 'none'" in policy


def test_a_bad_opt_out_address_gets_a_styled_404(client):
    assert_styled(client.get("/optout/"), 404, "Page not found")
    assert_styled(client.get("/optout/a/b"), 404, "Page not found")
    page, _ = assert_styled(client.get("/optout/forged-token"), 404, "This link is not valid.")
    assert "<style nonce=" in page


def test_a_wrong_method_keeps_its_allow_header(client):
    response = client.put("/optout/forged-token")
    assert_styled(response, 405, "Not allowed")
    assert "POST" in response.headers["Allow"]


def test_a_bad_request_shows_its_description(app):
    with app.test_request_context("/optout/x"):
        response = app.make_response(error_page(BadRequest("This form field is missing.")))
        response = app.process_response(response)
    page, _ = assert_styled(response, 400, "Bad request")
    assert "This form field is missing." in page


def test_the_api_keeps_its_json_errors(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_forged_click_link_gets_a_styled_404_allowing_only_its_style(app, client):
    ours = app.extensions["opentrack"].signers.click
    forged = [
        "/c/" + mint_click_token(click_serializer(["someone-elses-secret"]), "m1", 1),
        "/c/" + mint_click_token(ours, "no-such-message", 1),
        "/c/",
        "/c/" + "x" * 5000,
    ]
    for path in forged:
        response = client.get(path)
        page, policy = assert_styled(response, 404, "Link not found")
        assert "Location" not in response.headers
        assert "Nothing was redirected" in page
        digest = base64.b64encode(hashlib.sha256(style_of(page).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy
        assert "nonce" not in policy
        assert response.headers["Referrer-Policy"] == "no-referrer"
    response = client.post(forged[1])
    assert response.status_code == 404 and "Location" not in response.headers
