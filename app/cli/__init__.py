"""The `opentrack` command: keys, stats, exports and maintenance."""

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from app.cli import campaigns, classify, db, keys, maintenance, privacy, users, worker


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
        db.db,
    ):
        app.cli.add_command(command)


def main() -> None:
    """Run the `opentrack` console script."""

    def create() -> Flask:
        from app import create_app

        return create_app()

    cli = FlaskGroup(create_app=create, add_version_option=False, help=__doc__)
    # The installed distribution's version, from its metadata: `opentrack --version`.
    cli = click.version_option(package_name="opentrack", message="%(prog)s %(version)s")(cli)
    cli.main(args=sys.argv[1:], prog_name="opentrack")
