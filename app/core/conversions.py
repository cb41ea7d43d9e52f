"""Conversions: the fields a conversion report holds, and a campaign's conversion numbers; pure.

A conversion names its site, an order id (one conversion per site and order, however often it
is reported), an event, and optionally a value in an ISO 4217 currency, kept exactly: as the
decimal text given and as an integer count of the currency's minor units.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from iso4217 import Currency

from app.core.attribution import read_ot
from app.core.fields import SLUG, SLUG_RULE, FieldError, slug, text
from app.core.fields import recipient as recipient_field

EVENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_ORDER = 200
# A value above this is a typo or an attack, not an order.
MAX_VALUE = Decimal("1e12")
DEFAULT_EVENT = "purchase"
KINDS = ("click", "view_through", "unattributed")

CONVERSION_DEFINITIONS = {
    "conversions": "Conversions whose recipient's last human click within the campaign's "
    "attribution window was on this campaign's email; machine clicks never count.",
    "conversion_rate": "Recipients with an attributed conversion, divided by human clickers "
    "(over_clickers) and by tracked messages (over_messages; delivered ones once delivery "
    "events arrive).",
    "revenue": "The attributed conversions' values summed per currency, never converted.",
    "revenue_per_email": "Attributed revenue per currency divided by the messages counted in "
    "over_messages.",
    "roas": "Attributed revenue in the cost's currency divided by the campaign's cost.",
    "view_through": "Conversions with no human click in the window but a human open within "
    "24 hours before; reported apart, never added to the conversions above.",
    "unattributed": "Conversions reported for this campaign's recipient (or with its ot) "
    "without a human click in the window; reported apart.",
}


@dataclass(frozen=True)
class ConversionFields:
    """A conversion report's values, checked."""

    site: str
    order_id: str
    event: str
    value: str | None
    amount_minor: int | None
    currency: str | None


def currency(value, field: str = "currency") -> tuple[str, int]:
    """Return an ISO 4217 currency code (upper-case) and its number of minor-unit digits."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise FieldError(field, "must be an ISO 4217 currency code such as USD or EUR")
    code = value.strip().upper()
    try:
        found = Currency(code)
    except ValueError:
        raise FieldError(field, f"'{code}' is not an ISO 4217 currency code") from None
    if found.exponent is None:
        raise FieldError(field, f"'{code}' is not a currency of payments (it has no minor unit)")
    return code, found.exponent


def amount(value, exponent: int, field: str = "value") -> tuple[str, int]:
    """Return a money amount as normalised decimal text and as an integer of minor units."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldError(field, "must be a decimal number such as 149.00")
    raw = value.strip() if isinstance(value, str) else repr(value)
    if not re.fullmatch(r"\d{1,13}(\.\d+)?", raw):
        raise FieldError(field, "must be a non-negative decimal number such as 149.00")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise FieldError(field, "must be a decimal number such as 149.00") from None
    if number > MAX_VALUE:
        raise FieldError(field, f"must be at most {MAX_VALUE:,.0f}")
    quantum = Decimal(1).scaleb(-exponent)
    exact = number.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if exact != number:
        raise FieldError(field, f"has more decimal places than its currency's {exponent}")
    return str(exact), int(exact.scaleb(exponent))


def conversion_fields(values: dict) -> ConversionFields:
    """Return a conversion report's checked values; raise FieldError naming the field at fault."""
    site = values.get("site")
    if not isinstance(site, str) or not SLUG.match(site):
        raise FieldError("site", f"must be a slug: {SLUG_RULE}")
    order_id = text(values.get("order"), "order", MAX_ORDER)
    event = values.get("event")
    if event is None or event == "":
        event = DEFAULT_EVENT
    if not isinstance(event, str) or not EVENT.match(event):
        raise FieldError("event", "must be 1-64 lower-case letters, digits, '_', '.' or '-'")
    given_value = values.get("value") not in (None, "")
    given_currency = values.get("currency") not in (None, "")
    if given_value and not given_currency:
        raise FieldError("currency", "is required with a value")
    if given_currency and not given_value:
        raise FieldError("value", "is required with a currency")
    if not given_value:
        return ConversionFields(site, order_id, event, None, None, None)
    code, exponent = currency(values.get("currency"))
    value, minor = amount(values.get("value"), exponent)
    return ConversionFields(site, order_id, event, value, minor, code)


def money(minor: int, code: str) -> str:
    """Return an amount of minor units as decimal text in its currency (1490 USD is "14.90")."""
    exponent = Currency(code).exponent or 0
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def _per_currency(rows: list[dict], kind: str) -> dict[str, str]:
    totals: dict[str, int] = {}
    for row in rows:
        if row["kind"] == kind and row["currency"]:
            totals[row["currency"]] = totals.get(row["currency"], 0) + (row["amount"] or 0)
    return {code: money(total, code) for code, total in sorted(totals.items())}


def _share(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def conversion_numbers(campaign: dict, numbers: dict, rows: list[dict]) -> dict:
    """Return a campaign's conversion numbers from its grouped conversion rows.

    ``numbers`` are the campaign's rates (``core.stats``); ``rows`` hold per attribution
    ``kind`` and ``currency`` the ``conversions``, converting ``recipients`` and ``amount``
    in minor units. View-through counts only when the campaign asks for it.
    """
    view_through = bool(campaign.get("view_through"))
    if not view_through:
        rows = [
            {**row, "kind": "unattributed"} if row["kind"] == "view_through" else row
            for row in rows
        ]

    def total(kind: str, key: str) -> int:
        return sum(row[key] for row in rows if row["kind"] == kind)

    attributed = total("click", "conversions")
    converted = total("click", "recipients")
    clickers = numbers.get("clickers") or 0
    if numbers.get("delivered"):  # 0 until delivery events arrive
        of, messages = "delivered", numbers["delivered"]
    else:
        of, messages = "tracked", numbers.get("tracked", numbers["sent"])
    revenue = _per_currency(rows, "click")
    per_email = {
        code: str((Decimal(value) / messages).quantize(Decimal("0.0001")))
        for code, value in revenue.items()
        if messages > 0
    }
    cost, cost_currency = campaign.get("cost"), campaign.get("cost_currency")
    roas = None
    if cost is not None and cost_currency and Decimal(cost) > 0:
        roas = float(
            (Decimal(revenue.get(cost_currency, "0")) / Decimal(cost)).quantize(Decimal("0.0001"))
        )
    result = {
        "conversions": attributed,
        "converted_recipients": converted,
        "revenue": revenue,
        "conversion_rate": {
            "over_clickers": _share(converted, clickers),
            "over_messages": _share(converted, messages),
            "of": of,
            "counts": {"converted": converted, "clickers": clickers, "messages": messages},
        },
        "revenue_per_email": per_email,
        "cost": {"value": cost, "currency": cost_currency} if cost is not None else None,
        "roas": roas,
        "view_through": None,
        "unattributed": {
            "conversions": total("unattributed", "conversions"),
            "revenue": _per_currency(rows, "unattributed"),
        },
        "attribution_window_days": campaign.get("attribution_window_days", 7.0),
    }
    if view_through:
        result["view_through"] = {
            "conversions": total("view_through", "conversions"),
            "revenue": _per_currency(rows, "view_through"),
        }
    return result


def conversion_report(store, campaign: dict, numbers: dict) -> dict:
    """Return a stored campaign's conversion numbers and its conversions per link."""
    result = conversion_numbers(campaign, numbers, store.conversion_counts(campaign["id"]))
    per_link: dict[int, dict] = {}
    for row in store.link_conversions(campaign["id"]):
        link = per_link.setdefault(
            row["link_id"],
            {"link_id": row["link_id"], "url": row["url"], "conversions": 0, "revenue": {}},
        )
        link["conversions"] += row["conversions"]
        if row["currency"]:
            link["revenue"][row["currency"]] = money(row["amount"] or 0, row["currency"])
    result["links"] = list(per_link.values())
    return result


def webhook_payload(event_id: str, conversion: dict, kind: str, created_at: str) -> dict:
    """Return the body of a ``conversion`` webhook delivery (no address: ids and amounts)."""
    return {
        "id": event_id,
        "type": "conversion",
        "created_at": created_at,
        "at": conversion["at"],
        "campaign_id": conversion["campaign_id"],
        "message_id": conversion["message_id"],
        "site": conversion["site"],
        "order": conversion["order_id"],
        "event": conversion["event"],
        "value": conversion["value"],
        "currency": conversion["currency"],
        "attribution": kind,
        "verdict": "human",
    }


def record_conversion(
    store, serializer, values: dict, source: str, at: float | None = None
) -> tuple[dict, bool]:
    """Check a conversion report and store it once per site and order; return (row, new).

    It names its message by ``ot`` or by ``recipient`` with ``campaign``, never both. A
    recipient the campaign has no message for is kept, unattributed, for that campaign.
    Raises FieldError naming the field at fault, before anything is stored.
    """
    checked = conversion_fields(values)
    ot = values.get("ot")
    given = [key for key in ("recipient", "campaign") if values.get(key) not in (None, "")]
    if ot not in (None, "") and given:
        raise FieldError(given[0], "cannot be sent with 'ot': name the message one way")
    message_id = campaign_id = link_id = None
    window_days = 7.0
    if ot not in (None, ""):
        found = read_ot(serializer, ot) if isinstance(ot, str) else None
        if found is None:
            raise FieldError("ot", "is not an attribution token of ours")
        via, (message_id, link_id) = "ot", found
        message = store.conversion_message(message_id, None)
        if message is None:
            # Its campaign was deleted: kept only so that a repeat stays one conversion.
            via, message_id, link_id = "none", None, None
        else:
            message_id, campaign_id, window_days = message
    elif given:
        if len(given) < 2:
            missing = "campaign" if given[0] == "recipient" else "recipient"
            raise FieldError(missing, f"is required with '{given[0]}'")
        campaign_id = slug(values.get("campaign"), "campaign")
        address = recipient_field(values.get("recipient"), "recipient")
        campaign = store.get_campaign(campaign_id)
        if campaign is None:
            raise FieldError("campaign", f"names no campaign ('{campaign_id}')")
        via = "recipient"
        window_days = float(campaign["attribution_window_days"])
        message = store.conversion_message(None, campaign_id, address)
        if message is not None:
            message_id = message[0]
    else:
        raise FieldError("ot", "is required (or 'recipient' with 'campaign')")
    return store.record_conversion(
        checked, source, via, message_id, campaign_id, link_id, window_days, at
    )
