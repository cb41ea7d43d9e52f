"""The conversions API: server-side conversion reports, and a campaign's attribution settings.

Each body is a declared ``Body`` that refuses unknown fields, naming them and the fields
there are; the deeper rules (ISO 4217 currencies, decimals, slugs) are ``core.conversions``'s,
shared with the conversion pixel. The answers are ``Answer`` models (``Conversion``, and
``EstimatedOpenRate`` and ``ConversionNumbers`` for the campaign stats), checked under tests
like every other answer of the API.
"""

from typing import ClassVar

from flask import jsonify
from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr

from app.api.base import bp
from app.api.schemas import Answer, Body, contract
from app.core import conversions
from app.core.attribution import attribution_serializer
from app.core.fields import FieldError
from app.services import current

MAX_WINDOW_DAYS = 90


class ConversionReport(Body):
    """``POST /api/v1/conversions``: a conversion named by ``ot`` or by recipient and campaign."""

    noun: ClassVar[str] = "a conversion"

    site: StrictStr
    order: StrictStr
    event: StrictStr | None = None
    value: StrictStr | StrictInt | StrictFloat | None = None
    currency: StrictStr | None = None
    ot: StrictStr | None = None
    recipient: StrictStr | None = None
    campaign: StrictStr | None = None


class AttributionSettings(Body):
    """The attribution fields of ``PATCH /api/v1/campaigns/<id>`` (and of its creation)."""

    noun: ClassVar[str] = "a campaign's attribution settings"

    attribution: StrictBool | None = None
    attribution_window_days: StrictInt | StrictFloat | None = None
    view_through: StrictBool | None = None
    cost: StrictStr | StrictInt | StrictFloat | None = None
    cost_currency: StrictStr | None = None


SETTING_FIELDS = tuple(AttributionSettings.model_fields)


class Conversion(Answer):
    """A stored conversion, with its attribution as it stands now."""

    site: str
    order: str
    event: str
    value: str | None
    currency: str | None
    at: str
    campaign_id: str | None
    message_id: str | None
    attribution: str
    duplicate: bool


class EstimatedOpenRate(Answer):
    """A campaign's estimated true open rate and its 95% interval: rates, never counts."""

    value: float | None
    low: float | None
    high: float | None
    method: str


class Apart(Answer):
    conversions: int
    revenue: dict[str, str]


class ConversionRate(Answer):
    over_clickers: float | None
    over_messages: float | None
    of: str
    counts: dict[str, int]


class Cost(Answer):
    value: str
    currency: str


class LinkConversions(Answer):
    link_id: int
    url: str
    conversions: int
    revenue: dict[str, str]


class ConversionNumbers(Answer):
    """The ``conversions`` of a campaign's stats."""

    conversions: int
    converted_recipients: int
    revenue: dict[str, str]
    conversion_rate: ConversionRate
    revenue_per_email: dict[str, str]
    cost: Cost | None
    roas: float | None
    view_through: Apart | None
    unattributed: Apart
    attribution_window_days: float
    links: list[LinkConversions]


class AttributionFields(Answer):
    """The attribution settings every campaign answer carries."""

    attribution: bool
    attribution_window_days: float
    view_through: bool
    cost: str | None
    cost_currency: str | None


def attribution_settings(body: dict) -> dict:
    """Return the checked attribution settings a campaign body holds (only those given)."""
    settings = AttributionSettings.model_validate(body).model_dump(exclude_unset=True)
    if settings.get("attribution") is None:
        settings.pop("attribution", None)
    if settings.get("view_through") is None:
        settings.pop("view_through", None)
    if "attribution_window_days" in settings:
        days = settings["attribution_window_days"]
        if days is None or not 0 < days <= MAX_WINDOW_DAYS:
            raise FieldError(
                "attribution_window_days",
                f"must be a number of days above 0, at most {MAX_WINDOW_DAYS}",
            )
        settings["attribution_window_days"] = float(days)
    if ("cost" in settings) != ("cost_currency" in settings):
        missing = "cost_currency" if "cost" in settings else "cost"
        given = "cost" if missing == "cost_currency" else "cost_currency"
        raise FieldError(missing, f"is required with '{given}'")
    if "cost" in settings:
        if settings["cost"] is None or settings["cost_currency"] is None:
            settings["cost"] = settings["cost_currency"] = None
        else:
            code, exponent = conversions.currency(settings["cost_currency"], "cost_currency")
            settings["cost"], _ = conversions.amount(settings["cost"], exponent, "cost")
            settings["cost_currency"] = code
    return settings


@bp.post("/conversions")
@contract(body=ConversionReport, responses={200: Conversion, 201: Conversion})
def report_conversion(body: ConversionReport):
    """Record a conversion reported by the sender's server; once per site and order.

    201 for a new conversion; 200 with ``duplicate`` true for one already stored.
    """
    report = body.model_dump()
    opentrack = current()
    serializer = attribution_serializer(opentrack.signers.click.secret_keys)
    row, new = conversions.record_conversion(opentrack.store, serializer, report, "api")
    return jsonify(conversion_json(row, new)), 201 if new else 200


def conversion_json(row: dict, new: bool) -> dict:
    """Return a stored conversion as the API shows it."""
    return {
        "site": row["site"],
        "order": row["order_id"],
        "event": row["event"],
        "value": row["value"],
        "currency": row["currency"],
        "at": row["at"],
        "campaign_id": row["campaign_id"],
        "message_id": row["message_id"],
        "attribution": row["kind"],
        "duplicate": not new,
    }
