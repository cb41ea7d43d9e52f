"""Follow-up campaigns in the store: linked to a parent, sent to its non-openers."""

from collections.abc import Iterator

from app.core.automations import audience_filter
from app.core.times import now_iso
from app.store.database import Database, chunks, marks
from app.store.errors import Conflict, FollowUpExists
from app.store.messages import Messages
from app.store.privacy import Privacy


class FollowUps:
    """Create follow-ups, list who they go to, and count the reach of parent and follow-up."""

    def __init__(self, db: Database, messages: Messages, privacy: Privacy):
        self.db = db
        self.messages = messages
        self.privacy = privacy

    def create_follow_up(
        self,
        campaign_id: str,
        name: str,
        parent: dict,
        include_unknown: bool,
        min_age_hours: float,
        injected_before: str,
        audience: str | None = None,
    ) -> None:
        """Store a campaign linked to its parent, with the parent's tracking switches.

        ``audience`` (one of core.automations.AUDIENCES) picks its recipients; without one,
        ``include_unknown`` does. Raises FollowUpExists when the id is taken.
        """
        now = now_iso()
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO campaigns (id, name, created_at, track, track_clicks) "
                    "SELECT ?, ?, ?, track, track_clicks FROM campaigns WHERE id = ?",
                    [campaign_id, name, now, parent["id"]],
                )
                conn.execute(
                    "INSERT INTO follow_ups (campaign_id, parent_id, include_unknown, "
                    "min_age_hours, injected_before, created_at, audience) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        campaign_id,
                        parent["id"],
                        bool(include_unknown),
                        min_age_hours,
                        injected_before,
                        now,
                        audience,
                    ],
                )
        except Conflict as error:
            raise FollowUpExists(campaign_id) from error

    def get_follow_up(self, campaign_id: str) -> dict | None:
        """Return how a follow-up campaign picks its recipients, or None for other campaigns."""
        row = self.db.execute(
            "SELECT * FROM follow_ups WHERE campaign_id = ?", [campaign_id]
        ).fetchone()
        if row is None:
            return None
        follow_up = dict(row)
        follow_up["include_unknown"] = bool(follow_up["include_unknown"])
        return follow_up

    def parents_of(self, campaign_ids: list[str]) -> dict[str, str]:
        """Return {follow-up id: parent id} for those of these campaigns that are follow-ups."""
        if not campaign_ids:
            return {}
        rows = self.db.execute(
            f"SELECT campaign_id, parent_id FROM follow_ups WHERE campaign_id IN "
            f"({', '.join('?' * len(campaign_ids))})",
            campaign_ids,
        )
        return {row[0]: row[1] for row in rows}

    def follow_up_ids(self, parent_id: str) -> list[str]:
        """Return the ids of a campaign's follow-ups, oldest first."""
        rows = self.db.execute(
            "SELECT campaign_id FROM follow_ups WHERE parent_id = ? ORDER BY created_at",
            [parent_id],
        )
        return [row[0] for row in rows]

    def iter_follow_up_recipients(self, follow_up: dict) -> Iterator[dict]:
        """Yield the parent's recipients a follow-up goes to, as they stand now.

        Those who opened the parent since, and those who opted out, are left out.
        """
        states, without_clicks = audience_filter(follow_up)
        rows = self.messages.iter_non_openers(
            follow_up["parent_id"], states, follow_up["injected_before"], without_clicks
        )
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == 1000:
                yield from self._not_suppressed(batch)
                batch = []
        yield from self._not_suppressed(batch)

    def _not_suppressed(self, rows: list[dict]) -> list[dict]:
        opted_out = self.privacy.suppressed([row["recipient"] for row in rows]) if rows else set()
        return [row for row in rows if row["recipient"] not in opted_out]

    def count_follow_up_recipients(self, follow_up: dict) -> int:
        """Return how many recipients iter_follow_up_recipients would yield, without reading
        their rows when nobody has opted out (the count comes from the state index)."""
        states = ("not_opened", "unknown") if follow_up["include_unknown"] else ("not_opened",)
        args = (follow_up["parent_id"], states, follow_up["injected_before"])
        total = self.messages.count_non_openers(*args)
        if total == 0 or self.db.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is None:
            return total
        opted_out = 0
        batch = []
        for row in self.messages.iter_non_openers(*args):
            batch.append(row["recipient"])
            if len(batch) == 1000:
                opted_out += len(self.privacy.suppressed(batch))
                batch = []
        return total - opted_out - (len(self.privacy.suppressed(batch)) if batch else 0)

    def combined_opened(self, parent_id: str, follow_up_id: str) -> int:
        """Return how many recipients a person opened the parent or the follow-up for.

        The parent's and the follow-up's opened counters, less the recipients who opened
        both (a recipient has one message per campaign): ``follow_ups.both_opened``, kept
        with each open (``count_both_opened``) and rebuilt with the counters. Erasing a
        recipient keeps it, as it keeps every anonymous count.
        """
        row = self.db.execute(
            "SELECT (SELECT opened FROM campaigns WHERE id = ?) AS parent, "
            "(SELECT opened FROM campaigns WHERE id = ?) AS own, "
            "(SELECT both_opened FROM follow_ups WHERE campaign_id = ? AND parent_id = ?) AS both",
            [parent_id, follow_up_id, follow_up_id, parent_id],
        ).fetchone()
        return (row["parent"] or 0) + (row["own"] or 0) - (row["both"] or 0)


def count_both_opened(db: Database, opened: list[dict]) -> None:
    """Move ``follow_ups.both_opened`` for messages that have just become opened (each with
    ``id``, ``campaign_id`` and ``recipient``; their new state already written).

    Runs in the recording transaction. A message of a follow-up counts when its recipient's
    message of the parent is opened, and a parent's message for each of its follow-ups whose
    message of that recipient is opened; a pair that became opened in the same batch counts
    once (when its greater id is seen). One query finds the follow-ups these campaigns have
    or belong to; most batches stop there.
    """
    campaigns = sorted({message["campaign_id"] for message in opened})
    if not campaigns:
        return
    pairs = db.execute(
        f"SELECT campaign_id, parent_id FROM follow_ups WHERE campaign_id IN ({marks(campaigns)}) "
        f"OR parent_id IN ({marks(campaigns)})",
        [*campaigns, *campaigns],
    ).fetchall()
    if not pairs:
        return
    new_ids = {message["id"] for message in opened}
    moved: dict[str, int] = {}
    for follow_up_id, parent_id in pairs:
        for mine, other in ((follow_up_id, parent_id), (parent_id, follow_up_id)):
            recipients = {m["recipient"]: m["id"] for m in opened if m["campaign_id"] == mine}
            for chunk in chunks(sorted(recipients)):
                for row in db.execute(
                    "SELECT id, recipient FROM messages WHERE campaign_id = ? "
                    f"AND state = 'opened' AND recipient IN ({marks(chunk)})",
                    [other, *chunk],
                ):
                    own_id = recipients[row["recipient"]]
                    if row["id"] not in new_ids or own_id > row["id"]:
                        moved[follow_up_id] = moved.get(follow_up_id, 0) + 1
    for follow_up_id, count in sorted(moved.items()):
        db.execute(
            "UPDATE follow_ups SET both_opened = both_opened + ? WHERE campaign_id = ?",
            [count, follow_up_id],
        )
