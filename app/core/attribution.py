"""The attribution token ``ot``: what the click redirect adds to a landing URL, so that a later
conversion finds the click that led to it without cookies.

``ot`` is signed (its own salt), opaque and names only a message id, a link id and when it was
minted: never an address. It is added only for messages whose campaign or inject call asked for
attribution. The redirect calls ``LandingTagger.tag``; anything that goes wrong there leaves the
landing URL as it was, so a person always gets where they were going.
"""

import logging
import time
from collections.abc import Callable

from itsdangerous import BadData, URLSafeTimedSerializer

from app.core.tokens import id_and_number

log = logging.getLogger(__name__)

ATTRIBUTION_SALT = "opentrack.attribution"
PARAMETER = "ot"
# How long a landing page may hand an ``ot`` back; attribution windows are far shorter.
MAX_AGE_SECONDS = 400 * 86400
CACHE_SIZE = 10_000
CACHE_SECONDS = 30.0


def attribution_serializer(secret_keys: list) -> URLSafeTimedSerializer:
    """Return the serializer for ``ot`` tokens; the last key signs, every key verifies."""
    if not secret_keys:
        raise ValueError("at least one secret key is needed")
    return URLSafeTimedSerializer(list(secret_keys), salt=ATTRIBUTION_SALT)


def mint_ot(serializer: URLSafeTimedSerializer, message_id: str, link_id: int) -> str:
    """Return the ``ot`` token for a click of one message's link."""
    return serializer.dumps([message_id, link_id])


def read_ot(serializer: URLSafeTimedSerializer, token: str) -> tuple[str, int] | None:
    """Return (message id, link id) of an ``ot`` token, or None when it is not one of ours."""
    try:
        payload = serializer.loads(token, max_age=MAX_AGE_SECONDS)
    except BadData:
        return None
    return id_and_number(payload)


def with_ot(url: str, token: str) -> str:
    """Return the URL with ``ot=<token>`` added to its query; its query and fragment kept.

    The URL is spliced as text, not parsed and rebuilt, so its own query stays byte for byte.
    """
    base, hash_mark, fragment = url.partition("#")
    if "?" not in base:
        separator = "?"
    elif base.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&"
    return f"{base}{separator}{PARAMETER}={token}{hash_mark}{fragment}"


class LandingTagger:
    """Add ``ot`` to the landing URLs of messages that asked for attribution."""

    def __init__(
        self,
        serializer: URLSafeTimedSerializer,
        wants_attribution: Callable[[str], bool],
        honor_gpc: bool = True,
    ):
        """``wants_attribution(message_id)`` says whether a message's clicks carry ``ot``;
        with ``honor_gpc``, a browser sending ``Sec-GPC: 1`` or ``DNT: 1`` gets none."""
        self.serializer = serializer
        self.wants_attribution = wants_attribution
        self.honor_gpc = honor_gpc
        self._wanted: dict[str, tuple[bool, float]] = {}

    def tag(self, message_id: str, link_id: int, url: str, environ: dict | None = None) -> str:
        """Return the landing URL, with ``ot`` when the message asked for attribution."""
        if (
            self.honor_gpc
            and environ is not None
            and "1"
            in (
                environ.get("HTTP_SEC_GPC", "").strip(),
                environ.get("HTTP_DNT", "").strip(),
            )
        ):
            return url
        try:
            if not self._wants(message_id):
                return url
            return with_ot(url, mint_ot(self.serializer, message_id, link_id))
        except Exception:
            # The person still lands; only the attribution of a later conversion is lost.
            log.exception("could not add an attribution token")
            return url

    def _wants(self, message_id: str) -> bool:
        cached = self._wanted.get(message_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        wanted = bool(self.wants_attribution(message_id))
        if len(self._wanted) >= CACHE_SIZE:
            self._wanted.clear()
        self._wanted[message_id] = (wanted, time.monotonic() + CACHE_SECONDS)
        return wanted
