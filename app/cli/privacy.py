"""Privacy commands: the opt-out list, retention purges and erasure."""

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.core.times import to_iso
from app.services import store

suppressions = AppGroup("suppressions", help="Manage the recipients who opted out of tracking.")


def normalise(recipient: str) -> str:
    """Return a recipient as inject stores it: addresses lower-cased, ids as given."""
    recipient = recipient.strip()
    if not recipient:
        raise click.BadParameter("a recipient must not be empty")
    return recipient.lower() if "@" in recipient else recipient


@suppressions.command("add")
@click.argument("recipients", nargs=-1, required=True)
def add_suppressions(recipients: tuple[str, ...]) -> None:
    """Stop tracking RECIPIENTS from now on."""
    added = store().suppress([normalise(r) for r in recipients], source="cli")
    click.echo(f"{added} added to the opt-out list.", err=True)


@suppressions.command("remove")
@click.argument("recipient")
def remove_suppression(recipient: str) -> None:
    """Take RECIPIENT off the opt-out list."""
    if not store().unsuppress(normalise(recipient)):
        raise click.ClickException(f"'{recipient}' is not on the opt-out list")
    click.echo("Removed.", err=True)


@suppressions.command("list")
def list_suppressions() -> None:
    """List the opt-out list, newest first."""
    for row in store().list_suppressions(limit=1_000_000):
        recipient = row["recipient"] or "(erased)"
        click.echo(f"{recipient}\t{row['source']}\t{row['reason']}\t{row['created_at']}")


@click.command("purge")
@click.option("--days", type=click.IntRange(min=0), default=None, help="Default: the setting.")
@with_appcontext
def purge_command(days: int | None) -> None:
    """Strip IP, user agent and headers from events older than OPENTRACK_RETENTION_DAYS."""
    if days is None:
        days = current_app.config.get("RETENTION_DAYS")
    if days is None:
        raise click.ClickException("set OPENTRACK_RETENTION_DAYS or pass --days")
    before = to_iso(time.time() - int(days) * 86400)
    count = store().purge_raw_details(before)
    click.echo(f"Stripped raw details from {count} events older than {before}.")


@click.command("erase")
@click.argument("recipient")
@with_appcontext
def erase_command(recipient: str) -> None:
    """Erase RECIPIENT and every personal detail tied to it; campaign totals stay."""
    counts = store().erase_recipient(normalise(recipient), actor="cli")
    click.echo(json.dumps(counts))
