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
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ua_parser import Domain, load_lazy_builtins
from user_agents.parsers import (
    MOBILE_DEVICE_FAMILIES,
    TABLET_DEVICE_FAMILIES,
    Browser,
    OperatingSystem,
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

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


@lru_cache(maxsize=1)
def _resolver() -> Resolver:
    # Lazy matchers: the Rust engine reads only their patterns, so none is compiled in Python.
    return Resolver(load_lazy_builtins())


@lru_cache(maxsize=1)
def _extractors() -> tuple[Callable[[str], Any], Callable[[str], Any], Callable[[str], Any]]:
    """Return one function per domain (browser, OS, device): its match of a user agent, or None.

    On the Rust engine, its three extractors themselves: the resolver's `__call__` would wrap
    each match in ua-parser's dataclasses and a `PartialResult` first, which costs about as
    much as the OS domain's matching. Both kinds of match have the fields read below.
    """
    resolver = _resolver()
    if all(hasattr(resolver, name) for name in ("ua", "os", "de")):
        return resolver.ua.extract, resolver.os.extract, resolver.de.extract
    return (  # pragma: no cover - the pure-Python engine, when ua-parser-rs is missing
        lambda ua: resolver(ua, Domain.USER_AGENT).user_agent,
        lambda ua: resolver(ua, Domain.OS).os,
        lambda ua: resolver(ua, Domain.DEVICE).device,
    )


# user-agents' own constructors, memoised by their arguments: the same families and versions
# recur across user agents (a few thousand distinct ones), and the answers are immutable
# named tuples, so a never-seen user agent mostly reuses them.
def _version(major: Any, minor: Any, patch: Any) -> tuple[tuple, str]:
    """Return user-agents' `parse_version(major, minor, patch)` and its version string.

    The same steps in one loop (each part made an int when it is all digits, the parts that
    are None left out, joined by dots), a third of user-agents' time, which calls a function
    per part and a lambda per filter step (a loop, not a generator: a generator's frame costs
    more than the three steps). A part of ASCII digits without a leading zero is its own
    text, so only other parts are turned back into text (`str` of each part was most of the
    join's cost). tests/rules/test_agents.py compares the two on every kind of part.
    """
    parts = []
    texts = []
    for part in (major, minor, patch):
        if part is None:
            continue
        if isinstance(part, str) and part.isdigit():
            number = int(part)
            parts.append(number)
            plain = part.isascii() and (part[0] != "0" or len(part) == 1)
            texts.append(part if plain else str(number))
        else:
            parts.append(part)
            texts.append(str(part))
    return tuple(parts), ".".join(texts)


def _parse_browser(family: str, major: Any = None, minor: Any = None, patch: Any = None) -> Any:
    """Return what user-agents' `parse_browser(family, major, minor, patch)` returns."""
    return Browser(family, *_version(major, minor, patch))


def _parse_operating_system(
    family: str, major: Any = None, minor: Any = None, patch: Any = None, patch_minor: Any = None
) -> Any:
    """Return what user-agents' `parse_operating_system` returns (it ignores patch_minor)."""
    return OperatingSystem(family, *_version(major, minor, patch))


_browser_of = lru_cache(maxsize=4096)(_parse_browser)
_os_of = lru_cache(maxsize=4096)(_parse_operating_system)
_device_of = lru_cache(maxsize=4096)(parse_device)
_NO_OS = parse_operating_system("Other")
_NO_BROWSER = parse_browser("Other")
_NO_DEVICE = parse_device("Other", None, None)


class _once:
    """A read-once attribute: its function runs on the first read, and the result is kept.

    Like `functools.cached_property` without its lock (Python 3.11's takes one at every first
    read): a descriptor with `__get__` alone, so once the result sits in the instance's
    `__dict__`, later reads find it there as a plain attribute, where a `property` would run
    its code at every read (user-agents' `is_mobile` reads `os.family` up to five times).
    """

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


def resolved(instance: Any, name: str) -> bool:
    """Return whether a read-once attribute of instance has been read."""
    return name in instance.__dict__


class FastUserAgent(UserAgent):
    """user-agents' `UserAgent`, filled by ua-parser 1.x's Rust resolver, one domain at a time.

    The adapter: `UserAgent.__init__` would call `ua_parser.user_agent_parser.Parse` (the
    pure-Python legacy API); this one asks the Rust engine instead and passes what the legacy
    API's dicts hold (browser: family, major, minor, patch; OS: the same and patch_minor;
    device: family, brand, model; family "Other" when nothing matched) to user-agents' own
    `parse_browser`, `parse_operating_system` and `parse_device`, so every property of
    `UserAgent` reads what it reads after `user_agents.parse` (on the labelled table, all
    the same but ten bots that the Rust engine's device rules name `Spider`, where the
    pure-Python engines name no device: tests/rules/test_agents.py). Each domain (`browser`,
    `os`, `device`) is resolved on its first read (`_once`), so an answer that reads only the
    OS (`is_pc`) never pays for the device, the costliest domain (about twice the browser's
    time), nor a verdict that needs only the browser for the others.
    """

    def __init__(self, user_agent_string: str) -> None:
        self.ua_string = user_agent_string

    @_once
    def browser(self):
        found = _extractors()[0](self.ua_string)
        if found is None:
            return _NO_BROWSER
        return _browser_of(found.family, found.major, found.minor, found.patch)

    @_once
    def os(self):
        found = _extractors()[1](self.ua_string)
        if found is None:
            return _NO_OS
        return _os_of(found.family, found.major, found.minor, found.patch, found.patch_minor)

    @_once
    def device(self):
        found = _extractors()[2](self.ua_string)
        return _NO_DEVICE if found is None else _device_of(found.family, found.brand, found.model)


class Platform:
    """What a user agent shows: browser family and version, OS, device type.

    Each read on first use (`read_platform`): a verdict that the browser family alone decides
    (a bare shape no browser sends) never resolves the OS or the device.
    """

    __slots__ = ("_agent", "_hidden", "_os", "_device")

    def __init__(self, agent: FastUserAgent) -> None:
        self._agent = agent
        ua = agent.ua_string
        # CFNetwork without a desktop architecture: iOS or macOS, and the device unknown.
        self._hidden = "CFNetwork/" in ua and not _DARWIN_DESKTOP.search(ua)
        self._os: str | None = None
        self._device: str | None = None

    @property
    def browser(self) -> str:
        return self._agent.browser.family

    @property
    def browser_version(self) -> str | None:
        return self._agent.browser.version_string or None

    @property
    def os(self) -> str:
        if self._os is None:
            self._os = "unknown" if self._hidden else os_name(self._agent.os.family)
        return self._os

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = "unknown" if self._hidden else device_type(self._agent)
        return self._device

    def __repr__(self) -> str:
        return (
            f"Platform(browser={self.browser!r}, browser_version={self.browser_version!r}, "
            f"os={self.os!r}, device={self.device!r})"
        )


def parse(user_agent: str) -> FastUserAgent:
    """Return user-agents' reading of a user agent (as `user_agents.parse` does), fast."""
    return FastUserAgent(user_agent)


def os_name(family: str) -> str:
    """Return the name a person uses for one of ua-parser's OS families."""
    if family in LINUXES:
        return "Linux"
    if family.startswith("Windows") and not family.startswith("Windows Phone"):
        return "Windows"
    return OS_NAMES.get(family, family)


# The device families that user-agents' is_tablet and is_mobile look at (`Blackberry
# Playbook` is a tablet family too): any other family gives the same answers as none.
_TABLETS = frozenset(TABLET_DEVICE_FAMILIES)
_TYPED = _TABLETS | frozenset(MOBILE_DEVICE_FAMILIES) | {"Spider"}


# Zero-width escapes: what they test lies outside a group's own text.
_ASSERTION_ESCAPES = frozenset("bBAZz")
# A quantifier after a group that lets it match nothing (`?`, `*`, `??`, `{0,n}`).
_OPTIONAL_AFTER = re.compile(r"[?*]|\{0?,")
# Families are compared as ua-parser's templates give them, stripped: a text with up to two
# spaces at either end stands for its stripped self.
_PADS = ("", " ", "  ")


def _class_end(pattern: str, start: int) -> int:
    """Return the index just past the character class that begins at pattern[start] (`[`)."""
    at = start + 1
    if pattern[at] == "^":
        at += 1
    if pattern[at] == "]":
        at += 1
    while pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at + 1


def _without_assertions(source: str) -> str:
    """Return a pattern without its anchors and word-boundary tests (outside its classes)."""
    out, at = [], 0
    while at < len(source):
        char = source[at]
        if char == "\\":
            if source[at + 1] not in _ASSERTION_ESCAPES:
                out.append(source[at : at + 2])
            at += 2
        elif char == "[":
            end = _class_end(source, at)
            out.append(source[at:end])
            at = end
        elif char in "^$":
            at += 1
        else:
            out.append(char)
            at += 1
    return "".join(out)


def _groups(pattern: str) -> list[tuple[str, bool]] | None:
    """Return each capturing group of a pattern, in number order: (its pattern, whether it may
    take no part in a match); None for a pattern whose groups cannot be read apart.

    A group takes part in every match unless a quantifier lets it, or a group around it, match
    nothing, or it lies in one branch of an alternation. Its pattern is read without anchors
    and word-boundary tests, which test the text around it (so it matches at least what the
    group can capture); a backreference or a lookaround makes the pattern unreadable.
    """
    groups: list[str | None] = []
    level_of: list[int] = []
    open_levels: list[tuple[int, int | None, int]] = []  # (text start, group number, level)
    parent: dict[int, int | None] = {0: None}
    branching, skippable = set(), set()
    at = 0
    try:
        while at < len(pattern):
            char = pattern[at]
            if char == "\\":
                if pattern[at + 1].isdigit():
                    return None
                at += 2
            elif char == "[":
                at = _class_end(pattern, at)
            elif char == "(":
                if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), at):
                    return None
                level = len(parent)
                parent[level] = open_levels[-1][2] if open_levels else 0
                number: int | None = len(groups)
                if pattern.startswith(("(?P<", "(?<"), at):  # a named group (lookbehinds above)
                    start = pattern.index(">", at) + 1
                elif pattern.startswith("(?", at):
                    start, number = at + 2, None
                else:
                    start = at + 1
                if number is not None:
                    groups.append(None)
                    level_of.append(level)
                open_levels.append((start, number, level))
                at = start
            elif char == ")":
                start, number, level = open_levels.pop()
                if number is not None:
                    groups[number] = pattern[start:at]
                if _OPTIONAL_AFTER.match(pattern, at + 1):
                    skippable.add(level)
                at += 1
            else:
                if char == "|":
                    branching.add(open_levels[-1][2] if open_levels else 0)
                at += 1
    except (IndexError, ValueError):
        return None
    if open_levels:
        return None
    read = []
    for source, level in zip(groups, level_of, strict=True):
        optional, up = level in skippable, parent[level]
        while up is not None:
            optional = optional or up in branching or up in skippable
            up = parent[up]
        read.append((_without_assertions(source or ""), optional))
    return read


def _could_make(rule: Any, names: frozenset[str]) -> bool:
    """Return whether a device rule's family template could give one of names.

    A plain family is compared as it is. In a template, `$n` stands for what group n of the
    rule's pattern can capture (nothing, where the group may take no part), so the template is
    read as a pattern of its own, with each group's pattern in its place; a template whose
    rule's groups cannot be read apart has `.*` there instead (anything).
    """
    family = rule.family
    if "$" not in family:
        return family in names
    groups = _groups(rule.regex)
    parts = []
    for piece in re.split(r"(\$\d)", family):
        if not re.fullmatch(r"\$\d", piece):
            parts.append(re.escape(piece))
        elif groups is None:
            parts.append(".*")
        elif 1 <= int(piece[1]) <= len(groups):
            source, optional = groups[int(piece[1]) - 1]
            parts.append(f"(?:{source}){'?' if optional else ''}")
    ignore_case = rule.regex_flag == "i" or "(?i" in rule.regex
    try:
        shape = re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)
    except re.error:
        shape = re.compile(".*")
    return any(shape.fullmatch(f"{a}{name}{b}") for name in names for a in _PADS for b in _PADS)


@lru_cache(maxsize=2)
def _screen(names: frozenset[str]) -> Callable[[str], Any] | None:
    """Return a test of whether uap-core's device rules could name one of names for a user agent.

    The device domain answers with the family of its first matching rule, so a family in names
    needs some rule that can give one to match: a rule whose family is one of them or a
    template that could become one (a Rust extractor over only those rules, in their order),
    or a rule whose family is its capture alone (`$1`), which copies text of the user agent,
    so the user agent contains the name. When neither can, the family is not in names. The
    test is one Rust extractor: the names themselves as a first rule (plain text, which both
    engines match alike), then those rules; it answers a match or None. None on the
    pure-Python engine (no screen: the device is read).
    """
    try:
        from ua_parser_rs import DeviceExtractor
    except ImportError:  # pragma: no cover - ua-parser-rs missing
        return None
    rules = load_lazy_builtins()[2]
    copied = [rule for rule in rules if re.fullmatch(r"\s*\$\d\s*", rule.family)]
    made = [rule for rule in rules if rule not in copied and _could_make(rule, names)]
    fields = [(r.regex, r.regex_flag, r.family, r.brand, r.model) for r in made]
    if copied:
        # Families are compared case-sensitively, and a capture keeps the user agent's case.
        # Letters, digits, spaces and hyphens only: none is special to either engine.
        if not all(re.fullmatch(r"[\w -]+", name) for name in names):
            raise ValueError(f"device family names the screen cannot take as text: {names}")
        fields.insert(0, ("|".join(sorted(names)), None, "named", None, None))
    return DeviceExtractor(fields).extract


def _may_name(ua: str, names: frozenset[str]) -> bool:
    """Return whether the device domain could name one of names for ua (True when unsure)."""
    screen = _screen(names)
    return screen is None or screen(ua) is not None


class _Untyped(UserAgent):
    """An agent's browser and OS with no device family: what user-agents' is_tablet and
    is_mobile answer without the device's part."""

    device = _NO_DEVICE

    def __init__(self, agent: UserAgent) -> None:
        self._agent = agent
        self.ua_string = agent.ua_string

    @_once
    def browser(self):
        return self._agent.browser

    @_once
    def os(self):
        return self._agent.os


def device_type(agent: UserAgent) -> str:
    """Return phone, tablet, desktop or unknown by user-agents' is_pc, is_tablet, is_mobile."""
    # is_pc first: it reads only the OS and the string, so a desktop never resolves the device.
    if agent.is_pc:
        return "desktop"
    ua = agent.ua_string
    if "Android" in ua and not ua.startswith("Mozilla/"):
        return "phone" if _MOBILE.search(ua) else "unknown"
    if isinstance(agent, FastUserAgent) and not resolved(agent, "device"):
        # The device domain costs more than the browser and OS together, and its family
        # counts only when it is one of _TYPED: is_tablet and is_mobile are each the OR of
        # a test of the family and tests of the rest, so without the family they can only
        # say no more often. Tablet without it: a tablet. Phone without it: a phone unless
        # the family is a tablet's. Neither: neither, unless the family is one of _TYPED.
        untyped = _Untyped(agent)
        if untyped.is_tablet:
            return "tablet"
        if untyped.is_mobile:
            if not _may_name(ua, _TABLETS):
                return "phone"
        elif not _may_name(ua, _TYPED):
            return "desktop" if "X11" in ua else "unknown"
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
    return Platform(parse(ua))
