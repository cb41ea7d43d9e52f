"""The inject use case: register each recipient's message and return their HTML, tracked.

For every message of a call: mint its signed tokens, rewrite its links into click URLs when
click tracking is on, add the pixel before the last real ``</body>``, and fill in the opt-out
URL. Callable without Flask: the store and the signers are handed in.
"""

from contextlib import AbstractContextManager
from dataclasses import dataclass
from html import escape
from typing import Protocol

from itsdangerous import URLSafeSerializer

from app.core import inject, links
from app.core.paths import CLICK_PREFIX, optout_path, pixel_path
from app.core.tokens import ClickSerializer, mint_token


class InjectStore(Protocol):
    """What injecting needs of the store."""

    def atomic(self) -> AbstractContextManager: ...

    def register_messages(
        self, campaign_id: str, recipients: list[tuple[str, dict | None, bool]]
    ) -> list[dict]: ...

    def register_links(self, campaign_id: str, urls: list[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class Signers:
    """The serializers that sign the tokens going out in an email (one salt each)."""

    pixel: URLSafeSerializer
    optout: URLSafeSerializer
    click: ClickSerializer


@dataclass(frozen=True)
class InjectItem:
    """One message an inject call asks for."""

    recipient: str
    metadata: dict | None
    html: str
    track: bool


def inject_messages(
    store: InjectStore,
    signers: Signers,
    campaign_id: str,
    items: list[InjectItem],
    base_url: str,
    track_clicks: bool,
) -> list[dict]:
    """Register the items' messages and return each with its tracked HTML, in order.

    All or nothing: the messages and links are stored in one transaction with the HTML made,
    so a call that fails anywhere leaves nothing stored that its sender never got.
    """
    with store.atomic():
        messages = store.register_messages(
            campaign_id, [(item.recipient, item.metadata, item.track) for item in items]
        )
        pairs = list(zip(messages, items, strict=True))
        click_links = ClickLinks(store, signers.click, campaign_id, base_url, track_clicks)
        click_links.register([item.html for message, item in pairs if message["tracked"]])
        positions: dict[int, int] = {}
        results = []
        for message, item in pairs:
            html = item.html
            optout_url = base_url + optout_path(mint_token(signers.optout, message["id"]))
            url = None
            if message["tracked"]:
                url = base_url + pixel_path(mint_token(signers.pixel, message["id"]))
                # A shared HTML body is scanned for its </body> once, not once per recipient.
                if id(html) not in positions:
                    positions[id(html)] = inject.find_pixel_position(html)
                html, position = click_links.rewrite(html, message["id"], positions[id(html)])
                html = inject.add_pixel(html, url, position)
            results.append(
                {
                    "message_id": message["id"],
                    "campaign_id": campaign_id,
                    "recipient": message["recipient"],
                    "metadata": message["metadata"],
                    "injected_at": message["injected_at"],
                    "tracked": message["tracked"],
                    "pixel_url": url,
                    "optout_url": optout_url,
                    "html": inject.fill_optout_url(html, optout_url),
                }
            )
        return results


@dataclass(frozen=True)
class _Cut:
    """A document cut at its links and at the pixel's place, ready for one message's tokens.

    ``head`` and ``tail`` are (text before a link, ending with the escaped click prefix; the
    link's id) pairs before and after the pixel's place; ``head_end`` and ``tail_end`` the
    text after each part's last link.
    """

    head: list[tuple[str, str]]
    head_end: str
    tail: list[tuple[str, str]]
    tail_end: str


def _cut(document: str, found: list[links.Link], ids: list[int], prefix: str, position: int):
    """Return the _Cut of a document whose links ``found`` go to the click prefix."""
    parts: list[list[tuple[str, str]]] = [[], []]
    ends = ["", ""]
    last = 0
    half = 0
    for link, link_id in zip(found, ids, strict=True):
        if half == 0 and link.start >= position:
            # A "</body>" inside the previous link's href puts the pixel after that link.
            cut_at = max(last, position)
            ends[0] = document[last:cut_at]
            half, last = 1, cut_at
        parts[half].append((document[last : link.start] + prefix, str(link_id)))
        last = link.end
    if half == 0:
        cut_at = max(last, position)
        ends[0] = document[last:cut_at]
        last = cut_at
    ends[1] = document[last:]
    return _Cut(parts[0], ends[0], parts[1], ends[1])


class ClickLinks:
    """Rewrite the links of one inject call's HTML bodies into click URLs.

    Each distinct body is cut at its links once; a message's HTML is then its pieces joined
    with its click tokens, one keyed hash state per message and a cheap copy per link.
    """

    def __init__(
        self,
        store: InjectStore,
        serializer: ClickSerializer,
        campaign_id: str,
        base_url: str,
        enabled: bool,
    ):
        self.store = store
        self.serializer = serializer
        self.campaign_id = campaign_id
        self.prefix = base_url + CLICK_PREFIX
        self.enabled = enabled
        self._found: dict[int, tuple[str, list[links.Link]]] = {}
        self._cuts: dict[tuple[int, int], _Cut] = {}
        self._ids: dict[str, int] = {}

    def register(self, documents: list[str]) -> None:
        """Find the links of every distinct document and store their URLs, in one go."""
        if not self.enabled:
            return
        urls = []
        for document in documents:
            if id(document) not in self._found:
                found = links.find_links(document, skip_prefix=self.prefix)
                # The document is kept with its links, so its id() cannot be reused meanwhile.
                self._found[id(document)] = (document, found)
                urls += [link.url for link in found]
        if urls:
            self._ids = self.store.register_links(self.campaign_id, urls)

    def rewrite(self, document: str, message_id: str, position: int) -> tuple[str, int]:
        """Return the document with its links as this message's click URLs, and where the
        pixel position moved to."""
        if not self.enabled or id(document) not in self._found:
            return document, position
        cut = self._cuts.get((id(document), position))
        if cut is None:
            found = self._found[id(document)][1]
            ids = [self._ids[link.url] for link in found]
            prefix = escape(self.prefix, quote=True)
            cut = self._cuts[(id(document), position)] = _cut(
                document, found, ids, prefix, position
            )
        sign = self.serializer.link_signer(message_id)
        head = "".join([text + sign(link) for text, link in cut.head]) + cut.head_end
        tail = "".join([text + sign(link) for text, link in cut.tail]) + cut.tail_end
        return head + tail, len(head)
