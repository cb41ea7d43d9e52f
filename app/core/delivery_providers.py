"""Each ESP's delivery-event post: its signature check and its events in our one shape; pure.

The signature schemes are the providers' own, as documented (links in docs/delivery.md):
Amazon SNS signs a canonical string of the message's fields with the key of an X.509
certificate it publishes; SendGrid signs ``timestamp + body`` with ECDSA P-256; Mailgun puts an
HMAC-SHA256 of ``timestamp + token`` in the body; Postmark sends the basic-auth credentials
written into the webhook URL. The crypto is the ``cryptography`` package's.
"""

import base64
import binascii
import hmac
import json
import re
from datetime import UTC, datetime
from hashlib import sha256
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from app.core import fields
from app.core.delivery import MESSAGE_ID_ARG, MESSAGE_ID_HEADER, DeliveryEvent, parse_time
from app.core.fields import FieldError

CAMPAIGN_ARG = "opentrack_campaign"
PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")

# --- Amazon SES through SNS ---------------------------------------------------------------

# SNS publishes its signing certificates on sns.<region>.amazonaws.com (and .com.cn in China).
SNS_CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SNS_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
# The fields SNS signs, in order, for each message type (absent ones are left out).
SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SNS_SIGNED["UnsubscribeConfirmation"] = SNS_SIGNED["SubscriptionConfirmation"]


def sns_url_allowed(url) -> bool:
    """Return whether a URL is https on an SNS host: the only place we fetch from."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(SNS_CERT_HOST.match(parts.hostname or ""))


def sns_string_to_sign(message: dict) -> bytes:
    """Return the canonical text SNS signs for a message: each field's name and value."""
    lines = []
    for name in SNS_SIGNED[message["Type"]]:
        if name in message and message[name] is not None:
            lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def parse_sns(body: bytes) -> dict:
    """Return an SNS message's fields, or raise FieldError naming the one at fault."""
    message = _json(body)
    if not isinstance(message, dict):
        raise FieldError("body", "must be an SNS message (a JSON object)")
    if message.get("Type") not in SNS_TYPES:
        raise FieldError("Type", "must be one of " + ", ".join(SNS_TYPES))
    for name in ("MessageId", "Timestamp", "TopicArn"):
        if not isinstance(message.get(name), str) or not message[name]:
            raise FieldError(name, "is required")
    return message


def sns_signed(message: dict) -> bool:
    """Return whether an SNS message carries a signature we can check (version 1 or 2)."""
    return (
        isinstance(message.get("Signature"), str)
        and bool(message["Signature"])
        and str(message.get("SignatureVersion")) in ("1", "2")
    )


def verify_sns(message: dict, certificate_pem: bytes, now: float) -> bool:
    """Return whether an SNS message is signed by the key of a valid SNS certificate."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        signature = base64.b64decode(message["Signature"], validate=True)
    except (ValueError, binascii.Error):
        return False
    moment = datetime.fromtimestamp(now, UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        return False
    names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    if not any(str(name.value).startswith("sns.") for name in names):
        return False
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    algorithm = hashes.SHA256() if str(message["SignatureVersion"]) == "2" else hashes.SHA1()
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


SES_BOUNCE = {"Permanent": "hard", "Transient": "soft", "Undetermined": "soft"}


def ses_events(message: dict) -> tuple[list[DeliveryEvent], int]:
    """Return the delivery events of an SES notification (and how many it left out)."""
    notice = _json(message["Message"].encode(), "Message")
    if not isinstance(notice, dict):
        raise FieldError("Message", "must be an SES notification (a JSON object)")
    kind = notice.get("notificationType") or notice.get("eventType")
    mail = notice.get("mail")
    if not isinstance(mail, dict):
        raise FieldError("Message.mail", "is required")
    ours, campaign = _ses_ids(mail)
    base = {"provider": "ses", "message_id": ours, "campaign_id": campaign}
    sns_id = message["MessageId"]
    if kind == "Delivery":
        part = _part(notice, "delivery")
        return _per_recipient(
            part.get("recipients"),
            "delivery.recipients",
            sns_id,
            base,
            event="delivered",
            at=part.get("timestamp") or mail.get("timestamp"),
        ), 0
    if kind == "Bounce":
        part = _part(notice, "bounce")
        bounce_type = SES_BOUNCE.get(part.get("bounceType"), "soft")
        recipients = _addresses(part.get("bouncedRecipients"))
        return _per_recipient(
            recipients,
            "bounce.bouncedRecipients",
            sns_id,
            base,
            event="bounced",
            bounce_type=bounce_type,
            at=part.get("timestamp") or mail.get("timestamp"),
            detail={"type": part.get("bounceType"), "subtype": part.get("bounceSubType")},
        ), 0
    if kind == "Complaint":
        part = _part(notice, "complaint")
        recipients = _addresses(part.get("complainedRecipients"))
        return _per_recipient(
            recipients,
            "complaint.complainedRecipients",
            sns_id,
            base,
            event="complained",
            at=part.get("timestamp") or mail.get("timestamp"),
            detail={"type": part.get("complaintFeedbackType")},
        ), 0
    if kind == "DeliveryDelay":
        part = _part(notice, "deliveryDelay")
        recipients = _addresses(part.get("delayedRecipients"))
        return _per_recipient(
            recipients,
            "deliveryDelay.delayedRecipients",
            sns_id,
            base,
            event="deferred",
            at=part.get("timestamp") or mail.get("timestamp"),
        ), 0
    return [], 1


def _ses_ids(mail: dict) -> tuple[str | None, str | None]:
    """Return our message id and campaign from an SES mail's headers or message tags."""
    ours = campaign = None
    for header in mail.get("headers") or []:
        named = str(header.get("name", "")) if isinstance(header, dict) else ""
        if named.lower() == MESSAGE_ID_HEADER.lower():
            ours = header.get("value")
    tags = mail.get("tags") or {}
    if isinstance(tags, dict):
        ours = ours or _first(tags.get(MESSAGE_ID_ARG))
        campaign = _first(tags.get(CAMPAIGN_ARG))
    return ours, campaign


def _addresses(items) -> list:
    return [r.get("emailAddress") for r in items or [] if isinstance(r, dict)]


def _first(value):
    return value[0] if isinstance(value, list) and value else value


def _part(notice: dict, name: str) -> dict:
    part = notice.get(name)
    if not isinstance(part, dict):
        raise FieldError(f"Message.{name}", "is required")
    return part


def _per_recipient(recipients, name, event_id, base, **facts) -> list[DeliveryEvent]:
    if not isinstance(recipients, list) or not recipients:
        raise FieldError(f"Message.{name}", "must list at least one recipient")
    at = parse_time(facts.pop("at"), "Message.timestamp")
    events = []
    for recipient in recipients:
        address = fields.recipient(recipient, f"Message.{name}")
        events.append(
            DeliveryEvent(
                **base,
                **facts,
                at=at,
                recipient=address,
                provider_event_id=f"{event_id}:{address}",
            )
        )
    return events


# --- SendGrid Event Webhook -----------------------------------------------------------------

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SENDGRID_EVENTS = {
    "delivered": ("delivered", None),
    "deferred": ("deferred", None),
    "spamreport": ("complained", None),
    "unsubscribe": ("unsubscribed", None),
    "group_unsubscribe": ("unsubscribed", None),
    # SendGrid refused to send it (a suppressed or invalid address): it will never arrive.
    "dropped": ("bounced", "hard"),
    "bounce": ("bounced", "hard"),
}


def load_sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """Return SendGrid's verification key from its base64 DER text (or PEM); ValueError if odd."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        try:
            der = base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise ValueError("not base64") from error
        key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve public key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey, body: bytes, signature: str, timestamp: str
) -> bool:
    """Return whether SendGrid signed ``timestamp + body`` (ECDSA with SHA-256)."""
    if not signature or not timestamp:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def sendgrid_events(body: bytes) -> tuple[list[DeliveryEvent], int]:
    """Return the delivery events of a SendGrid post (a JSON array) and how many it left out."""
    items = _json(body)
    if not isinstance(items, list):
        raise FieldError("body", "must be a JSON array of SendGrid events")
    events, ignored = [], 0
    for index, item in enumerate(items):
        name = f"[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            raise FieldError(f"{name}.event", "is required")
        if item["event"] not in SENDGRID_EVENTS:
            ignored += 1
            continue
        event, bounce_type = SENDGRID_EVENTS[item["event"]]
        events.append(_sendgrid_event(item, name, event, bounce_type))
    return events, ignored


def _sendgrid_event(item: dict, name: str, event: str, bounce_type: str | None) -> DeliveryEvent:
    if item["event"] == "bounce" and item.get("type") == "blocked":
        # A block is the receiving server refusing for now (reputation, content): soft.
        bounce_type = "soft"
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        raise FieldError(f"{name}.sg_event_id", "is required")
    return DeliveryEvent(
        provider="sendgrid",
        event=event,
        bounce_type=bounce_type,
        at=parse_time(item.get("timestamp"), f"{name}.timestamp"),
        provider_event_id=event_id,
        message_id=_text_or_none(item.get(MESSAGE_ID_ARG)),
        campaign_id=_text_or_none(item.get(CAMPAIGN_ARG)),
        recipient=fields.recipient(item.get("email"), f"{name}.email"),
        detail={"reason": item.get("reason"), "type": item.get("type")},
    )


# --- Mailgun --------------------------------------------------------------------------------

MAILGUN_EVENTS = {
    "delivered": "delivered",
    "failed": "bounced",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
}


def verify_mailgun(signing_key: str, signature: dict) -> bool:
    """Return whether Mailgun signed a post: HMAC-SHA256 of timestamp + token, in hex."""
    if not isinstance(signature, dict):
        return False
    timestamp, token, given = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(value, str | int) for value in (timestamp, token, given)):
        return False
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), sha256).hexdigest()
    return hmac.compare_digest(expected, str(given))


def parse_mailgun(body: bytes) -> dict:
    """Return a Mailgun post's fields, or raise FieldError naming the one at fault."""
    post = _json(body)
    if not isinstance(post, dict):
        raise FieldError("body", "must be a Mailgun webhook post (a JSON object)")
    if not isinstance(post.get("event-data"), dict):
        raise FieldError("event-data", "is required")
    return post


def mailgun_events(post: dict) -> tuple[list[DeliveryEvent], int]:
    """Return a Mailgun post's delivery event (a list of one, or none) and how many it left out."""
    data = post["event-data"]
    kind = data.get("event")
    if kind not in MAILGUN_EVENTS:
        if not isinstance(kind, str):
            raise FieldError("event-data.event", "is required")
        return [], 1
    event, bounce_type = MAILGUN_EVENTS[kind], None
    if kind == "failed":
        # A temporary failure is retried by Mailgun: the mail is late, not lost.
        if data.get("severity") == "temporary":
            event = "deferred"
        else:
            bounce_type = "hard"
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise FieldError("event-data.id", "is required")
    return [
        DeliveryEvent(
            provider="mailgun",
            event=event,
            bounce_type=bounce_type,
            at=parse_time(data.get("timestamp"), "event-data.timestamp"),
            provider_event_id=event_id,
            message_id=_text_or_none(variables.get(MESSAGE_ID_ARG)),
            campaign_id=_text_or_none(variables.get(CAMPAIGN_ARG)),
            recipient=fields.recipient(data.get("recipient"), "event-data.recipient"),
            detail={"severity": data.get("severity"), "reason": data.get("reason")},
        )
    ], 0


# --- Postmark -------------------------------------------------------------------------------

POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked", "DMARCPolicy"}


def verify_basic_auth(expected: str, header: str) -> bool:
    """Return whether an Authorization header carries the expected "user:password"."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(given, expected.encode())


def postmark_events(body: bytes) -> tuple[list[DeliveryEvent], int]:
    """Return the delivery event of a Postmark webhook post and how many it left out."""
    post = _json(body)
    if not isinstance(post, dict):
        raise FieldError("body", "must be a Postmark webhook post (a JSON object)")
    kind = post.get("RecordType")
    if not isinstance(kind, str):
        raise FieldError("RecordType", "is required")
    metadata = post.get("Metadata") if isinstance(post.get("Metadata"), dict) else {}
    base = {
        "provider": "postmark",
        "message_id": _text_or_none(metadata.get(MESSAGE_ID_ARG)),
        "campaign_id": _text_or_none(metadata.get(CAMPAIGN_ARG)),
    }
    if kind == "Delivery":
        recipient = fields.recipient(post.get("Recipient"), "Recipient")
        postmark_id = post.get("MessageID")
        if not isinstance(postmark_id, str) or not postmark_id:
            raise FieldError("MessageID", "is required")
        return [
            DeliveryEvent(
                **base,
                event="delivered",
                recipient=recipient,
                at=parse_time(post.get("DeliveredAt"), "DeliveredAt"),
                provider_event_id=f"delivery:{postmark_id}:{recipient}",
            )
        ], 0
    if kind in ("Bounce", "SpamComplaint"):
        bounce_id = post.get("ID")
        if isinstance(bounce_id, bool) or not isinstance(bounce_id, int | str):
            raise FieldError("ID", "is required")
        kind_type = post.get("Type")
        complained = kind == "SpamComplaint" or kind_type == "SpamComplaint"
        at_field = "BouncedAt"
        return [
            DeliveryEvent(
                **base,
                event="complained" if complained else "bounced",
                bounce_type=None if complained else _postmark_bounce(kind_type),
                recipient=fields.recipient(post.get("Email"), "Email"),
                at=parse_time(post.get(at_field), at_field),
                provider_event_id=f"{kind.lower()}:{bounce_id}",
                detail={"type": kind_type},
            )
        ], 0
    return [], 1


def _postmark_bounce(kind_type) -> str:
    return "hard" if kind_type in POSTMARK_HARD else "soft"


# --- Shared ---------------------------------------------------------------------------------


def _json(body: bytes, name: str = "body"):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FieldError(name, "is not valid JSON") from None


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None
