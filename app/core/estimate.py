"""Estimate a campaign's true open rate, with a 95% interval, from the opens we can see; pure.

Apple's Mail Privacy Protection fetches every message of its users, so for them a fetch says
nothing about a person. The estimate splits a campaign's tracked messages in two strata:
*visible* (no Apple MPP fetch: a person's open shows as a human open) and *hidden* (at least one
MPP fetch). Within the same campaign, hidden recipients are assumed to open at the visible rate
``p``. Clicks are the second signal: a hidden recipient who clicked (or opened on another
device) is a known opener, and for the rest the chance of an unseen open is
``p(1 - k) / (1 - p k)``, with ``k`` the visible openers' click-through. The interval is
Wilson's score interval for ``p`` with an effective size that also counts the hidden
recipients' own binomial spread (a prediction interval for the campaign's realised rate), each
bound carried through the same monotone formula. The method is described in docs/judging.md.
"""

import math

METHOD = "visible_extrapolation_wilson"

ESTIMATE_DEFINITION = (
    "An estimate, with a 95% interval, of the share of tracked recipients a person really "
    "opened: recipients whose opens Apple's proxy hides are assumed to open like those of the "
    "same campaign whose opens are visible, and their human clicks count as opens. A rate, "
    "never a count."
)

# The 97.5th percentile of the standard normal distribution: a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(successes: float, trials: float, z: float = Z95) -> tuple[float, float]:
    """Return Wilson's score interval (low, high) for a binomial proportion.

    Wilson (1927), "Probable inference, the law of succession, and statistical inference";
    recommended over the Wald interval by Brown, Cai and DasGupta (2001). ``trials`` may be a
    non-integer effective size.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def open_strata(numbers: dict, opened_signals: dict) -> dict:
    """Return the strata ``estimated_open_rate`` reads, from a campaign's numbers
    (``core.stats.campaign_numbers``) and its ``Store.opened_signals``.

    ``unknown`` messages are hidden by definition (only MPP fetches); hidden ones with a human
    open or click are among ``opened``.
    """
    hidden_opened = opened_signals.get("hidden_opened") or 0
    hidden = numbers["unknown"] + hidden_opened
    return {
        "visible": numbers["tracked"] - hidden,
        "visible_opened": numbers["opened"] - hidden_opened,
        "visible_opened_clicked": opened_signals.get("visible_opened_clicked") or 0,
        "hidden": hidden,
        "hidden_opened": hidden_opened,
    }


def _hidden_opened(p: float, k: float) -> float:
    """Return the chance that a hidden recipient who did not click opened, at open rate p."""
    if p >= 1:
        return 1.0
    return p * (1 - k) / (1 - p * k)


def estimated_open_rate(counts: dict) -> dict:
    """Return {value, low, high, method} for a campaign's share of tracked recipients who opened.

    ``counts`` holds the tracked messages by stratum: ``visible``, ``visible_opened``,
    ``visible_opened_clicked`` (visible openers with a human click), ``hidden`` and
    ``hidden_opened`` (hidden messages with a human open or click). ``value`` is None when
    nothing is visible to extrapolate from; the interval is then the range the known openers
    allow. Every figure is a rate, never a count.
    """
    visible = counts.get("visible") or 0
    visible_opened = counts.get("visible_opened") or 0
    clicked = counts.get("visible_opened_clicked") or 0
    hidden = counts.get("hidden") or 0
    hidden_opened = counts.get("hidden_opened") or 0
    tracked = visible + hidden
    result = {"value": None, "low": None, "high": None, "method": METHOD}
    if tracked <= 0:
        return result
    unseen = hidden - hidden_opened
    known = visible_opened + hidden_opened
    if visible <= 0:
        result["low"] = round(known / tracked, 4)
        result["high"] = round((known + unseen) / tracked, 4)
        return result
    p = visible_opened / visible
    k = clicked / visible_opened if visible_opened else 0.0
    # The hidden recipients' own spread adds to the uncertainty of p: var = p(1-p)(1/n + 1/m).
    effective = 1 / (1 / visible + 1 / unseen) if unseen else visible
    low_p, high_p = wilson_interval(p * effective, effective)

    def rate(open_rate: float) -> float:
        return (known + unseen * _hidden_opened(open_rate, k)) / tracked

    result["value"] = round(rate(p), 4)
    result["low"] = round(rate(low_p), 4)
    result["high"] = round(rate(high_p), 4)
    return result
