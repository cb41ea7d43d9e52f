"""Turn a campaign's numbers into what its page shows: headline cards, breakdown bars."""

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


def headline(campaign: dict) -> list[dict]:
    """Return the campaign's headline numbers, each with its counts and a definition."""
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
    for card in cards:
        card["definition"] = STATE_DEFINITIONS.get(card["key"]) or RATE_DEFINITIONS[card["key"]]
    return cards


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
