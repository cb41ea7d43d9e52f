"""The `opentrack users` commands: who may sign in to the dashboard."""

import click
from flask.cli import AppGroup

from app.core.users import InvalidUser, hash_password, new_password, normalise_email
from app.services import store
from app.store import EmailTaken

users = AppGroup("users", help="Create, list and delete dashboard users.")


@users.command("create")
@click.argument("email")
@click.option(
    "--generate-password", is_flag=True, help="Generate a password and print it (shown once)."
)
def create_user(email: str, generate_password: bool) -> None:
    """Create a dashboard user; the password is prompted for, or generated and printed."""
    try:
        email = normalise_email(email)
        if store().user_by_email(email) is not None:
            raise EmailTaken(email)
        if generate_password:
            password = new_password()
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        store().create_user(email, hash_password(password))
    except InvalidUser as error:
        raise click.ClickException(str(error)) from None
    except EmailTaken:
        raise click.ClickException(f"a user with email '{email}' already exists") from None
    if generate_password:
        click.echo(f"Password for {email} (shown only once):", err=True)
        click.echo(password)
    click.echo(f"Created dashboard user {email}.", err=True)


@users.command("list")
def list_users() -> None:
    """List dashboard users with their created and last sign-in times."""
    rows = store().list_users()
    if not rows:
        click.echo("No dashboard users yet: opentrack users create EMAIL", err=True)
        return
    click.echo(f"{'email':<40} {'created':<25} last sign-in")
    for row in rows:
        click.echo(f"{row['email']:<40} {row['created_at']:<25} {row['last_sign_in_at'] or '-'}")


@users.command("delete")
@click.argument("email")
def delete_user(email: str) -> None:
    """Delete the dashboard user with this EMAIL."""
    if not store().delete_user(email.strip().lower()):
        raise click.ClickException(f"no dashboard user with email '{email}'")
    click.echo(f"Deleted dashboard user {email}.", err=True)


@users.command("sign-out")
@click.argument("email")
def sign_out_user(email: str) -> None:
    """End every dashboard session of the user with this EMAIL, on every host."""
    user = store().user_by_email(email.strip().lower())
    if user is None:
        raise click.ClickException(f"no dashboard user with email '{email}'")
    ended = store().end_user_sessions(user["id"])
    click.echo(f"Ended {ended} session(s) of {email}.", err=True)
