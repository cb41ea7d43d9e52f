"""The delivery worker: sends queued webhook deliveries, settles clicks, fires follow-up rules.

Run as ``opentrack worker`` beside the web server. It leases due outbox rows (so two workers
never send the same row at once, and a killed worker's rows are taken over), sends each with
a timeout, and records the outcome: delivered, retried later with exponential backoff and
jitter (timeouts, connection errors, 5xx, 408, 429), or failed (other answers, or the retry
window is over). A delivery can be sent twice only when a worker dies between sending and
recording; the receiver sees the same event id both times.
"""

import http.client
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from app.core import automations, webhooks
from app.core.times import to_iso
from app.tracking.writer import settle

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
CONCURRENCY = 8
# With OPENTRACK_RETENTION_DAYS set, raw details are purged at start and then daily.
PURGE_EVERY_SECONDS = 86400
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Opentrack-Webhooks/1"


class Refused(Exception):
    """The receiver's address is one we may not call."""


def post(url: str, body: bytes, headers: dict, timeout: float, allow_private: bool) -> int:
    """POST a body and return the answer's status; raise OSError or Refused when none came.

    The address is checked after connecting and before anything is sent, so a host name
    that resolves to a private address at delivery time is refused too.
    """
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.connect()
        peer = connection.sock.getpeername()[0]
        if not allow_private and not webhooks.public_address(peer):
            raise Refused(f"{parts.hostname} resolves to {peer}, a private address")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()


class DeliveryWorker:
    """Claim due deliveries, send them, and record what happened."""

    def __init__(
        self,
        store,
        timeout: float = 10,
        allow_private: bool = False,
        retry_hours: float = 72,
        backoff=webhooks.backoff_seconds,
        retention_days: float | None = None,
        list_links: automations.ListLinks | None = None,
        clock=time.time,
    ):
        self.store = store
        self.timeout = timeout
        self.allow_private = allow_private
        self.retry_seconds = retry_hours * 3600
        self.backoff = backoff
        # A random id, not host:pid: workers on many hosts share the outbox, and a dead one's
        # leases are taken over by whoever finds them expired.
        self.owner = "worker-" + secrets.token_hex(8)
        # Longer than a living worker's delivery takes (it gives up after the timeout), short
        # enough that a dead worker's deliveries are soon sent by another. Should a delivery
        # outlast its lease, it may be sent twice, with the same event id.
        self.lease_seconds = timeout + 10
        self.pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="opentrack-delivery")
        self.retention_days = retention_days
        self._last_purge = None
        # Follow-up rules fire here, on whichever worker sees them due first.
        self.automations = (
            automations.Runner(store, list_links, self.owner, clock) if list_links else None
        )

    def run(self, stop: threading.Event) -> None:
        """Work until stop is set; an idle round waits a moment before the next."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("delivery round failed; trying again shortly")
                busy = 0
            if not busy:
                stop.wait(POLL_SECONDS)
        self.pool.shutdown(wait=True)

    def run_once(self) -> int:
        """Settle old-enough clicks, fire due follow-up rules, then send one round of due
        deliveries; return how many deliveries."""
        settle(self.store)
        self.purge_if_due()
        if self.automations is not None:
            try:
                self.automations.run_due()
            except Exception:
                # Deliveries go on; a rule that failed to fire stays scheduled for the next round.
                log.exception("firing follow-up rules failed; trying again next round")
        claimed = self.store.claim_deliveries(self.owner, self.lease_seconds, CONCURRENCY * 4)
        list(self.pool.map(self.deliver, claimed))
        return len(claimed)

    def purge_if_due(self) -> int:
        """Once a day, strip raw details older than the retention period; return how many."""
        now = time.monotonic()
        if self.retention_days is None or (
            self._last_purge is not None and now - self._last_purge < PURGE_EVERY_SECONDS
        ):
            return 0
        self._last_purge = now
        cutoff = to_iso(time.time() - float(self.retention_days) * 86400)
        purged = self.store.purge_raw_details(cutoff)
        log.info(
            "retention: stripped raw details from %d opens and clicks before %s", purged, cutoff
        )
        return purged

    def deliver(self, delivery: dict) -> str:
        """Send one claimed delivery and record the outcome; return the new status."""
        body = delivery["payload"].encode()
        attempt = delivery["attempts"] + 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            webhooks.SIGNATURE_HEADER: webhooks.sign(delivery["secret"], int(time.time()), body),
            "Opentrack-Event-Id": delivery["event_id"],
            "Opentrack-Event-Type": delivery["event_type"],
            "Opentrack-Attempt": str(attempt),
        }
        status_code, error, retry = None, None, True
        try:
            status_code = post(delivery["url"], body, headers, self.timeout, self.allow_private)
            retry = webhooks.retryable(status_code)
        except Refused as refused:
            error, retry = str(refused), False
        except (OSError, http.client.HTTPException) as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        if status_code is not None and 200 <= status_code < 300:
            status, retry_at = "delivered", None
        elif retry:
            retry_at = time.time() + self.backoff(attempt)
            over = retry_at > (delivery["retry_from"] or 0) + self.retry_seconds
            status = "failed" if over else "pending"
        else:
            status, retry_at = "failed", None
        if status != "delivered":
            log.warning(
                "webhook delivery %s to %s: %s (attempt %d, now %s)",
                delivery["id"],
                delivery["url"],
                error or f"HTTP {status_code}",
                attempt,
                status,
            )
        self.store.finish_delivery(delivery["id"], self.owner, status, status_code, error, retry_at)
        return status
