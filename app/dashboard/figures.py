"""Turn a campaign's numbers into what its page shows: headline cards, breakdown bars."""

from app.core.estimate import ESTIMATE_DEFINITION
from app.core.stats import RATE_DEFINITIONS

STATE_DEFINITIONS = {
    "sent": "Messages registered through the inject API; untracked ones (tracking off or "
    "opted out) are in no rate.",
    "opened": "Messages a person is known to have opened (any human open).",
    "unknown": "Messages whose only fetches hide whether a person opened them "
    "(Apple Mail Privacy Protection).",
    "not_opened": "The rest, including messages only scanners, prefetchers or bots fetched.",
}
DIMENSIONS = (
    ("client", "Mail client"),
    ("os", "Operating system"),
    ("device", "Device type"),
    ("country", "Country"),
    ("source", "Verdict source"),
)
TOP_VALUES = 8


def headline(campaign: dict, estimate: dict | None = None) -> list[dict]:
    """Return the campaign's headline numbers, each with its counts and a definition.

    With an ``estimate`` (``core.estimate.estimated_open_rate``), the estimated open rate
    follows the three rates, as a rate with its interval, never as a count.
    """
    sent = campaign["sent"]
    untracked = campaign.get("untracked") or 0
    detail = f"messages, {untracked:,} untracked" if untracked else "messages"
    tracked = campaign.get("tracked", sent)
    of = "tracked" if untracked else "sent"
    cards = [{"name": "Sent", "value": f"{sent:,}", "detail": detail, "key": "sent"}]
    for key, name in (("opened", "Opened"), ("unknown", "Unknown"), ("not_opened", "Not opened")):
        share = f"{campaign[key] / tracked:.1%} of {of}" if tracked else "of none sent"
        cards.append({"name": name, "value": f"{campaign[key]:,}", "detail": share, "key": key})
    for key, name in (
        ("human_open_rate", "Human open rate"),
        ("open_rate", "Raw open rate"),
        ("visible_open_rate", "Visible open rate"),
    ):
        rate = campaign[key]
        counts = campaign["rates"][key]
        cards.append(
            {
                "name": name,
                "value": "–" if rate is None else f"{rate:.1%}",
                "detail": f"{counts['count']:,} of {counts['of']:,}",
                "key": key,
            }
        )
    if estimate is not None:
        cards.append(estimate_card(estimate))
    for card in cards:
        card["definition"] = (
            STATE_DEFINITIONS.get(card["key"])
            or RATE_DEFINITIONS.get(card["key"])
            or ESTIMATE_DEFINITION
        )
    return cards


def estimate_card(estimate: dict) -> dict:
    """Return the estimated open rate's card: the rate and its 95% interval."""
    if estimate["low"] is None:
        detail = "nothing tracked yet"
    else:
        detail = f"95% interval {estimate['low']:.1%} to {estimate['high']:.1%}"
    value = "–" if estimate["value"] is None else f"{estimate['value']:.1%}"
    return {
        "name": "Estimated open rate",
        "value": value,
        "detail": detail,
        "key": "estimated_open_rate",
    }


def breakdown_bars(items: list[dict]) -> list[dict]:
    """Return the top values of one breakdown as bars, the rest summed into 'other'."""
    bars = [
        {"value": item["value"], "count": item["opens"], "share": item["share"]}
        for item in items[:TOP_VALUES]
    ]
    rest = items[TOP_VALUES:]
    if rest:
        share = sum(item["share"] or 0 for item in rest)
        bars.append(
            {
                "value": f"{len(rest)} others",
                "count": sum(item["opens"] for item in rest),
                "share": round(share, 4),
            }
        )
    return bars
