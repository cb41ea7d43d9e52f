"""Maintenance commands: set an instance up, store what is spooled, re-judge stored opens."""

import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.classify import get_networks
from app.core.keys import new_api_key
from app.services import current, store
from app.tracking.reclassify import reclassify


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the instance folder, database and secret; print a first API key if none exists."""
    click.echo(f"Database: {current_app.config['DATABASE']}", err=True)
    if store().count_active_api_keys() == 0:
        key = new_api_key()
        store().create_api_key(f"first-key-{int(time.time())}", key)
        click.echo("Your first API key (shown only once; keep it safe):", err=True)
        click.echo(key)


@click.command("flush")
@with_appcontext
def flush_command() -> None:
    """Store pixel fetches still waiting in spool files (those of stopped processes too)."""
    current().recorder.flush()
    click.echo(f"Stored events: {store().count_events()}", err=True)


@click.command("reclassify")
@click.argument("campaign_id", required=False)
@with_appcontext
def reclassify_command(campaign_id: str | None) -> None:
    """Re-run the current rules over stored opens and clicks of CAMPAIGN (or all), then fix
    the counts."""
    if campaign_id and store().get_campaign(campaign_id) is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    total = store().count_events(campaign_id)
    with click.progressbar(length=total, label="Reclassifying", file=sys.stderr) as bar:
        result = reclassify(
            store(),
            get_networks(),
            float(current_app.config["SCANNER_WINDOW_SECONDS"]),
            campaign_id,
            progress=bar.update,
        )
    click.echo(f"{result['events']} events looked at, {result['changed']} changed verdict/source")
    click.echo(
        f"{result['clicks']} clicks looked at, {result['clicks_changed']} changed verdict/source"
    )
