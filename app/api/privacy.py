"""The privacy API: the opt-out list, access requests and erasure."""

from flask import Blueprint, g, jsonify

from app.api.campaigns import (
    get_store,
    int_arg,
    invalid,
    json_body,
    recipient_field,
    require_api_key,
)
from app.api.errors import ApiError

bp = Blueprint("privacy_api", __name__, url_prefix="/api/v1")
bp.before_request(require_api_key)


def recipients_in(body: dict) -> list[str]:
    """Return the addresses of a body with "recipient" or "recipients"."""
    if "recipient" in body:
        return [recipient_field(body["recipient"], "recipient")]
    items = body.get("recipients")
    if not isinstance(items, list) or not items:
        raise invalid("recipients", "is required and must be a non-empty list")
    if len(items) > 10_000:
        raise invalid("recipients", "may hold at most 10000 addresses per call")
    return [recipient_field(item, f"recipients[{index}]") for index, item in enumerate(items)]


@bp.post("/suppressions")
def add_suppressions():
    """Add addresses to the opt-out list: their messages are injected untracked from now on."""
    recipients = recipients_in(json_body())
    added = get_store().suppress(recipients, source="api")
    return jsonify({"added": added, "recipients": recipients}), 201


@bp.get("/suppressions")
def list_suppressions():
    """List the opt-out list, newest first."""
    limit = int_arg("limit", 100, 1, 1000)
    offset = int_arg("offset", 0, 0, None)
    items = get_store().list_suppressions(limit=limit, offset=offset)
    return jsonify({"suppressions": items, "limit": limit, "offset": offset})


@bp.delete("/suppressions/<path:recipient>")
def remove_suppression(recipient: str):
    """Take an address off the opt-out list."""
    recipient = recipient_field(recipient, "recipient")
    if not get_store().unsuppress(recipient):
        raise ApiError(404, "not_found", f"'{recipient}' is not on the opt-out list.")
    return jsonify({"removed": recipient})


@bp.get("/recipients/<path:recipient>")
def export_recipient(recipient: str):
    """Return everything held about an address, for an access request."""
    return jsonify(get_store().recipient_data(recipient_field(recipient, "recipient")))


@bp.delete("/recipients/<path:recipient>")
def erase_recipient(recipient: str):
    """Erase an address and every personal detail tied to it; campaign totals stay."""
    recipient = recipient_field(recipient, "recipient")
    counts = get_store().erase_recipient(recipient, actor=f"api:{g.api_key_name}")
    return jsonify({"erased": counts})
