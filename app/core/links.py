"""Find the links in an email's HTML that can be tracked, and swap in click URLs.

Pure: plain strings in and out. Only ``<a href>`` values with an http(s) URL are touched;
links in comments (Outlook's conditional comments among them), scripts and styles, links
marked ``data-opentrack="off"``, ``mailto:``, ``tel:``, anchors and relative URLs stay as
they are, and every other byte of the document is kept.
"""

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# A link longer than this is left alone rather than stored.
MAX_URL = 4096

# Only a match of the last alternative is a real <a> start tag; quoted attribute values may
# hold a ">".
_SKIP_OR_ANCHOR = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(script|style|textarea|title|xmp)\b.*?(?:</\1\s*>|\Z)"
    r"|(<a(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)",
    re.IGNORECASE | re.DOTALL,
)
_ATTRIBUTE = re.compile(
    r"""([^\s"'>/=]+)(?:\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""", re.DOTALL
)
# Browsers drop these from anywhere in a URL before reading it.
_URL_NOISE = re.compile(r"[\t\n\r]")


@dataclass(frozen=True)
class Link:
    """One trackable link: where its href value sits in the document, and its URL."""

    start: int
    end: int
    url: str


def trackable_url(raw: str, skip_prefix: str = "") -> str | None:
    """Return the URL an href value leads to when it is a trackable http(s) link, else None."""
    url = _URL_NOISE.sub("", html.unescape(raw)).strip()
    if not url or len(url) > MAX_URL or (skip_prefix and url.startswith(skip_prefix)):
        return None
    # Other control characters have no place in a link we would send in a Location header.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return None
    # A lone surrogate cannot be stored, encoded or sent: the link is left as it was.
    if any(0xD800 <= ord(char) <= 0xDFFF for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def find_links(document: str, skip_prefix: str = "") -> list[Link]:
    """Return the trackable links of a document, in order.

    ``skip_prefix`` names URLs that are already ours (click URLs), so injecting twice wraps
    nothing twice.
    """
    links = []
    for match in _SKIP_OR_ANCHOR.finditer(document):
        if not match.group(2):
            continue
        tag_start = match.start(2)
        tag = match.group(2)
        href = None
        off = False
        for attribute in _ATTRIBUTE.finditer(tag, 2):
            name = attribute.group(1).lower()
            value_group = next((g for g in (3, 4, 5) if attribute.group(g) is not None), None)
            if name == "data-opentrack" and value_group is not None:
                off = off or attribute.group(value_group).strip().lower() == "off"
            elif name == "href" and href is None and value_group is not None:
                # A repeated attribute is ignored by browsers: the first one counts.
                href = (attribute.start(value_group), attribute.end(value_group))
        if off or href is None:
            continue
        url = trackable_url(tag[href[0] : href[1]], skip_prefix)
        if url is not None:
            links.append(Link(tag_start + href[0], tag_start + href[1], url))
    return links


def replace_links(
    document: str, links: Sequence[Link], urls: Sequence[str], position: int | None = None
) -> tuple[str, int | None]:
    """Return the document with each link's href set to the matching URL.

    Also returns where ``position`` (an offset in the original, such as the pixel's place)
    ends up in the new document.
    """
    pieces = []
    last = 0
    moved = position
    for link, url in zip(links, urls, strict=True):
        value = html.escape(url, quote=True)
        pieces += [document[last : link.start], value]
        last = link.end
        if position is not None and link.end <= position:
            moved += len(value) - (link.end - link.start)
    pieces.append(document[last:])
    return "".join(pieces), moved
