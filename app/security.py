"""The security headers every page carries: a strict Content-Security-Policy and its company.

No page of Opentrack runs a script. The dashboard and the public pages (the opt-out page,
error pages) style themselves with one ``<style>`` element carrying this response's nonce;
``csp_nonce()`` makes it, and ``add_headers`` names it in the policy.
"""

import base64
import hashlib
import secrets

from flask import Flask, g, request

# For pages served before Flask (the click redirect's own pages): no styles, nothing loaded.
PLAIN_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
]


def plain_headers_with_style(css: str) -> list[tuple[str, str]]:
    """Return PLAIN_HEADERS that also allow one <style> element holding exactly ``css``."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    others = [header for header in PLAIN_HEADERS if header[0] != "Content-Security-Policy"]
    return [("Content-Security-Policy", policy), *others]


def csp_nonce() -> str:
    """Return this response's nonce for the page's one <style> element."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def add_headers(response):
    """Forbid scripts, framing and sniffing; keep pages out of caches and referrers."""
    if request.endpoint == "bare_gif":
        # The benchmarks' baseline stays what it is named: a bare Flask route.
        return response
    nonce = g.get("csp_nonce")
    style = f"style-src 'nonce-{nonce}'" if nonce else "style-src 'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'none'; {style}; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Put the headers on every response Flask makes, and the nonce in every template."""
    app.jinja_env.globals.update(csp_nonce=csp_nonce)
    app.after_request(add_headers)
