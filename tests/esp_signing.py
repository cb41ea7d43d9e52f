"""Sign delivery-event posts the way each ESP does, with keys the tests generate."""

import base64
import datetime
import hashlib
import hmac
import json
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from app.core.delivery_providers import sns_string_to_sign

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"


def sns_certificate(common_name: str = "sns.amazonaws.com") -> tuple[rsa.RSAPrivateKey, bytes]:
    """Return a fresh RSA key and a self-signed certificate for it, as SNS's would be named."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def signed_sns(key: rsa.RSAPrivateKey, fields: dict, version: str = "2") -> dict:
    """Return an SNS message with the fields given, signed as SNS signs."""
    message = {
        "MessageId": str(uuid.uuid4()),
        "Timestamp": "2026-12-01T12:00:00.000Z",
        "TopicArn": TOPIC,
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **fields,
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


def ses_notification(key, kind: str, recipient: str, message_id: str | None, **part) -> dict:
    """Return a signed SNS notification carrying one SES event about one recipient."""
    headers = [{"name": "X-Opentrack-Message-Id", "value": message_id}] if message_id else []
    mail = {"timestamp": "2026-12-01T11:59:00.000Z", "messageId": "ses-1", "headers": headers}
    notice = {"notificationType": kind, "mail": mail}
    if kind == "Delivery":
        notice["delivery"] = {"timestamp": "2026-12-01T12:00:00.000Z", "recipients": [recipient]}
    elif kind == "Bounce":
        notice["bounce"] = {
            "bounceType": part.get("bounce_type", "Permanent"),
            "bouncedRecipients": [{"emailAddress": recipient}],
            "timestamp": "2026-12-01T12:00:00.000Z",
        }
    elif kind == "Complaint":
        notice["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": "2026-12-01T12:00:00.000Z",
        }
    return signed_sns(key, {"Type": "Notification", "Message": json.dumps(notice)})


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """Return an ECDSA P-256 key and its public half as SendGrid shows it (base64 DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(der).decode()


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str) -> dict:
    """Return SendGrid's signature headers for a body."""
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def mailgun_signature(signing_key: str, token: str = "t" * 50, timestamp: str = "1764590400"):
    """Return the signature object Mailgun puts in its posts."""
    digest = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()}


def basic_auth(credentials: str) -> dict:
    """Return an Authorization header with basic-auth credentials."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
