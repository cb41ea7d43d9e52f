"""The inject use case without Flask: a plain store double, real signers, exact bytes out."""

import contextlib
import html as html_lib

import pytest

from app.core import inject, links
from app.core.injection import InjectItem, Signers, inject_messages
from app.core.tokens import (
    click_serializer,
    optout_serializer,
    pixel_serializer,
    read_click_token,
)

BASE = "https://t.example.com"
KEYS = ["k1"]


class MemoryStore:
    """What injecting needs of a store, in memory: messages and campaign links."""

    def __init__(self):
        self.links: dict[str, int] = {}
        self.count = 0

    def atomic(self):
        return contextlib.nullcontext()

    def register_messages(self, campaign_id, recipients):
        out = []
        for recipient, metadata, track in recipients:
            self.count += 1
            out.append(
                {
                    "id": f"msg-{self.count}_x",
                    "recipient": recipient,
                    "metadata": metadata,
                    "injected_at": "2026-12-01T00:00:00Z",
                    "tracked": track,
                }
            )
        return out

    def register_links(self, campaign_id, urls):
        for url in urls:
            self.links.setdefault(url, len(self.links) + 7)
        return dict(self.links)


SIGNERS = Signers(pixel_serializer(KEYS), optout_serializer(KEYS), click_serializer(KEYS))

DOCUMENTS = {
    "links around the pixel": (
        '<html><body><a href="https://a.example/1?x=1&amp;y=2">1</a>'
        "<!-- <a href='https://no.example/'> --> <a href=https://a.example/2>2</a>"
        "</body><a href='https://a.example/after'>after</a></html>"
    ),
    "no body end": '<p><a href="https://a.example/x">x</a> <a href="https://a.example/x">x</a>',
    "no links": "<html><body><p>Hi {{ optout_url }}</p></body></html>",
    "link right at the pixel": '<body><a href="https://a.example/z">z</a></body>',
    "a </body> in an href": '<body><a href="https://a.example/</body>">z</a></body>',
}


def reference(document: str, message_id: str, ids: dict[str, int]) -> str:
    """Return the tracked document the slow way: every link replaced, then the pixel."""
    found = links.find_links(document, BASE + "/c/")
    click = SIGNERS.click
    urls = [f"{BASE}/c/{click.link_signer(message_id)(str(ids[link.url]))}" for link in found]
    position = inject.find_pixel_position(document)
    replaced, moved = links.replace_links(document, found, urls, position)
    pixel = BASE + "/o/" + SIGNERS.pixel.dumps(message_id) + ".gif"
    return inject.add_pixel(replaced, pixel, moved)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_tracked_html_is_the_document_with_only_hrefs_and_the_pixel_changed(name):
    document = DOCUMENTS[name]
    store = MemoryStore()
    items = [InjectItem(f"r{i}@x.org", None, document, True) for i in range(3)]
    results = inject_messages(store, SIGNERS, "c", items, BASE, track_clicks=True)
    for result in results:
        optout = result["optout_url"]
        expected = reference(document, result["message_id"], store.links)
        expected = expected.replace("{{ optout_url }}", html_lib.escape(optout, quote=True))
        assert result["html"] == expected


def test_every_click_url_names_its_message_and_link():
    document = DOCUMENTS["links around the pixel"]
    store = MemoryStore()
    items = [InjectItem(f"r{i}@x.org", None, document, True) for i in range(2)]
    results = inject_messages(store, SIGNERS, "c", items, BASE, track_clicks=True)
    for result in results:
        hrefs = [link.url for link in links.find_links(result["html"])]
        tokens = [url.removeprefix(BASE + "/c/") for url in hrefs if url.startswith(BASE + "/c/")]
        assert [read_click_token(SIGNERS.click, token) for token in tokens] == [
            (result["message_id"], store.links[url])
            for url in (
                "https://a.example/1?x=1&y=2",
                "https://a.example/2",
                "https://a.example/after",
            )
        ]


def test_without_click_tracking_links_stay():
    document = DOCUMENTS["links around the pixel"]
    [result] = inject_messages(
        MemoryStore(), SIGNERS, "c", [InjectItem("a@x.org", None, document, True)], BASE, False
    )
    assert result["html"].replace(inject.pixel_tag(result["pixel_url"]), "") == document


@pytest.mark.parametrize(
    "document",
    [
        '<a href="https://a.example/</body>">a</a> <a href="https://b.example/">b</a>',
        '<p><a href="https://a.example/</body>">a</a>',
    ],
)
def test_a_body_end_inside_an_href_loses_no_byte(document):
    store = MemoryStore()
    [result] = inject_messages(
        store, SIGNERS, "c", [InjectItem("a@x.org", None, document, True)], BASE, True
    )
    without_pixel = result["html"].replace(inject.pixel_tag(result["pixel_url"]), "", 1)
    found = links.find_links(document, BASE + "/c/")
    sign = SIGNERS.click.link_signer(result["message_id"])
    urls = [f"{BASE}/c/{sign(str(store.links[link.url]))}" for link in found]
    assert without_pixel == links.replace_links(document, found, urls)[0]
    assert inject.pixel_tag(result["pixel_url"]) in result["html"]
