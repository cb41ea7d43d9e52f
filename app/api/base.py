"""The /api/v1 blueprint's shared parts: the key check, field errors and lookups.

Every route of the API lives on ``bp``, one module per resource, and declares what it accepts
and answers with ``schemas.contract``. Field rules come from ``core.fields``; a FieldError a
view raises is answered as a 400 naming the field.
"""

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import BadRequest

from app.api.errors import ApiError, error_response
from app.core.fields import FieldError
from app.services import store

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Large enough for any offset, small enough for SQLite's 64-bit integers.
MAX_INT_ARG = 10**12


@bp.before_request
def require_api_key() -> None:
    """Let a request through only with a valid, unrevoked API key (public routes need none)."""
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, "contract", None)
    if declared is not None and declared.public:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    g.api_key_name = store().check_api_key(key.strip())
    if g.api_key_name is None:
        raise ApiError(401, "unauthorized", "The API key is unknown or revoked.")


@bp.errorhandler(FieldError)
def field_error(error: FieldError):
    """Answer a value that breaks its field's rule with a 400 naming the field."""
    return error_response(400, "invalid_field", str(error))


def not_found(kind: str, value) -> ApiError:
    """Return the 404 error for a resource that does not exist."""
    return ApiError(404, "not_found", f"No {kind} with id '{value}'.")


def find_campaign(campaign_id: str) -> dict:
    """Return a campaign's stored row or raise a 404 naming it."""
    campaign = store().get_campaign(campaign_id)
    if campaign is None:
        raise not_found("campaign", campaign_id)
    return campaign


def json_body() -> dict:
    """Return the request's JSON object, or raise a 400 that says what is wrong with it."""
    try:
        body = request.get_json(force=True)
    except (BadRequest, RecursionError) as error:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The request body must be a JSON object.")
    return body


# The helpers below serve views not yet declared with @contract.
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
        raise FieldError(name, "must be an integer")
    if value < low or value > high:
        raise FieldError(name, f"must be between {low} and {high}")
    return value


def float_arg(name: str, default: float) -> float:
    """Return a non-negative number query argument, or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FieldError(name, "must be a number") from None
    if not 0 <= value <= 100_000:
        raise FieldError(name, "must be between 0 and 100000")
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
    raise FieldError(name, "must be 'true' or 'false'")


def format_arg() -> str:
    """Return the export format asked for: json (the default) or csv."""
    export_format = request.args.get("format", "json")
    if export_format not in ("json", "csv"):
        raise FieldError("format", "must be 'json' or 'csv'")
    return export_format
