"""Put a tracking pixel into an email's HTML, leaving every other byte as it was."""

import html
import re

PIXEL_STYLE = "border:0;width:1px;height:1px;overflow:hidden;"

# Comments (Outlook's conditional comments among them), scripts, styles and similar raw-text
# elements may contain a "</body>" that is not the document's; only a match of the last
# alternative is a real closing tag.
_SKIP_OR_BODY_END = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(script|style|textarea|title|xmp)\b.*?(?:</\1\s*>|\Z)"
    r"|(</body\s*>)",
    re.IGNORECASE | re.DOTALL,
)


OPTOUT_PLACEHOLDER = re.compile(r"\{\{\s*optout_url\s*\}\}")


def fill_optout_url(document: str, optout_url: str) -> str:
    """Return the document with every ``{{ optout_url }}`` placeholder set to the link."""
    if "optout_url" not in document:
        return document
    return OPTOUT_PLACEHOLDER.sub(html.escape(optout_url, quote=True), document)


def pixel_tag(pixel_url: str) -> str:
    """Return the 1x1 image tag for a pixel URL."""
    src = html.escape(pixel_url, quote=True)
    return f'<img src="{src}" width="1" height="1" alt="" style="{PIXEL_STYLE}">'


def find_pixel_position(document: str) -> int:
    """Return the offset where the pixel goes: before the last real </body>, else the end."""
    position = len(document)
    for match in _SKIP_OR_BODY_END.finditer(document):
        if match.group(2):
            position = match.start()
    return position


def add_pixel(document: str, pixel_url: str, position: int | None = None) -> str:
    """Return the document with the pixel for pixel_url added once.

    ``position`` may pass a precomputed ``find_pixel_position(document)`` when the same
    HTML is injected for many recipients.
    """
    tag = pixel_tag(pixel_url)
    if tag in document or pixel_url in document:
        return document
    if position is None:
        position = find_pixel_position(document)
    return document[:position] + tag + document[position:]
