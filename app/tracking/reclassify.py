"""Re-run the current rules over stored open events, then rebuild states and counters."""

from collections.abc import Callable

from app.core.times import from_iso
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

    Returns how many events were looked at and how many changed verdict or source. Bursts are
    judged again from the stored times. Events whose user agent is not stored keep theirs.
    """
    looked = changed = 0
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
            changed += (verdict.verdict, verdict.source) != (event["verdict"], event["source"])
        store.update_verdicts(updates)
        progress(len(batch))
    for campaign in [campaign_id] if campaign_id else store.campaign_ids():
        store.rebuild_counters(campaign)
    return {"events": looked, "changed": changed}
