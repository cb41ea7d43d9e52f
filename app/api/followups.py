"""The JSON API for follow-ups: a new campaign for the recipients who did not open its parent."""

import sqlite3
import time

from flask import Blueprint, Response, request, stream_with_context

from app.api.campaigns import (
    campaign_id_and_name,
    find_campaign,
    get_store,
    invalid,
    json_body,
    require_api_key,
)
from app.api.errors import ApiError
from app.core import export
from app.core.times import to_iso

bp = Blueprint("api_followups", __name__, url_prefix="/api/v1")
bp.before_request(require_api_key)

MAX_AGE_HOURS = 100_000


def parse_follow_up(body: dict) -> tuple[str, str, bool, float]:
    """Return (id, name, include_unknown, min_age_hours) of a follow-up request, or raise 400."""
    campaign_id, name = campaign_id_and_name(body)
    include_unknown = body.get("include_unknown", False)
    if not isinstance(include_unknown, bool):
        raise invalid("include_unknown", "must be true or false")
    min_age_hours = body.get("min_age_hours", 0)
    if (
        isinstance(min_age_hours, bool)
        or not isinstance(min_age_hours, int | float)
        or not 0 <= min_age_hours <= MAX_AGE_HOURS
    ):
        raise invalid("min_age_hours", f"must be a number between 0 and {MAX_AGE_HOURS}")
    return campaign_id, name, include_unknown, float(min_age_hours)


def recipients_response(follow_up: dict, status: int, export_format: str = "json") -> Response:
    """Stream a follow-up's recipients as they stand now, as JSON or CSV."""
    store = get_store()
    rows = store.iter_follow_up_recipients(follow_up)
    if export_format == "csv":
        name = f"{follow_up['campaign_id']}-recipients.csv"
        return Response(
            stream_with_context(export.csv_lines(rows)),
            status=status,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    head = {
        "campaign": store.get_campaign(follow_up["campaign_id"]),
        "parent_id": follow_up["parent_id"],
        "states": ["not_opened", "unknown"] if follow_up["include_unknown"] else ["not_opened"],
        "min_age_hours": follow_up["min_age_hours"],
        "injected_before": follow_up["injected_before"],
    }
    return Response(
        stream_with_context(export.json_chunks(rows, head)),
        status=status,
        mimetype="application/json",
    )


@bp.post("/campaigns/<campaign_id>/follow-ups")
def create_follow_up(campaign_id: str):
    """Create a follow-up campaign of this one and return the recipients to send it to."""
    parent = find_campaign(campaign_id)
    follow_up_id, name, include_unknown, min_age_hours = parse_follow_up(json_body())
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    store = get_store()
    try:
        store.create_follow_up(follow_up_id, name, parent, include_unknown, min_age_hours, cutoff)
    except sqlite3.IntegrityError as error:
        raise ApiError(
            409, "conflict", f"A campaign with id '{follow_up_id}' already exists."
        ) from error
    return recipients_response(store.get_follow_up(follow_up_id), 201)


@bp.get("/campaigns/<campaign_id>/follow-up-recipients")
def follow_up_recipients(campaign_id: str):
    """List a follow-up's recipients as they stand now (openers since are left out)."""
    find_campaign(campaign_id)
    follow_up = get_store().get_follow_up(campaign_id)
    if follow_up is None:
        raise ApiError(404, "not_found", f"Campaign '{campaign_id}' is not a follow-up.")
    export_format = request.args.get("format", "json")
    if export_format not in ("json", "csv"):
        raise invalid("format", "must be 'json' or 'csv'")
    return recipients_response(follow_up, 200, export_format)
