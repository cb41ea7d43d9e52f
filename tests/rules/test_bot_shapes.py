"""The bot shapes of app/rules/bots.py: each catches its shape, and none reads a device's name.

Examples marked "table" are rows of tests/data/user_agents.tsv (each with its public source);
the others are made here from a real browser's user agent, to pin one property of a rule.
"""

import csv
import re
from pathlib import Path

import pytest

from app.rules import bots
from app.rules.classify import Fetch, classify
from app.rules.mail_clients import identify

TABLE = Path(__file__).parent.parent / "data" / "user_agents.tsv"
with TABLE.open(encoding="utf-8", newline="") as table:
    ROWS = list(csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE))
TABLE_AGENTS = {row["user_agent"] for row in ROWS}


@pytest.mark.parametrize(
    ("user_agent", "evidence"),
    [
        # A known product with a suffix of its own.
        (
            "Mozilla/5.0 (compatible; MSIE or Firefox mutant; not on Windows server;) "
            "Daumoa-image/1.0",
            "product token",
        ),
        # A desktop's platform comment is read for crawlers' names.
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:17.0; Baiduspider-ads) Gecko/17.0 "
            "Firefox/17.0",
            "product token",
        ),
        # Words added inside WebKit's comment.
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; Google Page "
            "Speed Insights) Chrome/27.0.1453 Safari/537.36",
            "KHTML",
        ),
        # A bare name/version that uap-core's catch-all rules only echo back.
        ("Bun/1.0.6", "bare name/version"),
        ("Deno/2.1.7", "bare name/version"),
        # A monitor's own word.
        ("Exit1-Website-Monitor/1.0", "bot word 'monitor'"),
    ],
)
def test_each_shape_catches_its_table_rows(user_agent, evidence):
    assert user_agent in TABLE_AGENTS
    client = identify(user_agent)
    assert client.kind == "bot"
    assert evidence in client.evidence


# A phone's own user agent (uap-core tests/test_device.yaml, a row of the table) with its
# device model swapped for names that hold bot words: a model is never read for them.
PHONE = (
    "Mozilla/5.0 (Linux; Android 4.2; Galaxy Nexus Build/JOP40C) AppleWebKit/535.19 (KHTML, "
    "like Gecko) Chrome/18.0.1025.166 Mobile Safari/535.19"
)


@pytest.mark.parametrize(
    "model", ["Spider 8", "Crawler X", "Scanner Pro", "Agent 7", "Monitor", "Audit One"]
)
def test_a_device_model_is_never_read_for_bot_words(model):
    assert PHONE in TABLE_AGENTS
    user_agent = PHONE.replace("Galaxy Nexus", model)
    verdict = classify(Fetch(user_agent=user_agent))
    assert verdict.verdict == "human", verdict.reason


def test_a_name_after_a_desktop_browser_is_a_tool_and_a_version_keeps_it_a_browser():
    desktop = (
        "Mozilla/5.0 (X11; CrOS x86_64 4731.101.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/31.0.1650.67 Safari/537.36"
    )
    assert desktop in TABLE_AGENTS
    assert classify(Fetch(user_agent=desktop)).verdict == "human"
    # A monitor's name appended without a version (what site auditors do) is a machine...
    assert identify(desktop + " SiteAuditor").kind == "bot"
    # ...a browser's own versioned token after Safari/ is not (Edge, Opera).
    assert classify(Fetch(user_agent=desktop + " Edg/120.0.0.0")).verdict == "human"
    assert classify(Fetch(user_agent=desktop + " OPR/105.0.0.0")).verdict == "human"


def test_mail_clients_and_proxies_in_the_table_are_never_bots():
    for row in ROWS:
        if row["family"] in ("mail", "proxy"):
            assert identify(row["user_agent"]).kind != "bot", row["user_agent"]


def test_grouped_bot_words_match_as_the_flat_alternation_does():
    """_one_pattern only regroups: on every table row it finds what the flat pattern finds."""
    texts = (
        r"bot\b bot[/_;-] crawl cli\b(?<![a-z0-9_]cli) health\x20?check -user/\d",
        r"google-[a-z](?<![a-z0-9_]google-[a-z]) -google\b agent\b(?<!_agent)",
    )
    grouped = bots._one_pattern(*texts)
    flat = re.compile("|".join(branch for text in texts for branch in text.split()))
    for row in ROWS:
        lower = row["user_agent"].lower()
        assert bool(grouped.search(lower)) == bool(flat.search(lower)), lower
