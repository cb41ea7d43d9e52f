"""The conversion pixel: ``/t/<site>/conversion.gif?ot=...&value=...&currency=...&order=...``.

Served in front of Flask like the open pixel, and answered with the same GIF whatever
happened. A thank-you page puts it in its HTML with the ``ot`` its landing URL carried. A
report whose fields break a rule is not stored but counted (``conversion_rejected``); one from a
browser sending ``Sec-GPC: 1`` or ``DNT: 1`` is only counted (``conversion_gpc``) when
``OPENTRACK_HONOR_GPC`` is on. Conversions are rare next to opens, so they are stored at once
rather than spooled; when the store fails, the report is logged, counted
(``conversion_record_errors``) and appended to ``conversions.retry`` in the spool folder, which
the next conversion this instance stores replays first (with each report's own time; a report
stored twice is still one conversion). Nothing is read from or written to cookies.
"""

import json
import logging
import os
import threading
import time
import uuid
from urllib.parse import parse_qsl

from app.core.conversions import record_conversion
from app.core.fields import FieldError
from app.tracking.pixel import GIF, GIF_HEADERS

log = logging.getLogger(__name__)

PREFIX = "/t/"
SUFFIX = "/conversion.gif"
FIELDS = ("ot", "value", "currency", "order", "event")
MAX_QUERY = 4096
RETRY_FILE = "conversions.retry"


class ConversionMiddleware:
    """Answer conversion pixels before Flask sees them; pass the rest to Flask."""

    def __init__(self, app, store, serializer, recorder, honor_gpc: bool = True):
        self.app = app
        self.store = store
        self.serializer = serializer
        self.recorder = recorder
        self.honor_gpc = honor_gpc
        self.retry_path = os.path.join(recorder.spool_dir, RETRY_FILE)
        self._retry_lock = threading.Lock()

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
        at = time.time()
        try:
            record_conversion(self.store, self.serializer, values, "pixel", at)
        except FieldError:
            self.recorder.count("conversion_rejected")
            return
        except Exception:
            self.keep_for_retry(values, at)
            raise
        if os.path.exists(self.retry_path):
            self.replay()

    def keep_for_retry(self, values: dict, at: float) -> None:
        """Append a report the store could not take to the retry file, durably."""
        line = json.dumps({"values": values, "at": at}, separators=(",", ":")) + "\n"
        os.makedirs(os.path.dirname(self.retry_path), exist_ok=True)
        descriptor = os.open(self.retry_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)

    def replay(self) -> int:
        """Store the reports of the retry file; keep those that fail again. Return how many."""
        with self._retry_lock:
            # Renamed first: of several processes, one takes the file, and new failures go to
            # a fresh one meanwhile.
            taken = f"{self.retry_path}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(self.retry_path, taken)
            except FileNotFoundError:
                return 0
            stored = 0
            with open(taken) as file:
                for line in file:
                    try:
                        report = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a crash mid-write
                    try:
                        record_conversion(
                            self.store, self.serializer, report["values"], "pixel", report["at"]
                        )
                        stored += 1
                    except FieldError:
                        self.recorder.count("conversion_rejected")
                    except Exception:
                        log.exception("could not store a kept conversion; kept again")
                        self.keep_for_retry(report["values"], report["at"])
            os.remove(taken)
            return stored
