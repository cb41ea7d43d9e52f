"""A recipient's engagement across campaigns, and the tier it puts them in; pure.

Only people count: an open through Apple's proxy says nothing (it fetches at delivery), so a
recipient whose every open came that way is ``mpp_only`` and judged by their clicks alone.
"""

from typing import TYPE_CHECKING

from app.core.times import from_iso, to_iso

if TYPE_CHECKING:
    from app.store import Store

# The rules of the tiers (docs/judging.md#engagement-tiers).
ACTIVE_DAYS = 30
ACTIVE_RECENT_MESSAGES = 3
LAPSING_DAYS = 90
MIN_MESSAGES = 3
TIERS = ("active", "lapsing", "inactive", "unknown")
DELIVERED = ("delivered", "complained")
UNREACHABLE = ("bounced", "complained")


def engaged(message: dict) -> bool:
    """Return whether a person opened or clicked a message."""
    return message["state"] == "opened" or message["human_clicks"] > 0


def recipient_engagement(messages: list[dict], activity: dict, now: float) -> dict:
    """Return a recipient's engagement from their messages (oldest first) and last activity.

    The definition the counters follow (``counted_engagement`` reads them); tests check both
    agree.
    """
    tracked = [m for m in messages if m["tracked"]]
    reachable = [m for m in tracked if m["delivery_status"] not in UNREACHABLE]
    human_opens = sum(m["human_opens"] for m in tracked)
    human_clicks = sum(m["human_clicks"] for m in tracked)
    seen_opens = [m for m in tracked if m["state"] == "opened" and m["human_clicks"] == 0]
    mpp_only = any(m["mpp_opens"] for m in tracked) and not seen_opens
    last = max(
        filter(None, [activity["last_human_open_at"], activity["last_human_click_at"]]),
        default=None,
    )
    recent = reachable[-ACTIVE_RECENT_MESSAGES:]
    tier, reason = engagement_tier(len(reachable), recent, last, mpp_only, now)
    return {
        "campaigns_received": len({m["campaign_id"] for m in messages}),
        "campaigns_delivered": len(
            {m["campaign_id"] for m in messages if m["delivery_status"] in DELIVERED}
        ),
        "campaigns_tracked": len({m["campaign_id"] for m in tracked}),
        "bounced": sum(m["delivery_status"] == "bounced" for m in messages),
        "complained": sum(m["delivery_status"] == "complained" for m in messages),
        "human_opens": human_opens,
        "human_clicks": human_clicks,
        "last_human_open_at": activity["last_human_open_at"],
        "last_human_click_at": activity["last_human_click_at"],
        "mpp_only": mpp_only,
        "tier": tier,
        "tier_reason": reason,
    }


def counted_engagement(row: dict, recent: list[dict], now: float) -> dict:
    """Return a recipient's engagement from their counters (store.engagement_counters) and
    their last ACTIVE_RECENT_MESSAGES tracked messages that reached them, oldest first: the
    same as ``recipient_engagement`` gives from all their messages."""
    mpp_only = row["mpp_messages"] > 0 and row["seen_messages"] == 0
    last = max(filter(None, [row["last_human_open_at"], row["last_human_click_at"]]), default=None)
    tier, reason = engagement_tier(row["tier_messages"], recent, last, mpp_only, now)
    numbers = {
        name: int(row[name])
        for name in (
            "received",
            "delivered",
            "tracked",
            "bounced",
            "complained",
            "human_opens",
            "human_clicks",
        )
    }
    return {
        "campaigns_received": numbers["received"],
        "campaigns_delivered": numbers["delivered"],
        "campaigns_tracked": numbers["tracked"],
        "bounced": numbers["bounced"],
        "complained": numbers["complained"],
        "human_opens": numbers["human_opens"],
        "human_clicks": numbers["human_clicks"],
        "last_human_open_at": row["last_human_open_at"],
        "last_human_click_at": row["last_human_click_at"],
        "mpp_only": mpp_only,
        "tier": tier,
        "tier_reason": reason,
    }


def engagement_tier(
    reachable: int, recent: list[dict], last: str | None, mpp_only: bool, now: float
):
    """Return (tier, reason) from how many tracked messages reached a recipient, the last
    ACTIVE_RECENT_MESSAGES of them (oldest first) and their last human open or click."""
    if not reachable:
        return "unknown", "no tracked message that reached them"
    days = (now - from_iso(last)) / 86400 if last else None
    if days is not None and days <= ACTIVE_DAYS:
        return "active", f"a human open or click {int(days)} days ago"
    if any(engaged(m) for m in recent):
        return "active", f"a human open or click in their last {len(recent)} messages"
    if days is not None and days <= LAPSING_DAYS:
        return "lapsing", f"last human open or click {int(days)} days ago"
    if last is None and mpp_only:
        return "unknown", "every open came through Apple's proxy and they never clicked"
    if last is None and reachable < MIN_MESSAGES:
        return "unknown", f"fewer than {MIN_MESSAGES} tracked messages and no human activity"
    if last is None:
        return "inactive", f"no human open or click in {reachable} tracked messages"
    return "inactive", f"last human open or click {int(days)} days ago"


SEGMENT_COLUMNS = ("recipient", "messages", "last_sent_at", "mpp_opens", "human_clicks")


def inactive_segment(
    store: "Store", campaigns: int | None, days: float | None, mpp_only: bool, now: float
):
    """Return (head, rows) of the inactive segment: its selection and its recipients, streamed.

    ``campaigns`` picks the messages of the N campaigns most recently sent, ``days`` those
    injected in the last D days (both: both rules); with neither, every campaign.
    """
    latest = store.latest_campaign_ids(campaigns) if campaigns else None
    campaign_ids = latest
    since = to_iso(now - days * 86400) if days is not None else None
    if since is not None:
        recent = store.campaigns_sent_since(since)
        campaign_ids = recent if campaign_ids is None else [c for c in campaign_ids if c in recent]
    head = {
        "segment": "mpp_only" if mpp_only else "inactive",
        "campaigns": campaign_ids,
        "since": since,
        "columns": list(SEGMENT_COLUMNS),
    }
    return head, store.iter_inactive(latest, since, mpp_only)


def engagement_of(store: "Store", recipient: str, now: float) -> dict | None:
    """Return a recipient's engagement read from the counters, or None when nobody sent to them."""
    row = store.engagement_row(recipient)
    if row is None or not row["received"]:
        return None
    return counted_engagement(row, store.recent_messages(recipient, ACTIVE_RECENT_MESSAGES), now)
