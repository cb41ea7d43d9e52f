"""Campaigns and their counters in the store; the numbers made from them live in core.stats."""

from app.core.times import now_iso
from app.store.conversions import Conversions
from app.store.database import Database
from app.store.engagement_counters import EngagementCounters
from app.store.errors import CampaignExists, Conflict

# lower() on both sides: LIKE ignores case on SQLite, not on PostgreSQL.
SEARCH = "(? = '' OR lower(id) LIKE lower(?) OR lower(name) LIKE lower(?))"
# One boolean parameter: true takes every campaign, false only those not archived.
ARCHIVED = "(? OR archived_at IS NULL)"
# Two parameters each: the first day sent on or after, the day after the last (None: open).
SENT_BETWEEN = (
    "(CAST(? AS TEXT) IS NULL OR first_injected_at >= ?) "
    "AND (CAST(? AS TEXT) IS NULL OR first_injected_at < ?)"
)
# What the campaign list may be sorted by; rates divide by tracked messages, as core.stats does.
SORTS = {
    "created": "created_at",
    "sent_on": "first_injected_at",
    "name": "lower(name)",
    "sent": "sent",
    "human_open_rate": "CAST(opened AS REAL) / NULLIF(sent - untracked, 0)",
    "click_rate": "CAST(clickers AS REAL) / NULLIF(sent - untracked, 0)",
}


class Campaigns:
    """Create, find and list campaigns, with the counters kept beside each."""

    def __init__(self, db: Database):
        self.db = db

    def create_campaign(
        self, campaign_id: str, name: str, track: bool = True, sender_name: str | None = None
    ) -> dict:
        """Store a new campaign and return it; raise CampaignExists when the id is taken."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO campaigns (id, name, created_at, track, sender_name) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (campaign_id, name, now_iso(), bool(track), sender_name),
                )
        except Conflict as error:
            raise CampaignExists(campaign_id) from error
        return self.get_campaign(campaign_id)

    def get_campaign(self, campaign_id: str) -> dict | None:
        """Return a campaign's row with its counters, or None."""
        row = self.db.execute("SELECT * FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
        return campaign_row(row) if row else None

    def list_campaigns(
        self,
        limit: int = 50,
        offset: int = 0,
        search: str = "",
        archived: bool = False,
        sort: str = "created",
        descending: bool = True,
        sent: tuple[str | None, str | None] = (None, None),
    ) -> list[dict]:
        """Return campaigns' rows, newest first; archived ones only when ``archived`` is True.

        ``sort`` is a key of SORTS (campaigns without a value last); ``sent`` keeps those first
        sent from its first stored time up to (not including) its second.
        """
        order = SORTS.get(sort, SORTS["created"])
        direction = "DESC" if descending else "ASC"
        rows = self.db.execute(
            f"SELECT * FROM campaigns WHERE {SEARCH} AND {ARCHIVED} AND {SENT_BETWEEN} "
            f"ORDER BY {order} {direction} NULLS LAST, created_at DESC, id LIMIT ? OFFSET ?",
            [*_search(search), bool(archived), *_between(sent), limit, offset],
        ).fetchall()
        return [campaign_row(row) for row in rows]

    def count_campaigns(
        self, search: str = "", archived: bool = False, sent: tuple = (None, None)
    ) -> int:
        """Return how many campaigns match a search (archived ones only when asked)."""
        return self.db.execute(
            f"SELECT count(*) FROM campaigns WHERE {SEARCH} AND {ARCHIVED} AND {SENT_BETWEEN}",
            [*_search(search), bool(archived), *_between(sent)],
        ).fetchone()[0]

    def campaign_ids(self) -> list[str]:
        """Return every campaign id."""
        return [row[0] for row in self.db.execute("SELECT id FROM campaigns ORDER BY id")]

    def set_track_clicks(self, campaign_id: str, track_clicks: bool) -> dict | None:
        """Set whether a campaign's links are rewritten by default; return the campaign."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE campaigns SET track_clicks = ? WHERE id = ?",
                [bool(track_clicks), campaign_id],
            )
        return self.get_campaign(campaign_id)

    def set_sender_name(self, campaign_id: str, sender_name: str | None) -> dict | None:
        """Set the sender the opt-out page names (None: the campaign's name); return it."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE campaigns SET sender_name = ? WHERE id = ?", [sender_name, campaign_id]
            )
        return self.get_campaign(campaign_id)

    def update_campaign(
        self,
        campaign_id: str,
        name: str | None = None,
        track: bool | None = None,
        track_clicks: bool | None = None,
        archived: bool | None = None,
    ) -> dict | None:
        """Change a campaign's name, switches or archived state (None leaves one as it is).

        Archiving keeps the time it was first archived; unarchiving clears it. Returns the
        campaign, or None when there is none with this id.
        """
        sets: list[str] = []
        params: list = []
        if name is not None:
            sets.append("name = ?")
            params.append(name)
        if track is not None:
            sets.append("track = ?")
            params.append(bool(track))
        if track_clicks is not None:
            sets.append("track_clicks = ?")
            params.append(bool(track_clicks))
        if archived is True:
            sets.append("archived_at = COALESCE(archived_at, ?)")
            params.append(now_iso())
        elif archived is False:
            sets.append("archived_at = NULL")
        if sets:
            with self.db.write() as conn:
                conn.execute(
                    f"UPDATE campaigns SET {', '.join(sets)} WHERE id = ?", [*params, campaign_id]
                )
        return self.get_campaign(campaign_id)

    def delete_campaign(self, campaign_id: str, actor: str) -> dict | None:
        """Delete a campaign and everything stored for it, in one transaction; return counts.

        Removes its messages, open events, clicks, links, hourly and breakdown counters, the
        webhook deliveries about it and, for a follow-up, its link to the parent. Its
        follow-ups stay, as ordinary campaigns: only their link to it goes. An audit row in
        ``campaign_deletions`` records who deleted it and how many messages, events and clicks
        went. Returns None when there is no campaign with this id.
        """
        with self.db.write() as conn:
            # The campaign row first: no message can be registered for it meanwhile.
            row = conn.execute(
                f"SELECT id FROM campaigns WHERE id = ?{self.db.for_update}", [campaign_id]
            ).fetchone()
            if row is None:
                return None
            of_messages = "message_id IN (SELECT id FROM messages WHERE campaign_id = ?)"
            # A conversion reported for it whose last human click was on another campaign's
            # email belongs to that campaign: it is moved there, not deleted.
            Conversions(self.db).pin_attribution("WHERE cv.campaign_id = ?", [campaign_id])
            counts = {
                "events": conn.execute(
                    "DELETE FROM events WHERE campaign_id = ?", [campaign_id]
                ).rowcount,
                "clicks": conn.execute(
                    f"DELETE FROM clicks WHERE {of_messages} OR campaign_id = ?",
                    [campaign_id, campaign_id],
                ).rowcount,
            }
            conn.execute(f"DELETE FROM burst_fetches WHERE {of_messages}", [campaign_id])
            conn.execute("DELETE FROM delivery_events WHERE campaign_id = ?", [campaign_id])
            engagement = EngagementCounters(self.db)
            recipients = engagement.campaign_recipients(campaign_id)
            counts["messages"] = conn.execute(
                "DELETE FROM messages WHERE campaign_id = ?", [campaign_id]
            ).rowcount
            engagement.refresh(recipients)
            counters = ("campaign_hours", "campaign_breakdowns", "campaign_first_opens")
            for table in ("links", *counters, "conversions"):
                conn.execute(f"DELETE FROM {table} WHERE campaign_id = ?", [campaign_id])
            conn.execute(
                "DELETE FROM webhook_deliveries "
                f"WHERE {self.db.json_field('payload', 'campaign_id')} = ?",
                [campaign_id],
            )
            of_rules = "automation_id IN (SELECT id FROM automations WHERE campaign_id = ?)"
            conn.execute(f"DELETE FROM automation_recipients WHERE {of_rules}", [campaign_id])
            conn.execute("DELETE FROM automations WHERE campaign_id = ?", [campaign_id])
            conn.execute(
                "DELETE FROM follow_ups WHERE campaign_id = ? OR parent_id = ?",
                [campaign_id, campaign_id],
            )
            conn.execute("DELETE FROM campaigns WHERE id = ?", [campaign_id])
            conn.execute(
                "INSERT INTO campaign_deletions (at, actor, campaign_id, messages, events, clicks) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    now_iso(),
                    actor,
                    campaign_id,
                    counts["messages"],
                    counts["events"],
                    counts["clicks"],
                ],
            )
        return counts

    def campaign_deletions(self) -> list[dict]:
        """Return the audit rows of deleted campaigns, newest first."""
        rows = self.db.execute("SELECT * FROM campaign_deletions ORDER BY id DESC")
        return [dict(row) for row in rows]

    def hourly_opens(self, campaign_id: str) -> list[dict]:
        """Return human and machine opens per UTC hour, oldest first."""
        rows = self.db.execute(
            "SELECT hour, human, machine FROM campaign_hours WHERE campaign_id = ? ORDER BY hour",
            [campaign_id],
        )
        return [dict(row) for row in rows]

    def breakdown_counts(self, campaign_id: str) -> list[dict]:
        """Return opens and openers by (dimension, value), most opened first."""
        rows = self.db.execute(
            "SELECT dimension, value, opens, human_opens, machine_opens, openers "
            "FROM campaign_breakdowns WHERE campaign_id = ? ORDER BY opens DESC, value, dimension",
            [campaign_id],
        )
        return [dict(row) for row in rows]


def campaign_row(row) -> dict:
    """Return a stored campaign row as a dict with real booleans."""
    campaign = dict(row)
    campaign["track"] = bool(campaign["track"])
    campaign["track_clicks"] = bool(campaign["track_clicks"])
    return campaign


def _between(sent: tuple[str | None, str | None]) -> list:
    return [sent[0], sent[0], sent[1], sent[1]]


def _search(search: str) -> list[str]:
    return [search, f"%{search}%", f"%{search}%"]
