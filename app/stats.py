"""Turn stored counters into the numbers senders read; pure, no app or database needed."""

STATES = ("opened", "unknown", "not_opened")

RATE_DEFINITIONS = {
    "open_rate": "Recipients with any pixel fetch, human or machine, divided by messages sent "
    "(what naive trackers show).",
    "human_open_rate": "Recipients a person is known to have opened, divided by messages sent.",
    "visible_open_rate": "Recipients a person is known to have opened, divided by messages sent "
    "minus those whose opens are hidden (Apple Mail Privacy Protection).",
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
    """Return the headline numbers and rates of a campaign from its stored counters."""
    sent = counters["sent"]
    opened = counters["opened"]
    unknown = counters["unknown"]
    fetched = counters["fetched"]
    return {
        "sent": sent,
        "opened": opened,
        "unknown": unknown,
        "not_opened": sent - opened - unknown,
        "fetched": fetched,
        "total_opens": counters["total_opens"],
        "human_opens": counters["human_opens"],
        "machine_opens": counters["machine_opens"],
        "open_rate": ratio(fetched, sent),
        "human_open_rate": ratio(opened, sent),
        "visible_open_rate": ratio(opened, sent - unknown),
        "rates": {
            "open_rate": {"count": fetched, "of": sent},
            "human_open_rate": {"count": opened, "of": sent},
            "visible_open_rate": {"count": opened, "of": sent - unknown},
        },
        "first_open_at": counters["first_open_at"],
        "last_open_at": counters["last_open_at"],
    }
