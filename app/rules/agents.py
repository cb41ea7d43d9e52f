"""Read the browser, OS and device type a user agent shows, fast: ua-parser on its Rust engine.

ua-parser (uap-core's rules) names browsers and operating systems; with ua-parser-rs installed
its `regex` resolver runs them in Rust (about ten times faster than the pure-Python parser
that user-agents wraps). Only the two domains we read are asked for. The device type (phone,
tablet, desktop) is read from the platform tokens, as user-agents did from the same parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import Domain, load_lazy_builtins

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
# Platform tokens in the order they decide (see read_os); the rarer platforms go to ua-parser.
_PLATFORM_TOKENS = (
    ("Windows Phone", "Windows Phone"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("iPod", "iOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Mac_PowerPC", "macOS"),
    ("BlackBerry", "BlackBerry OS"),
    ("BB10", "BlackBerry OS"),
    ("Linux", "Linux"),
    ("X11", "Linux"),
    ("Ubuntu", "Linux"),
)
# Platforms that ua-parser names better than "Linux" or "Android" (X11 is not only Linux).
_RARE_PLATFORMS = re.compile(
    r"Tizen|KaiOS|webOS|Web0S|HarmonyOS|Sailfish|MeeGo|Maemo|Firefox OS|BSD|SunOS"
)
_DARWIN_DESKTOP = re.compile(r"\((?:x86_64|arm64|i386)\)")
_TABLET = re.compile(r"iPad|Kindle|Silk/|PlayBook|\bTablet(?! PC)|Nexus (?:7|9|10)\b", re.I)
_PHONE = re.compile(r"iPhone|iPod|Windows Phone|IEMobile|BlackBerry|BB10|\bMobi|Opera Mini", re.I)
_MOBILE = re.compile(r"(?<![A-Za-z])Mobile(?![A-Za-z])")
_DESKTOP = re.compile(r"Windows NT|Macintosh|Mac OS X|X11|CrOS|Win64|WOW64|Windows \d|Linux x86_64")


@dataclass(frozen=True)
class Platform:
    """What ua-parser reads from a user agent: browser family and version, OS, device type."""

    browser: str
    browser_version: str | None
    os: str
    device: str


@lru_cache(maxsize=1)
def _resolver() -> Resolver:
    # Lazy matchers: the Rust engine reads only their patterns, so none is compiled in Python.
    return Resolver(load_lazy_builtins())


def _version(*parts: str | None) -> str | None:
    joined = ".".join(p for p in parts if p)
    return joined or None


def os_name(family: str) -> str:
    """Return the name a person uses for one of ua-parser's OS families."""
    if family in LINUXES:
        return "Linux"
    if family.startswith("Windows") and not family.startswith("Windows Phone"):
        return "Windows"
    return OS_NAMES.get(family, family)


def device_type(ua: str, os: str) -> str:
    """Return phone, tablet, desktop or unknown from the platform tokens of a user agent."""
    if os == "iOS":
        return "tablet" if "iPad" in ua else "phone"
    if os == "Android":
        if _MOBILE.search(ua):
            return "phone"
        # Without a browser shape there is no Mobile token to go by, so no guess.
        return "tablet" if ua.startswith("Mozilla/") else "unknown"
    if os in ("Windows", "macOS", "ChromeOS") and "Windows Phone" not in ua:
        return "desktop"
    if _TABLET.search(ua):
        return "tablet"
    if _PHONE.search(ua) or os in ("Windows Phone", "BlackBerry OS"):
        return "phone"
    if _DESKTOP.search(ua) or os == "Linux":
        return "desktop"
    return "unknown"


def read_os(ua: str) -> str:
    """Return the operating system a user agent names, as people name it.

    The platforms mail is read on are told by their own tokens, in this order (an Android
    user agent says Linux too, an iOS one "like Mac OS X", Outlook's iOS WebView "Android");
    anything else is ua-parser's call.
    """
    if "CFNetwork/" in ua and not _DARWIN_DESKTOP.search(ua):
        # Darwin versions are shared by iOS and macOS; ua-parser's iOS answer is a guess.
        return "unknown"
    for token, os in _PLATFORM_TOKENS:
        if token in ua:
            if os in ("Linux", "Android") and _RARE_PLATFORMS.search(ua):
                break
            return os
    system = _resolver()(ua, Domain.OS).os
    return os_name(system.family) if system else "unknown"


def read_device(ua: str) -> tuple[str, str]:
    """Return (OS, device type) of a user agent, without naming its browser."""
    os = read_os(ua)
    if os == "unknown" and "CFNetwork/" in ua:
        return os, "unknown"
    return os, device_type(ua, os)


def read_platform(ua: str) -> Platform:
    """Return the browser (ua-parser's uap-core rules), OS and device type of a user agent."""
    agent = _resolver()(ua, Domain.USER_AGENT).user_agent
    browser = agent.family if agent else "Other"
    version = _version(agent.major, agent.minor, agent.patch) if agent else None
    os, device = read_device(ua)
    return Platform(browser, version, os, device)
