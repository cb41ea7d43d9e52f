"""Follow-up rules in the store: scheduled on a campaign, fired once, with the list they froze.

A rule is fired by whichever worker takes its row first: ``lock_scheduled`` reads it inside the
caller's write transaction with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (another worker skips
the row at once) and under SQLite's single write lock, and only while it is still
``scheduled``; the follow-up, the frozen list, the webhook deliveries and the ``fired`` state
are then written in that same transaction, so a rule fires completely or not at all.
"""

import json
import secrets
from collections.abc import Iterable, Iterator

from app.core.times import now_iso
from app.store.database import Database, marks
from app.store.errors import Conflict, FollowUpExists
from app.store.messages import reachable

RULE_COLUMNS = (
    "a.id, a.campaign_id, a.audience, a.after_hours, a.follow_up_id, a.follow_up_name, "
    "a.notify, a.base_url, a.created_at, a.created_by, a.state, a.cancelled_at, a.due_at, "
    "a.fired_at, a.fired_by, a.late_seconds, a.recipients, a.error, "
    "c.sent_at, c.last_injected_at"
)
FROM_RULES = "FROM automations a JOIN campaigns c ON c.id = a.campaign_id"
FROZEN_COLUMNS = (
    "message_id",
    "recipient",
    "state",
    "injected_at",
    "first_open_at",
    "opens",
    "metadata",
)


def new_automation_id() -> str:
    """Return a fresh rule id."""
    return "au_" + secrets.token_urlsafe(9)


def audience_where(states: tuple[str, ...], without_clicks: bool) -> str:
    """Return the condition on messages ``m`` that a follow-up of these states takes, as
    ``Messages.iter_non_openers`` selects them (bounced and complained-of recipients left out)."""
    return (
        f"m.campaign_id = ? AND m.state IN ({marks(states)}) AND m.injected_at <= ? "
        f"AND m.tracked AND {reachable('m.')}"
        + (" AND m.human_clicks = 0" if without_clicks else "")
    )


class Automations:
    """Schedule, list, cancel and fire follow-up rules; keep the recipient lists they froze."""

    def __init__(self, db: Database):
        self.db = db

    def create_automation(
        self,
        campaign_id: str,
        audience: str,
        after_hours: float,
        follow_up_id: str,
        follow_up_name: str,
        notify: bool,
        base_url: str | None,
        created_by: str | None,
    ) -> dict:
        """Store a scheduled rule and return it.

        Raises FollowUpExists when a campaign has the follow-up id, or another rule that may
        still fire holds it.
        """
        automation_id = new_automation_id()
        try:
            with self.db.write() as conn:
                taken = conn.execute(
                    "SELECT 1 FROM campaigns WHERE id = ?", [follow_up_id]
                ).fetchone()
                if taken:
                    raise FollowUpExists(follow_up_id)
                conn.execute(
                    "INSERT INTO automations (id, campaign_id, audience, after_hours, "
                    "follow_up_id, follow_up_name, notify, base_url, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        automation_id,
                        campaign_id,
                        audience,
                        float(after_hours),
                        follow_up_id,
                        follow_up_name,
                        bool(notify),
                        base_url,
                        now_iso(),
                        created_by,
                    ],
                )
        except Conflict as error:
            raise FollowUpExists(follow_up_id) from error
        return self.get_automation(automation_id)

    def get_automation(self, automation_id: str) -> dict | None:
        """Return a rule with its campaign's send times, or None."""
        row = self.db.execute(
            f"SELECT {RULE_COLUMNS} {FROM_RULES} WHERE a.id = ?", [automation_id]
        ).fetchone()
        return _rule(row) if row else None

    def list_automations(
        self, campaign_id: str | None = None, state: str | None = None
    ) -> list[dict]:
        """Return rules, oldest first: one campaign's or all, of one state or any."""
        rows = self.db.execute(
            f"SELECT {RULE_COLUMNS} {FROM_RULES} "
            "WHERE (CAST(? AS TEXT) IS NULL OR a.campaign_id = ?) "
            "AND (CAST(? AS TEXT) IS NULL OR a.state = ?) ORDER BY a.created_at, a.id",
            [campaign_id, campaign_id, state, state],
        )
        return [_rule(row) for row in rows]

    def cancel_automation(self, campaign_id: str, automation_id: str) -> str | None:
        """Cancel a rule that has not fired; return its state after, or None when unknown.

        A rule that fired (or is firing now, on another worker) stays as it is.
        """
        with self.db.write() as conn:
            conn.execute(
                "UPDATE automations SET state = 'cancelled', cancelled_at = ? "
                "WHERE id = ? AND campaign_id = ? AND state = 'scheduled'",
                [now_iso(), automation_id, campaign_id],
            )
            row = conn.execute(
                "SELECT state FROM automations WHERE id = ? AND campaign_id = ?",
                [automation_id, campaign_id],
            ).fetchone()
        return row[0] if row else None

    def count_audience(
        self,
        campaign_id: str,
        states: tuple[str, ...],
        without_clicks: bool,
        injected_before: str,
    ) -> int:
        """Return how many recipients a follow-up of these states would take now, without
        those on the opt-out list (a count over the campaign's index range)."""
        where = audience_where(states, without_clicks)
        params = [campaign_id, *states, injected_before]
        audience = self.db.execute(
            f"SELECT count(*) FROM messages m WHERE {where}", params
        ).fetchone()[0]
        return audience - self.count_opted_out(campaign_id, states, without_clicks, injected_before)

    def count_opted_out(
        self,
        campaign_id: str,
        states: tuple[str, ...],
        without_clicks: bool,
        injected_before: str,
    ) -> int:
        """Return how many of a campaign's tracked messages in these states went to recipients
        on the opt-out list."""
        where = audience_where(states, without_clicks)
        # From the opt-out list's side: it is short, and each of its rows is one index lookup.
        return self.db.execute(
            "SELECT count(*) FROM suppressions s JOIN messages m "
            f"ON m.campaign_id = ? AND m.recipient = s.recipient WHERE {where}",
            [campaign_id, campaign_id, *states, injected_before],
        ).fetchone()[0]

    def set_sent_at(self, campaign_id: str, sent_at: str | None) -> None:
        """Set (or, with None, clear) the time the sender says a campaign went out."""
        with self.db.write() as conn:
            conn.execute("UPDATE campaigns SET sent_at = ? WHERE id = ?", [sent_at, campaign_id])

    # Firing, inside the caller's write transaction (Store.atomic)

    def lock_scheduled(self, automation_id: str) -> dict | None:
        """Take a rule for this transaction if it is still scheduled and nobody holds it."""
        row = self.db.execute(
            f"SELECT {RULE_COLUMNS} {FROM_RULES} WHERE a.id = ? AND a.state = 'scheduled'"
            # Another worker firing it holds the row: skip it rather than wait for it.
            + (" FOR UPDATE OF a SKIP LOCKED" if self.db.skip_locked else ""),
            [automation_id],
        ).fetchone()
        return _rule(row) if row else None

    def freeze_recipients(self, automation_id: str, rows: Iterable[dict]) -> int:
        """Store the recipients a rule's follow-up goes to, as they are now; return how many."""
        count, batch = 0, []
        for row in rows:
            batch.append(
                [automation_id]
                + [_frozen_value(column, row.get(column)) for column in FROZEN_COLUMNS]
            )
            if len(batch) == 1000:
                count += self._insert_frozen(batch)
                batch = []
        return count + self._insert_frozen(batch)

    def _insert_frozen(self, batch: list[list]) -> int:
        self.db.insert_rows("automation_recipients", ("automation_id", *FROZEN_COLUMNS), batch)
        return len(batch)

    def finish_automation(
        self,
        automation_id: str,
        state: str,
        owner: str,
        due_at: str | None,
        late_seconds: float | None,
        recipients: int | None,
        error: str | None = None,
    ) -> None:
        """Record that a locked rule fired (or failed, with the reason)."""
        self.db.execute(
            "UPDATE automations SET state = ?, fired_at = ?, fired_by = ?, due_at = ?, "
            "late_seconds = ?, recipients = ?, error = ? WHERE id = ?",
            [state, now_iso(), owner, due_at, late_seconds, recipients, error, automation_id],
        )

    def iter_frozen_recipients(self, automation_id: str) -> Iterator[dict]:
        """Yield the list a fired rule froze, by state, injection time and message id (as
        follow-up lists are)."""
        rows = self.db.stream(
            f"SELECT {', '.join(FROZEN_COLUMNS)} FROM automation_recipients "
            "WHERE automation_id = ? ORDER BY state, injected_at, message_id",
            [automation_id],
        )
        for row in rows:
            frozen = dict(row)
            frozen["metadata"] = json.loads(frozen["metadata"]) if frozen["metadata"] else None
            yield frozen


def _frozen_value(column: str, value):
    if column == "metadata" and value is not None:
        return json.dumps(value, separators=(",", ":"))
    return value


def _rule(row) -> dict:
    rule = dict(row)
    rule["notify"] = bool(rule["notify"])
    return rule
