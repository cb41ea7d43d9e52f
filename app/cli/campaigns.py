"""Campaign commands: the campaigns group (list, create, show, rename, set-sender, archive,
delete), a
campaign's numbers, and the export of its non-openers."""

import contextlib
import json
import sys
import time

import click
from flask.cli import AppGroup, with_appcontext

from app.core import export, fields
from app.core.campaign_report import delivered_numbers
from app.core.fields import FieldError
from app.core.stats import campaign_summary, rates_by_base
from app.core.times import to_iso
from app.services import store
from app.store import CampaignExists

campaigns = AppGroup(
    "campaigns", help="List, create, show, rename, set the sender of, archive and delete campaigns."
)


@click.command("stats")
@with_appcontext
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats_command(campaign_id: str, as_json: bool) -> None:
    """Show a campaign's open rates with their counts."""
    show_numbers(campaign_id, as_json)


def show_numbers(campaign_id: str, as_json: bool) -> None:
    """Print a campaign's numbers and rates with their counts, as a table or JSON."""
    campaign = campaign_summary(_find(campaign_id))
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
    if campaign["delivered"] or campaign["bounced"] or campaign["deferred"]:
        for name in ("delivered", "deferred", "bounced", "complained", "unsubscribed"):
            click.echo(f"  {name:<18} {campaign[name]}")
        over = rates_by_base(campaign, delivered_numbers(store(), campaign))["delivered"]
        for name, rate in over.items():
            shown = "-" if rate["rate"] is None else f"{rate['rate']:.1%}"
            label = f"{name} ({rate['of']})"
            click.echo(f"  {label:<18} {shown:>7}  ({rate['count']} of {rate['messages']})")
    click.echo(f"  {'first_open_at':<18} {campaign['first_open_at'] or '-'}")
    click.echo(f"  {'last_open_at':<18} {campaign['last_open_at'] or '-'}")


def _find(campaign_id: str) -> dict:
    """Return a campaign's row, or stop with an error naming the id."""
    row = store().get_campaign(campaign_id)
    if row is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    return row


def _checked(check, *args):
    """Return a field rule's clean value, or stop with its message."""
    try:
        return check(*args)
    except FieldError as error:
        raise click.ClickException(str(error)) from None


@campaigns.command("list")
@click.option("--archived", is_flag=True, help="Include archived campaigns.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_campaigns(archived: bool, as_json: bool) -> None:
    """List campaigns, newest first, with their sends and human open rates."""
    count = store().count_campaigns("", archived=archived)
    rows = store().list_campaigns(limit=max(count, 1), archived=archived)
    summaries = [campaign_summary(row) for row in rows]
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return
    if not summaries:
        click.echo("No campaigns yet: opentrack campaigns create ID", err=True)
        return
    click.echo(f"{'id':<24} {'name':<24} {'created':<25} {'sent':>8} {'human open':>10}")
    for campaign in summaries:
        rate = campaign["human_open_rate"]
        shown = "-" if rate is None else f"{rate:.1%}"
        archived_mark = "  (archived)" if campaign["archived_at"] else ""
        click.echo(
            f"{campaign['id']:<24} {campaign['name']:<24} {campaign['created_at']:<25} "
            f"{campaign['sent']:>8} {shown:>10}{archived_mark}"
        )


@campaigns.command("create")
@click.argument("campaign_id")
@click.option("--name", help="A name to show (the id when left out).")
@click.option("--sender", help="Who its opt-out page says the mail is from (the name if left out).")
@click.option("--no-track", is_flag=True, help="Inject its messages without a pixel.")
@click.option("--track-clicks", is_flag=True, help="Rewrite its links into tracked ones.")
def create_campaign(
    campaign_id: str, name: str | None, sender: str | None, no_track: bool, track_clicks: bool
) -> None:
    """Create a campaign with the slug CAMPAIGN_ID."""
    campaign_id, name = _checked(fields.campaign, campaign_id, name)
    if sender is not None:
        sender = _checked(fields.text, sender, "sender", fields.MAX_NAME)
    try:
        store().create_campaign(campaign_id, name, track=not no_track, sender_name=sender)
    except CampaignExists:
        raise click.ClickException(f"a campaign with id '{campaign_id}' already exists") from None
    if track_clicks:
        store().update_campaign(campaign_id, track_clicks=True)
    click.echo(f"Created campaign '{campaign_id}'.", err=True)


@campaigns.command("show")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show_campaign(campaign_id: str, as_json: bool) -> None:
    """Show a campaign's numbers (as `opentrack stats` does)."""
    show_numbers(campaign_id, as_json)


@campaigns.command("rename")
@click.argument("campaign_id")
@click.argument("name")
def rename_campaign(campaign_id: str, name: str) -> None:
    """Give a campaign a new NAME."""
    name = _checked(fields.text, name, "name", fields.MAX_NAME)
    _find(campaign_id)
    store().update_campaign(campaign_id, name=name)
    click.echo(f"Renamed campaign '{campaign_id}' to '{name}'.", err=True)


@campaigns.command("set-sender")
@click.argument("campaign_id")
@click.argument("sender", required=False)
@click.option("--clear", is_flag=True, help="Go back to naming the campaign's name.")
def set_sender(campaign_id: str, sender: str | None, clear: bool) -> None:
    """Set the SENDER a campaign's opt-out page names ("You are opting out of mail from ...")."""
    if clear == (sender is not None):
        raise click.UsageError("give either a SENDER or --clear")
    if sender is not None:
        sender = _checked(fields.text, sender, "sender", fields.MAX_NAME)
    _find(campaign_id)
    store().set_sender_name(campaign_id, sender)
    if sender is None:
        click.echo(f"Campaign '{campaign_id}' names its own name as the sender.", err=True)
    else:
        click.echo(f"Campaign '{campaign_id}' names '{sender}' as the sender.", err=True)


@campaigns.command("archive")
@click.argument("campaign_id")
def archive_campaign(campaign_id: str) -> None:
    """Archive a campaign: it leaves the lists, its data stays and tracking goes on."""
    _find(campaign_id)
    store().update_campaign(campaign_id, archived=True)
    click.echo(f"Archived campaign '{campaign_id}'.", err=True)


@campaigns.command("unarchive")
@click.argument("campaign_id")
def unarchive_campaign(campaign_id: str) -> None:
    """Bring an archived campaign back into the lists."""
    _find(campaign_id)
    store().update_campaign(campaign_id, archived=False)
    click.echo(f"Unarchived campaign '{campaign_id}'.", err=True)


@campaigns.command("delete")
@click.argument("campaign_id")
@click.option("--yes", is_flag=True, help="Delete without asking to type the id.")
def delete_campaign(campaign_id: str, yes: bool) -> None:
    """Delete a campaign and all its messages, events, clicks and links (no undo)."""
    campaign = campaign_summary(_find(campaign_id))
    if not yes:
        click.echo(
            f"This deletes '{campaign_id}' with its {campaign['sent']} messages, their events "
            "and clicks, for good; its follow-ups stay, as ordinary campaigns.",
            err=True,
        )
        typed = click.prompt("Type the campaign id to confirm", default="", show_default=False)
        if typed != campaign_id:
            raise click.ClickException("the id typed does not match; nothing was deleted")
    counts = store().delete_campaign(campaign_id, "cli")
    if counts is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    click.echo(
        f"Deleted campaign '{campaign_id}': {counts['messages']} messages, "
        f"{counts['events']} events, {counts['clicks']} clicks.",
        err=True,
    )


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
