"""The campaign page's revenue card and conversions per link (dashboard/conversions.html)."""

from app.core.conversions import conversion_report
from app.dashboard.base import bp
from app.services import store


@bp.app_template_global()
def campaign_conversions(campaign: dict) -> dict:
    """Return a campaign's conversion numbers, for its page's revenue card."""
    return conversion_report(store(), campaign, campaign)
