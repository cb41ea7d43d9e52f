"""The JSON API under /api/v1: campaigns, injection, messages, stats and non-openers."""

import json
import re
import time
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context
from werkzeug.exceptions import BadRequest

from app.api.errors import ApiError
from app.core import export, inject
from app.core.reports import extra_stats
from app.core.stats import RATE_DEFINITIONS
from app.core.times import from_iso, hour_of, to_iso
from app.core.tokens import mint_token
from app.rules.clicks import CLICK_RATE_DEFINITIONS
from app.store.sqlite import CampaignExists
from app.tracking.clicks import ClickLinks
from app.tracking.optout import optout_path
from app.tracking.pixel import pixel_path

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_RECIPIENT = 320
MAX_NAME = 200
# Large enough for any offset, small enough for SQLite's 64-bit integers.
MAX_INT_ARG = 10**12


def get_store():
    """Return the app's store."""
    return current_app.extensions["opentrack"].store


@bp.before_request
def require_api_key() -> None:
    """Let a request through only with a valid, unrevoked API key."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    g.api_key_name = get_store().check_api_key(key.strip())
    if g.api_key_name is None:
        raise ApiError(401, "unauthorized", "The API key is unknown or revoked.")


def json_body() -> dict:
    """Return the request's JSON object, or raise a 400 that says what is wrong with it."""
    try:
        body = request.get_json(force=True)
    except (BadRequest, RecursionError) as error:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The request body must be a JSON object.")
    return body


def invalid(field: str, problem: str) -> ApiError:
    """Return the 400 error for a field at fault."""
    return ApiError(400, "invalid_field", f"'{field}' {problem}.")


def text_field(value, field: str, max_length: int) -> str:
    """Return a required non-empty string field, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "is required and must be a non-empty string")
    value = value.strip()
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    if any(ord(char) < 32 for char in value):
        raise invalid(field, "must not contain control characters")
    if not _encodable(value):
        raise invalid(field, "must be valid Unicode (it holds a lone surrogate)")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def recipient_field(value, field: str) -> str:
    """Return a recipient: an address (lower-cased) or the sender's own subscriber id."""
    recipient = text_field(value, field, MAX_RECIPIENT)
    # Mailbox providers treat addresses case-insensitively; subscriber ids keep their case.
    return recipient.lower() if "@" in recipient else recipient


def metadata_field(value, field: str) -> dict | None:
    """Return optional metadata, which must be a JSON object."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(field, "must be a JSON object")
    try:
        # NaN and Infinity are not JSON: stored, they would break every reader downstream.
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise invalid(field, "must not hold NaN or Infinity") from None
    except RecursionError:
        raise invalid(field, "is nested too deeply") from None
    return value


def html_field(value, field: str) -> str:
    """Return the email HTML, which must be a string."""
    if not isinstance(value, str):
        raise invalid(field, "is required and must be a string of HTML")
    return value


def find_campaign(campaign_id: str) -> dict:
    """Return a campaign or raise a 404 naming it."""
    campaign = get_store().get_campaign(campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", f"No campaign with id '{campaign_id}'.")
    return campaign


def campaign_id_and_name(body: dict) -> tuple[str, str]:
    """Return a new campaign's slug id and its name (the id when left out), or raise 400."""
    campaign_id = body.get("id")
    if not isinstance(campaign_id, str) or not SLUG.match(campaign_id):
        raise invalid(
            "id",
            "must be a slug: 1-64 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit",
        )
    name = body.get("name")
    return campaign_id, campaign_id if name is None else text_field(name, "name", MAX_NAME)


@bp.post("/campaigns")
def create_campaign():
    """Create a campaign with a slug id chosen by the sender."""
    body = json_body()
    campaign_id, name = campaign_id_and_name(body)
    track = bool_field(body.get("track"), "track", True)
    track_clicks = bool_field(body.get("track_clicks"), "track_clicks", False)
    try:
        campaign = get_store().create_campaign(campaign_id, name, track=track)
    except CampaignExists as error:
        raise ApiError(
            409, "conflict", f"A campaign with id '{campaign_id}' already exists."
        ) from error
    if track_clicks:
        campaign = get_store().set_track_clicks(campaign_id, True)
    return jsonify(campaign), 201


@bp.get("/campaigns")
def list_campaigns():
    """List campaigns, newest first, with their numbers."""
    limit = int_arg("limit", 50, 1, 1000)
    offset = int_arg("offset", 0, 0, None)
    search = request.args.get("q", "")
    store = get_store()
    return jsonify(
        {
            "campaigns": store.list_campaigns(limit=limit, offset=offset, search=search),
            "total": store.count_campaigns(search),
            "limit": limit,
            "offset": offset,
        }
    )


@bp.get("/campaigns/<campaign_id>")
def show_campaign(campaign_id: str):
    """Show one campaign with its numbers."""
    return jsonify(find_campaign(campaign_id))


@bp.get("/campaigns/<campaign_id>/stats")
def campaign_stats(campaign_id: str):
    """Show a campaign's numbers, definitions, opens per hour since sending and breakdowns."""
    campaign = find_campaign(campaign_id)
    store = get_store()
    hourly = store.hourly_opens(campaign_id)
    if campaign["first_injected_at"]:
        start = from_iso(hour_of(campaign["first_injected_at"]))
        for row in hourly:
            row["hours_since_send"] = int((from_iso(row["hour"]) - start) // 3600)
    return jsonify(
        {
            **campaign,
            "definitions": {**RATE_DEFINITIONS, **CLICK_RATE_DEFINITIONS},
            "opens_per_hour": hourly,
            "breakdowns": store.breakdowns(campaign_id),
            **extra_stats(store, campaign),
        }
    )


@bp.post("/campaigns/<campaign_id>/inject")
def inject_campaign(campaign_id: str):
    """Register recipients' messages and return their HTML with the pixel added."""
    campaign = find_campaign(campaign_id)
    body = json_body()
    single = "recipient" in body
    track = bool_field(body.get("track"), "track", campaign["track"])
    track_clicks = bool_field(body.get("track_clicks"), "track_clicks", campaign["track_clicks"])
    items = parse_inject(body, track)
    config = current_app.config
    if len(items) > config["MAX_BATCH"]:
        raise invalid("messages", f"may hold at most {config['MAX_BATCH']} messages per call")
    messages = get_store().register_messages(
        campaign_id, [(item.recipient, item.metadata, item.track) for item in items]
    )
    opentrack = current_app.extensions["opentrack"]
    base_url = (config["BASE_URL"] or request.host_url).rstrip("/")
    positions: dict[int, int] = {}
    click_links = ClickLinks(
        get_store(), opentrack.click_serializer, campaign_id, base_url, track_clicks
    )
    click_links.register([i.html for m, i in zip(messages, items, strict=True) if m["tracked"]])
    results = []
    for message, item in zip(messages, items, strict=True):
        html = item.html
        optout_url = base_url + optout_path(mint_token(opentrack.optout_serializer, message["id"]))
        url = None
        if message["tracked"]:
            url = base_url + pixel_path(mint_token(opentrack.serializer, message["id"]))
            # A shared HTML body is scanned for its </body> once, not once per recipient.
            if id(html) not in positions:
                positions[id(html)] = inject.find_pixel_position(html)
            html, position = click_links.rewrite(html, message["id"], positions[id(html)])
            html = inject.add_pixel(html, url, position)
        results.append(
            {
                "message_id": message["id"],
                "campaign_id": campaign_id,
                "recipient": message["recipient"],
                "metadata": message["metadata"],
                "injected_at": message["injected_at"],
                "tracked": message["tracked"],
                "pixel_url": url,
                "optout_url": optout_url,
                "html": inject.fill_optout_url(html, optout_url),
            }
        )
    if single:
        return jsonify(results[0]), 201
    return jsonify({"messages": results}), 201


@dataclass(frozen=True)
class InjectItem:
    """One message an inject call asks for."""

    recipient: str
    metadata: dict | None
    html: str
    track: bool


def parse_inject(body: dict, track: bool) -> list[InjectItem]:
    """Return the messages an inject body asks for; per-message "track" overrides the call's."""
    if "recipient" in body:
        return [
            InjectItem(
                recipient_field(body["recipient"], "recipient"),
                metadata_field(body.get("metadata"), "metadata"),
                html_field(body.get("html"), "html"),
                track,
            )
        ]
    if "messages" in body:
        items = body["messages"]
        if not isinstance(items, list) or not items:
            raise invalid("messages", "must be a non-empty list")
        parsed = []
        for index, item in enumerate(items):
            field = f"messages[{index}]"
            if not isinstance(item, dict):
                raise invalid(field, "must be an object with 'recipient' and 'html'")
            parsed.append(
                InjectItem(
                    recipient_field(item.get("recipient"), f"{field}.recipient"),
                    metadata_field(item.get("metadata"), f"{field}.metadata"),
                    html_field(item.get("html"), f"{field}.html"),
                    bool_field(item.get("track"), f"{field}.track", track),
                )
            )
        return parsed
    if "recipients" in body:
        html = html_field(body.get("html"), "html")
        items = body["recipients"]
        if not isinstance(items, list) or not items:
            raise invalid("recipients", "must be a non-empty list")
        parsed = []
        for index, item in enumerate(items):
            field = f"recipients[{index}]"
            if isinstance(item, dict):
                recipient = recipient_field(item.get("recipient"), f"{field}.recipient")
                metadata = metadata_field(item.get("metadata"), f"{field}.metadata")
                item_track = bool_field(item.get("track"), f"{field}.track", track)
            else:
                recipient, metadata, item_track = recipient_field(item, field), None, track
            parsed.append(InjectItem(recipient, metadata, html, item_track))
        return parsed
    raise invalid("recipient", "is required (or 'messages', or 'html' with 'recipients')")


def bool_field(value, field: str, default: bool) -> bool:
    """Return an optional true/false field."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")
    return value


@bp.get("/messages/<message_id>")
def show_message(message_id: str):
    """Show one message with its state and every open event."""
    message = get_store().get_message(message_id)
    if message is None:
        raise ApiError(404, "not_found", f"No message with id '{message_id}'.")
    message["clicks"] = get_store().message_clicks(message["id"])
    message["message_id"] = message.pop("id")
    return jsonify(message)


@bp.get("/campaigns/<campaign_id>/non-openers")
def non_openers(campaign_id: str):
    """Stream the recipients who did not open, as CSV or JSON."""
    find_campaign(campaign_id)
    export_format = request.args.get("format", "json")
    if export_format not in ("json", "csv"):
        raise invalid("format", "must be 'json' or 'csv'")
    min_age_hours = float_arg("min_age_hours", 0.0)
    include_unknown = bool_arg("include_unknown", False)
    states = ("not_opened", "unknown") if include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = get_store().iter_non_openers(campaign_id, states, cutoff)
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


def int_arg(name: str, default: int, low: int, high: int | None) -> int:
    """Return an integer query argument within bounds, or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    high = MAX_INT_ARG if high is None else high
    try:
        value = int(raw) if raw.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise invalid(name, "must be an integer")
    if value < low or value > high:
        raise invalid(name, f"must be between {low} and {high}")
    return value


def float_arg(name: str, default: float) -> float:
    """Return a non-negative number query argument, or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise invalid(name, "must be a number") from None
    if not 0 <= value <= 100_000:
        raise invalid(name, "must be between 0 and 100000")
    return value


def bool_arg(name: str, default: bool) -> bool:
    """Return a true/false query argument, or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise invalid(name, "must be 'true' or 'false'")
