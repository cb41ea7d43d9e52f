"""Campaign commands: a campaign's numbers, and the export of its non-openers."""

import contextlib
import json
import sys
import time

import click
from flask.cli import with_appcontext

from app.core import export
from app.core.stats import campaign_summary
from app.core.times import to_iso
from app.services import store


@click.command("stats")
@with_appcontext
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats_command(campaign_id: str, as_json: bool) -> None:
    """Show a campaign's open rates with their counts."""
    row = store().get_campaign(campaign_id)
    if row is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    campaign = campaign_summary(row)
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
    if store().get_campaign(campaign_id) is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    states = ("not_opened", "unknown") if include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = store().iter_non_openers(campaign_id, states, cutoff)
    with contextlib.ExitStack() as stack:
        # Writing to a file leaves the terminal free for a progress bar, a step a recipient.
        if not (output.isatty() or output.name == "<stdout>"):
            total = store().count_non_openers(campaign_id, states, cutoff)
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
