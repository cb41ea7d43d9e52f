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


def sender_of(message: dict) -> str | None:
    """Return who the mail is from as the page names it: the campaign's sender_name, else its
    name, else None (the page then speaks of "the sender")."""
    campaign = store().get_campaign(message["campaign_id"]) if message.get("campaign_id") else None
    if campaign is None:
        return None
    return campaign.get("sender_name") or campaign.get("name") or None


@bp.get("/optout/<token>")
def optout_form(token: str):
    """Show what opting out means, with a button; a GET (a link scanner) changes nothing."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    opted_out = bool(store().suppressed([message["recipient"]]))
    return render_template(
        "optout.html",
        state="done" if opted_out else "ask",
        token=token,
        sender=sender_of(message),
    )


@bp.post("/optout/<token>")
def optout_confirm(token: str):
    """Add the recipient to the opt-out list and confirm it."""
    message = _message_for(token)
    if message is None or message["recipient"].startswith("erased-"):
        return render_template("optout.html", state="invalid"), 404
    store().suppress([message["recipient"]], source="link")
    return render_template("optout.html", state="done", sender=sender_of(message))
