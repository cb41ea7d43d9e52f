"""The declared request bodies of the delivery and recipients API.

``Body`` models of ``app/api/schemas.py`` (unknown fields refused and named), each field
checked by the rule ``core`` already has for it, so the API and the command line agree; the
views declare them with ``@contract``, which answers a value that breaks its model with a 400
naming the field as the client sent it (``events[2].event``).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from app.api.schemas import Body, Recipient, fail
from app.core import fields
from app.core.delivery import MAX_EVENTS, DeliveryEvent, parse_time
from app.core.fields import FieldError
from app.core.send_times import MAX_RECIPIENTS


def _rule(check, value):
    try:
        return check(value)
    except FieldError as error:
        raise fail(error.problem) from None


class GenericEvent(Body):
    """One delivery event in Opentrack's own shape."""

    noun: ClassVar[str] = "an event"
    message_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    campaign: str | None = None
    recipient: str | None = None
    event: Literal["delivered", "deferred", "bounced", "complained", "unsubscribed"]
    bounce_type: Literal["hard", "soft"] | None = None
    at: str | float | None = None
    provider_event_id: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("campaign")
    @classmethod
    def _campaign(cls, value):
        return None if value is None else _rule(lambda v: fields.slug(v, ""), value)

    @field_validator("recipient", mode="before")
    @classmethod
    def _recipient(cls, value):
        return None if value is None else _rule(lambda v: fields.recipient(v, ""), value)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value):
        return None if value is None else _rule(lambda v: parse_time(v, ""), value)

    def to_event(self, name: str) -> DeliveryEvent:
        """Return the event in the one shape, or raise FieldError for fields that clash."""
        if self.bounce_type is not None and self.event != "bounced":
            raise FieldError(f"{name}.bounce_type", "is only for a 'bounced' event")
        if self.message_id is not None and (self.campaign or self.recipient):
            problem = "names the message: leave out campaign and recipient"
            raise FieldError(f"{name}.message_id", problem)
        if self.message_id is None and not (self.campaign and self.recipient):
            raise FieldError(f"{name}.message_id", "or both campaign and recipient are required")
        from app.core.times import now_iso

        return DeliveryEvent(
            provider="generic",
            event=self.event,
            at=self.at or now_iso(),
            provider_event_id=self.provider_event_id or "",
            message_id=self.message_id,
            campaign_id=self.campaign,
            recipient=self.recipient,
            bounce_type=(self.bounce_type or "soft") if self.event == "bounced" else None,
        )


class GenericEvents(Body):
    """``POST /api/v1/delivery-events/generic``: up to 1,000 events."""

    noun: ClassVar[str] = "a batch of delivery events"
    events: Annotated[list[GenericEvent], Field(min_length=1, max_length=MAX_EVENTS)]

    def to_events(self) -> list[DeliveryEvent]:
        """Return the events in the one shape, in order."""
        return [event.to_event(f"events[{i}]") for i, event in enumerate(self.events)]


class SendTimesRequest(Body):
    """``POST /api/v1/send-times``: up to 10,000 recipients and the day to send on."""

    noun: ClassVar[str] = "a send-times request"
    recipients: Annotated[list[Recipient], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    day: str | None = None
