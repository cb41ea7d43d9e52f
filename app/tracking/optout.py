"""The public opt-out page: a recipient stops the tracking of their opens themselves."""

from flask import Blueprint, render_template

from app.core.tokens import read_token
from app.services import current, store

bp = Blueprint("privacy", __name__)


def _message_for(token: str) -> dict | None:
    message_id = read_token(current().signers.optout, token)
    if message_id is None:
        return None
    return store().get_message_row(message_id)


@bp.get("/optout/<token>")
def optout_form(token: str):
    """Show what opting out means, with a button; a GET (a link scanner) changes nothing."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    opted_out = bool(store().suppressed([message["recipient"]]))
    return render_template("optout.html", state="done" if opted_out else "ask", token=token)


@bp.post("/optout/<token>")
def optout_confirm(token: str):
    """Add the recipient to the opt-out list and confirm it."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    store().suppress([message["recipient"]], source="link")
    return render_template("optout.html", state="done")
