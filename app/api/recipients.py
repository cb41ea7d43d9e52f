"""The recipients API: engagement across campaigns, inactive segments and send times."""

import time

from flask import Response, jsonify, stream_with_context

from app.api.base import bp
from app.api.delivery_schemas import SendTimesRequest
from app.api.errors import ApiError
from app.api.schemas import Answer, Flag, Query, choice_arg, contract, integer_arg, number_arg
from app.core import engagement, export, fields, send_times
from app.services import store


class Engagement(Answer):
    """A recipient's engagement across campaigns and the tier it puts them in."""

    recipient: str
    campaigns_received: int
    campaigns_delivered: int
    campaigns_tracked: int
    bounced: int
    complained: int
    human_opens: int
    human_clicks: int
    last_human_open_at: str | None
    last_human_click_at: str | None
    mpp_only: bool
    tier: str
    tier_reason: str


class SegmentQuery(Query):
    format: choice_arg("json", "csv") = "json"
    campaigns: integer_arg(1, 1000) = None
    days: number_arg(0, fields.MAX_AGE_HOURS) = None
    mpp_only: Flag = False


class SegmentMember(Answer):
    recipient: str
    messages: int
    last_sent_at: str
    mpp_opens: int
    human_clicks: int


class Segment(Answer):
    """The segment's selection and its recipients (streamed)."""

    segment: str
    campaigns: list[str] | None
    since: str | None
    columns: list[str]
    recipients: list[SegmentMember]


class DayQuery(Query):
    day: str = None


class SendTime(Answer):
    """When to send on a day, and why: learned from a person's opens, or the population's."""

    suggested_at: str
    hour_utc: int
    source: str
    observations: int
    reason: str


class RecipientSendTime(SendTime):
    day: str
    recipient: str


class ManySendTime(SendTime):
    recipient: str


class SendTimes(Answer):
    day: str
    send_times: list[ManySendTime]


@bp.get("/recipients/<path:recipient>/engagement")
@contract(responses={200: Engagement}, errors=(404,))
def recipient_engagement(recipient: str):
    """Show a recipient's engagement across campaigns and their tier."""
    recipient = fields.recipient(recipient, "recipient")
    numbers = engagement.engagement_of(store(), recipient, time.time())
    if numbers is None:
        raise ApiError(404, "not_found", f"No message was sent to '{recipient}'.")
    return jsonify({"recipient": recipient, **numbers})


@bp.get("/segments/inactive")
@contract(query=SegmentQuery, responses={200: {"application/json": Segment, "text/csv": "string"}})
def inactive_segment(query: SegmentQuery):
    """Stream the recipients with no human open or click in the last N campaigns or D days."""
    export_format, campaigns, days = query.format, query.campaigns, query.days
    mpp_only = query.mpp_only
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
@contract(query=DayQuery, responses={200: RecipientSendTime})
def recipient_send_time(recipient: str, query: DayQuery):
    """Suggest when to send to a recipient on a day (default tomorrow), learned from people."""
    recipient = fields.recipient(recipient, "recipient")
    day = send_times.parse_day(query.day)
    return jsonify({"day": day.isoformat(), **send_times_for([recipient], day)[0]})


@bp.post("/send-times")
@contract(body=SendTimesRequest, responses={200: SendTimes})
def many_send_times(body: SendTimesRequest):
    """Suggest send times on a day for up to 10,000 recipients at once."""
    day = send_times.parse_day(body.day)
    recipients = body.recipients
    return jsonify({"day": day.isoformat(), "send_times": send_times_for(recipients, day)})
