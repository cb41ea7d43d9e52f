"""The `opentrack keys` commands: create, list and revoke API keys."""

import click
from flask.cli import AppGroup

from app.core.keys import new_api_key
from app.services import store
from app.store import NameTaken

keys = AppGroup("keys", help="Create, list and revoke API keys.")


@keys.command("create")
@click.argument("name")
def create_key(name: str) -> None:
    """Create an API key called NAME and print it (it is shown only once)."""
    key = new_api_key()
    try:
        store().create_api_key(name, key)
    except NameTaken:
        raise click.ClickException(f"an API key called '{name}' already exists") from None
    click.echo(key)


@keys.command("list")
def list_keys() -> None:
    """List API keys with their prefixes and times."""
    rows = store().list_api_keys()
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
    if not store().revoke_api_key(name):
        raise click.ClickException(f"no active API key called '{name}'")
    click.echo(f"Revoked API key '{name}'.", err=True)
