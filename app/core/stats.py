"""Turn stored counters into the numbers senders read; pure, no app or database needed."""

STATES = ("opened", "unknown", "not_opened", "untracked")

RATE_DEFINITIONS = {
    "open_rate": "Recipients with any pixel fetch, human or machine, divided by tracked messages "
    "sent (what naive trackers show).",
    "human_open_rate": "Recipients a person is known to have opened, divided by tracked messages "
    "sent.",
    "visible_open_rate": "Recipients a person is known to have opened, divided by tracked messages "
    "sent minus those whose opens are hidden (Apple Mail Privacy Protection).",
}


def message_state(human_opens: int, mpp_opens: int) -> str:
    """Return a message's state from its human and Apple MPP open counts."""
    if human_opens > 0:
        return "opened"
    if mpp_opens > 0:
        return "unknown"
    return "not_opened"


def ratio(numerator: int, denominator: int) -> float | None:
    """Return numerator / denominator rounded to 4 places, or None when nothing was sent."""
    if denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def campaign_numbers(counters: dict) -> dict:
    """Return the headline numbers and rates of a campaign from its stored counters.

    Untracked messages (tracking switched off, or the recipient opted out) are in ``sent`` but
    in no rate: whether they were opened cannot be known.
    """
    untracked = counters.get("untracked") or 0
    tracked = counters["sent"] - untracked
    opened = counters["opened"]
    unknown = counters["unknown"]
    fetched = counters["fetched"]
    return {
        "sent": counters["sent"],
        "tracked": tracked,
        "untracked": untracked,
        "opened": opened,
        "unknown": unknown,
        "not_opened": tracked - opened - unknown,
        "fetched": fetched,
        "total_opens": counters["total_opens"],
        "human_opens": counters["human_opens"],
        "machine_opens": counters["machine_opens"],
        "open_rate": ratio(fetched, tracked),
        "human_open_rate": ratio(opened, tracked),
        "visible_open_rate": ratio(opened, tracked - unknown),
        "rates": {
            "open_rate": {"count": fetched, "of": tracked},
            "human_open_rate": {"count": opened, "of": tracked},
            "visible_open_rate": {"count": opened, "of": tracked - unknown},
        },
        "first_open_at": counters["first_open_at"],
        "last_open_at": counters["last_open_at"],
    }
