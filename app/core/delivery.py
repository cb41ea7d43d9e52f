"""Delivery events from the sender's ESP: their one shape, and how they move a message's status.

Every provider's post (and the generic API) becomes a list of ``DeliveryEvent``. A message's
delivery status only moves up the ranking below, so events arriving out of order, or a
provider's retry, leave the same status as events in order; pure.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.core.fields import FieldError
from app.core.times import to_iso

EVENTS = ("delivered", "deferred", "bounced", "complained", "unsubscribed")
BOUNCE_TYPES = ("hard", "soft")
# The header (or custom argument, tag, metadata key) that carries our message id through an ESP.
MESSAGE_ID_HEADER = "X-Opentrack-Message-Id"
# The same name where an ESP allows only [a-z_] keys (SendGrid custom_args, Mailgun v: variables,
# Postmark Metadata, SES message tags).
MESSAGE_ID_ARG = "opentrack_message_id"

# A status only moves up: a retry that succeeded (delivered) outranks the soft bounce before
# it; a hard bounce reported after the receiving server accepted the mail (an asynchronous
# bounce) outranks delivered; a complaint proves delivery and outranks everything.
RANKS = {
    ("unknown", None): 0,
    ("deferred", None): 1,
    ("bounced", "soft"): 2,
    ("delivered", None): 3,
    ("bounced", "hard"): 4,
    ("complained", None): 5,
}
# The campaign counter each status is counted in.
COUNTERS = {
    ("deferred", None): "deferred",
    ("bounced", "soft"): "soft_bounced",
    ("delivered", None): "delivered",
    ("bounced", "hard"): "hard_bounced",
    ("complained", None): "complained",
}
# Statuses whose recipients leave non-opener exports, follow-ups and inactive segments.
EXCLUDED_STATUSES = ("bounced", "complained")
MAX_EVENTS = 1000


@dataclass
class DeliveryEvent:
    """One delivery event, whichever provider reported it."""

    provider: str
    event: str
    at: str
    provider_event_id: str = ""
    message_id: str | None = None
    campaign_id: str | None = None
    recipient: str | None = None
    bounce_type: str | None = None
    detail: dict = field(default_factory=dict)

    def key(self) -> str:
        """Return the provider's event id, or one derived from the event's own facts."""
        if self.provider_event_id:
            return self.provider_event_id
        facts = [self.message_id, self.campaign_id, self.recipient, self.event, self.bounce_type]
        text = json.dumps([*facts, self.at])
        return "derived:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def status_of(event: str, bounce_type: str | None) -> tuple[str, str | None] | None:
    """Return the (status, bounce type) an event claims, or None for one that sets no status."""
    if event == "bounced":
        return ("bounced", bounce_type or "soft")
    if event in ("delivered", "deferred", "complained"):
        return (event, None)
    return None


def next_status(
    current: tuple[str, str | None], event: str, bounce_type: str | None
) -> tuple[str, str | None]:
    """Return a message's status after an event: the higher-ranked of the two."""
    claimed = status_of(event, bounce_type)
    if claimed is None or RANKS[claimed] <= RANKS.get(current, 0):
        return current
    return claimed


def suppression_reason(event: DeliveryEvent) -> str | None:
    """Return why an event puts its recipient on the suppression list, or None."""
    if event.event == "bounced" and event.bounce_type == "hard":
        return "hard_bounce"
    if event.event == "complained":
        return "complaint"
    return None


def parse_time(value, name: str) -> str:
    """Return a time (ISO 8601 text or Unix seconds) in stored form, or raise FieldError."""
    if isinstance(value, bool) or value is None:
        raise FieldError(name, "must be an ISO 8601 time or Unix seconds")
    if isinstance(value, int | float):
        if not 0 <= value < 10**11:
            raise FieldError(name, "must be Unix seconds between 1970 and 5138")
        return to_iso(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return to_iso(moment.timestamp())
    raise FieldError(name, "must be an ISO 8601 time or Unix seconds")
