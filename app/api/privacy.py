"""The privacy API: the opt-out list, access requests and erasure."""

from flask import g, jsonify

from app.api.base import bp, int_arg, json_body
from app.api.errors import ApiError
from app.core import fields
from app.core.fields import FieldError
from app.services import store


def recipients_in(body: dict) -> list[str]:
    """Return the addresses of a body with "recipient" or "recipients"."""
    if "recipient" in body:
        return [fields.recipient(body["recipient"], "recipient")]
    items = body.get("recipients")
    if not isinstance(items, list) or not items:
        raise FieldError("recipients", "is required and must be a non-empty list")
    if len(items) > 10_000:
        raise FieldError("recipients", "may hold at most 10000 addresses per call")
    return [fields.recipient(item, f"recipients[{index}]") for index, item in enumerate(items)]


@bp.post("/suppressions")
def add_suppressions():
    """Add addresses to the opt-out list: their messages are injected untracked from now on."""
    recipients = recipients_in(json_body())
    added = store().suppress(recipients, source="api")
    return jsonify({"added": added, "recipients": recipients}), 201


@bp.get("/suppressions")
def list_suppressions():
    """List the opt-out list, newest first."""
    limit = int_arg("limit", 100, 1, 1000)
    offset = int_arg("offset", 0, 0, None)
    items = store().list_suppressions(limit=limit, offset=offset)
    return jsonify({"suppressions": items, "limit": limit, "offset": offset})


@bp.delete("/suppressions/<path:recipient>")
def remove_suppression(recipient: str):
    """Take an address off the opt-out list."""
    recipient = fields.recipient(recipient, "recipient")
    if not store().unsuppress(recipient):
        raise ApiError(404, "not_found", f"'{recipient}' is not on the opt-out list.")
    return jsonify({"removed": recipient})


@bp.get("/recipients/<path:recipient>")
def export_recipient(recipient: str):
    """Return everything held about an address, for an access request."""
    return jsonify(store().recipient_data(fields.recipient(recipient, "recipient")))


@bp.delete("/recipients/<path:recipient>")
def erase_recipient(recipient: str):
    """Erase an address and every personal detail tied to it; campaign totals stay."""
    recipient = fields.recipient(recipient, "recipient")
    counts = store().erase_recipient(recipient, actor=f"api:{g.api_key_name}")
    return jsonify({"erased": counts})
