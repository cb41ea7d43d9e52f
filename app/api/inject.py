"""The inject API: register recipients' messages and return their HTML with the pixel added."""

from flask import current_app, jsonify, request

from app.api.base import bp, find_campaign, json_body
from app.core import fields
from app.core.fields import FieldError
from app.core.injection import InjectItem, inject_messages
from app.services import current


@bp.post("/campaigns/<campaign_id>/inject")
def inject_campaign(campaign_id: str):
    """Register recipients' messages and return their HTML with the pixel added."""
    campaign = find_campaign(campaign_id)
    body = json_body()
    track = fields.boolean(body.get("track"), "track", campaign["track"])
    track_clicks = fields.boolean(
        body.get("track_clicks"), "track_clicks", campaign["track_clicks"]
    )
    # Attribution: an ``ot`` on this call's landing URLs (core/attribution), if asked.
    attribution = fields.boolean(body.get("attribution"), "attribution", False)
    items = parse_inject(body, track)
    config = current_app.config
    if len(items) > config["MAX_BATCH"]:
        form = "recipients" if "recipients" in body else "messages"
        raise FieldError(form, f"may hold at most {config['MAX_BATCH']} messages per call")
    opentrack = current()
    base_url = (config["BASE_URL"] or request.host_url).rstrip("/")
    with opentrack.store.atomic():
        results = inject_messages(
            opentrack.store, opentrack.signers, campaign_id, items, base_url, track_clicks
        )
        if attribution:
            opentrack.store.set_message_attribution([r["message_id"] for r in results])
    if "recipient" in body:
        return jsonify(results[0]), 201
    return jsonify({"messages": results}), 201


def parse_inject(body: dict, track: bool) -> list[InjectItem]:
    """Return the messages an inject body asks for; per-message "track" overrides the call's.

    A body takes one form: "recipient" with "html", "recipients" with a shared "html", or
    "messages" each with its own; a body mixing them is refused rather than half read.
    """
    forms = [form for form in ("recipient", "recipients", "messages") if form in body]
    if len(forms) > 1:
        raise FieldError(
            forms[1],
            f"cannot be sent with '{forms[0]}': use one of 'recipient', 'recipients' or 'messages'",
        )
    if "messages" in body and "html" in body:
        raise FieldError("html", "cannot be shared with 'messages': give each message its html")
    if "recipient" in body:
        return [
            InjectItem(
                fields.recipient(body["recipient"], "recipient"),
                fields.metadata(body.get("metadata"), "metadata"),
                fields.html(body.get("html"), "html"),
                track,
            )
        ]
    if "messages" in body:
        return [
            parse_message(item, f"messages[{index}]", track)
            for index, item in enumerate(non_empty_list(body["messages"], "messages"))
        ]
    if "recipients" in body:
        html = fields.html(body.get("html"), "html")
        return [
            parse_recipient(item, f"recipients[{index}]", html, track)
            for index, item in enumerate(non_empty_list(body["recipients"], "recipients"))
        ]
    raise FieldError("recipient", "is required (or 'messages', or 'html' with 'recipients')")


def non_empty_list(value, field: str) -> list:
    """Return a list that holds at least one item."""
    if not isinstance(value, list) or not value:
        raise FieldError(field, "must be a non-empty list")
    return value


def parse_message(item, field: str, track: bool) -> InjectItem:
    """Return one entry of "messages": its own recipient, HTML, metadata and track switch."""
    if not isinstance(item, dict):
        raise FieldError(field, "must be an object with 'recipient' and 'html'")
    return InjectItem(
        fields.recipient(item.get("recipient"), f"{field}.recipient"),
        fields.metadata(item.get("metadata"), f"{field}.metadata"),
        fields.html(item.get("html"), f"{field}.html"),
        fields.boolean(item.get("track"), f"{field}.track", track),
    )


def parse_recipient(item, field: str, html: str, track: bool) -> InjectItem:
    """Return one entry of "recipients": an address, or an object with one and its extras."""
    if not isinstance(item, dict):
        return InjectItem(fields.recipient(item, field), None, html, track)
    return InjectItem(
        fields.recipient(item.get("recipient"), f"{field}.recipient"),
        fields.metadata(item.get("metadata"), f"{field}.metadata"),
        html,
        fields.boolean(item.get("track"), f"{field}.track", track),
    )
