"""The delivery-events API: what the sender's ESP says became of each message.

``POST /api/v1/delivery-events/generic`` takes our own event shape with an API key. The
provider routes (``ses``, ``sendgrid``, ``mailgun``, ``postmark``) sit on a blueprint of their
own under the same path, because each provider proves itself with its own signature instead of
our API key: a post that fails that check is a 401 and changes nothing.
"""

import os
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from app.api.base import bp
from app.api.delivery_schemas import GenericEvents
from app.api.errors import ApiError
from app.api.schemas import Answer, Flag, Offset, Query, contract, integer_arg
from app.core import delivery_providers as providers
from app.core.delivery import DeliveryEvent
from app.core.delivery_certs import CertificateCache, CertificateError, fetch_https
from app.services import store


class StoredDeliveryEvent(Answer):
    """A delivery event as stored: what the ESP said of a message, and whether it matched one."""

    id: int
    provider: str
    provider_event_id: str | None
    message_id: str | None
    campaign_id: str | None
    recipient: str | None
    event: str
    bounce_type: str | None
    at: str
    received_at: str
    matched: bool
    detail: dict[str, Any]


class Recorded(Answer):
    """What became of the events posted: stored, repeated, matched to a message or not."""

    received: int
    stored: int
    duplicates: int
    matched: int
    unmatched: int
    changed: int = Field(description="messages whose delivery status moved up")
    suppressed: int = Field(description="recipients added to the suppression list")
    ignored: int = Field(description="provider events of a kind Opentrack does not record")


class EventCounts(Answer):
    matched: int
    unmatched: int


class DeliveryEventList(Answer):
    events: list[StoredDeliveryEvent]
    counts: EventCounts
    limit: int
    offset: int


class DeliveryEventsQuery(Query):
    matched: Flag = None
    limit: integer_arg(1, 1000) = 100
    offset: Offset = 0


class Confirmed(Answer):
    """An SNS subscription confirmed (its SubscribeURL visited)."""

    confirmed: str


class Unsubscribed(Answer):
    unsubscribed: str


# How each provider proves a post is its own, documented instead of our bearer key.
SNS_SIGNATURE = {
    "sns_signature": {
        "type": "http",
        "scheme": "aws-sns-signature",
        "description": "Amazon SNS signs the message body itself (Signature, SignatureVersion 1 "
        "or 2), verified against the certificate at SigningCertURL (https, an SNS host only); "
        "OPENTRACK_SES_TOPIC_ARNS may limit the topics.",
    }
}
SENDGRID_SIGNATURE = {
    "sendgrid_signature": {
        "type": "apiKey",
        "in": "header",
        "name": providers.SENDGRID_SIGNATURE,
        "description": "SendGrid's ECDSA P-256 signature over the timestamp header "
        f"({providers.SENDGRID_TIMESTAMP}) and the body, verified with "
        "OPENTRACK_SENDGRID_PUBLIC_KEY.",
    }
}
MAILGUN_SIGNATURE = {
    "mailgun_signature": {
        "type": "http",
        "scheme": "mailgun-signature",
        "description": "Mailgun's HMAC-SHA256 in the body's signature object (timestamp, token, "
        "signature), verified with OPENTRACK_MAILGUN_SIGNING_KEY.",
    }
}
POSTMARK_BASIC = {
    "postmark_basic": {
        "type": "http",
        "scheme": "basic",
        "description": "The credentials set in Postmark's webhook URL, compared with "
        "OPENTRACK_POSTMARK_CREDENTIALS (user:password).",
    }
}
JSON_OBJECT = {"application/json": {"type": "object"}}


hooks = Blueprint("delivery_hooks", __name__, url_prefix="/api/v1/delivery-events")


def record(events: list[DeliveryEvent], ignored: int = 0):
    """Store events and answer with what happened to them."""
    suppress = bool(current_app.config["SUPPRESS_BOUNCES"])
    result = (
        store().record_delivery_events(events, suppress=suppress)
        if events
        else {
            "received": 0,
            "stored": 0,
            "duplicates": 0,
            "matched": 0,
            "unmatched": 0,
            "changed": 0,
            "suppressed": 0,
        }
    )
    return jsonify({**result, "ignored": ignored})


@bp.post("/delivery-events/generic")
@contract(body=GenericEvents, responses={200: Recorded})
def generic_events(body: GenericEvents):
    """Record delivery events sent in Opentrack's own shape, for any ESP."""
    return record(body.to_events())


@bp.get("/delivery-events")
@contract(query=DeliveryEventsQuery, responses={200: DeliveryEventList})
def list_events(query: DeliveryEventsQuery):
    """List stored delivery events, newest first; ``matched=false`` lists the unknown ones."""
    return jsonify(
        {
            "events": store().list_delivery_events(query.matched, query.limit, query.offset),
            "counts": store().count_delivery_events(),
            "limit": query.limit,
            "offset": query.offset,
        }
    )


def refuse(message: str) -> ApiError:
    """Return the 401 for a post that does not prove it comes from the provider."""
    return ApiError(401, "unauthorized", message)


def setting(name: str, provider: str) -> str:
    """Return a provider's secret setting, or refuse the post when it is not set."""
    value = current_app.config.get(name)
    if not value:
        raise refuse(f"{provider} delivery events are not set up: set OPENTRACK_{name}.")
    return str(value)


def certificates() -> CertificateCache:
    """Return this app's cache of SNS signing certificates."""
    cache = current_app.extensions.get("sns_certificates")
    if cache is None:
        folder = os.path.join(current_app.instance_path, "sns-certs")
        fetch = current_app.config.get("SNS_FETCH") or fetch_https
        cache = current_app.extensions["sns_certificates"] = CertificateCache(folder, fetch)
    return cache


@hooks.post("/ses")
@contract(
    responses={200: Recorded | Confirmed | Unsubscribed},
    errors=(401, 502),
    security=SNS_SIGNATURE,
    raw_body={"text/plain": {"type": "string", "description": "an SNS message, as JSON"}},
)
def ses_events():
    """Record Amazon SES notifications delivered by SNS, after checking SNS's signature."""
    message = providers.parse_sns(request.get_data())
    topics = [t.strip() for t in str(current_app.config.get("SES_TOPIC_ARNS") or "").split(",")]
    topics = [t for t in topics if t]
    if topics and message["TopicArn"] not in topics:
        raise refuse(f"Topic '{message['TopicArn']}' is not in OPENTRACK_SES_TOPIC_ARNS.")
    if not providers.sns_signed(message):
        raise refuse("The SNS message carries no Signature of SignatureVersion 1 or 2.")
    if not providers.sns_url_allowed(message.get("SigningCertURL")):
        raise refuse("SigningCertURL is not https on an Amazon SNS host.")
    try:
        pem = certificates().certificate(message["SigningCertURL"])
    except CertificateError as error:
        raise ApiError(502, "certificate_unavailable", str(error)) from error
    if not providers.verify_sns(message, pem, time.time()):
        raise refuse("The SNS signature does not verify against the signing certificate.")
    if message["Type"] == "SubscriptionConfirmation":
        return confirm_subscription(message)
    if message["Type"] == "UnsubscribeConfirmation":
        return jsonify({"unsubscribed": message["TopicArn"]})
    return record(*providers.ses_events(message))


def confirm_subscription(message: dict):
    """Confirm an SNS subscription by visiting its SubscribeURL (https on an SNS host only)."""
    url = message.get("SubscribeURL")
    if not providers.sns_url_allowed(url):
        raise ApiError(400, "invalid_field", "SubscribeURL must be https on an Amazon SNS host.")
    fetch = current_app.config.get("SNS_FETCH") or fetch_https
    try:
        fetch(url)
    except CertificateError as error:
        raise ApiError(502, "confirmation_failed", str(error)) from error
    return jsonify({"confirmed": message["TopicArn"]})


@hooks.post("/sendgrid")
@contract(
    responses={200: Recorded},
    errors=(401, 500),
    security=SENDGRID_SIGNATURE,
    raw_body={"application/json": {"type": "array", "items": {"type": "object"}}},
)
def sendgrid_events():
    """Record SendGrid Event Webhook events, after checking SendGrid's ECDSA signature."""
    text = setting("SENDGRID_PUBLIC_KEY", "SendGrid")
    try:
        key = providers.load_sendgrid_key(text)
    except ValueError as error:
        message = "OPENTRACK_SENDGRID_PUBLIC_KEY is not a key."
        raise ApiError(500, "misconfigured", message) from error
    body = request.get_data()
    signature = request.headers.get(providers.SENDGRID_SIGNATURE, "")
    timestamp = request.headers.get(providers.SENDGRID_TIMESTAMP, "")
    if not providers.verify_sendgrid(key, body, signature, timestamp):
        raise refuse("The SendGrid signature is missing or does not verify.")
    return record(*providers.sendgrid_events(body))


@hooks.post("/mailgun")
@contract(
    responses={200: Recorded}, errors=(401,), security=MAILGUN_SIGNATURE, raw_body=JSON_OBJECT
)
def mailgun_events():
    """Record a Mailgun webhook event, after checking its HMAC signature."""
    signing_key = setting("MAILGUN_SIGNING_KEY", "Mailgun")
    post = providers.parse_mailgun(request.get_data())
    if not providers.verify_mailgun(signing_key, post.get("signature")):
        raise refuse("The Mailgun signature is missing or does not verify.")
    return record(*providers.mailgun_events(post))


@hooks.post("/postmark")
@contract(responses={200: Recorded}, errors=(401,), security=POSTMARK_BASIC, raw_body=JSON_OBJECT)
def postmark_events():
    """Record a Postmark webhook event, after checking its basic-auth credentials."""
    credentials = setting("POSTMARK_CREDENTIALS", "Postmark")
    if not providers.verify_basic_auth(credentials, request.headers.get("Authorization", "")):
        raise refuse("The Postmark basic-auth credentials are missing or wrong.")
    return record(*providers.postmark_events(request.get_data()))


@hooks.errorhandler(providers.FieldError)
def field_error(error):
    """Answer a malformed provider post with a 400 naming the problem."""
    return jsonify({"error": {"code": "invalid_field", "message": str(error)}}), 400
