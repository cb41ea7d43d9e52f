"""Webhook pages: endpoints with their delivery counts, one endpoint's deliveries, redeliver."""

from flask import abort, current_app, redirect, render_template, request, url_for

from app.core import fields, webhooks
from app.core.fields import FieldError
from app.dashboard.base import bp
from app.services import store

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def webhooks_page(created: dict | None = None, error: str | None = None, status: int = 200):
    """Render the webhooks page, with a just-created endpoint's secret or an error."""
    page = render_template(
        "dashboard/webhooks.html",
        webhooks=store().list_webhooks(),
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
    return render_template(
        "dashboard/webhook.html", webhook=found, deliveries=deliveries, status=status
    )


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
