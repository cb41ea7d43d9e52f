"""The pixel endpoint, served in front of Flask because it is the hot path.

Every request under ``/o/`` gets the same 43-byte GIF at once, whatever the token, method or
headers; a fetch of a valid token is appended to the recorder's spool first. ``/ping.gif``
returns the same GIF without recording: a health check, and the baseline that
``scripts/bench_pixel.py`` measures the recording pixel against.
"""

import logging

from app.core.paths import PING_PATH, PIXEL_PREFIX
from app.core.tokens import read_token
from app.tracking.recorder import Recorder
from app.tracking.spool import spool_line

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
