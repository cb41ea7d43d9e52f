"""The campaigns API: create, list, show, update and delete campaigns, their stats and
non-openers."""

import time

from flask import Response, g, jsonify, request, stream_with_context

from app.api.base import (
    bool_arg,
    bp,
    find_campaign,
    float_arg,
    format_arg,
    int_arg,
    json_body,
    not_found,
)
from app.api.conversions import SETTING_FIELDS, attribution_settings
from app.api.errors import ApiError
from app.core import export, fields
from app.core.campaign_report import campaign_report
from app.core.stats import campaign_summary
from app.core.times import to_iso
from app.services import store
from app.store import CampaignExists


@bp.post("/campaigns")
def create_campaign():
    """Create a campaign with a slug id chosen by the sender."""
    body = json_body()
    campaign_id, name = fields.campaign(body.get("id"), body.get("name"))
    track = fields.boolean(body.get("track"), "track", True)
    track_clicks = fields.boolean(body.get("track_clicks"), "track_clicks", False)
    settings = attribution_settings({key: body[key] for key in body if key in SETTING_FIELDS})
    try:
        campaign = store().create_campaign(campaign_id, name, track=track)
    except CampaignExists as error:
        raise ApiError(
            409, "conflict", f"A campaign with id '{campaign_id}' already exists."
        ) from error
    if track_clicks:
        campaign = store().set_track_clicks(campaign_id, True)
    if settings:
        store().set_campaign_attribution(campaign_id, settings)
        campaign = store().get_campaign(campaign_id)
    return jsonify(campaign_summary(campaign)), 201


@bp.get("/campaigns")
def list_campaigns():
    """List campaigns, newest first, with their numbers."""
    limit = int_arg("limit", 50, 1, 1000)
    offset = int_arg("offset", 0, 0, None)
    search = request.args.get("q", "")
    archived = bool_arg("archived", False)
    rows = store().list_campaigns(limit=limit, offset=offset, search=search, archived=archived)
    return jsonify(
        {
            "campaigns": [campaign_summary(row) for row in rows],
            "total": store().count_campaigns(search, archived=archived),
            "limit": limit,
            "offset": offset,
        }
    )


@bp.get("/campaigns/<campaign_id>")
def show_campaign(campaign_id: str):
    """Show one campaign with its numbers."""
    return jsonify(campaign_summary(find_campaign(campaign_id)))


UPDATE_FIELDS = ("name", "track", "track_clicks", "archived", "sent_at", *SETTING_FIELDS)


@bp.patch("/campaigns/<campaign_id>")
def update_campaign(campaign_id: str):
    """Rename a campaign, change its tracking switches, archive or unarchive it, or set the
    time it was sent (``sent_at``, which follow-up rules count from)."""
    body = json_body()
    unknown = [key for key in body if key not in UPDATE_FIELDS]
    if unknown:
        raise ApiError(
            400,
            "invalid_field",
            f"'{unknown[0]}' is not a field of a campaign update; "
            "use name, track, track_clicks, archived, sent_at, " + ", ".join(SETTING_FIELDS) + ".",
        )
    if not body:
        raise ApiError(
            400,
            "invalid_field",
            "The update is empty; send any of name, track, track_clicks, archived or sent_at.",
        )
    name = body.get("name")
    if "name" in body:
        name = fields.text(name, "name", fields.MAX_NAME)
    switches = {
        field: fields.boolean(body.get(field), field, None) if field in body else None
        for field in ("track", "track_clicks", "archived")
    }
    for field, value in switches.items():
        if field in body and value is None:
            raise fields.FieldError(field, "must be true or false")
    # When the campaign went out, for follow-up rules; null goes back to its last injection.
    sent_at = fields.moment(body["sent_at"], "sent_at") if body.get("sent_at") is not None else None
    settings = attribution_settings({key: body[key] for key in body if key in SETTING_FIELDS})
    find_campaign(campaign_id)
    with store().atomic():
        if "sent_at" in body:
            store().set_sent_at(campaign_id, sent_at)
        if settings:
            store().set_campaign_attribution(campaign_id, settings)
        row = store().update_campaign(campaign_id, name=name, **switches)
    if row is None:
        raise not_found("campaign", campaign_id)
    return jsonify(campaign_summary(row))


@bp.delete("/campaigns/<campaign_id>")
def delete_campaign(campaign_id: str):
    """Delete a campaign with its messages, events, clicks, links and webhook deliveries."""
    if store().delete_campaign(campaign_id, f"api:{g.api_key_name}") is None:
        raise not_found("campaign", campaign_id)
    return Response(status=204)


@bp.get("/campaigns/<campaign_id>/stats")
def campaign_stats(campaign_id: str):
    """Show a campaign's numbers, definitions, opens per hour since sending and breakdowns."""
    return jsonify(campaign_report(store(), find_campaign(campaign_id)))


@bp.get("/campaigns/<campaign_id>/non-openers")
def non_openers(campaign_id: str):
    """Stream the recipients who did not open, as CSV or JSON."""
    find_campaign(campaign_id)
    export_format = format_arg()
    min_age_hours = float_arg("min_age_hours", 0.0)
    include_unknown = bool_arg("include_unknown", False)
    states = ("not_opened", "unknown") if include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = store().iter_non_openers(campaign_id, states, cutoff)
    if export_format == "csv":
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
