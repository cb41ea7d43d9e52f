"""Styled error pages for people in a browser, outside the dashboard and the API.

One small template, ``templates/error.html``, in the look of the opt-out page. Pages Flask
serves (an unknown address, a bad request) carry the response's CSP nonce; pages the click
redirect serves before Flask are rendered once and allow their one style by its hash, so
their headers stay as strict as ``security.PLAIN_HEADERS``.
"""

import os
from functools import cache

from flask import make_response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException

from app.security import csp_nonce, plain_headers_with_style

# What a person reading the page needs, by status; other statuses show Werkzeug's description.
TITLES = {
    400: ("Bad request", None),
    404: ("Page not found", "There is nothing at this address. Check the link you followed."),
    405: ("Not allowed", None),
}


@cache
def _environment() -> Environment:
    from app import template_folder

    return Environment(loader=FileSystemLoader(template_folder()), autoescape=select_autoescape())


@cache
def error_css() -> str:
    """Return the error page's style sheet, exactly as the page and its hash carry it."""
    from app import template_folder

    with open(os.path.join(template_folder(), "error.css"), encoding="utf-8") as sheet:
        return sheet.read()


def render_error(code: int, title: str, message: str, nonce: str | None = None) -> str:
    """Return the HTML of an error page."""
    template = _environment().get_template("error.html")
    return template.render(code=code, title=title, message=message, css=error_css(), nonce=nonce)


def error_page(error: HTTPException):
    """Return a Flask response: the styled page for an HTTP error (redirects pass through)."""
    if error.code is None or error.code < 400:
        return error
    title, message = TITLES.get(error.code, (error.name, None))
    body = render_error(error.code, title, message or error.description or "", csp_nonce())
    response = make_response(body, error.code)
    original = error.get_response()
    for name in ("Allow", "WWW-Authenticate", "Retry-After"):
        if name in original.headers:
            response.headers[name] = original.headers[name]
    return response


def plain_error_page(code: int, title: str, message: str) -> tuple[bytes, list[tuple[str, str]]]:
    """Return the body and the security headers of a page served before Flask."""
    body = render_error(code, title, message).encode()
    return body, plain_headers_with_style(error_css())
