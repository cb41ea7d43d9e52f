"""The `opentrack` command: keys, stats, exports and maintenance."""

import contextlib
import json
import secrets
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from app.cli.classify import classify_command, get_networks, networks_group
from app.core import export
from app.core.times import to_iso
from app.store.sqlite import NameTaken
from app.tracking import opens

keys = AppGroup("keys", help="Create, list and revoke API keys.")


def get_store():
    """Return the app's store."""
    return current_app.extensions["opentrack"].store


def new_api_key() -> str:
    """Return a fresh API key; the visible prefix tells it apart from other secrets."""
    return "otk_" + secrets.token_urlsafe(32)


@keys.command("create")
@click.argument("name")
def create_key(name: str) -> None:
    """Create an API key called NAME and print it (it is shown only once)."""
    key = new_api_key()
    try:
        get_store().create_api_key(name, key)
    except NameTaken:
        raise click.ClickException(f"an API key called '{name}' already exists") from None
    click.echo(key)


@keys.command("list")
def list_keys() -> None:
    """List API keys with their prefixes and times."""
    rows = get_store().list_api_keys()
    if not rows:
        click.echo("No API keys yet: opentrack keys create NAME", err=True)
        return
    click.echo(f"{'name':<24} {'prefix':<10} {'created':<25} {'last used':<25} status")
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['name']:<24} {row['prefix']:<10} {row['created_at']:<25} "
            f"{row['last_used_at'] or '-':<25} {status}"
        )


@keys.command("revoke")
@click.argument("name")
def revoke_key(name: str) -> None:
    """Revoke the API key called NAME."""
    if not get_store().revoke_api_key(name):
        raise click.ClickException(f"no active API key called '{name}'")
    click.echo(f"Revoked API key '{name}'.", err=True)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the instance folder, database and secret; print a first API key if none exists."""
    store = get_store()
    click.echo(f"Database: {current_app.config['DATABASE']}", err=True)
    if store.count_active_api_keys() == 0:
        key = new_api_key()
        store.create_api_key(f"first-key-{int(time.time())}", key)
        click.echo("Your first API key (shown only once; keep it safe):", err=True)
        click.echo(key)


@click.command("stats")
@with_appcontext
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats_command(campaign_id: str, as_json: bool) -> None:
    """Show a campaign's open rates with their counts."""
    campaign = get_store().get_campaign(campaign_id)
    if campaign is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    if as_json:
        click.echo(json.dumps(campaign, indent=2))
        return
    click.echo(f"{campaign['name']} ({campaign['id']})")
    for name in ("sent", "opened", "unknown", "not_opened", "fetched"):
        click.echo(f"  {name:<18} {campaign[name]}")
    for name in ("total_opens", "human_opens", "machine_opens"):
        click.echo(f"  {name:<18} {campaign[name]}")
    for name, rate in campaign["rates"].items():
        value = campaign[name]
        shown = "-" if value is None else f"{value:.1%}"
        click.echo(f"  {name:<18} {shown:>7}  ({rate['count']} of {rate['of']})")
    click.echo(f"  {'first_open_at':<18} {campaign['first_open_at'] or '-'}")
    click.echo(f"  {'last_open_at':<18} {campaign['last_open_at'] or '-'}")


@click.command("export-non-openers")
@with_appcontext
@click.argument("campaign_id")
@click.option("--format", "export_format", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--min-age-hours", type=click.FloatRange(min=0), default=0.0)
@click.option(
    "--include-unknown", is_flag=True, help="Also list recipients whose state is unknown."
)
@click.option("--output", type=click.File("w"), default="-", help="File to write (default stdout).")
def export_command(campaign_id, export_format, min_age_hours, include_unknown, output) -> None:
    """Export the recipients of CAMPAIGN who did not open."""
    store = get_store()
    if store.get_campaign(campaign_id) is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    states = ("not_opened", "unknown") if include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = store.iter_non_openers(campaign_id, states, cutoff)
    with contextlib.ExitStack() as stack:
        # Writing to a file leaves the terminal free for a progress bar, a step a recipient.
        if not (output.isatty() or output.name == "<stdout>"):
            total = store.count_non_openers(campaign_id, states, cutoff)
            bar = stack.enter_context(
                click.progressbar(length=total, label="Exporting", file=sys.stderr)
            )
            rows = _ticking(rows, bar)
        if export_format == "csv":
            chunks = export.csv_lines(rows)
        else:
            head = {"campaign_id": campaign_id, "states": list(states), "injected_before": cutoff}
            chunks = export.json_chunks(rows, head)
        for chunk in chunks:
            output.write(chunk)


def _ticking(rows, bar):
    for row in rows:
        bar.update(1)
        yield row


@click.command("flush")
@with_appcontext
def flush_command() -> None:
    """Store pixel fetches still waiting in spool files (those of stopped processes too)."""
    recorder = current_app.extensions["opentrack"].recorder
    recorder.flush()
    click.echo(f"Stored events: {get_store().count_events()}", err=True)


@click.command("reclassify")
@click.argument("campaign_id", required=False)
@with_appcontext
def reclassify_command(campaign_id: str | None) -> None:
    """Re-run the current rules over stored events of CAMPAIGN (or all), then fix the counts."""
    store = get_store()
    if campaign_id and store.get_campaign(campaign_id) is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    total = store.count_events_of(campaign_id)
    with click.progressbar(length=total, label="Reclassifying", file=sys.stderr) as bar:
        result = opens.reclassify(
            store,
            get_networks(),
            float(current_app.config["SCANNER_WINDOW_SECONDS"]),
            campaign_id,
            progress=bar.update,
        )
    click.echo(f"{result['events']} events looked at, {result['changed']} changed verdict/source")


def init_app(app) -> None:
    """Register the commands on the app's CLI."""
    app.cli.add_command(keys)
    app.cli.add_command(networks_group)
    app.cli.add_command(classify_command)
    app.cli.add_command(reclassify_command)
    for command in (init_command, stats_command, export_command, flush_command):
        app.cli.add_command(command)


def main() -> None:
    """Run the `opentrack` console script."""

    def create() -> object:
        from app import create_app

        return create_app()

    cli = FlaskGroup(create_app=create, add_version_option=False, help=__doc__)
    cli.main(args=sys.argv[1:], prog_name="opentrack")
