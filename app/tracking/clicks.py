"""Click tracking: rewrite links at injection, redirect signed click URLs, store the clicks.

``/c/<token>`` is served in front of Flask, like the pixel. The token is signed and names a
message and one of its campaign's stored links, so the redirect only ever leads to a URL that
was in the HTML we were given: a forged, altered or unknown token gets a plain 404 page and
no redirect. A valid click is appended to the same spool as pixel fetches (its ninth element
says it is a click), answered at once, and stored and judged by the writer thread.
"""

import html
import logging
import time

from werkzeug.urls import iri_to_uri

from app.core import links
from app.core.times import from_iso, to_iso
from app.core.tokens import mint_click_token, read_click_token
from app.rules.classify import Fetch, classify
from app.rules.clicks import BURST_SECONDS, click_verdict
from app.tracking.pixel import spool_line
from app.tracking.recorder import Recorder

log = logging.getLogger(__name__)

CLICK_PREFIX = "/c/"
NOT_FOUND = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<p>This link is not valid. Nothing was redirected.</p>\n"
)
# Link ids change never; a bounded cache spares the database most lookups on busy links.
CACHE_SIZE = 10_000


def plain_page(start_response, status: str, body: bytes, headers=()) -> list[bytes]:
    """Answer with a small HTML page that no cache keeps."""
    start_response(
        status,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            *headers,
        ],
    )
    return [body]


class ClickMiddleware:
    """Answer click URLs before Flask sees them: a redirect for ours, 404 for anything else."""

    def __init__(self, app, serializer, recorder: Recorder, store, honor_gpc: bool = False):
        self.app = app
        self.serializer = serializer
        self.recorder = recorder
        self.store = store
        self.honor_gpc = honor_gpc
        self._targets: dict[int, str] = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CLICK_PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        found = read_click_token(self.serializer, path[len(CLICK_PREFIX) :])
        try:
            target = self.target(found[1]) if found else None
        except Exception:
            # A database we cannot read right now: no redirect we cannot vouch for.
            log.exception("could not look up a click's link")
            target = None
        if target is None:
            self.recorder.count("click_bad_token")
            return plain_page(start_response, "404 Not Found", NOT_FOUND)
        if method not in ("GET", "HEAD"):
            return plain_page(
                start_response, "405 Method Not Allowed", NOT_FOUND, [("Allow", "GET, HEAD")]
            )
        try:
            self.record(environ, found[0], found[1], method)
        except Exception:
            # The person still gets where they were going; the failure is logged and counted.
            log.exception("could not record a click")
            self.recorder.count("click_record_errors")
        # Headers are Latin-1: a link with non-ASCII characters goes out percent-encoded.
        location = iri_to_uri(target)
        escaped = html.escape(location, quote=True).encode()
        body = b'<!doctype html><title>Redirecting</title><a href="' + escaped + b'">Continue</a>'
        start_response(
            "302 Found",
            [
                ("Location", location),
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )
        return [] if method == "HEAD" else [body]

    def target(self, link_id: int) -> str | None:
        """Return the stored URL of a link, when it is one we may redirect to."""
        url = self._targets.get(link_id)
        if url is None:
            url = self.store.link_target(link_id)
            # Checked again here, whatever is in the database: never a redirect to javascript:.
            if url is None or links.trackable_url(url) != url:
                return None
            if len(self._targets) >= CACHE_SIZE:
                self._targets.clear()
            self._targets[link_id] = url
        return url

    def record(self, environ, message_id: str, link_id: int, method: str) -> None:
        """Append a click to the spool."""
        line = spool_line(environ, message_id, method, self.honor_gpc, {"click": link_id})
        self.recorder.append(line)


def is_click(line: list) -> bool:
    """Return whether a spool line is a click rather than a pixel fetch."""
    return len(line) > 8 and isinstance(line[8], dict) and "click" in line[8]


def split_lines(lines: list[list]) -> tuple[list[list], list[list]]:
    """Return (pixel fetches, clicks) of a batch of spool lines."""
    fetches, clicks = [], []
    for line in lines:
        (clicks if is_click(line) else fetches).append(line)
    return fetches, clicks


def record_clicks(store, lines: list[list], networks, window: float, policy) -> int:
    """Judge spooled clicks for now, store them, and settle those old enough; return stored."""
    stored = 0
    if lines:
        injected = store.injected_times(line[1] for line in lines)
        clicks = []
        for line in lines:
            key, message_id, timestamp, ip, user_agent, method = line[:6]
            if message_id not in injected:
                continue
            since = round(timestamp - from_iso(injected[message_id]), 3)
            fetch = Fetch(user_agent=user_agent, ip=ip, method=method, seconds_since_send=since)
            verdict = classify(fetch, networks, window).as_dict()
            verdict["verdict"], verdict["source"], verdict["reason"] = click_verdict(
                verdict, method, since, window
            )
            click = {
                "event_key": key,
                "message_id": message_id,
                "link_id": line[8]["click"],
                "at": to_iso(timestamp),
                "ip": ip,
                "user_agent": user_agent,
                "method": method,
                "x_requested_with": None,
                "sec_purpose": None,
                "seconds_since_send": since,
                **verdict,
            }
            clicks.append(policy.apply(click, private=bool(line[8].get("private"))))
        stored = store.store_clicks(clicks)
    settle(store)
    return stored


def settle(store, now: float | None = None) -> int:
    """Settle every click old enough that no burst it belongs to can still grow; return how
    many."""
    before = to_iso((time.time() if now is None else now) - BURST_SECONDS)
    settled = total = store.settle_clicks(before)
    while settled:
        settled = store.settle_clicks(before)
        total += settled
    return total


class ClickLinks:
    """Rewrite the links of one inject call's HTML bodies into click URLs."""

    def __init__(self, store, serializer, campaign_id: str, base_url: str, enabled: bool):
        self.store = store
        self.serializer = serializer
        self.campaign_id = campaign_id
        self.prefix = base_url + CLICK_PREFIX
        self.enabled = enabled
        self._found: dict[int, tuple[str, list[links.Link]]] = {}
        self._ids: dict[str, int] = {}

    def register(self, documents: list[str]) -> None:
        """Find the links of every distinct document and store their URLs, in one go."""
        if not self.enabled:
            return
        urls = []
        for document in documents:
            if id(document) not in self._found:
                found = links.find_links(document, skip_prefix=self.prefix)
                # The document is kept with its links, so its id() cannot be reused meanwhile.
                self._found[id(document)] = (document, found)
                urls += [link.url for link in found]
        if urls:
            self._ids = self.store.register_links(self.campaign_id, urls)

    def rewrite(self, document: str, message_id: str, position: int) -> tuple[str, int]:
        """Return the document with its links as this message's click URLs, and where the
        pixel position moved to."""
        if not self.enabled or id(document) not in self._found:
            return document, position
        found = self._found[id(document)][1]
        urls = [
            self.prefix + mint_click_token(self.serializer, message_id, self._ids[link.url])
            for link in found
        ]
        return links.replace_links(document, found, urls, position)
