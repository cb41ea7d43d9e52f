"""API keys: how they look and how they are kept; pure."""

import hashlib
import secrets

PREFIX = "otk_"


def new_api_key() -> str:
    """Return a fresh API key; the visible prefix tells it apart from other secrets."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Return the stored hash of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()
