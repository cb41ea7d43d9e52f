"""The webhooks API: register, list, remove endpoints, see their deliveries, redeliver."""

from flask import current_app, jsonify, request

from app.api.base import bp, int_arg, json_body, not_found
from app.api.errors import ApiError
from app.core import fields
from app.core.fields import FieldError
from app.services import store

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def find_webhook(webhook_id: str) -> dict:
    """Return an endpoint or raise a 404 naming it."""
    webhook = store().get_webhook(webhook_id)
    if webhook is None:
        raise not_found("webhook", webhook_id)
    return webhook


@bp.post("/webhooks")
def create_webhook():
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    parsed = fields.webhook(json_body(), current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    webhook = store().create_webhook(*parsed)
    return jsonify(webhook), 201


@bp.get("/webhooks")
def list_webhooks():
    """List the registered endpoints with their delivery counts."""
    return jsonify({"webhooks": store().list_webhooks()})


@bp.get("/webhooks/<webhook_id>")
def show_webhook(webhook_id: str):
    """Show one endpoint with its most recent deliveries and failures."""
    webhook = find_webhook(webhook_id)
    webhook["recent_deliveries"] = store().list_deliveries(webhook_id, limit=20)
    webhook["recent_failures"] = store().list_deliveries(webhook_id, "failed", limit=20)
    return jsonify(webhook)


@bp.delete("/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str):
    """Remove an endpoint; its pending deliveries are cancelled."""
    if not store().delete_webhook(webhook_id):
        raise not_found("webhook", webhook_id)
    return "", 204


@bp.get("/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str):
    """List an endpoint's deliveries, newest first; ``status`` filters, ``limit`` pages."""
    find_webhook(webhook_id)
    status = request.args.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise FieldError("status", "must be one of " + ", ".join(DELIVERY_STATUSES))
    limit = int_arg("limit", 50, 1, 1000)
    deliveries = store().list_deliveries(webhook_id, status, limit)
    return jsonify({"webhook_id": webhook_id, "deliveries": deliveries})


@bp.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: str):
    """Queue a delivery again now, with the same event id and body."""
    find_webhook(webhook_id)
    delivery = (
        store().redeliver(webhook_id, int(delivery_id))
        if delivery_id.isascii() and delivery_id.isdigit() and len(delivery_id) < 18
        else None
    )
    if delivery is None:
        raise ApiError(404, "not_found", f"No delivery {delivery_id} for webhook '{webhook_id}'.")
    return jsonify(delivery), 202
