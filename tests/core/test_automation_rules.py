"""The pure parts of follow-up rules: audiences, due times, rule requests, download tokens."""

import pytest

from app.core import automations as rules
from app.core.fields import FieldError
from app.core.tokens import list_serializer, mint_list_token


@pytest.mark.parametrize(
    ("follow_up", "states", "without_clicks"),
    [
        ({"include_unknown": False}, ("not_opened",), False),
        ({"include_unknown": True}, ("not_opened", "unknown"), False),
        ({"include_unknown": False, "audience": "not_opened_or_unknown"}, None, False),
        ({"include_unknown": False, "audience": "opened_not_clicked"}, ("opened",), True),
        (
            {"include_unknown": True, "audience": "not_clicked"},
            ("not_opened", "unknown", "opened"),
            True,
        ),
    ],
)
def test_audience_filter(follow_up, states, without_clicks):
    got_states, got_clicks = rules.audience_filter(follow_up)
    if states is not None:
        assert got_states == states
    else:
        assert got_states == ("not_opened", "unknown")
    assert got_clicks is without_clicks


@pytest.mark.parametrize(
    ("rule", "due"),
    [
        ({"after_hours": 2, "last_injected_at": "2026-11-03T09:00:00.000Z"}, 1793703600.0),
        (
            {
                "after_hours": 2,
                "sent_at": "2026-11-03T08:00:00.000Z",
                "last_injected_at": "2026-11-03T09:00:00.000Z",
            },
            1793700000.0,
        ),
        ({"after_hours": 2, "sent_at": None, "last_injected_at": None}, None),
    ],
)
def test_due_at_counts_from_sent_at_else_the_last_injection(rule, due):
    assert rules.due_at(rule) == due


def test_a_good_rule_request():
    wanted = rules.parse_rule({"after_hours": 72, "follow_up": {"id": "nov-again"}})
    assert wanted == rules.RuleRequest("not_opened", 72.0, "nov-again", "nov-again", True)
    assert rules.parse_rule({"after_hours": 1, "follow_up": {"id": "a"}}).after_hours == 1
    assert rules.parse_rule({"after_hours": 2160, "follow_up": {"id": "a"}}).after_hours == 2160


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"after_hours": 0.99, "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": float("nan"), "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": None, "follow_up": {"id": "a"}}, "after_hours"),
        ({"after_hours": 5, "audience": None, "follow_up": {"id": "a"}}, "audience"),
        ({"after_hours": 5, "follow_up": "a"}, "follow_up"),
        ({"after_hours": 5, "follow_up": {"id": 5}}, "follow_up.id"),
    ],
)
def test_bad_rule_requests_name_the_field(body, field):
    with pytest.raises(FieldError) as error:
        rules.parse_rule(body)
    assert error.value.field == field


def test_refusals():
    tracked = {"id": "c", "track": True, "track_clicks": False}
    assert rules.refusal(tracked, "not_opened") is None
    assert "track_clicks" in rules.refusal(tracked, "opened_not_clicked")
    assert "not tracked" in rules.refusal({**tracked, "track": False}, "not_opened")


def test_download_tokens_expire_and_are_signed():
    serializer = list_serializer(["k1"])
    token = mint_list_token(serializer, "au_1", 1000)
    assert rules.read_list_address(serializer, token, 999) == ("au_1", False)
    assert rules.read_list_address(serializer, token, 1001) == ("au_1", True)
    # Rotated keys: a token signed with the old key still reads.
    assert rules.read_list_address(list_serializer(["k1", "k2"]), token, 0)[0] == "au_1"
    with pytest.raises(LookupError):
        rules.read_list_address(list_serializer(["k2"]), token, 0)
    with pytest.raises(LookupError):
        rules.read_list_address(serializer, serializer.dumps("au_1"), 0)


def test_list_links_use_the_base_url_setting_before_the_rules_own():
    links = rules.ListLinks(list_serializer(["k"]), None, 1)
    rule = {"id": "au_1", "base_url": "http://a.example/"}
    assert links.for_rule(rule, 0)["csv"].startswith("http://a.example/follow-up-lists/")
    assert links.for_rule(rule, 0)["expires_at"] == "1970-01-01T01:00:00.000Z"
    links.base_url = "https://t.example.com"
    assert links.for_rule(rule, 0)["json"].startswith("https://t.example.com/follow-up-lists/")
