"""Read the browser, OS and device type a user agent shows: user-agents on ua-parser's Rust engine.

user-agents gives the answers (its `UserAgent`: browser, OS and device families and versions,
`is_mobile`, `is_tablet`, `is_pc`, `is_touch_capable`, `is_bot`). Its own `parse()` runs
ua-parser's legacy pure-Python parser (milliseconds a user agent), so `FastUserAgent` below
fills the same object from ua-parser 1.x's `regex` resolver, which runs uap-core's rules in
Rust (ua-parser-rs): the legacy dicts `user_agents.parsers` expects are built from the
resolver's result, and every property of `UserAgent` is used unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import Domain, load_lazy_builtins
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

try:  # the Rust engine; the pure-Python one gives the same answers, slower
    from ua_parser.regex import Resolver
except ImportError:  # pragma: no cover - ua-parser-rs missing
    from ua_parser.basic import Resolver

# ua-parser's OS families under the names people use.
OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS", "Other": "unknown"}
LINUXES = frozenset(
    {
        "Linux",
        "Ubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "SUSE",
        "openSUSE",
        "Arch Linux",
        "Gentoo",
        "Mint",
        "Kubuntu",
        "Xubuntu",
        "Mandriva",
        "Slackware",
        "CentOS",
    }
)
_BROWSER_AND_OS = Domain.USER_AGENT | Domain.OS
# Tokens of the desktops' platforms: without one, is_pc is almost surely false and the device
# domain will be asked for, so it is resolved in the same call (one call costs less than two).
# This only decides when the device is resolved, never what it is.
_DESKTOP_HINT = re.compile(r"Windows NT|Macintosh|Mac OS X|X11|CrOS")
# The three hand-written rules left, each because user-agents' answer was wrong on rows of the
# labelled table (tests/data/user_agents.tsv, checked by tests/rules/test_classify.py):
# - CFNetwork's Darwin versions are shared by iOS and macOS, and uap-core reads any of them as
#   iOS: only a desktop architecture token tells macOS (two rows: Mail/ and Yahoo Mail on
#   CFNetwork, where user-agents said iOS and phone).
# - user-agents calls any Android user agent without "Mobile Safari" a tablet, a rule for
#   browsers: an app's own user agent (Android-Gmail/, YahooMobileMail/, NaverMailApp/: three
#   rows) seldom says, so without a browser shape it is a phone only when it says Mobile.
# - is_pc wants both "Linux" and "X11": X11 on FreeBSD or Gentoo (two rows) is a desktop too.
_DARWIN_DESKTOP = re.compile(r"\((?:x86_64|arm64|i386)\)")
_MOBILE = re.compile(r"(?<![A-Za-z])Mobile(?![A-Za-z])")


@dataclass(frozen=True)
class Platform:
    """What a user agent shows: browser family and version, OS, device type."""

    browser: str
    browser_version: str | None
    os: str
    device: str


@lru_cache(maxsize=1)
def _resolver() -> Resolver:
    # Lazy matchers: the Rust engine reads only their patterns, so none is compiled in Python.
    return Resolver(load_lazy_builtins())


class FastUserAgent(UserAgent):
    """user-agents' `UserAgent`, filled by ua-parser 1.x's Rust resolver.

    The adapter: `UserAgent.__init__` would call `ua_parser.user_agent_parser.Parse` (the
    pure-Python legacy API); this one asks the resolver instead and passes what the legacy
    API's dicts hold (browser: family, major, minor, patch; OS: the same and patch_minor;
    device: family, brand, model; family "Other" when nothing matched) to user-agents' own
    `parse_browser`, `parse_operating_system` and `parse_device`, so every property of
    `UserAgent` reads what it reads after `user_agents.parse` (on the labelled table, all
    the same but ten bots that the Rust engine's device rules name `Spider`, where the
    pure-Python engines name no device: tests/rules/test_agents.py). The OS and the domains
    asked for are resolved at once; any other domain on its first use: `is_pc` reads only the
    OS, so the device (the costliest domain, about twice the browser's time) is resolved only
    for a user agent that is not a desktop's.
    """

    def __init__(self, user_agent_string: str, domains: Domain = Domain.OS) -> None:
        self.ua_string = user_agent_string
        result = _resolver()(user_agent_string, domains | Domain.OS)
        found = result.os
        self.os = (
            parse_operating_system(
                found.family, found.major, found.minor, found.patch, found.patch_minor
            )
            if found is not None
            else _NO_OS
        )
        self._browser = None
        self._device = None
        if Domain.USER_AGENT in domains:
            self._browser = _browser(result.user_agent)
        if Domain.DEVICE in domains:
            self._device = _device(result.device)

    @property
    def browser(self):
        if self._browser is None:
            self._browser = _browser(_resolver()(self.ua_string, Domain.USER_AGENT).user_agent)
        return self._browser

    @property
    def device(self):
        if self._device is None:
            self._device = _device(_resolver()(self.ua_string, Domain.DEVICE).device)
        return self._device


_NO_OS = parse_operating_system("Other")
_NO_BROWSER = parse_browser("Other")
_NO_DEVICE = parse_device("Other", None, None)


def _browser(found):
    if found is None:
        return _NO_BROWSER
    return parse_browser(found.family, found.major, found.minor, found.patch)


def _device(found):
    return _NO_DEVICE if found is None else parse_device(found.family, found.brand, found.model)


def parse(user_agent: str, domains: Domain = Domain.OS) -> FastUserAgent:
    """Return user-agents' reading of a user agent (as `user_agents.parse` does), fast."""
    return FastUserAgent(user_agent, domains)


def os_name(family: str) -> str:
    """Return the name a person uses for one of ua-parser's OS families."""
    if family in LINUXES:
        return "Linux"
    if family.startswith("Windows") and not family.startswith("Windows Phone"):
        return "Windows"
    return OS_NAMES.get(family, family)


def device_type(agent: UserAgent) -> str:
    """Return phone, tablet, desktop or unknown by user-agents' is_pc, is_tablet, is_mobile."""
    # is_pc first: it reads only the OS and the string, so a desktop never resolves the device.
    if agent.is_pc:
        return "desktop"
    ua = agent.ua_string
    if "Android" in ua and not ua.startswith("Mozilla/"):
        return "phone" if _MOBILE.search(ua) else "unknown"
    if agent.is_tablet:
        return "tablet"
    if agent.is_mobile:
        return "phone"
    return "desktop" if "X11" in ua else "unknown"


def read_device(ua: str) -> tuple[str, str]:
    """Return (OS, device type) of a user agent, without naming its browser."""
    if "CFNetwork/" in ua and not _DARWIN_DESKTOP.search(ua):
        return "unknown", "unknown"
    agent = parse(ua)
    return os_name(agent.os.family), device_type(agent)


def read_platform(ua: str) -> Platform:
    """Return the browser, OS and device type of a user agent, as user-agents reads them."""
    domains = _BROWSER_AND_OS if _DESKTOP_HINT.search(ua) else Domain.ALL
    agent = parse(ua, domains)
    browser = agent.browser
    version = browser.version_string or None
    if "CFNetwork/" in ua and not _DARWIN_DESKTOP.search(ua):
        return Platform(browser.family, version, "unknown", "unknown")
    return Platform(browser.family, version, os_name(agent.os.family), device_type(agent))
