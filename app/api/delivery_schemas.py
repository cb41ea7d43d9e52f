"""The declared request bodies and query strings of the delivery and recipients API.

Pydantic models, unknown fields refused (``extra="forbid"``), each field checked by the rule
``core`` already has for it, so the API and the command line agree. They follow the pattern
of the API's contracts (a ``Body`` per request body, a ``Query`` per query string, field types
over ``core.fields`` rules): when those land, these classes take ``Body``/``Query`` as their
bases and each view its ``@contract``. ``parse`` answers a value that breaks its model with a
400 naming the field as the client sent it (``events[2].event``).
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from app.api.errors import ApiError
from app.core import fields
from app.core.delivery import MAX_EVENTS, DeliveryEvent, parse_time
from app.core.fields import FieldError
from app.core.send_times import MAX_RECIPIENTS


class Strict(BaseModel):
    """A JSON object whose fields are all declared; any other is refused."""

    model_config = ConfigDict(extra="forbid")


def _rule(check, value, name=""):
    try:
        return check(value)
    except FieldError as error:
        raise ValueError(error.problem) from None


# A recipient as inject stores it: an address lower-cased, a subscriber id as given.
Recipient = Annotated[str, BeforeValidator(lambda v: _rule(lambda x: fields.recipient(x, ""), v))]


class GenericEvent(Strict):
    """One delivery event in Opentrack's own shape."""

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
        return None if value is None else _rule(fields.slug, value)

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


class GenericEvents(Strict):
    """``POST /api/v1/delivery-events/generic``: up to 1,000 events."""

    events: Annotated[list[GenericEvent], Field(min_length=1, max_length=MAX_EVENTS)]

    def to_events(self) -> list[DeliveryEvent]:
        """Return the events in the one shape, in order."""
        return [event.to_event(f"events[{i}]") for i, event in enumerate(self.events)]


class SendTimesRequest(Strict):
    """``POST /api/v1/send-times``: up to 10,000 recipients and the day to send on."""

    recipients: Annotated[list[Recipient], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    day: str | None = None


def field_path(location: tuple) -> str:
    """Return a field's path as the client wrote it: ``events[2].event``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def problem_of(error: dict) -> str:
    """Return what is wrong with a value, in the words of the API's other errors."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be {context['expected']}"
    if kind == "list_type":
        return "must be a list"
    if kind == "too_short":
        return "is required and must be a non-empty list"
    if kind == "too_long":
        return f"may hold at most {context.get('max_length')} items per call"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    return error["msg"][:1].lower() + error["msg"][1:]


def parse(model: type[BaseModel], data: Any) -> BaseModel:
    """Return ``data`` validated by ``model``, or raise the 400 naming the field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # An unknown field is named first: it is usually the typo behind the other errors.
        errors = error.errors(include_url=False)
        first = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        path = field_path(first["loc"])
        message = f"'{path}' {problem_of(first)}." if path else f"The request {problem_of(first)}."
        raise ApiError(400, "invalid_field", message) from None
