"""Rebuilding message states and campaign counters from stored events, in SQL.

The same rules as ``core.counters``, re-run over the raw facts after ``opentrack reclassify``.
"""

from app.core.counters import DIMENSIONS
from app.core.timeline import first_open_cases
from app.store.database import Database


def rebuild_counters(db: Database, campaign_id: str) -> None:
    """Recompute a campaign's message states and counters from its stored events."""
    with db.write() as conn:
        conn.execute(REBUILD_MESSAGES, {"campaign": campaign_id})
        conn.execute(REBUILD_STATES, {"campaign": campaign_id})
        conn.execute(REBUILD_CAMPAIGN, {"campaign": campaign_id})
        conn.execute("DELETE FROM campaign_hours WHERE campaign_id = ?", [campaign_id])
        conn.execute(REBUILD_HOURS, {"campaign": campaign_id})
        conn.execute("DELETE FROM campaign_breakdowns WHERE campaign_id = ?", [campaign_id])
        conn.execute(rebuild_breakdowns_sql(), {"campaign": campaign_id})
        rebuild_first_opens(db, campaign_id)
        conn.execute(
            f"UPDATE follow_ups SET both_opened = {BOTH_OPENED} "
            "WHERE campaign_id = :campaign OR parent_id = :campaign",
            {"campaign": campaign_id},
        )


def rebuild_first_opens(db: Database, campaign_id: str) -> None:
    """Recount a campaign's messages by time from injection to first human open."""
    with db.write() as conn:
        conn.execute("DELETE FROM campaign_first_opens WHERE campaign_id = ?", [campaign_id])
        conn.execute(
            first_opens_sql(db.seconds_between("injected_at", "first_open_at")), [campaign_id]
        )


def first_opens_sql(elapsed: str, campaign: str = "campaign_id = ?") -> str:
    """Return the INSERT that counts opened messages by time-to-first-open bucket."""
    return (
        "INSERT INTO campaign_first_opens (campaign_id, bucket, messages) "
        f"SELECT campaign_id, {first_open_cases('elapsed')}, count(*) FROM ("
        f"SELECT campaign_id, {elapsed} AS elapsed FROM messages "
        f"WHERE {campaign} AND state = 'opened' AND first_open_at IS NOT NULL) AS opened "
        "GROUP BY 1, 2"
    )


# The same rules as core.counters.count_event.
REBUILD_MESSAGES = """
UPDATE messages SET
  opens = (SELECT count(*) FROM events e WHERE e.message_id = messages.id),
  human_opens = (SELECT count(*) FROM events e
                 WHERE e.message_id = messages.id AND e.verdict = 'human'),
  machine_opens = (SELECT count(*) FROM events e
                   WHERE e.message_id = messages.id AND e.verdict != 'human'),
  mpp_opens = (SELECT count(*) FROM events e
               WHERE e.message_id = messages.id AND e.source = 'apple_mpp'),
  first_fetch_at = (SELECT min(at) FROM events e WHERE e.message_id = messages.id),
  first_open_at = (SELECT min(at) FROM events e
                   WHERE e.message_id = messages.id AND e.verdict = 'human'),
  last_open_at = (SELECT max(at) FROM events e WHERE e.message_id = messages.id),
  last_client = (SELECT client FROM events e WHERE e.message_id = messages.id
                 ORDER BY at DESC, id DESC LIMIT 1)
WHERE campaign_id = :campaign AND tracked;
"""
# A separate statement: SQLite computes every SET expression from the row's old values.
REBUILD_STATES = """
UPDATE messages SET state = CASE WHEN human_opens > 0 THEN 'opened'
                                 WHEN mpp_opens > 0 THEN 'unknown'
                                 ELSE 'not_opened' END
WHERE campaign_id = :campaign AND tracked;
"""
REBUILD_CAMPAIGN = """
UPDATE campaigns SET
  fetched = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND opens > 0),
  opened = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND state = 'opened'),
  unknown = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND state = 'unknown'),
  hidden_opened = (SELECT count(*) FROM messages
                   WHERE campaign_id = :campaign AND state = 'opened' AND mpp_opens > 0),
  visible_opened_clicked = (SELECT count(*) FROM messages
                            WHERE campaign_id = :campaign AND state = 'opened'
                              AND mpp_opens = 0 AND human_clicks > 0),
  total_opens = (SELECT count(*) FROM events WHERE campaign_id = :campaign),
  human_opens = (SELECT count(*) FROM events
                 WHERE campaign_id = :campaign AND verdict = 'human'),
  machine_opens = (SELECT count(*) FROM events
                   WHERE campaign_id = :campaign AND verdict != 'human'),
  first_open_at = (SELECT min(at) FROM events WHERE campaign_id = :campaign),
  last_open_at = (SELECT max(at) FROM events WHERE campaign_id = :campaign)
WHERE id = :campaign;
"""
REBUILD_HOURS = """
INSERT INTO campaign_hours (campaign_id, hour, human, machine)
SELECT campaign_id, substr(at, 1, 13) || ':00:00Z',
       count(*) FILTER (WHERE verdict = 'human'), count(*) FILTER (WHERE verdict != 'human')
FROM events WHERE campaign_id = :campaign GROUP BY 1, 2;
"""
# Each event judged once (the first human open of its message or not), in one pass over the
# campaign's events that every dimension's counts then read: one sort of the events, not one
# per dimension.
JUDGED_EVENTS = """
WITH judged AS MATERIALIZED (
  SELECT {columns}, verdict,
         verdict = 'human' AND row_number() OVER (
           PARTITION BY message_id, verdict = 'human' ORDER BY at, id) = 1 AS first_human
  FROM events WHERE campaign_id = :campaign
)
INSERT INTO campaign_breakdowns
  (campaign_id, dimension, value, opens, human_opens, machine_opens, openers)
"""
REBUILD_BREAKDOWN = """
SELECT :campaign, '{column}', coalesce(nullif({column}, ''), 'unknown'), count(*),
       count(*) FILTER (WHERE verdict = 'human'), count(*) FILTER (WHERE verdict != 'human'),
       count(*) FILTER (WHERE first_human)
FROM judged GROUP BY 3
"""


def rebuild_breakdowns_sql() -> str:
    """Return the INSERT that recounts a campaign's breakdowns in every dimension."""
    arms = " UNION ALL ".join(REBUILD_BREAKDOWN.format(column=d) for d in DIMENSIONS)
    return JUDGED_EVENTS.format(columns=", ".join(DIMENSIONS)) + arms


# Every campaign's core.counters.open_signals counters from its messages (a migration's fill).
FILL_SIGNALS = """
UPDATE campaigns SET
  hidden_opened = (SELECT count(*) FROM messages m
                   WHERE m.campaign_id = campaigns.id AND m.state = 'opened' AND m.mpp_opens > 0),
  visible_opened_clicked = (SELECT count(*) FROM messages m
                            WHERE m.campaign_id = campaigns.id AND m.state = 'opened'
                              AND m.mpp_opens = 0 AND m.human_clicks > 0);
"""
# The recipients a person opened both a follow-up and its parent for (follow_ups.both_opened),
# from the messages: the follow-up's openers looked up among the parent's, index entries only.
BOTH_OPENED = """(
SELECT count(*) FROM messages f JOIN messages p ON p.campaign_id = follow_ups.parent_id
  AND p.state = 'opened' AND p.recipient = f.recipient
WHERE f.campaign_id = follow_ups.campaign_id AND f.state = 'opened')"""
