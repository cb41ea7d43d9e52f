"""Webhook payloads, signatures, retry timing and the address rules; pure, no app needed.

A delivery is a JSON body signed with the endpoint's own secret: HMAC-SHA256 over
``"<timestamp>.<body>"``, sent as ``Opentrack-Signature: t=<timestamp>,v1=<hex digest>``.
"""

import hashlib
import hmac
import ipaddress
import json
import random
import secrets
from urllib.parse import urlsplit

EVENT_TYPES = ("open", "first_open", "click", "machine_open", "follow_up_ready", "conversion")
SIGNATURE_HEADER = "Opentrack-Signature"
# Receivers should refuse a signature older than this (replays).
TOLERANCE_SECONDS = 300
MAX_URL = 2048
PAYLOAD_FIELDS = (
    "verdict",
    "source",
    "reason",
    "client",
    "client_version",
    "os",
    "device",
    "country",
)


def new_webhook_id() -> str:
    """Return a fresh webhook endpoint id."""
    return "wh_" + secrets.token_urlsafe(9)


def new_webhook_secret() -> str:
    """Return a fresh signing secret for one endpoint; the prefix tells it apart."""
    return "whsec_" + secrets.token_urlsafe(32)


def event_id(event_type: str, event_key: str) -> str:
    """Return the stable id of one event, the same on every retry and replay."""
    digest = hashlib.sha256(f"{event_type}|{event_key}".encode()).hexdigest()
    return "evt_" + digest[:32]


def open_types(verdict: str, first_human_open: bool) -> list[str]:
    """Return the event types one stored open event raises."""
    if verdict != "human":
        return ["machine_open"]
    return ["open", "first_open"] if first_human_open else ["open"]


def payload(event_type: str, event: dict, message: dict, created_at: str) -> dict:
    """Return the JSON body of one event: who, what, when and the verdict on it."""
    metadata = message.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    body = {
        "id": event_id(event_type, event["event_key"]),
        "type": event_type,
        "created_at": created_at,
        "at": event["at"],
        "campaign_id": message["campaign_id"],
        "message_id": event["message_id"],
        "recipient": message["recipient"],
        "metadata": metadata,
        **{field: event.get(field) for field in PAYLOAD_FIELDS},
    }
    if event_type == "click":
        body["url"] = event.get("url")
    return body


def encode(body: dict) -> bytes:
    """Return the exact bytes sent (and signed) for a payload."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the Opentrack-Signature header value for a body sent at a Unix time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance=TOLERANCE_SECONDS) -> bool:
    """Return whether a signature header is valid for the body and recent enough."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_seconds(attempt: int, rng=random.random) -> float:
    """Return the wait before retry number ``attempt`` (1, 2, ...): doubling, capped at an
    hour, with jitter so failed deliveries do not come back in lockstep."""
    return min(2.0**attempt, 3600.0) * (0.5 + rng())


def retryable(status: int | None) -> bool:
    """Return whether a delivery that got this status (None: no answer) is tried again."""
    return status is None or status >= 500 or status in (408, 429)


NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 one carries and would reach, or None.

    IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), 6to4 (``2002:AABB:CCDD::``),
    NAT64 (``64:ff9b::a.b.c.d``) and Teredo (``2001::/32``, the client's address inverted).
    """
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        # The last 32 bits: what a NAT64 gateway or an old IPv4-compatible stack reaches.
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def public_address(ip: str) -> bool:
    """Return whether an address is a public one (not private, loopback, link-local, ...).

    An IPv6 address that carries an IPv4 one is judged by the IPv4 address it would reach.
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if address.version == 6:
        inner = embedded_ipv4(address)
        if inner is not None and not (inner.is_global and not inner.is_multicast):
            return False
    return address.is_global and not address.is_multicast


def url_problem(url) -> str | None:
    """Return what is wrong with a webhook URL's form, or None when it is usable."""
    if not isinstance(url, str) or not url.strip():
        return "is required and must be an http(s) URL"
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if any(ord(char) <= 32 for char in url):
        return "must not contain spaces or control characters"
    return None
