import random

import pytest

from app.core.estimate import METHOD, estimated_open_rate, open_strata, wilson_interval
from app.core.stats import campaign_numbers, message_state
from app.rules.classify import Fetch, classify


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    # Values from Brown, Cai and DasGupta (2001) and from statsmodels' proportion_confint
    # (method="wilson"), to four places.
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_interval(successes, trials, low, high):
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_nothing_tracked_has_no_estimate():
    assert estimated_open_rate({}) == {
        "value": None,
        "low": None,
        "high": None,
        "method": METHOD,
    }


def test_all_hidden_gives_only_the_known_range():
    got = estimated_open_rate({"visible": 0, "hidden": 100, "hidden_opened": 10})
    assert got == {"value": None, "low": 0.1, "high": 1.0, "method": METHOD}


def test_nothing_hidden_is_exact():
    got = estimated_open_rate({"visible": 200, "visible_opened": 50})
    assert got["value"] == got["low"] == got["high"] == 0.25


def test_hidden_recipients_open_like_visible_ones():
    got = estimated_open_rate({"visible": 1000, "visible_opened": 300, "hidden": 1000})
    assert got["value"] == 0.3
    assert got["low"] < 0.3 < got["high"]
    assert got["high"] - got["low"] < 0.06


def test_hidden_clickers_are_known_openers():
    # Visible openers never click, so a hidden clicker adds to what the visible rate predicts.
    base = {"visible": 1000, "visible_opened": 300, "hidden": 1000}
    got = estimated_open_rate({**base, "hidden_opened": 100})
    assert got["value"] == pytest.approx((300 + 100 + 900 * 0.3) / 2000, abs=1e-4)


def test_clicks_lower_the_chance_of_an_unseen_open():
    # Half the visible openers click; no hidden recipient clicked, so fewer of them opened.
    got = estimated_open_rate(
        {"visible": 1000, "visible_opened": 400, "visible_opened_clicked": 200, "hidden": 1000}
    )
    assert got["value"] == pytest.approx((400 + 1000 * 0.4 * 0.5 / 0.8) / 2000, abs=1e-4)


# One fetch of each kind a simulated campaign sees, judged by the real classifier.
FETCHES = {
    "apple_mpp": Fetch(user_agent="Mozilla/5.0", ip="172.225.10.4"),
    "scanner": Fetch(user_agent="Barracuda Sentinel (EE)", seconds_since_send=3),
    "prefetch": Fetch(
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/120.0 Safari/537.36",
        method="HEAD",
    ),
    "person": Fetch(
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64; Microsoft Outlook 16.0.17126; "
        "ms-office; MSOffice 16)",
        seconds_since_send=3600,
    ),
}


def simulate_campaign(rng: random.Random, verdicts: dict) -> tuple[float, dict, dict]:
    """Return a simulated campaign's true open rate, its naive numbers and its strata."""
    size = rng.randint(200, 2500)
    true_rate = rng.uniform(0.1, 0.6)
    mpp_share = rng.uniform(0.1, 0.6)
    scanner_share = rng.uniform(0.0, 0.3)
    prefetch_share = rng.uniform(0.0, 0.15)
    click_share = rng.uniform(0.02, 0.3)
    counters = dict.fromkeys(
        ("sent", "opened", "unknown", "fetched", "total_opens", "human_opens", "machine_opens"), 0
    )
    counters.update(first_open_at=None, last_open_at=None)
    strata = dict.fromkeys(
        ("visible", "visible_opened", "visible_opened_clicked", "hidden", "hidden_opened"), 0
    )
    really_opened = 0
    for _ in range(size):
        mpp = rng.random() < mpp_share
        opened = rng.random() < true_rate
        clicked = opened and rng.random() < click_share
        really_opened += opened
        kinds = []
        if mpp:
            # Apple's proxy fetches every message of its users, opened or not.
            kinds.append("apple_mpp")
        elif opened:
            kinds.append("person")
        if rng.random() < scanner_share:
            kinds.append("scanner")
        if rng.random() < prefetch_share:
            kinds.append("prefetch")
        judged = [verdicts[kind] for kind in kinds]
        human = sum(v.verdict == "human" for v in judged) + clicked  # a human click is an open
        mpp_opens = sum(v.source == "apple_mpp" for v in judged)
        state = message_state(human, mpp_opens)
        counters["sent"] += 1
        counters["fetched"] += bool(judged)
        counters["opened"] += state == "opened"
        counters["unknown"] += state == "unknown"
        stratum = "hidden" if mpp_opens else "visible"
        strata[stratum] += 1
        strata[f"{stratum}_opened"] += state == "opened"
        if stratum == "visible" and state == "opened" and clicked:
            strata["visible_opened_clicked"] += 1
    return really_opened / size, campaign_numbers(counters), strata


def test_interval_covers_the_true_rate_where_naive_rates_miss_it():
    rng = random.Random(16)
    verdicts = {kind: classify(fetch) for kind, fetch in FETCHES.items()}
    assert verdicts["apple_mpp"].source == "apple_mpp"
    assert {verdicts[kind].verdict for kind in ("scanner", "prefetch")} == {"machine"}
    assert verdicts["person"].verdict == "human"
    campaigns = 300
    covered = open_rate_missed = human_rate_missed = 0
    for _ in range(campaigns):
        truth, numbers, strata = simulate_campaign(rng, verdicts)
        # What the store gives: the campaign's counters and two counts over opened messages.
        signals = {key: strata[key] for key in ("hidden_opened", "visible_opened_clicked")}
        assert open_strata(numbers, signals) == strata
        estimate = estimated_open_rate(strata)
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
        covered += estimate["low"] <= truth <= estimate["high"]
        # A naive rate "misses" when the truth is outside what its own binomial 95% interval
        # around it would allow: it is off by more than sampling noise explains.
        for rate, name in ((numbers["open_rate"], "open"), (numbers["human_open_rate"], "human")):
            low, high = wilson_interval(rate * numbers["tracked"], numbers["tracked"])
            missed = not low <= truth <= high
            open_rate_missed += missed and name == "open"
            human_rate_missed += missed and name == "human"
    assert covered / campaigns >= 0.90
    assert open_rate_missed / campaigns >= 0.90
    assert human_rate_missed / campaigns >= 0.90
