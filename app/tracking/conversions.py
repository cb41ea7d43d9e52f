"""The conversion pixel: ``/t/<site>/conversion.gif?ot=...&value=...&currency=...&order=...``.

Served in front of Flask like the open pixel, and answered with the same GIF whatever
happened. A thank-you page puts it in its HTML with the ``ot`` its landing URL carried. A
report whose fields break a rule is not stored but counted (``conversion_rejected``); one from a
browser sending ``Sec-GPC: 1`` or ``DNT: 1`` is only counted (``conversion_gpc``) when
``OPENTRACK_HONOR_GPC`` is on; a store failure is logged and counted
(``conversion_record_errors``). Conversions are rare next to opens, so they are stored at once
rather than spooled. Nothing is read from or written to cookies.
"""

import logging
from urllib.parse import parse_qsl

from app.core.conversions import record_conversion
from app.core.fields import FieldError
from app.tracking.pixel import GIF, GIF_HEADERS

log = logging.getLogger(__name__)

PREFIX = "/t/"
SUFFIX = "/conversion.gif"
FIELDS = ("ot", "value", "currency", "order", "event")
MAX_QUERY = 4096


class ConversionMiddleware:
    """Answer conversion pixels before Flask sees them; pass the rest to Flask."""

    def __init__(self, app, store, serializer, recorder, honor_gpc: bool = True):
        self.app = app
        self.store = store
        self.serializer = serializer
        self.recorder = recorder
        self.honor_gpc = honor_gpc

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET") == "GET":
            try:
                self.record(environ, path[len(PREFIX) : -len(SUFFIX)])
            except Exception:
                # The GIF goes out whatever happened; the failure is logged and counted.
                log.exception("could not record a conversion")
                self.recorder.count("conversion_record_errors")
        start_response("200 OK", list(GIF_HEADERS))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [GIF]

    def record(self, environ, site: str) -> None:
        """Store the conversion a pixel request reports, or count why it was not stored."""
        if self.honor_gpc and "1" in (
            environ.get("HTTP_SEC_GPC", "").strip(),
            environ.get("HTTP_DNT", "").strip(),
        ):
            self.recorder.count("conversion_gpc")
            return
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY:
            self.recorder.count("conversion_rejected")
            return
        values = {key: value for key, value in parse_qsl(query) if key in FIELDS}
        values["site"] = site
        try:
            record_conversion(self.store, self.serializer, values, "pixel")
        except FieldError:
            self.recorder.count("conversion_rejected")
