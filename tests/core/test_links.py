"""Finding and rewriting trackable links: only http(s) hrefs of real <a> tags change."""

import pytest

from app.core.links import find_links, replace_links, trackable_url


def urls(document, skip_prefix=""):
    return [link.url for link in find_links(document, skip_prefix)]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('<a href="https://x.org/a">A</a>', ["https://x.org/a"]),
        ("<A HREF='http://x.org/b'>B</A>", ["http://x.org/b"]),
        ("<a href=https://x.org/c>C</a>", ["https://x.org/c"]),
        ('<a href="https://x.org/?a=1&amp;b=2">', ["https://x.org/?a=1&b=2"]),
        ('<a class="x" title="a > b" href="https://x.org/d">', ["https://x.org/d"]),
        ('<a href=" https://x.org/e\n">', ["https://x.org/e"]),
        ('<a href="mailto:ann@x.org">', []),
        ('<a href="tel:+441234">', []),
        ('<a href="#top">', []),
        ('<a href="/relative">', []),
        ('<a href="javascript:alert(1)">', []),
        ('<a href="JavaScript:alert(1)//https://x.org">', []),
        ('<a href="https:///nohost">', []),
        ('<a name="x">', []),
        ('<a href="https://x.org/f" data-opentrack="off">', []),
        ("<a data-opentrack='OFF' href='https://x.org/g'>", []),
        ('<!-- <a href="https://x.org/h"> -->', []),
        ('<!--[if mso]><a href="https://x.org/i">x</a><![endif]-->', []),
        ("<script>var a = '<a href=\"https://x.org/j\">';</script>", []),
        ('<abbr href="https://x.org/k">', []),
        ('<area href="https://x.org/l">', []),
        ('<a href="https://x.org/m" href="https://x.org/n">', ["https://x.org/m"]),
    ],
)
def test_find_links(document, expected):
    assert urls(document) == expected


def test_our_own_click_urls_are_not_wrapped_again():
    document = '<a href="https://t.example/c/abc">x</a><a href="https://x.org">y</a>'
    assert urls(document, skip_prefix="https://t.example/c/") == ["https://x.org"]


def test_rewrite_keeps_every_other_byte():
    document = (
        "<html><body>\n<!-- <a href='https://x.org/hidden'> -->"
        '<p>Hi</p><A class=big HREF="https://x.org/?a=1&amp;b=2">One</A>'
        "<a href=https://x.org/two>Two</a> <a href='mailto:a@x.org'>mail</a>"
        "</body></html>"
    )
    found = find_links(document)
    assert [link.url for link in found] == ["https://x.org/?a=1&b=2", "https://x.org/two"]
    position = document.index("</body>")
    new, moved = replace_links(
        document, found, ["https://t/c/1", "https://t/c/2?x=1&y=2"], position
    )
    assert new == document.replace("https://x.org/?a=1&amp;b=2", "https://t/c/1").replace(
        "https://x.org/two", "https://t/c/2?x=1&amp;y=2"
    )
    assert new[moved:] == "</body></html>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://x.org", "https://x.org"),
        ("java\tscript:alert(1)", None),
        ("ht\ntps://x.org", "https://x.org"),
        ("data:text/html,hi", None),
        ("", None),
    ],
)
def test_trackable_url(raw, expected):
    assert trackable_url(raw) == expected
