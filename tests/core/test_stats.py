import pytest

from app.core.stats import campaign_numbers, message_state, ratio


@pytest.mark.parametrize(
    ("human", "mpp", "state"),
    [(0, 0, "not_opened"), (1, 0, "opened"), (0, 3, "unknown"), (2, 5, "opened")],
)
def test_message_state(human, mpp, state):
    assert message_state(human, mpp) == state


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(0, 0, None), (1, 3, 0.3333), (3, 3, 1.0), (0, 10, 0.0), (5, -1, None)],
)
def test_ratio(numerator, denominator, expected):
    assert ratio(numerator, denominator) == expected


def counters(**values):
    base = {
        "sent": 0,
        "opened": 0,
        "unknown": 0,
        "fetched": 0,
        "total_opens": 0,
        "human_opens": 0,
        "machine_opens": 0,
        "first_open_at": None,
        "last_open_at": None,
    }
    return {**base, **values}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"sent": 10, "opened": 3, "unknown": 2, "fetched": 7},
            {
                "not_opened": 5,
                "open_rate": 0.7,
                "human_open_rate": 0.3,
                "visible_open_rate": 0.375,
            },
        ),
        (
            {"sent": 0},
            {"not_opened": 0, "open_rate": None, "human_open_rate": None},
        ),
        (
            {"sent": 4, "unknown": 4, "fetched": 4},
            {"not_opened": 0, "open_rate": 1.0, "human_open_rate": 0.0, "visible_open_rate": None},
        ),
    ],
)
def test_campaign_numbers(values, expected):
    numbers = campaign_numbers(counters(**values))
    for name, value in expected.items():
        assert numbers[name] == value


def test_every_rate_comes_with_its_counts():
    numbers = campaign_numbers(counters(sent=10, opened=3, unknown=2, fetched=7))
    assert numbers["rates"] == {
        "open_rate": {"count": 7, "of": 10},
        "human_open_rate": {"count": 3, "of": 10},
        "visible_open_rate": {"count": 3, "of": 8},
    }
