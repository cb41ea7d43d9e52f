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
# What each verdict source is, as senders read it (the codes are rules.classify's).
SOURCE_NAMES = {
    "direct": "Mail client, directly",
    "apple_mpp": "Apple Mail Privacy Protection",
    "gmail_proxy": "Gmail image proxy",
    "gmail_prefetch": "Gmail prefetch",
    "yahoo_proxy": "Yahoo/AOL Mail image proxy",
    "fastmail_proxy": "Fastmail image proxy",
    "hey_proxy": "HEY image proxy",
    "outlook_proxy": "Outlook on the web proxy",
    "prefetch": "Prefetch (HEAD or announced)",
    "scanner": "Security scanner",
    "bot": "Bot or link preview",
    "click": "Implied by a click",
}
# Apple's proxy fetches carry the Apple Mail user agent; the all-fetches view gives them a line.
APPLE_MAIL, APPLE_PROXY = "Apple Mail", "Apple Mail Privacy Protection (proxy)"


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


def source_name(source: str | None) -> str:
    """Return a verdict source as people read it ('–' for none)."""
    if not source:
        return "–"
    return SOURCE_NAMES.get(source, source.replace("_", " "))


def breakdown_rows(parts: dict[str, list[dict]], dimension: str, fetches: bool) -> list[dict]:
    """Return one dimension's rows as {"value", "count"}, most first.

    By default each unique human opener counts once, under the value of their first human
    open; ``fetches`` counts every fetch instead, with Apple's privacy proxy on its own line of
    the client breakdown (its fetches carry Apple Mail's user agent but say nothing of a person).
    """
    items = parts.get(dimension, [])
    if not fetches:
        rows = [{"value": item["value"], "count": item["openers"]} for item in items]
    else:
        rows = [{"value": item["value"], "count": item["opens"]} for item in items]
        if dimension == "client":
            proxied = sum(
                item["opens"] for item in parts.get("source", []) if item["value"] == "apple_mpp"
            )
            for row in rows:
                if row["value"] == APPLE_MAIL and proxied:
                    row["count"] -= min(proxied, row["count"])
                    rows.append({"value": APPLE_PROXY, "count": proxied})
                    break
    if dimension == "source":
        rows = [{**row, "value": source_name(row["value"])} for row in rows]
    rows = [row for row in rows if row["count"] > 0]
    return sorted(rows, key=lambda row: (-row["count"], str(row["value"])))


def breakdown_bars(rows: list[dict]) -> list[dict]:
    """Return the top rows of one breakdown as bars with shares, the rest summed into 'others'."""
    total = sum(row["count"] for row in rows)
    bars = [dict(row) for row in rows[:TOP_VALUES]]
    rest = rows[TOP_VALUES:]
    if rest:
        bars.append({"value": f"{len(rest)} others", "count": sum(r["count"] for r in rest)})
    for bar in bars:
        bar["share"] = bar["count"] / total if total else None
    return bars
