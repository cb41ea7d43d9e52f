"""Follow-up pages: create one from a campaign's page, see who it goes to and its reach."""

import time

from flask import Response, abort, redirect, render_template, request, stream_with_context, url_for

from app.core import export, fields
from app.core.campaign_report import follow_up_reach
from app.core.fields import FieldError
from app.core.times import to_iso
from app.dashboard.base import bp
from app.dashboard.campaigns import campaign_page, find_campaign
from app.services import store
from app.store import FollowUpExists


@bp.post("/campaigns/<campaign_id>/follow-ups")
def create_follow_up(campaign_id: str):
    """Create a follow-up for the campaign's non-openers, then show its recipients."""
    parent = find_campaign(campaign_id)
    form = {
        "id": request.form.get("id", "").strip(),
        "age": request.form.get("follow_up_age_hours", ""),
        "include_unknown": request.form.get("include_unknown") == "on",
    }

    def refused(message: str, status: int):
        return campaign_page(
            campaign_id, status=status, follow_up_error=message, follow_up_form=form
        )

    try:
        follow_up_id, name = fields.campaign(
            form["id"], request.form.get("name", "").strip() or None
        )
        age = float(form["age"].strip() or "0")
        min_age_hours = fields.age_hours(age, "follow_up_age_hours")
    except FieldError as error:
        return refused(str(error), 400)
    except ValueError:
        return refused(
            f"The minimum age must be a number of hours between 0 and {fields.MAX_AGE_HOURS}.", 400
        )
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    try:
        store().create_follow_up(
            follow_up_id, name, parent, form["include_unknown"], min_age_hours, cutoff
        )
    except FollowUpExists:
        return refused(
            f"A campaign with id '{follow_up_id}' already exists; choose another id.", 409
        )
    return redirect(url_for("dashboard.follow_up", campaign_id=follow_up_id))


def find_follow_up(campaign_id: str) -> dict:
    """Return a follow-up's settings or answer 404."""
    find_campaign(campaign_id)
    follow_up = store().get_follow_up(campaign_id)
    if follow_up is None:
        abort(404, f"Campaign '{campaign_id}' is not a follow-up.")
    return follow_up


@bp.get("/campaigns/<campaign_id>/follow-up")
def follow_up(campaign_id: str):
    """Show a follow-up: who it goes to now, and its parent's and combined reach."""
    settings = find_follow_up(campaign_id)
    return render_template(
        "dashboard/follow_up.html",
        campaign=find_campaign(campaign_id),
        reach=follow_up_reach(store(), settings),
        recipients=store().count_follow_up_recipients(settings),
    )


@bp.get("/campaigns/<campaign_id>/follow-up-recipients.csv")
def follow_up_csv(campaign_id: str):
    """Download a follow-up's recipients as they stand now, as CSV."""
    settings = find_follow_up(campaign_id)
    rows = store().iter_follow_up_recipients(settings)
    return Response(
        stream_with_context(export.csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-recipients.csv"'},
    )
