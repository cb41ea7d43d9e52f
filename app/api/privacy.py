"""The privacy API: the opt-out list, access requests and erasure."""

from typing import Annotated, Any, ClassVar

from flask import g, jsonify
from pydantic import ConfigDict, Field

from app.api.base import bp
from app.api.errors import ApiError
from app.api.schemas import (
    Answer,
    Body,
    Offset,
    Query,
    Recipient,
    contract,
    fail,
    integer_arg,
)
from app.core import fields
from app.services import store

MAX_SUPPRESSIONS = 10_000


class NewSuppressions(Body):
    """Addresses to add to the opt-out list: one as "recipient", or a list as "recipients"."""

    noun: ClassVar[str] = "a suppression request"
    forms = [(["recipient"], ["recipients"]), (["recipients"], ["recipient"])]
    recipient: Recipient = None
    recipients: Annotated[list[Recipient], Field(min_length=1, max_length=MAX_SUPPRESSIONS)] = None

    @classmethod
    def check_object(cls, data: dict) -> None:
        """Take exactly one of the two forms."""
        if "recipient" in data and "recipients" in data:
            raise fail("cannot be sent with 'recipient': use one of them", "recipients")
        if "recipient" not in data and "recipients" not in data:
            raise fail("is required and must be a non-empty list", "recipients")
        items = data.get("recipients")
        if isinstance(items, list) and len(items) > MAX_SUPPRESSIONS:
            raise fail(f"may hold at most {MAX_SUPPRESSIONS} addresses per call", "recipients")


class SuppressionsAdded(Answer):
    added: int
    recipients: list[str]


class Suppression(Answer):
    recipient: str | None
    source: str
    reason: str = Field(description="opt_out, or hard_bounce / complaint from delivery events")
    created_at: str


class SuppressionList(Answer):
    suppressions: list[Suppression]
    limit: int
    offset: int


class SuppressionQuery(Query):
    limit: integer_arg(1, 1000) = 100
    offset: Offset = 0


class Removed(Answer):
    removed: str


class RecipientData(Answer):
    """Everything held about an address: its messages with their opens and clicks, its opt-out."""

    model_config = ConfigDict(extra="allow")
    recipient: str
    messages: list[dict[str, Any]]
    opted_out: dict[str, Any] | None


class Erased(Answer):
    erased: dict[str, int]


@bp.post("/suppressions")
@contract(
    body=NewSuppressions,
    responses={201: SuppressionsAdded},
    links={
        201: {
            view: {"recipient": "$response.body#/recipients/0"}
            for view in ("remove_suppression", "export_recipient", "erase_recipient")
        }
    },
)
def add_suppressions(body: NewSuppressions):
    """Add addresses to the opt-out list: their messages are injected untracked from now on."""
    recipients = [body.recipient] if body.recipient is not None else body.recipients
    added = store().suppress(recipients, source="api")
    return jsonify({"added": added, "recipients": recipients}), 201


@bp.get("/suppressions")
@contract(query=SuppressionQuery, responses={200: SuppressionList})
def list_suppressions(query: SuppressionQuery):
    """List the opt-out list, newest first."""
    items = store().list_suppressions(limit=query.limit, offset=query.offset)
    return jsonify({"suppressions": items, "limit": query.limit, "offset": query.offset})


@bp.delete("/suppressions/<path:recipient>")
@contract(responses={200: Removed}, errors=(400, 404))
def remove_suppression(recipient: str):
    """Take an address off the opt-out list."""
    recipient = fields.recipient(recipient, "recipient")
    if not store().unsuppress(recipient):
        raise ApiError(404, "not_found", f"'{recipient}' is not on the opt-out list.")
    return jsonify({"removed": recipient})


@bp.get("/recipients/<path:recipient>")
@contract(responses={200: RecipientData}, errors=(400,))
def export_recipient(recipient: str):
    """Return everything held about an address, for an access request."""
    return jsonify(store().recipient_data(fields.recipient(recipient, "recipient")))


@bp.delete("/recipients/<path:recipient>")
@contract(responses={200: Erased}, errors=(400,))
def erase_recipient(recipient: str):
    """Erase an address and every personal detail tied to it; campaign totals stay."""
    recipient = fields.recipient(recipient, "recipient")
    counts = store().erase_recipient(recipient, actor=f"api:{g.api_key_name}")
    return jsonify({"erased": counts})
