"""Follow-up rule commands: list the rules, and fire those due now (for cron, without a worker)."""

import json
import secrets
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.core import automations as rules
from app.services import store

automations = AppGroup("automations", help="List follow-up rules and fire those that are due.")


@automations.command("list")
@click.option("--campaign", "campaign_id", help="Only this campaign's rules.")
@click.option(
    "--state",
    type=click.Choice(["scheduled", "fired", "cancelled", "failed"]),
    help="Only rules in this state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(campaign_id: str | None, state: str | None, as_json: bool) -> None:
    """List follow-up rules, oldest first, with their state and due time."""
    if campaign_id is not None and store().get_campaign(campaign_id) is None:
        raise click.ClickException(f"no campaign with id '{campaign_id}'")
    now = time.time()
    links = rules.list_links(current_app.config)
    found = store().list_automations(campaign_id, state)
    shown = [rules.describe(rule, now, links) for rule in found]
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        click.echo("No follow-up rules.", err=True)
        return
    click.echo(
        f"{'id':<16} {'campaign':<20} {'audience':<22} {'hours':>6} {'state':<10} "
        f"{'due at':<25} {'recipients':>10}  follow-up"
    )
    for rule in shown:
        recipients = "-" if rule["recipients"] is None else str(rule["recipients"])
        click.echo(
            f"{rule['id']:<16} {rule['campaign_id']:<20} {rule['audience']:<22} "
            f"{rule['after_hours']:>6g} {rule['state']:<10} {rule['due_at'] or 'not sent yet':<25} "
            f"{recipients:>10}  {rule['follow_up']['id']}"
        )


@automations.command("run-due")
def run_due_command() -> None:
    """Fire the follow-up rules that are due now (what the worker does every round)."""
    links = rules.list_links(current_app.config)
    fired = rules.fire_due(store(), time.time(), "cli-" + secrets.token_hex(8), links)
    for firing in fired:
        if firing.state == "failed":
            click.echo(f"{firing.automation_id}: not fired: {firing.error}", err=True)
            continue
        late = (
            f", {firing.late_seconds:.0f} seconds late"
            if firing.late_seconds > rules.LATE_AFTER_SECONDS
            else ""
        )
        click.echo(
            f"{firing.automation_id}: fired {firing.follow_up_id} for {firing.campaign_id} "
            f"with {firing.recipients} recipients{late}"
        )
    click.echo(f"{sum(f.state == 'fired' for f in fired)} rules fired", err=True)
