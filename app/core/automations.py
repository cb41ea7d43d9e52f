"""Follow-up rules that run themselves: audiences, when a rule is due, and firing it; pure.

A rule says "``after_hours`` after sending, follow up with this audience". It counts from the
campaign's ``sent_at`` when the sender set one, else from its last injection, so a campaign
still being sent is not followed up half-way. When a rule is due, ``fire`` creates the linked
follow-up campaign (``Store.create_follow_up``, as the follow-ups endpoint does), freezes its
recipients as they are at that moment, marks the rule fired and queues the
``follow_up_ready`` webhook event, all in one transaction on a row only one worker can take:
a rule fires exactly once, on whichever worker or host sees it first, late if none was
running at its time (it then says how late). Time comes from a clock passed in, so tests move
it forward instead of sleeping.
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from itsdangerous import URLSafeSerializer

from app.core import fields, tokens, webhooks
from app.core.fields import FieldError
from app.core.stats import campaign_summary
from app.core.times import from_iso, to_iso

log = logging.getLogger(__name__)

MIN_AFTER_HOURS = 1
MAX_AFTER_HOURS = 2160  # 90 days
# A rule fired this long after its due time is logged as late (the worker was down).
LATE_AFTER_SECONDS = 60
EVENT_TYPE = "follow_up_ready"
LIST_PATH = "/follow-up-lists/"
FORMATS = ("csv", "json")


@dataclass(frozen=True)
class Audience:
    """Who a follow-up goes to: message states, and whether a person's click leaves one out."""

    states: tuple[str, ...]
    without_clicks: bool
    description: str

    @property
    def needs_clicks(self) -> bool:
        """Return whether the audience means anything only when clicks are tracked."""
        return self.without_clicks


AUDIENCES: dict[str, Audience] = {
    "not_opened": Audience(("not_opened",), False, "no fetch showed that a person opened it"),
    "not_opened_or_unknown": Audience(
        ("not_opened", "unknown"),
        False,
        "not opened, or unknown (only Apple Mail Privacy Protection fetched it)",
    ),
    "not_clicked": Audience(
        ("not_opened", "unknown", "opened"), True, "no person clicked a link, opened or not"
    ),
    "opened_not_clicked": Audience(("opened",), True, "a person opened it but clicked no link"),
}
RULE_FIELDS = ("after_hours", "audience", "follow_up", "notify")


def audience_filter(follow_up: dict) -> tuple[tuple[str, ...], bool]:
    """Return (states, without_clicks) of a follow-up: its audience's, else by include_unknown."""
    audience = AUDIENCES.get(follow_up.get("audience") or "")
    if audience is not None:
        return audience.states, audience.without_clicks
    if follow_up["include_unknown"]:
        return ("not_opened", "unknown"), False
    return ("not_opened",), False


def preview(store, campaign_id: str, audience_name: str, now: float) -> int:
    """Return how many recipients a rule for this audience would take if it fired now."""
    chosen = AUDIENCES[audience_name]
    return store.count_audience(campaign_id, chosen.states, chosen.without_clicks, to_iso(now))


def quick_previews(store, campaign: dict, now: float) -> dict[str, int]:
    """Return what each audience would take now, from the campaign's counters (no scan), less
    the recipients on the opt-out list; the dashboard shows these on every campaign page.

    ``campaign`` is a campaign_summary. A message whose recipient was erased still counts
    here until the rule fires (it is left out of the list itself).
    """
    from_counters = {
        "not_opened": campaign["not_opened"],
        "not_opened_or_unknown": campaign["not_opened"] + campaign["unknown"],
        # A person's click implies an open, so clickers are among the opened.
        "not_clicked": campaign["tracked"] - campaign["clickers"],
        "opened_not_clicked": max(0, campaign["opened"] - campaign["clickers"]),
    }
    cutoff = to_iso(now)
    return {
        name: count
        - store.count_opted_out(
            campaign["id"], AUDIENCES[name].states, AUDIENCES[name].without_clicks, cutoff
        )
        for name, count in from_counters.items()
    }


@dataclass(frozen=True)
class RuleRequest:
    """A checked request for a rule."""

    audience: str
    after_hours: float
    follow_up_id: str
    follow_up_name: str
    notify: bool


def after_hours(value, field: str = "after_hours") -> float:
    """Return a rule's delay in hours, between MIN_AFTER_HOURS and MAX_AFTER_HOURS."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not MIN_AFTER_HOURS <= value <= MAX_AFTER_HOURS
    ):
        raise FieldError(
            field,
            f"must be a number of hours between {MIN_AFTER_HOURS} and {MAX_AFTER_HOURS} (90 days)",
        )
    return float(value)


def audience(value, field: str = "audience") -> str:
    """Return an audience name, one of AUDIENCES."""
    if not isinstance(value, str) or value not in AUDIENCES:
        raise FieldError(field, "must be one of " + ", ".join(AUDIENCES))
    return value


def parse_rule(body: dict) -> RuleRequest:
    """Return the rule a request body asks for, or raise FieldError naming the field."""
    unknown = [key for key in body if key not in RULE_FIELDS]
    if unknown:
        raise FieldError(unknown[0], "is not a field of a rule; use " + ", ".join(RULE_FIELDS))
    if "after_hours" not in body:
        raise FieldError("after_hours", "is required")
    follow_up = body.get("follow_up")
    if not isinstance(follow_up, dict):
        raise FieldError("follow_up", 'is required: {"id": "<new campaign id>", "name": "..."}')
    extra = [key for key in follow_up if key not in ("id", "name")]
    if extra:
        raise FieldError(f"follow_up.{extra[0]}", "is not a field of a follow-up; use id, name")
    follow_up_id, name = fields.campaign(
        follow_up.get("id"), follow_up.get("name"), id_field="follow_up.id"
    )
    return RuleRequest(
        audience=audience(body.get("audience", "not_opened")),
        after_hours=after_hours(body.get("after_hours")),
        follow_up_id=follow_up_id,
        follow_up_name=name,
        notify=fields.boolean(body.get("notify"), "notify", True),
    )


def refusal(campaign: dict, audience_name: str) -> str | None:
    """Return why a campaign may not have a rule for this audience, or None when it may."""
    if not campaign["track"]:
        return (
            f"Campaign '{campaign['id']}' is not tracked (track is false): no opens are "
            "recorded, so every recipient would look like a non-opener."
        )
    if AUDIENCES[audience_name].needs_clicks and not campaign["track_clicks"]:
        return (
            f"Campaign '{campaign['id']}' does not track clicks (track_clicks is false), so "
            f"the '{audience_name}' audience cannot be told apart."
        )
    return None


def anchor(rule: dict) -> str | None:
    """Return the time a rule counts from: the campaign's sent_at, else its last injection."""
    return rule.get("sent_at") or rule.get("last_injected_at")


def due_at(rule: dict) -> float | None:
    """Return the Unix time a rule is due, or None while its campaign has not been sent."""
    start = anchor(rule)
    if start is None:
        return None
    return from_iso(start) + float(rule["after_hours"]) * 3600


@dataclass
class ListLinks:
    """Signed, expiring download addresses of fired rules' lists."""

    serializer: URLSafeSerializer
    base_url: str | None
    hours: float

    def for_rule(self, rule: dict, now: float) -> dict:
        """Return the CSV and JSON addresses of a rule's list, valid for ``hours`` from now."""
        expires = int(now + self.hours * 3600)
        token = tokens.mint_list_token(self.serializer, rule["id"], expires)
        base = (self.base_url or rule.get("base_url") or "").rstrip("/")
        links = {kind: f"{base}{LIST_PATH}{token}.{kind}" for kind in FORMATS}
        return {**links, "expires_at": to_iso(expires)}


def list_links(config: Mapping) -> ListLinks:
    """Return the signer of list download addresses that an app's settings describe."""
    return ListLinks(
        tokens.list_serializer(config["SECRET_KEYS"]),
        config["BASE_URL"],
        float(config["FOLLOW_UP_LIST_HOURS"]),
    )


def read_list_address(serializer: URLSafeSerializer, token: str, now: float) -> tuple[str, bool]:
    """Return (rule id, expired) of a download token; raise LookupError when not ours."""
    found = tokens.read_list_token(serializer, token)
    if found is None:
        raise LookupError(token)
    automation_id, expires = found
    return automation_id, now > expires


def describe(rule: dict, now: float, links: ListLinks | None = None) -> dict:
    """Return a rule as senders read it: its state, when it is (or was) due, what it did."""
    due = due_at(rule)
    state = rule["state"]
    body = {
        "id": rule["id"],
        "campaign_id": rule["campaign_id"],
        "audience": rule["audience"],
        "after_hours": rule["after_hours"],
        "counts_from": "sent_at" if rule.get("sent_at") else "last_injection",
        "follow_up": {"id": rule["follow_up_id"], "name": rule["follow_up_name"]},
        "notify": rule["notify"],
        "state": state,
        "created_at": rule["created_at"],
        # Once fired, the time it was due when it fired; before, the time it will be.
        "due_at": rule["due_at"] if state in ("fired", "failed") else _iso(due),
        "fired_at": rule["fired_at"],
        "late_seconds": rule["late_seconds"],
        "recipients": rule["recipients"],
        "cancelled_at": rule["cancelled_at"],
        "error": rule["error"],
    }
    if state == "fired" and links is not None:
        body["download"] = links.for_rule(rule, now)
    return body


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else to_iso(timestamp)


def ready_event(rule: dict, parent: dict, recipients: int, download: dict, at: str) -> dict:
    """Return the ``follow_up_ready`` webhook payload of a rule that fired."""
    return {
        "id": webhooks.event_id(EVENT_TYPE, rule["id"]),
        "type": EVENT_TYPE,
        "created_at": at,
        "campaign_id": rule["campaign_id"],
        "automation_id": rule["id"],
        "audience": rule["audience"],
        "after_hours": rule["after_hours"],
        "follow_up": {"id": rule["follow_up_id"], "name": rule["follow_up_name"]},
        "due_at": rule["due_at"],
        "fired_at": at,
        "late_seconds": rule["late_seconds"],
        "counts": {
            "recipients": recipients,
            "sent": parent["sent"],
            "opened": parent["opened"],
            "unknown": parent["unknown"],
            "not_opened": parent.get("not_opened"),
            "clickers": parent.get("clickers"),
        },
        "download": download,
    }


@dataclass(frozen=True)
class Firing:
    """What firing one rule did."""

    automation_id: str
    campaign_id: str
    follow_up_id: str
    state: str  # fired, or failed (the follow-up id was taken meanwhile)
    recipients: int | None
    late_seconds: float
    error: str | None = None


def fire(store, automation_id: str, now: float, owner: str, links: ListLinks) -> Firing | None:
    """Fire one rule if it is still scheduled, due, and no other worker holds it.

    Returns what happened, or None when there was nothing to do.
    """
    with store.atomic():
        rule = store.lock_scheduled(automation_id)
        if rule is None:
            return None
        due = due_at(rule)
        if due is None or due > now:
            return None
        late = round(max(0.0, now - due), 3)
        due_iso, fired_iso = to_iso(due), to_iso(now)
        if store.get_campaign(rule["follow_up_id"]) is not None:
            error = f"A campaign with id '{rule['follow_up_id']}' was created meanwhile."
            store.finish_automation(automation_id, "failed", owner, due_iso, late, None, error)
            return Firing(
                automation_id,
                rule["campaign_id"],
                rule["follow_up_id"],
                "failed",
                None,
                late,
                error,
            )
        parent = store.get_campaign(rule["campaign_id"])
        chosen = AUDIENCES[rule["audience"]]
        # Every message injected up to now: the rule counted from the last one (or sent_at).
        store.create_follow_up(
            rule["follow_up_id"],
            rule["follow_up_name"],
            parent,
            "unknown" in chosen.states,
            0,
            fired_iso,
            audience=rule["audience"],
        )
        follow_up = store.get_follow_up(rule["follow_up_id"])
        count = store.freeze_recipients(automation_id, store.iter_follow_up_recipients(follow_up))
        store.finish_automation(automation_id, "fired", owner, due_iso, late, count)
        if rule["notify"]:
            rule = {**rule, "due_at": due_iso, "late_seconds": late}
            body = ready_event(
                rule, campaign_summary(parent), count, links.for_rule(rule, now), fired_iso
            )
            store.enqueue_event(body)
    return Firing(automation_id, rule["campaign_id"], rule["follow_up_id"], "fired", count, late)


def fire_due(
    store, now: float, owner: str, links: ListLinks, campaign_id: str | None = None
) -> list[Firing]:
    """Fire every scheduled rule that is due by ``now``; return what was fired."""
    done = []
    for rule in store.list_automations(campaign_id, "scheduled"):
        due = due_at(rule)
        if due is None or due > now:
            continue
        firing = fire(store, rule["id"], now, owner, links)
        if firing is None:
            continue
        done.append(firing)
        if firing.state == "failed":
            log.warning("automation %s did not fire: %s", firing.automation_id, firing.error)
        elif firing.late_seconds > LATE_AFTER_SECONDS:
            log.warning(
                "automation %s fired %.0f seconds late (nothing ran at its due time): "
                "follow-up %s with %d recipients",
                firing.automation_id,
                firing.late_seconds,
                firing.follow_up_id,
                firing.recipients,
            )
        else:
            log.info(
                "automation %s fired: follow-up %s with %d recipients",
                firing.automation_id,
                firing.follow_up_id,
                firing.recipients,
            )
    return done


class Runner:
    """Fire due rules from a worker's rounds, reading the time from a clock."""

    def __init__(self, store, links: ListLinks, owner: str, clock: Callable[[], float] = time.time):
        self.store = store
        self.links = links
        self.owner = owner
        self.clock = clock

    def run_due(self) -> list[Firing]:
        """Fire what is due now."""
        return fire_due(self.store, self.clock(), self.owner, self.links)
