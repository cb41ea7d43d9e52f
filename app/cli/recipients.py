"""Recipient commands: engagement, inactive segments, send times and delivery events."""

import json
import time
from datetime import date

import click
from flask.cli import AppGroup

from app.core import engagement, export, send_times
from app.core.fields import FieldError
from app.services import store

recipients = AppGroup("recipients", help="A recipient across campaigns: engagement, send time.")
segments = AppGroup("segments", help="Recipients grouped by what people did: inactive, MPP-only.")
delivery = AppGroup("delivery", help="Delivery events from your ESP.")


def _recipient(address: str) -> str:
    address = address.strip()
    if not address:
        raise click.BadParameter("a recipient must not be empty")
    return address.lower() if "@" in address else address


@recipients.command("engagement")
@click.argument("recipient")
def engagement_command(recipient: str) -> None:
    """Print RECIPIENT's engagement across campaigns and tier, as JSON."""
    recipient = _recipient(recipient)
    numbers = engagement.engagement_of(store(), recipient, time.time())
    if numbers is None:
        raise click.ClickException(f"no message was sent to '{recipient}'")
    click.echo(json.dumps({"recipient": recipient, **numbers}, indent=2))


@recipients.command("send-time")
@click.argument("recipient")
@click.option("--day", default=None, help="YYYY-MM-DD (default: tomorrow, UTC).")
def send_time_command(recipient: str, day: str | None) -> None:
    """Print when to send to RECIPIENT on a day, learned from their human opens and clicks."""
    try:
        when: date = send_times.parse_day(day, "--day")
    except FieldError as error:
        raise click.BadParameter(str(error)) from error
    recipient = _recipient(recipient)
    observed = store().human_observations([recipient])[recipient]
    crowd = send_times.population(store().population_hours())
    suggestion = send_times.suggest(send_times.learn(observed), crowd, when)
    click.echo(json.dumps({"recipient": recipient, "day": when.isoformat(), **suggestion}))


@segments.command("inactive")
@click.option("--campaigns", type=click.IntRange(1, 1000), default=None, help="The last N sent.")
@click.option("--days", type=click.FloatRange(0, 100_000), default=None, help="The last D days.")
@click.option("--mpp-only", is_flag=True, help="Recipients whose every open was Apple's proxy.")
@click.option("--format", "export_format", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--output", type=click.File("w"), default="-", help="Default: stdout.")
def inactive_command(campaigns, days, mpp_only, export_format, output) -> None:
    """Export recipients with no human open or click in the last N campaigns or D days."""
    if campaigns is None and days is None and not mpp_only:
        raise click.UsageError("give --campaigns N, --days D or --mpp-only")
    head, rows = engagement.inactive_segment(store(), campaigns, days, mpp_only, time.time())
    columns = engagement.SEGMENT_COLUMNS
    if export_format == "csv":
        chunks = export.csv_lines(rows, columns)
    else:
        chunks = export.json_chunks(rows, head, columns)
    for chunk in chunks:
        output.write(chunk)


@delivery.command("unmatched")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100)
def unmatched_command(limit: int) -> None:
    """List delivery events for messages we do not know, newest first, one JSON per line."""
    counts = store().count_delivery_events()
    click.echo(f"{counts['unmatched']} unmatched, {counts['matched']} matched", err=True)
    for event in store().list_delivery_events(False, limit, 0):
        click.echo(json.dumps(event))
