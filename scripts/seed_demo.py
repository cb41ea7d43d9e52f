"""Seed a demo campaign of 100,000 messages and 300,000 opens, then time the dashboard's pages.

    .venv/bin/python scripts/seed_demo.py [--instance DIR] [--messages N] [--opens N]

Traffic is generated as real senders see it: people's opens on their mail clients (Apple Mail,
Gmail's proxy, Outlook...), Apple Mail Privacy Protection's fetches, security scanners' fetches
and link bursts, people's clicks (some of them from behind Apple's proxy, so their click is the
open we know of), and a follow-up sent to the non-openers with opens of its own. Every fetch is
judged by the real classifier and every click by the real click rules, once per kind; then the
rows go straight into the store's tables, 50,000 messages a transaction (Store.load_traffic),
and every counter is rebuilt from them by the functions ``opentrack reclassify`` uses
(Store.finish_load), so counters, hourly counts and breakdowns are what recording would make.
A million messages take a few minutes.
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.core.times import from_iso, to_iso  # noqa: E402
from app.core.tokens import new_message_id  # noqa: E402
from app.rules.classify import Fetch, classify  # noqa: E402
from app.rules.clicks import click_verdict, implied_open, settle_verdict  # noqa: E402
from app.store.clicks import CLICK_FIELDS  # noqa: E402
from app.store.events import EVENT_FIELDS  # noqa: E402

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-1"
DAY = 24 * 3600
# Messages per transaction of the bulk load.
LOAD_BATCH = 50_000
# A send goes out at this many messages a second (a million in about an hour).
SEND_RATE = 300
# (user agent, share of openers, extra fetch options): the mail clients people open with.
HUMAN_CLIENTS = [
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        30,
    ),
    (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        28,
    ),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)", 14),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", 9),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        8,
    ),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 6),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0", 5),
]
APPLE_MPP = "Mozilla/5.0"
GATEWAY = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# The browsers people's clicks open in: a phone's, a desktop's.
CLICK_BROWSERS = [
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        45,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        15,
    ),
    (GATEWAY, 40),
]
LINKS = [
    "https://example.com/launch",
    "https://example.com/pricing",
    "https://example.com/blog/what-is-new",
]
# The scanner window the click rules are given (the SCANNER_WINDOW_SECONDS default's order).
SCANNER_WINDOW = 60.0
COUNTRIES = [("US", 40), ("DE", 14), ("GB", 12), ("FR", 9), ("CA", 7), ("NL", 6), ("BR", 5)]
COUNTRIES += [("IN", 4), ("JP", 3)]
COUNTRY_CODES = [code for code, _ in COUNTRIES]
COUNTRY_WEIGHTS = [weight for _, weight in COUNTRIES]


def verdict_of(user_agent: str, **options) -> dict:
    """Return the stored fields of the real classifier's verdict on one fetch."""
    verdict = classify(Fetch(user_agent, None, **options)).as_dict()
    verdict["user_agent"] = user_agent
    return verdict


def plan_opens(rng: random.Random, messages: list[dict], opens: int) -> list[tuple[dict, str]]:
    """Return (message, kind) for each open to store, kind one of human, mpp or scanner."""
    kinds = []
    for message in messages:
        roll = rng.random()
        if roll < 0.42:
            kinds.append((message, "human"))
            if rng.random() < 0.25:
                kinds.append((message, "scanner"))
        elif roll < 0.58:
            kinds.append((message, "mpp"))
        elif roll < 0.66:
            kinds.append((message, "scanner"))
    # Re-opens: people who opened once open again; Apple's proxy fetches again.
    repeaters = [item for item in kinds if item[1] in ("human", "mpp")]
    while len(kinds) < opens and repeaters:
        kinds.append(rng.choice(repeaters))
    return kinds[:opens]


class Traffic:
    """The verdicts of each kind of fetch and click, judged once by the real rules."""

    def __init__(self):
        self.humans = [verdict_of(ua) for ua, _ in HUMAN_CLIENTS]
        self.weights = [weight for _, weight in HUMAN_CLIENTS]
        self.mpp = verdict_of(APPLE_MPP)
        self.scanner = verdict_of(GATEWAY, burst=True)
        self.browsers = [verdict_of(ua) for ua, _ in CLICK_BROWSERS]
        self.browser_weights = [weight for _, weight in CLICK_BROWSERS]
        self.clicks: dict = {}

    def click(self, verdict: dict, seconds: float, links_in_burst: int) -> tuple[str, str, str]:
        """Return a click's final verdict by the click rules (memoised: by kind and lateness)."""
        key = (verdict["user_agent"], seconds < SCANNER_WINDOW, links_in_burst)
        if key not in self.clicks:
            judged = click_verdict(verdict, "GET", seconds, SCANNER_WINDOW)
            self.clicks[key] = settle_verdict(judged, links_in_burst)
        return self.clicks[key]


def open_row(event: dict) -> list:
    """Return an open event as a row of the events table."""
    return [event.get(name) for name in EVENT_FIELDS]


def click_row(click: dict) -> list:
    """Return a click as a row of the clicks table."""
    return [click.get(name) for name in CLICK_FIELDS]


def plan_batch(
    rng: random.Random,
    traffic: Traffic,
    batch: list[dict],
    opens: int,
    links: list[int],
    key: str,
) -> tuple[list, list]:
    """Return the open events and clicks of a batch of messages (each with id and sent_at)."""
    now = time.time()
    events, clicks = [], []
    first_human: dict[str, float] = {}
    fetched: dict[str, tuple[str, float]] = {}
    for number, (message, kind) in enumerate(plan_opens(rng, batch, opens)):
        if kind == "human":
            verdict = message["client"]
            delay = min(rng.expovariate(1 / (5 * 3600)) * rng.choice((1, 1, 1, 4)), 20 * DAY)
        elif kind == "mpp":
            verdict, delay = traffic.mpp, rng.uniform(60, 4 * 3600)
        else:
            verdict, delay = traffic.scanner, rng.uniform(2, 40)
        at = min(message["sent_at"] + delay, now)
        country = message["country"]
        event = {
            **verdict,
            "event_key": f"{key}-{number}",
            "message_id": message["id"],
            "campaign_id": message["campaign_id"],
            "at": to_iso(at),
            "ip": f"203.0.113.{number % 250 + 1}",
            "method": "GET",
            "seconds_since_send": at - message["sent_at"],
            "country": verdict["country"] or (None if kind == "scanner" else country),
        }
        events.append(open_row(event))
        if kind == "human":
            first_human[message["id"]] = min(at, first_human.get(message["id"], at))
        if message["id"] not in fetched or at < fetched[message["id"]][1]:
            fetched[message["id"]] = (kind, at)
    for message in batch:
        kind, at = fetched.get(message["id"], (None, 0.0))
        chances = {"human": 0.16, "mpp": 0.09, "scanner": 0.35}
        if message["id"] in first_human:
            kind, at = "human", first_human[message["id"]]
        if kind is None or rng.random() >= chances[kind]:
            continue
        if kind == "scanner":
            # A gateway follows every link of the message within a second of fetching.
            times = [at + 1 + rng.random() for _ in links]
            verdict, chosen = traffic.scanner, links
        else:
            # A person clicks one link (now and then two) minutes to hours after reading.
            verdict = message["browser"]
            chosen = rng.sample(links, 2 if rng.random() < 0.25 else 1)
            times = sorted(
                at + 20 + rng.expovariate(1 / 600) * (1 + index * 10)
                for index in range(len(chosen))
            )
        for number, (link_id, clicked_at) in enumerate(zip(chosen, times, strict=True)):
            clicked_at = min(clicked_at, now)
            seconds = clicked_at - message["sent_at"]
            final = traffic.click(verdict, seconds, len(chosen) if kind == "scanner" else 1)
            click = {
                **verdict,
                "event_key": f"{key}-click-{message['id']}-{number}",
                "message_id": message["id"],
                "campaign_id": message["campaign_id"],
                "link_id": link_id,
                "at": to_iso(clicked_at),
                "ip": f"198.51.100.{len(clicks) % 250 + 1}",
                "method": "GET",
                "seconds_since_send": seconds,
                "verdict": final[0],
                "source": final[1],
                "reason": final[2],
            }
            clicks.append(click_row(click))
            # A person's click behind Apple's proxy is the open we know of (rules.clicks.settle).
            if number == 0 and final[0] == "human" and message["id"] not in first_human:
                events.append(
                    open_row({**implied_open(click), "campaign_id": click["campaign_id"]})
                )
    return events, clicks


def seed_campaign(
    app,
    campaign_id: str,
    name: str,
    messages: int,
    opens: int,
    days_ago: float,
    recipients: list[str] | None = None,
):
    """Create a campaign sent days_ago with this many messages (to ``recipients`` when given,
    else generated addresses) and about this many opens; return seconds taken."""
    started = time.perf_counter()
    store = app.extensions["opentrack"].store
    rng = random.Random(campaign_id)
    habits = random.Random(f"{campaign_id} habits")
    traffic = Traffic()
    if store.get_campaign(campaign_id) is None:
        store.create_campaign(campaign_id, name)
    store.set_track_clicks(campaign_id, True)
    links = list(store.register_links(campaign_id, LINKS).values())
    sent_at = time.time() - days_ago * DAY
    for start in range(0, messages, LOAD_BATCH):
        batch, rows = [], []
        for n in range(start, min(start + LOAD_BATCH, messages)):
            message_id = new_message_id()
            injected = sent_at + n / SEND_RATE
            recipient = (
                recipients[n]
                if recipients
                else f"reader{n:06d}@example.{'com' if n % 3 else 'org'}"
            )
            metadata = json.dumps({"list": "weekly", "n": n}, separators=(",", ":"))
            rows.append(
                [message_id, campaign_id, recipient, metadata, to_iso(injected), True, "not_opened"]
            )
            batch.append({"id": message_id, "campaign_id": campaign_id, "sent_at": injected})
        # A person reads on one client from one country and clicks in one browser: chosen once
        # per message.
        clients = habits.choices(traffic.humans, traffic.weights, k=len(batch))
        countries = habits.choices(COUNTRY_CODES, COUNTRY_WEIGHTS, k=len(batch))
        browsers = habits.choices(traffic.browsers, traffic.browser_weights, k=len(batch))
        for message, client, country, browser in zip(
            batch, clients, countries, browsers, strict=True
        ):
            message.update(client=client, country=country, browser=browser)
        share = round(opens * len(batch) / messages)
        events, clicks = plan_batch(
            rng, traffic, batch, share, links, f"seed-{campaign_id}-{start}"
        )
        store.load_traffic(rows, events, clicks)
    store.finish_load(campaign_id, to_iso(sent_at - 600))
    return time.perf_counter() - started


def seed_follow_up(app, parent_id: str, days_after: float = 2) -> str:
    """Create a follow-up of a campaign, send it to the parent's non-openers days_after the
    parent, with opens of its own; return its id."""
    store = app.extensions["opentrack"].store
    follow_up_id = f"{parent_id}-resend"
    if store.get_campaign(follow_up_id) is not None:
        return follow_up_id
    parent = store.get_campaign(parent_id)
    cutoff = to_iso(from_iso(parent["first_injected_at"]) + days_after * DAY)
    store.create_follow_up(
        follow_up_id, f"{parent['name']} (resend)", parent, False, days_after * 24, cutoff
    )
    settings = store.get_follow_up(follow_up_id)
    recipients = [row["recipient"] for row in store.iter_follow_up_recipients(settings)]
    parent_age = (time.time() - from_iso(parent["first_injected_at"])) / DAY
    seed_campaign(
        app,
        follow_up_id,
        "",
        len(recipients),
        len(recipients) // 3,
        max(parent_age - days_after, 0.5),
        recipients,
    )
    return follow_up_id


def seed_extras(app, campaign_id: str) -> None:
    """Give the demo a webhook endpoint with a pending test event and a follow-up rule."""
    store = app.extensions["opentrack"].store
    if not store.list_webhooks():
        hook = store.create_webhook(
            "https://hooks.example.com/opentrack", ["open", "click"], False, "CRM sync"
        )
        store.enqueue_test(hook["id"])
    if not store.list_automations(campaign_id):
        store.create_automation(
            campaign_id, "not_clicked", 96, f"{campaign_id}-nudge", "Nudge", False, None, "seed"
        )


def seed_small_campaigns(app, count: int) -> None:
    """Create a few small campaigns, so the list has history and pages."""
    for number in range(count, 0, -1):
        seed_campaign(
            app,
            f"issue-{number:03d}",
            f"Weekly digest #{number}",
            messages=40 + number * 7 % 90,
            opens=60 + number * 11 % 120,
            days_ago=7 * number + 2,
        )


def signed_in_client(app):
    """Return a test client signed in as the demo user (created when missing)."""
    from app.core.users import hash_password

    users = app.extensions["opentrack"].store
    if users.user_by_email(DEMO_EMAIL) is None:
        users.create_user(DEMO_EMAIL, hash_password(DEMO_PASSWORD))
    client = app.test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/dashboard/login",
        data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.status_code
    return client


def time_pages(app, campaign_id: str) -> list[tuple[str, float]]:
    """Return the best of three render times of each dashboard page, in seconds."""
    client = signed_in_client(app)
    store = app.extensions["opentrack"].store
    message_id = store.recipients(campaign_id, "opened", limit=1)[0]["id"]
    deep = store.get_campaign(campaign_id)["sent"] // 50
    campaign = f"/dashboard/campaigns/{campaign_id}"
    follow_up = f"{campaign_id}-resend"
    if store.get_campaign(follow_up) is None:
        page = client.get(campaign).get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "id": follow_up, "follow_up_age_hours": "0"}
        assert client.post(f"{campaign}/follow-ups", data=form).status_code == 302
    pages = [
        ("campaign list", "/dashboard/campaigns"),
        ("campaign list, page 2", "/dashboard/campaigns?page=2"),
        ("campaign page", campaign),
        ("recipients, last page", f"{campaign}?page={deep}"),
        ("opened, page 600", f"{campaign}?state=opened&page=600"),
        ("not opened, last page", f"{campaign}?state=not_opened&page=100000"),
        ("recipients search", f"{campaign}?q=reader0999"),
        ("message page", f"/dashboard/messages/{message_id}"),
        ("campaign, all fetches", f"{campaign}?breakdown=fetches"),
        ("follow-up report", f"/dashboard/campaigns/{follow_up}/follow-up"),
        ("follow-up's page", f"/dashboard/campaigns/{follow_up}"),
        ("archived included", "/dashboard/campaigns?archived=1"),
        ("API keys", "/dashboard/keys"),
        ("webhooks", "/dashboard/webhooks"),
    ]
    timings = []
    for label, path in pages:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(path)
            best = min(best, time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        timings.append((label, best))
    return timings


def time_exports(app, campaign_id: str) -> list[str]:
    """Stream the non-openers through the API; report rows, time, and peak memory vs size."""
    import tracemalloc

    store = app.extensions["opentrack"].store
    key = "otk_demo_" + str(time.time_ns())
    store.create_api_key(f"demo-export-{key[-6:]}", key)
    client = app.test_client()
    lines = []
    for export_format in ("csv", "json"):
        path = f"/api/v1/campaigns/{campaign_id}/non-openers?format={export_format}"
        path += "&include_unknown=true"
        tracemalloc.start()
        started = time.perf_counter()
        response = client.get(path, headers={"Authorization": f"Bearer {key}"}, buffered=False)
        size = rows = 0
        for chunk in response.response:
            size += len(chunk)
            rows += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        response.close()
        lines.append(
            f"  non-openers {export_format}: ~{rows:,} lines, {size / 1e6:.1f} MB in {took:.2f} s; "
            f"peak Python memory {peak / 1e6:.2f} MB ({peak / size:.1%} of the output)"
        )
    return lines


def make_app(instance: str):
    """Return an app on an instance folder, with the dashboard registered."""
    from app import dashboard

    app = create_app({"INSTANCE_PATH": instance})
    dashboard.init_app(app)
    return app


def main() -> None:
    """Seed the demo campaign and print how long each page takes to render."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", help="instance folder (default: a new temporary one)")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--opens", type=int, default=300_000)
    parser.add_argument(
        "--reuse", action="store_true", help="time an --instance seeded before, seeding nothing"
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="seed, then exit without timing anything"
    )
    args = parser.parse_args()
    instance = args.instance or tempfile.mkdtemp(prefix="opentrack-demo-")
    app = make_app(instance)
    if not (args.reuse and app.extensions["opentrack"].store.get_campaign("big-launch")):
        seed_small_campaigns(app, 60)
        took = seed_campaign(app, "big-launch", "Big launch", args.messages, args.opens, 9)
        started = time.perf_counter()
        seed_follow_up(app, "big-launch")
        seed_extras(app, "big-launch")
        took_follow_up = time.perf_counter() - started
        print(
            f"Seeded {args.messages:,} messages and {args.opens:,} opens in {took:.1f} s, "
            f"their follow-up in {took_follow_up:.1f} s"
        )
    print(f"Instance: {instance} (sign in as {DEMO_EMAIL} / {DEMO_PASSWORD})")
    if args.seed_only:
        app.extensions["opentrack"].recorder.stop()
        return
    for label, seconds in time_pages(app, "big-launch"):
        print(f"  {label:<24} {seconds * 1000:7.1f} ms")
    for line in [] if args.reuse else time_exports(app, "big-launch"):
        print(line)
    app.extensions["opentrack"].recorder.stop()


if __name__ == "__main__":
    main()
