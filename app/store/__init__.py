"""The store: the only package that speaks SQL, behind one declared interface.

``Store`` is the one object the rest of the app talks to. Each resource (campaigns, messages,
events, ...) is a class of its own module; the list below is the whole public surface, each
line naming the resource that implements it. Effects that cross resources are wired in
``Store.__init__``: open events queue webhook deliveries, clicks record the opens they imply,
and every recording skips recipients on the opt-out list.
"""

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from app.store.automations import Automations
from app.store.bulk import Bulk
from app.store.bursts import Bursts
from app.store.campaigns import Campaigns
from app.store.clicks import Clicks
from app.store.conversions import Conversions
from app.store.database import open_database
from app.store.delivery import DeliveryEvents
from app.store.engagement import Engagement
from app.store.engagement_counters import EngagementCounters
from app.store.errors import CampaignExists, EmailTaken, FollowUpExists, NameTaken, StoreError
from app.store.events import OpenEvents
from app.store.followups import FollowUps
from app.store.keys import ApiKeys
from app.store.messages import Messages
from app.store.metrics import Metrics
from app.store.privacy import Privacy
from app.store.rebuild import rebuild_counters
from app.store.reports import Reports
from app.store.users import Users
from app.store.webhooks import Webhooks

__all__ = [
    "CampaignExists",
    "EmailTaken",
    "FollowUpExists",
    "NameTaken",
    "Store",
    "StoreError",
    "is_server_database",
]


def is_server_database(database: str) -> bool:
    """Return whether a DATABASE setting names a PostgreSQL server (else a SQLite file)."""
    return database.startswith(("postgresql://", "postgres://"))


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _on(
    resource: str, method: Callable[Concatenate[R, P], T]
) -> Callable[Concatenate["Store", P], T]:
    """Return a Store method that calls ``method`` on the named resource (same signature)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: "Store", *args: P.args, **kwargs: P.kwargs) -> T:
        return getattr(getattr(self, resource), name)(*args, **kwargs)

    return call


class Store:
    """Campaigns, messages, events, clicks, webhooks, follow-ups, privacy, keys and users."""

    def __init__(self, database: str):
        """Open the store a DATABASE setting names: a SQLite path or a postgresql:// URL."""
        self.db = open_database(database)
        self.privacy = Privacy(self.db)
        self.webhooks = Webhooks(self.db)
        self.campaigns = Campaigns(self.db)
        self.messages = Messages(self.db)
        self.opens = OpenEvents(self.db, self.privacy, self.webhooks)
        self.clicks = Clicks(self.db, self.privacy, self.opens, self.webhooks)
        self.follow_ups = FollowUps(self.db, self.messages, self.privacy)
        self.keys = ApiKeys(self.db)
        self.named_counters = Metrics(self.db)
        self.reports = Reports(self.db)
        self.users = Users(self.db)
        self.bursts = Bursts(self.db)
        self.automations = Automations(self.db)
        self.delivery = DeliveryEvents(self.db, self.privacy)
        self.engagement = Engagement(self.db)
        self.engagement_counters = EngagementCounters(self.db)
        self.conversions = Conversions(self.db)
        self.bulk = Bulk(self.db, self.clicks)

    def migrate(self) -> None:
        """Apply pending schema migrations; safe to run at every start."""
        self.db.migrate()

    def atomic(self):
        """Return a context in which every store call is one transaction: all or nothing."""
        return self.db.write()

    def close(self) -> None:
        """Close this thread's connection (on PostgreSQL, the whole pool)."""
        self.db.close()

    # Campaigns
    create_campaign = _on("campaigns", Campaigns.create_campaign)
    get_campaign = _on("campaigns", Campaigns.get_campaign)
    list_campaigns = _on("campaigns", Campaigns.list_campaigns)
    count_campaigns = _on("campaigns", Campaigns.count_campaigns)
    campaign_ids = _on("campaigns", Campaigns.campaign_ids)
    set_track_clicks = _on("campaigns", Campaigns.set_track_clicks)
    set_sender_name = _on("campaigns", Campaigns.set_sender_name)
    update_campaign = _on("campaigns", Campaigns.update_campaign)
    delete_campaign = _on("campaigns", Campaigns.delete_campaign)
    campaign_deletions = _on("campaigns", Campaigns.campaign_deletions)
    hourly_opens = _on("campaigns", Campaigns.hourly_opens)
    breakdown_counts = _on("campaigns", Campaigns.breakdown_counts)

    # Messages
    def register_messages(
        self, campaign_id: str, recipients: list[tuple[str, dict | None, bool]]
    ) -> list[dict]:
        """Store one message per (campaign, recipient, track) and return them in order.

        A recipient already registered for the campaign gets its existing message back, so a
        retried send never counts twice. A message is tracked only when asked and when its
        recipient has not opted out; an untracked one is in state ``untracked``.
        """
        with self.db.write():
            opted_out = self.privacy.suppressed([recipient for recipient, _, _ in recipients])
            return self.messages.register_messages(campaign_id, recipients, opted_out)

    get_message = _on("messages", Messages.get_message)
    get_message_row = _on("messages", Messages.get_message_row)
    injected_times = _on("messages", Messages.injected_times)
    count_non_openers = _on("messages", Messages.count_non_openers)
    iter_non_openers = _on("messages", Messages.iter_non_openers)

    # Open events
    record_opens = _on("opens", OpenEvents.record_opens)
    iter_events = _on("opens", OpenEvents.iter_events)
    count_events = _on("opens", OpenEvents.count_events)
    update_verdicts = _on("opens", OpenEvents.update_verdicts)
    person_fetches = _on("opens", OpenEvents.person_fetches)
    note_fetches = _on("bursts", Bursts.note_fetches)
    recent_fetches = _on("bursts", Bursts.recent_fetches)

    def rebuild_counters(self, campaign_id: str) -> None:
        """Recompute a campaign's message states and counters from its stored events."""
        rebuild_counters(self.db, campaign_id)

    # Links and clicks
    register_links = _on("clicks", Clicks.register_links)
    link_target = _on("clicks", Clicks.link_target)
    link_counts = _on("clicks", Clicks.link_counts)
    message_clicks = _on("clicks", Clicks.message_clicks)
    store_clicks = _on("clicks", Clicks.store_clicks)
    settle_clicks = _on("clicks", Clicks.settle_clicks)
    count_unsettled_clicks = _on("clicks", Clicks.count_unsettled_clicks)
    iter_settled_clicks = _on("clicks", Clicks.iter_settled_clicks)
    click_links = _on("clicks", Clicks.click_links)
    update_click_verdicts = _on("clicks", Clicks.update_click_verdicts)
    rebuild_implied_opens = _on("clicks", Clicks.rebuild_implied_opens)
    rebuild_click_counters = _on("clicks", Clicks.rebuild_click_counters)

    # Conversions and their attribution
    attribution_message = _on("conversions", Conversions.attribution_message)
    set_campaign_attribution = _on("conversions", Conversions.set_campaign_attribution)
    set_message_attribution = _on("conversions", Conversions.set_message_attribution)
    conversion_message = _on("conversions", Conversions.conversion_message)
    record_conversion = _on("conversions", Conversions.record_conversion)
    get_conversion = _on("conversions", Conversions.get_conversion)
    conversion_counts = _on("conversions", Conversions.conversion_counts)
    link_conversions = _on("conversions", Conversions.link_conversions)

    # Webhooks and their outbox
    create_webhook = _on("webhooks", Webhooks.create_webhook)
    list_webhooks = _on("webhooks", Webhooks.list_webhooks)
    get_webhook = _on("webhooks", Webhooks.get_webhook)
    delete_webhook = _on("webhooks", Webhooks.delete_webhook)
    claim_deliveries = _on("webhooks", Webhooks.claim_deliveries)
    finish_delivery = _on("webhooks", Webhooks.finish_delivery)
    claim_owners = _on("webhooks", Webhooks.claim_owners)
    list_deliveries = _on("webhooks", Webhooks.list_deliveries)
    redeliver = _on("webhooks", Webhooks.redeliver)
    webhook_health = _on("webhooks", Webhooks.webhook_health)
    enqueue_test = _on("webhooks", Webhooks.enqueue_test)

    # Follow-ups
    create_follow_up = _on("follow_ups", FollowUps.create_follow_up)
    get_follow_up = _on("follow_ups", FollowUps.get_follow_up)
    follow_up_ids = _on("follow_ups", FollowUps.follow_up_ids)
    parents_of = _on("follow_ups", FollowUps.parents_of)
    iter_follow_up_recipients = _on("follow_ups", FollowUps.iter_follow_up_recipients)
    combined_opened = _on("follow_ups", FollowUps.combined_opened)
    count_follow_up_recipients = _on("follow_ups", FollowUps.count_follow_up_recipients)

    # Follow-up rules that fire by themselves, and the lists they froze
    create_automation = _on("automations", Automations.create_automation)
    get_automation = _on("automations", Automations.get_automation)
    list_automations = _on("automations", Automations.list_automations)
    cancel_automation = _on("automations", Automations.cancel_automation)
    set_sent_at = _on("automations", Automations.set_sent_at)
    count_audience = _on("automations", Automations.count_audience)
    count_opted_out = _on("automations", Automations.count_opted_out)
    lock_scheduled = _on("automations", Automations.lock_scheduled)
    freeze_recipients = _on("automations", Automations.freeze_recipients)
    finish_automation = _on("automations", Automations.finish_automation)
    iter_frozen_recipients = _on("automations", Automations.iter_frozen_recipients)
    enqueue_event = _on("webhooks", Webhooks.enqueue_event)

    # Privacy
    suppressed = _on("privacy", Privacy.suppressed)
    suppress = _on("privacy", Privacy.suppress)
    unsuppress = _on("privacy", Privacy.unsuppress)
    list_suppressions = _on("privacy", Privacy.list_suppressions)
    purge_raw_details = _on("privacy", Privacy.purge_raw_details)
    recipient_data = _on("privacy", Privacy.recipient_data)
    erase_recipient = _on("privacy", Privacy.erase_recipient)
    erasures = _on("privacy", Privacy.erasures)

    # API keys and named counters
    create_api_key = _on("keys", ApiKeys.create_api_key)
    list_api_keys = _on("keys", ApiKeys.list_api_keys)
    count_active_api_keys = _on("keys", ApiKeys.count_active_api_keys)
    revoke_api_key = _on("keys", ApiKeys.revoke_api_key)
    check_api_key = _on("keys", ApiKeys.check_api_key)
    add_metric = _on("named_counters", Metrics.add_metric)
    metrics = _on("named_counters", Metrics.metrics)

    # The dashboard's pages of recipients
    recipients = _on("reports", Reports.recipients)
    count_recipients = _on("reports", Reports.count_recipients)
    first_open_counts = _on("reports", Reports.first_open_counts)
    opened_signals = _on("reports", Reports.opened_signals)
    backdate_campaign = _on("reports", Reports.backdate_campaign)
    load_traffic = _on("bulk", Bulk.load_traffic)
    finish_load = _on("bulk", Bulk.finish_load)
    iter_recipients = _on("reports", Reports.iter_recipients)

    # Dashboard users and sign-in throttling
    create_user = _on("users", Users.create_user)
    user_by_email = _on("users", Users.user_by_email)
    user_by_id = _on("users", Users.user_by_id)
    list_users = _on("users", Users.list_users)
    delete_user = _on("users", Users.delete_user)
    note_sign_in = _on("users", Users.note_sign_in)
    locked_until = _on("users", Users.locked_until)
    record_failure = _on("users", Users.record_failure)
    clear_failures = _on("users", Users.clear_failures)
    start_session = _on("users", Users.start_session)
    session_user = _on("users", Users.session_user)
    end_session = _on("users", Users.end_session)
    end_user_sessions = _on("users", Users.end_user_sessions)

    # Delivery events from the sender's ESP
    record_delivery_events = _on("delivery", DeliveryEvents.record_delivery_events)
    list_delivery_events = _on("delivery", DeliveryEvents.list_delivery_events)
    count_delivery_events = _on("delivery", DeliveryEvents.count_delivery_events)
    message_delivery_events = _on("delivery", DeliveryEvents.message_delivery_events)
    delivered_numbers = _on("delivery", DeliveryEvents.delivered_numbers)

    # Engagement across campaigns and the observations send times learn from
    recipient_messages = _on("engagement", Engagement.recipient_messages)
    last_human_activity = _on("engagement", Engagement.last_human_activity)
    latest_campaign_ids = _on("engagement", Engagement.latest_campaign_ids)
    campaigns_sent_since = _on("engagement", Engagement.campaigns_sent_since)
    iter_inactive = _on("engagement", Engagement.iter_inactive)
    recent_messages = _on("engagement", Engagement.recent_messages)
    engagement_row = _on("engagement_counters", EngagementCounters.engagement_row)
    rebuild_engagement = _on("engagement_counters", EngagementCounters.rebuild)
    refresh_campaign_engagement = _on("engagement_counters", EngagementCounters.refresh_campaign)
    human_observations = _on("engagement", Engagement.human_observations)
    population_hours = _on("engagement", Engagement.population_hours)
