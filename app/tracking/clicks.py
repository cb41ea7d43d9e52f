"""The click redirect: answer signed click URLs at once and spool the click.

``/c/<token>`` is served in front of Flask, like the pixel. The token is signed and names a
message and one of its campaign's stored links, so the redirect only ever leads to a URL that
was in the HTML we were given: a forged, altered or unknown token gets a styled 404 page
(``templates/error.html``, its one style allowed by hash) and no redirect. Tokens minted now
are checked with one keyed hash (``core.tokens``); those of links sent before them,
itsdangerous signatures, still verify. A valid click is appended to
the same spool as pixel fetches (its ninth element says it is a click), answered at once, and
judged and stored by ``tracking.writer``. Links are rewritten at injection by
``core.injection``.
"""

import html
import logging
import time

from werkzeug.urls import iri_to_uri

from app.core import links
from app.core.paths import CLICK_PREFIX
from app.core.tokens import read_click_token
from app.error_pages import plain_error_page
from app.security import PLAIN_HEADERS
from app.tracking.recorder import Recorder
from app.tracking.spool import spool_line

log = logging.getLogger(__name__)

NOT_FOUND_TITLE = "Link not found"
NOT_FOUND_MESSAGE = (
    "This link is not valid: it may have been cut short or altered. Nothing was redirected."
)
# A bounded cache spares the database most lookups on busy links.
CACHE_SIZE = 10_000
CACHE_SECONDS = 30.0


def not_found_page() -> tuple[bytes, list[tuple[str, str]]]:
    """Return the styled page of a bad click link and its strict headers (rendered once)."""
    return plain_error_page(404, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE)


def plain_page(
    start_response, status: str, body: bytes, headers=(), security=PLAIN_HEADERS
) -> list[bytes]:
    """Answer with a small HTML page that no cache keeps."""
    start_response(
        status,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            *security,
            *headers,
        ],
    )
    return [body]


class ClickMiddleware:
    """Answer click URLs before Flask sees them: a redirect for ours, 404 for anything else."""

    def __init__(
        self, app, serializer, recorder: Recorder, store, honor_gpc: bool = False, tag_landing=None
    ):
        self.app = app
        self.serializer = serializer
        self.recorder = recorder
        self.store = store
        self.honor_gpc = honor_gpc
        self._targets: dict[tuple[int, str], tuple[str, float]] = {}
        # Attribution (core/attribution): adds a signed ``ot`` to the landing URL when asked.
        self.tag_landing = tag_landing
        self.not_found, self.not_found_headers = not_found_page()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CLICK_PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        found = read_click_token(self.serializer, path[len(CLICK_PREFIX) :])
        try:
            target = self.target(found[1], found[0]) if found else None
        except Exception:
            # A database we cannot read right now: no redirect we cannot vouch for.
            log.exception("could not look up a click's link")
            target = None
        if target is None:
            self.recorder.count("click_bad_token")
            return plain_page(
                start_response, "404 Not Found", self.not_found, security=self.not_found_headers
            )
        if method not in ("GET", "HEAD"):
            return plain_page(
                start_response,
                "405 Method Not Allowed",
                self.not_found,
                [("Allow", "GET, HEAD")],
                self.not_found_headers,
            )
        if self.tag_landing is not None:
            target = self.tag_landing(found[0], found[1], target, environ)
        # Headers are Latin-1: a link with non-ASCII characters goes out percent-encoded.
        location = iri_to_uri(target)
        escaped = html.escape(location, quote=True).encode()
        body = b'<!doctype html><title>Redirecting</title><a href="' + escaped + b'">Continue</a>'
        # Spooled last, once the answer is ready: the landing's lookup (a query per message)
        # comes before, so that a worker dying between the spooled click and its answer, when
        # the person clicks again and is counted twice, is as short as for the pixel.
        try:
            self.record(environ, found[0], found[1], method)
        except Exception:
            # The person still gets where they were going; the failure is logged and counted.
            log.exception("could not record a click")
            self.recorder.count("click_record_errors")
        start_response(
            "302 Found",
            [
                ("Location", location),
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Referrer-Policy", "no-referrer"),
                *PLAIN_HEADERS,
            ],
        )
        return [] if method == "HEAD" else [body]

    def target(self, link_id: int, message_id: str) -> str | None:
        """Return the stored URL of a message's link, when it is one we may redirect to."""
        cached = self._targets.get((link_id, message_id))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        url = self.store.link_target(link_id, message_id)
        # Checked again here, whatever is in the database: never a redirect to javascript:.
        if url is None or links.trackable_url(url) != url:
            return None
        if len(self._targets) >= CACHE_SIZE:
            self._targets.clear()
        # Remembered for a while only: an erased link or a deleted campaign stops redirecting
        # on every process within CACHE_SECONDS.
        self._targets[(link_id, message_id)] = (url, time.monotonic() + CACHE_SECONDS)
        return url

    def record(self, environ, message_id: str, link_id: int, method: str) -> None:
        """Append a click to the spool."""
        line = spool_line(environ, message_id, method, self.honor_gpc, {"click": link_id})
        self.recorder.append(line)
