"""The campaign page's charts, tables and breakdowns over Flask's test client."""

# ruff: noqa: F811  (the fixtures imported from test_dashboard are parameters here)

import csv
import io

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


def test_exports_flatten_metadata_and_follow_the_table_filter(signed_in, auth, campaign, flush):
    body = {
        "html": "<body>Hi</body>",
        "messages": [
            {"recipient": "ann@x.org", "html": "<b>a</b>", "metadata": {"plan": "pro", "n": 1}},
            {"recipient": "bob@x.org", "html": "<b>b</b>", "metadata": {"tags": ["=1+2"]}},
        ],
    }
    body.pop("html")
    messages = signed_in.post(
        "/api/v1/campaigns/nov-news/inject", json=body, headers=auth
    ).get_json()["messages"]
    signed_in.get(
        messages[0]["pixel_url"].split("localhost")[1], headers={"User-Agent": IPHONE_MAIL}
    )
    flush()
    rows = list(csv.DictReader(io.StringIO(signed_in.get(PAGE + "/recipients.csv").text)))
    assert [row["recipient"] for row in rows] == ["ann@x.org", "bob@x.org"]
    assert list(rows[0])[-3:] == ["metadata.n", "metadata.plan", "metadata.tags"]
    assert (rows[0]["metadata.plan"], rows[0]["metadata.n"], rows[0]["metadata.tags"]) == (
        "pro",
        "1",
        "",
    )
    assert rows[1]["metadata.tags"] == '["=1+2"]'
    openers = list(csv.DictReader(io.StringIO(signed_in.get(PAGE + "/openers.csv").text)))
    assert [row["recipient"] for row in openers] == ["ann@x.org"]
    filtered = signed_in.get(PAGE + "/recipients.csv?state=not_opened&q=bob").text
    assert "bob@x.org" in filtered and "ann@x.org" not in filtered
    clickers = signed_in.get(PAGE + "/clickers.csv")
    assert clickers.text.splitlines()[1:] == [] and clickers.mimetype == "text/csv"
    assert signed_in.get("/dashboard/campaigns/nope/openers.csv").status_code == 404


def page_links(html: str) -> dict[str, str]:
    """Return the recipients pager's links by their text."""
    import re

    pager = html.split('<div class="pager">')[-1].split("</div>")[0]
    return {
        text: href.replace("&amp;", "&")
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', pager)
    }


def rows_of(html: str) -> list[str]:
    """Return the recipients listed in the page's table, in order."""
    import re

    table = html.split('id="recipients"')[1]
    return re.findall(r'<td class="name-cell"><a href="[^"]+">([^<]+)</a>', table)


def test_recipient_pages_follow_cursors_both_ways(signed_in, auth, campaign):
    names = [f"r{n:03d}@x.org" for n in range(120)]
    for start in range(0, 120, 40):
        inject(signed_in, auth, "nov-news", names[start : start + 40])
    first = signed_in.get(PAGE).text
    assert "120 recipients · page 1 of 3" in first
    links = page_links(first)
    second = signed_in.get(links["Next ›"]).text
    assert "after=" in links["Next ›"] and "page 2 of 3" in second
    last = signed_in.get(page_links(second)["Next ›"]).text
    assert "page 3 of 3" in last and "Next ›</span>" in last
    seen = rows_of(first) + rows_of(second) + rows_of(last)
    assert sorted(seen) == sorted(names) and len(set(seen)) == 120
    back = page_links(last)["‹ Previous"]
    assert "before=" in back and rows_of(signed_in.get(back).text) == rows_of(second)
    assert rows_of(signed_in.get(links["Last »"]).text) == rows_of(last)


def test_a_search_matching_more_than_the_cap_says_so_and_pages_on(
    signed_in, auth, campaign, monkeypatch
):
    from app.dashboard import campaigns

    monkeypatch.setattr(campaigns, "SEARCH_COUNT_CAP", 60)
    names = [f"r{n:03d}@x.org" for n in range(120)]
    for start in range(0, 120, 40):
        inject(signed_in, auth, "nov-news", names[start : start + 40])
    first = signed_in.get(PAGE + "?q=R").text
    assert "More than 60 recipients · page 1" in first and "of 2" not in first
    assert rows_of(first) == names[:50]  # in address order
    links = page_links(first)
    assert "Last »" not in links
    second = signed_in.get(links["Next ›"]).text
    assert rows_of(second) == names[50:100]
    third = signed_in.get(page_links(second)["Next ›"]).text
    assert rows_of(third) == names[100:] and "page 3" in third and "Next ›</span>" in third
    assert rows_of(signed_in.get(page_links(third)["‹ Previous"]).text) == names[50:100]
    # A typed page past what was counted shows the last counted page.
    assert rows_of(signed_in.get(PAGE + "?q=r&page=99").text) == names[50:100]
    exact = signed_in.get(PAGE + "?q=r1").text
    assert "20 recipients<" in exact
