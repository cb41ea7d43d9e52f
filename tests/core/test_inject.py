import pytest

from app.core.inject import add_pixel, pixel_tag

URL = "https://t.example.com/o/TOKEN.gif"
TAG = pixel_tag(URL)

CASES = [
    ("simple", "<html><body><p>Hi</p></body></html>", "<html><body><p>Hi</p>{}</body></html>"),
    ("no body", "<p>Hi</p>", "<p>Hi</p>{}"),
    ("empty", "", "{}"),
    ("upper case", "<HTML><BODY>x</BODY></HTML>", "<HTML><BODY>x{}</BODY></HTML>"),
    ("odd casing and space", "<body>x</bOdY >\n", "<body>x{}</bOdY >\n"),
    (
        "body end in a comment after the real one",
        "<body>x</body><!-- old </body> -->",
        "<body>x{}</body><!-- old </body> -->",
    ),
    (
        "body end in a comment before the real one",
        "<body><!-- </body> -->x</body>",
        "<body><!-- </body> -->x{}</body>",
    ),
    (
        "outlook conditional comment",
        "<body>x<!--[if mso]></body><![endif]--></body>",
        "<body>x<!--[if mso]></body><![endif]-->{}</body>",
    ),
    (
        "script holding a body end",
        '<body>x<script>var s="</body>";</script></body>',
        '<body>x<script>var s="</body>";</script>{}</body>',
    ),
    (
        "style block kept",
        "<head><style>p{{color:red}}</style></head><body>x</body>",
        "<head><style>p{{color:red}}</style></head><body>x{}</body>",
    ),
    (
        "two body ends: the last real one",
        "<body>a</body><body>b</body>",
        "<body>a</body><body>b{}</body>",
    ),
    (
        "unclosed comment hides the rest",
        "<body>x</body><!-- </body>",
        "<body>x{}</body><!-- </body>",
    ),
    (
        "doctype and entities untouched",
        "<!DOCTYPE html>\r\n<body>&nbsp;&amp;&#169;</body>",
        "<!DOCTYPE html>\r\n<body>&nbsp;&amp;&#169;{}</body>",
    ),
    ("non-ascii", "<body>Grüße 🎉</body>", "<body>Grüße 🎉{}</body>"),
]


@pytest.mark.parametrize(("name", "html", "expected"), CASES, ids=[case[0] for case in CASES])
def test_add_pixel(name, html, expected):
    html = html.replace("{{", "{").replace("}}", "}")
    assert add_pixel(html, URL) == expected.format(TAG)


@pytest.mark.parametrize(("name", "html", "expected"), CASES, ids=[case[0] for case in CASES])
def test_add_pixel_twice_adds_one_pixel(name, html, expected):
    html = html.replace("{{", "{").replace("}}", "}")
    once = add_pixel(html, URL)
    assert add_pixel(once, URL) == once


def test_everything_but_the_pixel_is_byte_for_byte():
    html = "<!doctype html><html><head><!--[if gte mso 9]><xml></xml><![endif]--></head>"
    html += "<body><table><tr><td>&copy; 2026</td></tr></table></body></html>"
    result = add_pixel(html, URL)
    assert result.replace(TAG, "", 1) == html


def test_pixel_tag_shape():
    assert TAG.startswith(f'<img src="{URL}" width="1" height="1" alt="" style="')
    assert "display:none" not in TAG


def test_pixel_url_is_escaped():
    assert pixel_tag('https://x/o/a".gif').startswith('<img src="https://x/o/a&quot;.gif" ')
