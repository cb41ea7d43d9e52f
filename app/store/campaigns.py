"""Campaigns and their counters in the store; the numbers made from them live in core.stats."""

from app.core.times import now_iso
from app.store.database import Database
from app.store.errors import CampaignExists, Conflict

# lower() on both sides: LIKE ignores case on SQLite, not on PostgreSQL.
SEARCH = "(? = '' OR lower(id) LIKE lower(?) OR lower(name) LIKE lower(?))"


class Campaigns:
    """Create, find and list campaigns, with the counters kept beside each."""

    def __init__(self, db: Database):
        self.db = db

    def create_campaign(self, campaign_id: str, name: str, track: bool = True) -> dict:
        """Store a new campaign and return it; raise CampaignExists when the id is taken."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO campaigns (id, name, created_at, track) VALUES (?, ?, ?, ?)",
                    (campaign_id, name, now_iso(), bool(track)),
                )
        except Conflict as error:
            raise CampaignExists(campaign_id) from error
        return self.get_campaign(campaign_id)

    def get_campaign(self, campaign_id: str) -> dict | None:
        """Return a campaign's row with its counters, or None."""
        row = self.db.execute("SELECT * FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
        return campaign_row(row) if row else None

    def list_campaigns(self, limit: int = 50, offset: int = 0, search: str = "") -> list[dict]:
        """Return campaigns' rows, newest first."""
        rows = self.db.execute(
            f"SELECT * FROM campaigns WHERE {SEARCH} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*_search(search), limit, offset],
        ).fetchall()
        return [campaign_row(row) for row in rows]

    def count_campaigns(self, search: str = "") -> int:
        """Return how many campaigns match a search."""
        return self.db.execute(
            f"SELECT count(*) FROM campaigns WHERE {SEARCH}", _search(search)
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


def _search(search: str) -> list[str]:
    return [search, f"%{search}%", f"%{search}%"]
