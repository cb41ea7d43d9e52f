"""A campaign's report as the API and the dashboard show it: numbers, hours, breakdowns, links
and follow-ups, each rate with its counts."""

from typing import TYPE_CHECKING

from app.core.conversions import CONVERSION_DEFINITIONS, conversion_report
from app.core.counters import DIMENSIONS
from app.core.estimate import ESTIMATE_DEFINITION, estimated_open_rate, open_strata
from app.core.stats import (
    CLICK_RATE_DEFINITIONS,
    DELIVERY_DEFINITIONS,
    RATE_DEFINITIONS,
    campaign_summary,
    rates_by_base,
    ratio,
    with_shares,
)
from app.core.times import from_iso, hour_of

if TYPE_CHECKING:
    from app.store import Store


def campaign_report(store: "Store", campaign: dict) -> dict:
    """Return a stored campaign's numbers, definitions, opens per hour since sending,
    breakdowns, per-link clicks and follow-ups (and, for a follow-up, its reach)."""
    hourly = store.hourly_opens(campaign["id"])
    if campaign["first_injected_at"]:
        start = from_iso(hour_of(campaign["first_injected_at"]))
        for row in hourly:
            row["hours_since_send"] = int((from_iso(row["hour"]) - start) // 3600)
    summary = campaign_summary(campaign)
    strata = open_strata(summary, store.opened_signals(campaign["id"]))
    report = {
        **summary,
        "rates_by_base": rates_by_base(summary, delivered_numbers(store, summary)),
        "estimated_open_rate": estimated_open_rate(strata),
        "definitions": {
            **RATE_DEFINITIONS,
            **CLICK_RATE_DEFINITIONS,
            **DELIVERY_DEFINITIONS,
            "estimated_open_rate": ESTIMATE_DEFINITION,
            **CONVERSION_DEFINITIONS,
        },
        "opens_per_hour": hourly,
        "breakdowns": breakdowns(store, campaign["id"]),
        "links": store.link_counts(campaign["id"]),
        "follow_ups": store.follow_up_ids(campaign["id"]),
    }
    report["conversions"] = conversion_report(store, campaign, report)
    follow_up = store.get_follow_up(campaign["id"])
    if follow_up is not None:
        report["follow_up"] = follow_up_reach(store, follow_up)
    return report


def delivered_numbers(store: "Store", summary: dict) -> dict:
    """Return counts among a campaign's tracked delivered messages (no query if none)."""
    if not summary["delivered"]:
        return dict.fromkeys(("delivered", "opened", "unknown", "fetched", "clickers"), 0)
    return store.delivered_numbers(summary["id"])


def breakdowns(store: "Store", campaign_id: str) -> dict[str, list[dict]]:
    """Return a campaign's opens and openers by client, OS, device, country and source."""
    return with_shares(store.breakdown_counts(campaign_id), DIMENSIONS)


def follow_up_reach(store: "Store", follow_up: dict) -> dict:
    """Return how a follow-up picked its recipients, and the parent's and combined reach."""
    parent = store.get_campaign(follow_up["parent_id"])
    reached = store.combined_opened(follow_up["parent_id"], follow_up["campaign_id"])
    recipients = campaign_summary(parent)["tracked"] if parent else 0
    return {
        **follow_up,
        "parent": campaign_summary(parent) if parent else None,
        "combined": {
            "recipients": recipients,
            "opened": reached,
            "human_open_rate": ratio(reached, recipients),
            "rates": {"human_open_rate": {"count": reached, "of": recipients}},
            "definition": "Recipients of the parent a person is known to have opened the parent "
            "or this follow-up for, divided by the parent's tracked messages.",
        },
    }
