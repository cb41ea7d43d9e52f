"""Follow-up rules on a campaign's page: the rules, adding one with a preview, cancelling one.

The campaign page includes ``dashboard/automations_card.html``, which reads what it shows
through the ``campaign_automations`` template global, so the page's own view is unchanged.
"""

import time

from flask import abort, current_app, g, redirect, request, url_for

from app.core import automations as rules
from app.core.fields import FieldError
from app.dashboard.base import base_url, bp
from app.dashboard.campaigns import find_campaign
from app.services import store
from app.store import FollowUpExists


@bp.app_template_global()
def campaign_automations(campaign: dict) -> dict:
    """Return a campaign's rules (fired ones with download links) and each audience's preview."""
    now = time.time()
    links = rules.list_links({**current_app.config, "BASE_URL": base_url()})
    found = [rules.describe(rule, now, links) for rule in store().list_automations(campaign["id"])]
    previews = rules.quick_previews(store(), campaign, now)
    audiences = [
        {
            "name": name,
            "description": audience.description,
            "refused": rules.refusal(campaign, name),
            "recipients_now": previews[name],
        }
        for name, audience in rules.AUDIENCES.items()
    ]
    return {
        "rules": found,
        "audiences": audiences,
        "refused": rules.refusal(campaign, "not_opened"),
        "min_hours": rules.MIN_AFTER_HOURS,
        "max_hours": rules.MAX_AFTER_HOURS,
    }


def _number(raw: str | None, field: str) -> float:
    try:
        return float((raw or "").strip())
    except ValueError:
        raise FieldError(field, "must be a number") from None


@bp.post("/campaigns/<campaign_id>/automations")
def create_automation(campaign_id: str):
    """Schedule a follow-up rule from the campaign page's form, then show the page again."""
    campaign = find_campaign(campaign_id)
    form = request.form
    try:
        wanted = rules.parse_rule(
            {
                "audience": form.get("audience", ""),
                "after_hours": _number(form.get("after_hours"), "after_hours"),
                "follow_up": {
                    "id": form.get("follow_up_id", "").strip(),
                    "name": form.get("follow_up_name", "").strip() or None,
                },
                "notify": form.get("notify") == "on",
            }
        )
    except FieldError as error:
        abort(400, str(error))
    reason = rules.refusal(campaign, wanted.audience)
    if reason:
        abort(422, reason)
    try:
        store().create_automation(
            campaign_id,
            wanted.audience,
            wanted.after_hours,
            wanted.follow_up_id,
            wanted.follow_up_name,
            wanted.notify,
            base_url(),
            f"dashboard:{g.user['email']}",
        )
    except FollowUpExists:
        abort(400, f"The follow-up id '{wanted.follow_up_id}' is taken by a campaign or a rule.")
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id) + "#automations")


@bp.post("/campaigns/<campaign_id>/automations/<automation_id>/cancel")
def cancel_automation(campaign_id: str, automation_id: str):
    """Cancel a rule that has not fired, then show the campaign page again."""
    find_campaign(campaign_id)
    state = store().cancel_automation(campaign_id, automation_id)
    if state is None:
        abort(404, f"There is no rule '{automation_id}' on this campaign.")
    if state != "cancelled":
        abort(409, f"The rule is {state}: it cannot be cancelled.")
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id) + "#automations")
