"""The `opentrack db` commands: move an instance's data from SQLite to PostgreSQL."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.services import current, store
from app.store import Store, StoreError, is_server_database
from app.store.copy import TargetNotEmpty, copy_database, data_tables, row_counts

db = AppGroup("db", help="Move an instance between storage engines.")


@db.command("copy")
@click.option(
    "--to", "url", required=True, metavar="URL", help="The empty PostgreSQL database to copy into."
)
def copy_command(url: str) -> None:
    """Copy this instance's SQLite database into an empty PostgreSQL database, then check it."""
    if is_server_database(current_app.config["DATABASE"]):
        raise click.ClickException(
            "OPENTRACK_DATABASE is already a PostgreSQL URL: db copy copies a SQLite database"
        )
    if not is_server_database(url):
        raise click.ClickException(f"--to must be a postgresql:// URL, not '{url}'")
    # Fetches still waiting in this instance's spool belong in the copy.
    current().recorder.flush()
    source = store()
    lengths = row_counts(source, data_tables(source))
    target = Store(url)
    bar = None
    try:
        try:
            target.migrate()
        except Exception as error:
            raise click.ClickException(
                f"cannot reach or migrate the PostgreSQL database: {error}"
            ) from None

        def progress(table: str, rows: int) -> None:
            nonlocal bar
            if bar is None or bar.label != table:
                if bar is not None:
                    bar.render_finish()
                bar = click.progressbar(length=lengths.get(table, 0), label=table, file=sys.stderr)
                bar.render_progress()
            bar.update(rows)

        try:
            counts = copy_database(source, target, progress)
        except TargetNotEmpty as error:
            tables = ", ".join(error.args[0])
            raise click.ClickException(
                f"the PostgreSQL database already holds data (in {tables}); nothing was "
                "copied: db copy only copies into an empty database"
            ) from None
        except StoreError as error:
            raise click.ClickException(f"copy failed, nothing was copied: {error}") from None
        finally:
            if bar is not None:
                bar.render_finish()
    finally:
        target.close()
    for table, rows in counts.items():
        click.echo(f"{table:<20} {rows}")
    click.echo("Verified: row counts and every campaign's numbers match.")
