"""Write non-opener rows as CSV or JSON, one piece at a time."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

COLUMNS = ("recipient", "state", "injected_at", "first_open_at", "opens", "message_id", "metadata")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Return a CSV cell that no spreadsheet will run as a formula."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else str(value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(rows: Iterable[dict], columns: tuple[str, ...] = COLUMNS) -> Iterator[str]:
    """Yield a header line, then one CSV line per row (the non-openers' columns by default)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(columns)
    for row in rows:
        yield line([neutralise(row.get(column)) for column in columns])


def json_chunks(
    rows: Iterable[dict], head: dict, columns: tuple[str, ...] = COLUMNS
) -> Iterator[str]:
    """Yield a JSON object with head's fields and a "recipients" list, row by row."""
    yield json.dumps({**head, "recipients": []})[:-2]
    separator = "\n"
    for row in rows:
        yield separator + json.dumps({column: row.get(column) for column in columns})
        separator = ",\n"
    yield "\n]}\n"
