"""CSV exports from a campaign's page: openers, clickers and the filtered recipients table.

Each message's metadata is flattened into one column per key (``metadata.plan``): the keys of
the first SAMPLE rows, at most MAX_KEYS of them, in sorted order; a nested value is written as
JSON, and keys first seen later are left out (the API's exports keep metadata whole).
"""

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator

from flask import Response, request, stream_with_context

from app.core.export import neutralise
from app.core.stats import STATES
from app.dashboard.base import bp
from app.dashboard.campaigns import find_campaign, search_arg
from app.services import store

COLUMNS = (
    "recipient",
    "state",
    "injected_at",
    "first_open_at",
    "last_open_at",
    "opens",
    "human_opens",
    "human_clicks",
    "last_client",
    "message_id",
)
MAX_KEYS = 20
SAMPLE = 1000
KINDS = {"recipients": {}, "openers": {"state": "opened"}, "clickers": {"clicked": True}}


def flat_rows(rows: Iterable[dict]) -> Iterator[list[str]]:
    """Yield a header, then each row's cells with its metadata one column per key."""
    rows = iter(rows)
    sample = list(itertools.islice(rows, SAMPLE))
    keys = sorted({key for row in sample for key in (row.get("metadata") or {})})[:MAX_KEYS]
    yield [*COLUMNS, *(f"metadata.{key}" for key in keys)]
    for row in itertools.chain(sample, rows):
        metadata = row.get("metadata") or {}
        cells = [neutralise(row.get(column)) for column in COLUMNS]
        for key in keys:
            value = metadata.get(key)
            if isinstance(value, dict | list):
                value = json.dumps(value, separators=(",", ":"))
            cells.append(neutralise(value))
        yield cells


def csv_text(rows: Iterable[list[str]]) -> Iterator[str]:
    """Yield one CSV line per list of cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


@bp.get("/campaigns/<campaign_id>/<any(recipients, openers, clickers):kind>.csv")
def recipients_csv(campaign_id: str, kind: str):
    """Download the campaign's recipients (filtered by ?state= and ?q=), openers or clickers."""
    find_campaign(campaign_id)
    options = dict(KINDS[kind])
    if kind == "recipients":
        state = request.args.get("state", "")
        options["state"] = state if state in STATES else ""
        options["search"] = search_arg()
    rows = store().iter_recipients(campaign_id, **options)
    return Response(
        stream_with_context(csv_text(flat_rows(rows))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-{kind}.csv"'},
    )
