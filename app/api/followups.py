"""The follow-ups API: a campaign sent to another's non-openers, and its recipients."""

import time
from typing import ClassVar

from flask import Response, stream_with_context

from app.api.base import bp, find_campaign
from app.api.campaigns import Campaign, Recipient
from app.api.errors import ApiError
from app.api.schemas import (
    AgeHours,
    Answer,
    Body,
    Name,
    Query,
    Slug,
    Switch,
    choice_arg,
    contract,
)
from app.core import export
from app.core.automations import audience_filter
from app.core.stats import campaign_summary
from app.core.times import to_iso
from app.services import store
from app.store import FollowUpExists


class NewFollowUp(Body):
    """A follow-up campaign: its own id and name, and which of the parent's recipients it takes."""

    noun: ClassVar[str] = "a new follow-up"
    id: Slug
    name: Name | None = None
    include_unknown: Switch = None
    min_age_hours: AgeHours = 0.0


class FollowUpRecipients(Answer):
    """A follow-up campaign and the recipients to send it to, as they stand now."""

    campaign: Campaign
    parent_id: str
    states: list[str]
    min_age_hours: float
    injected_before: str
    recipients: list[Recipient]


class FormatQuery(Query):
    format: choice_arg("json", "csv") = "json"


def recipients_response(follow_up: dict, status: int, export_format: str = "json") -> Response:
    """Stream a follow-up's recipients as they stand now, as JSON or CSV."""
    rows = store().iter_follow_up_recipients(follow_up)
    if export_format == "csv":
        name = f"{follow_up['campaign_id']}-recipients.csv"
        return Response(
            stream_with_context(export.csv_lines(rows)),
            status=status,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    head = {
        "campaign": campaign_summary(store().get_campaign(follow_up["campaign_id"])),
        "parent_id": follow_up["parent_id"],
        # A follow-up made by a rule picks by its audience (clicks too); others by the states.
        "states": list(audience_filter(follow_up)[0]),
        "min_age_hours": follow_up["min_age_hours"],
        "injected_before": follow_up["injected_before"],
    }
    return Response(
        stream_with_context(export.json_chunks(rows, head)),
        status=status,
        mimetype="application/json",
    )


@bp.post("/campaigns/<campaign_id>/follow-ups")
@contract(
    body=NewFollowUp,
    responses={201: FollowUpRecipients},
    errors=(404, 409),
    links={201: {"follow_up_recipients": {"campaign_id": "$response.body#/campaign/id"}}},
)
def create_follow_up(campaign_id: str, body: NewFollowUp):
    """Create a follow-up campaign of this one and return the recipients to send it to."""
    parent = find_campaign(campaign_id)
    follow_up_id, min_age_hours = body.id, body.min_age_hours
    name = body.id if body.name is None else body.name
    include_unknown = bool(body.include_unknown)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    try:
        store().create_follow_up(follow_up_id, name, parent, include_unknown, min_age_hours, cutoff)
    except FollowUpExists as error:
        raise ApiError(
            409, "conflict", f"A campaign with id '{follow_up_id}' already exists."
        ) from error
    return recipients_response(store().get_follow_up(follow_up_id), 201)


@bp.get("/campaigns/<campaign_id>/follow-up-recipients")
@contract(
    query=FormatQuery,
    responses={200: {"application/json": FollowUpRecipients, "text/csv": "string"}},
    errors=(404,),
)
def follow_up_recipients(campaign_id: str, query: FormatQuery):
    """List a follow-up's recipients as they stand now (openers since are left out)."""
    find_campaign(campaign_id)
    follow_up = store().get_follow_up(campaign_id)
    if follow_up is None:
        raise ApiError(404, "not_found", f"Campaign '{campaign_id}' is not a follow-up.")
    return recipients_response(follow_up, 200, query.format)
