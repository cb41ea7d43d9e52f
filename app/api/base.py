"""The /api/v1 blueprint's shared parts: the key check, field errors and lookups.

Every route of the API lives on ``bp``, one module per resource, and declares what it accepts
and answers with ``schemas.contract``. Field rules come from ``core.fields``; a FieldError a
view raises is answered as a 400 naming the field.
"""

from flask import Blueprint, current_app, g, request

from app.api.errors import ApiError, error_response
from app.core.fields import FieldError
from app.services import store

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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
