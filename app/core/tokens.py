"""Mint and read the signed tokens that name one message in a pixel URL."""

import secrets

from itsdangerous import BadData, URLSafeSerializer

PIXEL_SALT = "opentrack.pixel"
OPTOUT_SALT = "opentrack.optout"


def new_message_id() -> str:
    """Return a fresh opaque message id that reveals nothing about the recipient."""
    return secrets.token_urlsafe(12)


def new_secret() -> str:
    """Return a fresh random signing secret."""
    return secrets.token_urlsafe(32)


def pixel_serializer(secret_keys: list[str]) -> URLSafeSerializer:
    """Return the serializer for pixel tokens; the last key signs, every key verifies."""
    if not secret_keys:
        raise ValueError("at least one secret key is needed")
    return URLSafeSerializer(list(secret_keys), salt=PIXEL_SALT)


def optout_serializer(secret_keys: list[str]) -> URLSafeSerializer:
    """Return the serializer for opt-out links, separate from pixel tokens by its salt."""
    return URLSafeSerializer(list(secret_keys), salt=OPTOUT_SALT)


def mint_token(serializer: URLSafeSerializer, message_id: str) -> str:
    """Return the pixel token for a message id."""
    return serializer.dumps(message_id)


def read_token(serializer: URLSafeSerializer, token: str) -> str | None:
    """Return the message id a token names, or None when it is not one of ours."""
    try:
        message_id = serializer.loads(token)
    except BadData:  # a bad signature, or a signed payload that does not decode
        return None
    # A validly signed payload of another shape can only come from a bug or a leaked key.
    if not isinstance(message_id, str):
        return None
    return message_id


CLICK_SALT = "opentrack.click"


def click_serializer(secret_keys: list[str]) -> URLSafeSerializer:
    """Return the serializer for click tokens, separate from pixel tokens by its salt."""
    return URLSafeSerializer(list(secret_keys), salt=CLICK_SALT)


def mint_click_token(serializer: URLSafeSerializer, message_id: str, link_id: int) -> str:
    """Return the click token naming one message and one of its campaign's links."""
    return serializer.dumps([message_id, link_id])


def read_click_token(serializer: URLSafeSerializer, token: str) -> tuple[str, int] | None:
    """Return (message id, link id) of a click token, or None when it is not one of ours."""
    try:
        payload = serializer.loads(token)
    except BadData:
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or not isinstance(payload[1], int)
        or isinstance(payload[1], bool)
    ):
        return None
    return payload[0], payload[1]


LIST_SALT = "opentrack.follow_up_list"


def list_serializer(secret_keys: list[str]) -> URLSafeSerializer:
    """Return the serializer for follow-up list download addresses (a salt of their own)."""
    return URLSafeSerializer(list(secret_keys), salt=LIST_SALT)


def mint_list_token(serializer: URLSafeSerializer, automation_id: str, expires_at: int) -> str:
    """Return the token of a download address for a rule's list, valid until a Unix time."""
    return serializer.dumps([automation_id, int(expires_at)])


def read_list_token(serializer: URLSafeSerializer, token: str) -> tuple[str, int] | None:
    """Return (rule id, expiry Unix time) of a list token, or None when it is not one of ours."""
    try:
        payload = serializer.loads(token)
    except BadData:
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or not isinstance(payload[1], int)
        or isinstance(payload[1], bool)
    ):
        return None
    return payload[0], payload[1]
