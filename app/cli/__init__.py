"""The `opentrack` command: keys, stats, exports and maintenance."""

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, routes_command, run_command, shell_command

from app.cli import (
    automations,
    campaigns,
    classify,
    db,
    ingest,
    keys,
    maintenance,
    privacy,
    recipients,
    users,
    worker,
)


def init_app(app: Flask) -> None:
    """Register every `opentrack` command on the app's CLI: the one place that lists them."""
    for command in (
        keys.keys,
        maintenance.init_command,
        campaigns.campaigns,
        campaigns.stats_command,
        campaigns.export_command,
        maintenance.flush_command,
        maintenance.reclassify_command,
        classify.classify_command,
        classify.networks_group,
        privacy.suppressions,
        privacy.purge_command,
        privacy.erase_command,
        users.users,
        worker.worker_command,
        automations.automations,
        ingest.ingest_command,
        db.db,
        recipients.recipients,
        recipients.segments,
        recipients.delivery,
    ):
        app.cli.add_command(command)


def main() -> None:
    """Run the `opentrack` console script."""

    def create() -> Flask:
        from app import create_app

        return create_app()

    # Opentrack's own commands only: Flask's development ones (run, shell, routes) sit in a
    # hidden `opentrack dev` group, and the options to pick another app or a .env file are gone.
    cli = FlaskGroup(
        create_app=create,
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        help=__doc__,
    )
    cli.params = [param for param in cli.params if param.name not in ("env_file", "app", "debug")]
    dev = click.Group("dev", hidden=True, help="Flask's development commands.")
    for command in (run_command, shell_command, routes_command):
        dev.add_command(command)
    cli.add_command(dev)
    # The installed distribution's version, from its metadata: `opentrack --version`.
    cli = click.version_option(package_name="opentrack", message="%(prog)s %(version)s")(cli)
    cli.main(args=sys.argv[1:], prog_name="opentrack")
