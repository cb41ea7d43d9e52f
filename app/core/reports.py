"""What a campaign's stats add beyond its own numbers: per-link clicks and follow-up reach."""

from app.core.stats import ratio


def extra_stats(store, campaign: dict) -> dict:
    """Return a campaign's per-link click counts, its follow-ups, and, for a follow-up, the
    reach of its parent and itself combined."""
    extras = {
        "links": store.link_counts(campaign["id"]),
        "follow_ups": store.follow_up_ids(campaign["id"]),
    }
    follow_up = store.get_follow_up(campaign["id"])
    if follow_up is not None:
        extras["follow_up"] = follow_up_reach(store, follow_up)
    return extras


def follow_up_reach(store, follow_up: dict) -> dict:
    """Return how a follow-up picked its recipients, and the parent's and combined reach."""
    parent = store.get_campaign(follow_up["parent_id"])
    reached = store.combined_opened(follow_up["parent_id"], follow_up["campaign_id"])
    recipients = parent["tracked"] if parent else 0
    return {
        **follow_up,
        "parent": parent,
        "combined": {
            "recipients": recipients,
            "opened": reached,
            "human_open_rate": ratio(reached, recipients),
            "rates": {"human_open_rate": {"count": reached, "of": recipients}},
            "definition": "Recipients of the parent a person is known to have opened the parent "
            "or this follow-up for, divided by the parent's tracked messages.",
        },
    }
