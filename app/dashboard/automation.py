"""Dashboard pages for follow-up automation: webhooks, clicks and follow-ups.

A blueprint of its own under /dashboard, behind the dashboard's sign-in, CSRF check and
security headers; ``dashboard.init_app`` registers it.
"""

import sqlite3
import time

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import HTTPException

from app.api.campaigns import MAX_NAME, SLUG
from app.api.errors import ApiError
from app.api.webhooks import parse_webhook
from app.core import export, webhooks
from app.core.reports import follow_up_reach
from app.core.times import to_iso
from app.dashboard import base
from app.dashboard.campaigns import find_campaign

bp = Blueprint("dashboard_automation", __name__, url_prefix="/dashboard")
bp.before_request(base.require_sign_in)
bp.after_request(base.add_security_headers)


@bp.errorhandler(HTTPException)
def automation_error(error: HTTPException):
    """Render an error as a page of the dashboard."""
    return render_template("dashboard/error.html", error=error), error.code


@bp.app_template_global()
def campaign_links(campaign_id: str, limit: int = 10) -> list[dict]:
    """Return a campaign's most clicked links, for its page."""
    return base.store().link_counts(campaign_id, limit)


def webhooks_page(created: dict | None = None, error: str | None = None, status: int = 200):
    """Render the webhooks page, with a just-created endpoint's secret or an error."""
    page = render_template(
        "automation/webhooks.html",
        webhooks=base.store().list_webhooks(),
        event_types=webhooks.EVENT_TYPES,
        created=created,
        error=error,
        form=request.form,
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/webhooks")
def webhooks_list():
    """List webhook endpoints with their delivery counts, and a form to add one."""
    return webhooks_page()


@bp.post("/webhooks")
def create_webhook():
    """Register an endpoint from the form and show its secret once."""
    form = {
        "url": request.form.get("url", "").strip(),
        "events": request.form.getlist("events"),
        "include_machine": request.form.get("include_machine") == "on",
        "description": request.form.get("description", "").strip() or None,
    }
    try:
        parsed = parse_webhook(form)
    except ApiError as error:
        return webhooks_page(error=error.message, status=400)
    return webhooks_page(created=base.store().create_webhook(*parsed), status=201)


def find_webhook(webhook_id: str) -> dict:
    """Return an endpoint or answer 404."""
    webhook = base.store().get_webhook(webhook_id)
    if webhook is None:
        abort(404, f"There is no webhook with id '{webhook_id}'.")
    return webhook


@bp.get("/webhooks/<webhook_id>")
def webhook(webhook_id: str):
    """Show an endpoint's recent deliveries and failures, with a redeliver button on each."""
    found = find_webhook(webhook_id)
    status = request.args.get("status") or None
    status = status if status in ("pending", "delivered", "failed", "cancelled") else None
    deliveries = base.store().list_deliveries(webhook_id, status, limit=100)
    return render_template(
        "automation/webhook.html", webhook=found, deliveries=deliveries, status=status
    )


@bp.post("/webhooks/<webhook_id>/delete")
def delete_webhook(webhook_id: str):
    """Remove an endpoint."""
    if not base.store().delete_webhook(webhook_id):
        abort(404, f"There is no webhook with id '{webhook_id}'.")
    return redirect(url_for("dashboard_automation.webhooks_list"))


@bp.post("/webhooks/<webhook_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: int):
    """Queue a delivery again, then show the endpoint."""
    find_webhook(webhook_id)
    if base.store().redeliver(webhook_id, delivery_id) is None:
        abort(404, f"There is no delivery {delivery_id} for this webhook.")
    return redirect(url_for("dashboard_automation.webhook", webhook_id=webhook_id))


@bp.post("/campaigns/<campaign_id>/follow-ups")
def create_follow_up(campaign_id: str):
    """Create a follow-up for the campaign's non-openers, then show its recipients."""
    parent = find_campaign(campaign_id)
    follow_up_id = request.form.get("id", "").strip()
    name = request.form.get("name", "").strip() or follow_up_id
    if not SLUG.match(follow_up_id):
        abort(400, "The follow-up id must be 1-64 lower-case letters, digits, '-' or '_'.")
    if len(name) > MAX_NAME or any(ord(char) < 32 for char in name):
        abort(400, f"The name must be at most {MAX_NAME} printable characters.")
    try:
        min_age_hours = float(request.form.get("follow_up_age_hours", "").strip() or "0")
    except ValueError:
        abort(400, "The minimum age must be a number of hours.")
    if not 0 <= min_age_hours <= 100_000:
        abort(400, "The minimum age must be between 0 and 100000 hours.")
    include_unknown = request.form.get("include_unknown") == "on"
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    try:
        base.store().create_follow_up(
            follow_up_id, name, parent, include_unknown, min_age_hours, cutoff
        )
    except sqlite3.IntegrityError:
        abort(409, f"A campaign with id '{follow_up_id}' already exists.")
    return redirect(url_for("dashboard_automation.follow_up", campaign_id=follow_up_id))


def find_follow_up(campaign_id: str) -> dict:
    """Return a follow-up's settings or answer 404."""
    find_campaign(campaign_id)
    follow_up = base.store().get_follow_up(campaign_id)
    if follow_up is None:
        abort(404, f"Campaign '{campaign_id}' is not a follow-up.")
    return follow_up


@bp.get("/campaigns/<campaign_id>/follow-up")
def follow_up(campaign_id: str):
    """Show a follow-up: who it goes to now, and its parent's and combined reach."""
    settings = find_follow_up(campaign_id)
    store = base.store()
    count = sum(1 for _ in store.iter_follow_up_recipients(settings))
    return render_template(
        "automation/follow_up.html",
        campaign=store.get_campaign(campaign_id),
        reach=follow_up_reach(store, settings),
        recipients=count,
    )


@bp.get("/campaigns/<campaign_id>/follow-up-recipients.csv")
def follow_up_csv(campaign_id: str):
    """Download a follow-up's recipients as they stand now, as CSV."""
    settings = find_follow_up(campaign_id)
    rows = base.store().iter_follow_up_recipients(settings)
    return Response(
        stream_with_context(export.csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-recipients.csv"'},
    )
