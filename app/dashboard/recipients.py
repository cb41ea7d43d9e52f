"""The Recipients page: one recipient's engagement and tier, and the inactive segments' exports."""

import time

from flask import Response, abort, render_template, request, stream_with_context

from app.core import engagement, export, fields, send_times
from app.core.fields import FieldError
from app.dashboard.base import bp
from app.services import store

# The exports offered as links: (label, campaigns, days, mpp_only).
SEGMENTS = (
    ("No human open or click in the last 3 campaigns", 3, None, False),
    ("No human open or click in the last 5 campaigns", 5, None, False),
    ("No human open or click in 90 days", None, 90, False),
    ("Every open through Apple's proxy, last 5 campaigns", 5, None, True),
)


@bp.get("/recipients")
def recipients():
    """Show the tiers' rules, the segment exports and, when asked, one recipient's engagement."""
    address = request.args.get("address", "").strip()
    found = suggestion = None
    if address:
        try:
            address = fields.recipient(address, "address")
        except FieldError as error:
            abort(400, str(error))
        found = engagement.engagement_of(store(), address, time.time())
        if found:
            observed = store().human_observations([address])[address]
            crowd = send_times.population(store().population_hours())
            day = send_times.parse_day(None)
            suggestion = send_times.suggest(send_times.learn(observed), crowd, day)
    return render_template(
        "dashboard/recipients.html",
        address=address,
        found=found,
        suggestion=suggestion,
        segments=SEGMENTS,
    )


@bp.get("/recipients/inactive.csv")
def inactive_csv():
    """Download an inactive (or MPP-only) segment as CSV."""
    try:
        campaigns = _number(request.args.get("campaigns"), "campaigns", int, 1, 1000)
        days = _number(request.args.get("days"), "days", float, 0, 100_000)
    except FieldError as error:
        abort(400, str(error))
    mpp_only = request.args.get("mpp_only") == "on"
    if campaigns is None and days is None and not mpp_only:
        abort(400, "Pick a number of campaigns or of days.")
    _, rows = engagement.inactive_segment(store(), campaigns, days, mpp_only, time.time())
    name = "mpp-only" if mpp_only else "inactive"
    return Response(
        stream_with_context(export.csv_lines(rows, engagement.SEGMENT_COLUMNS)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _number(raw: str | None, name: str, kind: type, low: float, high: float):
    """Return a form number within bounds, None when empty, or raise FieldError."""
    if raw is None or not raw.strip():
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise FieldError(name, "must be a number") from None
    if not low <= value <= high:
        raise FieldError(name, f"must be between {low} and {high}")
    return value
