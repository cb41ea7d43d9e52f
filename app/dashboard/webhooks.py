"""Webhook pages: endpoints with their delivery counts and health, deliveries, redeliver, test."""

import time

from flask import abort, current_app, redirect, render_template, request, url_for

from app.core import fields, webhooks
from app.core.fields import FieldError
from app.core.times import from_iso
from app.dashboard.base import bp
from app.services import store

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
# A delivery still pending this long after it was queued means nothing is delivering.
STALE_SECONDS = 5 * 60


def health(webhook: dict) -> dict:
    """Return an endpoint's health badge: failing, stalled, healthy or idle, with a reason."""
    info = store().webhook_health(webhook["id"])
    failure, success = info["last_failure"], info["last_success"]
    if failure and (not success or failure > success):
        return {
            "state": "failing",
            "text": f"failing since {failure[:16].replace('T', ' ')} UTC: its last tries got "
            "no 2xx answer; they are retried with backoff",
        }
    pending = info["oldest_pending"]
    if pending and time.time() - from_iso(pending) > STALE_SECONDS:
        minutes = int((time.time() - from_iso(pending)) // 60)
        return {
            "state": "stalled",
            "text": f"deliveries pending for {minutes:,} minutes: is `opentrack worker` running?",
        }
    if not any(webhook["deliveries"].values()):
        return {"state": "idle", "text": "no deliveries yet"}
    return {"state": "healthy", "text": "delivering"}


def webhooks_page(created: dict | None = None, error: str | None = None, status: int = 200):
    """Render the webhooks page, with a just-created endpoint's secret or an error."""
    endpoints = store().list_webhooks()
    for endpoint in endpoints:
        endpoint["health"] = health(endpoint)
    page = render_template(
        "dashboard/webhooks.html",
        webhooks=endpoints,
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
        parsed = fields.webhook(form, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except FieldError as error:
        return webhooks_page(error=str(error), status=400)
    return webhooks_page(created=store().create_webhook(*parsed), status=201)


def find_webhook(webhook_id: str) -> dict:
    """Return an endpoint or answer 404."""
    webhook = store().get_webhook(webhook_id)
    if webhook is None:
        abort(404, f"There is no webhook with id '{webhook_id}'.")
    return webhook


@bp.get("/webhooks/<webhook_id>")
def webhook(webhook_id: str):
    """Show an endpoint's recent deliveries and failures, with a redeliver button on each."""
    found = find_webhook(webhook_id)
    status = request.args.get("status") or None
    status = status if status in DELIVERY_STATUSES else None
    deliveries = store().list_deliveries(webhook_id, status, limit=100)
    found["health"] = health(found)
    return render_template(
        "dashboard/webhook.html",
        webhook=found,
        deliveries=deliveries,
        status=status,
        tested=request.args.get("tested") == "1",
    )


@bp.post("/webhooks/<webhook_id>/test")
def send_test_event(webhook_id: str):
    """Queue a signed test event for the endpoint; the worker delivers it like any other."""
    if store().enqueue_test(webhook_id) is None:
        abort(404, f"There is no webhook with id '{webhook_id}'.")
    return redirect(url_for("dashboard.webhook", webhook_id=webhook_id, tested=1))


@bp.post("/webhooks/<webhook_id>/delete")
def delete_webhook(webhook_id: str):
    """Remove an endpoint."""
    if not store().delete_webhook(webhook_id):
        abort(404, f"There is no webhook with id '{webhook_id}'.")
    return redirect(url_for("dashboard.webhooks_list"))


@bp.post("/webhooks/<webhook_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: int):
    """Queue a delivery again, then show the endpoint."""
    find_webhook(webhook_id)
    if store().redeliver(webhook_id, delivery_id) is None:
        abort(404, f"There is no delivery {delivery_id} for this webhook.")
    return redirect(url_for("dashboard.webhook", webhook_id=webhook_id))
