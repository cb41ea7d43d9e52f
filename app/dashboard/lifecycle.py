"""A campaign's lifecycle from its page: rename, set the sender its opt-out page names, archive
or unarchive, delete (typing its id)."""

from flask import g, redirect, request, url_for

from app.core import fields
from app.core.fields import FieldError
from app.dashboard.base import bp
from app.dashboard.campaigns import campaign_page, find_campaign
from app.services import store


@bp.post("/campaigns/<campaign_id>/rename")
def rename_campaign(campaign_id: str):
    """Give a campaign a new name, then show it."""
    find_campaign(campaign_id)
    try:
        name = fields.text(request.form.get("name", ""), "name", fields.MAX_NAME)
    except FieldError as error:
        return campaign_page(campaign_id, manage_error=str(error), status=400)
    store().update_campaign(campaign_id, name=name)
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.post("/campaigns/<campaign_id>/sender")
def set_sender(campaign_id: str):
    """Set the sender the opt-out page names; an empty field goes back to the campaign's name."""
    find_campaign(campaign_id)
    value = request.form.get("sender_name", "")
    sender_name = None
    if value.strip():
        try:
            sender_name = fields.text(value, "sender_name", fields.MAX_NAME)
        except FieldError as error:
            return campaign_page(campaign_id, manage_error=str(error), status=400)
    store().set_sender_name(campaign_id, sender_name)
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.post("/campaigns/<campaign_id>/archive")
def archive_campaign(campaign_id: str):
    """Archive a campaign (archived=false unarchives it); it leaves the campaign list."""
    find_campaign(campaign_id)
    archived = request.form.get("archived", "true") != "false"
    store().update_campaign(campaign_id, archived=archived)
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.post("/campaigns/<campaign_id>/delete")
def delete_campaign(campaign_id: str):
    """Delete a campaign and everything stored for it, once the user typed its id."""
    find_campaign(campaign_id)
    if request.form.get("confirm_id", "").strip() != campaign_id:
        error = f"Type the campaign's id, {campaign_id}, to delete it."
        return campaign_page(campaign_id, manage_error=error, status=400)
    store().delete_campaign(campaign_id, f"dashboard:{g.user['email']}")
    return redirect(url_for("dashboard.campaigns", deleted=campaign_id))
