import pytest

from app.core.conversions import conversion_fields, conversion_numbers, money
from app.core.fields import FieldError


@pytest.mark.parametrize(
    ("value", "currency", "text", "minor"),
    [
        ("149.00", "USD", "149.00", 14900),
        ("149", "usd", "149.00", 14900),
        (149.5, "EUR", "149.50", 14950),
        (1000, "JPY", "1000", 1000),
        ("1.234", "BHD", "1.234", 1234),
        ("0", "USD", "0.00", 0),
    ],
)
def test_values_are_kept_exactly_in_minor_units(value, currency, text, minor):
    fields = conversion_fields({"site": "s", "order": "o", "value": value, "currency": currency})
    assert (fields.value, fields.amount_minor, fields.currency) == (text, minor, currency.upper())


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"order": "o"}, "site"),
        ({"site": "s"}, "order"),
        ({"site": "s", "order": "o", "event": "Big Buy"}, "event"),
        ({"site": "s", "order": "o", "value": "1"}, "currency"),
        ({"site": "s", "order": "o", "currency": "USD"}, "value"),
        ({"site": "s", "order": "o", "value": "1.5", "currency": "JPY"}, "value"),
        ({"site": "s", "order": "o", "value": "1e3", "currency": "USD"}, "value"),
        ({"site": "s", "order": "o", "value": "NaN", "currency": "USD"}, "value"),
        ({"site": "s", "order": "o", "value": True, "currency": "USD"}, "value"),
        ({"site": "s", "order": "o", "value": "2000000000000", "currency": "USD"}, "value"),
        ({"site": "s", "order": "o", "value": "1", "currency": "ZZZ"}, "currency"),
        ({"site": "s", "order": "o", "value": "1", "currency": "XAU"}, "currency"),
        ({"site": "s", "order": "o", "value": "1", "currency": "US"}, "currency"),
    ],
)
def test_bad_fields_are_named(values, field):
    with pytest.raises(FieldError) as error:
        conversion_fields(values)
    assert error.value.field == field


def test_money():
    assert money(14900, "USD") == "149.00"
    assert money(5, "JPY") == "5"
    assert money(1, "BHD") == "0.001"


def rows(*items):
    keys = ("kind", "currency", "conversions", "recipients", "amount")
    return [dict(zip(keys, item, strict=True)) for item in items]


def test_numbers_keep_view_through_and_unattributed_apart():
    campaign = {"view_through": True, "cost": "50.00", "cost_currency": "USD"}
    numbers = {"sent": 100, "tracked": 100, "clickers": 10}
    got = conversion_numbers(
        campaign,
        numbers,
        rows(
            ("click", "USD", 3, 2, 15000),
            ("click", "EUR", 1, 1, 1000),
            ("view_through", "USD", 1, 1, 500),
            ("unattributed", None, 2, 2, None),
        ),
    )
    assert got["conversions"] == 4
    assert got["converted_recipients"] == 3
    assert got["revenue"] == {"EUR": "10.00", "USD": "150.00"}
    assert got["conversion_rate"]["over_clickers"] == 0.3
    assert got["conversion_rate"]["over_messages"] == 0.03
    assert got["revenue_per_email"] == {"EUR": "0.1000", "USD": "1.5000"}
    assert got["roas"] == 3.0
    assert got["view_through"] == {"conversions": 1, "revenue": {"USD": "5.00"}}
    assert got["unattributed"] == {"conversions": 2, "revenue": {}}


def test_without_view_through_those_conversions_are_unattributed():
    got = conversion_numbers(
        {}, {"sent": 10, "tracked": 10}, rows(("view_through", "USD", 1, 1, 500))
    )
    assert got["view_through"] is None
    assert got["unattributed"] == {"conversions": 1, "revenue": {"USD": "5.00"}}
    assert got["roas"] is None
    assert got["conversion_rate"]["over_clickers"] is None


def test_rates_are_over_delivered_messages_once_they_exist():
    got = conversion_numbers(
        {},
        {"sent": 10, "tracked": 10, "delivered": 4, "clickers": 2},
        rows(("click", "USD", 1, 1, 100)),
    )
    assert got["conversion_rate"]["of"] == "delivered"
    assert got["conversion_rate"]["over_messages"] == 0.25
