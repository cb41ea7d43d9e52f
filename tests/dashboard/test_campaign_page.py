"""The campaign page's charts, tables and breakdowns over Flask's test client."""

# ruff: noqa: F811  (the fixtures imported from test_dashboard are parameters here)

from test_dashboard import IPHONE_MAIL, app, inject, signed_in, user  # noqa: F401

PAGE = "/dashboard/campaigns/nov-news"


def test_chart_time_zone_and_step_come_from_the_query(signed_in, auth, campaign, flush):
    [message] = inject(signed_in, auth, "nov-news", ["ann@x.org"])
    signed_in.get(message["pixel_url"].split("localhost")[1], headers={"User-Agent": IPHONE_MAIL})
    flush()
    utc = signed_in.get(PAGE).text
    assert "Hour (UTC)" in utc and "Opens per hour as a table" in utc
    berlin = signed_in.get(PAGE + "?tz=Europe/Berlin&by=day").text
    assert "Day (Europe/Berlin)" in berlin and "Opens per day as a table" in berlin
    assert 'value="Europe/Berlin"' in berlin
    odd = signed_in.get(PAGE + "?tz=Mars/Base").text
    assert "There is no time zone called &#39;Mars/Base&#39;; showing UTC." in odd
    assert "Hour (UTC)" in odd


def test_breakdowns_count_human_openers_unless_asked_for_fetches(signed_in, auth, campaign, flush):
    ann, bob = inject(signed_in, auth, "nov-news", ["ann@x.org", "bob@x.org"])
    for message, agent in ((ann, IPHONE_MAIL), (ann, IPHONE_MAIL), (bob, "Mozilla/5.0")):
        signed_in.get(message["pixel_url"].split("localhost")[1], headers={"User-Agent": agent})
    flush()
    people = signed_in.get(PAGE).text
    assert "Unique human openers" in people
    assert '<td>Apple Mail</td><td class="num">1</td>' in people  # ann once, not twice
    assert "<td>Apple Mail Privacy Protection" not in people  # a proxy fetch is no opener
    fetches = signed_in.get(PAGE + "?breakdown=fetches").text
    assert '<td>Apple Mail</td><td class="num">2</td>' in fetches
    assert '<td>Apple Mail Privacy Protection (proxy)</td><td class="num">1</td>' in fetches
    assert "<td>Apple Mail Privacy Protection</td>" in fetches  # the source, by name
    assert "apple_mpp" not in fetches
