"""Turn stored counters into the numbers senders read, each rate with its counts; pure."""

STATES = ("opened", "unknown", "not_opened", "untracked")

RATE_DEFINITIONS = {
    "open_rate": "Recipients with any pixel fetch, human or machine, divided by tracked messages "
    "sent (what naive trackers show).",
    "human_open_rate": "Recipients a person is known to have opened, divided by tracked messages "
    "sent.",
    "visible_open_rate": "Recipients a person is known to have opened, divided by tracked messages "
    "sent minus those whose opens are hidden (Apple Mail Privacy Protection).",
}

CLICK_RATE_DEFINITIONS = {
    "click_rate": "Recipients a person is known to have clicked through, divided by tracked "
    "messages sent.",
    "click_to_open_rate": "Recipients a person is known to have clicked through, divided by "
    "recipients a person is known to have opened (a click counts as an open).",
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


def with_clicks(numbers: dict, counters: dict) -> dict:
    """Return a campaign's numbers with its click numbers and rates (each with its counts)."""
    clickers = counters.get("clickers") or 0
    tracked, opened = numbers.get("tracked", numbers["sent"]), numbers["opened"]
    return {
        **numbers,
        "clicks": counters.get("clicks") or 0,
        "human_clicks": counters.get("human_clicks") or 0,
        "machine_clicks": counters.get("machine_clicks") or 0,
        "clickers": clickers,
        "click_rate": ratio(clickers, tracked),
        "click_to_open_rate": ratio(clickers, opened),
        "rates": {
            **numbers["rates"],
            "click_rate": {"count": clickers, "of": tracked},
            "click_to_open_rate": {"count": clickers, "of": opened},
        },
    }


def campaign_summary(campaign: dict) -> dict:
    """Return a stored campaign (its row with counters) as senders read it: numbers and rates."""
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "created_at": campaign["created_at"],
        "first_injected_at": campaign["first_injected_at"],
        "track": campaign["track"],
        "track_clicks": campaign["track_clicks"],
        "archived_at": campaign.get("archived_at"),
        "sent_at": campaign.get("sent_at"),
        "last_injected_at": campaign.get("last_injected_at"),
        "sender_name": campaign.get("sender_name"),
        **attribution_settings(campaign),
        **with_clicks(campaign_numbers(campaign), campaign),
        **delivery_counts(campaign),
    }


DELIVERY_DEFINITIONS = {
    "delivered": "Messages the sender's ESP reported delivered, or complained of (a complaint "
    "proves delivery).",
    "bounced": "Messages the ESP reported bounced, hard (permanent) or soft (temporary, not "
    "delivered later).",
    "complained": "Messages whose recipient reported them as spam.",
    "rates_by_base": "Each rate over tracked messages and over tracked messages known delivered, "
    "with its count and the number of messages it is of.",
}


def delivery_counts(counters: dict) -> dict:
    """Return a campaign's delivery numbers from its counters (every message, tracked or not)."""
    soft, hard = counters.get("soft_bounced") or 0, counters.get("hard_bounced") or 0
    complained = counters.get("complained") or 0
    return {
        "delivered": (counters.get("delivered") or 0) + complained,
        "deferred": counters.get("deferred") or 0,
        "bounced": soft + hard,
        "hard_bounced": hard,
        "soft_bounced": soft,
        "complained": complained,
        "unsubscribed": counters.get("unsubscribed") or 0,
    }


def rates_over(base: str, counts: dict) -> dict:
    """Return every rate over one base of messages, each with its count and what it is of.

    ``counts`` holds ``messages`` (the base), ``opened``, ``unknown``, ``fetched`` and
    ``clickers`` among those messages.
    """
    messages, opened = counts["messages"], counts["opened"]
    visible = messages - counts["unknown"]

    def rate(count: int, of: int, of_what: str) -> dict:
        return {"rate": ratio(count, of), "count": count, "messages": of, "of": of_what}

    return {
        "open_rate": rate(counts["fetched"], messages, base),
        "human_open_rate": rate(opened, messages, base),
        "visible_open_rate": rate(opened, visible, f"{base} without hidden opens"),
        "click_rate": rate(counts["clickers"], messages, base),
        "click_to_open_rate": rate(counts["clickers"], opened, f"{base} and opened"),
    }


def rates_by_base(summary: dict, delivered: dict) -> dict:
    """Return every rate over tracked messages and over tracked messages known delivered."""
    tracked = {
        "messages": summary["tracked"],
        "opened": summary["opened"],
        "unknown": summary["unknown"],
        "fetched": summary["fetched"],
        "clickers": summary["clickers"],
    }
    return {
        "tracked": rates_over("tracked", tracked),
        "delivered": rates_over("delivered", {**delivered, "messages": delivered["delivered"]}),
    }


def with_shares(counts: list[dict], dimensions: tuple[str, ...]) -> dict[str, list[dict]]:
    """Return breakdown rows by dimension, each with its share of opens and of openers.

    An opener counts under the client (OS, ...) of their first human open; shares are of all
    opens and of all openers of the campaign.
    """
    result: dict[str, list[dict]] = {dimension: [] for dimension in dimensions}
    for row in counts:
        result[row["dimension"]].append(dict(row))
    for items in result.values():
        opens = sum(item["opens"] for item in items)
        openers = sum(item["openers"] for item in items)
        for item in items:
            item["share"] = round(item["opens"] / opens, 4) if opens else None
            item["openers_share"] = round(item["openers"] / openers, 4) if openers else None
    return result


def attribution_settings(campaign: dict) -> dict:
    """Return a stored campaign's attribution switches, window and cost."""
    return {
        "attribution": bool(campaign.get("attribution")),
        "attribution_window_days": float(campaign.get("attribution_window_days") or 7.0),
        "view_through": bool(campaign.get("view_through")),
        "cost": campaign.get("cost"),
        "cost_currency": campaign.get("cost_currency"),
    }
