"""The public opt-out page: a recipient stops the tracking of their opens themselves."""

from flask import Blueprint, current_app, render_template

from app.core.tokens import read_token

bp = Blueprint("privacy", __name__)

OPTOUT_PREFIX = "/optout/"


def optout_path(token: str) -> str:
    """Return the path of the opt-out page for a token."""
    return OPTOUT_PREFIX + token


def _message_for(token: str) -> dict | None:
    opentrack = current_app.extensions["opentrack"]
    message_id = read_token(opentrack.optout_serializer, token)
    if message_id is None:
        return None
    return opentrack.store.get_message_row(message_id)


@bp.get("/optout/<token>")
def optout_form(token: str):
    """Show what opting out means, with a button; a GET (a link scanner) changes nothing."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    opted_out = bool(current_app.extensions["opentrack"].store.suppressed([message["recipient"]]))
    return render_template("optout.html", state="done" if opted_out else "ask", token=token)


@bp.post("/optout/<token>")
def optout_confirm(token: str):
    """Add the recipient to the opt-out list and confirm it."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    current_app.extensions["opentrack"].store.suppress([message["recipient"]], source="link")
    return render_template("optout.html", state="done")
