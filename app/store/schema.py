"""The embedded database's schema, as named sqlite-utils migrations applied at start-up."""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("opentrack")


@migrations(name="enable_wal", transactional=False)
def enable_wal(db: Database) -> None:
    """Let readers and the pixel writer work at the same time."""
    db.enable_wal()


@migrations(name="core_tables")
def core_tables(db: Database) -> None:
    """Create campaigns, messages, open events, hourly counts, API keys and metrics."""
    db["campaigns"].create(
        {
            "id": str,
            "name": str,
            "created_at": str,
            "first_injected_at": str,
            "sent": int,
            "fetched": int,
            "opened": int,
            "unknown": int,
            "total_opens": int,
            "human_opens": int,
            "machine_opens": int,
            "first_open_at": str,
            "last_open_at": str,
        },
        pk="id",
        not_null={"name", "created_at"},
        defaults={
            "sent": 0,
            "fetched": 0,
            "opened": 0,
            "unknown": 0,
            "total_opens": 0,
            "human_opens": 0,
            "machine_opens": 0,
        },
    )
    db["messages"].create(
        {
            "id": str,
            "campaign_id": str,
            "recipient": str,
            "metadata": str,
            "injected_at": str,
            "state": str,
            "opens": int,
            "human_opens": int,
            "machine_opens": int,
            "mpp_opens": int,
            "first_fetch_at": str,
            "first_open_at": str,
            "last_open_at": str,
            "last_client": str,
        },
        pk="id",
        foreign_keys=[("campaign_id", "campaigns", "id")],
        not_null={"campaign_id", "recipient", "injected_at", "state"},
        defaults={
            "state": "not_opened",
            "opens": 0,
            "human_opens": 0,
            "machine_opens": 0,
            "mpp_opens": 0,
        },
    )
    db["messages"].create_index(["campaign_id", "recipient"], unique=True)
    db["messages"].create_index(["campaign_id", "state", "injected_at"])
    db["events"].create(
        {
            "id": int,
            "event_key": str,
            "message_id": str,
            "campaign_id": str,
            "at": str,
            "ip": str,
            "user_agent": str,
            "method": str,
            "x_requested_with": str,
            "sec_purpose": str,
            "seconds_since_send": float,
            "client": str,
            "client_version": str,
            "os": str,
            "device": str,
            "verdict": str,
            "source": str,
            "reason": str,
            "country": str,
            "asn": str,
        },
        pk="id",
        not_null={"event_key", "message_id", "campaign_id", "at", "verdict", "source"},
    )
    # The spool may replay an event after a crash; its key makes the replay a no-op.
    db["events"].create_index(["event_key"], unique=True)
    db["events"].create_index(["message_id", "at"])
    db["events"].create_index(["campaign_id", "at"])
    db["campaign_hours"].create(
        {"campaign_id": str, "hour": str, "human": int, "machine": int},
        pk=("campaign_id", "hour"),
        defaults={"human": 0, "machine": 0},
    )
    db["api_keys"].create(
        {
            "id": int,
            "name": str,
            "prefix": str,
            "key_hash": str,
            "created_at": str,
            "last_used_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"name", "key_hash", "created_at"},
    )
    db["api_keys"].create_index(["key_hash"], unique=True)
    db["api_keys"].create_index(["name"], unique=True)
    db["metrics"].create({"name": str, "value": int}, pk="name", defaults={"value": 0})


@migrations(name="breakdowns")
def breakdowns(db: Database) -> None:
    """Count opens and first-time openers per client, OS, device, country and verdict source."""
    db["campaign_breakdowns"].create(
        {
            "campaign_id": str,
            "dimension": str,
            "value": str,
            "opens": int,
            "human_opens": int,
            "machine_opens": int,
            "openers": int,
        },
        pk=("campaign_id", "dimension", "value"),
        defaults={"opens": 0, "human_opens": 0, "machine_opens": 0, "openers": 0},
    )


@migrations(name="dashboard_users")
def dashboard_users(db: Database) -> None:
    """Create dashboard users and the failed sign-in counters that throttle guessing."""
    db["users"].create(
        {
            "id": int,
            "email": str,
            "password_hash": str,
            "created_at": str,
            "last_sign_in_at": str,
        },
        pk="id",
        not_null={"email", "password_hash", "created_at"},
    )
    db["users"].create_index(["email"], unique=True)
    # One row per throttled key: "email:<address>" or "ip:<address>".
    db["sign_in_failures"].create(
        {"key": str, "failures": int, "last_failed_at": float, "locked_until": float},
        pk="key",
        defaults={"failures": 0, "locked_until": 0},
    )


@migrations(name="privacy")
def privacy(db: Database) -> None:
    """Add tracking switches, the opt-out list and the erasure audit log."""
    db["campaigns"].add_column("track", int, not_null_default=1)
    db["campaigns"].add_column("untracked", int, not_null_default=0)
    db["messages"].add_column("tracked", int, not_null_default=1)
    # The hash keeps an opt-out honoured after the address itself has been erased.
    db["suppressions"].create(
        {"recipient_hash": str, "recipient": str, "source": str, "created_at": str},
        pk="recipient_hash",
        not_null={"source", "created_at"},
    )
    db["erasures"].create(
        {"id": int, "at": str, "actor": str, "messages": int, "events": int, "suppressions": int},
        pk="id",
    )


@migrations(name="clicks_webhooks_follow_ups")
def clicks_webhooks_follow_ups(db: Database) -> None:
    """Add tracked links and clicks, webhook endpoints with their outbox, and follow-ups."""
    db["campaigns"].add_column("track_clicks", int, not_null_default=0)
    for column in ("clicks", "human_clicks", "machine_clicks", "clickers"):
        db["campaigns"].add_column(column, int, not_null_default=0)
    db["messages"].add_column("human_clicks", int, not_null_default=0)
    db["links"].create(
        {
            "id": int,
            "campaign_id": str,
            "url": str,
            "created_at": str,
            "clicks": int,
            "human_clicks": int,
            "machine_clicks": int,
            "clickers": int,
        },
        pk="id",
        not_null={"campaign_id", "url", "created_at"},
        defaults={"clicks": 0, "human_clicks": 0, "machine_clicks": 0, "clickers": 0},
    )
    db["links"].create_index(["campaign_id", "url"], unique=True)
    db["clicks"].create(
        {
            "id": int,
            "event_key": str,
            "message_id": str,
            "campaign_id": str,
            "link_id": int,
            "at": str,
            "ip": str,
            "user_agent": str,
            "method": str,
            "seconds_since_send": float,
            "client": str,
            "client_version": str,
            "os": str,
            "device": str,
            "verdict": str,
            "source": str,
            "reason": str,
            "country": str,
            "asn": str,
            # 0 until the click is old enough to tell whether it was part of a scanner burst.
            "settled": int,
        },
        pk="id",
        not_null={"event_key", "message_id", "campaign_id", "link_id", "at", "verdict", "source"},
        defaults={"settled": 0},
    )
    db["clicks"].create_index(["event_key"], unique=True)
    db["clicks"].create_index(["message_id", "at"])
    db["clicks"].create_index(["settled", "at"])
    db["webhooks"].create(
        {
            "id": str,
            "url": str,
            "events": str,
            "include_machine": int,
            "description": str,
            "secret": str,
            "created_at": str,
            "deleted_at": str,
        },
        pk="id",
        not_null={"url", "events", "secret", "created_at"},
        defaults={"include_machine": 1},
    )
    db["webhook_deliveries"].create(
        {
            "id": int,
            "webhook_id": str,
            "event_id": str,
            "event_type": str,
            "payload": str,
            "created_at": str,
            "status": str,
            "attempts": int,
            # Unix times, so the worker compares and adds seconds without parsing.
            "next_attempt_at": float,
            # When the retry clock started: the event, or a redelivery asked for by hand.
            "retry_from": float,
            "claimed_until": float,
            "claimed_by": str,
            "last_attempt_at": str,
            "last_status": int,
            "last_error": str,
            "delivered_at": str,
        },
        pk="id",
        not_null={"webhook_id", "event_id", "event_type", "payload", "created_at", "status"},
        defaults={"status": "pending", "attempts": 0},
    )
    db["webhook_deliveries"].create_index(["webhook_id", "event_id"], unique=True)
    db["webhook_deliveries"].create_index(["status", "webhook_id", "id"])
    db["webhook_deliveries"].create_index(["webhook_id", "id"])
    db["follow_ups"].create(
        {
            "campaign_id": str,
            "parent_id": str,
            "include_unknown": int,
            "min_age_hours": float,
            "injected_before": str,
            "created_at": str,
        },
        pk="campaign_id",
        not_null={"parent_id", "injected_before", "created_at"},
    )
    db["follow_ups"].create_index(["parent_id"])


@migrations(name="dashboard_sessions")
def dashboard_sessions(db: Database) -> None:
    """Keep dashboard sessions server-side, so that signing out ends them on every host."""
    db["sessions"].create(
        {"token_hash": str, "user_id": int, "created_at": float, "expires_at": float},
        pk="token_hash",
        not_null={"user_id", "created_at", "expires_at"},
    )
    db["sessions"].create_index(["user_id"])
    db["sessions"].create_index(["expires_at"])


@migrations(name="burst_fetches")
def burst_fetches(db: Database) -> None:
    """Share the messages each network fetched lately, so bursts are seen across instances."""
    db["burst_fetches"].create(
        {"network": str, "message_id": str, "at": float}, pk=("network", "message_id")
    )
    db["burst_fetches"].create_index(["at"])


@migrations(name="campaign_lifecycle")
def campaign_lifecycle(db: Database) -> None:
    """Let campaigns be archived, and keep an audit row for each campaign deleted."""
    db["campaigns"].add_column("archived_at", str)
    db["campaign_deletions"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "campaign_id": str,
            "messages": int,
            "events": int,
            "clicks": int,
        },
        pk="id",
        not_null={"at", "campaign_id"},
    )


@migrations(name="automations")
def automations(db: Database) -> None:
    """Add follow-up rules that fire by themselves, the lists they froze, and send times."""
    # The time a rule counts from: the sender's own sent_at, else the last injection.
    db["campaigns"].add_column("sent_at", str)
    db["campaigns"].add_column("last_injected_at", str)
    db.execute(
        "UPDATE campaigns SET last_injected_at = "
        "(SELECT max(injected_at) FROM messages WHERE campaign_id = campaigns.id)"
    )
    # NULL: the follow-up's recipients are chosen by include_unknown, as before.
    db["follow_ups"].add_column("audience", str)
    db["automations"].create(
        {
            "id": str,
            "campaign_id": str,
            "audience": str,
            "after_hours": float,
            "follow_up_id": str,
            "follow_up_name": str,
            "notify": int,
            "base_url": str,
            "created_at": str,
            "created_by": str,
            # scheduled, fired, cancelled or failed (the follow-up id was taken meanwhile).
            "state": str,
            "cancelled_at": str,
            "due_at": str,
            "fired_at": str,
            "fired_by": str,
            "late_seconds": float,
            "recipients": int,
            "error": str,
        },
        pk="id",
        not_null={"campaign_id", "audience", "after_hours", "follow_up_id", "created_at", "state"},
        defaults={"state": "scheduled", "notify": 1},
    )
    db["automations"].create_index(["campaign_id", "created_at"])
    db["automations"].create_index(["state"])
    # A follow-up id is held by one rule that may still fire; a cancelled rule lets it go.
    db.execute(
        "CREATE UNIQUE INDEX automations_follow_up ON automations (follow_up_id) "
        "WHERE state != 'cancelled'"
    )
    db["automation_recipients"].create(
        {
            "automation_id": str,
            "message_id": str,
            "recipient": str,
            "state": str,
            "injected_at": str,
            "first_open_at": str,
            "opens": int,
            "metadata": str,
        },
        pk=("automation_id", "message_id"),
        not_null={"recipient"},
    )


@migrations(name="campaign_first_opens")
def campaign_first_opens(db: Database) -> None:
    """Count opened messages by time to first open, kept with each open like the hours."""
    from app.store.rebuild import first_opens_sql

    db["campaign_first_opens"].create(
        {"campaign_id": str, "bucket": int, "messages": int},
        pk=("campaign_id", "bucket"),
        not_null={"messages"},
    )
    elapsed = "(julianday(first_open_at) - julianday(injected_at)) * 86400.0"
    db.execute(first_opens_sql(elapsed, "1 = 1"))


@migrations(name="delivery_events")
def delivery_events(db: Database) -> None:
    """Add delivery statuses from the sender's ESP, their events, and a reason per opt-out."""
    db["messages"].add_column("delivery_status", str, not_null_default="unknown")
    db["messages"].add_column("bounce_type", str)
    db["messages"].add_column("delivery_at", str)
    db["messages"].add_column("unsubscribed_at", str)
    for column in (
        "delivered",
        "deferred",
        "soft_bounced",
        "hard_bounced",
        "complained",
        "unsubscribed",
    ):
        db["campaigns"].add_column(column, int, not_null_default=0)
    db["suppressions"].add_column("reason", str)
    db["delivery_events"].create(
        {
            "id": int,
            "provider": str,
            "provider_event_id": str,
            "message_id": str,
            "campaign_id": str,
            "recipient": str,
            "event": str,
            "bounce_type": str,
            "at": str,
            "received_at": str,
            "matched": int,
            "detail": str,
        },
        pk="id",
        not_null={"provider", "provider_event_id", "event", "at", "received_at", "matched"},
    )
    # A provider retries a post it saw fail: its own event id makes the replay a no-op.
    db["delivery_events"].create_index(["provider", "provider_event_id"], unique=True)
    db["delivery_events"].create_index(["matched", "id"])
    db["delivery_events"].create_index(["message_id"])
    # Engagement and send times read one recipient's messages across campaigns.
    db["messages"].create_index(["recipient", "injected_at"])


@migrations(name="conversions")
def conversions(db: Database) -> None:
    """Add conversions, and the campaign and message switches and settings of attribution."""
    db["campaigns"].add_column("attribution", int, not_null_default=0)
    db["campaigns"].add_column("attribution_window_days", float, not_null_default=7.0)
    db["campaigns"].add_column("view_through", int, not_null_default=0)
    db["campaigns"].add_column("cost", str)
    db["campaigns"].add_column("cost_currency", str)
    db["messages"].add_column("attribution", int, not_null_default=0)
    db["conversions"].create(
        {
            "id": int,
            "site": str,
            "order_id": str,
            "event": str,
            "value": str,
            # The value in the currency's minor units (cents), so sums stay exact.
            "amount_minor": int,
            "currency": str,
            "at": str,
            "source": str,
            # How it named its message: "ot", "recipient", or "none" (unattributed).
            "via": str,
            "message_id": str,
            "link_id": int,
            "campaign_id": str,
            # The earliest human click (and, for view-through, open) that may attribute it.
            "window_from": str,
            "view_from": str,
        },
        pk="id",
        not_null={"site", "order_id", "event", "at", "source", "via"},
    )
    db["conversions"].create_index(["site", "order_id"], unique=True)
    db["conversions"].create_index(["campaign_id", "at"])
    db["conversions"].create_index(["message_id"])


@migrations(name="sender_name")
def sender_name(db: Database) -> None:
    """Add the sender a campaign's opt-out page names (null: the campaign's name)."""
    db["campaigns"].add_column("sender_name", str)


@migrations(name="clicks_attribution")
def clicks_attribution(db: Database) -> None:
    """Index a message's clicks by verdict and settling, for the last human click to attribute."""
    # A conversion looks up, for each of its recipient's messages, the latest settled human
    # click; without it SQLite may walk every settled click by time instead.
    db["clicks"].create_index(["message_id", "verdict", "settled", "at"])


@migrations(name="campaign_open_signals")
def campaign_open_signals(db: Database) -> None:
    """Count each campaign's opened messages with an Apple MPP fetch, and those without one a
    person clicked (the estimated open rate's), kept with each open and click."""
    from app.store.rebuild import FILL_SIGNALS

    db["campaigns"].add_column("hidden_opened", int, not_null_default=0)
    db["campaigns"].add_column("visible_opened_clicked", int, not_null_default=0)
    db.execute(FILL_SIGNALS)


@migrations(name="recipient_engagement")
def recipient_engagement(db: Database) -> None:
    """Keep each recipient's engagement as counters (store.engagement_counters), filled from
    the messages, opens and clicks already stored."""
    from app.store.engagement_counters import MPP_ONLY_INDEX, REBUILD, engagement_table

    # Without rowid: the rows sit in recipient order, the order segments stream them in.
    db.execute(engagement_table("INTEGER") + " WITHOUT ROWID")
    db.execute(MPP_ONLY_INDEX)
    db.execute(REBUILD)


@migrations(name="messages_listing_indexes")
def messages_listing_indexes(db: Database) -> None:
    """Index a campaign's messages by injection time, and by state and address, for the
    dashboard's recipients table."""
    # The table of all states, newest first, is one range of the first (a page deep in it
    # skips index entries only); a search within a state is one range of the second in
    # address order, instead of every address that matches (a letter matches a whole
    # campaign) or every message in the state.
    db["messages"].create_index(["campaign_id", "injected_at"], if_not_exists=True)
    db["messages"].create_index(["campaign_id", "state", "recipient"], if_not_exists=True)


@migrations(name="follow_up_both_opened")
def follow_up_both_opened(db: Database) -> None:
    """Count, per follow-up, the recipients a person opened both it and its parent for, kept
    with each open, so the combined reach reads counters instead of both campaigns' openers."""
    from app.store.rebuild import BOTH_OPENED

    db["follow_ups"].add_column("both_opened", int, not_null_default=0)
    db.execute(f"UPDATE follow_ups SET both_opened = {BOTH_OPENED}")
