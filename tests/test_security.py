"""Every page carries a strict Content-Security-Policy, the dashboard's and the public ones."""

import re


def assert_strict(response):
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    # Nothing may run: no script source beyond default-src 'none', and no inline anything.
    assert "unsafe-inline" not in policy and "script-src 'self'" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_outside_the_dashboard_carry_the_policy(client, auth, campaign):
    assert_strict(client.get("/no/such/page"))
    assert_strict(client.get("/api/v1/campaigns", headers=auth))
    assert_strict(client.get("/c/not-a-token"))
    message = client.post(
        "/api/v1/campaigns/nov-news/inject",
        json={"recipient": "ann@example.com", "html": "<body></body>"},
        headers=auth,
    ).get_json()
    optout = client.get("/optout/" + message["optout_url"].split("/optout/")[1])
    assert optout.status_code == 200
    assert_strict(optout)
    # The page styles itself only through the <style> element the policy's nonce names.
    nonce = re.search(r"style-src 'nonce-([^']+)'", optout.headers["Content-Security-Policy"])
    page = optout.get_data(as_text=True)
    assert f'<style nonce="{nonce.group(1)}">' in page and "style=" not in page


def test_the_baseline_route_stays_bare(client):
    assert "Content-Security-Policy" not in client.get("/bare.gif").headers
