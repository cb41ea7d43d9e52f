"""The rules for values senders and users type, shared by the HTTP API and the dashboard; pure.

Each check returns the clean value or raises FieldError naming the field and the problem, so
the API can answer a JSON 400 and the dashboard can show the problem beside its form.
"""

import json
import re
import socket
from datetime import datetime
from urllib.parse import urlsplit

from app.core import webhooks
from app.core.times import to_iso

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SLUG_RULE = "1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit"
MAX_RECIPIENT = 320
MAX_NAME = 200
MAX_KEY_NAME = 64
MAX_DESCRIPTION = 200
MAX_AGE_HOURS = 100_000


class FieldError(ValueError):
    """A value that breaks its field's rule."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"'{field}' {problem}.")
        self.field = field
        self.problem = problem


def text(value, field: str, max_length: int) -> str:
    """Return a required non-empty string, stripped: printable, valid Unicode, not too long."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "is required and must be a non-empty string")
    value = value.strip()
    if len(value) > max_length:
        raise FieldError(field, f"must be at most {max_length} characters")
    if any(ord(char) < 32 for char in value):
        raise FieldError(field, "must not contain control characters")
    if not encodable(value):
        raise FieldError(field, "must be valid Unicode (it holds a lone surrogate)")
    return value


def encodable(value: str) -> bool:
    """Return whether a string can be encoded as UTF-8 (it holds no lone surrogate)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def slug(value, field: str = "id") -> str:
    """Return a campaign id: a slug the sender chose."""
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise FieldError(field, f"must be a slug: {SLUG_RULE}")
    return value


def campaign(campaign_id, name, id_field: str = "id") -> tuple[str, str]:
    """Return a new campaign's id and its name (the id when the name is None)."""
    campaign_id = slug(campaign_id, id_field)
    return campaign_id, campaign_id if name is None else text(name, "name", MAX_NAME)


def recipient(value, field: str) -> str:
    """Return a recipient: an address (lower-cased) or the sender's own subscriber id."""
    value = text(value, field, MAX_RECIPIENT)
    # Mailbox providers treat addresses case-insensitively; subscriber ids keep their case.
    return value.lower() if "@" in value else value


def metadata(value, field: str) -> dict | None:
    """Return optional metadata, which must be a JSON object."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError(field, "must be a JSON object")
    try:
        # NaN and Infinity are not JSON: stored, they would break every reader downstream.
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise FieldError(field, "must not hold NaN or Infinity") from None
    except RecursionError:
        raise FieldError(field, "is nested too deeply") from None
    return value


def html(value, field: str) -> str:
    """Return an email's HTML, which must be a string."""
    if not isinstance(value, str):
        raise FieldError(field, "is required and must be a string of HTML")
    return value


def boolean(value, field: str, default: bool) -> bool:
    """Return an optional true/false value."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise FieldError(field, "must be true or false")
    return value


def age_hours(value, field: str) -> float:
    """Return a minimum age in hours, between 0 and MAX_AGE_HOURS."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_AGE_HOURS
    ):
        raise FieldError(field, f"must be a number between 0 and {MAX_AGE_HOURS}")
    return float(value)


def moment(value, field: str) -> str:
    """Return an ISO 8601 time with a time zone (e.g. ``2026-11-03T09:00:00Z``), stored form."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        if parsed is not None and parsed.tzinfo is not None:
            return to_iso(parsed.timestamp())
    except (ValueError, OverflowError, OSError):
        pass
    raise FieldError(field, "must be an ISO 8601 time with a time zone, e.g. 2026-11-03T09:00:00Z")


def key_name(value, field: str = "name") -> str:
    """Return the name of a new API key."""
    return text(value, field, MAX_KEY_NAME)


def webhook(body: dict, allow_private: bool) -> tuple[str, list[str], bool, str | None]:
    """Return (url, events, include_machine, description) of a webhook registration."""
    url = body.get("url")
    problem = webhooks.url_problem(url) or (None if allow_private else address_problem(url))
    if problem:
        raise FieldError("url", problem)
    events = body.get("events", ["first_open", "click"])
    if (
        not isinstance(events, list)
        or not events
        or any(event not in webhooks.EVENT_TYPES for event in events)
    ):
        raise FieldError("events", "must be a non-empty list of " + ", ".join(webhooks.EVENT_TYPES))
    include_machine = body.get("include_machine", True)
    if not isinstance(include_machine, bool):
        raise FieldError("include_machine", "must be true or false")
    description = body.get("description")
    if description is not None:
        description = text(description, "description", MAX_DESCRIPTION)
    return url.strip(), list(dict.fromkeys(events)), include_machine, description


def address_problem(url: str) -> str | None:
    """Return why a webhook URL's host may not be called (it resolves to a private address)."""
    host = urlsplit(url).hostname
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return f"has a host ('{host}') that does not resolve"
    private = sorted(a for a in addresses if not webhooks.public_address(a))
    if private:
        return (
            f"points at a private, loopback or link-local address ({private[0]}); "
            "set OPENTRACK_WEBHOOK_ALLOW_PRIVATE=true to allow it"
        )
    return None
