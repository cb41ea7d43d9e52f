"""The messages API: one recipient's copy with its state, open events and clicks."""

from typing import Any

from flask import jsonify
from pydantic import Field

from app.api.base import bp, not_found
from app.api.delivery import StoredDeliveryEvent
from app.api.schemas import Answer, contract
from app.services import store


class OpenEvent(Answer):
    """One fetch of the pixel, with its verdict and why (fields a privacy setting drops: null)."""

    at: str
    verdict: str
    source: str | None
    reason: str | None
    client: str | None
    client_version: str | None
    os: str | None
    device: str | None
    country: str | None
    asn: int | None
    ip: str | None
    user_agent: str | None
    method: str | None
    x_requested_with: str | None
    sec_purpose: str | None
    seconds_since_send: float | None


class Click(Answer):
    """One followed link, with its verdict; ``settled`` is 1 once the verdict is final."""

    at: str
    url: str
    verdict: str
    source: str | None
    reason: str | None
    client: str | None
    os: str | None
    device: str | None
    country: str | None
    ip: str | None
    user_agent: str | None
    method: str | None
    seconds_since_send: float | None
    settled: int


class Message(Answer):
    """One recipient's message: its state, counts, every open event and click."""

    message_id: str
    campaign_id: str
    recipient: str
    metadata: dict[str, Any] | None
    injected_at: str
    state: str
    tracked: bool
    opens: int
    human_opens: int
    machine_opens: int
    mpp_opens: int
    first_fetch_at: str | None
    first_open_at: str | None
    last_open_at: str | None
    last_client: str | None
    delivery_status: str | None = Field(description="the ESP's last word: delivered, bounced...")
    delivery_at: str | None
    bounce_type: str | None
    unsubscribed_at: str | None
    events: list[OpenEvent]
    clicks: list[Click]
    delivery_events: list[StoredDeliveryEvent]


@bp.get("/messages/<message_id>")
@contract(responses={200: Message}, errors=(404,))
def show_message(message_id: str):
    """Show one message with its state and every open event."""
    message = store().get_message(message_id)
    if message is None:
        raise not_found("message", message_id)
    message["clicks"] = store().message_clicks(message["id"])
    message["delivery_events"] = store().message_delivery_events(message["id"])
    message["message_id"] = message.pop("id")
    return jsonify(message)
