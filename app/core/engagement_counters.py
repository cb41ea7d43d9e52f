"""What a recipient's engagement counters hold, and how a message's change moves them; pure.

Over all their messages: ``received``, ``delivered`` (delivered or complained of), ``bounced``,
``complained``; over the tracked ones: ``tracked``, ``human_opens``, ``human_clicks``,
``mpp_messages`` (with an Apple MPP fetch), ``seen_messages`` (opened by a person without a
click implying it); their last human open (not one a click implied) and click.

Over the tracked messages that reached them (``reached``: not bounced, complained of or
unsubscribed), what the segments select by: the Apple proxy opens and human clicks, and the
latest campaign (``*_key``, ``campaign_key``) and injection time (``*_at``) of those messages,
of the engaged ones (opened or clicked by a person), of those with an MPP fetch and of those
seen opened. ``quiet`` counts the reached messages of campaigns later than the last engaged
one, ``quiet_mpp_opens`` their proxy opens. ``tier_messages`` counts the tracked messages the
tiers judge by: not bounced or complained of (an unsubscription at the ESP does not matter).
"""

from app.core.engagement import UNREACHABLE, engaged

COLUMNS = (
    "recipient",
    "received",
    "delivered",
    "tracked",
    "bounced",
    "complained",
    "human_opens",
    "human_clicks",
    "mpp_messages",
    "seen_messages",
    "last_human_open_at",
    "last_human_click_at",
    "reached",
    "reached_mpp_opens",
    "reached_clicks",
    "reached_key",
    "reached_at",
    "engaged_key",
    "engaged_at",
    "mpp_key",
    "mpp_at",
    "seen_key",
    "seen_at",
    "quiet",
    "quiet_mpp_opens",
    "tier_messages",
)


# The columns a message's change from opens can move (add_message_change, add_open), and with
# them the one more those read: the writer reads and writes back these alone.
OPEN_MOVED = (
    "human_opens",
    "human_clicks",
    "mpp_messages",
    "seen_messages",
    "last_human_open_at",
    "reached_mpp_opens",
    "reached_clicks",
    "engaged_key",
    "engaged_at",
    "mpp_key",
    "mpp_at",
    "seen_key",
    "seen_at",
    "quiet",
    "quiet_mpp_opens",
)
OPEN_READ = ("recipient", "reached_key", *OPEN_MOVED)


def campaign_key(first_injected_at: str, campaign_id: str) -> str:
    """Return a campaign's place in the send order as text that sorts the same way."""
    # Stored times all have the same width, so the time decides first and the id breaks ties.
    return f"{first_injected_at}|{campaign_id}"


def reached(message: dict) -> bool:
    """Return whether a message is tracked and reached its recipient, who stayed."""
    return (
        bool(message["tracked"])
        and message["delivery_status"] not in UNREACHABLE
        and message["unsubscribed_at"] is None
    )


def seen(message: dict) -> bool:
    """Return whether a person was seen opening a message other than by clicking."""
    return message["state"] == "opened" and message["human_clicks"] == 0


def _raise(row: dict, name: str, key: str, at: str) -> None:
    """Move a row's latest ``name`` campaign and time up to a message's, if later."""
    key_column, at_column = _LATEST[name]
    if row[key_column] is None or key > row[key_column]:
        row[key_column] = key
    if row[at_column] is None or at > row[at_column]:
        row[at_column] = at


# Each kind of latest campaign's two columns, named once (not formatted at every call).
_LATEST = {name: (f"{name}_key", f"{name}_at") for name in ("mpp", "seen", "engaged")}


def add_message_change(row: dict, before: dict, after: dict, key: str) -> bool:
    """Apply a tracked message's change from opens to its recipient's row, in place.

    ``key`` is the message's campaign_key. Returns False when the row cannot follow by
    itself and must be recounted from the messages: a person engaged with a campaign older
    than the latest that reached them (the quiet ones in between are not known here), or a
    click made an open stop counting as seen.
    """
    if not after["tracked"]:
        return True
    clicks = after["human_clicks"] - before["human_clicks"]
    seen_before, seen_after = seen(before), seen(after)
    row["human_opens"] += after["human_opens"] - before["human_opens"]
    row["human_clicks"] += clicks
    row["mpp_messages"] += (after["mpp_opens"] > 0) - (before["mpp_opens"] > 0)
    row["seen_messages"] += seen_after - seen_before
    if not reached(after):
        return True
    mpp = after["mpp_opens"] - before["mpp_opens"]
    row["reached_mpp_opens"] += mpp
    row["reached_clicks"] += clicks
    if row["engaged_key"] is None or key > row["engaged_key"]:
        row["quiet_mpp_opens"] += mpp
    if after["mpp_opens"] > 0:
        _raise(row, "mpp", key, after["injected_at"])
    if seen_before and not seen_after:
        return False
    if seen_after:
        _raise(row, "seen", key, after["injected_at"])
    if engaged(after):
        if row["engaged_key"] is None or key > row["engaged_key"]:
            if key < row["reached_key"]:
                return False
            row["quiet"] = row["quiet_mpp_opens"] = 0
        _raise(row, "engaged", key, after["injected_at"])
    return True


def add_open(row: dict, event: dict) -> None:
    """Move a row's last human open to a new open event's time, if it is one and later."""
    if event["verdict"] != "human" or event["source"] == "click":
        return
    if row["last_human_open_at"] is None or event["at"] > row["last_human_open_at"]:
        row["last_human_open_at"] = event["at"]
