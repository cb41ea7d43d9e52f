"""Mint and read the signed tokens that name one message in a pixel URL."""

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable

from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.encoding import want_bytes
from itsdangerous.signer import HMACAlgorithm, Signer

PIXEL_SALT = "opentrack.pixel"
OPTOUT_SALT = "opentrack.optout"


def new_message_id() -> str:
    """Return a fresh opaque message id that reveals nothing about the recipient."""
    return secrets.token_urlsafe(12)


def new_secret() -> str:
    """Return a fresh random signing secret."""
    return secrets.token_urlsafe(32)


class _SHA1HMAC(HMACAlgorithm):
    """itsdangerous's default HMAC-SHA1, computed by one call into OpenSSL (``hmac.digest``)
    instead of a pure-Python ``hmac.new`` per token: the same signatures."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _KeptSigner(Signer):
    """itsdangerous's Signer with the default settings, its derived keys worked out once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, algorithm=_SHA1HMAC(), **kwargs)
        self._derived: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = None if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(secret_key)
        return derived


class FastSerializer(URLSafeSerializer):
    """URLSafeSerializer, the same tokens, with one signer made once and kept: reading a
    token on the pixel's path costs a third of a plain one's time (no signer built, no key
    derived, HMAC in C)."""

    def __init__(self, secret_keys: list[str], salt: str):
        super().__init__(list(secret_keys), salt=salt, signer=_KeptSigner)
        self._signer = super().make_signer(salt)

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """Return the kept signer for the serializer's own salt, a new one for another."""
        if salt is None or salt == self.salt:
            return self._signer
        return super().make_signer(salt)


def pixel_serializer(secret_keys: list[str]) -> URLSafeSerializer:
    """Return the serializer for pixel tokens; the last key signs, every key verifies."""
    if not secret_keys:
        raise ValueError("at least one secret key is needed")
    return FastSerializer(secret_keys, PIXEL_SALT)


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
# BLAKE2b's personalisation keeps the link keys apart from any other use of the same secrets.
CLICK_PERSON = b"opentrack.click"
CLICK_TAG_BYTES = 8
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


class ClickSerializer(FastSerializer):
    """Sign and read click tokens; the last key signs, every key verifies.

    A click token names one message and one of its campaign's links. The form minted now is
    ``<message id>.<link id>.<tag>``: the tag is a keyed BLAKE2b of the message id and link id
    (64 bits, hex), so a newsletter's 187 links cost one keyed hash state per message and a
    copy of it per link instead of one itsdangerous signature each. Links already sent carry
    the older form, ``dumps([message id, link id])`` under the same salt, and still verify.
    """

    def __init__(self, secret_keys: list[str]):
        super().__init__(secret_keys, CLICK_SALT)
        # Newest first: a fresh link is checked against the key that signed it at once.
        self._link_keys = [
            hashlib.blake2b(key, digest_size=32, person=CLICK_PERSON).digest()
            for key in reversed(self.secret_keys)
        ]

    def _state(self, key: bytes, message_id: str):  # noqa: ANN202 - a hashlib object
        return hashlib.blake2b(message_id.encode() + b".", key=key, digest_size=CLICK_TAG_BYTES)

    def link_signer(self, message_id: str) -> Callable[[str], str]:
        """Return a function giving the token of each of a message's links, by link id text."""
        # URL-safe characters only, so a click URL needs no escaping in HTML.
        if not _URL_SAFE.fullmatch(message_id):
            raise ValueError("a message id is made of URL-safe base64 characters")
        state = self._state(self._link_keys[0], message_id)
        head = message_id + "."

        def sign(link: str) -> str:
            tag = state.copy()
            tag.update(link.encode())
            return f"{head}{link}.{tag.hexdigest()}"

        return sign

    def read_link_token(self, token: str) -> tuple[str, int] | None:
        """Return (message id, link id) of a compact click token, or None if it is not ours."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        message_id, link, tag = parts
        if (
            not message_id
            or not (link.isascii() and link.isdigit())
            or len(link) > 18
            or len(tag) != 2 * CLICK_TAG_BYTES
            or not tag.isascii()
        ):
            return None
        for key in self._link_keys:
            expected = self._state(key, message_id)
            expected.update(link.encode())
            if hmac.compare_digest(expected.hexdigest(), tag):
                return message_id, int(link)
        return None


def click_serializer(secret_keys: list[str]) -> ClickSerializer:
    """Return the serializer for click tokens, separate from pixel tokens by its salt."""
    return ClickSerializer(secret_keys)


def mint_click_token(serializer: ClickSerializer, message_id: str, link_id: int) -> str:
    """Return the click token naming one message and one of its campaign's links."""
    return serializer.link_signer(message_id)(str(link_id))


def id_and_number(payload: object) -> tuple[str, int] | None:
    """Return a signed ``[id, number]`` payload as a tuple, or None for any other shape."""
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or not isinstance(payload[1], int)
        or isinstance(payload[1], bool)
    ):
        return None
    return payload[0], payload[1]


def read_click_token(serializer: ClickSerializer, token: str) -> tuple[str, int] | None:
    """Return (message id, link id) of a click token of either form, or None when it is not
    one of ours."""
    # An itsdangerous token has one dot, or two when it starts with one (a compressed payload).
    if token.count(".") == 2 and not token.startswith("."):
        return serializer.read_link_token(token)
    try:
        payload = serializer.loads(token)
    except BadData:
        return None
    return id_and_number(payload)


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
    return id_and_number(payload)
