"""The recipients API: engagement across campaigns, inactive segments and send times."""

import time

from flask import Response, jsonify, request, stream_with_context

from app.api.base import bool_arg, bp, float_arg, format_arg, int_arg, json_body
from app.api.delivery_schemas import SendTimesRequest, parse
from app.api.errors import ApiError
from app.core import engagement, export, fields, send_times
from app.services import store


@bp.get("/recipients/<path:recipient>/engagement")
def recipient_engagement(recipient: str):
    """Show a recipient's engagement across campaigns and their tier."""
    recipient = fields.recipient(recipient, "recipient")
    messages = store().recipient_messages(recipient)
    if not messages:
        raise ApiError(404, "not_found", f"No message was sent to '{recipient}'.")
    activity = store().last_human_activity([m["id"] for m in messages])
    numbers = engagement.recipient_engagement(messages, activity, time.time())
    return jsonify({"recipient": recipient, **numbers})


@bp.get("/segments/inactive")
def inactive_segment():
    """Stream the recipients with no human open or click in the last N campaigns or D days."""
    export_format = format_arg()
    campaigns = int_arg("campaigns", 0, 1, 1000) if "campaigns" in request.args else None
    days = float_arg("days", 0.0) if "days" in request.args else None
    mpp_only = bool_arg("mpp_only", False)
    if campaigns is None and days is None and not mpp_only:
        raise fields.FieldError("campaigns", "or days (or mpp_only=true) is required")
    head, rows = engagement.inactive_segment(store(), campaigns, days, mpp_only, time.time())
    columns = engagement.SEGMENT_COLUMNS
    if export_format == "csv":
        return Response(
            stream_with_context(export.csv_lines(rows, columns)),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{head["segment"]}.csv"'},
        )
    return Response(
        stream_with_context(export.json_chunks(rows, head, columns)), mimetype="application/json"
    )


def send_times_for(recipients: list[str], day) -> list[dict]:
    """Return a suggested send time on a day for each recipient, in order."""
    observed = store().human_observations(recipients)
    crowd = send_times.population(store().population_hours())
    return [
        {"recipient": r, **send_times.suggest(send_times.learn(observed[r]), crowd, day)}
        for r in recipients
    ]


@bp.get("/recipients/<path:recipient>/send-time")
def recipient_send_time(recipient: str):
    """Suggest when to send to a recipient on a day (default tomorrow), learned from people."""
    recipient = fields.recipient(recipient, "recipient")
    day = send_times.parse_day(request.args.get("day"))
    return jsonify({"day": day.isoformat(), **send_times_for([recipient], day)[0]})


@bp.post("/send-times")
def many_send_times():
    """Suggest send times on a day for up to 10,000 recipients at once."""
    body = parse(SendTimesRequest, json_body())
    day = send_times.parse_day(body.day)
    recipients = body.recipients
    return jsonify({"day": day.isoformat(), "send_times": send_times_for(recipients, day)})
