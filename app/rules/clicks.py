"""Judge a click on a tracked link, when it is recorded and when it is settled; pure.

A click is judged in two steps, by evidence rather than by the clock alone. When it is
recorded, the same rules as a pixel fetch name the client and catch known scanners (their user
agents, their published ranges and networks, a datacenter's network soon after sending),
prefetches and bots. A quick click is not a machine's by itself: people click sign-in links
and password resets within seconds. Within the scanner window a click is a machine's only when
something else says so too: the network, the user agent (one that names no client, on no phone
or tablet), a HEAD or prefetch. A couple of seconds later, once every click of that moment is
in, a click that came with clicks on other links of the same message is part of a scanner
burst: a person does not follow several links of one email within a second or two.
"""

# Clicks on this many different links of one message within BURST_SECONDS are a scanner's.
BURST_LINKS = 2
BURST_SECONDS = 2.0

# What an open implied by a click keeps of the click's facts.
OPEN_FIELDS = ("client", "client_version", "os", "device", "country", "asn", "ip", "user_agent")
HEAD_REASON = "A HEAD or prefetch request checks the link without a person following it"


def click_verdict(
    pixel_verdict: dict, method: str, seconds_since_send: float | None, window: float
) -> tuple[str, str, str]:
    """Return (verdict, source, reason) of a click from the pixel rules' verdict on its facts.

    The pixel rules have already weighed the network (scanner ranges and vendors, and
    datacenters within the window) and the user agent; within the window this adds what a
    quick click by a person never looks like.
    """
    verdict, source, reason = (pixel_verdict[k] for k in ("verdict", "source", "reason"))
    if (method or "GET").upper() == "HEAD" or source == "prefetch":
        return "machine", "prefetch", HEAD_REASON
    if verdict != "human":
        return verdict, source, reason
    client = pixel_verdict.get("client") or "unknown"
    device = pixel_verdict.get("device") or "unknown"
    early = seconds_since_send is not None and seconds_since_send < window
    if early and client == "unknown" and device not in ("phone", "tablet"):
        return (
            "machine",
            "scanner",
            f"Clicked {max(seconds_since_send, 0):.0f} s after sending, within the scanner "
            f"window of {window:.0f} s, by a user agent that names no client on no phone or "
            "tablet: mail gateways follow links on delivery",
        )
    who = "A client we cannot name" if client == "unknown" else client
    if early:
        where = f" from {pixel_verdict['asn']}" if pixel_verdict.get("asn") else ""
        return (
            "human",
            "click",
            f"{who} followed the link {max(seconds_since_send, 0):.0f} s after sending{where}: "
            "quick, but from no scanner's or datacenter's network and with a person's client "
            "(people click sign-in and reset links within seconds)",
        )
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


def settle(
    click: dict, links_in_burst: int, first_open_at: str | None
) -> tuple[tuple[str, str, str], dict | None]:
    """Return a stored click's final (verdict, source, reason), and the open it implies.

    A person's click earlier than the message's first human open (None: none yet) stands for
    an open: their images may have been blocked. Any other click implies nothing (None).
    """
    judged = (click["verdict"], click["source"], click["reason"])
    final = settle_verdict(judged, links_in_burst)
    if final[0] != "human" or (first_open_at is not None and click["at"] >= first_open_at):
        return final, None
    return final, implied_open(click)


def implied_open(click: dict) -> dict:
    """Return the open event a person's click stands for."""
    return {
        "event_key": "click:" + click["event_key"],
        "message_id": click["message_id"],
        "at": click["at"],
        "method": "GET",
        "seconds_since_send": click["seconds_since_send"],
        "verdict": "human",
        "source": "click",
        "reason": "A person clicked a link in the message, so they opened it (images may have "
        "been blocked)",
        **{field: click[field] for field in OPEN_FIELDS},
    }
