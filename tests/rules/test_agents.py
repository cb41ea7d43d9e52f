"""The adapter that fills user-agents' UserAgent from ua-parser 1.x's Rust resolver."""

import csv
import re
from pathlib import Path

import pytest
import user_agents

from app.rules import agents
from app.rules.agents import FastUserAgent, device_type, read_device, read_platform, resolved

DATA = Path(__file__).parent.parent / "data"
with (DATA / "user_agents.tsv").open(encoding="utf-8", newline="") as table:
    AGENTS = [
        row["user_agent"] for row in csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE)
    ]
PROPERTIES = ("is_mobile", "is_tablet", "is_pc", "is_touch_capable", "is_bot", "is_email_client")


def test_fast_user_agent_answers_as_user_agents_parse_does():
    """Every field and property, on every user agent of the labelled table.

    Both read ua-parser-builtins' rules; the Rust engine's device domain names ten of the
    table's bots `Spider` (is_bot) where the pure-Python engines (the legacy API, and
    ua_parser.basic) name no device: the only differences.
    """
    differ, newer_spiders = [], 0
    for ua in AGENTS:
        slow, fast = user_agents.parse(ua), FastUserAgent(ua)
        if fast.device.family == "Spider" and slow.device.family != "Spider":
            newer_spiders += 1
            continue
        got = (fast.browser, fast.os, fast.device, *(getattr(fast, p) for p in PROPERTIES))
        want = (slow.browser, slow.os, slow.device, *(getattr(slow, p) for p in PROPERTIES))
        if got != want or str(fast) != str(slow):
            differ.append((ua, got, want))
    assert differ == []
    assert newer_spiders <= 10


def test_the_device_domain_is_resolved_only_when_needed():
    desktop = FastUserAgent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    assert desktop.is_pc
    assert not resolved(desktop, "device")
    phone = FastUserAgent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    assert phone.is_mobile and phone.device.family == "iPhone"


def redrawn(ua: str, seed: int) -> str:
    """Return ua with its numbers changed (the same shape, a string the engine has not read)."""
    return re.sub(r"\d+", lambda m: str((int(m.group(0)) * 7 + seed) % 10 ** len(m.group(0))), ua)


SHAPES = [
    # Device families user-agents counts: Kindle Fire HD, BlackBerry Playbook, Dell Streak.
    "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/535.19 "
    "(KHTML, like Gecko) Silk/3.4 Mobile Safari/535.19 Silk-Accelerated=true",
    "Mozilla/5.0 (PlayBook; U; RIM Tablet OS 2.1.0; en-US) AppleWebKit/536.2+ "
    "(KHTML, like Gecko) Version/7.2.1.0 Safari/536.2+",
    "Mozilla/5.0 (Linux; U; Android 2.2; en-us; Dell Streak Build/FRF91) AppleWebKit/533.1 "
    "(KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
]


def test_device_type_is_the_same_without_the_device_domain_when_it_is_skipped():
    """device_type skips the device domain only where its family cannot change the answer."""
    differ, skipped = [], 0
    for ua in [*AGENTS, *SHAPES, *(redrawn(ua, seed) for ua in AGENTS for seed in (1, 2))]:
        full = FastUserAgent(ua)
        assert full.device is not None  # read first: so device_type uses it
        fast = FastUserAgent(ua)
        if device_type(fast) != device_type(full):
            differ.append(ua)
        skipped += not resolved(fast, "device")
    assert differ == []
    assert skipped > len(AGENTS)  # and it does skip


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        # user-agents would say iOS and phone: Darwin versions are shared by iOS and macOS.
        ("Mail/3731.600.7 CFNetwork/1408.0.4 Darwin/22.5.0", ("unknown", "unknown")),
        # user-agents would say tablet: no browser shape, so no Mobile Safari to go by.
        ("Android-Gmail/64562652 (sw411dp; 420dpi) (Android 13)", ("Android", "unknown")),
        # user-agents' is_pc wants Linux beside X11.
        (
            "Mozilla/5.0 (X11; FreeBSD amd64; rv:120.0) Gecko/20100101 Firefox/120.0",
            ("FreeBSD", "desktop"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            ("Android", "phone"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            ("iOS", "tablet"),
        ),
    ],
)
def test_read_device(ua, expected):
    assert read_device(ua) == expected
    platform = read_platform(ua)
    assert (platform.os, platform.device) == expected


def test_each_domain_is_resolved_on_first_use():
    # A bare library shape is judged by its browser family alone: no OS, no device.
    platform = read_platform("python-requests/2.31.0")
    assert platform.browser == "Python Requests"
    agent = platform._agent
    assert not resolved(agent, "os") and not resolved(agent, "device")
    assert (platform.os, platform.device) == ("unknown", "unknown")
    # No device rule that names a family user-agents' is_tablet or is_mobile look at matches.
    assert resolved(agent, "os") and not resolved(agent, "device")


def test_browser_and_os_are_built_as_user_agents_builds_them():
    from user_agents.parsers import parse_browser, parse_operating_system

    from app.rules.agents import _parse_browser, _parse_operating_system

    parts = [None, "", "0", "7", "10", "05", "000", "0a", "x", "1-2", " 3", "٣", "1٣"]
    for major in parts:
        for minor in parts:
            for patch in (None, "0", "5", "b"):
                want = parse_browser("Chrome", major, minor, patch)
                got = _parse_browser("Chrome", major, minor, patch)
                assert (got, type(got)) == (want, type(want))
                assert [type(part) for part in got.version] == [type(p) for p in want.version]
                want = parse_operating_system("iOS", major, minor, patch, "9")
                got = _parse_operating_system("iOS", major, minor, patch, "9")
                assert (got, type(got)) == (want, type(want))
                assert [type(part) for part in got.version] == [type(p) for p in want.version]


@pytest.mark.parametrize(
    ("pattern", "groups"),
    [
        (
            "; {0,2}(TCL)[ _]([^;/]{1,100}?)(?: Build|\\) AppleWebKit)",
            [("TCL", False), ("[^;/]{1,100}?", False)],
        ),
        ("(Advent |)(Vega(?:Bean|Comb|))", [("Advent |", False), ("Vega(?:Bean|Comb|)", False)]),
        ("(CUBE[ _])?([KU][0-9]+)", [("CUBE[ _]", True), ("[KU][0-9]+", False)]),
        ("(?:(ZOPO) ([^;]+)|(ZP))", [("ZOPO", True), ("[^;]+", True), ("ZP", True)]),
        ("(IBall)(?:[ _]([^;/]{1,100}?)|)", [("IBall", False), ("[^;/]{1,100}?", True)]),
        ("\\b(Dell)\\b ([\\w]+$)", [("Dell", False), ("[\\w]+", False)]),
        ("(?P<name>[a-z)(]+)", [("[a-z)(]+", False)]),
        ("(?<name>x)|(y)", [("x", True), ("y", True)]),
        ("(a)\\1", None),
        ("(?<=x)(a)", None),
        ("(a", None),
    ],
)
def test_device_rule_groups_are_read_apart(pattern, groups):
    assert agents._groups(pattern) == groups


def test_a_device_rule_that_cannot_make_a_typed_family_never_does():
    """The screens leave out the device rules whose family template cannot give one of the
    families device_type counts (`_could_make`): run with Python's re over the labelled table
    and its redrawn copies, none of those rules gives one."""
    from ua_parser import load_lazy_builtins
    from ua_parser.utils import replacer

    agents_read = [*AGENTS, *SHAPES, *(redrawn(ua, seed) for ua in AGENTS for seed in (1, 2))]
    rules = load_lazy_builtins()[2]
    made, wrong = 0, []
    for rule in rules:
        if agents._could_make(rule, agents._TYPED):
            made += 1
            continue
        pattern = re.compile(rule.regex, re.IGNORECASE if rule.regex_flag == "i" else 0)
        for ua in agents_read:
            found = pattern.search(ua)
            if found and replacer(rule.family, found) in agents._TYPED:
                wrong.append((rule.regex, ua))
    assert wrong == []
    assert made < len(rules) / 5  # and the screens do leave most rules out
