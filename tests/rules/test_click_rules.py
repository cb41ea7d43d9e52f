"""Click verdicts by evidence: each scenario runs the pixel rules, then the click rules."""

import pytest

from app.rules.classify import Fetch, classify
from app.rules.clicks import click_verdict, settle_verdict
from app.rules.network_sources import BUILTIN_SCANNER_RANGES, parse_network_lines
from app.rules.networks import Networks

IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
# A residential address (TEST-NET-2: in no scanner, datacenter or hosting range).
HOME = "198.51.100.23"


@pytest.fixture(scope="module")
def networks():
    ranges = parse_network_lines("203.0.113.0/24,datacenter,Example Cloud\n")
    return Networks(ranges + parse_network_lines(BUILTIN_SCANNER_RANGES))


def judge(networks, user_agent, ip, since, method="GET", window=60):
    fetch = Fetch(user_agent=user_agent, ip=ip, method=method, seconds_since_send=since)
    pixel = classify(fetch, networks, window).as_dict()
    return click_verdict(pixel, method, since, window)


@pytest.mark.parametrize(
    ("name", "user_agent", "ip", "since", "method", "expected"),
    [
        # A person's quick click on transactional mail (a sign-in link, a password reset).
        ("reset link 3 s after sending, Safari on a phone", IPHONE_SAFARI, HOME, 3, "GET", "click"),
        ("sign-in link 2 s after sending, Apple Mail", IPHONE_MAIL, HOME, 2, "GET", "click"),
        ("code link 5 s after sending, Chrome on Android", ANDROID_CHROME, HOME, 5, "GET", "click"),
        ("desktop Chrome 8 s after sending from home", WINDOWS_CHROME, HOME, 8, "GET", "click"),
        # A gateway's click at delivery.
        ("Defender Safe Links at delivery", WINDOWS_CHROME, "40.107.22.5", 2, "GET", "scanner"),
        ("a datacenter at delivery", WINDOWS_CHROME, "203.0.113.9", 4, "GET", "scanner"),
        ("a HEAD check at delivery", WINDOWS_CHROME, HOME, 1, "HEAD", "prefetch"),
        (
            "no client named, at delivery",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            HOME,
            1,
            "GET",
            "scanner",
        ),
        ("an HTTP library at delivery", "python-requests/2.31.0", HOME, 1, "GET", "bot"),
        # The scanner ranges decide at any time; the clock alone decides nothing.
        (
            "Defender Safe Links an hour later",
            WINDOWS_CHROME,
            "40.107.22.5",
            3600,
            "GET",
            "scanner",
        ),
        ("a datacenter an hour later", WINDOWS_CHROME, "203.0.113.9", 3600, "GET", "click"),
        (
            "no client named, an hour later",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            HOME,
            3600,
            "GET",
            "click",
        ),
    ],
)
def test_click_scenario(networks, name, user_agent, ip, since, method, expected):
    verdict, source, reason = judge(networks, user_agent, ip, since, method)
    assert source == expected, reason
    assert verdict == ("human" if expected == "click" else "machine")
    assert reason


def test_a_quick_human_click_says_why():
    _, _, reason = judge(None, IPHONE_SAFARI, HOME, 3)
    assert "3 s after sending" in reason and "Safari" in reason


def test_several_links_at_once_are_a_scanner_however_human_each_looks():
    judged = judge(None, IPHONE_SAFARI, HOME, 3)
    assert settle_verdict(judged, 1) == judged
    assert settle_verdict(judged, 3)[:2] == ("machine", "scanner")
