"""The campaigns API: create, list, show, update and delete campaigns, their stats and
non-openers."""

import time
from typing import Any, ClassVar

from flask import Response, g, jsonify, stream_with_context
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from app.api.base import bp, find_campaign, not_found
from app.api.conversions import (
    SETTING_FIELDS,
    ConversionNumbers,
    EstimatedOpenRate,
    attribution_settings,
)
from app.api.errors import ApiError
from app.api.schemas import (
    Answer,
    Body,
    Boolean,
    Flag,
    Moment,
    Name,
    Offset,
    Query,
    Slug,
    Switch,
    choice_arg,
    contract,
    integer_arg,
    number_arg,
)
from app.core import export, fields
from app.core.campaign_report import campaign_report
from app.core.stats import campaign_summary
from app.core.times import to_iso
from app.services import store
from app.store import CampaignExists

SENDER_NAME = "who the opt-out page says the mail is from (left out or null: the name)"


class NewCampaign(Body):
    """A campaign to create: its id (a slug the sender picks), a name, default switches and
    its attribution settings."""

    noun: ClassVar[str] = "a new campaign"
    id: Slug
    name: Name | None = None
    track: Switch = None
    track_clicks: Switch = None
    attribution: StrictBool | None = None
    attribution_window_days: StrictInt | StrictFloat | None = None
    view_through: StrictBool | None = None
    cost: StrictStr | StrictInt | StrictFloat | None = None
    cost_currency: StrictStr | None = None
    sender_name: Name | None = Field(None, description=SENDER_NAME)


class CampaignUpdate(Body):
    """The fields of a campaign to change; those left out stay as they are."""

    noun: ClassVar[str] = "a campaign update"
    name: Name = None
    track: Boolean = None
    track_clicks: Boolean = None
    archived: Boolean = None
    sent_at: Moment = None
    attribution: StrictBool | None = None
    attribution_window_days: StrictInt | StrictFloat | None = None
    view_through: StrictBool | None = None
    cost: StrictStr | StrictInt | StrictFloat | None = None
    cost_currency: StrictStr | None = None
    sender_name: Name | None = Field(None, description=SENDER_NAME + "; null clears it")


class CampaignListQuery(Query):
    limit: integer_arg(1, 1000) = 50
    offset: Offset = 0
    q: str = ""
    archived: Flag = False


class NonOpenersQuery(Query):
    format: choice_arg("json", "csv") = "json"
    min_age_hours: number_arg(0, fields.MAX_AGE_HOURS) = 0.0
    include_unknown: Flag = False


class Rate(Answer):
    count: int
    of: int


class Rates(Answer):
    open_rate: Rate
    human_open_rate: Rate
    visible_open_rate: Rate
    click_rate: Rate
    click_to_open_rate: Rate


class Campaign(Answer):
    """A campaign with its numbers; each rate is null while it has nothing to divide by."""

    id: str
    name: str
    sender_name: str | None = Field(description=SENDER_NAME)
    created_at: str
    first_injected_at: str | None
    track: bool
    track_clicks: bool
    archived_at: str | None
    sent: int
    tracked: int
    untracked: int
    opened: int
    unknown: int
    not_opened: int
    fetched: int
    total_opens: int
    human_opens: int
    machine_opens: int
    open_rate: float | None
    human_open_rate: float | None
    visible_open_rate: float | None
    rates: Rates
    first_open_at: str | None
    last_open_at: str | None
    clicks: int
    human_clicks: int
    machine_clicks: int
    clickers: int
    click_rate: float | None
    click_to_open_rate: float | None
    sent_at: str | None = Field(description="when it went out, which follow-up rules count from")
    last_injected_at: str | None
    # Attribution settings (conversions).
    attribution: bool
    attribution_window_days: float
    view_through: bool
    cost: str | None
    cost_currency: str | None
    # Delivery events the ESP reported, over every message.
    delivered: int
    deferred: int
    bounced: int
    hard_bounced: int
    soft_bounced: int
    complained: int
    unsubscribed: int


class CampaignList(Answer):
    campaigns: list[Campaign]
    total: int
    limit: int
    offset: int


class LinkNumbers(Answer):
    id: int
    url: str
    clicks: int
    human_clicks: int
    machine_clicks: int
    clickers: int


class BaseRate(Answer):
    rate: float | None
    count: int
    messages: int
    of: str


class BaseRates(Answer):
    open_rate: BaseRate
    human_open_rate: BaseRate
    visible_open_rate: BaseRate
    click_rate: BaseRate
    click_to_open_rate: BaseRate


class RatesByBase(Answer):
    tracked: BaseRates
    delivered: BaseRates


class CampaignReport(Campaign):
    """A campaign's numbers with their definitions, opens per hour, breakdowns and links."""

    rates_by_base: RatesByBase
    estimated_open_rate: EstimatedOpenRate
    conversions: ConversionNumbers
    definitions: dict[str, str]
    opens_per_hour: list[dict[str, Any]]
    breakdowns: dict[str, list[dict[str, Any]]]
    links: list[LinkNumbers]
    follow_ups: list[str] = Field(description="ids of the campaigns that follow this one up")
    follow_up: dict[str, Any] | None = Field(
        None, description="for a follow-up: how it chose its recipients, its parent, their reach"
    )


class Recipient(Answer):
    """One recipient of an export: their message, its state and how often it was opened."""

    recipient: str
    state: str
    injected_at: str
    first_open_at: str | None
    opens: int
    message_id: str
    metadata: dict[str, Any] | None


class NonOpeners(Answer):
    campaign_id: str
    states: list[str]
    min_age_hours: float
    injected_before: str
    recipients: list[Recipient]


EXPORT = {"application/json": NonOpeners, "text/csv": "string"}


@bp.post("/campaigns")
@contract(
    body=NewCampaign,
    responses={201: Campaign},
    errors=(409,),
    links={
        201: {
            view: {"campaign_id": "$response.body#/id"}
            for view in (
                "show_campaign",
                "update_campaign",
                "delete_campaign",
                "campaign_stats",
                "non_openers",
                "inject_campaign",
                "create_follow_up",
            )
        }
    },
)
def create_campaign(body: NewCampaign):
    """Create a campaign with a slug id chosen by the sender."""
    name = body.id if body.name is None else body.name
    track = True if body.track is None else body.track
    settings = attribution_settings(
        body.model_dump(include=set(SETTING_FIELDS), exclude_unset=True)
    )
    try:
        campaign = store().create_campaign(body.id, name, track=track, sender_name=body.sender_name)
    except CampaignExists as error:
        raise ApiError(
            409, "conflict", f"A campaign with id '{body.id}' already exists."
        ) from error
    if body.track_clicks:
        campaign = store().set_track_clicks(body.id, True)
    if settings:
        store().set_campaign_attribution(body.id, settings)
        campaign = store().get_campaign(body.id)
    return jsonify(campaign_summary(campaign)), 201


@bp.get("/campaigns")
@contract(query=CampaignListQuery, responses={200: CampaignList})
def list_campaigns(query: CampaignListQuery):
    """List campaigns, newest first, with their numbers."""
    rows = store().list_campaigns(
        limit=query.limit, offset=query.offset, search=query.q, archived=query.archived
    )
    return jsonify(
        {
            "campaigns": [campaign_summary(row) for row in rows],
            "total": store().count_campaigns(query.q, archived=query.archived),
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@bp.get("/campaigns/<campaign_id>")
@contract(responses={200: Campaign}, errors=(404,))
def show_campaign(campaign_id: str):
    """Show one campaign with its numbers."""
    return jsonify(campaign_summary(find_campaign(campaign_id)))


@bp.patch("/campaigns/<campaign_id>")
@contract(body=CampaignUpdate, responses={200: Campaign}, errors=(404,))
def update_campaign(campaign_id: str, body: CampaignUpdate):
    """Rename a campaign, change its tracking switches, archive or unarchive it, set the time
    it was sent (``sent_at``, which follow-up rules count from), the sender its opt-out page
    names (``sender_name``) or its attribution settings."""
    if not body.model_fields_set:
        raise ApiError(
            400,
            "invalid_field",
            "The update is empty; send any of name, sender_name, track, track_clicks, archived "
            "or sent_at.",
        )
    settings = attribution_settings(
        body.model_dump(include=set(SETTING_FIELDS), exclude_unset=True)
    )
    find_campaign(campaign_id)
    with store().atomic():
        # When the campaign went out, for follow-up rules; null: back to its last injection.
        if "sent_at" in body.model_fields_set:
            store().set_sent_at(campaign_id, body.sent_at)
        if "sender_name" in body.model_fields_set:
            store().set_sender_name(campaign_id, body.sender_name)
        if settings:
            store().set_campaign_attribution(campaign_id, settings)
        row = store().update_campaign(
            campaign_id,
            name=body.name,
            track=body.track,
            track_clicks=body.track_clicks,
            archived=body.archived,
        )
    if row is None:
        raise not_found("campaign", campaign_id)
    return jsonify(campaign_summary(row))


@bp.delete("/campaigns/<campaign_id>")
@contract(responses={204: None}, errors=(404,))
def delete_campaign(campaign_id: str):
    """Delete a campaign with its messages, events, clicks, links and webhook deliveries."""
    if store().delete_campaign(campaign_id, f"api:{g.api_key_name}") is None:
        raise not_found("campaign", campaign_id)
    return Response(status=204)


@bp.get("/campaigns/<campaign_id>/stats")
@contract(responses={200: CampaignReport}, errors=(404,))
def campaign_stats(campaign_id: str):
    """Show a campaign's numbers, definitions, opens per hour since sending and breakdowns."""
    return jsonify(campaign_report(store(), find_campaign(campaign_id)))


@bp.get("/campaigns/<campaign_id>/non-openers")
@contract(query=NonOpenersQuery, responses={200: EXPORT}, errors=(404,))
def non_openers(campaign_id: str, query: NonOpenersQuery):
    """Stream the recipients who did not open, as CSV or JSON."""
    find_campaign(campaign_id)
    min_age_hours = query.min_age_hours
    states = ("not_opened", "unknown") if query.include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = store().iter_non_openers(campaign_id, states, cutoff)
    if query.format == "csv":
        return Response(
            stream_with_context(export.csv_lines(rows)),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{campaign_id}-non-openers.csv"'
            },
        )
    head = {
        "campaign_id": campaign_id,
        "states": list(states),
        "min_age_hours": min_age_hours,
        "injected_before": cutoff,
    }
    return Response(
        stream_with_context(export.json_chunks(rows, head)), mimetype="application/json"
    )
