"""Dashboard users: password hashing, generated passwords and the sign-in throttle; pure."""

import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 10
MAX_EMAIL_LENGTH = 320
# Failed sign-ins allowed for one email (or one IP) before each further try must wait.
FREE_TRIES = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 3600
# Failures older than this are forgotten: a typo last week does not shorten today's tries.
FORGET_AFTER_SECONDS = 3600


class InvalidUser(ValueError):
    """An email or password that cannot be used for a dashboard user."""


def normalise_email(email: str) -> str:
    """Return an email address as stored: stripped and lower-cased; raise InvalidUser if odd."""
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or len(email) > MAX_EMAIL_LENGTH or any(c.isspace() for c in email):
        raise InvalidUser(f"'{email}' is not an email address")
    return email


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of a password; raise InvalidUser when it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Return whether a password matches a stored hash, taking as long when there is none."""
    if stored_hash is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(stored_hash, password)


@cache
def _dummy_hash() -> str:
    # Checked when the email is unknown, so an unknown email takes as long as a wrong password.
    return generate_password_hash("not a real password", method="scrypt")


def new_password() -> str:
    """Return a fresh random password that is easy to copy."""
    return secrets.token_urlsafe(15)


def lock_seconds(failures: int) -> float:
    """Return how long sign-in stays refused after this many failures in a row.

    The first FREE_TRIES cost nothing; from then on the wait doubles with each failure.
    """
    if failures < FREE_TRIES:
        return 0
    return min(FIRST_LOCK_SECONDS * 2 ** (failures - FREE_TRIES), MAX_LOCK_SECONDS)


def throttle_keys(email: str, ip: str | None) -> list[str]:
    """Return the counters a sign-in attempt is throttled by: its email and its IP."""
    keys = [f"email:{email.strip().lower()}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys
