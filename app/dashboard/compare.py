"""Campaigns side by side: two to five chosen on the list, and the trend of the human open rate."""

from flask import abort, render_template, request

from app.core.stats import campaign_summary
from app.dashboard import svg
from app.dashboard.base import bp
from app.services import store

MIN_COMPARED, MAX_COMPARED = 2, 5
TREND_CAMPAIGNS = 12
# The rows of the comparison: (key in campaign_summary, label, kind).
ROWS = (
    ("sent", "Sent", "count"),
    ("tracked", "Tracked", "count"),
    ("opened", "Opened", "count"),
    ("unknown", "Unknown", "count"),
    ("not_opened", "Not opened", "count"),
    ("human_open_rate", "Human open rate", "rate"),
    ("visible_open_rate", "Visible open rate", "rate"),
    ("open_rate", "Raw open rate", "rate"),
    ("clickers", "Clickers", "count"),
    ("click_rate", "Click rate", "rate"),
    ("click_to_open_rate", "Click-to-open rate", "rate"),
)


@bp.get("/compare")
def compare():
    """Show two to five campaigns' numbers side by side (?id=a&id=b...)."""
    ids = list(dict.fromkeys(request.args.getlist("id")))
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        abort(400, f"Choose {MIN_COMPARED} to {MAX_COMPARED} campaigns to compare.")
    campaigns = []
    for campaign_id in ids:
        row = store().get_campaign(campaign_id)
        if row is None:
            abort(404, f"There is no campaign with id '{campaign_id}'.")
        campaigns.append(campaign_summary(row))
    return render_template("dashboard/compare.html", campaigns=campaigns, rows=ROWS)


def open_rate_trend() -> tuple:
    """Return the chart and points of the human open rate of the latest sent campaigns."""
    rows = store().list_campaigns(TREND_CAMPAIGNS, 0, sort="sent_on")
    points = [
        {"label": row["id"], "rate": summary["human_open_rate"], "sent": row["first_injected_at"]}
        for row in reversed(rows)
        if row["first_injected_at"]
        for summary in [campaign_summary(row)]
    ]
    return svg.rate_columns(points, "Human open rate of the latest campaigns, oldest first"), points
