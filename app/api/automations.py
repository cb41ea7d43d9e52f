"""The follow-up rules API: rules on a campaign that fire by themselves, and their lists.

``/api/v1/campaigns/<id>/automations`` schedules, lists and cancels rules. A fired rule's list
is downloaded from ``/follow-up-lists/<token>.csv`` (or ``.json``): a signed address that
works without an API key until it expires (410 after), so a sender's system can fetch it
straight from the ``follow_up_ready`` webhook.
"""

import time

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context

from app.api.base import bp, find_campaign, json_body, not_found
from app.api.errors import ApiError, error_response
from app.core import automations as rules
from app.core import export
from app.core.fields import FieldError
from app.services import store
from app.store import FollowUpExists

# The list download: public (no API key), outside /api/v1, answered in JSON errors too.
lists = Blueprint("follow_up_lists", __name__)


def _links() -> rules.ListLinks:
    return rules.list_links(current_app.config)


def find_rule(campaign_id: str, automation_id: str) -> dict:
    """Return a campaign's rule or raise a 404 naming it."""
    find_campaign(campaign_id)
    rule = store().get_automation(automation_id)
    if rule is None or rule["campaign_id"] != campaign_id:
        raise not_found("automation", automation_id)
    return rule


@bp.post("/campaigns/<campaign_id>/automations")
def create_automation(campaign_id: str):
    """Schedule a follow-up rule on this campaign; 201 with the rule and who it would take now."""
    campaign = find_campaign(campaign_id)
    wanted = rules.parse_rule(json_body())
    reason = rules.refusal(campaign, wanted.audience)
    if reason:
        raise ApiError(422, "not_tracked", reason)
    try:
        rule = store().create_automation(
            campaign_id,
            wanted.audience,
            wanted.after_hours,
            wanted.follow_up_id,
            wanted.follow_up_name,
            wanted.notify,
            (current_app.config["BASE_URL"] or request.host_url).rstrip("/"),
            f"api:{g.api_key_name}",
        )
    except FollowUpExists:
        raise FieldError(
            "follow_up.id",
            f"is taken: a campaign or another rule already has the id '{wanted.follow_up_id}'",
        ) from None
    now = time.time()
    body = rules.describe(rule, now, _links())
    body["recipients_now"] = rules.preview(store(), campaign_id, wanted.audience, now)
    return jsonify(body), 201


@bp.get("/campaigns/<campaign_id>/automations")
def list_automations(campaign_id: str):
    """List a campaign's rules, oldest first, with their state, due time and outcome."""
    find_campaign(campaign_id)
    now, links = time.time(), _links()
    found = store().list_automations(campaign_id)
    return jsonify({"automations": [rules.describe(rule, now, links) for rule in found]})


@bp.get("/campaigns/<campaign_id>/automations/<automation_id>")
def show_automation(campaign_id: str, automation_id: str):
    """Show one rule; a fired one with fresh download addresses of its list."""
    return jsonify(rules.describe(find_rule(campaign_id, automation_id), time.time(), _links()))


@bp.delete("/campaigns/<campaign_id>/automations/<automation_id>")
def cancel_automation(campaign_id: str, automation_id: str):
    """Cancel a rule that has not fired: 204; 409 when it fired already."""
    find_rule(campaign_id, automation_id)
    state = store().cancel_automation(campaign_id, automation_id)
    if state == "cancelled":
        return Response(status=204)
    raise ApiError(
        409, "conflict", f"Automation '{automation_id}' is {state}: it cannot be cancelled."
    )


@lists.get("/follow-up-lists/<token>.<export_format>")
def download_list(token: str, export_format: str):
    """Stream a fired rule's frozen list, as CSV or JSON, while its signed address is valid."""
    if export_format not in rules.FORMATS:
        return error_response(404, "not_found", "Lists come as .csv or .json.")
    try:
        automation_id, expired = rules.read_list_address(_links().serializer, token, time.time())
    except LookupError:
        return error_response(404, "not_found", "This download address is not valid.")
    if expired:
        return error_response(
            410, "expired", "This download address has expired; ask the API for a fresh one."
        )
    rule = store().get_automation(automation_id)
    if rule is None or rule["state"] != "fired":
        return error_response(404, "not_found", "This list no longer exists.")
    rows = store().iter_frozen_recipients(automation_id)
    headers = {"Cache-Control": "private, no-store"}
    if export_format == "csv":
        name = f"{rule['follow_up_id']}-recipients.csv"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(
            stream_with_context(export.csv_lines(rows)), mimetype="text/csv", headers=headers
        )
    head = {
        "automation_id": rule["id"],
        "campaign_id": rule["campaign_id"],
        "follow_up": {"id": rule["follow_up_id"], "name": rule["follow_up_name"]},
        "audience": rule["audience"],
        "fired_at": rule["fired_at"],
    }
    return Response(
        stream_with_context(export.json_chunks(rows, head)),
        mimetype="application/json",
        headers=headers,
    )
