"""Per-recipient engagement counters, kept in the transactions that change their messages.

One ``engagement`` row per recipient holds what the engagement endpoint and the inactive
segments read, so neither walks a recipient's messages (``core.engagement_counters`` says what
each column counts). Injection and the writer's batches of opens add to the rows (one read and
one write per batch, whatever its size); what can also take away (delivery events, settled
clicks, reclassifying, erasure, campaign deletion) recounts its recipients from their rows with
``refresh``, and ``rebuild`` recounts everyone.
"""

from operator import itemgetter

from app.core import engagement_counters
from app.store.database import Database, chunks, locked_rows, marks
from app.store.messages import reachable

COLUMNS = engagement_counters.COLUMNS
# A campaign's place in the send order as text that sorts the same way: its first injection,
# then its id (core.engagement_counters.campaign_key).
CAMPAIGN_KEY = "c.first_injected_at || '|' || c.id"
ENGAGED = "(m.state = 'opened' OR m.human_clicks > 0)"
SEEN = "(m.state = 'opened' AND m.human_clicks = 0)"


def engagement_table(integer: str) -> str:
    """Return the CREATE TABLE of the counters, with the engine's integer type."""
    texts = {"recipient", "last_human_open_at", "last_human_click_at"}
    columns = [
        "recipient TEXT PRIMARY KEY",
        *(
            f"{name} TEXT"
            if name in texts or name.endswith(("_key", "_at"))
            else f"{name} {integer} NOT NULL DEFAULT 0"
            for name in COLUMNS[1:]
        ),
    ]
    return f"CREATE TABLE engagement ({', '.join(columns)})"


# The MPP-only segment over every campaign picks few rows: they have an index of their own,
# holding its columns, so that segment reads them alone.
MPP_ONLY_INDEX = (
    "CREATE INDEX engagement_mpp_only ON engagement "
    "(recipient, reached, reached_at, reached_mpp_opens, reached_clicks) "
    "WHERE mpp_key IS NOT NULL AND seen_key IS NULL"
)


def recount_sql(where: str) -> str:
    """Return the INSERT that recounts the rows of the recipients whose messages ``where``
    picks (``m`` is the messages table), from their messages, opens and clicks."""
    reached = f"m.tracked AND {reachable('m.')}"
    return f"""
WITH m AS (
  SELECT m.recipient, m.injected_at, m.mpp_opens, m.human_opens, m.human_clicks,
    CASE WHEN m.tracked THEN 1 ELSE 0 END AS t,
    CASE WHEN {reached} THEN 1 ELSE 0 END AS r,
    CASE WHEN {ENGAGED} THEN 1 ELSE 0 END AS e,
    CASE WHEN {SEEN} THEN 1 ELSE 0 END AS s,
    m.delivery_status AS status, {CAMPAIGN_KEY} AS k
  FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE {where}
), a AS (
  SELECT recipient, count(*) AS received,
    sum(CASE WHEN status IN ('delivered', 'complained') THEN 1 ELSE 0 END) AS delivered,
    sum(t) AS tracked,
    sum(CASE WHEN status = 'bounced' THEN 1 ELSE 0 END) AS bounced,
    sum(CASE WHEN status = 'complained' THEN 1 ELSE 0 END) AS complained,
    sum(t * human_opens) AS human_opens, sum(t * human_clicks) AS human_clicks,
    sum(CASE WHEN t = 1 AND mpp_opens > 0 THEN 1 ELSE 0 END) AS mpp_messages,
    sum(t * s) AS seen_messages,
    sum(r) AS reached, sum(r * mpp_opens) AS reached_mpp_opens,
    sum(r * human_clicks) AS reached_clicks,
    max(CASE WHEN r = 1 THEN k END) AS reached_key,
    max(CASE WHEN r = 1 THEN injected_at END) AS reached_at,
    max(CASE WHEN r = 1 AND e = 1 THEN k END) AS engaged_key,
    max(CASE WHEN r = 1 AND e = 1 THEN injected_at END) AS engaged_at,
    max(CASE WHEN r = 1 AND mpp_opens > 0 THEN k END) AS mpp_key,
    max(CASE WHEN r = 1 AND mpp_opens > 0 THEN injected_at END) AS mpp_at,
    max(CASE WHEN r = 1 AND s = 1 THEN k END) AS seen_key,
    max(CASE WHEN r = 1 AND s = 1 THEN injected_at END) AS seen_at,
    sum(CASE WHEN t = 1 AND status NOT IN ('bounced', 'complained') THEN 1 ELSE 0 END)
      AS tier_messages
  FROM m GROUP BY recipient
), q AS (
  SELECT m.recipient, count(*) AS quiet, sum(m.mpp_opens) AS quiet_mpp_opens
  FROM m JOIN a ON a.recipient = m.recipient
  WHERE m.r = 1 AND (a.engaged_key IS NULL OR m.k > a.engaged_key) GROUP BY m.recipient
), o AS (
  SELECT m.recipient, max(ev.at) AS at FROM messages m JOIN events ev ON ev.message_id = m.id
  WHERE {where} AND ev.verdict = 'human' AND ev.source <> 'click' GROUP BY m.recipient
), cl AS (
  SELECT m.recipient, max(ck.at) AS at FROM messages m JOIN clicks ck ON ck.message_id = m.id
  WHERE {where} AND ck.verdict = 'human' GROUP BY m.recipient
)
INSERT INTO engagement ({", ".join(COLUMNS)})
SELECT a.recipient, a.received, a.delivered, a.tracked, a.bounced, a.complained,
  a.human_opens, a.human_clicks, a.mpp_messages, a.seen_messages, o.at, cl.at,
  a.reached, a.reached_mpp_opens, a.reached_clicks, a.reached_key, a.reached_at,
  a.engaged_key, a.engaged_at, a.mpp_key, a.mpp_at, a.seen_key, a.seen_at,
  coalesce(q.quiet, 0), coalesce(q.quiet_mpp_opens, 0), a.tier_messages
FROM a LEFT JOIN q ON q.recipient = a.recipient LEFT JOIN o ON o.recipient = a.recipient
  LEFT JOIN cl ON cl.recipient = a.recipient
"""


REBUILD = recount_sql("1 = 1")
REFRESH = recount_sql("m.recipient IN ({places})")
# A message injected: counted at once (it starts not opened, so it can only be quiet).
ADD_MESSAGE = """
INSERT INTO engagement (recipient, received, tracked, reached, reached_key, reached_at, quiet,
  tier_messages)
VALUES (:recipient, 1, :tracked, :reached, :key, :at, :reached, :tracked)
ON CONFLICT (recipient) DO UPDATE SET
  received = engagement.received + 1,
  tracked = engagement.tracked + excluded.tracked,
  tier_messages = engagement.tier_messages + excluded.tier_messages,
  reached = engagement.reached + excluded.reached,
  reached_key = CASE WHEN excluded.reached = 1 AND (engagement.reached_key IS NULL
    OR excluded.reached_key > engagement.reached_key) THEN excluded.reached_key
    ELSE engagement.reached_key END,
  reached_at = CASE WHEN excluded.reached = 1 AND (engagement.reached_at IS NULL
    OR excluded.reached_at > engagement.reached_at) THEN excluded.reached_at
    ELSE engagement.reached_at END,
  quiet = engagement.quiet + CASE WHEN excluded.reached = 1 AND (engagement.engaged_key IS NULL
    OR excluded.reached_key > engagement.engaged_key) THEN 1 ELSE 0 END
"""
# What opens can move of a row (core.engagement_counters.OPEN_MOVED), the key last: the
# writer's batches read only the columns the change reads (a third fewer values to make) and
# set these, by position (binding named parameters costs about three times as much).
SET_OPENED = (
    "UPDATE engagement SET "
    + ", ".join(f"{column} = ?" for column in engagement_counters.OPEN_MOVED)
    + " WHERE recipient = ?"
)
opened_params = itemgetter(*engagement_counters.OPEN_MOVED, "recipient")


class EngagementCounters:
    """Keep each recipient's engagement counters as their messages change."""

    def __init__(self, db: Database):
        self.db = db

    def count_injected(self, campaign_id: str, messages: list[dict]) -> None:
        """Count newly registered messages of a campaign (inside the caller's transaction)."""
        if not messages:
            return
        first = self.db.execute(
            "SELECT first_injected_at FROM campaigns WHERE id = ?", [campaign_id]
        ).fetchone()[0]
        key = engagement_counters.campaign_key(first, campaign_id)
        rows = [
            {
                "recipient": m["recipient"],
                "tracked": int(bool(m["tracked"])),
                "reached": int(bool(m["tracked"])),
                # An untracked message is counted as received only.
                "key": key if m["tracked"] else None,
                "at": m["injected_at"] if m["tracked"] else None,
            }
            for m in sorted(messages, key=lambda m: m["recipient"])
        ]
        self.db.executemany(ADD_MESSAGE, rows)

    def count_opens(
        self, before: dict[str, dict], after: dict[str, dict], events: list[dict]
    ) -> None:
        """Count a batch of new opens: ``before`` and ``after`` are the rows of the messages
        they moved, by id, ``events`` the opens themselves (inside the writer's transaction)."""
        if not events:
            return
        campaigns = {m["campaign_id"] for m in after.values()}
        keys = self._campaign_keys(campaigns)
        recipients = sorted({m["recipient"] for m in after.values()})
        rows = self.lock_rows(recipients, engagement_counters.OPEN_READ)
        # What each row held, to write back only the rows that moved: a machine's open of an
        # opened message (most of them) changes no counter of its recipient.
        held = {recipient: opened_params(row) for recipient, row in rows.items()}
        recount: set[str] = set()
        for message_id in sorted(after):
            message = after[message_id]
            row = rows.get(message["recipient"])
            if row is None:
                recount.add(message["recipient"])
                continue
            ok = engagement_counters.add_message_change(
                row, before[message_id], message, keys[message["campaign_id"]]
            )
            if not ok:
                recount.add(message["recipient"])
        for event in events:
            row = rows.get(after[event["message_id"]]["recipient"])
            if row is not None:
                engagement_counters.add_open(row, event)
        changed = [
            params
            for r in recipients
            if r in rows and r not in recount and (params := opened_params(rows[r])) != held[r]
        ]
        if changed:
            self.db.executemany(SET_OPENED, changed)
        self.refresh(sorted(recount))

    def refresh(self, recipients: list[str]) -> None:
        """Recount these recipients' rows from their messages, opens and clicks."""
        for chunk in chunks(sorted(set(recipients))):
            # Locked first: a writer adding to a row waits, then adds to the recount.
            self.lock_rows(chunk)
            places = marks(chunk)
            self.db.execute(f"DELETE FROM engagement WHERE recipient IN ({places})", chunk)
            self.db.execute(REFRESH.format(places=places), chunk * 3)

    def refresh_campaign(self, campaign_id: str) -> None:
        """Recount the rows of a campaign's recipients, in one transaction."""
        with self.db.write():
            self.refresh(self.campaign_recipients(campaign_id))

    def campaign_recipients(self, campaign_id: str) -> list[str]:
        """Return the recipients a campaign has messages for."""
        rows = self.db.execute(
            "SELECT recipient FROM messages WHERE campaign_id = ?", [campaign_id]
        )
        return [row[0] for row in rows]

    def rebuild(self) -> None:
        """Recount every recipient's row from the messages, opens and clicks."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM engagement")
            conn.execute(REBUILD)

    def engagement_row(self, recipient: str) -> dict | None:
        """Return a recipient's counters, or None when no message was sent to them."""
        row = self.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM engagement WHERE recipient = ?", [recipient]
        ).fetchone()
        return dict(row) if row else None

    def count_click_times(self, last_clicks: dict[str, str]) -> None:
        """Move recipients' last human click to these times (by recipient), if later."""
        self.db.executemany(
            "UPDATE engagement SET last_human_click_at = ? WHERE recipient = ? "
            "AND (last_human_click_at IS NULL OR last_human_click_at < ?)",
            [(at, recipient, at) for recipient, at in sorted(last_clicks.items())],
        )

    def lock_rows(
        self, recipients: list[str], columns: tuple[str, ...] = COLUMNS
    ) -> dict[str, dict]:
        """Return these recipients' rows (these columns, the key first), locked until the
        transaction ends, in key order."""
        return locked_rows(self.db, "engagement", columns, recipients)

    def _campaign_keys(self, campaign_ids: set[str]) -> dict[str, str]:
        found = {}
        for chunk in chunks(sorted(campaign_ids)):
            for row in self.db.execute(
                f"SELECT id, first_injected_at FROM campaigns WHERE id IN ({marks(chunk)})",
                chunk,
            ):
                found[row["id"]] = engagement_counters.campaign_key(
                    row["first_injected_at"], row["id"]
                )
        return found
