"""The inject API: register recipients' messages and return their HTML with the pixel added."""

from typing import Annotated, Any, ClassVar

from flask import current_app, jsonify, request
from pydantic import Discriminator, Field, Tag

from app.api.base import bp, find_campaign
from app.api.schemas import (
    Answer,
    Body,
    Html,
    Metadata,
    Recipient,
    Switch,
    contract,
    fail,
)
from app.core.fields import FieldError
from app.core.injection import InjectItem, inject_messages
from app.services import current

FORMS = ("recipient", "recipients", "messages")


class RecipientEntry(Body):
    """An entry of "recipients" with more than an address: its metadata, its own switch."""

    noun: ClassVar[str] = "a recipients entry"
    recipient: Recipient
    metadata: Metadata = None
    track: Switch = None


class MessageEntry(Body):
    """An entry of "messages": a recipient with their own HTML."""

    noun: ClassVar[str] = "a message"
    recipient: Recipient
    html: Html
    metadata: Metadata = None
    track: Switch = None


# An entry of "recipients": an address, or an object with one and its extras.
AddressOrEntry = Annotated[
    Annotated[Recipient, Tag("~address")] | Annotated[RecipientEntry, Tag("~entry")],
    Discriminator(lambda value: "~entry" if isinstance(value, dict) else "~address"),
]


class InjectRequest(Body):
    """One form of three: "recipient" with "html", "recipients" with a shared "html", or
    "messages" each with its own. "track" and "track_clicks" override the campaign's defaults
    for this call, and an entry's own "track" overrides the call's."""

    noun: ClassVar[str] = "an inject request"
    forms = [
        (["recipient", "html"], ["recipients", "messages"]),
        (["recipients", "html"], ["recipient", "messages", "metadata"]),
        (["messages"], ["recipient", "recipients", "html", "metadata"]),
    ]
    recipient: Recipient = None
    recipients: Annotated[list[AddressOrEntry], Field(min_length=1)] = None
    messages: Annotated[list[MessageEntry], Field(min_length=1)] = None
    html: Html = None
    metadata: Metadata = None
    track: Switch = None
    track_clicks: Switch = None
    attribution: Switch = None

    @classmethod
    def check_object(cls, data: dict) -> None:
        """Refuse a body that mixes forms rather than read half of it."""
        forms = [form for form in FORMS if form in data]
        if not forms:
            raise fail("is required (or 'messages', or 'html' with 'recipients')", "recipient")
        if len(forms) > 1:
            raise fail(
                f"cannot be sent with '{forms[0]}': use one of 'recipient', 'recipients' or "
                "'messages'",
                forms[1],
            )
        if forms[0] == "messages" and "html" in data:
            raise fail("cannot be shared with 'messages': give each message its html", "html")
        if forms[0] != "recipient" and "metadata" in data:
            raise fail(
                f"cannot be shared with '{forms[0]}': give each entry its metadata", "metadata"
            )
        if forms[0] != "messages" and "html" not in data:
            raise fail("is required and must be a string of HTML", "html")


class InjectedMessage(Answer):
    """A registered message and its HTML, ready to send."""

    message_id: str
    campaign_id: str
    recipient: str
    metadata: dict[str, Any] | None
    injected_at: str
    tracked: bool
    html: str
    pixel_url: str | None = None
    optout_url: str | None = None


class InjectedMessages(Answer):
    messages: list[InjectedMessage]


@bp.post("/campaigns/<campaign_id>/inject")
@contract(
    body=InjectRequest,
    responses={201: {"application/json": InjectedMessage | InjectedMessages}},
    errors=(404,),
    # The "recipient" form answers the message itself.
    links={201: {"show_message": {"message_id": "$response.body#/message_id"}}},
)
def inject_campaign(campaign_id: str, body: InjectRequest):
    """Register recipients' messages and return their HTML with the pixel added.

    The answer is the message itself for "recipient", else {"messages": [...]} in order.
    """
    campaign = find_campaign(campaign_id)
    track = campaign["track"] if body.track is None else body.track
    track_clicks = campaign["track_clicks"] if body.track_clicks is None else body.track_clicks
    items = inject_items(body, track)
    config = current_app.config
    if len(items) > config["MAX_BATCH"]:
        form = "recipients" if body.recipients is not None else "messages"
        raise FieldError(form, f"may hold at most {config['MAX_BATCH']} messages per call")
    opentrack = current()
    base_url = (config["BASE_URL"] or request.host_url).rstrip("/")
    with opentrack.store.atomic():
        results = inject_messages(
            opentrack.store, opentrack.signers, campaign_id, items, base_url, track_clicks
        )
        # Attribution: an ``ot`` on this call's landing URLs (core/attribution), if asked.
        if body.attribution:
            opentrack.store.set_message_attribution([r["message_id"] for r in results])
    if body.recipient is not None:
        return jsonify(results[0]), 201
    return jsonify({"messages": results}), 201


def inject_items(body: InjectRequest, track: bool) -> list[InjectItem]:
    """Return the messages a validated inject body asks for, each with its track switch."""

    def own(switch: bool | None) -> bool:
        return track if switch is None else switch

    if body.recipient is not None:
        return [InjectItem(body.recipient, body.metadata, body.html, track)]
    if body.messages is not None:
        return [
            InjectItem(item.recipient, item.metadata, item.html, own(item.track))
            for item in body.messages
        ]
    return [
        InjectItem(item, None, body.html, track)
        if isinstance(item, str)
        else InjectItem(item.recipient, item.metadata, body.html, own(item.track))
        for item in body.recipients
    ]
