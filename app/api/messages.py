"""The messages API: one recipient's copy with its state, open events and clicks."""

from flask import jsonify

from app.api.base import bp, not_found
from app.services import store


@bp.get("/messages/<message_id>")
def show_message(message_id: str):
    """Show one message with its state and every open event."""
    message = store().get_message(message_id)
    if message is None:
        raise not_found("message", message_id)
    message["clicks"] = store().message_clicks(message["id"])
    message["delivery_events"] = store().message_delivery_events(message["id"])
    message["message_id"] = message.pop("id")
    return jsonify(message)
