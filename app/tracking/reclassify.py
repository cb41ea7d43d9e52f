"""Re-run the current rules over stored opens and clicks, then rebuild states and counters."""

from collections.abc import Callable

from app.core.times import from_iso, to_iso
from app.rules import clicks as click_rules
from app.rules.bursts import BurstTracker
from app.rules.classify import Fetch, Verdict, classify, fetch_headers
from app.rules.networks import Networks


def reclassify(
    store,
    networks: Networks | None,
    scanner_window_seconds: float,
    campaign_id: str | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> dict[str, int]:
    """Re-run the current rules over stored events, then rebuild states and counters.

    Returns how many events were looked at and how many changed verdict or source, and the
    same for settled clicks (``clicks``, ``clicks_changed``). Bursts are judged again from the
    stored times. Events and clicks whose user agent or IP is not stored keep theirs.
    """
    looked = changed = 0
    # Messages whose opens changed verdict: the open their clicks imply is made again.
    reopened: set[str] = set()
    bursts = BurstTracker()
    for batch in store.iter_events(campaign_id):
        updates = []
        for event in batch:
            looked += 1
            # Without its user agent or IP (purged, or never kept) an event keeps its verdict:
            # judged again on less than it was judged on, it could only get worse.
            if event["user_agent"] is None or event["ip"] is None:
                continue
            # An open implied by a person's click was judged by the click rules, not these.
            if event["source"] == "click":
                continue
            fetch = Fetch(
                user_agent=event["user_agent"] or "",
                ip=event["ip"],
                method=event["method"] or "GET",
                headers=fetch_headers(event["x_requested_with"], event["sec_purpose"]),
                seconds_since_send=event["seconds_since_send"],
                burst=bursts.is_burst(event["ip"], event["message_id"], from_iso(event["at"])),
            )
            verdict: Verdict = classify(fetch, networks, scanner_window_seconds)
            # Country and network owner came from the full IP, which may not be stored.
            updates.append(
                {
                    **verdict.as_dict(),
                    "id": event["id"],
                    "country": event["country"],
                    "asn": event["asn"],
                }
            )
            if (verdict.verdict, verdict.source) != (event["verdict"], event["source"]):
                changed += 1
                reopened.add(event["message_id"])
        store.update_verdicts(updates)
        progress(len(batch))
    clicks = reclassify_clicks(store, networks, scanner_window_seconds, campaign_id, reopened)
    for campaign in [campaign_id] if campaign_id else store.campaign_ids():
        store.rebuild_counters(campaign)
        store.rebuild_click_counters(campaign)
    # Verdicts moved opens and clicks: the recipients' engagement is counted again.
    if campaign_id:
        store.refresh_campaign_engagement(campaign_id)
    else:
        store.rebuild_engagement()
    return {"events": looked, "changed": changed, **clicks}


def reclassify_clicks(
    store,
    networks: Networks | None,
    window: float,
    campaign_id: str | None = None,
    reopened: set[str] = frozenset(),
) -> dict[str, int]:
    """Judge settled clicks again by the current click rules, from their stored raw facts.

    Each click is judged as when it was recorded (the pixel rules, then the click rules with
    the networks that fetched its message's pixel as a person before it) and settled (the
    links of its message clicked around it). Changed verdicts are rewritten and the opens
    their messages' clicks imply are made again, and those of the ``reopened`` messages (whose
    opens changed verdict); the caller rebuilds the counters.
    """
    looked = changed = 0
    touched = set(reopened)
    for batch in store.iter_settled_clicks(campaign_id):
        message_ids = [click["message_id"] for click in batch]
        read = store.person_fetches(message_ids)
        linked = store.click_links(message_ids)
        updates = []
        for click in batch:
            looked += 1
            if click["user_agent"] is None or click["ip"] is None:
                continue
            method, since = click["method"] or "GET", click["seconds_since_send"]
            fetch = Fetch(
                user_agent=click["user_agent"],
                ip=click["ip"],
                method=method,
                seconds_since_send=since,
            )
            verdict = classify(fetch, networks, window).as_dict()
            opened_from = click_rules.opened_before(read.get(click["message_id"], []), click["at"])
            judged = click_rules.click_verdict(
                verdict, method, since, window, click["ip"], opened_from
            )
            final = click_rules.settle_verdict(
                judged, links_around(linked.get(click["message_id"], []), click["at"])
            )
            if final == (click["verdict"], click["source"], click["reason"]):
                continue
            changed += final[:2] != (click["verdict"], click["source"])
            verdict["verdict"], verdict["source"], verdict["reason"] = final
            updates.append({**verdict, "id": click["id"]})
            touched.add(click["message_id"])
        store.update_click_verdicts(updates)
    store.rebuild_implied_opens(sorted(touched), click_rules.implied_open)
    return {"clicks": looked, "clicks_changed": changed}


def links_around(clicks: list[tuple[str, int]], at: str) -> int:
    """Return how many different links were clicked within the click rules' burst window of
    ``at``, as settling counts them."""
    moment = from_iso(at)
    start = to_iso(moment - click_rules.BURST_SECONDS)
    end = to_iso(moment + click_rules.BURST_SECONDS)
    return len({link for clicked_at, link in clicks if start <= clicked_at <= end})
