"""The dashboard blueprint: sign-in required, CSRF checked, security headers on every page."""

import math
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from app.core import fields
from app.core.fields import FieldError
from app.services import store

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

PUBLIC_ENDPOINTS = {"dashboard.sign_in"}
PAGE_SIZE = 50
# A session ends this long after sign-in, or at sign-out, whichever comes first.
SESSION_DAYS = 7


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in; never another site."""
    default = url_for("dashboard.campaigns")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


@bp.before_request
def require_sign_in():
    """Send visitors who have not signed in to the sign-in page; check forms' CSRF tokens."""
    g.user = None
    token = session.get("session")
    if token is not None:
        # Looked up on every request: a session ended anywhere ends here at once.
        g.user = store().session_user(token)
        if g.user is None:
            session.clear()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.method == "GET":
            return redirect(url_for("dashboard.sign_in", next=request.full_path.rstrip("?")))
        abort(401)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf")
        if not expected or not secrets.compare_digest(sent, expected):
            abort(400, "This form has expired or did not come from this site. Reload the page.")
    return None


@bp.errorhandler(HTTPException)
def dashboard_error(error: HTTPException):
    """Render an error inside the dashboard as a page of the dashboard."""
    return render_template("dashboard/error.html", error=error), error.code


@dataclass
class Pager:
    """Which page of a listing is shown, out of how many.

    ``capped``: the total is a lower bound (counting stopped past it), shown as "N+", with no
    last page. ``first_cursor`` and ``last_cursor``, when set, are the shown rows' first and
    last keys: Previous and Next then start from them (keyset paging) instead of from an
    offset, and ``more`` says whether a capped listing has a next page.
    """

    page: int
    total: int
    size: int = PAGE_SIZE
    capped: bool = False
    first_cursor: str | None = None
    last_cursor: str | None = None
    more: bool = True

    @property
    def pages(self) -> int:
        """Return how many pages the listing has (at least one; a capped one, at least up
        to the page shown)."""
        pages = max(1, math.ceil(self.total / self.size))
        return max(pages, self.page) if self.capped else pages

    @property
    def offset(self) -> int:
        """Return how many rows come before this page."""
        return (min(self.page, self.pages) - 1) * self.size

    @property
    def has_next(self) -> bool:
        """Return whether a page follows this one."""
        return self.more if self.capped else min(self.page, self.pages) < self.pages

    def url(self, page: int, **cursor: str | None) -> str:
        """Return this URL with another page number (and ``after=`` or ``before=`` a cursor),
        keeping the other query arguments."""
        # url_for reads keys starting with "_" as its own options (_method, _anchor, ...).
        query = {
            k: v
            for k, v in request.args.items()
            if not k.startswith("_") and k not in ("after", "before")
        }
        args = {**query, **request.view_args, "page": page, **cursor}
        return url_for(request.endpoint, **args)

    def next_url(self) -> str:
        """Return the next page's URL: from the last shown row when rows have cursors."""
        here = min(self.page, self.pages)
        if self.last_cursor is None:
            return self.url(here + 1)
        return self.url(here + 1, after=self.last_cursor)

    def previous_url(self) -> str:
        """Return the previous page's URL: up to the first shown row when rows have cursors."""
        here = min(self.page, self.pages)
        if self.first_cursor is None or here <= 2:
            return self.url(here - 1)
        return self.url(here - 1, before=self.first_cursor)


def page_arg() -> int:
    """Return the requested page number, 1 when missing or odd."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 10**9 else 1


def base_url() -> str:
    """Return the public origin senders call the API and pixels on."""
    return (current_app.config["BASE_URL"] or request.host_url).rstrip("/")


def hours_arg(raw: str | None, field: str) -> float:
    """Return a minimum age in hours typed into a form (empty: 0), or answer 400."""
    try:
        return fields.age_hours(float((raw or "").strip() or "0"), field)
    except (ValueError, FieldError):
        abort(
            400, f"The minimum age must be a number of hours between 0 and {fields.MAX_AGE_HOURS}."
        )


@bp.get("/<path:unknown>")
def not_found(unknown: str):
    """Answer any other dashboard address with the dashboard's own 404 page."""
    abort(404, f"There is no dashboard page at /dashboard/{unknown}.")
