"""Engagement tiers by their documented rules (docs/judging.md#engagement-tiers)."""

import pytest

from app.core.engagement import recipient_engagement
from app.core.times import from_iso

NOW = from_iso("2026-12-01T12:00:00.000Z")


def message(state="not_opened", clicks=0, mpp=0, status="unknown", campaign="c"):
    return {
        "campaign_id": campaign, "tracked": True, "state": state,
        "human_opens": int(state == "opened"), "mpp_opens": mpp, "human_clicks": clicks,
        "delivery_status": status,
    }  # fmt: skip


def activity(last_open=None, last_click=None):
    return {"last_human_open_at": last_open, "last_human_click_at": last_click}


@pytest.mark.parametrize(
    ("messages", "last", "tier"),
    [
        ([message("opened")], activity("2026-11-20T08:00:00.000Z"), "active"),
        ([message("opened")] + [message()] * 2, activity("2026-06-01T08:00:00.000Z"), "active"),
        ([message("opened")] + [message()] * 3, activity("2026-09-20T08:00:00.000Z"), "lapsing"),
        ([message("opened")] + [message()] * 3, activity("2026-05-01T08:00:00.000Z"), "inactive"),
        ([message()] * 3, activity(), "inactive"),
        ([message()] * 2, activity(), "unknown"),
        ([message("unknown", mpp=1)] * 5, activity(), "unknown"),
        (
            [message("opened", clicks=1, mpp=1)],
            activity(None, "2026-11-30T08:00:00.000Z"),
            "active",
        ),
        ([message(status="bounced")] * 4, activity(), "unknown"),
    ],
)
def test_tiers(messages, last, tier):
    assert recipient_engagement(messages, last, NOW)["tier"] == tier


def test_mpp_only_means_every_open_came_through_the_proxy():
    clicked = recipient_engagement([message("opened", clicks=1, mpp=2)], activity(), NOW)
    assert clicked["mpp_only"] and clicked["human_clicks"] == 1
    seen = recipient_engagement(
        [message("opened", mpp=2), message("unknown", mpp=1)], activity(), NOW
    )
    assert not seen["mpp_only"]
