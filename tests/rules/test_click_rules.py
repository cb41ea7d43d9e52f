"""Click verdicts by evidence: each scenario runs the pixel rules, then the click rules."""

import pytest

from app.rules.classify import Fetch, classify
from app.rules.clicks import click_verdict, opened_before, settle_verdict
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


# A desktop mail app's link view: a Windows user agent that names no client or browser.
BARE_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"


def judge_after(networks, user_agent, ip, since, opened_from, method="GET"):
    fetch = Fetch(user_agent=user_agent, ip=ip, method=method, seconds_since_send=since)
    pixel = classify(fetch, networks, 60).as_dict()
    return click_verdict(pixel, method, since, 60, ip, opened_from)


def test_the_pixel_rules_name_outlook_desktop_a_persons_client(networks):
    fetch = Fetch(user_agent=OUTLOOK_DESKTOP, ip="198.51.100.7", seconds_since_send=1)
    verdict = classify(fetch, networks, 60)
    assert (verdict.verdict, verdict.source) == ("human", "direct")


@pytest.mark.parametrize(
    ("name", "user_agent", "ip", "since", "opened_from", "method", "expected"),
    [
        # A person reads in a desktop client (the pixel from 198.51.100.7), then clicks from
        # another address of the same /24 within seconds.
        (
            "quick click after own pixel fetch",
            BARE_DESKTOP,
            HOME,
            3,
            {"198.51.100.0"},
            "GET",
            "click",
        ),
        (
            "quick click after own pixel fetch, IPv6 /48",
            BARE_DESKTOP,
            "2001:db8:5:1::9",
            4,
            {"2001:db8:5::"},
            "GET",
            "click",
        ),
        ("Safari after own pixel fetch", IPHONE_SAFARI, HOME, 2, {"198.51.100.0"}, "GET", "click"),
        # The same user agent from a network that fetched nothing first, or another network.
        (
            "no client named, pixel fetched elsewhere",
            BARE_DESKTOP,
            HOME,
            3,
            {"192.0.2.0"},
            "GET",
            "scanner",
        ),
        ("no client named, nothing known", BARE_DESKTOP, HOME, 3, None, "GET", "scanner"),
        # A gateway at delivery: its evidence stands, wherever the pixel was fetched from.
        (
            "datacenter at delivery, never fetched",
            WINDOWS_CHROME,
            "203.0.113.9",
            2,
            set(),
            "GET",
            "scanner",
        ),
        (
            "Defender at delivery, never fetched",
            WINDOWS_CHROME,
            "40.107.22.5",
            2,
            set(),
            "GET",
            "scanner",
        ),
        (
            "Defender, whatever was fetched",
            WINDOWS_CHROME,
            "40.107.22.5",
            2,
            {"40.107.22.0"},
            "GET",
            "scanner",
        ),
        ("HEAD after own pixel fetch", BARE_DESKTOP, HOME, 3, {"198.51.100.0"}, "HEAD", "prefetch"),
        (
            "HTTP library after own pixel fetch",
            "python-requests/2.31.0",
            HOME,
            3,
            {"198.51.100.0"},
            "GET",
            "bot",
        ),
    ],
)
def test_click_scenario_with_the_pixel_first(
    networks, name, user_agent, ip, since, opened_from, method, expected
):
    verdict, source, reason = judge_after(networks, user_agent, ip, since, opened_from, method)
    assert source == expected, reason
    assert verdict == ("human" if expected == "click" else "machine")


def test_the_reasons_name_the_network_evidence(networks):
    _, _, human = judge_after(networks, BARE_DESKTOP, HOME, 3, {"198.51.100.0"})
    assert "198.51.100.0" in human and "fetched the message's pixel" in human
    _, _, gateway = judge_after(networks, WINDOWS_CHROME, "203.0.113.9", 2, set())
    assert "never fetched the message's pixel" in gateway
    _, _, unknown = judge_after(networks, BARE_DESKTOP, HOME, 3, None)
    assert "never fetched" not in unknown


def test_only_earlier_fetches_with_a_stored_ip_count():
    fetches = [("198.51.100.7", "2026-12-01T10:00:01Z"), ("192.0.2.0", "2026-12-01T10:00:09Z")]
    assert opened_before(fetches, "2026-12-01T10:00:05Z") == {"198.51.100.0"}
    assert opened_before(fetches, "2026-12-01T10:00:01Z") == frozenset()
    assert opened_before([(None, "2026-12-01T10:00:01Z")], "2026-12-01T10:00:05Z") is None
    assert opened_before([], "2026-12-01T10:00:05Z") == frozenset()
