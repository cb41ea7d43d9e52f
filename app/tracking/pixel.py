"""The pixel endpoint, served in front of Flask because it is the hot path.

Every request under ``/o/`` gets the same 43-byte GIF at once, whatever the token, method or
headers; a fetch of a valid token is appended to the recorder's spool first. ``/ping.gif``
returns the same GIF without recording: a health check, and the baseline that
``scripts/bench_pixel.py`` measures the recording pixel against.
"""

import logging
import time
import uuid

from app.core.tokens import read_token
from app.tracking.recorder import Recorder

log = logging.getLogger(__name__)

# A 1x1 transparent GIF89a.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
GIF_HEADERS = [
    ("Content-Type", "image/gif"),
    ("Content-Length", str(len(GIF))),
    ("Cache-Control", "no-store, no-cache, must-revalidate, private"),
    ("Pragma", "no-cache"),
    ("Expires", "0"),
]
PIXEL_PREFIX = "/o/"
PING_PATH = "/ping.gif"
# Longer values are cut: enough for any real user agent, bounded for a hostile one.
MAX_USER_AGENT = 1024
MAX_HEADER = 200


def pixel_path(token: str) -> str:
    """Return the path of the pixel for a token."""
    return f"{PIXEL_PREFIX}{token}.gif"


class PixelMiddleware:
    """Answer pixel and ping requests before Flask sees them; pass the rest to Flask."""

    def __init__(self, app, serializer, recorder: Recorder, honor_gpc: bool = False):
        self.app = app
        self.serializer = serializer
        self.recorder = recorder
        self.honor_gpc = honor_gpc

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PIXEL_PREFIX):
            try:
                self.record(environ, path)
            except Exception:
                # The GIF goes out whatever happened; the failure is logged and counted.
                log.exception("could not record a pixel fetch")
                self.recorder.count("pixel_record_errors")
        elif path != PING_PATH:
            return self.app(environ, start_response)
        start_response("200 OK", list(GIF_HEADERS))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [GIF]

    def record(self, environ, path: str) -> None:
        """Append a fetch of a valid token to the spool; count anything else."""
        method = environ.get("REQUEST_METHOD", "GET")
        token = path[len(PIXEL_PREFIX) :].removesuffix(".gif")
        message_id = read_token(self.serializer, token)
        if message_id is None:
            self.recorder.count("pixel_bad_token")
            return
        if method not in ("GET", "HEAD"):
            self.recorder.count("pixel_other_method")
            return
        self.recorder.append(spool_line(environ, message_id, method, self.honor_gpc))


def spool_line(
    environ: dict, message_id: str, method: str, honor_gpc: bool, extras: dict | None = None
) -> list:
    """Return the spool line of one fetch (of a pixel, or of a click with its extras).

    [key, message id, time, IP, user agent, method, X-Requested-With, purpose], and a ninth
    element with extras when there are any: "private" keeps the fetch as a count only (the
    client sent Sec-GPC or DNT and we honour it), "click" names the clicked link.
    """
    purpose = environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE")
    line = [
        uuid.uuid4().hex,
        message_id,
        time.time(),
        environ.get("REMOTE_ADDR"),
        environ.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT],
        method,
        (environ.get("HTTP_X_REQUESTED_WITH") or "")[:MAX_HEADER] or None,
        (purpose or "")[:MAX_HEADER] or None,
    ]
    extras = dict(extras or {})
    if honor_gpc and "1" in (
        environ.get("HTTP_SEC_GPC", "").strip(),
        environ.get("HTTP_DNT", "").strip(),
    ):
        extras["private"] = 1
    if extras:
        line.append(extras)
    return line
