"""The public URL paths that go out in emails: pixels, click redirects and opt-out pages.

They are a contract with every email already sent: changing one breaks the mail in inboxes.
"""

PIXEL_PREFIX = "/o/"
CLICK_PREFIX = "/c/"
OPTOUT_PREFIX = "/optout/"
# Answers the pixel's GIF without recording anything: for health checks and benchmarks.
PING_PATH = "/ping.gif"


def pixel_path(token: str) -> str:
    """Return the path of the pixel for a token."""
    return f"{PIXEL_PREFIX}{token}.gif"


def click_path(token: str) -> str:
    """Return the path of a click redirect for a token."""
    return CLICK_PREFIX + token


def optout_path(token: str) -> str:
    """Return the path of the opt-out page for a token."""
    return OPTOUT_PREFIX + token
