"""Judge a click on a tracked link, and turn click counters into numbers; pure.

A click is judged in two steps. When it is recorded, the same rules as a pixel fetch name the
client and catch known scanners, prefetches and bots; a click within the scanner window is a
gateway following links on delivery. A couple of seconds later, once every click of that
moment is in, a click that came with clicks on other links of the same message is part of a
scanner burst: a person does not follow several links of one email within a second or two.
"""

from app.core.stats import ratio

# Clicks on this many different links of one message within BURST_SECONDS are a scanner's.
BURST_LINKS = 2
BURST_SECONDS = 2.0

CLICK_RATE_DEFINITIONS = {
    "click_rate": "Recipients a person is known to have clicked through, divided by tracked "
    "messages sent.",
    "click_to_open_rate": "Recipients a person is known to have clicked through, divided by "
    "recipients a person is known to have opened (a click counts as an open).",
}
HEAD_REASON = "A HEAD or prefetch request checks the link without a person following it"


def click_verdict(
    pixel_verdict: dict, method: str, seconds_since_send: float | None, window: float
) -> tuple[str, str, str]:
    """Return (verdict, source, reason) of a click from the pixel rules' verdict on its facts."""
    verdict, source, reason = (pixel_verdict[k] for k in ("verdict", "source", "reason"))
    if (method or "GET").upper() == "HEAD" or source == "prefetch":
        return "machine", "prefetch", HEAD_REASON
    if verdict != "human":
        return verdict, source, reason
    if seconds_since_send is not None and seconds_since_send < window:
        return (
            "machine",
            "scanner",
            f"Clicked {max(seconds_since_send, 0):.0f} s after sending, within the scanner "
            f"window of {window:.0f} s: mail gateways follow links on delivery",
        )
    client = pixel_verdict.get("client") or "unknown"
    who = "A client we cannot name" if client == "unknown" else client
    return "human", "click", f"{who} followed the link: a person clicked"


def settle_verdict(judged: tuple[str, str, str], links_in_burst: int) -> tuple[str, str, str]:
    """Return the final verdict of a click, given how many links of its message were clicked
    within BURST_SECONDS of it (itself included)."""
    if judged[0] == "human" and links_in_burst >= BURST_LINKS:
        return (
            "machine",
            "scanner",
            f"{links_in_burst} different links of this message were followed within "
            f"{BURST_SECONDS:.0f} s: a scanner following every link",
        )
    return judged


def with_clicks(numbers: dict, counters: dict) -> dict:
    """Return a campaign's numbers with its click numbers and rates (each with its counts)."""
    clickers = counters.get("clickers") or 0
    tracked, opened = numbers.get("tracked", numbers["sent"]), numbers["opened"]
    return {
        **numbers,
        "clicks": counters.get("clicks") or 0,
        "human_clicks": counters.get("human_clicks") or 0,
        "machine_clicks": counters.get("machine_clicks") or 0,
        "clickers": clickers,
        "click_rate": ratio(clickers, tracked),
        "click_to_open_rate": ratio(clickers, opened),
        "rates": {
            **numbers["rates"],
            "click_rate": {"count": clickers, "of": tracked},
            "click_to_open_rate": {"count": clickers, "of": opened},
        },
    }
