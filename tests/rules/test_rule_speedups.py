"""The patterns rewritten for speed match exactly as their plain forms do.

Each rewrite (app/rules/bots.py, mail_clients.py) changes how the engine searches, never what
it finds: the plain form is rebuilt here from the pattern in use, so that a rule edited later
is still checked against its own plain form.
"""

import csv
import random
import re
from pathlib import Path

import pytest

from app.rules import bots, mail_clients

DATA = Path(__file__).parent.parent / "data"
with (DATA / "user_agents.tsv").open(encoding="utf-8", newline="") as table:
    AGENTS = [
        row["user_agent"] for row in csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE)
    ]


def _fuzz(alphabet: str, count: int = 30_000, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randrange(1, 40))) for _ in range(count)]


def _pieces(pieces: tuple[str, ...], count: int = 30_000, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(pieces, k=rng.randrange(1, 12))) for _ in range(count)]


def _matches(pattern: re.Pattern[str], texts: list[str]) -> list:
    return [(m.span(), m.groups()) if (m := pattern.search(t)) else None for t in texts]


def _findall(pattern: re.Pattern[str], texts: list[str]) -> list:
    return [pattern.findall(t) for t in texts]


LOWER = [ua.lower() for ua in AGENTS]


@pytest.mark.parametrize(
    ("fast", "plain", "texts"),
    [
        (
            mail_clients._GECKO_APP,
            mail_clients._GECKO_APP.pattern.replace(r"Gecko(?<!\wGecko)", r"\bGecko"),
            AGENTS + _fuzz("Gecko/1.2) Firefox/xy_ab ", seed=2),
        ),
    ],
)
def test_searches_find_what_the_plain_pattern_finds(fast, plain, texts):
    assert fast.pattern != plain
    assert _matches(fast, texts) == _matches(re.compile(plain, fast.flags), texts)


def test_possessive_tokens_are_the_greedy_ones():
    plain = re.compile(bots._TOKENS.pattern.replace("*+", "*"))
    texts = LOWER + _fuzz("ab9-_.! /x", seed=3)
    assert bots._TOKENS.pattern != plain.pattern
    assert _findall(bots._TOKENS, texts) == _findall(plain, texts)


def test_platform_or_browser_words_are_found_alike_in_lower_case():
    """The lower-case pattern on a lower-cased ASCII user agent finds what the flag finds."""
    texts = (
        AGENTS
        + [ua.upper() for ua in AGENTS]
        + _fuzz("iPhonAdrWwsMcLux TVCfSaOpKzBMIDPLWNHG/", count=20_000, seed=4)
        # Not ASCII: the flag's own pattern is asked (the Kelvin sign folds to k).
        + ["\u212aaiOS", "Mac OS \u212a", "ſafari"]
    )
    for text in texts:
        want = bots._PLATFORM_OR_BROWSER.search(text) is not None
        assert bots.names_platform_or_browser(text) == want, text
    ascii_found = sum(bots.names_platform_or_browser(t) for t in texts if t.isascii())
    assert ascii_found > len(AGENTS)  # the words are found, not only missed


def test_the_placeholder_pattern_finds_what_its_plain_form_finds():
    plain = re.compile(r"(?:firefox|chrome|gecko|applewebkit|safari)/[a-z]+(?:\s|$)")
    texts = (
        LOWER
        + ["mozilla/5.0 firefox/firefoxversion", "chrome/x gecko/", "safari/abc\tx", "/abc "]
        + _pieces(("firefox", "chrome", "gecko", "safari", "/", "x", "12", " ", "\t"), seed=5)
    )
    assert [bool(bots._PLACEHOLDER.search(t)) for t in texts] == [
        bool(plain.search(t)) for t in texts
    ]
    assert sum(bool(plain.search(t)) for t in texts) > 100


def test_the_bot_word_screen_is_true_wherever_the_pattern_matches():
    """The screen may say yes where the pattern finds nothing, never the other way."""
    screen = bots._BOT_WORDS_SCREEN
    assert screen is not None
    words = [w for text in bots._BOT_WORD_TEXTS for w in re.findall(r"[a-z]{2,}", text)]
    texts = (
        LOWER
        + [t.replace(" ", "") for t in LOWER]
        + _pieces((*words, " ", "_", "-", "/", "x", "9", "é", "\u0301", "²", "-user/", "٣"))
    )
    found = [t for t in texts if bots._BOT_WORDS.search(t)]
    assert len(found) > 10_000
    assert [t for t in found if not screen(t)] == []
    # And it does screen: most browsers' user agents have none of the words.
    browsers = [row.lower() for row in AGENTS if "Mozilla/5.0 (" in row]
    assert sum(not screen(t) for t in browsers) > len(browsers) / 2


def test_bot_evidence_is_the_same_without_the_rust_screens(monkeypatch):
    """Each screen only skips searches that would find nothing."""
    pieces = (
        "Mozilla/5.0 ",
        "(Linux; Android 13; Phone ",
        ")",
        " (compatible; ",
        "www.",
        "http:",
        "example",
        ".com",
        ".de/",
        ".co",
        ".",
        "a1-",
        "/",
        " ",
        "bot",
        "Spider",
        "feed",
        "-User/1",
        "Google-Read",
        "[at]",
        "x@mail.io",
        "é",
    )
    texts = AGENTS + _pieces(pieces, count=20_000, seed=6)
    screened = [bots.bot_evidence(text) for text in texts]
    monkeypatch.setattr(bots, "_ADDRESS_SCREEN", None)
    monkeypatch.setattr(bots, "_BOT_WORDS_SCREEN", None)
    plain = [bots.bot_evidence(text) for text in texts]
    assert screened == plain
    assert sum(found is not None for found in plain) > 10_000


# Pieces of user agents that trip each part of `bot_evidence` and the mail-client gates,
# and of browsers' user agents that trip none.
EVIDENCE_PIECES = (
    "Mozilla/5.0 ",
    "(Linux; Android 13; Phone ",
    "(iPhone; CPU iPhone OS 17_0 like Mac OS X) ",
    "(Macintosh; Intel Mac OS X 10_15_7) ",
    "AppleWebKit/605.1.15 (KHTML, like Gecko) ",
    "(KHTML, like Gecko; x) ",
    "Chrome/120.0.0.0 ",
    "Safari/537.36",
    "Firefox/firefoxversion ",
    ")",
    " (compatible; ",
    "http client",
    "health",
    " check",
    "www.",
    ".com",
    ".co",
    "@",
    "${x}",
    "Electron/28.0 ",
    "Code/1.85 ",
    "bot",
    "feed",
    "-User/1",
    "Google-Read",
    "Daumoa-image",
    "curl",
    "Thunderbird/115.0",
    "outlook-ios-android",
    "Mail/3.0 CFNetwork/1 ",
    " Gecko/20100101 ",
    "GoogleImageProxy",
    "YahooMailProxy ",
    "SeznamEmailProxy/1 ",
    "Superhuman image proxy",
    "proxy checker",
    "Barracuda Sentinel ",
    "Edge/12.246 Mozilla/5.0",
    "é",
    " ",
    "/",
)


def test_the_evidence_screen_finds_something_wherever_bot_evidence_does():
    """Where the screen finds nothing, bot_evidence finds no more than the desktop tail."""
    screen = mail_clients._SCREEN
    assert screen is not None
    texts = AGENTS + _pieces(EVIDENCE_PIECES, count=30_000, seed=7)
    shown = [t for t in texts if bots.bot_evidence(t) and not bots.desktop_tail(t)]
    assert len(shown) > 10_000
    assert [t for t in shown if not screen(t.lower())] == []
    browsers = [row.lower() for row in AGENTS if "Mozilla/5.0 (" in row]
    assert sum(not screen(t) for t in browsers) > len(browsers) / 3


def test_identify_is_the_same_without_the_evidence_screen(monkeypatch):
    """The screen only skips the words and searches that would decide nothing."""
    texts = AGENTS + _pieces(EVIDENCE_PIECES, count=20_000, seed=8)
    screened = [mail_clients._read(text) for text in texts]
    monkeypatch.setattr(mail_clients, "_SCREEN", None)
    plain = [mail_clients._read(text) for text in texts]
    assert screened == plain
    assert {client.kind for client in plain} >= {"bot", "browser", "client", "unknown"}


def test_a_mozilla_user_agent_without_platform_is_told_as_by_one_pattern():
    """The comment searched by itself gives what the pattern with a lookahead gives."""
    plain = re.compile(
        r"^Mozilla/[\d.]++(?: \[[\w-]+\])?+(?: ?\((?![^)]*(?:"
        + bots._PLATFORM_WORDS.pattern
        + r"|;))[^)]*\)|(?! ?\()|$)"
    )
    pieces = ("Mozilla/", "5.0", " [en]", " (", "(", ")", ";", "Linux", "X11", "SmartHub", "x", " ")
    fuzz = _pieces(pieces, count=20_000, seed=10)
    texts = AGENTS + fuzz + ["Mozilla/5.0" + text for text in fuzz]
    found = [bots.mozilla_without_platform(text) for text in texts]
    assert found == [bool(plain.match(text)) for text in texts]
    assert 2_000 < sum(found) < len(texts) - 2_000
