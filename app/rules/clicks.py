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

Whether the click's network (an IPv4 /24 or IPv6 /48, as the burst rules count networks)
fetched the message's pixel first as a person's own client is evidence too: a person reads,
then clicks, from where they read. It clears a quick click whose user agent names no client;
it never clears a scanner's range or user agent, a bot, a HEAD or a burst.
"""

from collections.abc import Collection

from app.rules.storage import truncate_ip

# Clicks on this many different links of one message within BURST_SECONDS are a scanner's.
BURST_LINKS = 2
BURST_SECONDS = 2.0

# What an open implied by a click keeps of the click's facts.
OPEN_FIELDS = ("client", "client_version", "os", "device", "country", "asn", "ip", "user_agent")
HEAD_REASON = "A HEAD or prefetch request checks the link without a person following it"


def click_verdict(
    pixel_verdict: dict,
    method: str,
    seconds_since_send: float | None,
    window: float,
    ip: str | None = None,
    opened_from: Collection[str] | None = None,
) -> tuple[str, str, str]:
    """Return (verdict, source, reason) of a click from the pixel rules' verdict on its facts.

    The pixel rules have already weighed the network (scanner ranges and vendors, and
    datacenters within the window) and the user agent; within the window this adds what a
    quick click by a person never looks like, and what the click's network did before it.
    ``opened_from`` holds the networks (``truncate_ip``) that fetched this message's pixel
    as a person's own client before the click; None when that is not known (an earlier
    fetch's IP was not stored, or the click's).
    """
    verdict, source, reason = (pixel_verdict[k] for k in ("verdict", "source", "reason"))
    if (method or "GET").upper() == "HEAD" or source == "prefetch":
        return "machine", "prefetch", HEAD_REASON
    early = seconds_since_send is not None and seconds_since_send < window
    network = truncate_ip(ip)
    known = network is not None and opened_from is not None
    read_here = known and network in opened_from
    if verdict != "human":
        if early and known and not read_here and source == "scanner":
            reason += f"; this network ({network}) never fetched the message's pixel as a person"
        return verdict, source, reason
    client = pixel_verdict.get("client") or "unknown"
    device = pixel_verdict.get("device") or "unknown"
    if early and read_here:
        who = "A client we cannot name" if client == "unknown" else client
        return (
            "human",
            "click",
            f"{who} followed the link {max(seconds_since_send, 0):.0f} s after sending from "
            f"the network ({network}) that had just fetched the message's pixel as a "
            "person's mail client: a person reads, then clicks",
        )
    if early and client == "unknown" and device not in ("phone", "tablet"):
        return (
            "machine",
            "scanner",
            f"Clicked {max(seconds_since_send, 0):.0f} s after sending, within the scanner "
            f"window of {window:.0f} s, by a user agent that names no client on no phone or "
            "tablet: mail gateways follow links on delivery"
            + (f"; this network ({network}) never fetched the message's pixel" if known else ""),
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


def opened_before(fetches: list[tuple[str | None, str]], at: str) -> frozenset[str] | None:
    """Return the networks of a person's pixel fetches (IP as stored, ISO time) earlier than
    ``at``, for ``click_verdict``; None when one of them has no IP stored (not known)."""
    networks = set()
    for ip, fetched_at in fetches:
        if fetched_at >= at:
            continue
        network = truncate_ip(ip)
        if network is None:
            return None
        networks.add(network)
    return frozenset(networks)


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
