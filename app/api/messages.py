"""The messages API: one recipient's copy with its state, open events and clicks."""

from typing import Any

from flask import jsonify
from pydantic import ConfigDict

from app.api.base import bp, not_found
from app.api.schemas import Answer, contract
from app.services import store


class Message(Answer):
    """One recipient's message: its state, counts, every open event and click."""

    model_config = ConfigDict(extra="allow")
    message_id: str
    campaign_id: str
    recipient: str
    metadata: dict[str, Any] | None
    injected_at: str
    state: str
    tracked: bool
    opens: int
    events: list[dict[str, Any]]
    clicks: list[dict[str, Any]]


@bp.get("/messages/<message_id>")
@contract(responses={200: Message}, errors=(404,))
def show_message(message_id: str):
    """Show one message with its state and every open event."""
    message = store().get_message(message_id)
    if message is None:
        raise not_found("message", message_id)
    message["clicks"] = store().message_clicks(message["id"])
    message["message_id"] = message.pop("id")
    return jsonify(message)
