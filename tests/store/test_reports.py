import pytest

from app.core.times import from_iso, to_iso


@pytest.fixture
def reports(store):
    """The dashboard's report queries over a fresh store."""
    return store


@pytest.fixture
def mailing(store):
    """A campaign of 130 messages, registered ten at a time; every third opened, every fifth MPP."""
    store.create_campaign("weekly", "Weekly")
    messages = []
    for start in range(0, 130, 10):
        batch = [(f"user{n:03d}@example.com", None, True) for n in range(start, start + 10)]
        messages += store.register_messages("weekly", batch)
    events = []
    for number, message in enumerate(messages):
        injected = from_iso(message["injected_at"])
        if number % 3 == 0:
            events.append(event(message, injected + 60 * number + 30, "human", "direct"))
        elif number % 5 == 0:
            events.append(event(message, injected + 30, "machine", "apple_mpp"))
    store.record_opens(events)
    return messages


def event(message: dict, at: float, verdict: str, source: str) -> dict:
    return {
        "event_key": f"{message['id']}-{at}",
        "message_id": message["id"],
        "at": to_iso(at),
        "verdict": verdict,
        "source": source,
        "user_agent": "Mozilla/5.0",
    }


def test_pages_are_newest_first_without_gaps_or_repeats(reports, mailing):
    seen = []
    for offset in range(0, 150, 50):
        seen += [m["recipient"] for m in reports.recipients("weekly", limit=50, offset=offset)]
    assert seen == [m["recipient"] for m in reversed(mailing)]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("opened", lambda n: n % 3 == 0),
        ("unknown", lambda n: n % 3 != 0 and n % 5 == 0),
        ("not_opened", lambda n: n % 3 != 0 and n % 5 != 0),
    ],
)
def test_state_filter(reports, mailing, state, expected):
    wanted = [m["recipient"] for n, m in enumerate(mailing) if expected(n)]
    page = reports.recipients("weekly", state, limit=1000)
    assert [m["recipient"] for m in page] == list(reversed(wanted))
    assert all(m["state"] == state for m in page)
    assert reports.count_recipients("weekly", state) == len(wanted)
    second = reports.recipients("weekly", state, limit=5, offset=5)
    assert [m["recipient"] for m in second] == list(reversed(wanted))[5:10]


def test_search_matches_the_start_of_the_address_whatever_its_case(reports, mailing):
    found = reports.recipients("weekly", search="USER01")
    assert sorted(m["recipient"] for m in found) == [
        f"user{n:03d}@example.com" for n in range(10, 20)
    ]
    assert reports.count_recipients("weekly", search=" user01 ") == 10
    assert reports.count_recipients("weekly", "opened", "user01") == 3  # 12, 15, 18
    assert reports.recipients("weekly", "opened", "user01", limit=2, offset=1)[0]["recipient"] == (
        "user015@example.com"
    )
    assert reports.recipients("weekly", search="%") == []
    # A prefix, not a substring: the middle of an address finds nothing.
    assert reports.count_recipients("weekly", search="example.com") == 0
    assert reports.count_recipients("weekly", search="user129@example.com") == 1
    assert reports.count_recipients("weekly", "", "") == 130
    exported = list(reports.iter_recipients("weekly", search="user12"))
    assert [m["recipient"] for m in exported] == [f"user{n}@example.com" for n in range(120, 130)]


def test_search_finds_subscriber_ids_as_given(reports, store):
    store.create_campaign("ids", "Ids")
    rows = [("ABC-1", None, True), ("abc-2", None, True), ("x", None, True)]
    store.register_messages("ids", rows)
    # As typed or lower-cased: "ABC" finds ABC-1 and abc-2, "abc" only abc-2.
    assert reports.count_recipients("ids", search="ABC") == 2
    assert reports.count_recipients("ids", search="abc") == 1
    assert {m["recipient"] for m in reports.recipients("ids", search="ABC-1")} == {"ABC-1"}


@pytest.mark.parametrize("state", ["", "opened", "not_opened"])
def test_pages_past_the_middle_read_backwards_to_the_same_rows(reports, mailing, state):
    total = reports.count_recipients("weekly", state)
    for offset in (0, 20, total // 2, total // 2 + 1, total - 50, total - 7, total - 1):
        offset = max(0, offset)
        forwards = reports.recipients("weekly", state, limit=50, offset=offset)
        backwards = reports.recipients("weekly", state, limit=50, offset=offset, total=total)
        assert [m["id"] for m in backwards] == [m["id"] for m in forwards], offset
    assert reports.recipients("weekly", state, limit=50, offset=total, total=total) == []


def test_next_prefix_bounds_every_text_with_the_prefix():
    from app.store.database import next_prefix

    assert next_prefix("abc") == "abd"
    assert next_prefix("a\ud7ff") == "a\ue000"
    assert next_prefix("a\U0010ffff") == "b"
    assert next_prefix("\U0010ffff") is None


def test_unknown_state_is_ignored_and_other_campaigns_are_not_listed(reports, store, mailing):
    store.create_campaign("other", "Other")
    store.register_messages("other", [("user000@example.com", None, True)])
    assert reports.count_recipients("weekly", "bogus") == 130
    assert reports.recipients("nope") == []


def test_first_open_counts_use_the_first_human_open(reports, mailing):
    # Opened message n was first opened 60 * n + 30 seconds after injection (n = 0, 3, ..., 129).
    counts = reports.first_open_counts("weekly")
    # < 5 min: 0, 3; 5-15 min: 6-12; 15-60 min: 15-57; 1-3 h: 60-129.
    assert counts == {0: 2, 1: 3, 2: 15, 3: 24}
    assert sum(counts.values()) == len(range(0, 130, 3))


def test_first_open_counts_survive_a_rebuild_and_follow_a_late_earlier_open(
    reports, store, mailing
):
    before = reports.first_open_counts("weekly")
    store.rebuild_counters("weekly")
    assert reports.first_open_counts("weekly") == before
    # Message 129 (first open after 7770 s, 1-3 h) gets a human open stamped 60 s after its
    # injection, stored later: it moves to the "< 5 min" bucket.
    late = mailing[129]
    store.record_opens([event(late, from_iso(late["injected_at"]) + 60, "human", "direct")])
    after = reports.first_open_counts("weekly")
    assert after == {**before, 0: before[0] + 1, 3: before[3] - 1}
    store.rebuild_counters("weekly")
    assert reports.first_open_counts("weekly") == after


def test_first_open_counts_move_with_a_backdate_and_go_with_the_campaign(reports, store, mailing):
    reports.backdate_campaign("weekly", 86400)
    assert reports.first_open_counts("weekly") == {7: 44}  # 1-2 days after injection
    store.delete_campaign("weekly", "test")
    assert reports.first_open_counts("weekly") == {}


def test_backdate_moves_injection_times(reports, store, mailing):
    before = from_iso(store.get_campaign("weekly")["first_injected_at"])
    reports.backdate_campaign("weekly", 86400)
    campaign = store.get_campaign("weekly")
    assert from_iso(campaign["first_injected_at"]) == pytest.approx(before - 86400, abs=0.002)
    message = store.get_message(mailing[0]["id"])
    assert from_iso(message["injected_at"]) == pytest.approx(
        from_iso(mailing[0]["injected_at"]) - 86400, abs=0.002
    )
    assert message["injected_at"].endswith("Z") and len(message["injected_at"]) == 24


@pytest.mark.parametrize("states", [("not_opened",), ("unknown",), ("not_opened", "unknown")])
def test_non_opener_counts_match_the_export_with_and_without_a_cutoff(
    reports, store, mailing, states
):
    store.erase_recipient(mailing[1]["recipient"], actor="test")  # n = 1: not opened
    store.erase_recipient(mailing[5]["recipient"], actor="test")  # n = 5: unknown (MPP)
    store.suppress(["user002@example.com"], "test")
    cutoffs = ["9999", mailing[64]["injected_at"], "2000"]
    for cutoff in cutoffs:
        exported = sum(1 for _ in store.iter_non_openers("weekly", states, cutoff))
        assert store.count_non_openers("weekly", states, cutoff) == exported, cutoff
    # A follow-up's count also leaves out those who opted out since.
    follow_up = {
        "parent_id": "weekly",
        "include_unknown": len(states) == 2,
        "injected_before": "9999",
    }
    if states != ("unknown",):
        listed = sum(1 for _ in store.iter_follow_up_recipients(follow_up))
        assert store.count_follow_up_recipients(follow_up) == listed


@pytest.mark.postgresql_only
def test_search_under_a_language_collation_reads_with_starts_with(reports, store, mailing):
    store.db._c_collation = False  # as on a database made with a locale's collation
    sql, params = store.db.starts_with("recipient", "user01")
    assert sql == "starts_with(recipient, ?)" and params == ["user01"]
    assert reports.count_recipients("weekly", search="USER01") == 10
    assert reports.count_recipients("weekly", "opened", "user01") == 3


def walk(reports, state="", search="", size=7):
    """Return every row of a listing paged forwards by cursor, and then backwards by cursor."""
    forwards = reports.recipients("weekly", state, search, limit=size)
    while True:
        page = reports.recipients("weekly", state, search, limit=size, after=forwards[-1]["cursor"])
        if not page:
            break
        forwards += page
    backwards = forwards[-size:]
    while True:
        page = reports.recipients(
            "weekly", state, search, limit=size, before=backwards[0]["cursor"]
        )
        if not page:
            break
        backwards = page + backwards
    return forwards, backwards


@pytest.mark.parametrize("state", ["", "opened", "not_opened"])
def test_cursor_pages_give_the_offset_pages_both_ways(reports, mailing, state):
    total = reports.count_recipients("weekly", state)
    by_offset = reports.recipients("weekly", state, limit=1000)
    forwards, backwards = walk(reports, state)
    assert [m["id"] for m in forwards] == [m["id"] for m in by_offset]
    assert [m["id"] for m in backwards] == [m["id"] for m in by_offset]
    assert len(forwards) == total


def test_cursors_break_ties_of_messages_injected_together(reports, store):
    store.create_campaign("weekly", "Weekly")
    store.register_messages("weekly", [(f"u{n:02d}@x.org", None, True) for n in range(20)])
    # All twenty were registered in one batch: one injection time, ordered by row.
    forwards, backwards = walk(reports, size=3)
    names = [m["recipient"] for m in forwards]
    assert names == [f"u{n:02d}@x.org" for n in reversed(range(20))]
    assert [m["recipient"] for m in backwards] == names


@pytest.mark.parametrize(("state", "search"), [("", "user0"), ("opened", "user"), ("", "USER1")])
def test_search_pages_in_address_order_by_cursor_and_by_offset(reports, mailing, state, search):
    expected = sorted(
        m["recipient"]
        for n, m in enumerate(mailing)
        if m["recipient"].startswith(search.lower()) and (not state or n % 3 == 0)
    )
    assert [m["recipient"] for m in reports.recipients("weekly", state, search, 1000)] == expected
    forwards, backwards = walk(reports, state, search, size=4)
    assert [m["recipient"] for m in forwards] == expected
    assert [m["recipient"] for m in backwards] == expected
    third = reports.recipients("weekly", state, search, limit=4, offset=8)
    assert [m["recipient"] for m in third] == expected[8:12]


def test_counts_stop_past_a_cap_and_odd_cursors_are_ignored(reports, mailing):
    assert reports.count_recipients("weekly", search="user", cap=10) == 11
    assert reports.count_recipients("weekly", search="user1", cap=100) == 30
    assert reports.count_recipients("weekly", "opened", "user", cap=5) == 6
    first = reports.recipients("weekly", limit=5)
    for odd in ("", "nonsense", "2026_x", "_12", "a" * 50 + "_1"):
        assert reports.recipients("weekly", limit=5, after=odd or None) == first
