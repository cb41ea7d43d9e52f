"""The follow-up rules API: rules on a campaign that fire by themselves, and their lists.

``/api/v1/campaigns/<id>/automations`` schedules, lists and cancels rules. A fired rule's list
is downloaded from ``/follow-up-lists/<token>.csv`` (or ``.json``): a signed address that
works without an API key until it expires (410 after), so a sender's system can fetch it
straight from the ``follow_up_ready`` webhook.
"""

import time
from typing import ClassVar

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context
from pydantic import Field

from app.api.base import bp, find_campaign, not_found
from app.api.errors import ApiError, error_response
from app.api.schemas import Answer, Body, Name, Slug, Switch, contract, rule
from app.core import automations as rules
from app.core import export
from app.core.fields import FieldError
from app.services import store
from app.store import FollowUpExists

# The list download: public (no API key), outside /api/v1, answered in JSON errors too.
lists = Blueprint("follow_up_lists", __name__)


def _links() -> rules.ListLinks:
    return rules.list_links(current_app.config)


AudienceName = rule(
    lambda v: rules.audience(v, ""), {"type": "string", "enum": list(rules.AUDIENCES)}
)
AfterHours = rule(
    lambda v: rules.after_hours(v, ""),
    {"type": "number", "minimum": rules.MIN_AFTER_HOURS, "maximum": rules.MAX_AFTER_HOURS},
)


class FollowUpTarget(Body):
    """The follow-up campaign a rule creates when it fires."""

    noun: ClassVar[str] = "a follow-up"
    id: Slug
    name: Name | None = None


class NewRule(Body):
    """A follow-up rule: who (audience), how long after sending, and the campaign it makes."""

    noun: ClassVar[str] = "a rule"
    after_hours: AfterHours
    audience: AudienceName = "not_opened"
    follow_up: FollowUpTarget
    notify: Switch = None


class FollowUpName(Answer):
    id: str
    name: str


class ListDownload(Answer):
    """Signed addresses of a fired rule's list, valid without an API key until expires_at."""

    csv: str
    json_: str = Field(alias="json")
    expires_at: str


class Rule(Answer):
    """A follow-up rule: its state, when it is (or was) due, and what it did."""

    id: str
    campaign_id: str
    audience: str
    after_hours: float
    counts_from: str
    follow_up: FollowUpName
    notify: bool
    state: str
    created_at: str
    due_at: str | None
    fired_at: str | None
    late_seconds: float | None
    recipients: int | None
    cancelled_at: str | None
    error: str | None
    download: ListDownload | None = None


class NewRuleAnswer(Rule):
    recipients_now: int = Field(description="recipients the rule would take if it fired now")


class RuleList(Answer):
    automations: list[Rule]


def find_rule(campaign_id: str, automation_id: str) -> dict:
    """Return a campaign's rule or raise a 404 naming it."""
    find_campaign(campaign_id)
    rule = store().get_automation(automation_id)
    if rule is None or rule["campaign_id"] != campaign_id:
        raise not_found("automation", automation_id)
    return rule


@bp.post("/campaigns/<campaign_id>/automations")
@contract(
    body=NewRule,
    responses={201: NewRuleAnswer},
    errors=(404, 422),
    links={
        201: {
            "show_automation": {
                "campaign_id": "$response.body#/campaign_id",
                "automation_id": "$response.body#/id",
            },
            "cancel_automation": {
                "campaign_id": "$response.body#/campaign_id",
                "automation_id": "$response.body#/id",
            },
        }
    },
)
def create_automation(campaign_id: str, body: NewRule):
    """Schedule a follow-up rule on this campaign; 201 with the rule and who it would take now."""
    campaign = find_campaign(campaign_id)
    wanted = rules.RuleRequest(
        audience=body.audience,
        after_hours=body.after_hours,
        follow_up_id=body.follow_up.id,
        follow_up_name=body.follow_up.id if body.follow_up.name is None else body.follow_up.name,
        notify=True if body.notify is None else body.notify,
    )
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
    answer = rules.describe(rule, now, _links())
    answer["recipients_now"] = rules.preview(store(), campaign_id, wanted.audience, now)
    return jsonify(answer), 201


@bp.get("/campaigns/<campaign_id>/automations")
@contract(responses={200: RuleList}, errors=(404,))
def list_automations(campaign_id: str):
    """List a campaign's rules, oldest first, with their state, due time and outcome."""
    find_campaign(campaign_id)
    now, links = time.time(), _links()
    found = store().list_automations(campaign_id)
    return jsonify({"automations": [rules.describe(rule, now, links) for rule in found]})


@bp.get("/campaigns/<campaign_id>/automations/<automation_id>")
@contract(responses={200: Rule}, errors=(404,))
def show_automation(campaign_id: str, automation_id: str):
    """Show one rule; a fired one with fresh download addresses of its list."""
    return jsonify(rules.describe(find_rule(campaign_id, automation_id), time.time(), _links()))


@bp.delete("/campaigns/<campaign_id>/automations/<automation_id>")
@contract(responses={204: None}, errors=(404, 409))
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
